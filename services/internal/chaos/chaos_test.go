package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestChaosShort runs the short configuration on real processes: it builds
// aam, runs the chaos run with Short (CHAOS_SEED picks another seed) and
// fails on any broken invariant, printing the checker's table.
func TestChaosShort(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "aam")
	build := exec.Command("go", "build", "-o", bin, "github.com/aam-mesh/aam/services/aam")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build aam: %s", out)

	cfg := Short()
	cfg.Binary, cfg.Seed = bin, 1
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		cfg.Seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CHAOS_SEED")
	}
	var log strings.Builder
	cfg.Out = &log
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	t.Log(log.String())
	require.NoError(t, err)
	var table strings.Builder
	rep.Print(&table)
	t.Log(table.String())
	require.Empty(t, rep.Broken, "broken invariants (seed %d)", rep.Seed)
	// The run did what it says: every kind of fault, bad input answered.
	require.Positive(t, rep.Faults["role kill -9"])
	require.Equal(t, cfg.NATSRestarts, rep.Faults["nats kill -9"])
	require.Equal(t, cfg.PostgresRestarts, rep.Faults["postgres restart"])
	require.Positive(t, rep.Bad)
	require.Equal(t, rep.Sent-rep.Refused, rep.One)
}
