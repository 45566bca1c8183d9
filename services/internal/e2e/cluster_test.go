package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/syncer"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// connectCluster connects to every server of the cluster, reconnecting
// for ever, as a role connects to NATS_URL with several URLs.
func connectCluster(t *testing.T, c *bustest.Cluster, name string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return nc, js
}

// moveLeader asks the cluster to hand the leadership of a stream or
// consumer (apiSuffix: "STREAM.LEADER.STEPDOWN.<stream>" or
// "CONSUMER.LEADER.STEPDOWN.<stream>.<consumer>") to server to, and
// reports whether leader reports it within d.
func moveLeader(ctx context.Context, t *testing.T, nc *nats.Conn, apiSuffix, to string, leader func() string, d time.Duration) bool {
	t.Helper()
	req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, to)
	// A step-down starts an election; asking again before it has settled
	// (on a loaded machine, seconds) starts another, so the request is
	// repeated only once the last one has had time to take effect.
	var asked time.Time
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if leader() == to {
			return true
		}
		if time.Since(asked) < 3*time.Second {
			continue
		}
		asked = time.Now()
		resp, err := nc.RequestWithContext(ctx, "$JS.API."+apiSuffix, []byte(req))
		if err != nil {
			t.Logf("step down %s to %s: %v", apiSuffix, to, err)
		} else {
			t.Logf("step down %s to %s: %s", apiSuffix, to, resp.Data)
		}
	}
	return leader() == to
}

