package observer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// Source is the CloudEvent source of the observer's facts and requests.
const Source = "/aam/schema-observer"

// Observer discovers sources and reports how they drifted from their
// connections' catalogs.
type Observer struct {
	deps  *app.Deps
	store *registry.Store
	ab    *airbyte.Client
	pub   *bus.Publisher
	cfg   Config
	log   *zap.Logger
	m     *metrics
	// orphans marks connections Airbyte does not know.
	orphans app.Orphans
}

// New returns an observer on deps' registry and NATS connection, calling
// Airbyte through ab.
func New(deps *app.Deps, ab *airbyte.Client, cfg Config) (*Observer, error) {
	log, err := app.CheckWorker("observer", deps, ab, &cfg)
	if err != nil {
		return nil, err
	}
	var reg prometheus.Registerer
	if deps.Metrics != nil {
		reg = deps.Metrics
	}
	return &Observer{deps: deps, store: deps.Store, ab: ab, pub: bus.NewPublisher(deps.JS), cfg: cfg, log: log, m: newMetrics(reg),
		orphans: app.Orphans{Store: deps.Store, Airbyte: ab, Log: log, Source: Source}}, nil
}

// Result is the outcome of one connection's check.
type Result struct {
	ConnectionID   string `json:"connection_id"`
	CatalogVersion int    `json:"catalog_version"`
	// Skipped says why the connection was not checked.
	Skipped string `json:"skipped,omitempty"`
	// Orphaned reports that the check found Airbyte does not know the
	// connection and marked it ORPHANED (Skipped says why).
	Orphaned bool `json:"orphaned,omitempty"`
	// Drift reports a difference between the source and the catalog
	// version; New that it was seen for the first time (and reported).
	Drift    bool `json:"drift"`
	New      bool `json:"new"`
	Breaking bool `json:"breaking"`
	// Summary describes the drift; Diff is Airbyte's CatalogDiff form.
	Summary string               `json:"summary,omitempty"`
	Diff    *airbyte.CatalogDiff `json:"diff,omitempty"`
	// RepairRequestID is the id of the repair request published to heal
	// the drift.
	RepairRequestID string `json:"repair_request_id,omitempty"`
	// DriftID identifies the drift; Changes are its classified changes;
	// Decision the policy's decision (OBSERVER_HEAL=policy), as recorded
	// for the drift (the first check's, when it was seen before).
	DriftID  string                `json:"drift_id,omitempty"`
	Changes  []drift.Change        `json:"changes,omitempty"`
	Decision *events.DriftDecision `json:"decision,omitempty"`
	// Error says why the check failed.
	Error string `json:"error,omitempty"`
}

// Run checks every ACTIVE connection every Interval, answers on-demand
// checks on CheckSubject and handles policy set requests, until ctx is
// cancelled.
func (o *Observer) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	if o.cfg.CheckSubject != "" && o.deps.NC != nil {
		g.Go(func() error { return o.Serve(gctx) })
	}
	g.Go(func() error { return bus.Serve(gctx, o.deps.Runtime(Source), o.PolicyRoute()) })
	g.Go(func() error { return bus.Serve(gctx, o.deps.Runtime(Source), o.ResolveRoute()) })
	g.Go(func() error {
		o.log.Info("observer started", zap.Duration("interval", o.cfg.Interval), zap.String("heal", o.cfg.Heal),
			zap.String("propagate", o.cfg.Propagate))
		t := time.NewTicker(o.cfg.Interval)
		defer t.Stop()
		for {
			if _, err := o.CheckAll(gctx, false); err != nil && gctx.Err() == nil {
				o.log.Warn("observation round failed", zap.Error(err))
			}
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	return g.Wait()
}

// CheckRequest is the body of an on-demand check: one connection, or all
// ACTIVE ones when ConnectionID is empty.
type CheckRequest struct {
	ConnectionID string `json:"connection_id,omitempty"`
}

// CheckReply answers an on-demand check.
type CheckReply struct {
	Results []Result `json:"results"`
	Error   string   `json:"error,omitempty"`
}

// Serve answers on-demand checks (NATS request/reply on CheckSubject, in a
// queue group so that one observer answers) until ctx is cancelled. An
// on-demand check discovers even a source checked a moment ago.
func (o *Observer) Serve(ctx context.Context) error {
	sub, err := o.deps.NC.QueueSubscribe(o.cfg.CheckSubject, "aam-observer", func(m *nats.Msg) {
		go o.answer(ctx, m)
	})
	if err != nil {
		return fmt.Errorf("observer: subscribe %s: %w", o.cfg.CheckSubject, err)
	}
	<-ctx.Done()
	return sub.Unsubscribe()
}

func (o *Observer) answer(ctx context.Context, m *nats.Msg) {
	var req CheckRequest
	var reply CheckReply
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &req); err != nil {
			reply.Error = "body is not a check request: " + err.Error()
		}
	}
	if reply.Error == "" {
		if req.ConnectionID != "" {
			r, err := o.Check(ctx, req.ConnectionID)
			reply.Results = []Result{r}
			if err != nil {
				reply.Error = err.Error()
			}
		} else {
			var err error
			if reply.Results, err = o.CheckAll(ctx, true); err != nil {
				reply.Error = err.Error()
			}
		}
	}
	if reply.Results == nil {
		reply.Results = []Result{}
	}
	b, _ := json.Marshal(reply)
	if m.Reply != "" {
		_ = m.Respond(b)
	}
}

