package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	reg "github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

func TestConnectionsRmCommand(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	c := mesh.AddConnection("", "to remove")
	nurl := "--nats-url=" + mesh.URL()

	requireLongReasonRejected(t, "connections", "rm", c.ID, nurl)

	code, out, stderr := run(t, "connections", "rm", c.ID, nurl, "--reason", "duplicate", "--wait")
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, "deleted (was ACTIVE)")
	got, err := mesh.Store.ConnectionGet(t.Context(), c.ID)
	require.NoError(t, err)
	require.Equal(t, reg.StatusDeleted, got.Status)
	require.Equal(t, "duplicate", got.StatusReason)
}

// requireLongReasonRejected runs a request command with a reason over 1000
// characters: it is rejected before it is published, naming the field.
func requireLongReasonRejected(t *testing.T, args ...string) {
	t.Helper()
	code, _, stderr := run(t, append(args, "--reason", strings.Repeat("x", 1001), "--wait")...)
	require.Equal(t, ExitRejected, code, stderr)
	require.Contains(t, stderr, "reason")
}
