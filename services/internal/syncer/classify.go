package syncer

import (
	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
)

// unknownFailure is the failure of a failed job Airbyte gave no reason for.
var unknownFailure = registry.JobFailure{Class: events.FailureUnknown}

// jobFailure classifies a failed job from the configuration API's job
// info: the first failure reason of its last attempt that has one.
func jobFailure(info *airbyte.JobInfoRead) registry.JobFailure {
	fs := info.FailureReasons()
	if len(fs) == 0 {
		return unknownFailure
	}
	f := fs[0]
	return registry.JobFailure{Class: failureClass(f.FailureType, f.FailureOrigin),
		Type: string(f.FailureType), Origin: string(f.FailureOrigin)}
}

// failureClass maps Airbyte's failureType and failureOrigin to a failure
// class. The type decides first: transient errors and lost heartbeats are
// transient, a destination timeout is the destination's, a configuration
// error from the source is its credentials (Airbyte reports revoked or
// expired credentials so) and one from the destination the destination's.
// Otherwise the origin decides: the source, the destination, or Airbyte
// itself (replication, persistence, the platform, normalization, dbt).
func failureClass(t airbyte.FailureType, o airbyte.FailureOrigin) string {
	if t == airbyte.FailureConfigError && o == airbyte.FailureOriginSource {
		return events.FailureCredentials
	}
	if c, ok := typeClasses[t]; ok {
		return c
	}
	if c, ok := originClasses[o]; ok {
		return c
	}
	return events.FailureUnknown
}

// typeClasses are the failure types that decide a class by themselves.
var typeClasses = map[airbyte.FailureType]string{
	airbyte.FailureTransientError: events.FailureTransient, airbyte.FailureHeartbeatTimeout: events.FailureTransient,
	airbyte.FailureDestinationTimeout: events.FailureDestination,
}

// originClasses are the classes of the other failures, by origin.
var originClasses = map[airbyte.FailureOrigin]string{
	airbyte.FailureOriginSource: events.FailureSource, airbyte.FailureOriginDestination: events.FailureDestination,
	airbyte.FailureOriginReplication: events.FailurePlatform, airbyte.FailureOriginPersistence: events.FailurePlatform,
	airbyte.FailureOriginAirbytePlatform: events.FailurePlatform, airbyte.FailureOriginNormalization: events.FailurePlatform,
	airbyte.FailureOriginDBT: events.FailurePlatform,
}
