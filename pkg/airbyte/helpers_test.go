package airbyte

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testClientID     = "client-1234"
	testClientSecret = "s3cr3t-client-value"
	testWorkspace    = "744cc0ed-7f05-4949-9e60-2a814f90c035"
	testConnection   = "9924bcd0-99be-453d-ba47-c2c9766f7da5"
	testSource       = "0c31738c-0b2d-4887-b506-e2cd1c39cc35"
)

// newFakeClock is a settable clock for token expiry.
func newFakeClock() *emulator.ManualClock {
	return emulator.NewManualClock(time.Date(2025, 9, 16, 20, 0, 0, 0, time.UTC))
}

// sleepRecorder replaces the client's sleep: it records each wait and
// returns at once (or with the context's error).
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// fakeAirbyte is a scriptable Airbyte stand-in for unit tests: it issues
// tokens and routes API calls to the test's handler.
type fakeAirbyte struct {
	srv *httptest.Server

	tokenRequests atomic.Int32
	apiRequests   atomic.Int32
	tokenTTL      atomic.Int64 // seconds
	tokenType     atomic.Value // string
	issued        atomic.Int32
	// tokenGate, when set, blocks token answers until closed.
	tokenGate chan struct{}

	mu     sync.Mutex
	tokens map[string]bool // valid tokens
	api    http.HandlerFunc
}

func newFakeAirbyte(t *testing.T, api http.HandlerFunc) *fakeAirbyte {
	t.Helper()
	f := &fakeAirbyte{tokens: map[string]bool{}, api: api}
	f.tokenTTL.Store(900)
	f.tokenType.Store("Bearer")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/public/v1/applications/token", f.serveToken(t))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.apiRequests.Add(1)
		if auth := r.Header.Get("Authorization"); !f.valid(auth) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		h := f.api
		f.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAirbyte) serveToken(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.tokenRequests.Add(1)
		if f.tokenGate != nil {
			<-f.tokenGate
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			r.PostForm.Get("grant_type") != "client_credentials" ||
			r.PostForm.Get("client_id") != testClientID || r.PostForm.Get("client_secret") != testClientSecret {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid client id or token"})
			return
		}
		tok := "tok-" + strconv.Itoa(int(f.issued.Add(1)))
		f.mu.Lock()
		f.tokens[tok] = true
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": tok, "token_type": f.tokenType.Load(), "expires_in": f.tokenTTL.Load(),
		})
	}
}

func (f *fakeAirbyte) valid(auth string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, ok := cutBearer(auth)
	return ok && f.tokens[tok]
}

// revokeAll makes every issued token invalid, as an early expiry does.
func (f *fakeAirbyte) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

func (f *fakeAirbyte) setAPI(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.api = h
}

func cutBearer(auth string) (string, bool) {
	const p = "Bearer "
	if len(auth) <= len(p) || auth[:len(p)] != p {
		return "", false
	}
	return auth[len(p):], true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// counting is h counting the requests it answers in calls.
func counting(calls *atomic.Int32, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	}
}

// answerProblem answers every request with a problem.
func answerProblem(status int, title, message string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { problem(w, status, title, message) }
}

func problem(w http.ResponseWriter, status int, title, message string) {
	writeJSON(w, status, map[string]any{
		"status": status, "type": "https://reference.airbyte.com/reference/errors#" + title, "title": title,
		"detail": "detail of " + title, "data": map[string]any{"message": message},
	})
}

type testBundle struct {
	fake   *fakeAirbyte
	client *Client
	clock  *emulator.ManualClock
	sleeps *sleepRecorder
	logs   *observer.ObservedLogs
}

// setup starts a fake Airbyte serving api and a client for it with fast,
// deterministic defaults (no rate limit, recorded sleeps, fake token clock).
func setup(t *testing.T, api http.HandlerFunc, mutate ...func(*Config)) *testBundle {
	t.Helper()
	fake := newFakeAirbyte(t, api)
	cfg := Config{
		BaseURL:      fake.srv.URL + "/api/public/v1",
		ClientID:     testClientID,
		ClientSecret: NewSecret(testClientSecret),
		RateLimit:    -1,
		Timeout:      5 * time.Second,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	core, logs := observer.New(zap.DebugLevel)
	c, err := New(cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)
	b := &testBundle{fake: fake, client: c, clock: newFakeClock(), sleeps: &sleepRecorder{}, logs: logs}
	c.now = b.clock.Now
	c.sleep = b.sleeps.Sleep
	t.Cleanup(func() { c.http.CloseIdleConnections() })
	return b
}

func fmtAny(v any) string { return fmt.Sprint(v) }
