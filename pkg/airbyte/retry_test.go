package airbyte

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// failing answers the first n calls with status (and header h), then serves ok.
func failing(n int32, status int, h http.Header, ok http.HandlerFunc) (http.HandlerFunc, *atomic.Int32) {
	var calls atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			for k, v := range h {
				w.Header()[k] = v
			}
			problem(w, status, "unexpected-problem", "failure "+strconv.Itoa(int(calls.Load())))
			return
		}
		ok(w, r)
	}, &calls
}

// getFailingSource gets testSource from a server that answers the first n
// calls with status (and header h), then serves the source. It returns the
// bundle, the server's call count and the answer.
func getFailingSource(t *testing.T, n int32, status int, h http.Header, mutate ...func(*Config)) (*testBundle, *atomic.Int32, *Source, error) {
	t.Helper()
	api, calls := failing(n, status, h, serveSource)
	b := setup(t, api, mutate...)
	s, err := b.client.GetSource(context.Background(), testSource)
	return b, calls, s, err
}

func createdSource(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"sourceId": testSource, "name": "acme", "createdAt": 1})
}

func testSourceCreate() SourceCreateRequest {
	return SourceCreateRequest{
		Name: "aam-acme-salesforce", WorkspaceID: testWorkspace, DefinitionID: "b117307c-14b6-41aa-9422-947e34922962",
		Configuration: map[string]any{"client_id": "3MVG9-id", "client_secret": "sf-secret-value", "refresh_token": "sf-refresh-value"},
	}
}

func TestRetryIdempotentCallsThroughBursts(t *testing.T) {
	t.Parallel()
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			b, calls, s, err := getFailingSource(t, 3, status, nil)
			require.NoError(t, err)
			require.Equal(t, "acme-salesforce", s.Name)
			require.EqualValues(t, 4, calls.Load())
			waits := b.sleeps.Waits()
			require.Len(t, waits, 3)
			for _, w := range waits {
				require.GreaterOrEqual(t, w, DefaultBackoffBase/2)
				require.LessOrEqual(t, w, DefaultBackoffMax)
			}
		})
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	b, calls, _, err := getFailingSource(t, 100, http.StatusServiceUnavailable, nil, func(c *Config) { c.MaxAttempts = 3 })
	require.Error(t, err)
	e, ok := AsAPIError(err)
	require.True(t, ok)
	require.Equal(t, http.StatusServiceUnavailable, e.StatusCode)
	require.True(t, IsRetryable(err))
	require.EqualValues(t, 3, calls.Load())
	require.Len(t, b.sleeps.Waits(), 2)
}

func TestRetryBackoffGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	b, _, _, err := getFailingSource(t, 100, http.StatusBadGateway, nil, func(c *Config) {
		c.MaxAttempts = 8
		c.BreakerFailures = -1
		c.BackoffBase = 100 * time.Millisecond
		c.BackoffMax = 800 * time.Millisecond
	})
	require.Error(t, err)
	waits := b.sleeps.Waits()
	require.Len(t, waits, 7)
	// Intervals 100, 200, 400, 800, 800... ms with ±50% jitter, capped at 800 ms.
	require.LessOrEqual(t, waits[0], 150*time.Millisecond)
	require.GreaterOrEqual(t, waits[2], 200*time.Millisecond)
	for _, w := range waits {
		require.LessOrEqual(t, w, 800*time.Millisecond)
	}
	require.GreaterOrEqual(t, waits[6], 400*time.Millisecond)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()

	t.Run("delay-seconds", func(t *testing.T) {
		t.Parallel()
		b, calls, _, err := getFailingSource(t, 2, http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}})
		require.NoError(t, err)
		require.EqualValues(t, 3, calls.Load())
		for _, w := range b.sleeps.Waits() {
			require.GreaterOrEqual(t, w, 7*time.Second)
		}
		require.Len(t, b.sleeps.Waits(), 2)
	})

	t.Run("HTTP-date", func(t *testing.T) {
		t.Parallel()
		var b *testBundle
		var calls atomic.Int32
		b = setup(t, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", b.clock.Now().Add(30*time.Second).Format(http.TimeFormat))
				problem(w, http.StatusServiceUnavailable, "unavailable", "maintenance")
				return
			}
			serveSource(w, r)
		})
		_, err := b.client.GetSource(context.Background(), testSource)
		require.NoError(t, err)
		require.Len(t, b.sleeps.Waits(), 1)
		require.GreaterOrEqual(t, b.sleeps.Waits()[0], 30*time.Second)
	})

	t.Run("too long to wait in the call", func(t *testing.T) {
		t.Parallel()
		b, calls, _, err := getFailingSource(t, 100, http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}})
		require.Error(t, err)
		d, ok := RetryAfter(err)
		require.True(t, ok)
		require.Equal(t, time.Hour, d)
		require.True(t, IsRetryable(err))
		require.EqualValues(t, 1, calls.Load())
		require.Empty(t, b.sleeps.Waits())
	})

	t.Run("beyond the caller's deadline", func(t *testing.T) {
		t.Parallel()
		h, calls := failing(100, http.StatusTooManyRequests, http.Header{"Retry-After": {"30"}}, serveSource)
		b := setup(t, h)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := b.client.GetSource(ctx, testSource)
		require.Error(t, err)
		require.EqualValues(t, 1, calls.Load())
		require.Empty(t, b.sleeps.Waits())
	})
}

func TestNoRetryOnClientErrors(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 403, 404, 409, 422} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			_, calls, _, err := getFailingSource(t, 100, status, nil)
			require.Error(t, err)
			require.False(t, IsRetryable(err))
			require.EqualValues(t, 1, calls.Load())
		})
	}
}

