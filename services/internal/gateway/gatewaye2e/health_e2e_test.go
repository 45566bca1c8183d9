package gatewaye2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// TestQuarantineAndReleaseOverHTTP quarantines a connection at a revoked
// credential with the real sync worker behind the gateway, finds it by
// health, sees its sync refused with the reason, releases it over HTTP
// and syncs it again.
func TestQuarantineAndReleaseOverHTTP(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	startSyncer(t, env)
	ts := startGateway(t, env)
	conn := env.SeedConnection()
	airbyteStatus := func() string {
		for _, c := range env.Emulator.Connections() {
			if c.ID == conn.AirbyteConnectionID {
				return c.Status
			}
		}
		return ""
	}
	call := func(method, path, body string, out any) int {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, out), "%s", b)
		return resp.StatusCode
	}
	quarantined := func() []string {
		t.Helper()
		var list gateway.ConnectionList
		require.Equal(t, http.StatusOK, call(http.MethodGet, "/v1/connections?health=quarantined", "", &list))
		ids := []string{}
		for _, c := range list.Connections {
			ids = append(ids, c.ID)
		}
		return ids
	}
	syncPath := "/v1/connections/" + conn.ID + "/sync?wait=10s"

	env.Emulator.FailNextJobsWith(1, "config_error", "source") // revoked credentials
	var failed gateway.Error
	var started gateway.SeedSync
	require.Equal(t, http.StatusOK, call(http.MethodPost, syncPath, "", &started))
	require.Eventually(t, func() bool { return airbyteStatus() == "inactive" }, 15*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{conn.ID}, quarantined())
	require.Equal(t, http.StatusUnprocessableEntity, call(http.MethodPost, syncPath, "", &failed))
	require.Contains(t, failed.Error, "is QUARANTINED, not ACTIVE (quarantined at a credentials failure")

	var released events.ConnectionReleased
	require.Equal(t, http.StatusOK, call(http.MethodPost, "/v1/connections/"+conn.ID+"/release?wait=10s",
		`{"reason":"credentials renewed"}`, &released))
	require.Equal(t, events.ConnectionReleased{ConnectionID: conn.ID, Status: "ACTIVE", PreviousStatus: "QUARANTINED",
		ConsecutiveFailures: 1, Reason: "credentials renewed"}, released)
	require.Equal(t, "active", airbyteStatus())
	require.Empty(t, quarantined())
	require.Equal(t, http.StatusOK, call(http.MethodPost, syncPath, "", &started))
	require.NotEmpty(t, started.JobID)
}
