package syncer

import (
	"cmp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

func TestFailureClass(t *testing.T) {
	t.Parallel()
	// "failureType failureOrigin" → class.
	want := map[string]string{
		"config_error source": events.FailureCredentials, "config_error destination": events.FailureDestination,
		"system_error source": events.FailureSource, "refresh_schema source": events.FailureSource,
		"system_error destination": events.FailureDestination, "destination_timeout replication": events.FailureDestination,
		"transient_error source": events.FailureTransient, "heartbeat_timeout replication": events.FailureTransient,
		"system_error replication": events.FailurePlatform, "system_error airbyte_platform": events.FailurePlatform,
		"system_error persistence": events.FailurePlatform, "config_error airbyte_platform": events.FailurePlatform,
		"system_error unknown": events.FailureUnknown, " ": events.FailureUnknown, "a_newer_type a_newer_origin": events.FailureUnknown,
	}
	for in, class := range want {
		typ, origin, _ := strings.Cut(in, " ")
		require.Equal(t, class, failureClass(airbyte.FailureType(typ), airbyte.FailureOrigin(origin)), in)
	}
	require.Equal(t, unknownFailure, jobFailure(&airbyte.JobInfoRead{}), "no failure reason")
}

func TestFailedSyncIsClassified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, typ, origin, class string }{
		{"revoked credentials", "config_error", "source", events.FailureCredentials},
		{"source", "", "", events.FailureSource},
		{"destination", "system_error", "destination", events.FailureDestination},
		{"transient", "transient_error", "replication", events.FailureTransient},
		{"platform", "system_error", "airbyte_platform", events.FailurePlatform},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, envOptions{})
			conn := h.SeedConnection()
			h.start(testConfig())
			h.Emulator.FailNextJobsWith(1, tc.typ, tc.origin)
			want := registry.JobFailure{Class: tc.class, Type: cmp.Or(tc.typ, "system_error"), Origin: cmp.Or(tc.origin, "source")}

			id := h.sync(conn.ID)
			failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
			require.Equal(t, want, registry.JobFailure{Class: failed.FailureClass, Type: failed.FailureType, Origin: failed.FailureOrigin})
			require.NotEmpty(t, failed.ErrorMessage)
			require.Equal(t, want, h.jobOf(h.source(), id).Failure(), "job_history keeps the class")
		})
	}
}
