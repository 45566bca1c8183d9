package gateway

import "sync"

// registered holds the connection ids the registry answered registered. A
// connection's row is never deleted (a deleted connection stays, DELETED),
// so the answer holds for good, and a request for a connection already seen
// costs the gateway no registry read. An id not registered is never kept:
// it may be registered by the next request. The set is bounded, and
// forgotten all at once when full.
type registered struct {
	mu  sync.RWMutex
	ids map[string]struct{}
	max int
}

// maxRegistered bounds the ids a gateway keeps (about 100 bytes each).
const maxRegistered = 100_000

func (r *registered) has(id string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.ids[id]
	return ok
}

func (r *registered) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil || len(r.ids) >= r.max {
		r.ids = make(map[string]struct{})
	}
	r.ids[id] = struct{}{}
}
