package airbyte

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/stretchr/testify/require"
)

// group runs functions in goroutines and returns the first error.
type group struct {
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func (g *group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.once.Do(func() { g.err = err })
		}
	}()
}

func (g *group) Wait() error {
	g.wg.Wait()
	return g.err
}

// boundedAirbyte counts the API calls in flight, as Airbyte's fixed thread
// pool would see them, and keeps their high-water mark.
type boundedAirbyte struct {
	inFlight, peak atomic.Int32
}

func (b *boundedAirbyte) enter() int32 {
	n := b.inFlight.Add(1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			return n
		}
	}
}

func (b *boundedAirbyte) leave() { b.inFlight.Add(-1) }

func serveJob(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"jobId": 42, "status": "running", "jobType": "sync", "connectionId": testConnection,
		"startTime": "2025-09-16T20:00:00Z",
	})
}

// hammer runs calls GetJob calls from workers goroutines and fails the
// test on any error.
func hammer(t *testing.T, c *Client, workers, calls int) {
	t.Helper()
	var g group
	for range workers {
		g.Go(func() error {
			for range calls {
				if _, err := c.GetJob(context.Background(), 42); err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
}

func publicStats(t *testing.T, c *Client) AdmissionStats {
	t.Helper()
	s := c.AdmissionStats()
	require.NotEmpty(t, s)
	require.Equal(t, APIPublic, s[0].API)
	return s[0]
}

// lowestLimit runs fn and returns the lowest public API limit seen while it
// ran.
func lowestLimit(t *testing.T, c *Client, fn func()) int {
	t.Helper()
	done := make(chan struct{})
	lowest := make(chan int, 1)
	go func() {
		low := c.AdmissionStats()[0].Limit
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				lowest <- min(low, c.AdmissionStats()[0].Limit)
				return
			case <-tick.C:
				low = min(low, c.AdmissionStats()[0].Limit)
			}
		}
	}()
	fn()
	close(done)
	return <-lowest
}

func TestAdmissionAgainstAnAirbyteThatSheds(t *testing.T) {
	t.Parallel()
	// An Airbyte that answers 429 to every call beyond `capacity` in flight.
	var pool boundedAirbyte
	var capacity, shed, served atomic.Int32
	api := func(w http.ResponseWriter, r *http.Request) {
		n := pool.enter()
		defer pool.leave()
		if c := capacity.Load(); c > 0 && n > c {
			shed.Add(1)
			problem(w, http.StatusTooManyRequests, "rate-limited", "You are being rate limited.")
			return
		}
		served.Add(1)
		time.Sleep(2 * time.Millisecond)
		serveJob(w, r)
	}
	b := setup(t, api, func(c *Config) { c.MaxInFlight = 8; c.MaxAttempts = 100 })
	hammer(t, b.client, 1, 1) // fetch the token
	require.Equal(t, 8, publicStats(t, b.client).Limit)

	// Overloaded: the limit comes down, and every call still succeeds
	// (429s are retried) with far fewer 429s than calls.
	capacity.Store(3)
	const workers, calls = 16, 25
	hammer(t, b.client, workers, calls)
	s := publicStats(t, b.client)
	require.NotZero(t, s.Decreases)
	require.Less(t, s.Limit, 8)
	require.NotZero(t, shed.Load())
	t.Logf("overloaded: %d calls, %d attempts served, %d shed; %+v", workers*calls, served.Load(), shed.Load(), s)
	require.Less(t, shed.Load(), int32(workers*calls/2),
		"without admission control most attempts of 16 concurrent callers against 3 slots are shed")

	// Recovered: the limit grows back to the bound, and the calls in flight
	// never exceeded it.
	capacity.Store(0)
	for i := 0; publicStats(t, b.client).Limit < 8; i++ {
		require.Less(t, i, 100, "the limit did not grow back: %+v", publicStats(t, b.client))
		hammer(t, b.client, workers, 5)
	}
	require.LessOrEqual(t, pool.peak.Load(), int32(8))
	require.Zero(t, publicStats(t, b.client).InFlight)
}

func TestAdmissionAgainstASlowingAirbyte(t *testing.T) {
	t.Parallel()
	var pool boundedAirbyte
	var latency atomic.Int64
	api := func(w http.ResponseWriter, r *http.Request) {
		pool.enter()
		defer pool.leave()
		time.Sleep(time.Duration(latency.Load()))
		serveJob(w, r)
	}
	b := setup(t, api) // default bound: 4
	hammer(t, b.client, 8, 10)
	require.Equal(t, DefaultMaxInFlight, publicStats(t, b.client).Limit)
	before := publicStats(t, b.client).Decreases

	// Airbyte slows down (its pool is busy with other work): the limit
	// comes down. It may grow again once the slower answers are the new
	// normal, so the lowest limit seen while the calls run is what counts.
	latency.Store(int64(400 * time.Millisecond))
	lowest := lowestLimit(t, b.client, func() { hammer(t, b.client, 8, 3) })
	s := publicStats(t, b.client)
	require.Greater(t, s.Decreases, before)
	require.Less(t, lowest, DefaultMaxInFlight)

	// Airbyte is fast again: the limit grows back.
	latency.Store(0)
	for i := 0; publicStats(t, b.client).Limit < DefaultMaxInFlight; i++ {
		require.Less(t, i, 100, "the limit did not grow back: %+v", publicStats(t, b.client))
		hammer(t, b.client, 8, 5)
	}
	require.LessOrEqual(t, pool.peak.Load(), int32(DefaultMaxInFlight))
}

// TestAdmissionPriorities saturates the public API with discovers that
// Airbyte holds, and shows that a job read waits for the first slot to free
// and takes it ahead of the discovers that queued before it.
func TestAdmissionPriorities(t *testing.T) {
	t.Parallel()
	var pool boundedAirbyte
	release := make(chan struct{})
	var mu sync.Mutex
	var seen []string
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, s)
	}
	seenNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
	api := func(w http.ResponseWriter, r *http.Request) {
		pool.enter()
		defer pool.leave()
		switch {
		case r.URL.Path == "/api/public/v1/streams":
			record("discover")
			<-release // a discover holds its thread until the test lets it go
			writeJSON(w, http.StatusOK, []any{})
		case strings.HasPrefix(r.URL.Path, "/api/public/v1/jobs/"):
			record("job")
			serveJob(w, r)
		default:
			http.NotFound(w, r)
		}
	}
	b := setup(t, api) // default bound: 4
	ctx := context.Background()
	_, err := b.client.GetJob(ctx, 42) // fetch the token
	require.NoError(t, err)
	var once sync.Once
	stop := func() { once.Do(func() { close(release) }) }
	t.Cleanup(stop)

	const discovers = 7
	var g group
	for range discovers {
		g.Go(func() error {
			_, err := b.client.GetStreamProperties(ctx, StreamPropertiesParams{SourceID: testSource, IgnoreCache: true})
			return err
		})
	}
	require.Eventually(t, func() bool {
		s := publicStats(t, b.client)
		return s.InFlight == 4 && s.Queued[PriorityBulk] == discovers-4 && len(seenNow()) == 1+4
	}, 10*time.Second, time.Millisecond)

	jobDone := make(chan error, 1)
	go func() {
		_, err := b.client.GetJob(ctx, 42)
		jobDone <- err
	}()
	require.Eventually(t, func() bool { return publicStats(t, b.client).Queued[PriorityJobs] == 1 }, 10*time.Second, time.Millisecond)
	require.Equal(t, []string{"job", "discover", "discover", "discover", "discover"}, seenNow(),
		"the job read waits while the bound is taken")

	release <- struct{}{} // one discover ends
	select {
	case err := <-jobDone:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("the job read was not admitted when a slot freed; Airbyte saw %v", seenNow())
	}
	require.Equal(t, []string{"job", "discover", "discover", "discover", "discover", "job"}, seenNow()[:6],
		"the job read took the freed slot ahead of the queued discovers")

	stop()
	require.NoError(t, g.Wait())
	require.Equal(t, int32(4), pool.peak.Load(), "Airbyte never saw more than the bound")
}

