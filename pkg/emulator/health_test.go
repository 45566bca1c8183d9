package emulator_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// jobInfo returns a job's last attempt and its stream stats from the
// Configuration API's jobs/get.
func (b *testBundle) lastAttempt(t *testing.T, id int64) map[string]any {
	t.Helper()
	info := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/get", map[string]any{"id": id})
	attempts := info["attempts"].([]any)
	require.NotEmpty(t, attempts)
	return attempts[len(attempts)-1].(map[string]any)["attempt"].(map[string]any)
}

// streamRecords maps each stream of an attempt to its records.
func streamRecords(t *testing.T, a map[string]any) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range a["streamStats"].([]any) {
		st := s.(map[string]any)
		out[st["streamName"].(string)] = st["stats"].(map[string]any)["recordsCommitted"].(float64)
	}
	return out
}

func TestJobsFailWithTypeAndOrigin(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	conn := b.createConnection(t, b.createSource(t), nil)

	b.c.ok(http.StatusOK, http.MethodPost, "/_emulator/faults",
		map[string]any{"fail_next_jobs": 1, "fail_type": "config_error", "fail_origin": "source"})
	id := b.startSync(t, conn)
	require.Equal(t, "failed", b.job(t, id)["status"])
	f := b.lastAttempt(t, id)["failureSummary"].(map[string]any)["failures"].([]any)[0].(map[string]any)
	require.Equal(t, "config_error", f["failureType"])
	require.Equal(t, "source", f["failureOrigin"])
	require.Equal(t, false, f["retryable"])
	require.Contains(t, f["externalMessage"], "credentials")

	b.c.ok(http.StatusOK, http.MethodPost, "/_emulator/faults", map[string]any{"fail_next_jobs": 1, "fail_origin": "destination"})
	id = b.startSync(t, conn)
	f = b.lastAttempt(t, id)["failureSummary"].(map[string]any)["failures"].([]any)[0].(map[string]any)
	require.Equal(t, "system_error", f["failureType"], "a missing type is system_error")
	require.Equal(t, "destination", f["failureOrigin"])

	r := b.c.do(http.MethodPost, "/_emulator/faults", map[string]any{"fail_next_jobs": 1, "fail_type": "bad_luck"})
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestStreamVolumeControl(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	conn := b.createConnection(t, b.createSource(t), nil)

	usual := streamRecords(t, b.lastAttempt(t, b.startSync(t, conn)))
	require.NotEmpty(t, usual)
	var stream string
	for s := range usual {
		stream = s
		break
	}
	for range 5 {
		got := streamRecords(t, b.lastAttempt(t, b.startSync(t, conn)))
		require.InEpsilon(t, usual[stream], got[stream], 0.25, "a stream's volume stays within 10 %% of its usual volume")
	}

	b.c.ok(http.StatusNoContent, http.MethodPost, "/_emulator/connections/"+conn+"/volume",
		map[string]any{"stream": stream, "kind": "zero", "jobs": 1})
	id := b.startSync(t, conn)
	require.Zero(t, streamRecords(t, b.lastAttempt(t, id))[stream])
	require.Greater(t, streamRecords(t, b.lastAttempt(t, b.startSync(t, conn)))[stream], 0.0, "the change lasted one job")

	b.c.ok(http.StatusNoContent, http.MethodPost, "/_emulator/connections/"+conn+"/volume",
		map[string]any{"stream": stream, "kind": "drop"})
	for range 2 {
		got := streamRecords(t, b.lastAttempt(t, b.startSync(t, conn)))
		require.Less(t, got[stream], usual[stream]*0.2)
	}
	b.c.ok(http.StatusNoContent, http.MethodPost, "/_emulator/connections/"+conn+"/volume",
		map[string]any{"stream": stream, "kind": "steady"})
	require.InEpsilon(t, usual[stream], streamRecords(t, b.lastAttempt(t, b.startSync(t, conn)))[stream], 0.25)

	require.Equal(t, http.StatusBadRequest, b.c.do(http.MethodPost, "/_emulator/connections/"+conn+"/volume",
		map[string]any{"stream": stream, "kind": "wobble"}).status)
	require.Equal(t, http.StatusNotFound, b.c.do(http.MethodPost, "/_emulator/connections/00000000-0000-0000-0000-000000000000/volume",
		map[string]any{"stream": stream, "kind": "drop"}).status)
}
