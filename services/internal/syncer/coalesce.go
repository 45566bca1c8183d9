package syncer

import "sync"

// startSignals wakes the requests of this process that wait for a
// connection's start claim when the holder in this process is done, so that
// they do not wait for their next poll of the claim.
type startSignals struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// wait returns a channel closed at the next notify for the connection.
// Callers take it before they look at the claim, so that a notify between
// the look and the wait is not missed.
func (s *startSignals) wait(connID string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]chan struct{}{}
	}
	ch, ok := s.m[connID]
	if !ok {
		ch = make(chan struct{})
		s.m[connID] = ch
	}
	return ch
}

// notify wakes every request waiting for the connection's start claim.
func (s *startSignals) notify(connID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.m[connID]; ok {
		close(ch)
		delete(s.m, connID)
	}
}
