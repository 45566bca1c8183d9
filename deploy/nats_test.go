package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	streamRequests = "AAM_REQUESTS"
	streamEvents   = "AAM_EVENTS"
	streamDLQ      = "AAM_DLQ"
)

// streamConfigs are the three streams of the contract, as `aam migrate up`
// and every worker create them (single node: 1 replica).
func streamConfigs() []jetstream.StreamConfig {
	mk := func(name, subject string, age time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Subjects:    []string{subject},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      age,
			Duplicates:  10 * time.Minute,
			Storage:     jetstream.FileStorage,
			Replicas:    1,
			AllowDirect: true,
		}
	}
	return []jetstream.StreamConfig{
		mk(streamRequests, "aam.requests.>", 7*24*time.Hour),
		mk(streamEvents, "aam.events.>", 14*24*time.Hour),
		mk(streamDLQ, "aam.dlq.>", 30*24*time.Hour),
	}
}

// startNATS runs nats-server in-process with a configuration file of
// deploy/nats (and its accounts include), on a random loopback port with a
// temporary store.
func startNATS(t *testing.T, file string) *server.Server {
	t.Helper()
	opts, err := server.ProcessConfigFile(filepath.Join(repoRoot(t), "deploy", "nats", file))
	require.NoError(t, err, "nats/%s", file)
	opts.Host = "127.0.0.1"
	opts.Port = server.RANDOM_PORT
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.StoreDir = t.TempDir()
	opts.JetStreamMaxStore = 256 << 20
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	require.True(t, s.ReadyForConnections(10*time.Second), "nats-server did not start")
	return s
}

// natsClient is one connection as one NATS user, with the user's private
// inbox prefix, that records the asynchronous errors the server sends.
type natsClient struct {
	user string
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

func connectAs(t *testing.T, url, user string) *natsClient {
	t.Helper()
	c := &natsClient{user: user, errs: make(chan error, 256)}
	opts := []nats.Option{
		nats.Name("aam-deploy-test-" + user),
		nats.UserInfo(user, passwords[user]),
		nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case c.errs <- err:
			default:
			}
		}),
	}
	if user != "admin" && user != "sys" {
		opts = append(opts, nats.CustomInboxPrefix("_INBOX_"+user))
	}
	nc, err := nats.Connect(url, opts...)
	require.NoError(t, err, "connect as %s", user)
	t.Cleanup(nc.Close)
	c.nc = nc
	c.js, err = jetstream.New(nc)
	require.NoError(t, err)
	return c
}

// allowedSoFar fails the test when the server refused anything this
// connection did. The server answers in order: once Flush returns, any
// refusal of an earlier operation has been read (LastError is set by the
// reader, not by the asynchronous callback).
func (c *natsClient) allowedSoFar(t *testing.T) {
	t.Helper()
	require.NoError(t, c.nc.Flush())
	require.NoError(t, c.nc.LastError(), "%s was refused something it needs", c.user)
}

// refused runs action and requires the server to refuse it with a
// permissions violation for op ("Publish" or "Subscription") on subject.
// The action's context is cancelled as soon as the violation arrives, so a
// refused request does not wait for its timeout.
func (c *natsClient) refused(t *testing.T, op, subject string, action func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- action(ctx) }()
	want := fmt.Sprintf("%s to %q", op, subject)
	var returned error
	finished := done
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), want) {
				cancel()
				if finished != nil {
					returned = <-finished
				}
				// A refused request ends without an answer (context
				// cancelled); a refused publish or subscribe returns nil.
				if returned != nil {
					assert.True(t, errors.Is(returned, context.Canceled) || errors.Is(returned, nats.ErrPermissionViolation),
						"%s: %s: unexpected result %v", c.user, want, returned)
				}
				return
			}
		case err := <-finished:
			returned, finished = err, nil
		case <-ctx.Done():
			t.Fatalf("%s: %s was not refused with a permissions violation (action returned %v)", c.user, want, returned)
		}
	}
}

func publishOn(c *natsClient, subject string) func(context.Context) error {
	return func(context.Context) error { return c.nc.Publish(subject, []byte(`{}`)) }
}

func requestOn(c *natsClient, subject string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.nc.RequestWithContext(ctx, subject, []byte(`{}`))
		return err
	}
}

