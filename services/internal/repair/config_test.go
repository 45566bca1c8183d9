package repair

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/config"
)

func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := config.ParseFrom[Config](map[string]string{})
	require.NoError(t, err)
	require.Equal(t, DefaultConcurrency, cfg.Concurrency)
	require.Equal(t, DefaultMaxDeliver, cfg.MaxDeliver)
	require.Equal(t, DefaultAckWait, cfg.AckWait)
	require.Equal(t, DefaultTimeout, cfg.Timeout)
	require.Equal(t, DefaultHealingStaleAfter, cfg.HealingStaleAfter)
	require.Equal(t, DefaultBusyRetry, cfg.BusyRetry)

	cfg, err = config.ParseFrom[Config](map[string]string{"REPAIR_CONCURRENCY": "4", "REPAIR_HEALING_STALE_AFTER": "5m"})
	require.NoError(t, err)
	require.Equal(t, 4, cfg.Concurrency)
	require.Equal(t, 5*time.Minute, cfg.HealingStaleAfter)

	cfg, err = config.ParseFrom[Config](map[string]string{
		"REPAIR_CONCURRENCY": "3", "REPAIR_MAX_DELIVER": "4", "REPAIR_ACK_WAIT": "5s", "REPAIR_TIMEOUT": "6m",
		"REPAIR_HEALING_STALE_AFTER": "7m", "REPAIR_BUSY_RETRY": "8s",
	})
	require.NoError(t, err)
	require.Equal(t, []any{3, 4, 5 * time.Second, 6 * time.Minute, 7 * time.Minute, 8 * time.Second},
		[]any{cfg.Concurrency, cfg.MaxDeliver, cfg.AckWait, cfg.Timeout, cfg.HealingStaleAfter, cfg.BusyRetry},
		"every variable is read")

	_, err = config.ParseFrom[Config](map[string]string{"REPAIR_MAX_DELIVER": "-2", "REPAIR_ACK_WAIT": "1ms"})
	require.ErrorContains(t, err, "REPAIR_MAX_DELIVER: -2 is negative")
	require.ErrorContains(t, err, "REPAIR_ACK_WAIT: 1ms is below 100ms")
}
