package syncer

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// harness is a test environment with a sync worker's surroundings.
type harness struct {
	*testenv.Env
	calls *callLog
	clock *emulator.ManualClock
}

type envOptions struct {
	// manual drives the emulator with a manual clock started now.
	manual bool
	// emulator overrides the emulator configuration (Clock is set by manual).
	emulator emulator.Config
}

func setup(t testing.TB, o envOptions) *harness {
	t.Helper()
	h := &harness{calls: &callLog{}}
	ecfg := o.emulator
	if o.manual {
		h.clock = emulator.NewManualClock(time.Now())
		ecfg.Clock = h.clock
	}
	h.Env = testenv.New(t, testenv.Options{
		Emulator: ecfg,
		Airbyte: airbyte.Config{
			HTTPClient:         &http.Client{Transport: h.calls},
			BackoffBase:        5 * time.Millisecond,
			BackoffMax:         20 * time.Millisecond,
			BreakerOpenTimeout: 50 * time.Millisecond,
		},
		// The shared relay elects one leader per database; tests running in
		// parallel each need their own (StartRelay).
		NoRelay: true,
	})
	h.StartRelay()
	return h
}

// withRunningJobs is a harness whose Airbyte jobs run for a minute of its
// manual clock, with one seeded connection and the given number of sync
// workers running.
func withRunningJobs(t testing.TB, workers int) (*harness, testenv.Seeded) {
	t.Helper()
	h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: time.Minute}})
	conn := h.SeedConnection()
	for range workers {
		h.start(testConfig())
	}
	return h, conn
}

// testConfig is a Config with intervals fit for tests.
func testConfig() Config {
	return Config{
		Delivery: app.Delivery{Concurrency: 16}, PollInterval: 20 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond,
		FollowLease: 2 * time.Second, HandlerTimeout: 20 * time.Second,
	}
}

// start runs a worker until the returned stop is called (or the test ends).
func (h *harness) start(cfg Config, hooks ...func(*Worker)) (*Worker, func()) {
	h.T.Helper()
	if cfg.Backoff == nil {
		cfg.Backoff = func(uint64) time.Duration { return 20 * time.Millisecond }
	}
	w, err := New(h.Deps, h.Airbyte, cfg)
	require.NoError(h.T, err)
	for _, hook := range hooks {
		hook(w)
	}
	return w, h.Go(w.Run)
}

// sync publishes a sync request for connID and returns its id.
func (h *harness) sync(connID string, opts ...events.Option) string {
	h.T.Helper()
	return h.Publish(events.TypeSyncRequested, events.SyncRequested{ConnectionID: connID}, opts...)
}

// followed is a worker on a manual clock, its stop, and the id of a sync
// request for a new connection whose job (running for running) has
// started.
func followed(t *testing.T, running time.Duration) (h *harness, w *Worker, stop func(), id string) {
	t.Helper()
	h = setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: running}})
	conn := h.SeedConnection()
	w, stop = h.start(testConfig())
	id = h.sync(conn.ID)
	h.WaitFact(id, events.TypeSyncStarted)
	return h, w, stop, id
}

// publishAgain publishes a sync request again with a given id, as a copy
// that arrives after the stream's duplicate window (testenv.PublishCopy).
func (h *harness) publishAgain(id, connID string) uint64 {
	h.T.Helper()
	return h.PublishCopy(events.TypeSyncRequested, id, events.SyncRequested{ConnectionID: connID})
}

// waitAcked waits until the sync consumer has acknowledged every message
// up to the stream sequence seq.
func (h *harness) waitAcked(seq uint64) {
	h.T.Helper()
	h.WaitAcked(Consumer, seq)
}

// factsOf returns the facts answering a request, by type.
func (h *harness) factsOf(requestID string) map[string][]event.Event {
	out := map[string][]event.Event{}
	for _, f := range h.Facts(requestID) {
		out[f.Type()] = append(out[f.Type()], f)
	}
	return out
}

// outboxTypes returns the event types queued for a request, in order.
func (h *harness) outboxTypes(requestID string) []string {
	h.T.Helper()
	msgs, err := h.Store.OutboxByCorrelation(h.Ctx, requestID)
	require.NoError(h.T, err)
	var out []string
	for _, m := range msgs {
		out = append(out, m.EventType)
	}
	return out
}

// jobOf returns the job_history row answering a request.
func (h *harness) jobOf(source, requestID string) registry.Job {
	h.T.Helper()
	link, err := h.Store.JobRequestGet(h.Ctx, source, requestID)
	require.NoError(h.T, err)
	j, err := h.Store.JobGet(h.Ctx, link.JobID)
	require.NoError(h.T, err)
	return j
}

func (h *harness) source() string { return "/test/" + h.T.Name() }

// jobsOf returns the emulator's jobs of an Airbyte connection.
func (h *harness) jobsOf(abConnID string) []emulator.JobSnapshot {
	var out []emulator.JobSnapshot
	for _, j := range h.Emulator.Jobs() {
		if j.ConnectionID == abConnID {
			out = append(out, j)
		}
	}
	return out
}

// callLog is an HTTP transport that counts Airbyte calls by operation
// ("POST /jobs", "GET /jobs/{id}", ...).
type callLog struct {
	mu     sync.Mutex
	counts map[string]int
	// rewrite, when set, rewrites the body of every answer.
	rewrite func([]byte) []byte
	// before, when set, sees every call (its body readable) before it is
	// sent; it may hold it, or fail it with an error.
	before func(r *http.Request, body []byte) error
}

var numericSegment = regexp.MustCompile(`/[0-9]+(/|$)`)

func (c *callLog) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	before := c.before
	c.mu.Unlock()
	if before != nil {
		body, err := testenv.PeekBody(r)
		if err != nil {
			return nil, err
		}
		if err := before(r, body); err != nil {
			return nil, err
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		return resp, err // an expired token: the client sends the call again
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/public/v1")
	path = numericSegment.ReplaceAllString(path, "/{id}$1")
	if path == "/jobs" && r.Method == http.MethodGet && r.URL.Query().Has("connectionId") {
		path += "?connectionId" // a request's look-up, not a follower's list
	}
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[r.Method+" "+path]++
	rewrite := c.rewrite
	c.mu.Unlock()
	if err == nil && rewrite != nil {
		body, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		body = rewrite(body)
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		resp.Header.Del("Content-Length")
	}
	return resp, err
}

// setRewrite makes every later answer's body pass through f.
func (c *callLog) setRewrite(f func([]byte) []byte) {
	c.mu.Lock()
	c.rewrite = f
	c.mu.Unlock()
}

// setBefore makes every later call pass through f before it is sent.
func (c *callLog) setBefore(f func(r *http.Request, body []byte) error) {
	c.mu.Lock()
	c.before = f
	c.mu.Unlock()
}

// snapshot returns the counts so far.
func (c *callLog) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// readJobInfo is the configuration API's jobs/get as callLog counts it:
// the read after a start, and the failure reason and stream stats of an
// ended job.
const readJobInfo = "POST /api/v1/jobs/get"

// listJobChanges is the follower's job list (jobs/list_for_workspaces) as
// callLog counts it.
const listJobChanges = "POST /api/v1/jobs/list_for_workspaces"

func (c *callLog) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[op]
}

// jobCalls counts every call on the public jobs resource.
func (c *callLog) jobCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for op, k := range c.counts {
		if strings.Contains(op, " /jobs") || strings.Contains(op, "/api/v1/jobs") {
			n += k
		}
	}
	return n
}

func bytesReplace(b []byte, old, new string) []byte {
	return bytes.ReplaceAll(b, []byte(old), []byte(new))
}
