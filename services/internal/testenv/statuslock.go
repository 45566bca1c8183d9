package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
)

// StatusPatches controls the Airbyte calls that set a connection's status
// (PATCH /connections/{id}), for tests of the calls made under a
// connection's status lock: calls for a status held by HoldNext wait until
// it is unblocked, calls for a status failed by SetFail fail while it is
// set, and Count counts the calls that went out, by status. Put it in a
// client with Transport, or call Before from a transport of one's own.
type StatusPatches struct {
	mu      sync.Mutex
	hold    map[airbyte.ConnectionStatus]chan struct{}
	entered map[airbyte.ConnectionStatus]chan struct{}
	fail    map[airbyte.ConnectionStatus]bool
	sent    map[airbyte.ConnectionStatus]int
}

// NewStatusPatches returns a StatusPatches that lets every call through.
func NewStatusPatches() *StatusPatches {
	return &StatusPatches{hold: map[airbyte.ConnectionStatus]chan struct{}{}, entered: map[airbyte.ConnectionStatus]chan struct{}{},
		fail: map[airbyte.ConnectionStatus]bool{}, sent: map[airbyte.ConnectionStatus]int{}}
}

// patchStatus returns the status a call sets, or "" for other calls.
func patchStatus(r *http.Request, body []byte) airbyte.ConnectionStatus {
	if r.Method != http.MethodPatch || !strings.Contains(r.URL.Path, "/connections/") {
		return ""
	}
	var b struct {
		Status airbyte.ConnectionStatus `json:"status"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Status
}

// Before sees a call (its body read) before it is sent: it holds or fails
// it as told, and counts it when it goes out.
func (p *StatusPatches) Before(r *http.Request, body []byte) error {
	st := patchStatus(r, body)
	if st == "" {
		return nil
	}
	p.mu.Lock()
	hold, entered, fail := p.hold[st], p.entered[st], p.fail[st]
	if entered != nil {
		close(entered)
		delete(p.entered, st)
	}
	p.mu.Unlock()
	if fail {
		return errors.New("connection refused")
	}
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return r.Context().Err()
		}
	}
	p.mu.Lock()
	p.sent[st]++
	p.mu.Unlock()
	return nil
}

// Transport returns a RoundTripper that passes every call through Before
// and sends it with next (nil: a clone of http.DefaultTransport).
func (p *StatusPatches) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport.(*http.Transport).Clone()
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, err := PeekBody(r)
		if err != nil {
			return nil, err
		}
		if err := p.Before(r, body); err != nil {
			return nil, err
		}
		return next.RoundTrip(r)
	})
}

// PeekBody reads a request's body and puts it back for the request to be
// sent; nil for a request without one.
func PeekBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// HoldNext holds the calls setting status until the returned func is
// called; entered is closed when the first of them arrives.
func (p *StatusPatches) HoldNext(status airbyte.ConnectionStatus) (entered <-chan struct{}, unblock func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, hold := make(chan struct{}), make(chan struct{})
	p.hold[status], p.entered[status] = hold, e
	return e, sync.OnceFunc(func() { close(hold) })
}

// SetFail makes the calls setting status fail, or go out again.
func (p *StatusPatches) SetFail(status airbyte.ConnectionStatus, fail bool) {
	p.mu.Lock()
	p.fail[status] = fail
	p.mu.Unlock()
}

// Count returns how many calls setting status went out.
func (p *StatusPatches) Count(status airbyte.ConnectionStatus) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent[status]
}

// StatusLockWaiters counts the transactions waiting for the connection's
// status lock (registry.Queries.StatusLock).
func (e *Env) StatusLockWaiters(connectionID string) int {
	e.T.Helper()
	var n int
	if err := e.Store.Pool().QueryRow(e.Ctx, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND NOT granted AND ((classid::bigint << 32) | objid::bigint) = $1`,
		registry.StatusLockKey(connectionID)).Scan(&n); err != nil {
		e.T.Fatalf("count the status lock's waiters: %v", err)
	}
	return n
}