// TestClusterLeaderLossLosesNothing runs the onboard and sync workers and
// the outbox relay against a 3-node JetStream cluster whose streams have 3
// replicas, and shuts down, in the middle of a load of sync requests, the
// server that leads AAM_REQUESTS, AAM_EVENTS and the sync consumer. Every
// request still ends in exactly one terminal fact, no fact is stored twice,
// and no request made Airbyte do anything twice.
func TestClusterLeaderLossLosesNothing(t *testing.T) {
	t.Parallel()
	const (
		onboards = 20
		syncs    = 300
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	c := bustest.NewCluster(t, 3)
	nc, js := connectCluster(t, c, "aam-e2e-env")
	require.NoError(t, bus.Provision(ctx, js, bus.StreamsConfig{Replicas: 3}))
	for _, name := range []string{bus.StreamRequests, bus.StreamEvents, bus.StreamDLQ} {
		s, err := js.Stream(ctx, name)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, info.Config.Replicas, "%s replicas configured", name)
		require.NotNil(t, info.Cluster, "%s cluster info", name)
		require.NotEmpty(t, info.Cluster.Leader, "%s leader", name)
		require.Len(t, info.Cluster.Replicas, 2, "%s followers", name)
	}

	env := testenv.NewWithNATS(t, nc, js, testenv.Options{
		Airbyte: airbyte.Config{BackoffBase: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond},
		NoRelay: true,
	})
	env.StartBroker()
	// Publishes a leaving leader took with it are never acknowledged: the
	// relay sends them again after AckTimeout.
	relay := outbox.NewRelay(env.Store, js, outbox.RelayConfig{
		PollInterval: 10 * time.Millisecond, AckTimeout: 2 * time.Second, Logger: env.Log})
	env.Go(relay.Run)

	// Each worker has its own connection, as separate processes would.
	onc, ojs := connectCluster(t, c, "aam-e2e-onboarding")
	// A pull request lost with a consumer leader is sent again after two
	// missed heartbeats.
	od := env.NewDeps("onboarding", onc, ojs)
	od.ConsumerHeartbeat = 500 * time.Millisecond
	ob, err := onboarding.New(od, env.Airbyte, credentials.NewClient(onc, credentials.ClientOptions{}), onboarding.Config{
		WorkspaceID: env.Emulator.WorkspaceID(), DestinationID: env.Emulator.DestinationID(),
		Delivery: app.Delivery{Redelivery: bus.Redelivery{AckWait: 2 * time.Second, Backoff: func(uint64) time.Duration { return 50 * time.Millisecond }}}})
	require.NoError(t, err)
	snc, sjs := connectCluster(t, c, "aam-e2e-sync")
	sd := env.NewDeps("sync", snc, sjs)
	sd.ConsumerHeartbeat = 500 * time.Millisecond
	// A delivery the leaving consumer leader had in flight comes back
	// after AckWait.
	sy, err := syncer.New(sd, env.Airbyte, syncer.Config{Delivery: app.Delivery{Redelivery: bus.Redelivery{AckWait: 2 * time.Second}},
		PollInterval: 20 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond, HandlerTimeout: 10 * time.Second})
	require.NoError(t, err)
	env.Go(ob.Run)
	env.Go(sy.Run)
	_, pjs := connectCluster(t, c, "aam-e2e-publisher")

	source := "/test/" + t.Name()
	start := time.Now()

	// Onboard the connections the syncs run on.
	onboardIDs := make([]string, onboards)
	connIDs := make([]string, onboards)
	retries := 0
	for i := range onboards {
		ev := newRequest(t, events.TypeOnboardRequested, source, events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: fmt.Sprintf("Salesforce %02d", i),
			CredentialID: testenv.SalesforceCredentialID, Streams: []string{"Account"}})
		retries += publishStored(ctx, t, pjs, ev)
		onboardIDs[i], connIDs[i] = ev.ID(), onboarding.ConnectionID(source, ev.ID())
	}
	for _, id := range onboardIDs {
		env.WaitFact(id, events.TypeOnboarded, 30*time.Second)
	}
	t.Logf("%d connections onboarded in %s", onboards, time.Since(start).Round(time.Millisecond))

	streamLeader := func(stream string) func() string {
		return func() string {
			s, err := js.Stream(ctx, stream)
			if err != nil {
				return ""
			}
			info, err := s.Info(ctx)
			if err != nil || info.Cluster == nil {
				return ""
			}
			return info.Cluster.Leader
		}
	}
	consumerLeader := func(stream, consumer string) func() string {
		return func() string {
			cons, err := js.Consumer(ctx, stream, consumer)
			if err != nil {
				return ""
			}
			info, err := cons.Info(ctx)
			if err != nil || info.Cluster == nil {
				return ""
			}
			return info.Cluster.Leader
		}
	}
	// One server comes to lead both streams and the sync consumer: losing
	// it loses all three leaders. It is the consumer's leader, the streams'
	// leadership moved to it (a consumer's step-down to a given server is
	// the least sure to take effect on a loaded machine); should the
	// consumer's leader change meanwhile, the streams follow it.
	syncLeader := consumerLeader(bus.StreamRequests, syncer.Consumer)
	var name string
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		name = syncLeader()
		if name != "" &&
			moveLeader(ctx, t, nc, "STREAM.LEADER.STEPDOWN."+bus.StreamRequests, name, streamLeader(bus.StreamRequests), 15*time.Second) &&
			moveLeader(ctx, t, nc, "STREAM.LEADER.STEPDOWN."+bus.StreamEvents, name, streamLeader(bus.StreamEvents), 15*time.Second) &&
			syncLeader() == name && streamLeader(bus.StreamRequests)() == name {
			break
		}
		require.True(t, time.Now().Before(deadline), "one server leads %s, %s and consumer %s", bus.StreamRequests, bus.StreamEvents, syncer.Consumer)
	}
	victim := slices.IndexFunc(c.Servers, func(s *server.Server) bool { return s.Name() == name })
	require.GreaterOrEqual(t, victim, 0, "server %s", name)

	// Sync requests spread over the connections; half-way, the leader goes.
	syncIDs := make([]string, syncs)
	var stopped sync.WaitGroup
	var stoppedAt time.Time
	var longest time.Duration // the longest a request took to be stored after the loss began
	loadStart := time.Now()
	for i := range syncs {
		if i == syncs/2 {
			stopped.Go(func() {
				stoppedAt = time.Now()
				c.Stop(victim)
				t.Logf("server %s (leader of %s, %s and consumer %s) shut down in %s", name,
					bus.StreamRequests, bus.StreamEvents, syncer.Consumer, time.Since(stoppedAt).Round(time.Millisecond))
			})
		}
		ev := newRequest(t, events.TypeSyncRequested, source, events.SyncRequested{ConnectionID: connIDs[i%onboards]})
		t0 := time.Now()
		n := publishStored(ctx, t, pjs, ev)
		retries += n
		if i >= syncs/2 {
			longest = max(longest, time.Since(t0))
		}
		syncIDs[i] = ev.ID()
	}
	stopped.Wait()
	t.Logf("%d sync requests stored in %s; %d publish attempts failed and were sent again; longest store after the loss: %s",
		syncs, time.Since(loadStart).Round(time.Millisecond), retries, longest.Round(time.Millisecond))
	newLeader := streamLeader(bus.StreamRequests)()
	require.NotEqual(t, name, newLeader)
	t.Logf("new leaders: %s %s, %s %s, consumer %s %s", bus.StreamRequests, newLeader,
		bus.StreamEvents, streamLeader(bus.StreamEvents)(), syncer.Consumer,
		consumerLeader(bus.StreamRequests, syncer.Consumer)())

	// Every request ends: wait for its facts in the events stream (the fact
	// collector's plain subscription may miss some while its connection
	// moves to another server; the stream misses nothing).
	want := onboards + 2*syncs
	evStream, err := js.Stream(ctx, bus.StreamEvents)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := evStream.Info(ctx)
		return err == nil && info.State.Msgs >= uint64(want)
	}, 45*time.Second, 50*time.Millisecond, "facts in %s", bus.StreamEvents)
	t.Logf("all %d requests answered %s after the loss (%s in all)", onboards+syncs,
		time.Since(stoppedAt).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// Exactly the expected facts, none twice.
	byRequest := streamFacts(t, readStream(ctx, t, js, bus.StreamEvents))
	require.Len(t, byRequest, onboards+syncs, "requests answered")
	for _, id := range onboardIDs {
		require.Equal(t, []string{events.TypeOnboarded}, types(byRequest[id]), "facts of onboard request %s", id)
	}
	for _, id := range syncIDs {
		require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, types(byRequest[id]),
			"facts of sync request %s", id)
	}
	dlq, err := js.Stream(ctx, bus.StreamDLQ)
	require.NoError(t, err)
	dinfo, err := dlq.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, dinfo.State.Msgs, "dead letters")

	// Airbyte did each thing once: one source and one connection per
	// onboarding, one job per request that started one.
	require.Len(t, env.Emulator.Sources(), onboards)
	require.Len(t, env.Emulator.Connections(), onboards)
	links := checkAirbyteJobs(t, env, syncIDs)
	checkAttachedFacts(t, byRequest, links)
	jobs := map[string]bool{}
	attached := 0
	for _, l := range links {
		jobs[l.job] = true
		if l.attached {
			attached++
		}
	}
	t.Logf("%d Airbyte sync jobs for %d requests (%d attached to a running job)", len(jobs), syncs, attached)
}

// checkAttachedFacts checks that each request's sync.started fact says
// attached exactly when the registry links the request as attached.
func checkAttachedFacts(t *testing.T, byRequest map[string][]event.Event, links map[string]jobLink) {
	t.Helper()
	for id, l := range links {
		var started events.SyncStarted
		found := false
		for _, f := range byRequest[id] {
			if f.Type() == events.TypeSyncStarted {
				require.NoError(t, json.Unmarshal(f.Data(), &started))
				found = true
			}
		}
		require.True(t, found, "sync.started of %s", id)
		require.Equal(t, l.attached, started.Attached, "attached flag of request %s", id)
		require.Equal(t, l.job, started.JobID, "job of request %s", id)
	}
}
