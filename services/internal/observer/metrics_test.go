package observer

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestObserverMetrics(t *testing.T) {
	t.Parallel()
	env, c, o := observed(t, Config{Heal: HealPolicy, CheckSubject: ""})
	check(t, env, o, c.ID)
	mutate(t, env, c, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "integer"})
	check(t, env, o, c.ID)
	check(t, env, o, c.ID)

	require.Equal(t, 1.0, testutil.ToFloat64(o.m.checks.WithLabelValues("no_drift")))
	require.Equal(t, 1.0, testutil.ToFloat64(o.m.checks.WithLabelValues("drift")))
	require.Equal(t, 1.0, testutil.ToFloat64(o.m.checks.WithLabelValues("skipped")), "paused")
	require.Equal(t, 1.0, testutil.ToFloat64(o.m.drifts.WithLabelValues("breaking", "type_narrowed")))
	require.Equal(t, 1.0, testutil.ToFloat64(o.m.decisions.WithLabelValues("pause")))
	require.Equal(t, 2, testutil.CollectAndCount(o.m.latency), "two checks discovered the source")
}
