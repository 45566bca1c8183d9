package repair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// Source is the CloudEvent source of the facts the worker emits.
const Source = "/aam/repair"

// Consumer is the worker's durable consumer.
const Consumer = "repair"

// Messages of io.aam.catalog.versioned.v1.
const (
	MessageVersioned = "Catalog updated and versioned successfully"
	MessageUnchanged = "Catalog identical to the current version; no new version created"
)

// DefaultReason is recorded with a version when the request gives none.
const DefaultReason = "drift repair"

// Worker applies new catalogs to connections on request. Build it with New
// and run it with Run.
type Worker struct {
	deps *app.Deps
	ab   *airbyte.Client
	cfg  Config
	log  *zap.Logger
	// orphans marks connections Airbyte does not know.
	orphans app.Orphans

	// crash is called at each crash point.
	crash app.CrashHook
}

// New returns a repair worker.
func New(deps *app.Deps, ab *airbyte.Client, cfg Config) (*Worker, error) {
	log, err := app.CheckWorker(Consumer, deps, ab, &cfg)
	if err != nil {
		return nil, err
	}
	return &Worker{deps: deps, ab: ab, cfg: cfg, log: log,
		orphans: app.Orphans{Store: deps.Store, Airbyte: ab, Log: log, Source: Source}}, nil
}

// Route returns the worker's route on the repair request subject.
func (w *Worker) Route() bus.Route[events.RepairRequested] {
	return app.RequestRoute(Consumer, events.TypeRepairRequested, w.handle, w.fail, w.cfg.Delivery, w.cfg.Timeout)
}

// Run handles repair and rollback requests until ctx is cancelled.
func (w *Worker) Run(ctx context.Context) error {
	return app.Run(ctx, app.Consume(w.deps.Runtime(Source), w.Route()), app.Consume(w.deps.Runtime(Source), w.RollbackRoute()))
}

func (w *Worker) point(p string) error { return w.crash.At(p) }

// change is one catalog change the worker applies: a repair request, or a
// rollback request carried out as one (ev then carries the rollback's
// attributes and its connection id).
type change struct {
	ev bus.Event[events.RepairRequested]
	// reason is recorded with the version, healing while HEALING.
	reason, healing string
	// rollbackTo is the version a rollback restores (0 for a repair).
	rollbackTo int
	// build validates the change against the source's discovered catalog
	// and the destination's valid modes, and returns the catalog to apply.
	build func(discovered *airbyte.AirbyteCatalog, modes validModes) (*airbyte.AirbyteCatalog, error)
}

func (w *Worker) handle(ctx context.Context, ev bus.Event[events.RepairRequested]) error {
	want, err := parseCatalog(ev.Data.NewSyncCatalog)
	if err != nil {
		return bus.Permanent(err)
	}
	return w.apply(ctx, change{ev: ev, reason: reasonOf(ev), healing: "repair: applying a new catalog",
		build: func(discovered *airbyte.AirbyteCatalog, modes validModes) (*airbyte.AirbyteCatalog, error) {
			return buildCatalog(want, discovered, modes)
		}})
}

// apply carries a change out: HEALING, a fresh discover, validation,
// connections/update and the new version.
func (w *Worker) apply(ctx context.Context, ch change) error {
	conn, err := w.startHealing(ctx, ch)
	if err != nil {
		return err
	}
	if err := w.point("healing"); err != nil {
		return err
	}
	disc, modes, err := w.discover(ctx, ch.ev, conn)
	if err != nil {
		return err
	}
	if want := ch.ev.Data.SourceSchemaHash; want != "" {
		got, err := drift.SchemaHash(disc.Catalog)
		if err != nil {
			return bus.Permanent(fmt.Errorf("hash the discovered catalog: %w", err))
		}
		if got != want {
			return bus.Permanent(reject("", "source_schema_hash",
				"the source's schema changed again after this repair was decided (decided on %s, discovered %s): "+
					"nothing applied; the schema observer decides on the new schema at its next check", short(want), short(got)))
		}
	}
	catalog, err := ch.build(disc.Catalog, modes)
	if err != nil {
		return bus.Permanent(err)
	}
	if err := w.point("validated"); err != nil {
		return err
	}

	cur, err := w.current(ctx, conn.ID)
	if err != nil {
		return err
	}
	same, err := sameCatalog(catalog, cur)
	if err != nil {
		return bus.Permanent(err)
	}
	if same {
		return w.finishUnchanged(ctx, ch, conn.ID)
	}

	no := false
	updated, err := w.ab.ConfigAPI().UpdateConnection(ctx, airbyte.ConnectionUpdate{
		ConnectionID: conn.AirbyteConnectionID, SyncCatalog: catalog,
		SourceCatalogID: disc.CatalogID, BreakingChange: &no,
	})
	if err != nil {
		return w.airbyteFailure(ctx, ch.ev, conn, "update the Airbyte connection's catalog", err)
	}
	if err := w.point("updated"); err != nil {
		return err
	}
	return w.finish(ctx, ch, conn.ID, &updated.SyncCatalog, disc.CatalogID)
}

