package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// publishCopy publishes ev again as a message of its own: what a client
// that retries after JetStream's duplicate window sends. The stream stores
// it (another Nats-Msg-Id) and a worker may take it while the first copy is
// still being handled.
func publishCopy(ctx context.Context, t *testing.T, js jetstream.JetStream, ev event.Event) {
	t.Helper()
	d, _ := events.Lookup(ev.Type())
	msg, err := events.ToMsg(d.Subject, ev, events.Binary)
	require.NoError(t, err)
	msg.Header.Set(events.HeaderMsgID, ev.ID()+"/copy")
	_, err = js.PublishMsg(ctx, msg)
	require.NoError(t, err)
}

// TestCopiesOfRequestsDoNotRepeatEffects sends every request twice, as two
// messages handled at the same time by two instances of each worker: one
// Airbyte source and connection per onboarding, one job per sync request,
// one catalog version per repair, one answer per request.
func TestCopiesOfRequestsDoNotRepeatEffects(t *testing.T) {
	t.Parallel()
	const onboards, syncs = 10, 30
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := testenv.New(t, testenv.Options{NoRelay: true, Emulator: emulator.Config{JobRunning: 30 * time.Millisecond}})
	env.StartBroker()
	startInstance(t, env, "instance-1")
	startInstance(t, env, "instance-2")
	source := "/test/" + t.Name()

	var onboardIDs, connIDs []string
	for i := range onboards {
		ev := newRequest(t, events.TypeOnboardRequested, source, events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: fmt.Sprintf("Salesforce %02d", i),
			CredentialID: testenv.SalesforceCredentialID, Streams: []string{"Account", "Contact"}})
		publishStored(ctx, t, env.JS, ev)
		publishCopy(ctx, t, env.JS, ev)
		onboardIDs = append(onboardIDs, ev.ID())
		connIDs = append(connIDs, onboarding.ConnectionID(source, ev.ID()))
	}
	for _, id := range onboardIDs {
		env.WaitFact(id, events.TypeOnboarded, 30*time.Second)
	}
	var syncIDs, repairIDs []string
	for i := range syncs {
		ev := newRequest(t, events.TypeSyncRequested, source, events.SyncRequested{ConnectionID: connIDs[i%onboards]})
		publishStored(ctx, t, env.JS, ev)
		publishCopy(ctx, t, env.JS, ev)
		syncIDs = append(syncIDs, ev.ID())
	}
	for _, id := range syncIDs {
		env.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
	}
	for i := range onboards {
		ev := newRequest(t, events.TypeRepairRequested, source, events.RepairRequested{
			ConnectionID: connIDs[i], Reason: "keep Account only", NewSyncCatalog: []byte(repairCatalog)})
		publishStored(ctx, t, env.JS, ev)
		publishCopy(ctx, t, env.JS, ev)
		repairIDs = append(repairIDs, ev.ID())
	}
	for _, id := range repairIDs {
		env.WaitFact(id, events.TypeCatalogVersioned, 30*time.Second)
	}

	// Every copy is settled (acknowledged or dead-lettered as a copy of an
	// ended request), so the stream holds all the facts there will be.
	require.Eventually(t, func() bool {
		c, err := env.JS.Consumer(ctx, bus.StreamRequests, onboarding.Consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	}, 30*time.Second, 20*time.Millisecond)

	require.Len(t, env.Emulator.Sources(), onboards, "one Airbyte source per onboarding")
	require.Len(t, env.Emulator.Connections(), onboards, "one Airbyte connection per onboarding")
	checkAirbyteJobs(t, env, syncIDs)
	for _, id := range connIDs {
		versions, err := env.Store.CatalogVersionList(ctx, id)
		require.NoError(t, err)
		require.Len(t, versions, 2, "version 1 and one repair")
	}
	byRequest := streamFacts(t, readStream(ctx, t, env.JS, bus.StreamEvents))
	for _, id := range onboardIDs {
		require.Equal(t, []string{events.TypeOnboarded}, types(byRequest[id]), "onboarding %s", id)
	}
	for _, id := range syncIDs {
		require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, types(byRequest[id]), "sync %s", id)
	}
	for _, id := range repairIDs {
		require.Equal(t, []string{events.TypeCatalogVersioned}, types(byRequest[id]), "repair %s", id)
	}
}