func subscribeTo(c *natsClient, subject string) func(context.Context) error {
	return func(context.Context) error {
		_, err := c.nc.SubscribeSync(subject)
		return err
	}
}

// credentialEndpoints are the broker's micro endpoints.
var credentialEndpoints = []string{"get", "put", "rotate", "delete", "list"}

// TestNATSPermissions starts nats-server with deploy/nats/dev.conf (and so
// accounts.conf) and shows, for every role's user, that it can do what its
// role needs and is refused what it must not do.
func TestNATSPermissions(t *testing.T) {
	t.Parallel()
	s := startNATS(t, "dev.conf")
	url := s.ClientURL()

	// `aam migrate up` provisions the streams as admin.
	admin := connectAs(t, url, "admin")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	for _, sc := range streamConfigs() {
		_, err := admin.js.CreateOrUpdateStream(ctx, sc)
		require.NoError(t, err, "admin provisions %s", sc.Name)
	}

	// The credential broker runs its micro service as the broker user.
	broker := connectAs(t, url, "broker")
	svc, err := micro.AddService(broker.nc, micro.Config{Name: "aam-credentials", Version: "1.0.0"})
	require.NoError(t, err, "the broker user runs the aam-credentials micro service")
	t.Cleanup(func() { _ = svc.Stop() })
	group := svc.AddGroup("aam.credentials")
	for _, ep := range credentialEndpoints {
		require.NoError(t, group.AddEndpoint(ep, micro.HandlerFunc(func(r micro.Request) {
			_ = r.Respond([]byte(`{"endpoint":"` + ep + `"}`))
		})))
	}
	broker.allowedSoFar(t)

	t.Run("admin", func(t *testing.T) {
		t.Parallel()
		c := connectAs(t, url, "admin")
		for _, ep := range credentialEndpoints {
			msg, err := c.nc.RequestWithContext(ctx, "aam.credentials."+ep, []byte(`{}`))
			require.NoError(t, err, "admin calls aam.credentials.%s", ep)
			assert.JSONEq(t, `{"endpoint":"`+ep+`"}`, string(msg.Data))
		}
		// Service discovery.
		msg, err := c.nc.RequestWithContext(ctx, "$SRV.INFO.aam-credentials", nil)
		require.NoError(t, err)
		var info micro.Info
		require.NoError(t, json.Unmarshal(msg.Data, &info))
		assert.Equal(t, "aam-credentials", info.Name)
		assert.Len(t, info.Endpoints, len(credentialEndpoints))
		// Stream management.
		scratch := jetstream.StreamConfig{Name: "AAM_SCRATCH", Subjects: []string{"aam.scratch.>"}, Storage: jetstream.MemoryStorage}
		_, err = c.js.CreateStream(ctx, scratch)
		require.NoError(t, err)
		require.NoError(t, c.js.DeleteStream(ctx, scratch.Name))
		c.allowedSoFar(t)
	})

	t.Run("broker", func(t *testing.T) {
		t.Parallel()
		caller := connectAs(t, url, "admin")
		for _, ep := range credentialEndpoints {
			_, err := caller.nc.RequestWithContext(ctx, "aam.credentials."+ep, []byte(`{}`))
			require.NoError(t, err)
		}
		_, err := caller.nc.RequestWithContext(ctx, "$SRV.PING.aam-credentials", nil)
		require.NoError(t, err, "the broker answers discovery requests")
		// Answering (allow_responses) is all the broker publishes.
		broker.allowedSoFar(t)

		d := connectAs(t, url, "broker")
		d.refused(t, "Publish", "aam.events.connection.onboarded", publishOn(d, "aam.events.connection.onboarded"))
		d.refused(t, "Publish", "aam.requests.connection.onboard", publishOn(d, "aam.requests.connection.onboard"))
		d.refused(t, "Publish", "$JS.API.STREAM.INFO.AAM_REQUESTS", func(ctx context.Context) error {
			_, err := d.js.Stream(ctx, streamRequests)
			return err
		})
		d.refused(t, "Subscription", "aam.requests.>", subscribeTo(d, "aam.requests.>"))
		d.refused(t, "Subscription", "aam.events.>", subscribeTo(d, "aam.events.>"))
		d.refused(t, "Subscription", "_INBOX.>", subscribeTo(d, "_INBOX.>"))
	})

	for _, r := range roles {
		if !r.Worker {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			testWorkerPermissions(t, url, r)
		})
	}

	t.Run("gateway", func(t *testing.T) {
		t.Parallel()
		testGatewayPermissions(t, url)
	})

	t.Run("schema-observer", func(t *testing.T) {
		t.Parallel()
		c := connectAs(t, url, "observer")
		for _, name := range []string{streamRequests, streamEvents, streamDLQ} {
			_, err := c.js.Stream(ctx, name)
			require.NoError(t, err, "observer reads %s's info", name)
		}
		ack, err := c.js.Publish(ctx, "aam.requests.connection.repair", []byte(`{}`), jetstream.WithMsgID(nuid.Next()))
		require.NoError(t, err, "observer requests a repair (healing by policy)")
		assert.Equal(t, streamRequests, ack.Stream)
		ack, err = c.js.Publish(ctx, "aam.events.drift.detected", []byte(`{}`), jetstream.WithMsgID(nuid.Next()))
		require.NoError(t, err, "observer publishes drift facts")
		assert.Equal(t, streamEvents, ack.Stream)
		c.allowedSoFar(t)

		d := connectAs(t, url, "observer")
		for _, subj := range []string{"aam.requests.connection.onboard", "aam.requests.connection.sync"} {
			d.refused(t, "Publish", subj, publishOn(d, subj))
		}
		d.refused(t, "Publish", "aam.credentials.get", requestOn(d, "aam.credentials.get"))
		d.refused(t, "Subscription", "aam.credentials.>", subscribeTo(d, "aam.credentials.>"))
		d.refused(t, "Subscription", "aam.requests.>", subscribeTo(d, "aam.requests.>"))
		d.refused(t, "Publish", "$JS.API.STREAM.UPDATE.AAM_REQUESTS", func(ctx context.Context) error {
			_, err := d.js.UpdateStream(ctx, streamConfigs()[0])
			return err
		})
		d.refused(t, "Publish", "$JS.API.CONSUMER.CREATE.AAM_REQUESTS.repair.aam.requests.connection.repair", func(ctx context.Context) error {
			_, err := d.js.CreateOrUpdateConsumer(ctx, streamRequests, jetstream.ConsumerConfig{Durable: "repair", FilterSubject: "aam.requests.connection.repair"})
			return err
		})
	})

	t.Run("sys", func(t *testing.T) {
		t.Parallel()
		c := connectAs(t, url, "sys")
		msg, err := c.nc.RequestWithContext(ctx, "$SYS.REQ.SERVER.PING.VARZ", nil)
		require.NoError(t, err, "the system account answers server requests")
		assert.Contains(t, string(msg.Data), `"server_name":"aam-dev"`)
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		_, err := nats.Connect(url, nats.UserInfo("gateway", "not-"+passwords["gateway"]), nats.MaxReconnects(0))
		require.ErrorIs(t, err, nats.ErrAuthorization)
		_, err = nats.Connect(url, nats.MaxReconnects(0))
		require.ErrorIs(t, err, nats.ErrAuthorization, "no anonymous access")
	})
}

