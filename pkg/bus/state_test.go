package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
)

// gauge reads a consumer gauge from reg; ok is false while it is absent.
func gauge(t *testing.T, reg *prometheus.Registry, name, consumer string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "consumer" && l.GetValue() == consumer {
					return m.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func TestConsumerStateSampledAtStartAndEveryInterval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := prometheus.NewRegistry()
	b.rt.Metrics = bus.NewMetrics(reg)
	b.rt.StateInterval = 20 * time.Millisecond

	release := make(chan struct{})
	b.serve(bus.Route[events.SyncRequested]{
		Consumer: "state", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			select {
			case <-release:
				return b.effect(ctx, ev)
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	// Present from the start, before any traffic.
	require.Eventually(t, func() bool {
		_, pending := gauge(t, reg, "aam_consumer_pending_messages", "state")
		_, ackPending := gauge(t, reg, "aam_consumer_ack_pending_messages", "state")
		return pending && ackPending
	}, 5*time.Second, 5*time.Millisecond)

	for _, id := range []string{"s1", "s2", "s3"} {
		b.publish(id, "conn-1")
	}
	require.Eventually(t, func() bool {
		v, _ := gauge(t, reg, "aam_consumer_ack_pending_messages", "state")
		return v == 3
	}, 5*time.Second, 5*time.Millisecond, "three requests in the handler")
	close(release)
	require.Eventually(t, func() bool {
		v, _ := gauge(t, reg, "aam_consumer_ack_pending_messages", "state")
		p, _ := gauge(t, reg, "aam_consumer_pending_messages", "state")
		return v == 0 && p == 0
	}, 5*time.Second, 5*time.Millisecond, "all acknowledged")
}
