// Package gatewaytest runs a small AAM for tests of the edges (gateway,
// CLI, nats CLI recipes): an in-process NATS server with AAM's streams, a
// registry schema on the test PostgreSQL, the outbox relay, and simulated
// onboarding, sync and repair workers built on the real worker runtime
// (bus.Serve) that write the registry and emit their facts through the
// outbox as the real workers do.
package gatewaytest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/observer"
)

// WorkerSource is the CloudEvent source of the simulated workers' facts.
const WorkerSource = "/aam/test-worker"

// Credential ids the simulated onboarding worker treats specially.
const (
	// CredentialMissing makes onboarding fail at the credentials step.
	CredentialMissing = "missing-credential"
)

// Options tune Start.
type Options struct {
	// NoWorkers leaves the request streams unconsumed: requests stay
	// pending.
	NoWorkers bool
	// SyncGate, when set, holds every simulated sync job between
	// sync.started and its terminal fact until a value is received.
	SyncGate chan struct{}
	// Verbose logs the workers' and the relay's lines to the test log.
	Verbose bool
}

// Mesh is a running test mesh. Everything stops when the test ends.
type Mesh struct {
	T        testing.TB
	NATS     *server.Server
	StoreDir string
	Port     int
	NC       *nats.Conn
	JS       jetstream.JetStream
	Schema   *dbtest.Schema
	Store    *registry.Store
	Ctx      context.Context
	Log      *zap.Logger

	opts   Options
	jobSeq atomic.Int64
}

// Start starts a mesh.
func Start(tb testing.TB, opts ...Options) *Mesh {
	tb.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	m := &Mesh{T: tb, opts: o, StoreDir: tb.TempDir(), Log: zap.NewNop()}
	if o.Verbose {
		m.Log = zaptest.NewLogger(tb)
	}
	m.NATS = bustest.NewServerAt(tb, m.StoreDir, -1)
	m.Port = m.NATS.Addr().(*net.TCPAddr).Port
	m.NC, m.JS = bustest.Connect(tb, m.NATS)
	ctx, cancel := context.WithCancel(context.Background())
	m.Ctx = ctx
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if err := bus.Provision(pctx, m.JS, bus.StreamsConfig{}); err != nil {
		tb.Fatalf("gatewaytest: provision: %v", err)
	}
	m.Schema = dbtest.NewSchema(tb)
	m.Store = registry.NewStore(m.Schema.Pool)

	var wg sync.WaitGroup
	tb.Cleanup(func() { cancel(); wg.Wait() })
	// Advisory locks are database-wide: each mesh's relay takes its own.
	relay := outbox.NewRelay(m.Store, m.JS, outbox.RelayConfig{
		PollInterval: 20 * time.Millisecond, LockID: rand.Int64(), Logger: m.Log})
	wg.Go(func() { _ = relay.Run(ctx) })
	if !o.NoWorkers {
		rt := bus.Runtime{JS: m.JS, Logger: m.Log, Ledger: outbox.NewLedger(m.Store, WorkerSource),
			Validate: bus.SchemaValidator(), Source: WorkerSource, SoftStop: time.Second}
		routes := []func(context.Context) error{
			workerRoute(rt, "onboarding", events.SubjectOnboardRequest, events.TypeOnboardRequested, m.onboard),
			workerRoute(rt, "sync", events.SubjectSyncRequest, events.TypeSyncRequested, m.sync),
			func(ctx context.Context) error {
				return bus.Serve(ctx, rt, observer.PolicyRoute(m.Store))
			},
			workerRoute(rt, "onboarding-delete", events.SubjectDeleteRequest, events.TypeDeleteRequested, m.delete),
			workerRoute(rt, "sync-release", events.SubjectReleaseRequest, events.TypeReleaseRequested, m.release),
			workerRoute(rt, "repair", events.SubjectRepairRequest, events.TypeRepairRequested, m.repair),
		}
		for _, serve := range routes {
			wg.Go(func() {
				if err := serve(ctx); err != nil && ctx.Err() == nil {
					tb.Errorf("gatewaytest: worker: %v", err)
				}
			})
		}
	}
	return m
}

