package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

const (
	waitFor = 10 * time.Second
	tick    = 2 * time.Millisecond
)

// call is one request sent from a goroutine: it reports its status on done.
type call struct {
	cancel context.CancelFunc
	done   chan int // the status, or 0 when the client gave up
}

// send starts method path with the bundle's token and returns at once.
func (b *testBundle) send(method, path string) *call {
	ctx, cancel := context.WithCancel(context.Background())
	c := &call{cancel: cancel, done: make(chan int, 1)}
	req, _ := http.NewRequestWithContext(ctx, method, b.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+b.c.token)
	go func() {
		resp, err := b.srv.Client().Do(req)
		if err != nil {
			c.done <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		c.done <- resp.StatusCode
	}()
	return c
}

// answered reports whether c has been answered (without waiting).
func (c *call) answered() bool { return len(c.done) > 0 }

func (b *testBundle) pool(name string) emulator.PoolStats { return b.emu.Capacity().Pools[name] }

// A slow call (an uncached discover) holds its public API thread for its whole
// duration; the call that finds every thread busy waits in the queue, and the
// Configuration API, on its own pool, is still served.
func TestSlowCallHoldsItsThread(t *testing.T) {
	b := setup(t, emulator.Config{PublicAPIThreads: 2, ConfigAPIThreads: 1, DiscoverLatency: time.Hour})
	src := b.createSource(t)

	var discovers []*call
	for range 2 {
		discovers = append(discovers, b.send(http.MethodGet, "/api/public/v1/streams?sourceId="+src+"&ignoreCache=true"))
	}
	require.Eventually(t, func() bool { return b.pool("public-api").Busy == 2 }, waitFor, tick)

	ws := b.send(http.MethodGet, "/api/public/v1/workspaces")
	require.Eventually(t, func() bool { return b.pool("public-api").Queued == 1 }, waitFor, tick)
	require.False(t, ws.answered(), "the third call waits for a thread")

	r := b.c.cfg("/source_definitions/list_for_workspace", map[string]any{"workspaceId": wsID})
	require.Equal(t, http.StatusOK, r.status, "the Configuration API has its own pool")

	discovers[0].cancel() // the first discover ends: its thread goes to the waiting call
	require.Equal(t, http.StatusOK, <-ws.done)
	discovers[1].cancel()
	for _, d := range discovers {
		<-d.done
	}
	require.Eventually(t, func() bool { return b.pool("public-api").Busy == 0 }, waitFor, tick)

	s := b.emu.Capacity()
	pub := s.Pools["public-api"]
	require.Equal(t, 2, pub.Threads)
	require.Equal(t, 2, pub.MaxBusy, "never more than the pool's threads busy")
	require.Equal(t, 1, pub.MaxQueued)
	require.Equal(t, 3, pub.MaxInFlight)
	streams := s.Endpoints["GET /api/public/v1/streams"]
	require.Equal(t, int64(2), streams.Calls)
	require.Equal(t, 2, streams.MaxInFlight)
	require.Equal(t, "public-api", streams.Pool)
	require.Equal(t, int64(1), s.Endpoints["GET /api/public/v1/workspaces"].Calls)
	cfg := s.Endpoints["POST /api/v1/source_definitions/list_for_workspace"]
	require.Equal(t, int64(1), cfg.Calls)
	require.Equal(t, "io", cfg.Pool)
	require.Equal(t, 1, s.Pools["io"].MaxBusy)
}

// A connection create discovers the source first (when nothing is cached) and
// holds its thread meanwhile.
func TestConnectionCreateHoldsItsThread(t *testing.T) {
	b := setup(t, emulator.Config{PublicAPIThreads: 1, DiscoverLatency: 300 * time.Millisecond})
	src := b.createSource(t)
	_ = b.createConnection(t, src, nil)
	require.Eventually(t, func() bool { return b.pool("public-api").Busy == 0 }, waitFor, tick)
	ep := b.emu.Capacity().Endpoints["POST /api/public/v1/connections"]
	require.Equal(t, int64(1), ep.Calls)
	require.GreaterOrEqual(t, ep.BusySeconds, 0.3, "the create held its thread while it discovered")
	require.Equal(t, 1, b.pool("public-api").MaxBusy)
}

// With QueueLimit, a call that finds the pool's queue full is answered 429 at
// once; the queued call is still served.
func TestQueueLimitAnswers429(t *testing.T) {
	b := setup(t, emulator.Config{PublicAPIThreads: 1, QueueLimit: 1, DiscoverLatency: time.Hour})
	src := b.createSource(t)
	d := b.send(http.MethodGet, "/api/public/v1/streams?sourceId="+src+"&ignoreCache=true")
	require.Eventually(t, func() bool { return b.pool("public-api").Busy == 1 }, waitFor, tick)
	queued := b.send(http.MethodGet, "/api/public/v1/workspaces")
	require.Eventually(t, func() bool { return b.pool("public-api").Queued == 1 }, waitFor, tick)

	r := b.c.once(http.MethodGet, "/api/public/v1/workspaces", nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.JSONEq(t, `{"message":"You are being rate limited."}`, string(r.body))

	d.cancel()
	<-d.done
	require.Equal(t, http.StatusOK, <-queued.done)
	s := b.emu.Capacity()
	require.Equal(t, int64(1), s.Pools["public-api"].Rejected)
	ws := s.Endpoints["GET /api/public/v1/workspaces"]
	require.Equal(t, int64(1), ws.Rejected)
	require.Equal(t, int64(1), ws.Calls)
}

func (b *testBundle) status(t *testing.T, id int64) string {
	t.Helper()
	return b.job(t, id)["status"].(string)
}

func (b *testBundle) statuses(t *testing.T, ids ...int64) []string {
	t.Helper()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = b.status(t, id)
	}
	return out
}

// At most MaxSyncWorkers jobs run at once; the others stay pending until a
// worker frees, and start when it does.
func TestJobSlots(t *testing.T) {
	b := setup(t, emulator.Config{MaxSyncWorkers: 2, JobPending: time.Second, JobRunning: 3 * time.Second})
	var jobs []int64
	for range 3 {
		jobs = append(jobs, b.startSync(t, b.createConnection(t, b.createSource(t), nil)))
	}
	require.Equal(t, []string{"pending", "pending", "pending"}, b.statuses(t, jobs...))

	b.clock.Advance(time.Second)
	require.Equal(t, []string{"running", "running", "pending"}, b.statuses(t, jobs...))
	s := b.emu.Capacity().Jobs
	require.Equal(t, emulator.JobSlotStats{Workers: 2, Running: 2, MaxRunning: 2, Waiting: 1, MaxWaiting: 1}, s)
	list := b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/jobs?status=pending", nil)["data"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, float64(jobs[2]), list[0].(map[string]any)["jobId"])

	b.clock.Advance(3 * time.Second) // the first two end; the third gets a worker at that instant
	require.Equal(t, []string{"succeeded", "succeeded", "running"}, b.statuses(t, jobs...))
	b.clock.Advance(3 * time.Second)
	j := b.job(t, jobs[2])
	require.Equal(t, "succeeded", j["status"])
	require.Equal(t, "PT7S", j["duration"], "1 s pending, 3 s waiting for a worker, 3 s running")
	s = b.emu.Capacity().Jobs
	require.Equal(t, emulator.JobSlotStats{Workers: 2, MaxRunning: 2, MaxWaiting: 1}, s)
}

// Reading the jobs late gives the same outcome as following them: transitions
// are replayed in time order.
func TestJobSlotsDoNotDependOnPolling(t *testing.T) {
	b := setup(t, emulator.Config{MaxSyncWorkers: 1, JobPending: time.Second, JobRunning: 3 * time.Second})
	var jobs []int64
	for range 3 {
		jobs = append(jobs, b.startSync(t, b.createConnection(t, b.createSource(t), nil)))
	}
	b.clock.Advance(time.Hour)
	for i, id := range jobs {
		j := b.job(t, id)
		require.Equal(t, "succeeded", j["status"])
		// One worker: job i waits for the i jobs before it (3 s each).
		require.Equal(t, []string{"PT4S", "PT7S", "PT10S"}[i], j["duration"])
	}
}

// In queued mode a job waiting for a worker reports queued; cancelling a running
// job hands its worker to the waiting one at once.
func TestJobSlotsQueuedAndCancel(t *testing.T) {
	b := setup(t, emulator.Config{MaxSyncWorkers: 1, JobPending: time.Second, JobQueued: time.Second, JobRunning: 3 * time.Second})
	c1 := b.createConnection(t, b.createSource(t), nil)
	c2 := b.createConnection(t, b.createSource(t), nil)
	j1, j2 := b.startSync(t, c1), b.startSync(t, c2)
	b.clock.Advance(2 * time.Second)
	require.Equal(t, []string{"running", "queued"}, b.statuses(t, j1, j2))

	b.clock.Advance(time.Second)
	b.c.ok(http.StatusOK, http.MethodDelete, "/api/public/v1/jobs/"+itoa(j1), nil)
	require.Equal(t, []string{"cancelled", "running"}, b.statuses(t, j1, j2))
	b.clock.Advance(3 * time.Second)
	j := b.job(t, j2)
	require.Equal(t, "succeeded", j["status"])
	require.Equal(t, "PT6S", j["duration"], "started when the cancelled job let its worker go")
}

// A failed attempt gives its worker back while the job waits to retry.
func TestJobSlotsRetryWaitsForAWorker(t *testing.T) {
	b := setup(t, emulator.Config{MaxSyncWorkers: 1, JobPending: time.Second, JobRunning: 3 * time.Second, JobRetryDelay: time.Second})
	b.emu.FailNextJobs(1)
	j1 := b.startSync(t, b.createConnection(t, b.createSource(t), nil)) // fails 3 attempts
	j2 := b.startSync(t, b.createConnection(t, b.createSource(t), nil))
	b.clock.Advance(4 * time.Second) // j1's first attempt fails; j2 takes the worker
	require.Equal(t, []string{"incomplete", "running"}, b.statuses(t, j1, j2))
	b.clock.Advance(3 * time.Second) // j2 ends; j1, due since t0+5, retries now
	require.Equal(t, []string{"running", "succeeded"}, b.statuses(t, j1, j2))
}

// The capacity counters are served as JSON and Prometheus metrics, and can be
// reset between phases.
func TestCapacityEndpoints(t *testing.T) {
	b := setup(t, emulator.Config{PublicAPIThreads: 5, MaxSyncWorkers: 10})
	b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/workspaces", nil)

	var s emulator.CapacityStats
	r := b.c.do(http.MethodGet, "/_emulator/capacity", nil)
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &s)
	require.Equal(t, int64(1), s.Endpoints["GET /api/public/v1/workspaces"].Calls)
	require.Equal(t, int64(1), s.Endpoints["POST /api/public/v1/applications/token"].Calls)
	require.Equal(t, 5, s.Pools["public-api"].Threads)
	require.Equal(t, 10, s.Jobs.Workers)

	r = b.c.do(http.MethodGet, "/_emulator/metrics", nil)
	require.Equal(t, http.StatusOK, r.status)
	m := string(r.body)
	for _, line := range []string{
		`airbyte_emulator_calls_total{pool="public-api",route="GET /api/public/v1/workspaces"} 1`,
		`airbyte_emulator_calls_in_flight_max{pool="public-api",route="GET /api/public/v1/workspaces"} 1`,
		`airbyte_emulator_pool_threads{pool="public-api"} 5`,
		`airbyte_emulator_pool_threads{pool="io"} 0`,
		`airbyte_emulator_sync_workers 10`,
	} {
		require.Contains(t, m, line+"\n")
	}

	b.c.ok(http.StatusNoContent, http.MethodDelete, "/_emulator/capacity", nil)
	s = b.emu.Capacity()
	require.Empty(t, s.Endpoints)
	require.Zero(t, s.Pools["public-api"].Served)
	require.Zero(t, s.Pools["public-api"].MaxBusy)
}

