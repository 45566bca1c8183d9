package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
)

// Request kinds.
const (
	kindOnboard = "onboard"
	kindSync    = "sync"
	kindRepair  = "repair"
	kindPolicy  = "policy"
)

// badKinds are the malformed requests a run interleaves.
var badKinds = []string{
	"bad: not a CloudEvent", "bad: missing attributes", "bad: wrong data types", "bad: unknown type on subject",
	"bad: 1 MiB body", "bad: over-limit body", "bad: invalid UTF-8", "bad: sync of an unknown connection",
	"bad: repair of an unknown connection",
}

// source is the CloudEvent source of the publisher's requests.
const source = "/aam/chaos"

var terminals = map[string][]string{
	kindOnboard: {events.TypeOnboarded, events.TypeOnboardFailed, events.TypeRequestRejected},
	kindSync:    {events.TypeSyncSucceeded, events.TypeSyncFailed, events.TypeSyncCancelled, events.TypeRequestRejected},
	kindRepair:  {events.TypeCatalogVersioned, events.TypeRepairFailed, events.TypeRequestRejected},
	kindPolicy:  {events.TypePolicySet, events.TypeRequestRejected},
}

// repairCatalog is the catalog the repairs apply (the seed's example).
var repairCatalog = json.RawMessage(`{"streams": [{"stream": {"name": "Account", "json_schema": {},
  "supported_sync_modes": ["full_refresh", "incremental"]}, "sync_mode": "incremental", "destination_sync_mode": "append_dedup"}]}`)

var policyDoc = json.RawMessage(`{"rules":[{"id":"ask-on-types","when":"change.kind.startsWith(\"type_\")","action":"require_approval"},{"id":"rest","when":"!change.breaking","action":"propagate"}]}`)

// publisher sends the request mix and follows AAM_EVENTS (an ordered
// consumer, which resumes where it was after a NATS restart) to learn the
// onboarded connections and to tell when every request is answered.
type publisher struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	rng *mrand.Rand

	mu       sync.Mutex
	sent     []*Request
	conns    []string
	answered map[string]int // by request id, or "seq:N" for a rejection by sequence
	lastFact time.Time
	cc       jetstream.ConsumeContext
}

func newPublisher(url string, seed uint64) (_ *publisher, err error) {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond), nats.Name("aam-chaos-publisher"))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	p := &publisher{nc: nc, js: js, rng: mrand.New(mrand.NewPCG(seed, 3)), answered: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	p.cc, err = c.Consume(p.onFact)
	return p, err
}

func (p *publisher) close() {
	if p.cc != nil {
		p.cc.Stop()
	}
	p.nc.Close()
}

func (p *publisher) onFact(m jetstream.Msg) {
	h := m.Headers()
	typ, corr := h.Get("ce-type"), h.Get("ce-correlationid")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastFact = time.Now()
	if typ == events.TypeOnboarded {
		if subj, err := events.PercentDecode(h.Get("ce-subject")); err == nil && subj != "" {
			p.conns = append(p.conns, subj)
		}
	}
	if corr != "" {
		p.answered[corr]++
	}
	if typ == events.TypeRequestRejected {
		var d events.RequestRejected
		if json.Unmarshal(m.Data(), &d) == nil && d.RequestID == "" {
			p.answered[fmt.Sprintf("seq:%d", d.StreamSequence)]++
		}
	}
}

// requests returns a copy of what was sent.
func (p *publisher) requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, len(p.sent))
	for i, r := range p.sent {
		out[i] = *r
	}
	return out
}

// outgoing is one request to publish.
type outgoing struct {
	req   *Request
	msg   *nats.Msg
	msgID string
}

// run sends cfg.Requests requests paced over cfg.Duration from 16
// publishing goroutines, each retrying its publish until JetStream
// acknowledges it (the same Nats-Msg-Id: the same request).
func (p *publisher) run(ctx context.Context, cfg Config, start time.Time) {
	work := make(chan outgoing, 64)
	var wg sync.WaitGroup
	deadline := start.Add(cfg.Duration + cfg.Settle)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				p.publish(ctx, o, deadline)
			}
		}()
	}
	interval := cfg.Duration / time.Duration(max(1, cfg.Requests))
	for i := range cfg.Requests {
		if w := time.Until(start.Add(time.Duration(i) * interval)); w > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(w):
			}
		}
		if ctx.Err() != nil {
			break
		}
		o, err := p.next(cfg.BadShare)
		if err != nil {
			continue
		}
		work <- o
	}
	close(work)
	wg.Wait()
}

