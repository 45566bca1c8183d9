package airbyte

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// admissionClock is a settable clock for the limiter, started at the real
// time so that context deadlines compare with it.
type admissionClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *admissionClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Reset sets the clock back to the real time.
func (c *admissionClock) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = time.Now()
}

func (c *admissionClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestAdmission(maxInFlight int) (*admission, *admissionClock) {
	clk := &admissionClock{now: time.Now()}
	a := newAdmission(APIPublic, maxInFlight, 250*time.Millisecond)
	a.now = clk.Now
	return a, clk
}

func mustAcquire(t *testing.T, a *admission, p Priority) ticket {
	t.Helper()
	tk, err := a.acquire(context.Background(), p)
	require.NoError(t, err)
	return tk
}

// queue starts a waiter of priority p and waits until it is queued; the
// returned channel yields its ticket once admitted.
func queue(t *testing.T, a *admission, p Priority) <-chan ticket {
	t.Helper()
	before := a.stats().Queued[p]
	ch := make(chan ticket, 1)
	go func() {
		tk, err := a.acquire(context.Background(), p)
		if err == nil {
			ch <- tk
		}
		close(ch)
	}()
	require.Eventually(t, func() bool { return a.stats().Queued[p] == before+1 }, 5*time.Second, time.Millisecond)
	return ch
}

func TestAdmissionBound(t *testing.T) {
	t.Parallel()
	a, _ := newTestAdmission(2)
	t1 := mustAcquire(t, a, PriorityOther)
	mustAcquire(t, a, PriorityOther)
	third := queue(t, a, PriorityOther)

	s := a.stats()
	require.Equal(t, 2, s.InFlight)
	require.Equal(t, 1, s.Queued[PriorityOther])
	select {
	case <-third:
		t.Fatal("a third call was admitted with two in flight and a limit of two")
	default:
	}

	a.release(t1, signalOK)
	tk, ok := <-third
	require.True(t, ok)
	require.Equal(t, PriorityOther, tk.prio)
	s = a.stats()
	require.Equal(t, 2, s.InFlight)
	require.Zero(t, s.Queued[PriorityOther])
}

func TestAdmissionOrder(t *testing.T) {
	t.Parallel()
	a, _ := newTestAdmission(1)
	held := mustAcquire(t, a, PriorityOther)

	type entry struct {
		name string
		ch   <-chan ticket
	}
	// Queued in this order; admitted by priority, FIFO within one.
	var entries []entry
	for _, e := range []struct {
		name string
		p    Priority
	}{
		{"bulk-1", PriorityBulk}, {"other-1", PriorityOther}, {"bulk-2", PriorityBulk},
		{"jobs-1", PriorityJobs}, {"token", PriorityToken}, {"jobs-2", PriorityJobs}, {"other-2", PriorityOther},
	} {
		entries = append(entries, entry{e.name, queue(t, a, e.p)})
	}
	require.Equal(t, [NumPriorities]int{1, 2, 2, 2}, a.stats().Queued)

	var order []string
	current := held
	for range entries {
		a.release(current, signalOK)
		admitted := ""
		for admitted == "" {
			for _, e := range entries {
				select {
				case tk, ok := <-e.ch:
					if ok {
						admitted, current = e.name, tk
					}
				default:
				}
			}
			if admitted == "" {
				time.Sleep(time.Millisecond)
			}
		}
		order = append(order, admitted)
	}
	a.release(current, signalOK)
	require.Equal(t, []string{"token", "jobs-1", "jobs-2", "other-1", "other-2", "bulk-1", "bulk-2"}, order)
	require.Zero(t, a.stats().InFlight)
}

func TestAdmissionBacksOffOnOverload(t *testing.T) {
	t.Parallel()
	a, _ := newTestAdmission(8)

	round := func(n int, s signal) {
		t.Helper()
		tks := make([]ticket, n)
		for i := range tks {
			tks[i] = mustAcquire(t, a, PriorityOther)
		}
		for _, tk := range tks {
			a.release(tk, s)
		}
	}
	// Four 429s of one round halve the limit once, not four times.
	round(4, signalDrop)
	s := a.stats()
	require.Equal(t, 4, s.Limit)
	require.Equal(t, uint64(1), s.Decreases)

	round(4, signalDrop)
	require.Equal(t, 2, a.stats().Limit)
	round(2, signalDrop)
	round(1, signalDrop)
	round(1, signalDrop)
	require.Equal(t, 1, a.stats().Limit, "never below one call in flight")
}

func TestAdmissionRecovers(t *testing.T) {
	t.Parallel()
	a, _ := newTestAdmission(6)
	for range 3 {
		tk := mustAcquire(t, a, PriorityOther)
		a.release(tk, signalDrop)
	}
	require.Equal(t, 1, a.stats().Limit)

	// Rounds of calls that fill the limit and are answered: the limit grows
	// by about one a round, up to the bound and no further.
	var limits []int
	for range 30 {
		n := a.stats().Limit
		tks := make([]ticket, n)
		for i := range tks {
			tks[i] = mustAcquire(t, a, PriorityJobs)
		}
		require.Equal(t, n, a.stats().InFlight)
		for _, tk := range tks {
			a.release(tk, signalOK)
		}
		limits = append(limits, a.stats().Limit)
	}
	require.IsNonDecreasing(t, limits)
	require.Equal(t, 6, limits[9], "back at the bound within ten rounds: %v", limits)
	require.Equal(t, 6, limits[len(limits)-1], "and never above it")
}

func TestAdmissionIdleDoesNotGrow(t *testing.T) {
	t.Parallel()
	a, _ := newTestAdmission(8)
	for range 2 {
		a.release(mustAcquire(t, a, PriorityOther), signalDrop)
	}
	require.Equal(t, 2, a.stats().Limit)
	// One call at a time with a limit of two uses half of it: it grows.
	a.release(mustAcquire(t, a, PriorityOther), signalOK)
	require.Equal(t, 2, a.stats().Limit) // 2.5
	for range 3 {
		a.release(mustAcquire(t, a, PriorityOther), signalDrop)
	}
	require.Equal(t, 1, a.stats().Limit)
	for range 4 {
		a.release(mustAcquire(t, a, PriorityOther), signalOK)
	}
	require.Equal(t, 3, a.stats().Limit)
	// At a limit of 3, one call in flight is less than half: no growth.
	for range 20 {
		a.release(mustAcquire(t, a, PriorityOther), signalOK)
	}
	require.Equal(t, 3, a.stats().Limit)
}

// answer admits a call of priority p, lets d pass and releases it with s.
func answer(t *testing.T, a *admission, clk *admissionClock, p Priority, d time.Duration, s signal) {
	t.Helper()
	tk := mustAcquire(t, a, p)
	clk.Advance(d)
	a.release(tk, s)
}

// answerRound admits as many calls of priority p as the limit allows, lets
// d pass and answers them all.
func answerRound(t *testing.T, a *admission, clk *admissionClock, p Priority, d time.Duration) {
	t.Helper()
	tks := make([]ticket, a.stats().Limit)
	for i := range tks {
		tks[i] = mustAcquire(t, a, p)
	}
	clk.Advance(d)
	for _, tk := range tks {
		a.release(tk, signalOK)
	}
}

func TestAdmissionBacksOffOnLatency(t *testing.T) {
	t.Parallel()

	t.Run("rising latency lowers the limit, recovered latency raises it", func(t *testing.T) {
		t.Parallel()
		a, clk := newTestAdmission(4)
		for range 10 {
			answerRound(t, a, clk, PriorityJobs, 20*time.Millisecond)
		}
		require.Equal(t, 4, a.stats().Limit)
		require.Zero(t, a.stats().Decreases)

		var limits []int
		for range 3 {
			answerRound(t, a, clk, PriorityJobs, 800*time.Millisecond)
			limits = append(limits, a.stats().Limit)
		}
		require.Equal(t, []int{3, 3, 2}, limits, "down round after round while latency stays high")
		s := a.stats()
		require.Equal(t, uint64(3), s.Decreases, "one decrease per round")

		for range 30 {
			answerRound(t, a, clk, PriorityJobs, 20*time.Millisecond)
		}
		require.Equal(t, 4, a.stats().Limit)
	})

	t.Run("jitter of fast answers is not overload", func(t *testing.T) {
		t.Parallel()
		a, clk := newTestAdmission(4)
		for i := range 200 {
			d := time.Millisecond
			if i%3 == 0 {
				d = 40 * time.Millisecond // 40 times slower, yet fast
			}
			answer(t, a, clk, PriorityOther, d, signalOK)
		}
		require.Zero(t, a.stats().Decreases)
	})

	t.Run("a discover's duration is not latency", func(t *testing.T) {
		t.Parallel()
		a, clk := newTestAdmission(4)
		for range 20 {
			answer(t, a, clk, PriorityBulk, 10*time.Millisecond, signalOK)
		}
		for range 20 {
			answer(t, a, clk, PriorityBulk, 30*time.Second, signalOK)
		}
		require.Zero(t, a.stats().Decreases)
	})

	t.Run("each priority keeps its own usual latency", func(t *testing.T) {
		t.Parallel()
		a, clk := newTestAdmission(4)
		for i := range 100 {
			answer(t, a, clk, PriorityJobs, 10*time.Millisecond, signalOK)
			if i%2 == 0 {
				answer(t, a, clk, PriorityOther, time.Second, signalOK) // slow lists
			}
		}
		require.Zero(t, a.stats().Decreases)
	})
}

func TestAdmissionDeadline(t *testing.T) {
	t.Parallel()

	t.Run("a wait beyond the deadline is refused at once", func(t *testing.T) {
		t.Parallel()
		a, clk := newTestAdmission(1)
		for range 5 {
			answer(t, a, clk, PriorityOther, time.Second, signalOK) // a slot is held ~1 s
		}
		clk.Reset()
		held := mustAcquire(t, a, PriorityOther)
		w1 := queue(t, a, PriorityJobs)
		w2 := queue(t, a, PriorityOther)

		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		_, err := a.acquire(ctx, PriorityOther) // two ahead, ~3 s expected
		require.ErrorIs(t, err, ErrBusy)
		var be *BusyError
		require.True(t, errors.As(err, &be))
		require.Equal(t, 2, be.Ahead)
		require.Equal(t, 1, be.Limit)
		require.Equal(t, PriorityOther, be.Priority)
		require.InDelta(t, 3*time.Second, be.RetryAfter, float64(100*time.Millisecond))
		require.Equal(t, uint64(1), a.stats().Rejected[PriorityOther])

		// A jobs call with the same deadline has one ahead: ~2 s, refused;
		// with a longer deadline it waits.
		_, err = a.acquire(ctx, PriorityJobs)
		require.ErrorIs(t, err, ErrBusy)
		long, cancelLong := context.WithTimeout(context.Background(), time.Minute)
		defer cancelLong()
		got := make(chan error, 1)
		go func() {
			tk, err := a.acquire(long, PriorityJobs)
			if err == nil {
				a.release(tk, signalOK)
			}
			got <- err
		}()
		require.Eventually(t, func() bool { return a.stats().Queued[PriorityJobs] == 2 }, 5*time.Second, time.Millisecond)

		a.release(held, signalOK)
		a.release(<-w1, signalOK)
		require.NoError(t, <-got)
		a.release(<-w2, signalOK)
		require.Zero(t, a.stats().InFlight)
	})

	t.Run("a deadline that passes while waiting ends the wait with ErrBusy", func(t *testing.T) {
		t.Parallel()
		a, _ := newTestAdmission(1)
		held := mustAcquire(t, a, PriorityBulk)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := a.acquire(ctx, PriorityJobs) // no hold time known: waits
		require.ErrorIs(t, err, ErrBusy)
		d, ok := RetryAfter(err)
		require.True(t, ok)
		require.GreaterOrEqual(t, d, 250*time.Millisecond, "never sooner than the backoff base")
		require.True(t, IsRetryable(err))
		s := a.stats()
		require.Zero(t, s.Queued[PriorityJobs], "the waiter left the queue")
		require.Equal(t, uint64(1), s.Rejected[PriorityJobs])
		a.release(held, signalOK)
		require.Zero(t, a.stats().InFlight)
	})

	t.Run("a cancelled wait leaves the queue and returns the context's error", func(t *testing.T) {
		t.Parallel()
		a, _ := newTestAdmission(1)
		held := mustAcquire(t, a, PriorityOther)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() {
			_, err := a.acquire(ctx, PriorityOther)
			got <- err
		}()
		require.Eventually(t, func() bool { return a.stats().Queued[PriorityOther] == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		err := <-got
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrBusy)
		require.Zero(t, a.stats().Queued[PriorityOther])
		require.Zero(t, a.stats().Rejected[PriorityOther])

		// The slot goes to the next caller, not to the one that left.
		next := queue(t, a, PriorityOther)
		a.release(held, signalOK)
		a.release(<-next, signalOK)
		require.Zero(t, a.stats().InFlight)
	})
}

func TestAdmissionLimitBelowInFlight(t *testing.T) {
	t.Parallel()
	a, _ := newTestAdmission(4)
	tks := make([]ticket, 4)
	for i := range tks {
		tks[i] = mustAcquire(t, a, PriorityOther)
	}
	waiting := queue(t, a, PriorityJobs)
	// Overload halves the limit to 2 while 4 are in flight: the waiter is
	// admitted only once fewer than 2 are.
	a.release(tks[0], signalDrop)
	a.release(tks[1], signalIgnore)
	require.Equal(t, 2, a.stats().Limit)
	require.Equal(t, 2, a.stats().InFlight)
	select {
	case <-waiting:
		t.Fatal("admitted above the lowered limit")
	default:
	}
	a.release(tks[2], signalIgnore)
	tk := <-waiting
	require.Equal(t, 2, a.stats().InFlight)
	a.release(tks[3], signalIgnore)
	a.release(tk, signalIgnore)
}

func TestPriorityOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    request
		want Priority
	}{
		{request{op: opCreateAccessToken}, PriorityToken},
		{request{op: "getJob"}, PriorityJobs},
		{request{op: "listJobs"}, PriorityJobs},
		{request{op: "cancelJob"}, PriorityJobs},
		{request{op: "getJobInfo", api: APIConfig}, PriorityJobs},
		{request{op: "createJob"}, PriorityOther},
		{request{op: "getConnection"}, PriorityOther},
		{request{op: "listSources"}, PriorityOther},
		{request{op: "createSource"}, PriorityBulk},
		{request{op: "createConnection", discover: true}, PriorityBulk},
		{request{op: "patchConnection", discover: true}, PriorityBulk},
		{request{op: "getStreamProperties", discover: true}, PriorityBulk},
		{request{op: "discoverSchemaForSource", api: APIConfig, discover: true}, PriorityBulk},
	} {
		require.Equal(t, tc.want, priorityOf(&tc.r), tc.r.op)
	}
}

