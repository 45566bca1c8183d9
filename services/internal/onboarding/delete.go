package onboarding

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// DeleteConsumer is the worker's durable consumer of delete requests.
const DeleteConsumer = "onboarding-delete"

// DeleteRoute returns the worker's route for
// io.aam.connection.delete.requested.v1. A failure is answered with
// request.rejected and its reason.
func (w *Worker) DeleteRoute() bus.Route[events.DeleteRequested] {
	return bus.WithRedelivery(bus.Route[events.DeleteRequested]{
		Consumer:    DeleteConsumer,
		Subject:     events.SubjectDeleteRequest,
		Type:        events.TypeDeleteRequested,
		Handle:      w.handleDelete,
		Concurrency: w.cfg.Concurrency,
		Timeout:     w.cfg.Timeout,
	}, w.cfg.Redelivery)
}

// handleDelete deletes the Airbyte connection and source recorded for a
// connection, then, in one transaction, marks the connection DELETED and
// emits connection.deleted, once per request. The Airbyte ids come from
// the registry only: a connection that never got one has nothing to
// delete there. A 404 from Airbyte means the object is already gone (an
// earlier delivery deleted it, or someone else did), so a delivery that
// died between the Airbyte calls and the commit is finished by the next.
func (w *Worker) handleDelete(ctx context.Context, ev bus.Event[events.DeleteRequested]) error {
	id := ev.Data.ConnectionID
	c, err := w.deps.Store.ConnectionGet(ctx, id)
	if err != nil {
		return app.ConnectionError(id, err)
	}
	switch c.Status {
	case registry.StatusPending:
		return bus.Permanentf("connection %s is PENDING (being onboarded): delete it when its onboarding has ended", id)
	case registry.StatusHealing:
		return bus.Permanentf("connection %s is HEALING (a repair is applying a catalog): delete it when the repair has ended", id)
	}
	if c.Status != registry.StatusDeleted {
		if err := w.point("delete_started"); err != nil {
			return err
		}
		if c.AirbyteConnectionID != "" {
			if err := gone(w.ab.DeleteConnection(ctx, c.AirbyteConnectionID)); err != nil {
				return app.AirbyteOutcome(fmt.Errorf("delete Airbyte connection %s: %w", c.AirbyteConnectionID, err))
			}
		}
		if err := w.point("airbyte_connection_deleted"); err != nil {
			return err
		}
		if c.AirbyteSourceID != "" {
			if err := gone(w.ab.DeleteSource(ctx, c.AirbyteSourceID)); err != nil {
				return app.AirbyteOutcome(fmt.Errorf("delete Airbyte source %s: %w", c.AirbyteSourceID, err))
			}
		}
		if err := w.point("airbyte_deleted"); err != nil {
			return err
		}
	}
	reason := ev.Data.Reason
	if reason == "" {
		reason = "deleted on request"
	}
	err = w.deps.Store.InTx(ctx, func(q *registry.Queries) error {
		if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone}); err != nil {
			return err
		}
		cur, err := q.ConnectionGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		previous := cur.Status
		if cur.Status != registry.StatusDeleted {
			if cur, err = q.ConnectionSetStatus(ctx, id, registry.StatusDeleted, reason); err != nil {
				return err
			}
		}
		return outbox.Emit(ctx, q, events.TypeConnectionDeleted, Source, id, outbox.RequestOf(ev), events.ConnectionDeleted{
			ConnectionID: id, Name: cur.Name, Status: string(registry.StatusDeleted), PreviousStatus: string(previous),
			AirbyteSourceID: cur.AirbyteSourceID, AirbyteConnectionID: cur.AirbyteConnectionID, Reason: cur.StatusReason,
		})
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record deletion of %s: %w", id, err)
	}
	if err := w.point("delete_recorded"); err != nil {
		return err
	}
	w.log.Info("connection deleted", zap.String("connection_id", id), zap.String("previous_status", string(c.Status)),
		zap.String("airbyte_source_id", c.AirbyteSourceID), zap.String("airbyte_connection_id", c.AirbyteConnectionID))
	return nil
}

// gone treats Airbyte's 404 on a delete as done.
func gone(err error) error {
	if err != nil && airbyte.IsNotFound(err) {
		return nil
	}
	return err
}

func (w *Worker) point(p string) error { return w.crash.At(p) }