func (p *publisher) publish(ctx context.Context, o outgoing, deadline time.Time) {
	o.msg.Header.Set(jetstream.MsgIDHeader, o.msgID)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		o.req.SentAt = time.Now()
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ack, err := p.js.PublishMsg(actx, o.msg)
		cancel()
		if err == nil {
			p.mu.Lock()
			o.req.Seq = ack.Sequence
			p.sent = append(p.sent, o.req)
			p.mu.Unlock()
			return
		}
		if errors.Is(err, nats.ErrMaxPayload) || strings.Contains(err.Error(), "maximum payload") {
			p.mu.Lock()
			o.req.Refused = true
			p.sent = append(p.sent, o.req)
			p.mu.Unlock()
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// next draws the next request of the mix.
func (p *publisher) next(badShare float64) (outgoing, error) {
	p.mu.Lock()
	// As many draws whatever the connections known, so that a seed gives
	// the same sequence of kinds.
	which := p.rng.Uint64()
	var conn string
	if len(p.conns) > 0 {
		conn = p.conns[which%uint64(len(p.conns))]
	}
	roll, pick := p.rng.Float64(), p.rng.Float64()
	bad := badKinds[p.rng.IntN(len(badKinds))]
	p.mu.Unlock()
	if roll < badShare {
		return badRequest(bad)
	}
	switch {
	case conn == "" || pick < 0.2:
		id := uuid.NewString()
		return goodRequest(kindOnboard, events.TypeOnboardRequested, id, events.OnboardRequested{SourceType: "Salesforce",
			ConnectionName: "chaos-" + id, CredentialID: "salesforce-prod"}, "chaos-"+id)
	case pick < 0.7:
		return goodRequest(kindSync, events.TypeSyncRequested, uuid.NewString(), events.SyncRequested{ConnectionID: conn}, "")
	case pick < 0.85:
		return goodRequest(kindRepair, events.TypeRepairRequested, uuid.NewString(),
			events.RepairRequested{ConnectionID: conn, NewSyncCatalog: repairCatalog, Reason: "chaos"}, "")
	default:
		return goodRequest(kindPolicy, events.TypePolicyRequested, uuid.NewString(),
			events.PolicySetRequested{ConnectionID: conn, Policy: policyDoc}, "")
	}
}

func goodRequest(kind, typ, id string, data any, name string) (outgoing, error) {
	desc, _ := events.Lookup(typ)
	e, err := events.New(typ, source, data, events.WithID(id))
	if err != nil {
		return outgoing{}, err
	}
	msg, err := events.ToMsg(desc.Subject, e, events.Binary)
	if err != nil {
		return outgoing{}, err
	}
	return outgoing{req: &Request{ID: id, Kind: kind, Subject: desc.Subject, Name: name, Terminal: terminals[kind]},
		msg: msg, msgID: id}, nil
}

// badRequest builds a malformed request of kind.
func badRequest(kind string) (outgoing, error) {
	syncSubject := events.SubjectSyncRequest
	id := uuid.NewString()
	rejected := []string{events.TypeRequestRejected}
	binary := func(typ string, data []byte) *nats.Msg {
		m := nats.NewMsg(syncSubject)
		m.Header.Set("ce-specversion", "1.0")
		m.Header.Set("ce-id", id)
		m.Header.Set("ce-source", source)
		m.Header.Set("ce-type", typ)
		m.Header.Set("Content-Type", "application/json")
		m.Data = data
		return m
	}
	req := &Request{ID: id, Kind: kind, Bad: true, Subject: syncSubject, Terminal: rejected}
	var msg *nats.Msg
	switch kind {
	case "bad: not a CloudEvent":
		msg = nats.NewMsg(syncSubject)
		msg.Data = []byte("this is not a CloudEvent\x00")
		req.ID = ""
	case "bad: missing attributes":
		msg = binary(events.TypeSyncRequested, []byte(`{"connection_id":"`+uuid.NewString()+`"}`))
		msg.Header.Del("ce-id")
		msg.Header.Del("ce-source")
		req.ID = ""
	case "bad: wrong data types":
		msg = binary(events.TypeSyncRequested, []byte(`{"connection_id": 42}`))
	case "bad: unknown type on subject":
		msg = binary(events.TypeOnboardRequested, []byte(`{"source_type":"Salesforce","connection_name":"x","credential_id":"salesforce-prod"}`))
	case "bad: 1 MiB body":
		msg = binary(events.TypeSyncRequested, bytes.Repeat([]byte("x"), 1<<20))
	case "bad: over-limit body":
		msg = binary(events.TypeSyncRequested, bytes.Repeat([]byte("x"), 9<<20))
	case "bad: invalid UTF-8":
		msg = binary(events.TypeSyncRequested, []byte("{\"connection_id\":\"\xff\xfe\xfd\"}"))
	case "bad: sync of an unknown connection":
		o, err := goodRequest(kindSync, events.TypeSyncRequested, id, events.SyncRequested{ConnectionID: uuid.NewString()}, "")
		o.req.Kind, o.req.Bad = kind, true
		return o, err
	case "bad: repair of an unknown connection":
		o, err := goodRequest(kindRepair, events.TypeRepairRequested, id,
			events.RepairRequested{ConnectionID: uuid.NewString(), NewSyncCatalog: repairCatalog}, "")
		o.req.Kind, o.req.Bad = kind, true
		return o, err
	default:
		return outgoing{}, fmt.Errorf("unknown bad kind %q", kind)
	}
	return outgoing{req: req, msg: msg, msgID: id}, nil
}

// awaitQuiet waits until every stored request is answered and no fact
// came for 3 s, or settle has passed.
func (p *publisher) awaitQuiet(ctx context.Context, settle time.Duration) {
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		p.mu.Lock()
		open := 0
		for _, r := range p.sent {
			if r.Refused {
				continue
			}
			if p.answered[r.ID] == 0 && p.answered[fmt.Sprintf("seq:%d", r.Seq)] == 0 {
				open++
			}
		}
		quiet := time.Since(p.lastFact) > 3*time.Second
		p.mu.Unlock()
		if open == 0 && quiet {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