func TestCreatesAreNotRetriedBlindly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		wantCalls int32
	}{
		{status: 500, wantCalls: 1},
		{status: 502, wantCalls: 1},
		{status: 504, wantCalls: 1},
		{status: 429, wantCalls: 2}, // Airbyte's load shedding rejects before any work
		{status: 503, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			h, calls := failing(1, tt.status, nil, createdSource)
			b := setup(t, h)
			_, err := b.client.CreateSource(context.Background(), testSourceCreate())
			if tt.wantCalls == 1 {
				require.Error(t, err)
				require.True(t, IsRetryable(err), "the worker may retry after a look-up")
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantCalls, calls.Load())
		})
	}
}

func TestConnectionResetRetriedOnlyWhenIdempotent(t *testing.T) {
	t.Parallel()
	resetFirst := func() (http.HandlerFunc, *atomic.Int32) {
		var calls atomic.Int32
		return func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.Close() // the request arrived; the answer never leaves
				}
				return
			}
			if r.Method == http.MethodPost {
				createdSource(w, r)
				return
			}
			serveSource(w, r)
		}, &calls
	}

	t.Run("GET", func(t *testing.T) {
		t.Parallel()
		h, calls := resetFirst()
		b := setup(t, h)
		_, err := b.client.GetSource(context.Background(), testSource)
		require.NoError(t, err)
		require.EqualValues(t, 2, calls.Load())
	})
	t.Run("POST", func(t *testing.T) {
		t.Parallel()
		h, calls := resetFirst()
		b := setup(t, h)
		_, err := b.client.CreateSource(context.Background(), testSourceCreate())
		require.Error(t, err)
		require.True(t, IsRetryable(err))
		require.EqualValues(t, 1, calls.Load())
	})
}

func TestConnectionRefusedRetriedEvenForCreates(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more

	c, err := New(Config{BaseURL: "http://" + addr + "/api/public/v1", RateLimit: -1, MaxAttempts: 3})
	require.NoError(t, err)
	sleeps := &sleepRecorder{}
	c.sleep = sleeps.Sleep
	var attempts atomic.Int32
	c.obs = ObserverFuncs{Request: func(RequestInfo) { attempts.Add(1) }}

	_, err = c.CreateSource(context.Background(), testSourceCreate())
	require.Error(t, err)
	require.True(t, isDialError(err), "err = %v", err)
	require.True(t, IsRetryable(err))
	require.EqualValues(t, 3, attempts.Load())
	require.Len(t, sleeps.Waits(), 2)
}

// blockUntilCancelled hangs until the client gives up. It reads the body
// first: the server notices a closed connection only once the body is read.
func blockUntilCancelled(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func TestAttemptTimeout(t *testing.T) {
	t.Parallel()

	t.Run("GET is retried after an attempt timeout", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		b := setup(t, counting(&calls, blockUntilCancelled), func(c *Config) { c.Timeout = 50 * time.Millisecond; c.MaxAttempts = 2 })
		_, err := b.client.GetSource(context.Background(), testSource)
		require.Error(t, err)
		require.True(t, IsRetryable(err))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.EqualValues(t, 2, calls.Load())
	})

	t.Run("POST is not retried after an attempt timeout", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		b := setup(t, counting(&calls, blockUntilCancelled), func(c *Config) { c.Timeout = 50 * time.Millisecond; c.MaxAttempts = 4 })
		_, err := b.client.CreateSource(context.Background(), testSourceCreate())
		require.Error(t, err)
		require.EqualValues(t, 1, calls.Load())
	})
}

func TestCallerDeadlineBoundsTheCall(t *testing.T) {
	t.Parallel()
	b := setup(t, blockUntilCancelled, func(c *Config) { c.Timeout = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.client.GetSource(ctx, testSource)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.True(t, IsRetryable(err))
}

func TestCancelledCallIsNotRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t, blockUntilCancelled)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		require.Eventually(t, func() bool { return b.fake.apiRequests.Load() == 1 }, 5*time.Second, time.Millisecond)
		cancel()
	}()
	_, err := b.client.GetSource(ctx, testSource)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, IsRetryable(err))
	require.EqualValues(t, 1, b.fake.apiRequests.Load())
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 9, 16, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"5", 5 * time.Second},
		{" 2.5 ", 2500 * time.Millisecond},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, parseRetryAfter(tt.in, now), "Retry-After %q", tt.in)
	}
}

func TestRetryableClassification(t *testing.T) {
	t.Parallel()
	require.False(t, IsRetryable(nil))
	require.True(t, IsRetryable(ErrCircuitOpen))
	require.True(t, IsRetryable(&APIError{StatusCode: 502}))
	require.False(t, IsRetryable(&APIError{StatusCode: 501}))
	require.False(t, IsRetryable(errors.New("plain")))
	require.True(t, IsRetryable(&net.OpError{Op: "dial", Err: errors.New("refused")}))
}

func TestCancelWhileWaitingToRetry(t *testing.T) {
	t.Parallel()
	h, calls := failing(100, http.StatusServiceUnavailable, nil, serveSource)
	b := setup(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	b.client.sleep = func(context.Context, time.Duration) error {
		cancel() // shutdown arrives during the backoff
		return context.Canceled
	}
	_, err := b.client.GetSource(ctx, testSource)
	require.ErrorIs(t, err, context.Canceled)
	e, ok := AsAPIError(err)
	require.True(t, ok, "the last answer is kept")
	require.Equal(t, http.StatusServiceUnavailable, e.StatusCode)
	require.False(t, IsRetryable(err), "a cancelled call is the caller's decision")
	require.EqualValues(t, 1, calls.Load())
}