// discover reads the source's current catalog (configuration API,
// disable_cache true, no connectionId: read-only) and the sync modes the
// destination allows per stream.
func (w *Worker) discover(ctx context.Context, ev bus.Event[events.RepairRequested], conn registry.Connection) (*airbyte.SourceDiscoverSchemaRead, validModes, error) {
	disc, err := w.ab.ConfigAPI().DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: conn.AirbyteSourceID})
	if err != nil {
		return nil, nil, w.airbyteFailure(ctx, ev, conn, "discover the source's catalog", err)
	}
	var modes validModes
	if conn.AirbyteDestinationID != "" {
		props, err := w.ab.GetStreamProperties(ctx, airbyte.StreamPropertiesParams{
			SourceID: conn.AirbyteSourceID, DestinationID: conn.AirbyteDestinationID})
		if err != nil {
			return nil, nil, w.airbyteFailure(ctx, ev, conn, "read the valid sync modes", err)
		}
		modes = newValidModes(props)
	}
	return disc, modes, nil
}

// current reads a connection's latest catalog version.
func (w *Worker) current(ctx context.Context, id string) (*airbyte.AirbyteCatalog, error) {
	v, err := w.deps.Store.CatalogVersionLatest(ctx, id)
	if err != nil {
		if registry.IsNotFound(err) {
			return nil, bus.Permanent(reject("", "", "connection %s has no catalog version", id))
		}
		return nil, fmt.Errorf("read current catalog version: %w", err)
	}
	return decodeVersion(v)
}

func decodeVersion(v registry.CatalogVersion) (*airbyte.AirbyteCatalog, error) {
	var c airbyte.AirbyteCatalog
	if err := json.Unmarshal(v.SyncCatalog, &c); err != nil {
		return nil, bus.Permanent(fmt.Errorf("catalog version %d does not decode: %w", v.VersionNumber, err))
	}
	return &c, nil
}

