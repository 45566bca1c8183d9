package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Source is the CloudEvent source of the facts the worker emits.
const Source = "/aam/onboarding"

// Consumer is the worker's durable consumer.
const Consumer = "onboarding"

// CredentialGetter returns a credential with its secret document; the
// credential broker's client (*credentials.Client) is one.
type CredentialGetter interface {
	Get(ctx context.Context, id string) (credentials.Credential, error)
}

// Worker onboards connections on request. Build it with New and run it
// with Run.
type Worker struct {
	deps  *app.Deps
	ab    *airbyte.Client
	creds CredentialGetter
	cfg   Config
	log   *zap.Logger

	defs defCache

	// running holds the ids of the connections this process is onboarding
	// now. A request redelivered while its first delivery still works
	// (its acknowledgement wait ran out under load) is the same message,
	// so the registry lease lets it in; this keeps the two from creating
	// Airbyte objects side by side.
	running sync.Map

	// crash is called at each crash point (see crashPoints).
	crash app.CrashHook
}

// New returns an onboard worker.
func New(deps *app.Deps, ab *airbyte.Client, creds CredentialGetter, cfg Config) (*Worker, error) {
	log, err := app.CheckWorker(Consumer, deps, ab, &cfg)
	if err != nil {
		return nil, err
	}
	if creds == nil {
		return nil, errors.New("onboarding: a credentials client is required")
	}
	return &Worker{deps: deps, ab: ab, creds: creds, cfg: cfg, log: log,
		defs: defCache{ttl: cfg.DefinitionCacheTTL, m: map[string]defEntry{}}}, nil
}

// Route returns the worker's route on the request subject.
func (w *Worker) Route() bus.Route[events.OnboardRequested] {
	return app.RequestRoute(Consumer, events.TypeOnboardRequested, w.handle, w.fail, w.cfg.Delivery, w.cfg.Timeout)
}

// Run handles onboard and delete requests until ctx is cancelled.
func (w *Worker) Run(ctx context.Context) error {
	return app.Run(ctx, app.Consume(w.deps.Runtime(Source), w.Route()), app.Consume(w.deps.Runtime(Source), w.DeleteRoute()))
}

// idNamespace derives connection ids from requests.
var idNamespace = uuid.MustParse("5b0f6b0e-3d52-4c47-9a0e-6f1c2d8e4b71")

// ConnectionID returns the registry id of the connection an onboard request
// (CloudEvent source and id) creates.
func ConnectionID(requestSource, requestID string) string {
	return uuid.NewSHA1(idNamespace, []byte(requestSource+"\x00"+requestID)).String()
}

// ObjectName returns the name of the Airbyte source and connection created
// for a connection: its name and the first 8 hex digits of its registry id,
// "Salesforce Production [aam:1a2b3c4d]".
func ObjectName(connectionName, connectionID string) string {
	short := strings.ReplaceAll(connectionID, "-", "")
	if len(short) > 8 {
		short = short[:8]
	}
	return fmt.Sprintf("%s [aam:%s]", strings.TrimSpace(connectionName), short)
}

// onboarding is one delivery's work.
type onboarding struct {
	w    *Worker
	ev   bus.Event[events.OnboardRequested]
	req  outbox.Request
	id   string
	conn registry.Connection
}

func (w *Worker) handle(ctx context.Context, ev bus.Event[events.OnboardRequested]) error {
	o := &onboarding{w: w, ev: ev, req: outbox.RequestOf(ev), id: ConnectionID(ev.Source, ev.ID)}
	if _, busy := w.running.LoadOrStore(o.id, struct{}{}); busy {
		return bus.RetryAfter(busyRetry, fmt.Errorf("connection %s is being onboarded by an earlier delivery of this request", o.id))
	}
	defer w.running.Delete(o.id)
	return o.run(ctx)
}