// A connection created with "prefix": "" answers it back.
func TestEmptyPrefixIsAnswered(t *testing.T) {
	b := setup(t, emulator.Config{})
	conn := b.createConnection(t, b.createSource(t), map[string]any{"prefix": ""})
	r := b.c.pub(http.MethodGet, "/connections/"+conn, nil)
	require.Equal(t, http.StatusOK, r.status)
	var raw map[string]json.RawMessage
	r.json(t, &raw)
	require.Equal(t, `""`, strings.TrimSpace(string(raw["prefix"])))
}

// With a call time, every call holds its thread that long: a burst of quick
// calls fills the pool, waits in its queue and, beyond the queue limit, is
// answered 429.
func TestCallTimeHoldsEveryCallsThread(t *testing.T) {
	// The call time is real time (the token the setup takes holds a thread
	// that long too): long enough to see the pool full.
	b := setup(t, emulator.Config{PublicAPIThreads: 2, QueueLimit: 2, CallTime: 2 * time.Second})
	var calls []*call
	for range 4 {
		calls = append(calls, b.send(http.MethodGet, "/api/public/v1/workspaces"))
	}
	require.Eventually(t, func() bool {
		p := b.pool("public-api")
		return p.Busy == 2 && p.Queued == 2
	}, waitFor, tick)
	extra := b.send(http.MethodGet, "/api/public/v1/workspaces")
	require.Equal(t, http.StatusTooManyRequests, <-extra.done, "the queue is full")
	for _, c := range calls {
		c.cancel()
		<-c.done
	}
	require.Eventually(t, func() bool {
		p := b.pool("public-api")
		return p.Busy == 0 && p.Queued == 0
	}, waitFor, tick)
	s := b.pool("public-api")
	require.Equal(t, 2, s.MaxBusy)
	require.Equal(t, int64(1), s.Rejected)
	require.Equal(t, 4, s.MaxInFlight)
}

func TestCallTimeIsServedThenAnswered(t *testing.T) {
	b := setup(t, emulator.Config{PublicAPIThreads: 1, CallTime: 20 * time.Millisecond})
	start := time.Now()
	calls := []*call{b.send(http.MethodGet, "/api/public/v1/workspaces"), b.send(http.MethodGet, "/api/public/v1/workspaces")}
	for _, c := range calls {
		require.Equal(t, http.StatusOK, <-c.done)
	}
	require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond, "one thread serves the two calls one after the other")
	require.GreaterOrEqual(t, b.pool("public-api").BusySeconds, 0.04)
}
