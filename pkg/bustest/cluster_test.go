package bustest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
)

func TestClusterSurvivesStreamLeaderLoss(t *testing.T) {
	t.Parallel()
	c := bustest.NewCluster(t, 3)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, bus.Provision(ctx, js, bus.StreamsConfig{Replicas: 3}))
	info, err := js.Stream(ctx, bus.StreamRequests)
	require.NoError(t, err)
	require.Equal(t, 3, info.CachedInfo().Config.Replicas)

	publish := func(i int) {
		for {
			// A publish in flight to the stopped leader gets no answer:
			// bound each attempt and retry with the same message id.
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.Publish(actx, "aam.requests.connection.sync", []byte("x"), jetstream.WithMsgID(fmt.Sprint(i)))
			cancel()
			if err == nil {
				return
			}
			require.NoError(t, ctx.Err(), "publish %d: %v", i, err)
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := range 50 {
		publish(i)
	}
	c.Stop(c.StreamLeader(bus.StreamRequests))
	for i := 50; i < 100; i++ {
		publish(i)
	}
	s, err := js.Stream(ctx, bus.StreamRequests)
	require.NoError(t, err)
	si, err := s.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 100, si.State.Msgs)
}