// busyRetry is how long a delivery that found its request's onboarding
// already running in this process waits before it looks again; by then the
// first delivery has usually answered, and the request is a duplicate.
const busyRetry = 2 * time.Second

func (o *onboarding) point(p string) error { return o.w.point(p) }

func (o *onboarding) checkpoint(ctx context.Context, step string, cp registry.ConnectionCheckpoint) error {
	cp.Step = step
	c, err := o.w.deps.Store.ConnectionSaveCheckpoint(ctx, o.id, cp)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", step, err)
	}
	o.conn = c
	return nil
}

func (o *onboarding) run(ctx context.Context) error {
	d := o.ev.Data
	store := o.w.deps.Store
	dest := d.DestinationID
	if dest == "" {
		dest = o.w.cfg.DestinationID
	}
	holder := fmt.Sprintf("%s:%d", o.ev.Msg.Stream, o.ev.Msg.Sequence)
	conn, created, err := store.ConnectionCreate(ctx, registry.ConnectionCreateParams{
		ID: o.id, Name: d.ConnectionName, SourceType: d.SourceType, CredentialID: d.CredentialID,
		AirbyteDestinationID: dest, RequestSource: o.ev.Source, RequestID: o.ev.ID, RequestedStreams: d.Streams,
		Holder: holder, Lease: o.w.cfg.Timeout,
	})
	if err != nil {
		return stepFailed(StepRegister, err)
	}
	o.conn = conn
	switch conn.Status {
	case registry.StatusActive:
		return nil // activated by an earlier delivery
	case registry.StatusFailed:
		return stepFailed(StepActivate, newPermanent("onboarding already failed: "+conn.StatusReason))
	}
	if !created {
		// A copy of the request in another message (published again after
		// JetStream's duplicate window) while a delivery of the first one
		// is still onboarding: that delivery answers the request, and two
		// would create Airbyte objects twice.
		claimed, until, err := store.ConnectionClaimOnboarding(ctx, o.id, holder, o.w.cfg.Timeout)
		if err != nil {
			return stepFailed(StepRegister, err)
		}
		if !claimed {
			o.w.log.Info("copy of an onboarding in progress elsewhere; leaving it to that delivery",
				zap.String("connection_id", o.id), zap.Time("held_until", until))
			return nil
		}
	}
	if err := o.point("registered"); err != nil {
		return err
	}
	if o.ev.Msg.NumDelivered > 1 {
		o.w.log.Info("resuming onboarding", zap.String("connection_id", o.id), zap.String("checkpoint", conn.OnboardStep),
			zap.Uint64("num_delivered", o.ev.Msg.NumDelivered))
	}

	if o.conn.AirbyteSourceID == "" {
		if err := o.createSource(ctx); err != nil {
			return err
		}
	}
	if o.conn.AirbyteSourceCatalogID == "" {
		disc, err := o.w.ab.ConfigAPI().DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: o.conn.AirbyteSourceID})
		if err != nil {
			return stepFailed(StepDiscover, err)
		}
		if disc.CatalogID == "" {
			return stepFailed(StepDiscover, errors.New("discover returned no catalogId"))
		}
		if err := o.checkpoint(ctx, StepDiscover, registry.ConnectionCheckpoint{AirbyteSourceCatalogID: disc.CatalogID}); err != nil {
			return stepFailed(StepDiscover, err)
		}
		if err := o.point("discovered"); err != nil {
			return err
		}
	}
	if o.conn.AirbyteConnectionID == "" {
		if err := o.createConnection(ctx); err != nil {
			return err
		}
	}
	read, err := o.w.ab.ConfigAPI().GetConnection(ctx, o.conn.AirbyteConnectionID)
	if err != nil {
		return stepFailed(StepCreateConnection, fmt.Errorf("read connection %s: %w", o.conn.AirbyteConnectionID, err))
	}
	if err := o.point("connection_read"); err != nil {
		return err
	}
	return o.activate(ctx, read)
}