// busyDelay is how long the n-th delivery of a request waits for another
// repair of its connection: BusyRetry, doubled with each delivery up to
// AckWait. The deliveries together outlast AckWait, the time a holder whose
// worker was lost takes to come back and finish, so a request does not
// fail only because the repair ahead of it was redelivered.
func (w *Worker) busyDelay(n uint64) time.Duration {
	d, ceiling := w.cfg.BusyRetry, max(w.cfg.AckWait, w.cfg.BusyRetry)
	for i := uint64(1); i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// short is a schema hash cut to its first 12 hex digits, for messages.
func short(hash string) string {
	h := strings.TrimPrefix(hash, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// airbyteFailure is the outcome of a failed Airbyte call of the repair:
// when Airbyte does not know the connection (or its source), the
// connection is marked ORPHANED, once, and the request fails with the
// reason at once; otherwise app.AirbyteOutcome decides.
func (w *Worker) airbyteFailure(ctx context.Context, ev bus.Event[events.RepairRequested], conn registry.Connection, what string, err error) error {
	req := outbox.RequestOf(ev)
	if oerr := w.orphans.Check(ctx, app.RefOf(conn), &req, err); oerr != nil {
		return oerr
	}
	return app.AirbyteOutcome(fmt.Errorf("%s: %w", what, err))
}

// startHealing sets the connection HEALING for the request (committed), or
// finds it already HEALING for this request.
func (w *Worker) startHealing(ctx context.Context, ch change) (registry.Connection, error) {
	ev := ch.ev
	id := ev.Data.ConnectionID
	var conn registry.Connection
	err := w.deps.Store.InTx(ctx, func(q *registry.Queries) error {
		c, err := q.ConnectionGetForUpdate(ctx, id)
		if registry.IsNotFound(err) {
			return bus.Permanent(reject("", "connection_id", "connection %s is not registered", id))
		}
		if err != nil {
			return err
		}
		switch c.Status {
		case registry.StatusActive:
		case registry.StatusHealing:
			h, err := q.ConnectionHealingHolder(ctx, id)
			if err != nil {
				return err
			}
			if h.Is(ev.Source, ev.ID) {
				conn = c // resume this request's repair
				return nil
			}
			if h.Held() && time.Since(h.StartedAt) < w.cfg.HealingStaleAfter {
				return bus.RetryAfter(w.busyDelay(ev.Msg.NumDelivered), fmt.Errorf("connection %s is being repaired by request %s", id, h.RequestID))
			}
		default:
			why := ""
			if c.StatusReason != "" {
				why = " (" + c.StatusReason + ")"
			}
			return bus.Permanent(reject("", "connection_id",
				"connection %s is %s, not ACTIVE: only an ACTIVE connection can be repaired%s", id, c.Status, why))
		}
		if c.AirbyteConnectionID == "" || c.AirbyteSourceID == "" {
			return bus.Permanent(reject("", "connection_id", "connection %s has no Airbyte source and connection", id))
		}
		conn, err = q.ConnectionStartHealing(ctx, id, ev.Source, ev.ID, ch.healing)
		return err
	})
	return conn, err
}

// finish records the applied catalog as version n+1 and ends the change.
func (w *Worker) finish(ctx context.Context, ch change, id string, applied *airbyte.AirbyteCatalog, sourceCatalogID string) error {
	ev := ch.ev
	catalog, err := json.Marshal(applied)
	if err != nil {
		return fmt.Errorf("encode applied catalog: %w", err)
	}
	var prev, v registry.CatalogVersion
	err = w.deps.Store.InTx(ctx, func(q *registry.Queries) error {
		if err := w.holdAndRecord(ctx, q, ev, id); err != nil {
			return err
		}
		var err error
		if prev, err = q.CatalogVersionLatest(ctx, id); err != nil {
			return err
		}
		before, err := decodeVersion(prev)
		if err != nil {
			return err
		}
		v, err = q.CatalogVersionCreate(ctx, registry.CatalogVersionCreateParams{
			ConnectionID: id, VersionNumber: prev.VersionNumber + 1, SyncCatalog: catalog,
			SourceCatalogID: sourceCatalogID, Reason: ch.reason, RequestSource: ev.Source, RequestID: ev.ID,
		})
		if err != nil {
			return err
		}
		if _, err := q.ConnectionActivate(ctx, id, v.VersionNumber, sourceCatalogID); err != nil {
			return err
		}
		if err := q.ConnectionStopHealing(ctx, id); err != nil {
			return err
		}
		fact := events.CatalogVersioned{
			ConnectionID: id, PreviousVersion: prev.VersionNumber, NewVersion: v.VersionNumber,
			Status: "success", Message: MessageVersioned, ContentHash: v.ContentHash, Reason: ch.reason, RollbackTo: ch.rollbackTo,
		}
		if err := describeDelta(&fact, drift.Compare(before, applied)); err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeCatalogVersioned, Source, id, outbox.RequestOf(ev), fact)
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	if err == nil {
		w.log.Info("catalog versioned", zap.String("connection_id", id), zap.Int("previous_version", prev.VersionNumber),
			zap.Int("new_version", v.VersionNumber), zap.String("content_hash", v.ContentHash), zap.Int("rollback_to", ch.rollbackTo))
	}
	return err
}

// describeDelta puts the changes from the previous version into a
// catalog.versioned fact.
func describeDelta(f *events.CatalogVersioned, d drift.Delta) error {
	var err error
	f.Summary = d.Summary
	if f.Diff, err = json.Marshal(d.Diff); err != nil {
		return err
	}
	if f.Changes, err = json.Marshal(d.Changes); err != nil {
		return err
	}
	f.Refresh, err = json.Marshal(d.Refresh)
	return err
}

// finishUnchanged ends a change whose catalog equals the current version.
func (w *Worker) finishUnchanged(ctx context.Context, ch change, id string) error {
	ev := ch.ev
	err := w.deps.Store.InTx(ctx, func(q *registry.Queries) error {
		if err := w.holdAndRecord(ctx, q, ev, id); err != nil {
			return err
		}
		cur, err := q.CatalogVersionLatest(ctx, id)
		if err != nil {
			return err
		}
		if _, err := q.ConnectionSetStatus(ctx, id, registry.StatusActive, ""); err != nil {
			return err
		}
		if err := q.ConnectionStopHealing(ctx, id); err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeCatalogVersioned, Source, id, outbox.RequestOf(ev), events.CatalogVersioned{
			ConnectionID: id, PreviousVersion: cur.VersionNumber, NewVersion: cur.VersionNumber,
			Status: "success", Message: MessageUnchanged, ContentHash: cur.ContentHash, Reason: ch.reason,
			Unchanged: true, RollbackTo: ch.rollbackTo,
		})
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	return err
}

// holdAndRecord locks the connection, checks that the request still holds
// it HEALING and records the request done.
func (w *Worker) holdAndRecord(ctx context.Context, q *registry.Queries, ev bus.Event[events.RepairRequested], id string) error {
	c, err := q.ConnectionGetForUpdate(ctx, id)
	if err != nil {
		return err
	}
	h, err := q.ConnectionHealingHolder(ctx, id)
	if err != nil {
		return err
	}
	if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone}); err != nil {
		return err
	}
	if c.Status != registry.StatusHealing || !h.Is(ev.Source, ev.ID) {
		return fmt.Errorf("connection %s is no longer HEALING for this repair (status %s)", id, c.Status)
	}
	return nil
}

// fail ends a request that cannot be applied: the connection's status
// restored when this request set it HEALING, the inbox entry and the
// repair_failed fact, in one transaction.
func (w *Worker) fail(ctx context.Context, ev bus.Event[events.RepairRequested], cause error) error {
	return w.failChange(ctx, ev, 0, cause)
}

// failChange is fail for a repair or a rollback (to version rollbackTo).
func (w *Worker) failChange(ctx context.Context, ev bus.Event[events.RepairRequested], rollbackTo int, cause error) error {
	id := ev.Data.ConnectionID
	fact := events.RepairFailed{ConnectionID: id, Reason: cause.Error(), RollbackTo: rollbackTo}
	var rej *RejectError
	if errors.As(cause, &rej) {
		fact.Reason, fact.Stream, fact.Field = rej.Reason, rej.Stream, rej.Field
	} else if !bus.IsPermanent(cause) {
		fact.Reason = fmt.Sprintf("%s (gave up after %d deliveries)", cause.Error(), ev.Msg.NumDelivered)
	}
	err := w.deps.Store.InTx(ctx, func(q *registry.Queries) error {
		c, err := q.ConnectionGetForUpdate(ctx, id)
		found := err == nil
		if err != nil && !registry.IsNotFound(err) {
			return err
		}
		if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type,
			Outcome: registry.OutcomeFailed, Reason: fact.Reason}); err != nil {
			return err
		}
		if found {
			if c.Status == registry.StatusHealing {
				h, err := q.ConnectionHealingHolder(ctx, id)
				if err != nil {
					return err
				}
				if h.Is(ev.Source, ev.ID) {
					if c, err = q.ConnectionSetStatus(ctx, id, registry.StatusActive, ""); err != nil {
						return err
					}
					if err := q.ConnectionStopHealing(ctx, id); err != nil {
						return err
					}
				}
			}
			fact.Status = string(c.Status)
		}
		return outbox.Emit(ctx, q, events.TypeRepairFailed, Source, id, outbox.RequestOf(ev), fact)
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	return err
}

func reasonOf(ev bus.Event[events.RepairRequested]) string {
	if ev.Data.Reason != "" {
		return ev.Data.Reason
	}
	return DefaultReason
}

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
		if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone}); err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeRollbackPlanned, Source, conn.ID, outbox.RequestOf(ev), fact)
	})
	if errors.Is(err, app.ErrRecorded) {
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
