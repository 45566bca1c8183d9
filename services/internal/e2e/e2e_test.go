// Package e2e_test runs AAM's workflows end to end on real parts: PostgreSQL,
// an in-process JetStream, the credential broker, the Airbyte emulator and
// the onboard, sync and repair workers, driven only by request events and
// observed through completion events, the registry and Airbyte's state.
package e2e_test

import (
	"context"
	"net/http"
	"strconv"
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
	if diff := cmp.Diff(wantVersioned, testenv.Data[events.CatalogVersioned](t, versioned)); diff != "" {
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
