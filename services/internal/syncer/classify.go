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
	switch t {
	case airbyte.FailureTransientError, airbyte.FailureHeartbeatTimeout:
		return events.FailureTransient
	case airbyte.FailureDestinationTimeout:
		return events.FailureDestination
	case airbyte.FailureConfigError:
		if o == airbyte.FailureOriginSource {
			return events.FailureCredentials
		}
	}
	switch o {
	case airbyte.FailureOriginSource:
		return events.FailureSource
	case airbyte.FailureOriginDestination:
		return events.FailureDestination
	case airbyte.FailureOriginReplication, airbyte.FailureOriginPersistence, airbyte.FailureOriginAirbytePlatform,
		airbyte.FailureOriginNormalization, airbyte.FailureOriginDBT:
		return events.FailurePlatform
	}
	return events.FailureUnknown
}