// TestAdmissionBusy shows that a call whose wait for a slot outlasts its
// deadline is not sent and fails with an error that says when to retry.
func TestAdmissionBusy(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var jobReads atomic.Int32
	api := func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/public/v1/streams":
			<-release
			writeJSON(w, http.StatusOK, []any{})
		default:
			jobReads.Add(1)
			serveJob(w, r)
		}
	}
	b := setup(t, api, func(c *Config) { c.MaxInFlight = 1 })
	var calls []CallInfo
	var mu sync.Mutex
	b.client.obs = ObserverFuncs{Call: func(i CallInfo) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, i)
	}}
	ctx := context.Background()
	_, err := b.client.GetJob(ctx, 42) // fetch the token
	require.NoError(t, err)

	discoverDone := make(chan error, 1)
	go func() {
		_, err := b.client.GetStreamProperties(ctx, StreamPropertiesParams{SourceID: testSource})
		discoverDone <- err
	}()
	require.Eventually(t, func() bool { return publicStats(t, b.client).InFlight == 1 }, 10*time.Second, time.Millisecond)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = b.client.GetJob(short, 42)
	require.ErrorIs(t, err, ErrBusy)
	require.True(t, IsRetryable(err))
	d, ok := RetryAfter(err)
	require.True(t, ok)
	require.GreaterOrEqual(t, d, DefaultBackoffBase)
	require.Equal(t, int32(1), jobReads.Load(), "the refused read was not sent")
	require.Equal(t, uint64(1), publicStats(t, b.client).Rejected[PriorityJobs])
	mu.Lock()
	last := calls[len(calls)-1]
	mu.Unlock()
	require.Equal(t, OutcomeBusy, last.Outcome)
	require.Zero(t, last.Attempts)

	close(release)
	require.NoError(t, <-discoverDone)
}

func TestAdmissionPerAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, sourceAPI(), func(c *Config) { c.ConfigAPIMaxInFlight = 2 })
	s := b.client.AdmissionStats()
	require.Len(t, s, 2)
	require.Equal(t, APIPublic, s[0].API)
	require.Equal(t, DefaultMaxInFlight, s[0].Max)
	require.Equal(t, APIConfig, s[1].API)
	require.Equal(t, 2, s[1].Max)

	off := setup(t, sourceAPI(), func(c *Config) { c.MaxInFlight = -1; c.ConfigAPIMaxInFlight = -1 })
	require.Empty(t, off.client.AdmissionStats())
	_, err := off.client.GetSource(context.Background(), testSource)
	require.NoError(t, err)
}

func TestAdmissionConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{
		"AIRBYTE_MAX_IN_FLIGHT":            "12",
		"AIRBYTE_CONFIG_API_MAX_IN_FLIGHT": "-1",
	}})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	c, err := New(cfg)
	require.NoError(t, err)
	s := c.AdmissionStats()
	require.Len(t, s, 1, "the configuration API's admission control is off")
	require.Equal(t, AdmissionStats{API: APIPublic, Limit: 12, Max: 12}, s[0])

	d := Config{}.withDefaults()
	require.Equal(t, DefaultMaxInFlight, d.MaxInFlight)
	require.Equal(t, DefaultConfigAPIMaxInFlight, d.ConfigAPIMaxInFlight)
	require.Equal(t, -1.0, d.RateLimit, "no rate limit by default")
}
