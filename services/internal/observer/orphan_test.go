package observer

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// TestCheckOfAForgottenConnection checks a connection whose Airbyte has
// forgotten everything: the discover of its source answers 404, so the
// check marks the connection ORPHANED, once; later passes skip it without
// calling Airbyte.
func TestCheckOfAForgottenConnection(t *testing.T) {
	t.Parallel()
	env, calls := testenv.NewWorkerEnv(t, testenv.WorkerEnvOptions{})
	c := env.SeedConnection()
	o := newObserver(t, env, Config{})
	env.Emulator.Reset()

	r, err := o.Check(env.Ctx, c.ID)
	require.NoError(t, err)
	reason := "Airbyte does not know source " + c.AirbyteSourceID + ": POST /api/v1/sources/discover_schema answered 404"
	require.True(t, r.Orphaned)
	require.Equal(t, "connection is ORPHANED ("+reason+")", r.Skipped)
	require.Equal(t, 1, calls.Status(http.StatusNotFound), "one Airbyte call answered 404")
	conn := env.Connection(c.ID)
	require.Equal(t, registry.StatusOrphaned, conn.Status)
	require.Equal(t, reason, conn.StatusReason)

	var facts []event.Event
	require.Eventually(t, func() bool {
		facts = facts[:0]
		for _, f := range env.Facts("") {
			if f.Type() == events.TypeConnectionOrphaned && f.Subject() == c.ID {
				facts = append(facts, f)
			}
		}
		return len(facts) > 0
	}, 10*time.Second, 10*time.Millisecond)
	require.Len(t, facts, 1)
	require.Equal(t, Source, facts[0].Source())
	got := testenv.Data[events.ConnectionOrphaned](t, facts[0])
	require.Equal(t, events.OrphanedSource, got.Resource)
	require.Equal(t, "ACTIVE", got.PreviousStatus)

	total := calls.Total()
	results, err := o.CheckAll(env.Ctx, true)
	require.NoError(t, err)
	require.Empty(t, results, "only ACTIVE connections are checked")
	r, err = o.Check(env.Ctx, c.ID)
	require.NoError(t, err)
	require.False(t, r.Orphaned)
	require.Equal(t, "connection is ORPHANED", r.Skipped)
	require.Equal(t, total, calls.Total(), "no Airbyte call once ORPHANED")
}
