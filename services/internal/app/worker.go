package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

// CheckWorker is what every worker's constructor checks, the same way: deps
// with a registry store and JetStream, an Airbyte client, and cfg (a
// pointer to the worker's configuration) given its defaults and then
// validated, as config.Prepare does for a parsed configuration. It returns
// the worker's logger, named name. Its errors start with name.
func CheckWorker(name string, deps *Deps, ab *airbyte.Client, cfg config.Validator) (*zap.Logger, error) {
	if deps == nil || deps.Store == nil || deps.JS == nil {
		return nil, fmt.Errorf("%s: deps need Store and JS", name)
	}
	if ab == nil {
		return nil, fmt.Errorf("%s: an Airbyte client is required", name)
	}
	if err := config.Prepare(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	log := deps.Log
	if log == nil {
		log = zap.NewNop()
	}
	return log.Named(name), nil
}

// Delivery is the part of every worker's configuration that tunes its
// durable consumer: how many requests it handles at once and how JetStream
// redelivers them. A worker embeds it with its prefix,
//
//	type Config struct {
//		// REPAIR_CONCURRENCY, REPAIR_MAX_DELIVER, REPAIR_ACK_WAIT
//		app.Delivery `envPrefix:"REPAIR_"`
//	}
//
// gives it its own default concurrency in SetDefaults and checks it with
// Validate("REPAIR_").
type Delivery struct {
	// Concurrency bounds the requests one process handles at once
	// (<PREFIX>CONCURRENCY; the default is the worker's).
	Concurrency int `env:"CONCURRENCY"`
	bus.Redelivery
}

// SetDefaults gives a zero Concurrency the worker's default concurrency and
// the redelivery settings theirs.
func (d *Delivery) SetDefaults(concurrency int) {
	d.Concurrency = cmp.Or(d.Concurrency, concurrency)
	d.Redelivery.SetDefaults()
}

// Validate reports every invalid setting by its variable name: prefix
// followed by CONCURRENCY, MAX_DELIVER or ACK_WAIT.
func (d Delivery) Validate(prefix string) error {
	var errs []error
	if d.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("%sCONCURRENCY: %d is negative", prefix, d.Concurrency))
	}
	return errors.Join(append(errs, d.Redelivery.Validate(prefix))...)
}

// RequestRoute is the route of a worker's durable consumer of the requests
// of type typ, on the subject the event catalog gives that type: handled by
// handle, failed by fail, tuned by d, each delivery's work bounded by
// timeout. An unknown type leaves the route without a subject, which
// bus.Serve refuses.
func RequestRoute[T any](consumer, typ string, handle bus.Handler[T], fail bus.FailFunc[T], d Delivery, timeout time.Duration) bus.Route[T] {
	desc, _ := events.Lookup(typ)
	return bus.WithRedelivery(bus.Route[T]{
		Consumer: consumer, Subject: desc.Subject, Type: typ, Handle: handle, Fail: fail,
		Concurrency: d.Concurrency, Timeout: timeout,
	}, d.Redelivery)
}

// Orphan is what an Airbyte call's failure says of a connection Airbyte does
// not know.
type Orphan struct {
	// Resource is events.OrphanedConnection or events.OrphanedSource;
	// ResourceID its Airbyte id.
	Resource   string
	ResourceID string
	// Call is the call that answered 404: method and path.
	Call string
}

// Reason is the status reason of a connection orphaned by o.
func (o Orphan) Reason() string {
	return fmt.Sprintf("Airbyte does not know %s %s: %s answered 404", o.Resource, o.ResourceID, o.Call)
}

// Orphans finds connections Airbyte does not know and marks them ORPHANED,
// once: every worker that meets Airbyte's 404 for a connection goes through
// it.
type Orphans struct {
	Store   *registry.Store
	Airbyte *airbyte.Client
	Log     *zap.Logger
	// Source is the CloudEvent source of the connection.orphaned facts.
	Source string
}

// Ref names a registry connection and the Airbyte objects recorded for it.
type Ref struct {
	ID                  string
	AirbyteConnectionID string
	AirbyteSourceID     string
}

// RefOf returns the Ref of a registry connection.
func RefOf(c registry.Connection) Ref {
	return Ref{ID: c.ID, AirbyteConnectionID: c.AirbyteConnectionID, AirbyteSourceID: c.AirbyteSourceID}
}

// Find reports whether err, the failure of an Airbyte call made for c, says
// that Airbyte does not know c: a 404 naming c's Airbyte connection or
// source (airbyte.IsNotFoundOf), or a 404 naming neither after which
// Probe finds the Airbyte connection unknown. Any other failure is not:
// a job id Airbyte does not know (409 "Job is not currently running"), a
// 404 naming another resource that Airbyte's connection look-up does not
// confirm, or a 404 without a body naming the connection (a proxy's, when
// AIRBYTE_API_URL is wrong) never marks a connection.
func (o Orphans) Find(ctx context.Context, c Ref, err error) (Orphan, bool) {
	e, ok := airbyte.AsAPIError(err)
	if !ok || !airbyte.IsNotFound(err) || c.AirbyteConnectionID == "" {
		return Orphan{}, false
	}
	call := e.Method + " " + e.Path
	switch {
	case airbyte.IsNotFoundOf(err, c.AirbyteConnectionID):
		return Orphan{Resource: events.OrphanedConnection, ResourceID: c.AirbyteConnectionID, Call: call}, true
	case airbyte.IsNotFoundOf(err, c.AirbyteSourceID):
		return Orphan{Resource: events.OrphanedSource, ResourceID: c.AirbyteSourceID, Call: call}, true
	}
	return o.Probe(ctx, c)
}

