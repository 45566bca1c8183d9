package observer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// ResolveConsumer is the durable consumer of drift approvals and
// rejections.
const ResolveConsumer = "schema-observer-resolve"

// ResolveRoute is the observer's route for
// io.aam.drift.resolve.requested.v1.
func (o *Observer) ResolveRoute() bus.Route[events.ResolveRequested] {
	return bus.Route[events.ResolveRequested]{
		Consumer: ResolveConsumer,
		Subject:  events.SubjectResolveRequest,
		Type:     events.TypeResolveRequested,
		Handle:   o.resolve,
	}
}

// resolve approves or rejects a drift that awaits a person. Approving
// discovers the source and requests the repair that applies its current
// schema to the catalog version the drift was measured against; a paused
// connection resumes (Airbyte active, then ACTIVE in the registry, under
// the connection's status lock) when the drift is approved, or rejected
// with resume. The decision, the
// connection's status and drift.resolved commit in one transaction with
// the request's inbox row; the repair request (its id derived from the
// request) is published after the commit, and again by a redelivery that
// finds it unpublished.
func (o *Observer) resolve(ctx context.Context, ev bus.Event[events.ResolveRequested]) error {
	d := ev.Data
	version, hash, err := ParseDriftID(d.DriftID)
	if err != nil {
		return bus.Permanent(err)
	}
	c, err := o.store.ConnectionGet(ctx, d.ConnectionID)
	if registry.IsNotFound(err) {
		return bus.Permanent(fmt.Errorf("connection %s is not registered", d.ConnectionID))
	}
	if err != nil {
		return err
	}
	dr, err := o.store.DriftGet(ctx, c.ID, version, hash)
	if registry.IsNotFound(err) {
		return bus.Permanent(fmt.Errorf("connection %s has no drift %s", c.ID, d.DriftID))
	}
	if err != nil {
		return err
	}
	by := ev.Source + " " + ev.ID
	approve := d.Decision == events.ResolveApprove
	if dr.ResolvedBy == by {
		return o.publishApproved(ctx, c, dr, d) // this request decided it: finish
	}
	if dr.Status != registry.DriftApprovalRequested && dr.Status != registry.DriftPaused {
		return bus.Permanent(fmt.Errorf("drift %s is %s, not awaiting a decision", d.DriftID, statusWord(dr.Status)))
	}
	var repairID string
	if approve {
		if c.CatalogVersion != version {
			return bus.Permanent(fmt.Errorf("drift %s was measured against catalog version %d; the connection is at version %d",
				d.DriftID, version, c.CatalogVersion))
		}
		repairID = events.DeterministicID(Source, ev.Source+"/"+ev.ID, events.TypeRepairRequested)
	}
	resume := approve || d.Resume
	status := registry.DriftRejected
	if approve {
		status = registry.DriftApproved
	}
	err = o.store.InTx(ctx, func(q *registry.Queries) error {
		if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone}); err != nil {
			return err
		}
		// Under the status lock, so that a pause's make-inactive call in
		// flight lands before the resumption (registry.Queries.StatusLock).
		if _, err := q.StatusLock(ctx, c.ID); err != nil {
			return err
		}
		cur, err := q.ConnectionGetForUpdate(ctx, c.ID)
		if err != nil {
			return err
		}
		now, err := q.DriftGet(ctx, c.ID, version, hash)
		if err != nil {
			return err
		}
		if now.Status != dr.Status {
			return bus.Permanent(fmt.Errorf("drift %s is %s, not awaiting a decision", d.DriftID, statusWord(now.Status)))
		}
		if err := q.DriftResolve(ctx, c.ID, version, hash, status, by, repairID); err != nil {
			return err
		}
		resumed := false
		if resume && cur.Status == registry.StatusPaused {
			if _, err := o.ab.PatchConnection(ctx, cur.AirbyteConnectionID, airbyte.ConnectionPatchRequest{Status: airbyte.ConnectionActive}); err != nil {
				return fmt.Errorf("resume the Airbyte connection: %w", err)
			}
			if _, err := q.ConnectionSetStatus(ctx, c.ID, registry.StatusActive, ""); err != nil {
				return err
			}
			resumed = true
		}
		return outbox.Emit(ctx, q, events.TypeDriftResolved, Source, c.ID, outbox.RequestOf(ev), events.DriftResolved{
			ConnectionID: c.ID, DriftID: d.DriftID, Decision: d.Decision, Resumed: resumed, RepairRequestID: repairID})
	})
	if errors.Is(err, app.ErrRecorded) {
		err = nil
	}
	if err != nil {
		return err
	}
	if dr, err = o.store.DriftGet(ctx, c.ID, version, hash); err != nil {
		return err
	}
	return o.publishApproved(ctx, c, dr, d)
}

// publishApproved publishes the repair request of an approved drift when it
// is not yet published: the configured streams with the source's current
// definitions (Airbyte's propagate_columns: new fields flow in, streams the
// source dropped go away).
func (o *Observer) publishApproved(ctx context.Context, c registry.Connection, dr registry.Drift, d events.ResolveRequested) error {
	if dr.Status != registry.DriftApproved || dr.RepairRequestID == "" || dr.RepairPublishedAt != nil {
		return nil
	}
	ver, err := o.store.CatalogVersionGet(ctx, c.ID, dr.CatalogVersion)
	if err != nil {
		return err
	}
	var configured airbyte.AirbyteCatalog
	if err := json.Unmarshal(ver.SyncCatalog, &configured); err != nil {
		return bus.Permanent(fmt.Errorf("catalog version %d does not decode: %w", ver.VersionNumber, err))
	}
	disc, err := o.ab.ConfigAPI().DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: c.AirbyteSourceID})
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	diff := drift.Diff(nil, &configured, disc.Catalog)
	healed := HealCatalog(&configured, disc.Catalog, diff, false)
	if len(healed.Streams) == 0 {
		return bus.Permanent(fmt.Errorf("the source offers none of the connection's streams any more"))
	}
	cat, err := json.Marshal(healed)
	if err != nil {
		return err
	}
	hash, err := drift.SchemaHash(disc.Catalog)
	if err != nil {
		return err
	}
	reason := "schema drift " + DriftID(dr.CatalogVersion, dr.DiscoveredHash) + " approved"
	if d.Reason != "" {
		reason += ": " + d.Reason
	}
	req, err := events.New(events.TypeRepairRequested, Source, events.RepairRequested{ConnectionID: c.ID, NewSyncCatalog: cat,
		Reason: schemas.Truncate(reason, maxReason), SourceSchemaHash: hash}, events.WithID(dr.RepairRequestID), events.WithSubject(c.ID))
	if err != nil {
		return err
	}
	if _, err := o.pub.Publish(ctx, events.SubjectRepairRequest, req, events.Binary); err != nil {
		return fmt.Errorf("publish the approved drift's repair request: %w", err)
	}
	return o.store.DriftRepairPublished(ctx, c.ID, dr.CatalogVersion, dr.DiscoveredHash, time.Now())
}

// finishApproved publishes the repair request of an approved drift that a
// crash left unpublished (the approval's redelivery is settled by its inbox
// row and never reaches the handler).
func (o *Observer) finishApproved(ctx context.Context, c registry.Connection) error {
	dr, err := o.store.DriftApprovedUnpublished(ctx, c.ID)
	if registry.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return o.publishApproved(ctx, c, dr, events.ResolveRequested{})
}

func statusWord(s string) string {
	if s == "" {
		return "reported only"
	}
	return s
}