// healingPoll is how often Check looks whether a repair has ended.
const healingPoll = 100 * time.Millisecond

// CheckAll checks every ACTIVE connection, a bounded number at once. Unless
// forced, a connection another observer checked within half an interval is
// skipped.
func (o *Observer) CheckAll(ctx context.Context, force bool) ([]Result, error) {
	var (
		mu      sync.Mutex
		results []Result
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, o.cfg.Concurrency)
	p := registry.ConnectionListParams{Status: registry.StatusActive, Limit: 500}
	for {
		page, err := o.store.ConnectionList(ctx, p)
		if err != nil {
			wg.Wait()
			return results, fmt.Errorf("list connections: %w", err)
		}
		for _, c := range page {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return results, ctx.Err()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				r := o.check(ctx, c, force)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}()
		}
		if len(page) < p.Limit {
			break
		}
		last := page[len(page)-1]
		p.AfterCreatedAt, p.AfterID = last.CreatedAt, last.ID
	}
	wg.Wait()
	return results, nil
}

// Check checks one connection now. A connection being repaired (HEALING)
// is checked once its repair ends, waiting up to the check timeout, so that
// a check asked for right after a drift was propagated sees the schema
// that repair left.
func (o *Observer) Check(ctx context.Context, connectionID string) (Result, error) {
	c, err := o.store.ConnectionGet(ctx, connectionID)
	deadline := time.Now().Add(o.cfg.CheckTimeout)
	for err == nil && c.Status == registry.StatusHealing && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return Result{ConnectionID: connectionID, Error: ctx.Err().Error()}, ctx.Err()
		case <-time.After(healingPoll):
		}
		c, err = o.store.ConnectionGet(ctx, connectionID)
	}
	if err != nil {
		return Result{ConnectionID: connectionID, Error: err.Error()}, fmt.Errorf("connection %s: %w", connectionID, err)
	}
	r := o.check(ctx, c, true)
	if r.Error != "" {
		return r, errors.New(r.Error)
	}
	return r, nil
}

// check discovers a connection's source (configuration API, disable_cache
// true and no connectionId: a read-only discover that neither flags nor
// disables the Airbyte connection), diffs it against the connection's
// catalog version and records a new drift, its fact and, by policy, the
// repair request that heals it, in one transaction.
func (o *Observer) check(ctx context.Context, c registry.Connection, force bool) Result {
	start := time.Now()
	r, discovered := o.checkOnce(ctx, c, force)
	o.m.observe(r, time.Since(start).Seconds(), discovered)
	return r
}

