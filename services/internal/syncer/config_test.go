package syncer

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
	require.Equal(t, []any{64, 8, 30 * time.Second, time.Minute, 2 * time.Second, time.Minute, 24 * time.Hour,
		100, 16, time.Minute, 5 * time.Second},
		[]any{cfg.Concurrency, cfg.MaxDeliver, cfg.AckWait, cfg.HandlerTimeout, cfg.PollInterval, cfg.MaxPollInterval,
			cfg.FollowTimeout, cfg.FollowBatch, cfg.FollowConcurrency, cfg.FollowLease, cfg.ClockSkew},
		"defaults")
	require.Equal(t, cfg, cfg.withDefaults(), "the parsed defaults are the defaults of a zero Config")

	cfg, err = config.ParseFrom[Config](map[string]string{
		"SYNC_CONCURRENCY": "3", "SYNC_MAX_DELIVER": "4", "SYNC_ACK_WAIT": "5s", "SYNC_HANDLER_TIMEOUT": "6m",
		"SYNC_POLL_INTERVAL": "7s", "SYNC_MAX_POLL_INTERVAL": "8m", "SYNC_FOLLOW_TIMEOUT": "9h",
		"SYNC_FOLLOW_BATCH": "10", "SYNC_FOLLOW_CONCURRENCY": "11", "SYNC_FOLLOW_LEASE": "12s", "SYNC_CLOCK_SKEW": "13s",
	})
	require.NoError(t, err)
	require.Equal(t, []any{3, 4, 5 * time.Second, 6 * time.Minute, 7 * time.Second, 8 * time.Minute, 9 * time.Hour,
		10, 11, 12 * time.Second, 13 * time.Second},
		[]any{cfg.Concurrency, cfg.MaxDeliver, cfg.AckWait, cfg.HandlerTimeout, cfg.PollInterval, cfg.MaxPollInterval,
			cfg.FollowTimeout, cfg.FollowBatch, cfg.FollowConcurrency, cfg.FollowLease, cfg.ClockSkew},
		"every variable is read")

	_, err = config.ParseFrom[Config](map[string]string{"SYNC_MAX_DELIVER": "1", "SYNC_ACK_WAIT": "10ms",
		"SYNC_CONCURRENCY": "-1", "SYNC_HANDLER_TIMEOUT": "-1s"})
	require.ErrorContains(t, err, "SYNC_MAX_DELIVER: 1 leaves no delivery to recover a crash")
	require.ErrorContains(t, err, "SYNC_ACK_WAIT: 10ms is below 100ms")
	require.ErrorContains(t, err, "SYNC_CONCURRENCY: -1 is negative")
	require.ErrorContains(t, err, "SYNC_HANDLER_TIMEOUT: -1s is negative")
}

func TestConfigFollowWindowAndWorkspace(t *testing.T) {
	t.Parallel()
	cfg, err := config.ParseFrom[Config](map[string]string{})
	require.NoError(t, err)
	require.Equal(t, 10*time.Minute, cfg.FollowWindow)
	require.Empty(t, cfg.WorkspaceID, "job lists ask for every workspace")

	cfg, err = config.ParseFrom[Config](map[string]string{"SYNC_FOLLOW_WINDOW": "3m",
		"AIRBYTE_WORKSPACE_ID": "744cc0ed-7f05-4949-9e60-2a814f90c035"})
	require.NoError(t, err)
	require.Equal(t, 3*time.Minute, cfg.FollowWindow)
	require.Equal(t, "744cc0ed-7f05-4949-9e60-2a814f90c035", cfg.WorkspaceID)

	_, err = config.ParseFrom[Config](map[string]string{"SYNC_FOLLOW_WINDOW": "-1s"})
	require.ErrorContains(t, err, "SYNC_FOLLOW_WINDOW")
}

func TestConfigStreamClockSkew(t *testing.T) {
	t.Parallel()
	cfg, err := config.ParseFrom[Config](map[string]string{})
	require.NoError(t, err)
	require.Equal(t, time.Second, cfg.StreamClockSkew)
	cfg, err = config.ParseFrom[Config](map[string]string{"SYNC_STREAM_CLOCK_SKEW": "250ms"})
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, cfg.StreamClockSkew)
	_, err = config.ParseFrom[Config](map[string]string{"SYNC_STREAM_CLOCK_SKEW": "-1s"})
	require.ErrorContains(t, err, "SYNC_STREAM_CLOCK_SKEW")
}
