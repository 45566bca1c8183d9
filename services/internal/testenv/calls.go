package testenv

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// CallLog records the Airbyte calls a client sent and the statuses it got,
// for tests that assert a call was (or was not) made. Give it to an
// environment with Options.Airbyte.HTTPClient = &http.Client{Transport:
// log.Transport(nil)}.
type CallLog struct {
	mu    sync.Mutex
	calls []string
	// answered are the requests answered, by HTTP status.
	answered map[int][]string
}

// Transport returns a RoundTripper that records every request in l and
// sends it with next (nil: a clone of http.DefaultTransport).
func (l *CallLog) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &recordingTransport{next: next, log: l}
}

// Count returns how many requests had the method and a path ending in
// pathSuffix (e.g. "/v1/connections/update").
func (l *CallLog) Count(method, pathSuffix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		m, p, _ := strings.Cut(c, " ")
		if m == method && strings.HasSuffix(p, pathSuffix) {
			n++
		}
	}
	return n
}

// Total returns the number of requests sent.
func (l *CallLog) Total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// Status returns how many answers had the HTTP status.
func (l *CallLog) Status(code int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.answered[code])
}

// Answered returns the requests ("METHOD path") answered with the HTTP
// status, in order.
func (l *CallLog) Answered(code int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.answered[code]...)
}

type recordingTransport struct {
	next http.RoundTripper
	log  *CallLog
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.log.mu.Lock()
	t.log.calls = append(t.log.calls, r.Method+" "+r.URL.Path)
	t.log.mu.Unlock()
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		t.log.mu.Lock()
		if t.log.answered == nil {
			t.log.answered = map[int][]string{}
		}
		t.log.answered[resp.StatusCode] = append(t.log.answered[resp.StatusCode], r.Method+" "+r.URL.Path)
		t.log.mu.Unlock()
	}
	return resp, err
}

// LossyTransport sends the first request with Method and a path ending in
// PathSuffix to the server, then loses its answer, as a connection reset
// after the server acted would. OnLoss runs at that instant (a test kills
// its worker there).
type LossyTransport struct {
	Next       http.RoundTripper
	Method     string
	PathSuffix string
	OnLoss     func()
	lost       atomic.Bool
}

// RoundTrip implements http.RoundTripper.
func (t *LossyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.Next.RoundTrip(r)
	if err != nil || r.Method != t.Method || !strings.HasSuffix(r.URL.Path, t.PathSuffix) || !t.lost.CompareAndSwap(false, true) {
		return resp, err
	}
	_ = resp.Body.Close()
	if t.OnLoss != nil {
		t.OnLoss()
	}
	return nil, errors.New("connection reset by peer")
}
