package registry_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoWireFormatDependency keeps the registry apart from the wire
// format: it stores encoded outbox rows and knows neither CloudEvents, NATS
// nor AAM's event catalog (package outbox encodes).
func TestNoWireFormatDependency(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps", ".")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/aam-mesh/aam/pkg/registry")
	for _, dep := range deps {
		for _, banned := range []string{"github.com/cloudevents", "github.com/nats-io", "github.com/aam-mesh/aam/events"} {
			require.False(t, dep == banned || strings.HasPrefix(dep, banned+"/"),
				"package registry depends on %s", dep)
		}
	}
}
