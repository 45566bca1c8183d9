package onboarding

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/config"
)

func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := config.ParseFrom[Config](map[string]string{
		"AIRBYTE_WORKSPACE_ID":   "744cc0ed-7f05-4949-9e60-2a814f90c035",
		"AIRBYTE_DESTINATION_ID": "e478de0d-a3a0-475c-b019-25f7dd29e281",
	})
	require.NoError(t, err)
	require.Equal(t, DefaultConcurrency, cfg.Concurrency)
	require.Equal(t, DefaultMaxDeliver, cfg.MaxDeliver)
	require.Equal(t, DefaultAckWait, cfg.AckWait)
	require.Equal(t, DefaultTimeout, cfg.Timeout)
	require.Equal(t, DefaultDefinitionCacheTTL, cfg.DefinitionCacheTTL)
	require.Equal(t, DefaultCredentialsTimeout, cfg.CredentialsTimeout)

	cfg, err = config.ParseFrom[Config](map[string]string{
		"AIRBYTE_WORKSPACE_ID": "744cc0ed-7f05-4949-9e60-2a814f90c035", "AIRBYTE_DESTINATION_ID": "e478de0d-a3a0-475c-b019-25f7dd29e281",
		"ONBOARDING_CONCURRENCY": "200", "ONBOARDING_ACK_WAIT": "10s",
	})
	require.NoError(t, err)
	require.Equal(t, 200, cfg.Concurrency)
	require.Equal(t, 10*time.Second, cfg.AckWait)

	cfg, err = config.ParseFrom[Config](map[string]string{
		"AIRBYTE_WORKSPACE_ID": "744cc0ed-7f05-4949-9e60-2a814f90c035", "AIRBYTE_DESTINATION_ID": "e478de0d-a3a0-475c-b019-25f7dd29e281",
		"ONBOARDING_CONCURRENCY": "3", "ONBOARDING_MAX_DELIVER": "4", "ONBOARDING_ACK_WAIT": "5s", "ONBOARDING_TIMEOUT": "6m",
		"ONBOARDING_DEFINITION_CACHE_TTL": "7m", "ONBOARDING_CREDENTIALS_TIMEOUT": "8s",
	})
	require.NoError(t, err)
	require.Equal(t, []any{3, 4, 5 * time.Second, 6 * time.Minute, 7 * time.Minute, 8 * time.Second},
		[]any{cfg.Concurrency, cfg.MaxDeliver, cfg.AckWait, cfg.Timeout, cfg.DefinitionCacheTTL, cfg.CredentialsTimeout},
		"every variable is read")

	_, err = config.ParseFrom[Config](map[string]string{})
	require.ErrorContains(t, err, "AIRBYTE_WORKSPACE_ID")
	require.ErrorContains(t, err, "AIRBYTE_DESTINATION_ID")

	_, err = config.ParseFrom[Config](map[string]string{
		"AIRBYTE_WORKSPACE_ID": "workspace", "AIRBYTE_DESTINATION_ID": "e478de0d-a3a0-475c-b019-25f7dd29e281",
		"ONBOARDING_CONCURRENCY": "-1", "ONBOARDING_ACK_WAIT": "10ms",
	})
	require.ErrorContains(t, err, `AIRBYTE_WORKSPACE_ID: "workspace" is not a UUID`)
	require.ErrorContains(t, err, "ONBOARDING_CONCURRENCY: -1 is negative")
	require.ErrorContains(t, err, "ONBOARDING_ACK_WAIT: 10ms is below 100ms")
}

func TestObjectNameAndConnectionID(t *testing.T) {
	t.Parallel()
	id := ConnectionID("/gateway", "req-1")
	require.Equal(t, id, ConnectionID("/gateway", "req-1"), "deterministic")
	require.NotEqual(t, id, ConnectionID("/gateway", "req-2"))
	require.NotEqual(t, id, ConnectionID("/other", "req-1"))
	require.Equal(t, "Salesforce Production [aam:"+id[:8]+"]", ObjectName("Salesforce Production ", id))
}
