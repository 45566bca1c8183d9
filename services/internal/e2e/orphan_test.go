package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/observer"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/syncer"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

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
	require.Equal(t, 1, calls.Status(http.StatusNotFound), "one Airbyte call answered 404")
	require.Equal(t, startsBefore+1, calls.Count(http.MethodPost, "/api/public/v1/jobs"), "one sync start asked")
	got := env.Connection(conn.ID)
	require.Equal(t, registry.StatusOrphaned, got.Status)
	wantReason := "Airbyte does not know connection " + conn.AirbyteConnectionID + ": POST /api/public/v1/jobs answered 404"
	require.Equal(t, wantReason, got.StatusReason)
	orphaned := orphanedFacts(env, conn.ID)
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
	require.Len(t, orphanedFacts(env, conn.ID), 1)

	// Deleting an ORPHANED connection works: Airbyte's 404s are "gone".
	deleteID := env.Publish(events.TypeDeleteRequested, events.DeleteRequested{ConnectionID: conn.ID})
	deleted := testenv.Data[events.ConnectionDeleted](t, env.WaitFact(deleteID, events.TypeConnectionDeleted, 30*time.Second))
	require.Equal(t, events.StatusOrphaned, deleted.PreviousStatus)
	require.Equal(t, registry.StatusDeleted, env.Connection(conn.ID).Status)
}

// orphanedFacts returns the connection.orphaned facts about a connection.
func orphanedFacts(env *testenv.Env, connID string) []event.Event {
	var out []event.Event
	for _, f := range env.Facts("") {
		if f.Type() == events.TypeConnectionOrphaned && f.Subject() == connID {
			out = append(out, f)
		}
	}
	return out
}