// checkOnce is check; discovered says whether the source was discovered.
func (o *Observer) checkOnce(ctx context.Context, c registry.Connection, force bool) (Result, bool) {
	r := Result{ConnectionID: c.ID, CatalogVersion: c.CatalogVersion}
	discovered := false
	switch {
	case c.Status == registry.StatusPaused:
		r.Skipped = "connection is " + string(c.Status)
		if err := o.finishPause(ctx, c); err != nil && !o.orphaned(ctx, c, &r, err) {
			r.Error = "pause the Airbyte connection: " + err.Error()
		}
		return r, discovered
	case c.Status != registry.StatusActive:
		r.Skipped = "connection is " + string(c.Status)
		return r, discovered
	case c.AirbyteSourceID == "" || c.CatalogVersion == 0:
		r.Skipped = "connection has no Airbyte source or catalog version"
		return r, discovered
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.CheckTimeout)
	defer cancel()
	log := o.log.With(zap.String("connection_id", c.ID), zap.Int("catalog_version", c.CatalogVersion))
	if err := o.finishApproved(ctx, c); err != nil {
		log.Warn("publish an approved drift's repair request", zap.Error(err))
	}
	fail := func(what string, err error) Result {
		r.Error = what + ": " + err.Error()
		log.Warn("check failed", zap.String("step", what), zap.Error(err))
		return r
	}

	checkedBefore := time.Now().Add(-o.cfg.Interval / 2)
	if force {
		checkedBefore = time.Now().Add(time.Hour)
	}
	obs, claimed, err := o.store.ObservationClaim(ctx, c.ID, c.CatalogVersion, checkedBefore)
	if err != nil {
		return fail("claim", err), discovered
	}
	if !claimed {
		r.Skipped = "checked recently"
		return r, discovered
	}
	ver, err := o.store.CatalogVersionGet(ctx, c.ID, c.CatalogVersion)
	if err != nil {
		return fail("read catalog version", err), discovered
	}
	var configured airbyte.AirbyteCatalog
	if err := json.Unmarshal(ver.SyncCatalog, &configured); err != nil {
		return fail("read catalog version", err), discovered
	}

	// The baseline: every stream the source offered when the version was
	// made. Airbyte's cached catalog is that one when its id is the
	// version's source catalog; otherwise the first discover stands in.
	baseline, baselineID := descriptors(obs.Baseline), obs.BaselineCatalogID
	learn := obs.Baseline == nil
	if learn && ver.SourceCatalogID != "" {
		cached, err := o.ab.ConfigAPI().DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: c.AirbyteSourceID, UseCache: true})
		if err != nil && o.orphaned(ctx, c, &r, err) {
			return r, discovered
		}
		if err == nil && cached.CatalogID == ver.SourceCatalogID {
			baseline, baselineID = streamDescriptors(cached.Catalog), cached.CatalogID
		}
	}
	disc, err := o.ab.ConfigAPI().DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: c.AirbyteSourceID})
	discovered = true
	if err != nil {
		if o.orphaned(ctx, c, &r, err) {
			return r, discovered
		}
		return fail("discover", err), discovered
	}
	if learn && baselineID == "" {
		baseline, baselineID = streamDescriptors(disc.Catalog), disc.CatalogID
	}
	var learned []registry.StreamName
	if learn {
		learned = names(baseline)
	}
	hash, err := drift.SchemaHash(disc.Catalog)
	if err != nil {
		return fail("hash the discovered catalog", err), discovered
	}

	diff := drift.Diff(baseline, &configured, disc.Catalog)
	changes := drift.Classify(diff, &configured, disc.Catalog)
	if diff.IsEmpty() && len(changes) == 0 {
		if err := o.store.ObservationRecord(ctx, c.ID, c.CatalogVersion, learned, baselineID, hash); err != nil {
			return fail("record observation", err), discovered
		}
		return r, discovered
	}
	r.Drift, r.Breaking, r.Diff, r.Summary, r.Changes = true, diff.HasBreakingChange(), &diff, drift.Summary(diff), changes
	if r.Summary == "" {
		r.Summary = changesSummary(changes)
	}
	if err := o.record(ctx, c, &r, &configured, disc, hash, learned, baselineID); err != nil {
		return fail("record drift", err), discovered
	}
	if r.New {
		action := ""
		if r.Decision != nil {
			action = r.Decision.Action
		}
		log.Info("schema drift detected", zap.Bool("breaking", r.Breaking), zap.String("summary", r.Summary),
			zap.String("action", action), zap.String("repair_request_id", r.RepairRequestID))
	}
	return r, discovered
}

// orphaned reports whether err, the failure of an Airbyte call of c's
// check, says Airbyte does not know c; if so, c is marked ORPHANED (once,
// whoever found it first) and r says so. Later passes skip c: only ACTIVE
// and PAUSED connections are checked.
func (o *Observer) orphaned(ctx context.Context, c registry.Connection, r *Result, err error) bool {
	orph, ok := o.orphans.Find(ctx, app.RefOf(c), err)
	if !ok {
		return false
	}
	got, err := o.orphans.Mark(ctx, app.RefOf(c), orph, nil)
	if err != nil {
		r.Error = err.Error()
		return true
	}
	r.Orphaned, r.Skipped = true, "connection is "+string(got.Status)+" ("+got.StatusReason+")"
	return true
}