// createSource runs steps 1–3: credentials, source definition, source.
func (o *onboarding) createSource(ctx context.Context) error {
	d := o.ev.Data
	cctx, cancel := context.WithTimeout(ctx, o.w.cfg.CredentialsTimeout)
	cred, err := o.w.creds.Get(cctx, d.CredentialID)
	cancel()
	if err != nil {
		if errors.Is(err, credentials.ErrNotFound) {
			err = newPermanent(fmt.Sprintf("credential %q not found in the credential broker", d.CredentialID))
		}
		return stepFailed(StepCredentials, err)
	}
	if err := o.point("credentials"); err != nil {
		return err
	}

	if o.conn.AirbyteSourceDefinitionID == "" {
		def, err := o.w.definition(ctx, d.SourceType)
		if err != nil {
			return stepFailed(StepSourceDefinition, err)
		}
		if err := o.checkpoint(ctx, StepSourceDefinition, registry.ConnectionCheckpoint{AirbyteSourceDefinitionID: def.ID}); err != nil {
			return stepFailed(StepSourceDefinition, err)
		}
		if err := o.point("source_definition"); err != nil {
			return err
		}
	}

	name := ObjectName(d.ConnectionName, o.id)
	src, err := createOnce(ctx, o, StepCreateSource, "source", name, func() (*airbyte.Source, error) {
		return o.w.ab.FindSourceByName(ctx, o.w.cfg.WorkspaceID, name)
	}, func() (*airbyte.Source, error) {
		return o.w.ab.CreateSource(ctx, airbyte.SourceCreateRequest{
			Name: name, DefinitionID: o.conn.AirbyteSourceDefinitionID, WorkspaceID: o.w.cfg.WorkspaceID,
			Configuration: cred.AirbyteConfiguration(),
		})
	})
	if err != nil {
		return err
	}
	if err := o.checkpoint(ctx, StepCreateSource, registry.ConnectionCheckpoint{AirbyteSourceID: src.SourceID}); err != nil {
		return stepFailed(StepCreateSource, err)
	}
	return o.point("source_checkpointed")
}

// createConnection runs step 5: the connection to the destination.
func (o *onboarding) createConnection(ctx context.Context) error {
	d := o.ev.Data
	name := ObjectName(d.ConnectionName, o.id)
	conn, err := createOnce(ctx, o, StepCreateConnection, "connection", name, func() (*airbyte.Connection, error) {
		return o.w.ab.FindConnectionByName(ctx, o.w.cfg.WorkspaceID, name)
	}, func() (*airbyte.Connection, error) {
		req := airbyte.ConnectionCreateRequest{
			Name: name, SourceID: o.conn.AirbyteSourceID, DestinationID: o.conn.AirbyteDestinationID,
			Status: airbyte.ConnectionActive,
		}
		if len(o.conn.RequestedStreams) > 0 {
			req.Configurations = &airbyte.StreamConfigurations{}
			for _, s := range o.conn.RequestedStreams {
				req.Configurations.Streams = append(req.Configurations.Streams, airbyte.StreamConfiguration{Name: s})
			}
		}
		return o.w.ab.CreateConnection(ctx, req)
	})
	if err != nil {
		return err
	}
	if err := o.checkpoint(ctx, StepCreateConnection, registry.ConnectionCheckpoint{AirbyteConnectionID: conn.ConnectionID}); err != nil {
		return stepFailed(StepCreateConnection, err)
	}
	return o.point("connection_checkpointed")
}