// Probe asks Airbyte for c's Airbyte connection (GET /connections/{id}) and
// reports whether it answered a 404 naming it. A failed probe (Airbyte
// unreachable, any other answer) finds nothing.
func (o Orphans) Probe(ctx context.Context, c Ref) (Orphan, bool) {
	if c.AirbyteConnectionID == "" {
		return Orphan{}, false
	}
	_, err := o.Airbyte.GetConnection(ctx, c.AirbyteConnectionID)
	e, ok := airbyte.AsAPIError(err)
	if !ok || !airbyte.IsNotFoundOf(err, c.AirbyteConnectionID) {
		return Orphan{}, false
	}
	return Orphan{Resource: events.OrphanedConnection, ResourceID: c.AirbyteConnectionID, Call: e.Method + " " + e.Path}, true
}

// Mark marks c ORPHANED for orph and queues its connection.orphaned fact,
// in one transaction, unless c is no longer live (registry.ConnectionOrphan):
// of every caller that meets the 404, one marks the connection, logs it
// (once, at Warn) and emits the fact, whose id derives from the connection
// alone. req, when set, is the request whose call met the 404: the fact's
// correlationid and traceparent. It returns the connection as it is after
// the call.
func (o Orphans) Mark(ctx context.Context, c Ref, orph Orphan, req *outbox.Request) (registry.Connection, error) {
	reason := orph.Reason()
	got, marked, err := o.Store.ConnectionOrphan(ctx, c.ID, reason, func(cur registry.Connection, previous registry.ConnectionStatus) (registry.OutboxRow, error) {
		opts := []events.Option{
			events.WithID(events.DeterministicID(c.ID, "", events.TypeConnectionOrphaned)),
			events.WithSubject(cur.ID),
		}
		if req != nil {
			opts = append(opts, events.WithCorrelationID(req.ID), events.WithTraceParent(req.TraceParent))
		}
		e, err := events.New(events.TypeConnectionOrphaned, o.Source, events.ConnectionOrphaned{
			ConnectionID: cur.ID, Name: cur.Name, Status: string(registry.StatusOrphaned), PreviousStatus: string(previous),
			AirbyteConnectionID: cur.AirbyteConnectionID, AirbyteSourceID: cur.AirbyteSourceID,
			Resource: orph.Resource, ResourceID: orph.ResourceID, Call: orph.Call, Reason: reason,
		}, opts...)
		if err != nil {
			return registry.OutboxRow{}, err
		}
		return outbox.Encode(events.SubjectConnectionOrphaned, e)
	})
	if err != nil {
		return registry.Connection{}, fmt.Errorf("mark connection %s ORPHANED: %w", c.ID, err)
	}
	if marked {
		o.Log.Warn("connection unknown to Airbyte: marked ORPHANED", zap.String("connection_id", c.ID),
			zap.String("airbyte_connection_id", c.AirbyteConnectionID), zap.String("resource", orph.Resource),
			zap.String("resource_id", orph.ResourceID), zap.String("call", orph.Call))
	}
	return got, nil
}

// Check is what a worker does with the failure of an Airbyte call made for
// c on behalf of req: when Find says Airbyte does not know c, it marks c
// (Mark) and returns the permanent error that ends the request with the
// reason, without retries; otherwise it returns nil and the worker handles
// err as any other failure. A registry failure while marking is returned
// as it is (the request is retried).
func (o Orphans) Check(ctx context.Context, c Ref, req *outbox.Request, err error) error {
	orph, ok := o.Find(ctx, c, err)
	if !ok {
		return nil
	}
	got, merr := o.Mark(ctx, c, orph, req)
	if merr != nil {
		return merr
	}
	return NotLive(got)
}

// NotLive is the permanent error that ends a request for a connection
// that is not in a status to serve it: "connection <id> is ORPHANED
// (Airbyte does not know ...)".
func NotLive(c registry.Connection) error {
	if c.StatusReason == "" {
		return bus.Permanentf("connection %s is %s", c.ID, c.Status)
	}
	return bus.Permanentf("connection %s is %s (%s)", c.ID, c.Status, c.StatusReason)
}

// CrashHook is called at each crash point of a worker's handling, by its
// name; a non-nil error makes the delivery stop there, as if the process
// died. Tests set it; a nil hook never crashes.
type CrashHook func(point string) error

// At runs the hook at point p.
func (h CrashHook) At(p string) error {
	if h == nil {
		return nil
	}
	return h(p)
}

// ConnectionError is the outcome of reading the registry's connection id
// for a request: nil when it was read, permanent when the connection is not
// registered (a later delivery finds it no more), and otherwise a retryable
// read failure.
func ConnectionError(id string, err error) error {
	switch {
	case err == nil:
		return nil
	case registry.IsNotFound(err):
		return bus.Permanentf("connection %s is not registered", id)
	default:
		return fmt.Errorf("read connection %s: %w", id, err)
	}
}

// ErrRecorded rolls back a transaction whose request an earlier delivery
// recorded in the inbox already.
var ErrRecorded = errors.New("request already recorded")

// RecordOnce records a request's outcome in the inbox, or returns
// ErrRecorded when it is recorded already.
func RecordOnce(ctx context.Context, q *registry.Queries, e registry.InboxEntry) error {
	inserted, err := q.InboxInsert(ctx, e)
	if err != nil {
		return err
	}
	if !inserted {
		return ErrRecorded
	}
	return nil
}
