package cli

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	reg "github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

func TestConnectionsLsByHealth(t *testing.T) {
	t.Parallel()
	mesh, sources := startReadMesh(t)
	quarantined := mesh.AddConnection("", "quarantined")
	mesh.SetHealth(quarantined.ID, 5, true, "credentials refused")
	warned := mesh.AddConnection("", "warned")
	mesh.SetHealth(warned.ID, 3, true, "")
	healthy := mesh.AddConnection("", "healthy")
	for _, src := range sources {
		code, out, stderr := run(t, append([]string{"connections", "ls", "--health", "warning"}, src...)...)
		require.Equal(t, ExitOK, code, stderr)
		require.Contains(t, out, warned.ID)
		require.NotContains(t, out, quarantined.ID)
		require.NotContains(t, out, healthy.ID)

		code, out, stderr = run(t, append([]string{"connections", "ls", "--health", "quarantined", "-o", "json"}, src...)...)
		require.Equal(t, ExitOK, code, stderr)
		var cs []gateway.Connection
		require.NoError(t, json.Unmarshal([]byte(out), &cs))
		require.Len(t, cs, 1)
		require.Equal(t, quarantined.ID, cs[0].ID)
		require.Equal(t, "QUARANTINED", cs[0].Status)

		code, _, stderr = run(t, append([]string{"connections", "ls", "--health", "sick"}, src...)...)
		require.Equal(t, ExitError, code, stderr)
		require.Contains(t, stderr, `health "sick" is not quarantined or warning`)
	}
}

func TestConnectionsReleaseCommand(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	c := mesh.AddConnection("", "quarantined")
	mesh.SetHealth(c.ID, 5, true, "quarantined after 5 consecutive failed syncs")
	got := requireConnectionCommand(t, mesh, []string{"connections", "release", c.ID}, "credentials renewed",
		"released (was QUARANTINED after 5 failed syncs in a row), ACTIVE again")
	require.Equal(t, reg.StatusActive, got.Status)

	// Released already: refused with the reason.
	code, _, stderr := run(t, "connections", "release", c.ID, "--nats-url="+mesh.URL(), "--wait")
	require.Equal(t, ExitRejected, code, stderr)
	require.Contains(t, stderr, "is ACTIVE, not QUARANTINED")
}
