package emulator_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestRateLimitFault(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	b.emu.SetFaults(emulator.Faults{RateLimitRate: 1})
	r := b.c.pub(http.MethodGet, "/workspaces", nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "You are being rate limited.", r.obj(t)["message"])
	require.Empty(t, r.header.Get("Retry-After"), "Airbyte's 429 has no Retry-After")

	b.c.ok(http.StatusOK, http.MethodPost, "/_emulator/faults", map[string]any{"rate_limit_rate": 1, "retry_after": 2})
	r = b.c.pub(http.MethodGet, "/workspaces", nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "2", r.header.Get("Retry-After"))

	b.c.ok(http.StatusNoContent, http.MethodDelete, "/_emulator/faults", nil)
	require.Equal(t, http.StatusOK, b.c.pub(http.MethodGet, "/workspaces", nil).status)
}

func TestErrorFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	for _, status := range []int{500, 502, 503, 504} {
		b.emu.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: status})
		r := b.c.pub(http.MethodGet, "/workspaces", nil)
		require.Equal(t, status, r.status)
		if status == 500 {
			require.Equal(t, "unexpected-problem", r.obj(t)["title"])
		} else {
			require.Contains(t, string(r.body), "nginx", "gateway errors come from the ingress")
		}
	}
	r := b.c.do(http.MethodPost, "/_emulator/faults", map[string]any{"error_rate": 1, "status": 418})
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestFaultPathFilterAndLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	b.c.ok(http.StatusOK, http.MethodPost, "/_emulator/faults", map[string]any{"path": "/api/public/v1/jobs", "error_rate": 1, "status": 503})
	require.Equal(t, http.StatusOK, b.c.pub(http.MethodGet, "/workspaces", nil).status, "other paths are untouched")
	require.Equal(t, http.StatusServiceUnavailable, b.c.pub(http.MethodGet, "/jobs", nil).status)

	b.emu.SetFaults(emulator.Faults{Latency: 50 * time.Millisecond})
	start := time.Now()
	require.Equal(t, http.StatusOK, b.c.pub(http.MethodGet, "/workspaces", nil).status)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}

func TestTimeoutFault(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	b.emu.SetFaults(emulator.Faults{TimeoutRate: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.URL+"/api/public/v1/workspaces", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.c.token)
	resp, err := b.srv.Client().Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestFaultsDeterministic: the same seed gives the same fault sequence.
func TestFaultsDeterministic(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) string {
		b := setup(t, emulator.Config{Seed: seed})
		b.emu.SetFaults(emulator.Faults{ErrorRate: 0.3, ErrorStatus: 502, RateLimitRate: 0.2})
		var sb strings.Builder
		for range 40 {
			switch b.c.pub(http.MethodGet, "/workspaces", nil).status {
			case 200:
				sb.WriteByte('.')
			case 429:
				sb.WriteByte('r')
			case 502:
				sb.WriteByte('e')
			}
		}
		return sb.String()
	}
	a, again, other := run(7), run(7), run(8)
	require.Equal(t, a, again)
	require.NotEqual(t, a, other)
	require.Contains(t, a, ".")
	require.Contains(t, a, "r")
	require.Contains(t, a, "e")
}

func TestFailNextJobsViaAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	conn := b.createConnection(t, b.createSource(t), nil)
	b.c.ok(http.StatusOK, http.MethodPost, "/_emulator/faults", map[string]any{"fail_next_jobs": 2})
	for range 2 {
		id := b.startSync(t, conn)
		require.Equal(t, "failed", b.job(t, id)["status"])
	}
	id := b.startSync(t, conn)
	require.Equal(t, "succeeded", b.job(t, id)["status"])
	require.Zero(t, b.emu.Faults().FailNextJobs)
}

func TestDiscoverFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	b.emu.SetFaults(emulator.Faults{FailNextDiscovers: 2})
	d := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema", map[string]any{"sourceId": src, "disable_cache": true})
	require.NotContains(t, d, "catalog")
	job := d["jobInfo"].(map[string]any)
	require.Equal(t, false, job["succeeded"])
	require.Contains(t, job["failureReason"].(map[string]any)["externalMessage"], "SalesForce")

	r := b.c.pub(http.MethodGet, "/streams?sourceId="+src+"&ignoreCache=true", nil)
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.True(t, strings.HasPrefix(r.obj(t)["data"].(map[string]any)["message"].(string), "Something went wrong in the connector. logs:"))
}
