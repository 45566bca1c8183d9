package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/syncer"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// repairCatalog selects Account alone, full refresh: different from the
// onboarded catalog (Account and Contact), so a repair to it is effective.
const repairCatalog = `{"streams": [
	{"stream": {"name": "Account", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
	 "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}`

// startInstance runs one process's worth of workers: the onboard, sync and
// repair workers and the outbox relay, on a NATS connection and app.Deps
// of their own over the environment's database.
func startInstance(t *testing.T, env *testenv.Env, name string) *app.Deps {
	t.Helper()
	d, _ := startInstanceWith(t, env, name, airbyte.Config{})
	return d
}

// startInstanceWith is startInstance with the Airbyte client's settings
// (backoffs are set); it also returns the instance's Airbyte client.
func startInstanceWith(t *testing.T, env *testenv.Env, name string, abCfg airbyte.Config) (*app.Deps, *airbyte.Client) {
	t.Helper()
	nc, js := bustest.Connect(t, env.NS)
	d := env.NewDeps(name, nc, js)
	abCfg.BackoffBase, abCfg.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	ab, err := d.Airbyte(env.AirbyteConfig(abCfg))
	require.NoError(t, err)
	fast := func(uint64) time.Duration { return 20 * time.Millisecond }
	// Small pulls, so that the instances share the requests.
	ob, err := onboarding.New(d, ab, credentials.NewClient(nc, credentials.ClientOptions{}), onboarding.Config{
		WorkspaceID: env.Emulator.WorkspaceID(), DestinationID: env.Emulator.DestinationID(),
		Delivery: app.Delivery{Concurrency: 2, Redelivery: bus.Redelivery{Backoff: fast}}})
	require.NoError(t, err)
	sy, err := syncer.New(d, ab, syncer.Config{Delivery: app.Delivery{Concurrency: 2}, HandlerTimeout: 10 * time.Second,
		PollInterval: 20 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	rp, err := repair.New(d, ab, repair.Config{Delivery: app.Delivery{Concurrency: 1, Redelivery: bus.Redelivery{Backoff: fast}}, BusyRetry: 50 * time.Millisecond})
	require.NoError(t, err)
	relay := outbox.NewRelay(d.Store, js, outbox.RelayConfig{PollInterval: 10 * time.Millisecond, Logger: d.Log,
		Registerer: d.Metrics})
	env.Go(ob.Run)
	env.Go(sy.Run)
	env.Go(rp.Run)
	env.Go(relay.Run)
	return d, ab
}

// handled counts the requests an instance's consumer settled, by outcome,
// from the instance's own metrics registry.
func handled(t *testing.T, d *app.Deps, consumer string) map[string]float64 {
	t.Helper()
	fams, err := d.Metrics.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "aam_messages_handled_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] == consumer {
				out[labels["outcome"]] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// TestTwoInstancesOfEachWorker runs two instances of each worker (and two
// relays) on the same durable consumers and shows that no request is
// handled twice in effect, and that both instances did work.
func TestTwoInstancesOfEachWorker(t *testing.T) {
	t.Parallel()
	const (
		onboards = 12
		synced   = 8 // connections 0-7 are synced, 8-11 repaired
		syncs    = 60
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Jobs run a little, so that requests attach to running jobs and the
	// followers of both instances finish jobs.
	env := testenv.New(t, testenv.Options{NoRelay: true, Emulator: emulator.Config{JobRunning: 30 * time.Millisecond}})
	env.StartBroker()
	instances := []*app.Deps{startInstance(t, env, "instance-1"), startInstance(t, env, "instance-2")}
	source := "/test/" + t.Name()

	onboardIDs := make([]string, onboards)
	connIDs := make([]string, onboards)
	for i := range onboards {
		ev := newRequest(t, events.TypeOnboardRequested, source, events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: fmt.Sprintf("Salesforce %02d", i),
			CredentialID: testenv.SalesforceCredentialID, Streams: []string{"Account", "Contact"}})
		publishStored(ctx, t, env.JS, ev)
		onboardIDs[i], connIDs[i] = ev.ID(), onboarding.ConnectionID(source, ev.ID())
	}
	for _, id := range onboardIDs {
		env.WaitFact(id, events.TypeOnboarded, 30*time.Second)
	}

	// Syncs spread over eight connections, repairs of the four others,
	// all at once.
	var syncIDs, repairIDs []string
	for i := range syncs {
		ev := newRequest(t, events.TypeSyncRequested, source, events.SyncRequested{ConnectionID: connIDs[i%synced]})
		publishStored(ctx, t, env.JS, ev)
		syncIDs = append(syncIDs, ev.ID())
		if j := synced + i; j < onboards {
			ev := newRequest(t, events.TypeRepairRequested, source, events.RepairRequested{
				ConnectionID: connIDs[j], Reason: "keep Account only", NewSyncCatalog: []byte(repairCatalog)})
			publishStored(ctx, t, env.JS, ev)
			repairIDs = append(repairIDs, ev.ID())
		}
	}
	for _, id := range syncIDs {
		env.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
	}
	for _, id := range repairIDs {
		env.WaitFact(id, events.TypeCatalogVersioned, 30*time.Second)
	}

	// One terminal fact per request; no fact id twice, neither in the
	// stream nor on the wire (no relay published an event twice).
	byRequest := streamFacts(t, readStream(ctx, t, env.JS, bus.StreamEvents))
	require.Len(t, byRequest, onboards+syncs+len(repairIDs))
	for _, id := range onboardIDs {
		require.Equal(t, []string{events.TypeOnboarded}, types(byRequest[id]), "facts of onboard request %s", id)
	}
	for _, id := range syncIDs {
		require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, types(byRequest[id]),
			"facts of sync request %s", id)
	}
	for _, id := range repairIDs {
		require.Equal(t, []string{events.TypeCatalogVersioned}, types(byRequest[id]), "facts of repair request %s", id)
	}
	wire := map[string]int{}
	for _, f := range env.Facts("") {
		wire[f.ID()]++
	}
	for id, n := range wire {
		require.Equal(t, 1, n, "fact %s published %d times", id, n)
	}
	dlq, err := env.JS.Stream(ctx, bus.StreamDLQ)
	require.NoError(t, err)
	dinfo, err := dlq.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, dinfo.State.Msgs, "dead letters")

	// Airbyte: one source and one connection per onboarding; one job per
	// sync request that started one, the others flagged attached.
	require.Len(t, env.Emulator.Sources(), onboards)
	names := map[string]bool{}
	for _, c := range env.Emulator.Connections() {
		require.False(t, names[c.Name], "connection %q created twice", c.Name)
		names[c.Name] = true
	}
	require.Len(t, names, onboards)
	links := checkAirbyteJobs(t, env, syncIDs)
	checkAttachedFacts(t, byRequest, links)
	jobs, attached := map[string]bool{}, 0
	for _, l := range links {
		jobs[l.job] = true
		if l.attached {
			attached++
		}
	}

	// Registry: one catalog version per effective repair, none else.
	for i, id := range connIDs {
		versions, err := env.Store.CatalogVersionList(ctx, id)
		require.NoError(t, err)
		want := 1
		if i >= synced {
			want = 2
			require.Equal(t, repairIDs[i-synced], versions[1].RequestID, "request of version 2 of %s", id)
		}
		require.Len(t, versions, want, "catalog versions of %s", id)
	}

	// Both instances did work on every consumer.
	for _, consumer := range []string{onboarding.Consumer, syncer.Consumer, repair.Consumer} {
		var split []string
		for _, d := range instances {
			h := handled(t, d, consumer)
			require.Positive(t, h[string(bus.OutcomeAck)], "%s requests acknowledged by %s: %v", consumer, d.Role, h)
			split = append(split, fmt.Sprintf("%s %v", d.Role, h))
		}
		t.Logf("%s: %v", consumer, split)
	}
	t.Logf("%d Airbyte sync jobs for %d sync requests (%d attached to a running job)", len(jobs), syncs, attached)
}