// createOnce creates the Airbyte object of a create step (a source or a
// connection, what) at most once across deliveries: before create is
// called the step's started mark is recorded, and a delivery that finds the
// mark looks the object up by name first, since an earlier delivery may
// have created it. The crash points create_<what> and <what>_created stand
// around the create call.
func createOnce[T any](ctx context.Context, o *onboarding, step, what, name string, find, create func() (*T, error)) (*T, error) {
	var obj *T
	var err error
	if o.conn.OnboardStep == step+startedMark {
		obj, err = find()
		if err != nil && !airbyte.IsNotFound(err) {
			return nil, stepFailed(step, fmt.Errorf("look up %s %q: %w", what, name, err))
		}
	} else if err := o.checkpoint(ctx, step+startedMark, registry.ConnectionCheckpoint{}); err != nil {
		return nil, stepFailed(step, err)
	}
	if obj != nil {
		return obj, nil
	}
	if err := o.point("create_" + what); err != nil {
		return nil, err
	}
	if obj, err = create(); err != nil {
		return nil, stepFailed(step, err)
	}
	return obj, o.point(what + "_created")
}

// activate runs step 6: catalog version 1, ACTIVE, inbox and fact in one
// transaction.
func (o *onboarding) activate(ctx context.Context, read *airbyte.ConnectionRead) error {
	catalog, err := json.Marshal(read.SyncCatalog)
	if err != nil {
		return stepFailed(StepActivate, fmt.Errorf("encode sync catalog: %w", err))
	}
	sourceCatalogID := read.SourceCatalogID
	if sourceCatalogID == "" {
		sourceCatalogID = o.conn.AirbyteSourceCatalogID
	}
	streams := make([]string, 0, len(read.SyncCatalog.Streams))
	for _, s := range read.SyncCatalog.Streams {
		if s.Stream != nil {
			streams = append(streams, s.Stream.Name)
		}
	}
	err = o.w.deps.Store.InTx(ctx, func(q *registry.Queries) error {
		c, err := q.ConnectionGetForUpdate(ctx, o.id)
		if err != nil {
			return err
		}
		if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: o.ev.Source, ID: o.ev.ID, Type: o.ev.Type, Outcome: registry.OutcomeDone}); err != nil {
			return err
		}
		if c.Status == registry.StatusActive {
			return app.ErrRecorded
		}
		if _, err := q.CatalogVersionCreate(ctx, registry.CatalogVersionCreateParams{
			ConnectionID: o.id, VersionNumber: 1, SyncCatalog: catalog, SourceCatalogID: sourceCatalogID,
			Reason: "onboarded", RequestSource: o.ev.Source, RequestID: o.ev.ID,
		}); err != nil {
			return err
		}
		c, err = q.ConnectionActivate(ctx, o.id, 1, sourceCatalogID)
		if err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeOnboarded, Source, o.id, o.req, events.ConnectionOnboarded{
			ID: c.ID, Name: c.Name, SourceType: c.SourceType, Status: string(c.Status),
			AirbyteSourceID: c.AirbyteSourceID, AirbyteConnectionID: c.AirbyteConnectionID,
			CreatedAt: c.CreatedAt.UTC(), CatalogVersion: c.CatalogVersion, Streams: streams,
		})
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	if err != nil {
		return stepFailed(StepActivate, err)
	}
	o.w.log.Info("connection onboarded", zap.String("connection_id", o.id),
		zap.String("airbyte_source_id", o.conn.AirbyteSourceID), zap.String("airbyte_connection_id", o.conn.AirbyteConnectionID),
		zap.Int("num_streams", len(streams)))
	return nil
}

