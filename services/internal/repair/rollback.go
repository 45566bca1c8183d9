package repair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// RollbackConsumer is the worker's durable consumer of rollback requests.
const RollbackConsumer = "repair-rollback"

// RollbackRoute returns the worker's route on the rollback request subject.
func (w *Worker) RollbackRoute() bus.Route[events.RollbackRequested] {
	return app.RequestRoute(RollbackConsumer, events.TypeRollbackRequested, w.rollback, w.failRollback, w.cfg.Delivery, w.cfg.Timeout)
}

// rollback makes version to_version's streams and configuration the
// connection's catalog again, as a repair of its own: the next version,
// reason "rollback to N". A dry run answers rollback_planned instead and
// changes nothing.
func (w *Worker) rollback(ctx context.Context, ev bus.Event[events.RollbackRequested]) error {
	d := ev.Data
	conn, err := w.deps.Store.ConnectionGet(ctx, d.ConnectionID)
	if registry.IsNotFound(err) {
		return bus.Permanent(reject("", "connection_id", "connection %s is not registered", d.ConnectionID))
	}
	if err != nil {
		return err
	}
	v, err := w.deps.Store.CatalogVersionGet(ctx, conn.ID, d.ToVersion)
	if registry.IsNotFound(err) {
		return bus.Permanent(reject("", "to_version", "connection %s has no catalog version %d", conn.ID, d.ToVersion))
	}
	if err != nil {
		return err
	}
	target, err := decodeVersion(v)
	if err != nil {
		return err
	}
	want, err := parseCatalog(v.SyncCatalog)
	if err != nil {
		return bus.Permanent(err)
	}
	build := func(discovered *airbyte.AirbyteCatalog, modes validModes) (*airbyte.AirbyteCatalog, error) {
		out, err := buildCatalog(want, discovered, modes)
		if err != nil {
			return nil, err
		}
		return out, keepDefinitions(out, target, d.ToVersion)
	}
	if d.DryRun {
		return w.plan(ctx, ev, conn, target, build)
	}
	reason := fmt.Sprintf("rollback to %d", d.ToVersion)
	if d.Reason != "" {
		reason += ": " + d.Reason
	}
	return w.apply(ctx, change{ev: asRepair(ev), reason: reason, rollbackTo: d.ToVersion,
		healing: fmt.Sprintf("rollback: applying catalog version %d", d.ToVersion), build: build})
}

// keepDefinitions gives every stream of a validated catalog the definition
// it had in version n, after checking that each of its fields is still in
// the stream's discovered schema: a rollback restores the streams as they
// were, never a field the source no longer offers.
func keepDefinitions(out, target *airbyte.AirbyteCatalog, n int) error {
	for i, s := range out.Streams {
		t, ok := target.Stream(s.Stream.Name, s.Stream.Namespace)
		if !ok || t.Stream == nil {
			continue
		}
		offered := propertyPaths(s.Stream.JSONSchema)
		for _, p := range propertyPaths(t.Stream.JSONSchema) {
			if !containsPath(offered, p) {
				return reject(s.Stream.Name, "stream.json_schema",
					"Field %s of stream %s in catalog version %d no longer exists in the source's discovered catalog.", list(p), s.Stream.Name, n)
			}
		}
		def := *s.Stream
		def.JSONSchema = t.Stream.JSONSchema
		out.Streams[i].Stream = &def
	}
	return nil
}

// plan answers a dry-run rollback: the changes from the current version to
// the one asked for, measured on the catalog the rollback would apply (or
// on the version as recorded when it would be refused), once per request.
func (w *Worker) plan(ctx context.Context, ev bus.Event[events.RollbackRequested], conn registry.Connection, target *airbyte.AirbyteCatalog,
	build func(*airbyte.AirbyteCatalog, validModes) (*airbyte.AirbyteCatalog, error)) error {
	if conn.AirbyteSourceID == "" {
		return bus.Permanent(reject("", "connection_id", "connection %s has no Airbyte source", conn.ID))
	}
	cur, err := w.deps.Store.CatalogVersionLatest(ctx, conn.ID)
	if err != nil {
		return fmt.Errorf("read current catalog version: %w", err)
	}
	before, err := decodeVersion(cur)
	if err != nil {
		return err
	}
	disc, modes, err := w.discover(ctx, asRepair(ev), conn)
	if err != nil {
		return err
	}
	fact := events.RollbackPlanned{ConnectionID: conn.ID, CurrentVersion: cur.VersionNumber, ToVersion: ev.Data.ToVersion, Applicable: true}
	after, err := build(disc.Catalog, modes)
	var rej *RejectError
	switch {
	case errors.As(err, &rej):
		fact.Applicable, fact.Reason, fact.Stream, fact.Field = false, rej.Reason, rej.Stream, rej.Field
		after = target
	case err != nil:
		return bus.Permanent(err)
	}
	delta := drift.Compare(before, after)
	fact.Summary, fact.Breaking = delta.Summary, delta.Breaking
	if fact.Diff, err = json.Marshal(delta.Diff); err != nil {
		return err
	}
	if fact.Changes, err = json.Marshal(delta.Changes); err != nil {
		return err
	}
	if fact.Refresh, err = json.Marshal(delta.Refresh); err != nil {
		return err
	}
	err = w.deps.Store.InTx(ctx, func(q *registry.Queries) error {
		inserted, err := q.InboxInsert(ctx, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone})
		if err != nil {
			return err
		}
		if !inserted {
			return errDuplicate
		}
		return outbox.Emit(ctx, q, events.TypeRollbackPlanned, Source, conn.ID, outbox.RequestOf(ev), fact)
	})
	if errors.Is(err, errDuplicate) {
		return nil
	}
	return err
}

// failRollback ends a rollback that cannot be carried out with
// repair_failed (rollback_to set), as a repair's failure.
func (w *Worker) failRollback(ctx context.Context, ev bus.Event[events.RollbackRequested], cause error) error {
	return w.failChange(ctx, asRepair(ev), ev.Data.ToVersion, cause)
}

// asRepair is a rollback request as the repair it is carried out as: the
// same attributes (inbox, holder and facts key on them), its connection.
func asRepair(ev bus.Event[events.RollbackRequested]) bus.Event[events.RepairRequested] {
	return bus.Event[events.RepairRequested]{
		ID: ev.ID, Source: ev.Source, Type: ev.Type, Subject: ev.Subject, Time: ev.Time, TraceParent: ev.TraceParent,
		Data: events.RepairRequested{ConnectionID: ev.Data.ConnectionID}, CloudEvent: ev.CloudEvent, Msg: ev.Msg,
	}
}
