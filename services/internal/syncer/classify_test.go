package syncer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

func TestFailureClass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ    airbyte.FailureType
		origin airbyte.FailureOrigin
		want   string
	}{
		{airbyte.FailureConfigError, airbyte.FailureOriginSource, events.FailureCredentials},
		{airbyte.FailureConfigError, airbyte.FailureOriginDestination, events.FailureDestination},
		{airbyte.FailureSystemError, airbyte.FailureOriginSource, events.FailureSource},
		{airbyte.FailureRefreshSchema, airbyte.FailureOriginSource, events.FailureSource},
		{airbyte.FailureSystemError, airbyte.FailureOriginDestination, events.FailureDestination},
		{airbyte.FailureDestinationTimeout, airbyte.FailureOriginReplication, events.FailureDestination},
		{airbyte.FailureTransientError, airbyte.FailureOriginSource, events.FailureTransient},
		{airbyte.FailureHeartbeatTimeout, airbyte.FailureOriginReplication, events.FailureTransient},
		{airbyte.FailureSystemError, airbyte.FailureOriginReplication, events.FailurePlatform},
		{airbyte.FailureSystemError, airbyte.FailureOriginAirbytePlatform, events.FailurePlatform},
		{airbyte.FailureSystemError, airbyte.FailureOriginPersistence, events.FailurePlatform},
		{airbyte.FailureConfigError, airbyte.FailureOriginAirbytePlatform, events.FailurePlatform},
		{airbyte.FailureSystemError, airbyte.FailureOriginUnknown, events.FailureUnknown},
		{"", "", events.FailureUnknown},
		{"a_newer_type", "a_newer_origin", events.FailureUnknown},
	} {
		require.Equal(t, tc.want, failureClass(tc.typ, tc.origin), "%s from %s", tc.typ, tc.origin)
	}
	require.Equal(t, unknownFailure, jobFailure(&airbyte.JobInfoRead{}), "no failure reason")
}

func TestFailedSyncIsClassified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, typ, origin string
		want              registry.JobFailure
	}{
		{"revoked credentials", "config_error", "source", registry.JobFailure{Class: events.FailureCredentials, Type: "config_error", Origin: "source"}},
		{"source", "", "", registry.JobFailure{Class: events.FailureSource, Type: "system_error", Origin: "source"}},
		{"destination", "system_error", "destination", registry.JobFailure{Class: events.FailureDestination, Type: "system_error", Origin: "destination"}},
		{"transient", "transient_error", "replication", registry.JobFailure{Class: events.FailureTransient, Type: "transient_error", Origin: "replication"}},
		{"platform", "system_error", "airbyte_platform", registry.JobFailure{Class: events.FailurePlatform, Type: "system_error", Origin: "airbyte_platform"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, envOptions{})
			conn := h.SeedConnection()
			h.start(testConfig())
			h.Emulator.FailNextJobsWith(1, tc.typ, tc.origin)

			id := h.sync(conn.ID)
			failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
			require.Equal(t, tc.want, registry.JobFailure{Class: failed.FailureClass, Type: failed.FailureType, Origin: failed.FailureOrigin})
			require.NotEmpty(t, failed.ErrorMessage)
			require.Equal(t, tc.want, h.jobOf(h.source(), id).Failure(), "job_history keeps the class")
		})
	}
}
