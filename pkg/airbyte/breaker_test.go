package airbyte

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type breakerLog struct {
	mu      sync.Mutex
	changes []BreakerChange
}

func (l *breakerLog) add(c BreakerChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

func (l *breakerLog) states() []BreakerState {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []BreakerState
	for _, c := range l.changes {
		out = append(out, c.To)
	}
	return out
}

func TestBreakerOpensHalfOpensAndCloses(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	var calls atomic.Int32
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !healthy.Load() {
			problem(w, http.StatusBadGateway, "bad-gateway", "upstream down")
			return
		}
		serveSource(w, r)
	}, func(c *Config) {
		c.MaxAttempts = 1
		c.BreakerFailures = 3
		c.BreakerOpenTimeout = 100 * time.Millisecond
	})
	log := &breakerLog{}
	b.client.obs = ObserverFuncs{Breaker: log.add}
	ctx := context.Background()

	for range 3 {
		_, err := b.client.GetSource(ctx, testSource)
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrCircuitOpen)
	}
	require.Equal(t, BreakerOpen, b.client.BreakerState())

	// Open: fail fast without reaching Airbyte.
	_, err := b.client.GetSource(ctx, testSource)
	require.ErrorIs(t, err, ErrCircuitOpen)
	require.True(t, IsRetryable(err))
	require.EqualValues(t, 3, calls.Load())

	// After the open timeout one trial request goes through and closes it.
	healthy.Store(true)
	require.Eventually(t, func() bool { return b.client.BreakerState() == BreakerHalfOpen }, 5*time.Second, 5*time.Millisecond)
	_, err = b.client.GetSource(ctx, testSource)
	require.NoError(t, err)
	require.Equal(t, BreakerClosed, b.client.BreakerState())
	require.Equal(t, []BreakerState{BreakerOpen, BreakerHalfOpen, BreakerClosed}, log.states())
	require.Equal(t, origin(b.fake.srv.URL), log.changes[0].Name)
}

func TestBreakerReopensWhenTrialFails(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	b := setup(t, counting(&calls, answerProblem(http.StatusInternalServerError, "unexpected-problem", "boom")), func(c *Config) {
		c.MaxAttempts = 1
		c.BreakerFailures = 2
		c.BreakerOpenTimeout = 50 * time.Millisecond
	})
	ctx := context.Background()
	for range 2 {
		_, _ = b.client.GetSource(ctx, testSource)
	}
	require.Equal(t, BreakerOpen, b.client.BreakerState())
	require.Eventually(t, func() bool { return b.client.BreakerState() == BreakerHalfOpen }, 5*time.Second, 5*time.Millisecond)
	_, err := b.client.GetSource(ctx, testSource)
	require.Error(t, err)
	require.Equal(t, BreakerOpen, b.client.BreakerState())
	require.EqualValues(t, 3, calls.Load())
}

func TestBreakerIgnoresClientErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "resource-not-found", "no such source")
	}, func(c *Config) { c.BreakerFailures = 2 })
	for range 10 {
		_, err := b.client.GetSource(context.Background(), testSource)
		require.True(t, IsNotFound(err))
	}
	require.Equal(t, BreakerClosed, b.client.BreakerState())
}

func TestBreakerStopsRetriesOfOneCall(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	b := setup(t, counting(&calls, answerProblem(http.StatusServiceUnavailable, "unavailable", "down")), func(c *Config) { c.MaxAttempts = 10; c.BreakerFailures = 3 })
	_, err := b.client.GetSource(context.Background(), testSource)
	require.ErrorIs(t, err, ErrCircuitOpen)
	require.EqualValues(t, 3, calls.Load())
}

func TestBreakerDisabled(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	b := setup(t, counting(&calls, answerProblem(http.StatusServiceUnavailable, "unavailable", "down")), func(c *Config) { c.MaxAttempts = 1; c.BreakerFailures = -1 })
	for range 20 {
		_, err := b.client.GetSource(context.Background(), testSource)
		require.NotErrorIs(t, err, ErrCircuitOpen)
	}
	require.EqualValues(t, 20, calls.Load())
	require.Equal(t, BreakerClosed, b.client.BreakerState())
}

func TestBreakerSharedByPublicAndConfigAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusInternalServerError, "unexpected-problem", "down")
	}, func(c *Config) { c.MaxAttempts = 1; c.BreakerFailures = 2 })
	ctx := context.Background()
	for range 2 {
		_, err := b.client.ConfigAPI().GetConnection(ctx, testConnection)
		require.Error(t, err)
	}
	_, err := b.client.GetSource(ctx, testSource)
	require.ErrorIs(t, err, ErrCircuitOpen, "one Airbyte origin, one breaker")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()

	t.Run("spaces requests", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sourceAPI(), func(c *Config) { c.RateLimit = 20; c.RateBurst = 1 })
		// The token request takes the first slot; 5 calls need 5 more at 50 ms each.
		start := time.Now()
		for range 5 {
			_, err := b.client.GetSource(context.Background(), testSource)
			require.NoError(t, err)
		}
		require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	})

	t.Run("a wait beyond the deadline fails at once", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sourceAPI(), func(c *Config) { c.RateLimit = 0.1; c.RateBurst = 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := b.client.GetSource(ctx, testSource) // the token request took the only slot
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), time.Second)
		require.Zero(t, b.fake.apiRequests.Load())
	})
}
