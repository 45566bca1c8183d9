package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// Connection health: every job's end is counted in connection_health in
// the transaction that records it (under the connection's row lock), so a
// job's end counts once however often it is seen. A run of failures is an
// episode; its warning and its quarantine are conditional updates of the
// episode's row, and their facts' ids derive from the connection and the
// episode: one of each per episode, under redelivery and restarts.

// maxFailuresListed bounds the failures a health fact lists.
const maxFailuresListed = 10

// healthPolicy returns the health part of the connection's policy in
// force, with its defaults.
func healthPolicy(ctx context.Context, q *registry.Queries, connID string) (drift.Health, error) {
	p, err := q.PolicyLatest(ctx, connID)
	if registry.IsNotFound(err) {
		return healthOf(nil)
	}
	if err != nil {
		return drift.Health{}, fmt.Errorf("read the connection's policy: %w", err)
	}
	return healthOf(&p)
}

// healthOf returns the health part of policy p (nil: none was set), with
// its defaults.
func healthOf(p *registry.DriftPolicy) (drift.Health, error) {
	if p == nil {
		return (*drift.Health)(nil).WithDefaults(), nil
	}
	var doc struct {
		Health *drift.Health `json:"health"`
	}
	if err := json.Unmarshal(p.Policy, &doc); err != nil {
		return drift.Health{}, fmt.Errorf("policy v%d: %w", p.Version, err)
	}
	return doc.Health.WithDefaults(), nil
}

// recordHealth counts a job's end in the connection's health and queues
// the warning or quarantine it calls for, inside the transaction that
// records the end. A success ends the run of failures, and its volume
// (streams, nil when unknown) is kept and judged (recordSuccess); a
// cancelled job does not count. The facts' correlation id is corr, a
// request the job answers.
func recordHealth(ctx context.Context, q *registry.Queries, job registry.Job, streams []registry.StreamStat, corr string) error {
	switch job.Status {
	case registry.JobSucceeded:
		return recordSuccess(ctx, q, job, streams, corr)
	case registry.JobFailed:
	default:
		return nil
	}
	id := job.ConnectionID
	h, err := q.HealthFailed(ctx, id)
	if err != nil {
		return err
	}
	pol, err := healthPolicy(ctx, q, id)
	if err != nil {
		return err
	}
	n := h.ConsecutiveFailures
	warn := n >= pol.WarnAfter && h.WarnedEpisode < h.Episode
	quarantine := h.QuarantinedEpisode < h.Episode &&
		(n >= pol.QuarantineAfter || job.FailureClass == events.FailureCredentials && *pol.QuarantineOnCredentials)
	if !warn && !quarantine {
		return nil
	}
	failed, err := q.JobListFailed(ctx, id, min(n, maxFailuresListed))
	if err != nil {
		return err
	}
	last := make([]events.FailedJob, len(failed))
	for i, j := range failed {
		last[i] = events.FailedJob{JobID: j.AirbyteJobID, FailureClass: j.FailureClass, ErrorMessage: j.ErrorMessage,
			CompletedAt: utc(j.CompletedAt)}
	}
	if warn {
		if ok, err := q.HealthWarn(ctx, id, h.Episode); err != nil || !ok {
			return err
		}
		if err := outbox.EmitKeyed(ctx, q, events.TypeHealthWarning, Source, healthKey(id, h.Episode), id, corr,
			events.HealthWarning{ConnectionID: id, ConsecutiveFailures: n, WarnAfter: pol.WarnAfter,
				QuarantineAfter: pol.QuarantineAfter, LastFailures: last}); err != nil {
			return err
		}
	}
	if !quarantine {
		return nil
	}
	reason := fmt.Sprintf("quarantined after %d consecutive failed syncs; last failure (%s): %s", n, job.FailureClass, job.ErrorMessage)
	if n < pol.QuarantineAfter {
		reason = fmt.Sprintf("quarantined at a %s failure: %s", job.FailureClass, job.ErrorMessage)
	}
	reason = schemas.Truncate(reason, schemas.MaxReasonLength)
	ok, err := q.HealthQuarantine(ctx, id, h.Episode, reason)
	if err != nil || !ok {
		return err
	}
	return outbox.EmitKeyed(ctx, q, events.TypeQuarantined, Source, healthKey(id, h.Episode), id, corr,
		events.ConnectionQuarantined{ConnectionID: id, Status: string(registry.StatusQuarantined),
			ConsecutiveFailures: n, Reason: reason, LastFailures: last})
}

// healthKey identifies a connection's episode (run of failures): its
// health facts' ids derive from it, so an episode never gets two facts of
// a type.
func healthKey(connID string, episode int) string {
	return connID + "/health/" + strconv.Itoa(episode)
}

