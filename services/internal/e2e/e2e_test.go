// Package e2e_test runs AAM's workflows end to end on real parts: PostgreSQL,
// an in-process JetStream, the credential broker, the Airbyte emulator and
// the onboard, sync and repair workers, driven only by request events and
// observed through completion events, the registry and Airbyte's state.
package e2e_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/observer"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/syncer"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// mesh is the whole pipeline in one test.
type mesh struct {
	*testenv.Env
	broker *testenv.Broker
	calls  *testenv.CallLog
}

func newMesh(t *testing.T) *mesh {
	t.Helper()
	return newMeshWith(t, meshOptions{})
}

// meshOptions tune newMeshWith.
type meshOptions struct {
	// Transport wraps the Airbyte client's transport, after the call log.
	Transport func(http.RoundTripper) http.RoundTripper
	// Redelivery is every worker's; a zero Backoff redelivers onboard and
	// repair requests after 20 ms.
	Redelivery bus.Redelivery
}

func newMeshWith(t *testing.T, o meshOptions) *mesh {
	t.Helper()
	calls := &testenv.CallLog{}
	rt := calls.Transport(nil)
	if o.Transport != nil {
		rt = o.Transport(rt)
	}
	env := testenv.New(t, testenv.Options{
		// Zero-duration jobs: a job is terminal the first time it is read.
		Emulator: emulator.Config{},
		Airbyte: airbyte.Config{HTTPClient: &http.Client{Transport: rt},
			BackoffBase: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond},
		NoRelay: true,
	})
	env.StartRelay()
	m := &mesh{Env: env, broker: env.StartBroker(), calls: calls}

	redelivery := o.Redelivery
	syncRedelivery := o.Redelivery
	if redelivery.Backoff == nil {
		redelivery.Backoff = func(uint64) time.Duration { return 20 * time.Millisecond }
	}
	ob, err := onboarding.New(env.Deps, env.Airbyte, m.broker.Client, onboarding.Config{
		WorkspaceID: env.Emulator.WorkspaceID(), DestinationID: env.Emulator.DestinationID(),
		Delivery: app.Delivery{Redelivery: redelivery}})
	require.NoError(t, err)
	sy, err := syncer.New(env.Deps, env.Airbyte, syncer.Config{Delivery: app.Delivery{Redelivery: syncRedelivery},
		PollInterval: 20 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	rp, err := repair.New(env.Deps, env.Airbyte, repair.Config{Delivery: app.Delivery{Redelivery: redelivery}})
	require.NoError(t, err)
	env.Go(ob.Run)
	env.Go(sy.Run)
	env.Go(rp.Run)
	return m
}

// answer waits for the fact of factType answering reqID and checks the
// attributes every completion event carries.
func (m *mesh) answer(t *testing.T, reqID, factType, source, connectionID string) event.Event {
	t.Helper()
	f := m.WaitFact(reqID, factType, 30*time.Second)
	require.Equal(t, reqID, events.CorrelationID(f), "correlationid")
	require.Equal(t, connectionID, f.Subject(), "subject")
	require.Equal(t, source, f.Source())
	require.Equal(t, events.DeterministicID("/test/"+t.Name(), reqID, factType), f.ID())
	require.NoError(t, schemas.Validate(factType, f.Data()))
	return f
}

// TestOnboardSyncRepairSync walks the seed's three documented requests and
// a second sync: onboard → sync (succeeded) → drift and repair → sync.
func TestOnboardSyncRepairSync(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	ctx := context.Background()

	// 1. Onboard (the seed's example, with a stream list).
	onboardID := m.Publish(events.TypeOnboardRequested, events.OnboardRequested{
		SourceType: "Salesforce", ConnectionName: "Salesforce Production",
		CredentialID: testenv.SalesforceCredentialID, Streams: []string{"Account", "Contact"}})
	connID := onboarding.ConnectionID("/test/"+t.Name(), onboardID)
	onboarded := m.answer(t, onboardID, events.TypeOnboarded, onboarding.Source, connID)
	conn, err := m.Store.ConnectionGet(ctx, connID)
	require.NoError(t, err)
	wantOnboarded := events.ConnectionOnboarded{
		ID: connID, Name: "Salesforce Production", SourceType: "Salesforce", Status: events.StatusActive,
		AirbyteSourceID: conn.AirbyteSourceID, AirbyteConnectionID: conn.AirbyteConnectionID,
		CreatedAt: conn.CreatedAt.UTC(), CatalogVersion: 1, Streams: []string{"Account", "Contact"},
	}
	if diff := cmp.Diff(wantOnboarded, testenv.Data[events.ConnectionOnboarded](t, onboarded)); diff != "" {
		t.Errorf("connection.onboarded (-want +got):\n%s", diff)
	}
	require.Len(t, m.Emulator.Sources(), 1)
	require.Equal(t, conn.AirbyteSourceID, m.Emulator.Sources()[0].ID)

	// 2. Sync at catalog version 1.
	sync1 := m.sync(t, connID, 1)

	// 3. The source drifts; the seed's repair applies a new catalog.
	require.NoError(t, m.Emulator.MutateSchema(conn.AirbyteSourceID,
		emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))
	repairID := m.Publish(events.TypeRepairRequested, events.RepairRequested{
		ConnectionID: connID, Reason: "Region__c added upstream",
		NewSyncCatalog: []byte(`{"streams": [
			{"stream": {"name": "Account", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
			 "sync_mode": "incremental", "destination_sync_mode": "append_dedup"},
			{"stream": {"name": "Contact", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
			 "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}`)})
	versioned := m.answer(t, repairID, events.TypeCatalogVersioned, repair.Source, connID)
	versions, err := m.Store.CatalogVersionList(ctx, connID)
	require.NoError(t, err)
	require.Len(t, versions, 2)
	wantVersioned := events.CatalogVersioned{ConnectionID: connID, PreviousVersion: 1, NewVersion: 2,
		Status: "success", Message: "Catalog updated and versioned successfully",
		ContentHash: versions[1].ContentHash, Reason: "Region__c added upstream"}
	gotVersioned := testenv.Data[events.CatalogVersioned](t, versioned)
	// The changes from version 1 ride along.
	require.Contains(t, gotVersioned.Summary, "Account: field Region__c added")
	require.Contains(t, string(gotVersioned.Changes), `"kind":"field_added"`)
	gotVersioned.CatalogChanges = events.CatalogChanges{}
	if diff := cmp.Diff(wantVersioned, gotVersioned); diff != "" {
		t.Errorf("catalog.versioned (-want +got):\n%s", diff)
	}
	require.Equal(t, []int{1, 2}, []int{versions[0].VersionNumber, versions[1].VersionNumber})
	require.Equal(t, onboardID, versions[0].RequestID)
	require.Equal(t, repairID, versions[1].RequestID)

	// 4. Sync at catalog version 2.
	sync2 := m.sync(t, connID, 2)
	require.NotEqual(t, sync1.AirbyteJobID, sync2.AirbyteJobID)

	// Registry: ACTIVE at version 2; job history linked to versions 1 and 2.
	conn, err = m.Store.ConnectionGet(ctx, connID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusActive, conn.Status)
	require.Equal(t, 2, conn.CatalogVersion)
	jobs, err := m.Store.JobListByConnection(ctx, connID, 10)
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	require.Equal(t, sync2.ID, jobs[0].ID)
	require.Equal(t, 2, jobs[0].CatalogVersion)
	require.Equal(t, sync1.ID, jobs[1].ID)
	require.Equal(t, 1, jobs[1].CatalogVersion)

	// Airbyte: one source, one connection with the repaired catalog, two
	// succeeded sync jobs.
	require.Len(t, m.Emulator.Sources(), 1)
	conns := m.Emulator.Connections()
	require.Len(t, conns, 1)
	ac := conns[0]
	require.Equal(t, conn.AirbyteConnectionID, ac.ID)
	require.Equal(t, conn.AirbyteSourceCatalogID, ac.SourceCatalogID)
	require.Len(t, ac.Streams, 2)
	require.Equal(t, "Account", ac.Streams[0].Stream.Name)
	require.Contains(t, ac.Streams[0].Stream.JSONSchema["properties"], "Region__c")
	require.Equal(t, "append_dedup", ac.Streams[0].Config.DestinationSyncMode)
	require.Equal(t, "Contact", ac.Streams[1].Stream.Name)
	require.Equal(t, "overwrite", ac.Streams[1].Config.DestinationSyncMode)
	var abJobs []emulator.JobSnapshot
	for _, j := range m.Emulator.Jobs() {
		if j.ConnectionID == ac.ID {
			abJobs = append(abJobs, j)
		}
	}
	require.Len(t, abJobs, 2)
	for _, j := range abJobs {
		require.Equal(t, "sync", j.JobType)
		require.Equal(t, "succeeded", j.Status)
	}

	// Every request got exactly its answers.
	for reqID, want := range map[string][]string{
		onboardID: {events.TypeOnboarded},
		repairID:  {events.TypeCatalogVersioned},
	} {
		var got []string
		for _, f := range m.Facts(reqID) {
			got = append(got, f.Type())
		}
		require.Equal(t, want, got, "facts answering %s", reqID)
	}
}

// sync requests a sync and checks its exact answers: sync.started then
// sync.succeeded, for a job linked to catalog version wantVersion.
func (m *mesh) sync(t *testing.T, connID string, wantVersion int) registry.Job {
	t.Helper()
	ctx := context.Background()
	reqID := m.Publish(events.TypeSyncRequested, events.SyncRequested{ConnectionID: connID})
	started := m.answer(t, reqID, events.TypeSyncStarted, syncer.Source, connID)
	succeeded := m.answer(t, reqID, events.TypeSyncSucceeded, syncer.Source, connID)

	jr, err := m.Store.JobRequestGet(ctx, "/test/"+t.Name(), reqID)
	require.NoError(t, err)
	job, err := m.Store.JobGet(ctx, jr.JobID)
	require.NoError(t, err)
	require.Equal(t, registry.JobSucceeded, job.Status)
	require.Equal(t, wantVersion, job.CatalogVersion)
	require.NotNil(t, job.StartedAt)
	require.NotNil(t, job.CompletedAt)

	startedAt := job.CreatedAt
	if job.StartedAt != nil {
		startedAt = *job.StartedAt
	}
	wantStarted := events.SyncStarted{ConnectionID: connID, JobID: job.AirbyteJobID, Status: "triggered",
		Message: "Sync job started successfully", CatalogVersion: wantVersion, StartedAt: startedAt.UTC()}
	if diff := cmp.Diff(wantStarted, testenv.Data[events.SyncStarted](t, started)); diff != "" {
		t.Errorf("sync.started (-want +got):\n%s", diff)
	}
	s, c := job.StartedAt.UTC(), job.CompletedAt.UTC()
	wantDone := events.SyncFinished{ConnectionID: connID, JobID: job.AirbyteJobID, Status: events.JobSucceeded,
		CatalogVersion: wantVersion, RowsSynced: job.RowsSynced, BytesSynced: job.BytesSynced,
		DurationMS: max(0, c.Sub(s).Milliseconds()), StartedAt: &s, CompletedAt: &c}
	if diff := cmp.Diff(wantDone, testenv.Data[events.SyncFinished](t, succeeded)); diff != "" {
		t.Errorf("sync.succeeded (-want +got):\n%s", diff)
	}
	found := false
	for _, j := range m.Emulator.Jobs() {
		if job.AirbyteJobID == strconv.FormatInt(j.ID, 10) {
			found = true
			require.Equal(t, "succeeded", j.Status)
			require.Equal(t, j.Rows, job.RowsSynced)
			require.Equal(t, j.Bytes, job.BytesSynced)
			require.Positive(t, j.Rows)
		}
	}
	require.True(t, found, "Airbyte job %s", job.AirbyteJobID)
	var types []string
	for _, f := range m.Facts(reqID) {
		types = append(types, f.Type())
	}
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, types)
	return job
}

// TestConnectionUnknownToAirbyte onboards a connection, then makes its
// Airbyte forget everything (the emulator's /_emulator/reset: an Airbyte
// whose database was replaced), and sends sync requests (one of them
// twice), a repair request and an observer pass to two instances of each
// worker. The first call that meets Airbyte's 404 marks the connection
// ORPHANED, once, with one connection.orphaned; every request is answered
// once, failed with the reason, without another Airbyte call and without
// redeliveries; deleting the connection still works.
func TestConnectionUnknownToAirbyte(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := testenv.New(t, testenv.Options{NoRelay: true})
	env.StartBroker()
	calls := &testenv.CallLog{}
	abCfg := airbyte.Config{HTTPClient: &http.Client{Transport: calls.Transport(nil)}}
	deps, ab := startInstanceWith(t, env, "instance-1", abCfg)
	_, ab2 := startInstanceWith(t, env, "instance-2", abCfg)
	source := "/test/" + t.Name()

	onboard := newRequest(t, events.TypeOnboardRequested, source, events.OnboardRequested{
		SourceType: "Salesforce", ConnectionName: "Salesforce Forgotten",
		CredentialID: testenv.SalesforceCredentialID, Streams: []string{"Account", "Contact"}})
	publishStored(ctx, t, env.JS, onboard)
	env.WaitFact(onboard.ID(), events.TypeOnboarded, 30*time.Second)
	conn := env.Connection(onboarding.ConnectionID(source, onboard.ID()))
	first := newRequest(t, events.TypeSyncRequested, source, events.SyncRequested{ConnectionID: conn.ID})
	publishStored(ctx, t, env.JS, first)
	env.WaitFact(first.ID(), events.TypeSyncSucceeded, 30*time.Second)

	resp, err := http.Post(strings.TrimSuffix(env.AirbyteURL, "/api/public/v1")+"/_emulator/reset", "application/json", nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	// The reset also expired the clients' tokens: let them fetch new ones
	// now, so that the calls counted below are answered at once.
	for _, c := range []*airbyte.Client{ab, ab2} {
		_, err := c.GetWorkspace(ctx, env.Emulator.WorkspaceID())
		require.NoError(t, err)
	}
	require.Zero(t, calls.Status(http.StatusNotFound), "no 404 before Airbyte forgot")
	startsBefore := calls.Count(http.MethodPost, "/api/public/v1/jobs")

	// Sync requests, the first of them published twice (a copy the stream
	// stores again: both instances may take one).
	var syncs []string
	for i := range 6 {
		ev := newRequest(t, events.TypeSyncRequested, source, events.SyncRequested{ConnectionID: conn.ID})
		publishStored(ctx, t, env.JS, ev)
		if i == 0 {
			publishCopy(ctx, t, env.JS, ev)
		}
		syncs = append(syncs, ev.ID())
	}
	for _, id := range syncs {
		failed := testenv.Data[events.SyncFinished](t, env.WaitFact(id, events.TypeSyncFailed, 30*time.Second))
		require.Contains(t, failed.ErrorMessage, "is ORPHANED")
		require.Contains(t, failed.ErrorMessage, "Airbyte does not know connection "+conn.AirbyteConnectionID)
	}

	// One 404, one mark, one fact.
	require.Equal(t, 1, calls.Status(http.StatusNotFound), "one Airbyte call answered 404: %v", calls.Answered(http.StatusNotFound))
	require.Equal(t, startsBefore+1, calls.Count(http.MethodPost, "/api/public/v1/jobs"), "one sync start asked")
	got := env.Connection(conn.ID)
	require.Equal(t, registry.StatusOrphaned, got.Status)
	wantReason := "Airbyte does not know connection " + conn.AirbyteConnectionID + ": POST /api/public/v1/jobs answered 404"
	require.Equal(t, wantReason, got.StatusReason)
	orphaned := env.FactsAbout(events.TypeConnectionOrphaned, conn.ID)
	require.Len(t, orphaned, 1)
	fact := orphaned[0]
	require.NoError(t, schemas.Validate(events.TypeConnectionOrphaned, fact.Data()))
	require.Equal(t, syncer.Source, fact.Source())
	require.Contains(t, syncs, events.CorrelationID(fact), "the request whose call met the 404")
	require.Equal(t, events.ConnectionOrphaned{
		ConnectionID: conn.ID, Name: "Salesforce Forgotten", Status: "ORPHANED", PreviousStatus: "ACTIVE",
		AirbyteConnectionID: conn.AirbyteConnectionID, AirbyteSourceID: conn.AirbyteSourceID,
		Resource: "connection", ResourceID: conn.AirbyteConnectionID, Call: "POST /api/public/v1/jobs", Reason: wantReason,
	}, testenv.Data[events.ConnectionOrphaned](t, fact))
	require.Len(t, env.Logs.FilterMessage("connection unknown to Airbyte: marked ORPHANED").All(), 1, "logged once")

	// A repair and an observer pass answer without calling Airbyte.
	total := calls.Total()
	repairID := env.Publish(events.TypeRepairRequested, events.RepairRequested{
		ConnectionID: conn.ID, NewSyncCatalog: []byte(repairCatalog)})
	rf := testenv.Data[events.RepairFailed](t, env.WaitFact(repairID, events.TypeRepairFailed, 30*time.Second))
	require.Equal(t, events.StatusOrphaned, rf.Status)
	require.Contains(t, rf.Reason, "is ORPHANED, not ACTIVE")
	require.Contains(t, rf.Reason, wantReason)
	obs, err := observer.New(deps, ab, observer.Config{})
	require.NoError(t, err)
	results, err := obs.CheckAll(ctx, true)
	require.NoError(t, err)
	require.Empty(t, results, "the observer checks ACTIVE connections only")
	r, err := obs.Check(ctx, conn.ID)
	require.NoError(t, err)
	require.Equal(t, "connection is ORPHANED", r.Skipped)
	require.Equal(t, total, calls.Total(), "no Airbyte call once ORPHANED")

	// Every request was answered once and nothing is left to redeliver.
	for _, id := range append(syncs, repairID) {
		types := env.OutboxTypes(id)
		delete(types, events.TypeConnectionOrphaned)
		require.Len(t, types, 1, "request %s: %v", id, types)
		for typ, n := range types {
			require.Equal(t, 1, n, "request %s: %s", id, typ)
		}
	}
	for _, consumer := range []string{syncer.Consumer, "repair"} {
		require.Eventually(t, func() bool {
			c, err := env.JS.Consumer(ctx, bus.StreamRequests, consumer)
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0
		}, 15*time.Second, 20*time.Millisecond, "consumer %s settled", consumer)
	}
	require.Len(t, env.FactsAbout(events.TypeConnectionOrphaned, conn.ID), 1)

	// Deleting an ORPHANED connection works: Airbyte's 404s are "gone".
	deleteID := env.Publish(events.TypeDeleteRequested, events.DeleteRequested{ConnectionID: conn.ID})
	deleted := testenv.Data[events.ConnectionDeleted](t, env.WaitFact(deleteID, events.TypeConnectionDeleted, 30*time.Second))
	require.Equal(t, events.StatusOrphaned, deleted.PreviousStatus)
	require.Equal(t, registry.StatusDeleted, env.Connection(conn.ID).Status)
}