// BenchmarkAdmission measures what admission control adds to a call that
// finds a free slot: the cost when Airbyte keeps up.
func BenchmarkAdmission(b *testing.B) {
	ctx := context.Background()
	b.Run("free slot", func(b *testing.B) {
		a := newAdmission(APIPublic, 4, time.Second)
		b.ReportAllocs()
		for b.Loop() {
			tk, err := a.acquire(ctx, PriorityJobs)
			if err != nil {
				b.Fatal(err)
			}
			a.release(tk, signalOK)
		}
	})
	// A job read from 8 goroutines against a fast Airbyte: without
	// admission control, with a bound the callers never reach (what
	// admission control itself costs), and with the default bound.
	for _, bound := range []int{-1, 8, DefaultMaxInFlight} {
		b.Run(fmt.Sprintf("client call, max in flight %d", bound), func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(serveJob))
			defer srv.Close()
			c, err := New(Config{BaseURL: srv.URL + "/api/public/v1", MaxInFlight: bound})
			if err != nil {
				b.Fatal(err)
			}
			defer c.http.CloseIdleConnections()
			b.ReportAllocs()
			b.SetParallelism(4) // 8 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetJob(ctx, 42); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	b.Run("parallel within the bound", func(b *testing.B) {
		a := newAdmission(APIPublic, 1<<20, time.Second)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tk, err := a.acquire(ctx, PriorityJobs)
				if err != nil {
					b.Fatal(err)
				}
				a.release(tk, signalOK)
			}
		})
	})
}