// finishQuarantines makes the Airbyte connections of newly quarantined
// connections inactive (after the commit that quarantined them, and again
// after a crash: the registry keeps the pause pending until it is done).
// Each call is made under the connection's health lock, once the registry
// still says QUARANTINED with the pause pending: a release decided before
// the lock was taken is not undone, and one asked for meanwhile waits for
// the call to land (registry.Queries.HealthLock).
func (w *Worker) finishQuarantines(ctx context.Context) {
	cs, err := w.store.HealthPausePending(ctx, 20)
	if err != nil {
		w.log.Warn("quarantines not read", zap.Error(err))
		return
	}
	for _, c := range cs {
		paused := false
		err := w.store.InTx(ctx, func(q *registry.Queries) error {
			cur, h, err := q.HealthLock(ctx, c.ID)
			if err != nil || cur.Status != registry.StatusQuarantined || !h.AirbytePausePending {
				return err // released, or made inactive by another process, meanwhile
			}
			if ab := cur.AirbyteConnectionID; ab != "" {
				_, err := w.ab.PatchConnection(ctx, ab, airbyte.ConnectionPatchRequest{Status: airbyte.ConnectionInactive})
				if err != nil && !airbyte.IsNotFound(err) {
					return fmt.Errorf("make Airbyte connection %s inactive: %w", ab, err)
				}
			}
			paused = true
			return q.HealthPaused(ctx, c.ID)
		})
		switch {
		case err != nil:
			w.log.Warn("quarantined connection not made inactive in Airbyte", zap.String("connection_id", c.ID), zap.Error(err))
		case paused:
			w.log.Info("connection quarantined", zap.String("connection_id", c.ID), zap.String("reason", c.StatusReason))
		}
	}
}

// ReleaseConsumer is the worker's durable consumer of release requests.
const ReleaseConsumer = "sync-release"

// ReleaseRoute is the worker's route for
// io.aam.connection.release.requested.v1; a failure is answered with
// request.rejected and its reason.
func (w *Worker) ReleaseRoute() bus.Route[events.ReleaseRequested] {
	return bus.WithRedelivery(bus.Route[events.ReleaseRequested]{
		Consumer: ReleaseConsumer, Subject: events.SubjectReleaseRequest, Type: events.TypeReleaseRequested,
		Handle: w.release, Concurrency: w.cfg.Concurrency, Timeout: w.cfg.HandlerTimeout,
	}, w.cfg.Redelivery)
}

// release makes a QUARANTINED connection's Airbyte connection active and,
// in the same transaction, makes it ACTIVE with its failure count reset and
// emits connection.released, once per request. It runs under the
// connection's health lock, so a quarantine's pending make-inactive call
// either lands before the reactivation or, taken after the release, finds
// the connection ACTIVE and is not made. A delivery that dies midway leaves
// the connection QUARANTINED for the next (making it active in Airbyte
// again is harmless).
func (w *Worker) release(ctx context.Context, ev bus.Event[events.ReleaseRequested]) error {
	id := ev.Data.ConnectionID
	err := w.store.InTx(ctx, func(q *registry.Queries) error {
		c, _, err := q.HealthLock(ctx, id)
		if registry.IsNotFound(err) {
			return bus.Permanentf("connection %s is not registered", id)
		}
		if err != nil {
			return fmt.Errorf("read connection %s: %w", id, err)
		}
		if c.Status != registry.StatusQuarantined {
			return bus.Permanentf("connection %s is %s, not QUARANTINED", id, c.Status)
		}
		if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone}); err != nil {
			return err
		}
		if c.AirbyteConnectionID != "" {
			if _, err := w.ab.PatchConnection(ctx, c.AirbyteConnectionID, airbyte.ConnectionPatchRequest{Status: airbyte.ConnectionActive}); err != nil {
				return app.AirbyteOutcome(fmt.Errorf("make Airbyte connection %s active: %w", c.AirbyteConnectionID, err))
			}
		}
		if _, err := q.ConnectionGetForUpdate(ctx, id); err != nil {
			return err
		}
		before, released, err := q.HealthRelease(ctx, id)
		if err != nil {
			return err
		}
		if !released { // deleted meanwhile
			return bus.Permanentf("connection %s is no longer QUARANTINED", id)
		}
		return outbox.Emit(ctx, q, events.TypeReleased, Source, id, outbox.RequestOf(ev), events.ConnectionReleased{
			ConnectionID: id, Status: string(registry.StatusActive), PreviousStatus: string(c.Status),
			ConsecutiveFailures: before.ConsecutiveFailures, Reason: ev.Data.Reason,
		})
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	return err
}