// errVersionMoved ends a check whose connection changed version meanwhile.
var errVersionMoved = errors.New("catalog version changed during the check")

// record stores a drift once and queues its drift.detected fact in the
// outbox, in one transaction holding the connection's row lock. When the
// policy heals the drift, the repair request's id is recorded with it, and
// the request is then published to JetStream (with that id as Nats-Msg-Id)
// and marked published; a check that finds the drift recorded but its
// request not published publishes it again. The request does not go
// through the outbox: every role's relay publishes the outbox, and only the
// observer may publish repair requests.
func (o *Observer) record(ctx context.Context, c registry.Connection, r *Result, configured *airbyte.AirbyteCatalog,
	disc *airbyte.SourceDiscoverSchemaRead, hash string, learned []registry.StreamName, baselineID string) error {
	diffJSON, err := json.Marshal(r.Diff)
	if err != nil {
		return err
	}
	changesJSON, err := json.Marshal(r.Changes)
	if err != nil {
		return err
	}
	key := c.ID + "/" + strconv.Itoa(c.CatalogVersion) + "/" + hash
	r.DriftID = DriftID(c.CatalogVersion, hash)
	driftEventID := events.DeterministicID(Source, key, events.TypeDriftDetected)
	fully := o.cfg.Propagate == PropagateFully
	heal := o.cfg.Heal == HealNonBreaking && !r.Breaking
	var outcome *drift.Outcome
	var decisionsJSON json.RawMessage
	if o.cfg.Heal == HealPolicy {
		oc, err := o.decide(ctx, c, r.Changes)
		if err != nil {
			return err
		}
		outcome = &oc
		if decisionsJSON, err = json.Marshal(oc.Decisions); err != nil {
			return err
		}
		r.Decision = &events.DriftDecision{Action: string(oc.Action), RuleID: oc.RuleID, PolicyVersion: oc.PolicyVersion,
			Decisions: decisionsJSON}
		heal = oc.Action == drift.ActionPropagate
		fully = propagatesStreams(oc)
	}
	var repair json.RawMessage
	if heal && healChanges(*r.Diff, fully) {
		healed := HealCatalog(configured, disc.Catalog, *r.Diff, fully)
		if len(healed.Streams) > 0 {
			if repair, err = json.Marshal(healed); err != nil {
				return err
			}
		}
	}
	reason := "schema drift: " + r.Summary
	if outcome != nil {
		rule := fmt.Sprintf(" (policy v%d, rule %s)", r.Decision.PolicyVersion, cmpOr(outcome.RuleID, "none"))
		reason = schemas.Truncate(reason, maxReason-len([]rune(rule))) + rule
	}
	reason = schemas.Truncate(reason, maxReason)
	publish, pause := false, false
	err = o.store.InTx(ctx, func(q *registry.Queries) error {
		cur, err := q.ConnectionGetForUpdate(ctx, c.ID)
		if err != nil {
			return err
		}
		if cur.CatalogVersion != c.CatalogVersion {
			return errVersionMoved
		}
		d := registry.Drift{ConnectionID: c.ID, CatalogVersion: c.CatalogVersion, DiscoveredHash: hash,
			SourceCatalogID: disc.CatalogID, Breaking: r.Breaking, Diff: diffJSON, Changes: changesJSON}
		if repair != nil && cur.Status == registry.StatusActive {
			d.RepairRequestID = events.DeterministicID(Source, key, events.TypeRepairRequested)
		}
		if outcome != nil {
			d.Action, d.RuleID, d.PolicyVersion, d.Decisions = string(outcome.Action), outcome.RuleID, r.Decision.PolicyVersion, decisionsJSON
			d.Status = driftStatus(outcome.Action, d.RepairRequestID != "")
		}
		inserted, err := q.DriftInsert(ctx, d)
		if err != nil {
			return err
		}
		if err := q.ObservationRecord(ctx, c.ID, c.CatalogVersion, learned, baselineID, hash); err != nil {
			return err
		}
		if !inserted {
			known, err := q.DriftGet(ctx, c.ID, c.CatalogVersion, hash)
			if err != nil {
				return err
			}
			r.RepairRequestID = known.RepairRequestID
			if known.Action != "" {
				r.Decision = &events.DriftDecision{Action: known.Action, RuleID: known.RuleID, PolicyVersion: known.PolicyVersion,
					Decisions: known.Decisions}
			} else if outcome != nil {
				r.Decision = nil
			}
			publish = repair != nil && known.RepairRequestID != "" && known.RepairPublishedAt == nil
			return nil
		}
		r.New, r.RepairRequestID, publish = true, d.RepairRequestID, d.RepairRequestID != ""
		data := events.DriftDetected{ConnectionID: c.ID, CatalogVersion: c.CatalogVersion, Breaking: r.Breaking, Diff: diffJSON,
			DriftID: r.DriftID, Changes: changesJSON, Decision: r.Decision}
		fact, err := events.New(events.TypeDriftDetected, Source, data, events.WithID(driftEventID), events.WithSubject(c.ID))
		if err != nil {
			return err
		}
		if err := outbox.Queue(ctx, q, events.SubjectDriftDetected, fact); err != nil {
			return err
		}
		if outcome == nil {
			return nil
		}
		switch {
		case outcome.Action == drift.ActionPause && cur.Status == registry.StatusActive:
			if _, err := q.ConnectionSetStatus(ctx, c.ID, registry.StatusPaused, reason); err != nil {
				return err
			}
			pause = true
			return outbox.EmitKeyed(ctx, q, events.TypeConnectionPaused, Source, key, c.ID, driftEventID,
				events.ConnectionPaused{ConnectionID: c.ID, CatalogVersion: c.CatalogVersion, DriftID: r.DriftID, Reason: reason,
					Decision: *r.Decision})
		case outcome.Action == drift.ActionRequireApproval:
			return outbox.EmitKeyed(ctx, q, events.TypeApprovalRequested, Source, key, c.ID, driftEventID,
				events.ApprovalRequested{ConnectionID: c.ID, CatalogVersion: c.CatalogVersion, DriftID: r.DriftID, Summary: r.Summary,
					Changes: changesJSON, Decision: *r.Decision})
		}
		return nil
	})
	if errors.Is(err, errVersionMoved) {
		r.Drift, r.Diff, r.Summary, r.Breaking, r.Changes, r.Decision = false, nil, "", false, nil, nil
		r.Skipped = errVersionMoved.Error()
		return nil
	}
	if err != nil {
		return err
	}
	if pause {
		cur := c
		cur.Status = registry.StatusPaused
		if err := o.finishPause(ctx, cur); err != nil {
			return fmt.Errorf("pause the Airbyte connection (retried on the next check): %w", err)
		}
	}
	if !publish {
		return nil
	}
	req, err := events.New(events.TypeRepairRequested, Source, events.RepairRequested{
		ConnectionID: c.ID, NewSyncCatalog: repair, Reason: reason, SourceSchemaHash: hash,
	}, events.WithID(r.RepairRequestID), events.WithSubject(c.ID))
	if err != nil {
		return err
	}
	if _, err := o.pub.Publish(ctx, events.SubjectRepairRequest, req, events.Binary); err != nil {
		return fmt.Errorf("publish repair request (published on the next check): %w", err)
	}
	return o.store.DriftRepairPublished(ctx, c.ID, c.CatalogVersion, hash, time.Now())
}

