package airbyte

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func serveSource(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"sourceId": r.PathValue("id"), "name": "acme-salesforce", "sourceType": "salesforce",
		"definitionId": "b117307c-14b6-41aa-9422-947e34922962", "workspaceId": testWorkspace,
		"configuration": map[string]any{"client_secret": "**********"}, "createdAt": 1758053604,
	})
}

func sourceAPI() http.HandlerFunc {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/public/v1/sources/{id}", serveSource)
	return mux.ServeHTTP
}

func TestTokenIsCachedAndSentAsBearer(t *testing.T) {
	t.Parallel()
	b := setup(t, sourceAPI())
	ctx := context.Background()

	for range 5 {
		s, err := b.client.GetSource(ctx, testSource)
		require.NoError(t, err)
		require.Equal(t, testSource, s.SourceID)
		require.Equal(t, EpochSeconds(1758053604), s.CreatedAt)
	}
	require.EqualValues(t, 1, b.fake.tokenRequests.Load())
	require.EqualValues(t, 5, b.fake.apiRequests.Load())
}

func TestTokenRefreshedAheadOfExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ttl       int64
		keepUntil time.Duration // still cached just before this
	}{
		{name: "15 minutes refreshes 60 s ahead", ttl: 900, keepUntil: 840 * time.Second},
		{name: "100 s refreshes 10% ahead", ttl: 100, keepUntil: 90 * time.Second},
		{name: "3 minutes refreshes 18 s ahead", ttl: 180, keepUntil: 162 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sourceAPI())
			b.fake.tokenTTL.Store(tt.ttl)
			ctx := context.Background()

			_, err := b.client.GetSource(ctx, testSource)
			require.NoError(t, err)
			b.clock.Advance(tt.keepUntil - time.Second)
			_, err = b.client.GetSource(ctx, testSource)
			require.NoError(t, err)
			require.EqualValues(t, 1, b.fake.tokenRequests.Load(), "token refreshed too early")

			b.clock.Advance(time.Second)
			_, err = b.client.GetSource(ctx, testSource)
			require.NoError(t, err)
			require.EqualValues(t, 2, b.fake.tokenRequests.Load(), "token not refreshed ahead of expiry")
		})
	}
}

func TestTokenRefreshIsSingleFlight(t *testing.T) {
	t.Parallel()
	b := setup(t, sourceAPI())
	b.fake.tokenGate = make(chan struct{})
	ctx := context.Background()

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := b.client.GetSource(ctx, testSource)
			errs <- err
		})
	}
	require.Eventually(t, func() bool { return b.fake.tokenRequests.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(b.fake.tokenGate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, b.fake.tokenRequests.Load())
	require.EqualValues(t, n, b.fake.apiRequests.Load())
}

func TestTokenWaiterCancelDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	b := setup(t, sourceAPI())
	b.fake.tokenGate = make(chan struct{})

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := b.client.GetSource(ctx, testSource)
		first <- err
	}()
	require.Eventually(t, func() bool { return b.fake.tokenRequests.Load() == 1 }, 5*time.Second, time.Millisecond)
	second := make(chan error, 1)
	go func() {
		_, err := b.client.GetSource(context.Background(), testSource)
		second <- err
	}()
	cancel()
	require.ErrorIs(t, <-first, context.Canceled)
	close(b.fake.tokenGate)
	require.NoError(t, <-second)
	require.EqualValues(t, 1, b.fake.tokenRequests.Load())
}

// setupRevoked is a client that has fetched a token and called the API
// with it, after which the server revoked every token it issued.
func setupRevoked(t *testing.T) *testBundle {
	t.Helper()
	b := setup(t, sourceAPI())
	_, err := b.client.GetSource(context.Background(), testSource)
	require.NoError(t, err)
	b.fake.revokeAll()
	return b
}

func TestToken401RefreshesOnceAndRetriesOnce(t *testing.T) {
	t.Parallel()

	t.Run("expired token is invisible to the caller", func(t *testing.T) {
		t.Parallel()
		b := setupRevoked(t) // the JWT expired before expires_in said
		ctx := context.Background()
		_, err := b.client.GetSource(ctx, testSource)
		require.NoError(t, err)
		require.EqualValues(t, 2, b.fake.tokenRequests.Load())
		require.EqualValues(t, 3, b.fake.apiRequests.Load())
		require.Empty(t, b.sleeps.Waits(), "a 401 refresh must not back off")
	})

	t.Run("concurrent 401s share one refresh", func(t *testing.T) {
		t.Parallel()
		b := setupRevoked(t)
		ctx := context.Background()

		CallsAtOnce(t, 10, func() error {
			_, err := b.client.GetSource(ctx, testSource)
			return err
		})
		require.EqualValues(t, 2, b.fake.tokenRequests.Load())
	})

	t.Run("a second 401 is returned, never looped on", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			problem(w, http.StatusUnauthorized, "invalid-api-key", "The API key in the Authorization header is invalid.")
		})
		_, err := b.client.GetSource(context.Background(), testSource)
		require.Error(t, err)
		require.True(t, IsAuth(err))
		require.False(t, IsRetryable(err))
		require.EqualValues(t, 2, b.fake.tokenRequests.Load())
		require.EqualValues(t, 2, b.fake.apiRequests.Load())
	})
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()

	t.Run("refused credentials are an auth error without the secret", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sourceAPI(), func(c *Config) { c.ClientSecret = NewSecret("wrong-secret-value") })
		_, err := b.client.GetSource(context.Background(), testSource)
		require.Error(t, err)
		require.True(t, IsAuth(err), "err = %v", err)
		require.False(t, IsValidation(err))
		require.Contains(t, err.Error(), "Invalid client id or token")
		require.NotContains(t, err.Error(), "wrong-secret-value")
		require.EqualValues(t, 1, b.fake.tokenRequests.Load(), "a 400 from the token endpoint is not retried")
		require.Zero(t, b.fake.apiRequests.Load())
	})

	t.Run("token type other than Bearer is rejected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sourceAPI())
		b.fake.tokenType.Store("MAC")
		_, err := b.client.GetSource(context.Background(), testSource)
		require.ErrorIs(t, err, ErrInvalidResponse)
		require.Contains(t, err.Error(), `token_type "MAC"`)
		require.Zero(t, b.fake.apiRequests.Load())
	})

	t.Run("no credentials sends no Authorization header", func(t *testing.T) {
		t.Parallel()
		var got []string
		var mu sync.Mutex
		b := setup(t, nil, func(c *Config) { c.ClientID, c.ClientSecret = "", Secret{} })
		b.fake.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, r.Header.Get("Authorization"))
			mu.Unlock()
			serveSourceNoPath(w)
		})
		_, err := b.client.GetSource(context.Background(), testSource)
		require.NoError(t, err)
		require.Equal(t, []string{""}, got)
	})
}

func serveSourceNoPath(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{"sourceId": testSource, "name": "x"})
}

func TestTokenNeverLogged(t *testing.T) {
	t.Parallel()
	b := setupRevoked(t)
	ctx := context.Background()
	_, err := b.client.GetSource(ctx, testSource)
	require.NoError(t, err)

	require.NotEmpty(t, b.logs.All())
	for _, e := range b.logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + strings.TrimSpace(fmtAny(v))
		}
		require.NotContains(t, line, testClientSecret)
		require.NotContains(t, line, "tok-1")
		require.NotContains(t, line, "tok-2")
	}
}
