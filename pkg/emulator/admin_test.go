package emulator_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestAdminStateClockAndReset(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobRunning: 30})
	src := b.createSource(t)
	conn := b.createConnection(t, src, nil)
	b.startSync(t, conn)

	st := b.c.ok(http.StatusOK, http.MethodGet, "/_emulator/state", nil)
	require.Equal(t, wsID, st["workspaceId"])
	require.Len(t, st["sources"], 1)
	require.Len(t, st["connections"], 1)
	require.EqualValues(t, 1, st["jobs"].(map[string]any)["total"])

	adv := b.c.ok(http.StatusOK, http.MethodPost, "/_emulator/clock/advance", map[string]any{"seconds": 60})
	require.Equal(t, "2025-09-16T20:14:24Z", adv["now"])

	b.c.ok(http.StatusNoContent, http.MethodPost, "/_emulator/reset", nil)
	require.Empty(t, b.emu.Sources())
	require.Empty(t, b.emu.Jobs())
	b.c.noRefresh = true
	require.Equal(t, http.StatusUnauthorized, b.c.pub(http.MethodGet, "/workspaces", nil).status, "reset forgets tokens")
	b.c.token = b.c.getToken()
	require.Equal(t, http.StatusOK, b.c.pub(http.MethodGet, "/workspaces/"+wsID, nil).status, "the workspace stays")

	wall := setup(t, emulator.Config{Clock: emulator.SystemClock{}})
	require.Equal(t, http.StatusConflict, wall.c.do(http.MethodPost, "/_emulator/clock/advance", map[string]any{"seconds": 1}).status)
}
