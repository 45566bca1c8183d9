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
	require.Equal(t, DefaultHealingStaleAfter, cfg.HealingStaleAfter)
	require.Equal(t, DefaultBusyRetry, cfg.BusyRetry)

	cfg, err = config.ParseFrom[Config](map[string]string{"REPAIR_CONCURRENCY": "4", "REPAIR_HEALING_STALE_AFTER": "5m"})
	require.NoError(t, err)
	require.Equal(t, 4, cfg.Concurrency)
	require.Equal(t, 5*time.Minute, cfg.HealingStaleAfter)

	_, err = config.ParseFrom[Config](map[string]string{"REPAIR_MAX_DELIVER": "-2", "REPAIR_ACK_WAIT": "1ms"})
	require.ErrorContains(t, err, "REPAIR_MAX_DELIVER: -2 is negative")
	require.ErrorContains(t, err, "REPAIR_ACK_WAIT: 1ms is below 100ms")
}