// healChanges reports whether healing a drift changes the connection's
// catalog: a configured stream changed or went away, or (fully) the source
// added streams. A drift of unselected streams only changes nothing.
func healChanges(d airbyte.CatalogDiff, fully bool) bool {
	for _, t := range d.Transforms {
		switch t.TransformType {
		case airbyte.TransformUpdateStream, airbyte.TransformRemoveStream:
			return true
		case airbyte.TransformAddStream:
			if fully {
				return true
			}
		}
	}
	return false
}

func streamDescriptors(c *airbyte.AirbyteCatalog) []airbyte.StreamDescriptor {
	out := []airbyte.StreamDescriptor{}
	for _, s := range drift.Streams(c) {
		out = append(out, airbyte.StreamDescriptor{Name: s.Stream.Name, Namespace: s.Stream.Namespace})
	}
	return out
}

func descriptors(ns []registry.StreamName) []airbyte.StreamDescriptor {
	out := make([]airbyte.StreamDescriptor, len(ns))
	for i, n := range ns {
		out[i] = airbyte.StreamDescriptor{Name: n.Name, Namespace: n.Namespace}
	}
	return out
}

func names(ds []airbyte.StreamDescriptor) []registry.StreamName {
	out := make([]registry.StreamName, len(ds))
	for i, d := range ds {
		out[i] = registry.StreamName{Name: d.Name, Namespace: d.Namespace}
	}
	return out
}