// testWorkerPermissions: a worker creates/updates the streams and its own
// durable consumer, fetches, naks, acks its requests, hears the
// max-deliveries advisory of its consumer and reads the message behind it,
// and publishes facts and DLQ copies. The onboarding worker alone asks the
// broker for credentials.
// streamChanges serialises the worker tests' stream updates and consumer
// creations (see testWorkerPermissions).
var streamChanges sync.Mutex

func testWorkerPermissions(t *testing.T, url string, r role) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin := connectAs(t, url, "admin")
	w := connectAs(t, url, r.NATSUser)

	// nats-server (v2.15.2) reads a stream's configuration while it
	// creates a consumer without the lock that an update of the stream
	// writes it under, which the race detector reports: the parallel
	// worker tests update the streams and create their consumers one at
	// a time.
	cons := func() jetstream.Consumer {
		streamChanges.Lock()
		defer streamChanges.Unlock()
		for _, sc := range streamConfigs() {
			_, err := w.js.CreateStream(ctx, sc)
			require.NoError(t, err, "%s creates %s (idempotent)", r.Name, sc.Name)
			_, err = w.js.UpdateStream(ctx, sc)
			require.NoError(t, err, "%s updates %s", r.Name, sc.Name)
			_, err = w.js.CreateOrUpdateStream(ctx, sc)
			require.NoError(t, err)
			_, err = w.js.Stream(ctx, sc.Name)
			require.NoError(t, err)
		}
		cons, err := w.js.CreateOrUpdateConsumer(ctx, streamRequests, jetstream.ConsumerConfig{
			Durable:       r.Consumer(),
			FilterSubject: r.Filter(),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			MaxDeliver:    3,
			MaxAckPending: 100,
		})
		require.NoError(t, err, "%s creates its durable consumer", r.Name)
		return cons
	}()
	_, err := cons.Info(ctx)
	require.NoError(t, err)
	advisories, err := w.nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + streamRequests + "." + r.Consumer())
	require.NoError(t, err)

	// next fetches until the request with the given id arrives; requests of
	// other tests on the same subject are acknowledged on the way.
	next := func(id string) jetstream.Msg {
		t.Helper()
		for {
			batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
			require.NoError(t, err)
			var got jetstream.Msg
			for m := range batch.Messages() {
				got = m
			}
			require.NoError(t, batch.Error())
			require.NotNil(t, got, "%s: request %s was not delivered", r.Name, id)
			if got.Headers().Get(jetstream.MsgIDHeader) == id {
				return got
			}
			require.NoError(t, got.DoubleAck(ctx))
		}
	}

	// A request: in progress, nak (redelivered), then a confirmed ack.
	id := nuid.Next()
	_, err = admin.js.Publish(ctx, r.Filter(), []byte(`{}`), jetstream.WithMsgID(id))
	require.NoError(t, err)
	m := next(id)
	require.NoError(t, m.InProgress())
	require.NoError(t, m.Nak())
	m = next(id)
	meta, err := m.Metadata()
	require.NoError(t, err)
	assert.EqualValues(t, 2, meta.NumDelivered)
	require.NoError(t, m.DoubleAck(ctx), "%s acks its request", r.Name)

	// Continuous pulls (Consume/Messages) use the same subjects.
	id = nuid.Next()
	_, err = admin.js.Publish(ctx, r.Filter(), []byte(`{}`), jetstream.WithMsgID(id))
	require.NoError(t, err)
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	require.NoError(t, err)
	for {
		m, err := it.Next()
		require.NoError(t, err)
		require.NoError(t, m.DoubleAck(ctx))
		if m.Headers().Get(jetstream.MsgIDHeader) == id {
			break
		}
	}
	it.Stop()

	// A request that fails on every delivery: the server gives up after
	// MaxDeliver, the worker hears the advisory and reads the request back
	// to end it (rejected fact + DLQ copy).
	id = nuid.Next()
	pub, err := admin.js.Publish(ctx, r.Filter(), []byte(`{"poison":true}`), jetstream.WithMsgID(id))
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, next(id).Nak())
	}
	// A waiting pull makes the server look for the redelivery it refuses.
	pulling, err := cons.Messages(jetstream.PullMaxMessages(1))
	require.NoError(t, err)
	pulled := make(chan struct{})
	go func() {
		defer close(pulled)
		for {
			m, err := pulling.Next()
			if err != nil {
				return // stopped
			}
			_ = m.DoubleAck(ctx) // a request of another test
		}
	}()
	adv, err := advisories.NextMsg(10 * time.Second)
	require.NoError(t, err, "%s hears its consumer's max-deliveries advisory", r.Name)
	var exceeded struct {
		StreamSeq uint64 `json:"stream_seq"`
	}
	require.NoError(t, json.Unmarshal(adv.Data, &exceeded))
	assert.Equal(t, pub.Sequence, exceeded.StreamSeq)
	pulling.Stop()
	<-pulled
	stream, err := w.js.Stream(ctx, streamRequests)
	require.NoError(t, err)
	raw, err := stream.GetMsg(ctx, exceeded.StreamSeq)
	require.NoError(t, err, "%s reads the request behind the advisory", r.Name)
	assert.Equal(t, id, raw.Header.Get(jetstream.MsgIDHeader))

	// Facts and dead letters (the outbox relay runs in every worker).
	ack, err := w.js.Publish(ctx, "aam.events.request.rejected", []byte(`{}`), jetstream.WithMsgID(nuid.Next()))
	require.NoError(t, err, "%s publishes facts", r.Name)
	assert.Equal(t, streamEvents, ack.Stream)
	ack, err = w.js.Publish(ctx, "aam.dlq.connection."+r.Name, []byte(`{}`), jetstream.WithMsgID(nuid.Next()))
	require.NoError(t, err, "%s publishes DLQ copies", r.Name)
	assert.Equal(t, streamDLQ, ack.Stream)

	if r.Name == "onboarding" {
		msg, err := w.nc.RequestWithContext(ctx, "aam.credentials.get", []byte(`{}`))
		require.NoError(t, err, "onboarding asks the broker for a credential")
		assert.JSONEq(t, `{"endpoint":"get"}`, string(msg.Data))
	}
	w.allowedSoFar(t)

	// What a worker must not do, each on a fresh connection.
	d := connectAs(t, url, r.NATSUser)
	if r.Name == "onboarding" {
		for _, ep := range credentialEndpoints[1:] {
			d.refused(t, "Publish", "aam.credentials."+ep, requestOn(d, "aam.credentials."+ep))
		}
	} else {
		d.refused(t, "Publish", "aam.credentials.get", requestOn(d, "aam.credentials.get"))
	}
	d.refused(t, "Subscription", "aam.credentials.>", subscribeTo(d, "aam.credentials.>"))
	d.refused(t, "Publish", "aam.requests.connection.onboard", publishOn(d, "aam.requests.connection.onboard"))
	d.refused(t, "Subscription", "_INBOX.>", subscribeTo(d, "_INBOX.>"))
	d.refused(t, "Subscription", "_INBOX_gateway.>", subscribeTo(d, "_INBOX_gateway.>"))
	d.refused(t, "Publish", "$JS.API.STREAM.DELETE.AAM_REQUESTS", func(ctx context.Context) error {
		return d.js.DeleteStream(ctx, streamRequests)
	})
	d.refused(t, "Publish", "$JS.API.STREAM.PURGE.AAM_EVENTS", requestOn(d, "$JS.API.STREAM.PURGE.AAM_EVENTS"))
	d.refused(t, "Publish", "$JS.API.STREAM.CREATE.AAM_OTHER", func(ctx context.Context) error {
		_, err := d.js.CreateStream(ctx, jetstream.StreamConfig{Name: "AAM_OTHER", Subjects: []string{"aam.other.>"}})
		return err
	})

	// Its own consumer only, with its own filter only.
	other := "sync"
	if r.Name == "sync" {
		other = "repair"
	}
	otherSubject := "aam.requests.connection." + other
	d.refused(t, "Publish", "$JS.API.CONSUMER.CREATE.AAM_REQUESTS."+r.Consumer()+"."+otherSubject, func(ctx context.Context) error {
		_, err := d.js.CreateOrUpdateConsumer(ctx, streamRequests, jetstream.ConsumerConfig{Durable: r.Consumer(), FilterSubject: otherSubject})
		return err
	})
	// The filter must be in the API subject (FilterSubject, not FilterSubjects).
	d.refused(t, "Publish", "$JS.API.CONSUMER.CREATE.AAM_REQUESTS."+r.Consumer(), func(ctx context.Context) error {
		_, err := d.js.CreateOrUpdateConsumer(ctx, streamRequests, jetstream.ConsumerConfig{Durable: r.Consumer(), FilterSubjects: []string{r.Filter()}})
		return err
	})
	d.refused(t, "Publish", "$JS.API.CONSUMER.INFO.AAM_REQUESTS."+other, func(ctx context.Context) error {
		_, err := d.js.Consumer(ctx, streamRequests, other)
		return err
	})
	next2 := "$JS.API.CONSUMER.MSG.NEXT.AAM_REQUESTS." + other
	d.refused(t, "Publish", next2, func(context.Context) error {
		return d.nc.PublishRequest(next2, d.nc.NewInbox(), []byte(`{"batch":1,"no_wait":true}`))
	})
	ackOther := "$JS.ACK.AAM_REQUESTS." + other + ".1.1.1.1.0"
	d.refused(t, "Publish", ackOther, publishOn(d, ackOther))
}

