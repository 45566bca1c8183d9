package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	reg "github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

func TestConnectionsRmCommand(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	c := mesh.AddConnection("", "to remove")
	got := requireConnectionCommand(t, mesh, []string{"connections", "rm", c.ID}, "duplicate", "deleted (was ACTIVE)")
	require.Equal(t, reg.StatusDeleted, got.Status)
	require.Equal(t, "duplicate", got.StatusReason)
}

// requireConnectionCommand runs a request command on a connection over the
// mesh's NATS: with a reason over 1000 characters it is rejected, then with
// reason and --wait it succeeds and prints want. It returns the connection
// as the registry keeps it afterwards.
func requireConnectionCommand(t *testing.T, mesh *gatewaytest.Mesh, command []string, reason, want string) reg.Connection {
	t.Helper()
	nurl := "--nats-url=" + mesh.URL()
	requireLongReasonRejected(t, append(slices.Clone(command), nurl)...)
	code, out, stderr := run(t, append(slices.Clone(command), nurl, "--reason", reason, "--wait")...)
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, want)
	got, err := mesh.Store.ConnectionGet(t.Context(), command[len(command)-1])
	require.NoError(t, err)
	return got
}

// startReadMesh starts a mesh without workers and a gateway on it, and
// returns the mesh with the two places a read command reads from: the
// gateway (--gateway) and the registry (--database-url).
func startReadMesh(t *testing.T) (*gatewaytest.Mesh, [][]string) {
	t.Helper()
	mesh := gatewaytest.Start(t, gatewaytest.Options{NoWorkers: true})
	_, ts := mesh.Gateway(gateway.Config{})
	return mesh, [][]string{{"--gateway", ts.URL}, {"--database-url", mesh.Schema.URL}}
}

// requireLongReasonRejected runs a request command with a reason over 1000
// characters: it is rejected before it is published, naming the field.
func requireLongReasonRejected(t *testing.T, args ...string) {
	t.Helper()
	code, _, stderr := run(t, append(args, "--reason", strings.Repeat("x", 1001), "--wait")...)
	require.Equal(t, ExitRejected, code, stderr)
	require.Contains(t, stderr, "reason")
}