// fail ends a request that cannot be onboarded: the connection FAILED, the
// inbox entry and the onboard_failed fact, in one transaction.
func (w *Worker) fail(ctx context.Context, ev bus.Event[events.OnboardRequested], cause error) error {
	id := ConnectionID(ev.Source, ev.ID)
	d := ev.Data
	dest := d.DestinationID
	if dest == "" {
		dest = w.cfg.DestinationID
	}
	// The row may be missing when registering was what failed.
	_, _, err := w.deps.Store.ConnectionCreate(ctx, registry.ConnectionCreateParams{
		ID: id, Name: d.ConnectionName, SourceType: d.SourceType, CredentialID: d.CredentialID,
		AirbyteDestinationID: dest, RequestSource: ev.Source, RequestID: ev.ID, RequestedStreams: d.Streams,
	})
	haveRow := err == nil
	if err != nil && !errors.Is(err, registry.ErrInvalid) && !errors.Is(err, registry.ErrConflict) {
		return fmt.Errorf("record failure: %w", err)
	}

	err = w.deps.Store.InTx(ctx, func(q *registry.Queries) error {
		fact := events.OnboardFailed{Name: d.ConnectionName, SourceType: d.SourceType, Status: string(registry.StatusFailed)}
		var conn registry.Connection
		if haveRow {
			var err error
			if conn, err = q.ConnectionGetForUpdate(ctx, id); err != nil {
				return err
			}
		}
		fact.Step, fact.Reason = failure(conn, ev, cause)
		if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type,
			Outcome: registry.OutcomeFailed, Reason: fact.Step + ": " + fact.Reason}); err != nil {
			return err
		}
		subject := ""
		if haveRow {
			if conn.Status == registry.StatusActive {
				// Activated after all (a delivery raced this one): the
				// inbox entry just written must not stand.
				return app.ErrRecorded
			}
			if conn, err = q.ConnectionSetStatus(ctx, id, registry.StatusFailed, fact.Step+": "+fact.Reason); err != nil {
				return err
			}
			fact.ID, fact.AirbyteSourceID, subject = conn.ID, conn.AirbyteSourceID, conn.ID
		}
		return outbox.Emit(ctx, q, events.TypeOnboardFailed, Source, subject, outbox.RequestOf(ev), fact)
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	return err
}

// failure returns the step and reason of a failed request.
func failure(conn registry.Connection, ev bus.Event[events.OnboardRequested], cause error) (step, reason string) {
	var se *StepError
	if errors.As(cause, &se) {
		step, reason = se.Step, se.Err.Error()
		if !bus.IsPermanent(cause) {
			reason = fmt.Sprintf("%s (gave up after %d deliveries)", reason, ev.Msg.NumDelivered)
		}
		return step, reason
	}
	return nextStep(conn), cause.Error()
}

// nextStep is the step a connection's onboarding was at, from its
// checkpoint.
func nextStep(c registry.Connection) string {
	switch {
	case c.ID == "":
		return StepRegister
	case c.AirbyteConnectionID != "":
		return StepActivate
	case c.AirbyteSourceCatalogID != "":
		return StepCreateConnection
	case c.AirbyteSourceID != "":
		return StepDiscover
	case c.AirbyteSourceDefinitionID != "":
		return StepCreateSource
	}
	return StepCredentials
}

// definition returns the source definition of a source type, from the
// cache or Airbyte.
func (w *Worker) definition(ctx context.Context, sourceType string) (*airbyte.Definition, error) {
	key := strings.ToLower(strings.TrimSpace(sourceType))
	if d, ok := w.defs.get(key); ok {
		return d, nil
	}
	v, err, _ := w.defs.group.Do(key, func() (any, error) {
		d, err := w.ab.FindSourceDefinition(ctx, w.cfg.WorkspaceID, sourceType)
		if err != nil {
			return nil, err
		}
		w.defs.put(key, d)
		return d, nil
	})
	if err != nil {
		if airbyte.IsNotFound(err) {
			return nil, newPermanent(fmt.Sprintf("source definition not found for source_type %s", sourceType))
		}
		return nil, err
	}
	return v.(*airbyte.Definition), nil
}

type defEntry struct {
	def     *airbyte.Definition
	expires time.Time
}

// defCache remembers source definitions by lower-case source type.
type defCache struct {
	ttl   time.Duration
	group singleflight.Group
	mu    sync.Mutex
	m     map[string]defEntry
}

func (c *defCache) get(key string) (*airbyte.Definition, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Now().After(e.expires) {
		return nil, false
	}
	return e.def, true
}

func (c *defCache) put(key string, d *airbyte.Definition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = defEntry{def: d, expires: time.Now().Add(c.ttl)}
}