// testGatewayPermissions: the gateway publishes requests with publish acks,
// waits for facts on a core subscription and replays them with an ordered
// consumer. It never reaches the credential broker (not even its answers to
// others), never manages streams and never touches the workers' consumers.
func testGatewayPermissions(t *testing.T, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin := connectAs(t, url, "admin")
	g := connectAs(t, url, "gateway")

	facts, err := g.nc.SubscribeSync("aam.events.>")
	require.NoError(t, err)
	require.NoError(t, g.nc.Flush())

	ack, err := g.js.Publish(ctx, "aam.requests.connection.sync", []byte(`{}`), jetstream.WithMsgID(nuid.Next()))
	require.NoError(t, err, "gateway publishes a request and gets its publish ack")
	assert.Equal(t, streamRequests, ack.Stream)
	for _, name := range []string{streamRequests, streamEvents} {
		_, err = g.js.Stream(ctx, name)
		require.NoError(t, err)
	}

	// A fact arrives on the core subscription.
	factID := nuid.Next()
	_, err = admin.js.Publish(ctx, "aam.events.connection.onboarded", []byte(`{}`), jetstream.WithMsgID(factID))
	require.NoError(t, err)
	for {
		msg, err := facts.NextMsg(10 * time.Second)
		require.NoError(t, err, "gateway waits for the fact")
		if msg.Header.Get(jetstream.MsgIDHeader) == factID {
			break
		}
	}

	// And can be replayed from AAM_EVENTS (SSE).
	oc, err := g.js.OrderedConsumer(ctx, streamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"aam.events.>"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	require.NoError(t, err, "gateway creates an ordered consumer on AAM_EVENTS")
	for {
		m, err := oc.Next(jetstream.FetchMaxWait(5 * time.Second))
		require.NoError(t, err, "gateway replays facts")
		if m.Headers().Get(jetstream.MsgIDHeader) == factID {
			break
		}
	}
	_, err = oc.Info(ctx)
	require.NoError(t, err)
	g.allowedSoFar(t)

	d := connectAs(t, url, "gateway")
	// The credential broker: neither its requests nor its answers.
	d.refused(t, "Publish", "aam.credentials.get", requestOn(d, "aam.credentials.get"))
	d.refused(t, "Publish", "aam.credentials.list", requestOn(d, "aam.credentials.list"))
	d.refused(t, "Subscription", "aam.credentials.>", subscribeTo(d, "aam.credentials.>"))
	d.refused(t, "Subscription", "aam.credentials.get", subscribeTo(d, "aam.credentials.get"))
	d.refused(t, "Subscription", "_INBOX.>", subscribeTo(d, "_INBOX.>"))
	d.refused(t, "Subscription", "_INBOX_onboarding.>", subscribeTo(d, "_INBOX_onboarding.>"))
	d.refused(t, "Publish", "$SRV.PING.aam-credentials", requestOn(d, "$SRV.PING.aam-credentials"))
	// Requests in flight are the workers' business.
	d.refused(t, "Subscription", "aam.requests.>", subscribeTo(d, "aam.requests.>"))
	// Facts are the workers' to state.
	d.refused(t, "Publish", "aam.events.connection.onboarded", publishOn(d, "aam.events.connection.onboarded"))
	// No stream management.
	d.refused(t, "Publish", "$JS.API.STREAM.CREATE.AAM_GATEWAY", func(ctx context.Context) error {
		_, err := d.js.CreateStream(ctx, jetstream.StreamConfig{Name: "AAM_GATEWAY", Subjects: []string{"aam.gateway.>"}})
		return err
	})
	d.refused(t, "Publish", "$JS.API.STREAM.UPDATE.AAM_EVENTS", func(ctx context.Context) error {
		_, err := d.js.UpdateStream(ctx, streamConfigs()[1])
		return err
	})
	d.refused(t, "Publish", "$JS.API.STREAM.DELETE.AAM_REQUESTS", func(ctx context.Context) error {
		return d.js.DeleteStream(ctx, streamRequests)
	})
	// No access to the workers' consumers.
	for _, w := range []string{"onboarding", "sync", "repair"} {
		d.refused(t, "Publish", "$JS.API.CONSUMER.INFO.AAM_REQUESTS."+w, func(ctx context.Context) error {
			_, err := d.js.Consumer(ctx, streamRequests, w)
			return err
		})
		subj := "$JS.API.CONSUMER.MSG.NEXT.AAM_REQUESTS." + w
		d.refused(t, "Publish", subj, func(context.Context) error {
			return d.nc.PublishRequest(subj, d.nc.NewInbox(), []byte(`{"batch":1,"no_wait":true}`))
		})
		ackSubj := "$JS.ACK.AAM_REQUESTS." + w + ".1.1.1.1.0"
		d.refused(t, "Publish", ackSubj, publishOn(d, ackSubj))
	}
	d.refused(t, "Publish", "$JS.API.CONSUMER.DELETE.AAM_REQUESTS.onboarding", func(ctx context.Context) error {
		return d.js.DeleteConsumer(ctx, streamRequests, "onboarding")
	})
	d.refused(t, "Publish", "$JS.API.CONSUMER.CREATE.AAM_REQUESTS.spy.aam.requests.>", func(ctx context.Context) error {
		_, err := d.js.CreateOrUpdateConsumer(ctx, streamRequests, jetstream.ConsumerConfig{Durable: "spy", FilterSubject: "aam.requests.>"})
		return err
	})
}

// TestNATSConfigFiles checks what the single-node and the cluster
// configurations declare.
func TestNATSConfigFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot(t), "deploy", "nats")

	t.Run("dev.conf", func(t *testing.T) {
		opts, err := server.ProcessConfigFile(filepath.Join(dir, "dev.conf"))
		require.NoError(t, err)
		assert.True(t, opts.JetStream)
		assert.True(t, opts.SyncAlways, "single node: fsync before every ack")
		assert.Equal(t, "/data", opts.StoreDir, "the compose volume")
		assert.Equal(t, 4222, opts.Port)
		assert.Equal(t, 8222, opts.HTTPPort, "monitoring for the health check")
		checkAccounts(t, opts)
	})

	t.Run("cluster.conf", func(t *testing.T) {
		opts, err := server.ProcessConfigFile(filepath.Join(dir, "cluster.conf"))
		require.NoError(t, err)
		assert.Equal(t, "nats-1", opts.ServerName, "from NATS_SERVER_NAME")
		assert.True(t, opts.JetStream)
		assert.False(t, opts.SyncAlways, "the documented choice: default fsync interval, R3 streams")
		assert.Zero(t, opts.SyncInterval, "default interval (2 minutes)")
		assert.Equal(t, "aam", opts.Cluster.Name)
		assert.Equal(t, 6222, opts.Cluster.Port)
		var routes []string
		for _, u := range opts.Routes {
			routes = append(routes, u.Host)
		}
		assert.ElementsMatch(t, []string{"nats-1:6222", "nats-2:6222", "nats-3:6222"}, routes, "3-node cluster")
		assert.Equal(t, 8222, opts.HTTPPort)
		checkAccounts(t, opts)
	})
}

func checkAccounts(t *testing.T, opts *server.Options) {
	t.Helper()
	assert.Equal(t, "SYS", opts.SystemAccount)
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	for _, u := range natsUsers {
		require.Contains(t, users, u)
		assert.Equal(t, passwords[u], users[u].Password, "%s's password comes from %s", u, passwordVar(u))
		want := "AAM"
		if u == "sys" {
			want = "SYS"
		}
		require.NotNil(t, users[u].Account)
		assert.Equal(t, want, users[u].Account.Name)
	}
	assert.Nil(t, users["admin"].Permissions, "admin is unrestricted in AAM")
	for _, r := range roles {
		if r.NATSUser == "broker" {
			continue // publishes nothing but answers: no requests, no inbox
		}
		p := users[r.NATSUser].Permissions
		require.NotNil(t, p, "%s has permissions", r.NATSUser)
		require.NotNil(t, p.Subscribe)
		assert.Contains(t, p.Subscribe.Allow, r.InboxPrefix()+".>", "%s's private inbox", r.NATSUser)
	}
}
