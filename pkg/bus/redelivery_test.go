package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/config"
)

// workerConfig embeds Redelivery as a worker's configuration does.
type workerConfig struct {
	bus.Redelivery `envPrefix:"WORKER_"`
}

func (c workerConfig) Validate() error { return c.Redelivery.Validate("WORKER_") }

func TestRedeliveryFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := config.ParseFrom[workerConfig](map[string]string{})
	require.NoError(t, err)
	require.Equal(t, bus.DefaultMaxDeliver, cfg.MaxDeliver, "envDefault matches the route's default")
	require.Equal(t, bus.DefaultAckWait, cfg.AckWait, "envDefault matches the route's default")
	require.Nil(t, cfg.Backoff)

	cfg, err = config.ParseFrom[workerConfig](map[string]string{"WORKER_MAX_DELIVER": "3", "WORKER_ACK_WAIT": "2s"})
	require.NoError(t, err)
	require.Equal(t, 3, cfg.MaxDeliver)
	require.Equal(t, 2*time.Second, cfg.AckWait)

	_, err = config.ParseFrom[workerConfig](map[string]string{"WORKER_MAX_DELIVER": "many"})
	require.ErrorContains(t, err, "WORKER_MAX_DELIVER: not a valid whole number")

	_, err = config.ParseFrom[workerConfig](map[string]string{"WORKER_MAX_DELIVER": "-1", "WORKER_ACK_WAIT": "10ms"})
	require.ErrorContains(t, err, "WORKER_MAX_DELIVER: -1 is negative")
	require.ErrorContains(t, err, "WORKER_ACK_WAIT: 10ms is below 100ms")
}

func TestRedeliveryValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, bus.Redelivery{}.Validate("X_"), "zero takes the defaults")
	require.NoError(t, bus.Redelivery{MaxDeliver: 1, AckWait: bus.MinAckWait}.Validate("X_"))
	require.EqualError(t, bus.Redelivery{AckWait: -time.Second}.Validate("X_"), "X_ACK_WAIT: -1s is negative")
	require.EqualError(t, bus.Redelivery{AckWait: time.Millisecond}.Validate("X_"), "X_ACK_WAIT: 1ms is below 100ms")
	require.EqualError(t, bus.Redelivery{MaxDeliver: -2}.Validate("X_"), "X_MAX_DELIVER: -2 is negative")
}

func TestWithRedelivery(t *testing.T) {
	t.Parallel()
	backoff := func(uint64) time.Duration { return time.Millisecond }
	r := bus.WithRedelivery(bus.Route[struct{}]{Consumer: "c", Concurrency: 4, Timeout: time.Minute},
		bus.Redelivery{MaxDeliver: 3, AckWait: time.Second, Backoff: backoff})
	require.Equal(t, "c", r.Consumer)
	require.Equal(t, 4, r.Concurrency, "other fields kept")
	require.Equal(t, time.Minute, r.Timeout, "other fields kept")
	require.Equal(t, 3, r.MaxDeliver)
	require.Equal(t, time.Second, r.AckWait)
	require.Equal(t, time.Millisecond, r.Backoff(1))

	cc := bus.ConsumerConfig(bus.WithRedelivery(bus.Route[struct{}]{Consumer: "c", Subject: "s", Type: "t",
		Handle: func(context.Context, bus.Event[struct{}]) error { return nil }}, bus.Redelivery{}))
	require.Equal(t, bus.DefaultMaxDeliver, cc.MaxDeliver, "zero takes the route's default")
	require.Equal(t, bus.DefaultAckWait, cc.AckWait, "zero takes the route's default")
}