// Deps returns dependencies for a role of the mesh, with a fresh metrics
// registry.
func (m *Mesh) Deps() *app.Deps {
	return &app.Deps{Role: "test", Log: m.Log, Metrics: observability.NewRegistry(), Store: m.Store, NC: m.NC, JS: m.JS}
}

// Gateway starts a gateway on the mesh behind an httptest server. Zero
// fields of cfg take gateway.DefaultConfig's values (SeedWait included;
// callers ask ?wait=0 for no wait), but PollInterval, 200 ms.
func (m *Mesh) Gateway(cfg gateway.Config) (*gateway.Server, *httptest.Server) {
	m.T.Helper()
	def := gateway.DefaultConfig()
	if cfg.Addr == "" {
		cfg.Addr = def.Addr
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = def.MaxBodyBytes
	}
	if cfg.WaitMax == 0 {
		cfg.WaitMax = def.WaitMax
	}
	if cfg.SeedWait == 0 {
		cfg.SeedWait = def.SeedWait
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = def.PublishTimeout
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = def.Heartbeat
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	srv, err := gateway.New(cfg, m.Deps())
	if err != nil {
		m.T.Fatalf("gatewaytest: gateway: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Start()
	// Cleanups run last-in first-out: the gateway ends its streams before
	// the test server waits for its handlers.
	m.T.Cleanup(ts.Close)
	m.T.Cleanup(srv.Close)
	return srv, ts
}

// StopNATS shuts the NATS server down (its store stays).
func (m *Mesh) StopNATS() {
	m.NATS.Shutdown()
	m.NATS.WaitForShutdown()
}

// RestartNATS starts the server again on the same port and store, and
// waits until the mesh's connection is back.
func (m *Mesh) RestartNATS() {
	m.T.Helper()
	m.NATS = bustest.NewServerAt(m.T, m.StoreDir, m.Port)
	deadline := time.Now().Add(10 * time.Second)
	for !m.NC.IsConnected() {
		if time.Now().After(deadline) {
			m.T.Fatalf("gatewaytest: connection not back after NATS restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL is the NATS client URL.
func (m *Mesh) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", m.Port) }

// AddConnection registers an ACTIVE connection at catalog version 1, as
// if it had been onboarded, with the given id (a new one when empty).
func (m *Mesh) AddConnection(id, name string) registry.Connection {
	m.T.Helper()
	if id == "" {
		id = registry.NewID()
	}
	var c registry.Connection
	err := m.Store.InTx(m.Ctx, func(q *registry.Queries) error {
		var err error
		c, _, err = q.ConnectionCreate(m.Ctx, registry.ConnectionCreateParams{ID: id, Name: name, SourceType: "Salesforce",
			CredentialID: "salesforce-prod", RequestSource: "/test/fixture", RequestID: id})
		if err != nil {
			return err
		}
		if _, err := q.ConnectionSaveCheckpoint(m.Ctx, id, registry.ConnectionCheckpoint{Step: "done",
			AirbyteSourceID: deriveID(id, "source"), AirbyteConnectionID: deriveID(id, "connection")}); err != nil {
			return err
		}
		if _, err := q.CatalogVersionCreate(m.Ctx, registry.CatalogVersionCreateParams{ConnectionID: id, VersionNumber: 1,
			SyncCatalog: Catalog("Account", "Contact"), Reason: "onboarded", RequestSource: "/test/fixture", RequestID: id}); err != nil {
			return err
		}
		c, err = q.ConnectionActivate(m.Ctx, id, 1, "")
		return err
	})
	if err != nil {
		m.T.Fatalf("gatewaytest: add connection: %v", err)
	}
	return c
}

// SetHealth gives a connection a run of n failed syncs, as the sync worker
// records them: warned about when warned, and QUARANTINED with reason when
// reason is set.
func (m *Mesh) SetHealth(id string, n int, warned bool, reason string) {
	m.T.Helper()
	var h registry.Health
	var err error
	for range n {
		if h, err = m.Store.HealthFailed(m.Ctx, id); err != nil {
			m.T.Fatalf("gatewaytest: health: %v", err)
		}
	}
	if warned {
		if _, err := m.Store.HealthWarn(m.Ctx, id, h.Episode); err != nil {
			m.T.Fatalf("gatewaytest: health warning: %v", err)
		}
	}
	if reason != "" {
		if ok, err := m.Store.HealthQuarantine(m.Ctx, id, h.Episode, reason); err != nil || !ok {
			m.T.Fatalf("gatewaytest: quarantine: %v (quarantined: %v)", err, ok)
		}
	}
}

// Catalog builds a sync catalog in the Airbyte protocol form with the given
// streams, each with an Id and a Name field.
func Catalog(streams ...string) json.RawMessage {
	type stream struct {
		Stream              map[string]any `json:"stream"`
		SyncMode            string         `json:"sync_mode"`
		DestinationSyncMode string         `json:"destination_sync_mode"`
	}
	var c struct {
		Streams []stream `json:"streams"`
	}
	for _, s := range streams {
		c.Streams = append(c.Streams, stream{
			Stream: map[string]any{"name": s, "json_schema": map[string]any{"type": "object", "properties": map[string]any{
				"Id": map[string]any{"type": "string"}, "Name": map[string]any{"type": "string"}}},
				"supported_sync_modes": []string{"full_refresh", "incremental"}},
			SyncMode: "full_refresh", DestinationSyncMode: "overwrite"})
	}
	b, _ := json.Marshal(c)
	return b
}

func deriveID(id, what string) string {
	return events.DeterministicID("/test/airbyte", id, what)
}

// workerRoute serves one worker's requests on subject with handle, as
// the mesh's stand-in workers do: a short ack wait and three deliveries.
func workerRoute[T any](rt bus.Runtime, consumer, subject, typ string, handle bus.Handler[T]) func(context.Context) error {
	return func(ctx context.Context) error {
		return bus.Serve(ctx, rt, bus.Route[T]{Consumer: consumer, Subject: subject, Type: typ, Handle: handle,
			AckWait: 5 * time.Second, MaxDeliver: 3})
	}
}

// onboard creates the connection, its first catalog version and the
// onboarded fact, or fails at the credentials step for CredentialMissing.
func (m *Mesh) onboard(ctx context.Context, ev bus.Event[events.OnboardRequested]) error {
	d := ev.Data
	return m.Store.InTx(ctx, func(q *registry.Queries) error {
		failed := d.CredentialID == CredentialMissing
		outcome := registry.OutcomeDone
		if failed {
			outcome = registry.OutcomeFailed
		}
		inserted, err := q.InboxInsert(ctx, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: outcome})
		if err != nil || !inserted {
			return err
		}
		c, _, err := q.ConnectionCreate(ctx, registry.ConnectionCreateParams{ID: registry.NewID(), Name: d.ConnectionName,
			SourceType: d.SourceType, CredentialID: d.CredentialID, RequestSource: ev.Source, RequestID: ev.ID,
			RequestedStreams: d.Streams})
		if err != nil {
			return err
		}
		if failed {
			reason := fmt.Sprintf("credential %q is not in the credential broker", d.CredentialID)
			if _, err := q.ConnectionSetStatus(ctx, c.ID, registry.StatusFailed, reason); err != nil {
				return err
			}
			return outbox.Emit(ctx, q, events.TypeOnboardFailed, WorkerSource, c.ID, outbox.RequestOf(ev), events.OnboardFailed{
				ID: c.ID, Name: c.Name, SourceType: c.SourceType, Status: events.StatusFailed, Step: "credentials", Reason: reason})
		}
		if _, err := q.ConnectionSaveCheckpoint(ctx, c.ID, registry.ConnectionCheckpoint{Step: "done",
			AirbyteSourceID: deriveID(c.ID, "source"), AirbyteConnectionID: deriveID(c.ID, "connection")}); err != nil {
			return err
		}
		streams := d.Streams
		if len(streams) == 0 {
			streams = []string{"Account", "Contact"}
		}
		if _, err := q.CatalogVersionCreate(ctx, registry.CatalogVersionCreateParams{ConnectionID: c.ID, VersionNumber: 1,
			SyncCatalog: Catalog(streams...), Reason: "onboarded", RequestSource: ev.Source, RequestID: ev.ID}); err != nil {
			return err
		}
		c, err = q.ConnectionActivate(ctx, c.ID, 1, "")
		if err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeOnboarded, WorkerSource, c.ID, outbox.RequestOf(ev), events.ConnectionOnboarded{
			ID: c.ID, Name: c.Name, SourceType: c.SourceType, Status: string(c.Status), AirbyteSourceID: c.AirbyteSourceID,
			AirbyteConnectionID: c.AirbyteConnectionID, CreatedAt: c.CreatedAt.UTC(), CatalogVersion: 1, Streams: streams})
	})
}

// lockRequested locks the row of a request's connection and records the
// request done in the inbox, in q's transaction: an unknown connection is
// refused, and first is false when the request was done before.
func lockRequested[T any](ctx context.Context, q *registry.Queries, ev bus.Event[T], id string) (c registry.Connection, first bool, err error) {
	c, err = q.ConnectionGetForUpdate(ctx, id)
	if registry.IsNotFound(err) {
		return c, false, bus.Permanentf("connection %s is not registered", id)
	}
	if err != nil {
		return c, false, err
	}
	first, err = q.InboxInsert(ctx, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone})
	return c, first, err
}

// delete marks the connection DELETED and emits connection.deleted, once
// per request, as the onboarding worker does after its Airbyte deletes.
func (m *Mesh) delete(ctx context.Context, ev bus.Event[events.DeleteRequested]) error {
	id := ev.Data.ConnectionID
	return m.Store.InTx(ctx, func(q *registry.Queries) error {
		c, first, err := lockRequested(ctx, q, ev, id)
		if err != nil || !first {
			return err
		}
		previous := c.Status
		if c, err = q.ConnectionSetStatus(ctx, id, registry.StatusDeleted, cmp.Or(ev.Data.Reason, "deleted on request")); err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeConnectionDeleted, WorkerSource, id, outbox.RequestOf(ev), events.ConnectionDeleted{
			ConnectionID: id, Name: c.Name, Status: string(c.Status), PreviousStatus: string(previous),
			AirbyteSourceID: c.AirbyteSourceID, AirbyteConnectionID: c.AirbyteConnectionID, Reason: c.StatusReason})
	})
}

// release makes a QUARANTINED connection ACTIVE with connection.released,
// once per request, as the sync worker does after its Airbyte call; any
// other status is refused.
func (m *Mesh) release(ctx context.Context, ev bus.Event[events.ReleaseRequested]) error {
	id := ev.Data.ConnectionID
	return m.Store.InTx(ctx, func(q *registry.Queries) error {
		c, first, err := lockRequested(ctx, q, ev, id)
		if err != nil || !first {
			return err
		}
		if c.Status != registry.StatusQuarantined {
			return bus.Permanentf("connection %s is %s, not QUARANTINED", id, c.Status)
		}
		before, _, err := q.HealthRelease(ctx, id)
		if err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeReleased, WorkerSource, id, outbox.RequestOf(ev), events.ConnectionReleased{
			ConnectionID: id, Status: string(registry.StatusActive), PreviousStatus: string(c.Status),
			ConsecutiveFailures: before.ConsecutiveFailures, Reason: ev.Data.Reason})
	})
}

// sync starts a job (sync.started), then, after SyncGate if any, ends it
// (sync.succeeded). An unknown or inactive connection gets sync.failed.
func (m *Mesh) sync(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
	id := ev.Data.ConnectionID
	var job registry.Job
	var started bool
	err := m.Store.InTx(ctx, func(q *registry.Queries) error {
		c, err := q.ConnectionGetForUpdate(ctx, id)
		if err != nil && !registry.IsNotFound(err) {
			return err
		}
		notFound := registry.IsNotFound(err)
		reason := ""
		switch {
		case notFound:
			reason = "connection " + id + " is not registered"
		case c.Status != registry.StatusActive:
			reason = fmt.Sprintf("connection %s is %s, not ACTIVE", id, c.Status)
		}
		outcome := registry.OutcomeDone
		if reason != "" {
			outcome = registry.OutcomeFailed
		}
		inserted, err := q.InboxInsert(ctx, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: outcome, Reason: reason})
		if err != nil || !inserted {
			return err
		}
		if reason != "" {
			subject := id
			if notFound {
				subject = ""
			}
			return outbox.Emit(ctx, q, events.TypeSyncFailed, WorkerSource, subject, outbox.RequestOf(ev), events.SyncFinished{
				ConnectionID: id, Status: events.JobFailed, ErrorMessage: reason})
		}
		now := time.Now().UTC()
		job, _, err = q.JobCreate(ctx, registry.JobCreateParams{ConnectionID: id, AirbyteJobID: fmt.Sprint(1000 + m.jobSeq.Add(1)),
			Status: registry.JobRunning, CatalogVersion: c.CatalogVersion, StartedAt: &now})
		if err != nil {
			return err
		}
		started = true
		return outbox.Emit(ctx, q, events.TypeSyncStarted, WorkerSource, id, outbox.RequestOf(ev), events.SyncStarted{
			ConnectionID: id, JobID: job.AirbyteJobID, Status: "triggered", Message: "Sync job started successfully",
			CatalogVersion: c.CatalogVersion, StartedAt: now})
	})
	if err != nil || !started {
		return err
	}
	if m.opts.SyncGate != nil {
		select {
		case <-m.opts.SyncGate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return m.Store.InTx(context.WithoutCancel(ctx), func(q *registry.Queries) error {
		if _, err := q.ConnectionGetForUpdate(ctx, id); err != nil {
			return err
		}
		done := time.Now().UTC()
		job, err := q.JobUpdate(ctx, job.ID, registry.JobUpdateParams{Status: registry.JobSucceeded, CompletedAt: &done,
			RowsSynced: 42, BytesSynced: 4096})
		if err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeSyncSucceeded, WorkerSource, id, outbox.RequestOf(ev), events.SyncFinished{
			ConnectionID: id, JobID: job.AirbyteJobID, Status: events.JobSucceeded, CatalogVersion: job.CatalogVersion,
			RowsSynced: job.RowsSynced, BytesSynced: job.BytesSynced, DurationMS: done.Sub(*job.StartedAt).Milliseconds(),
			StartedAt: job.StartedAt, CompletedAt: job.CompletedAt})
	})
}

// repair records the catalog as the next version (catalog.versioned), or
// fails for an unknown connection (repair_failed).
func (m *Mesh) repair(ctx context.Context, ev bus.Event[events.RepairRequested]) error {
	d := ev.Data
	return m.Store.InTx(ctx, func(q *registry.Queries) error {
		c, err := q.ConnectionGetForUpdate(ctx, d.ConnectionID)
		if err != nil && !registry.IsNotFound(err) {
			return err
		}
		missing := registry.IsNotFound(err)
		outcome := registry.OutcomeDone
		if missing {
			outcome = registry.OutcomeFailed
		}
		inserted, err := q.InboxInsert(ctx, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: outcome})
		if err != nil || !inserted {
			return err
		}
		if missing {
			return outbox.Emit(ctx, q, events.TypeRepairFailed, WorkerSource, "", outbox.RequestOf(ev), events.RepairFailed{
				ConnectionID: d.ConnectionID, Reason: "connection " + d.ConnectionID + " is not registered", Field: "connection_id"})
		}
		prev := c.CatalogVersion
		v, err := q.CatalogVersionCreate(ctx, registry.CatalogVersionCreateParams{ConnectionID: c.ID, VersionNumber: prev + 1,
			SyncCatalog: d.NewSyncCatalog, Reason: d.Reason, RequestSource: ev.Source, RequestID: ev.ID})
		if err != nil {
			return err
		}
		if _, err := q.ConnectionActivate(ctx, c.ID, v.VersionNumber, ""); err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeCatalogVersioned, WorkerSource, c.ID, outbox.RequestOf(ev), events.CatalogVersioned{
			ConnectionID: c.ID, PreviousVersion: prev, NewVersion: v.VersionNumber, Status: "success",
			Message: "Catalog updated and versioned successfully", ContentHash: v.ContentHash, Reason: d.Reason})
	})
}
