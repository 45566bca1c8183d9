package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/observer"
)

func requestCommands(root *cobra.Command) {
	root.AddCommand(onboardCommand(), syncCommand(), repairCommand(), policyCommand())
}

// requestFlags are the flags every request command shares.
type requestFlags struct {
	clientFlags
	wait    bool
	timeout time.Duration
	id      string
}

func (f *requestFlags) add(cmd *cobra.Command) {
	f.addNATSFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.gatewayURL, "gateway", "", "send the request through the gateway at this URL instead of NATS (default $AAM_GATEWAY_URL)")
	fl.StringVar(&f.token, "token", "", "bearer token for the gateway (default $AAM_GATEWAY_TOKEN)")
	fl.BoolVarP(&f.wait, "wait", "w", false, "wait for the answer and report it (exit 2 rejected, 3 failed, 4 timed out)")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long --wait waits")
	fl.StringVar(&f.id, "id", "", "request id (idempotency key): the same id is the same request (default: a new UUIDv7)")
}

func onboardCommand() *cobra.Command {
	var f requestFlags
	var d events.OnboardRequested
	cmd := &cobra.Command{
		Use:   "onboard --source-type TYPE --name NAME --credential ID",
		Short: "Onboard a source connection (io.aam.connection.onboard.requested.v1)",
		Example: `  aam onboard --source-type Salesforce --name "Salesforce Production" --credential salesforce-prod --wait
  aam onboard --source-type Salesforce --name CRM --credential salesforce-prod --stream Account --stream Contact`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.submit(cmd, events.TypeOnboardRequested, d, "", false)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&d.SourceType, "source-type", "", "Airbyte source type, e.g. Salesforce (required)")
	fl.StringVar(&d.ConnectionName, "name", "", "connection name (required)")
	fl.StringVar(&d.CredentialID, "credential", "", "credential broker id of the source credentials (required)")
	fl.StringArrayVar(&d.Streams, "stream", nil, "stream to sync (repeatable; default: the connector's suggested streams)")
	fl.StringVar(&d.DestinationID, "destination-id", "", "Airbyte destination id (default: the workers' AIRBYTE_DESTINATION_ID)")
	for _, name := range []string{"source-type", "name", "credential"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func syncCommand() *cobra.Command {
	var f requestFlags
	var until string
	cmd := &cobra.Command{
		Use:   "sync CONNECTION_ID",
		Short: "Start a sync job (io.aam.connection.sync.requested.v1)",
		Long: `Start a sync job for a registered connection. With --wait the command returns
when the job started (sync.started); with --until terminal it follows the job
to its end (sync.succeeded, sync.failed or sync.cancelled).`,
		Example: `  aam sync a1b2c3d4-e5f6-7890-abcd-ef1234567890 --wait
  aam sync a1b2c3d4-e5f6-7890-abcd-ef1234567890 --until terminal -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			terminal := false
			switch until {
			case "started":
			case "terminal":
				terminal, f.wait = true, true
			default:
				return fmt.Errorf("--until %q: want started or terminal", until)
			}
			return f.submit(cmd, events.TypeSyncRequested, events.SyncRequested{ConnectionID: args[0]}, args[0], terminal)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&until, "until", "started", "what ends --wait: started (the job started) or terminal (the job ended; implies --wait)")
	return cmd
}

func repairCommand() *cobra.Command {
	var f requestFlags
	var catalogFile, reason string
	cmd := &cobra.Command{
		Use:   "repair CONNECTION_ID --catalog FILE",
		Short: "Apply a new sync catalog (io.aam.connection.repair.requested.v1)",
		Long: `Apply a whole new sync catalog to a connection and record it as a new catalog
version. FILE holds the catalog ({"streams": [...]}, in the Airbyte protocol form
or the configuration API form), or a whole repair body with new_sync_catalog;
"-" reads it from standard input.`,
		Example: `  aam repair a1b2c3d4-e5f6-7890-abcd-ef1234567890 --catalog catalog.json --reason "Account gained Industry" --wait`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			catalog, err := readJSONFile(cmd.InOrStdin(), catalogFile, "catalog", "new_sync_catalog")
			if err != nil {
				return err
			}
			return f.submit(cmd, events.TypeRepairRequested, events.RepairRequested{ConnectionID: args[0],
				NewSyncCatalog: catalog, Reason: reason}, args[0], false)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&catalogFile, "catalog", "", `catalog file, or "-" for standard input (required)`)
	cmd.Flags().StringVar(&reason, "reason", "", "why the catalog changes (recorded with the version)")
	_ = cmd.MarkFlagRequired("catalog")
	return cmd
}

func policyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Set a connection's drift policy"}
	var f requestFlags
	var file string
	set := &cobra.Command{
		Use:   "set CONNECTION_ID --file FILE",
		Short: "Set a connection's drift policy (io.aam.connection.policy.set.requested.v1)",
		Long: `Set a connection's drift policy, stored as its next policy version: CEL rules deciding
what each drift change does (docs/drift.md). FILE holds the policy ({"rules": [...],
"streams": {...}, "labels": {...}}), or an object with "policy"; "-" reads standard
input. A policy whose expressions do not compile or do not return a boolean is
refused with the compiler's message before it is sent (exit 2).`,
		Example: `  aam policy set a1b2c3d4-e5f6-7890-abcd-ef1234567890 --file policy.json --wait`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := readJSONFile(cmd.InOrStdin(), file, "policy", "policy")
			if err != nil {
				return err
			}
			if _, err := observer.ParsePolicy(doc); err != nil {
				return &ExitCodeError{Code: ExitRejected, Err: err}
			}
			return f.submit(cmd, events.TypePolicyRequested, events.PolicySetRequested{ConnectionID: args[0], Policy: doc}, args[0], false)
		},
	}
	f.add(set)
	set.Flags().StringVar(&file, "file", "", `policy file, or "-" for standard input (required)`)
	_ = set.MarkFlagRequired("file")
	cmd.AddCommand(set)
	return cmd
}

// readJSONFile reads a JSON object, what (a catalog, a policy), from a
// file ("-": stdin); an object with the member inner is unwrapped.
func readJSONFile(stdin io.Reader, name, what, inner string) (json.RawMessage, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 16<<20))
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s %s is not a JSON object: %w", what, name, err)
	}
	if v, ok := probe[inner]; ok {
		return v, nil
	}
	return json.RawMessage(b), nil
}

// submit validates, publishes and, with --wait, waits for the answer.
func (f *requestFlags) submit(cmd *cobra.Command, eventType string, data any, connectionID string, untilTerminal bool) error {
	if err := f.validateOutput(); err != nil {
		return err
	}
	ctx := cmd.Context()
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if err := schemas.Validate(eventType, raw); err != nil {
		var ve *schemas.ValidationError
		if errors.As(err, &ve) {
			return &ExitCodeError{Code: ExitRejected, Err: fmt.Errorf("invalid request: %s: %s", cmp.Or(ve.Field, "data"), ve.Reason)}
		}
		return err
	}
	id := f.id
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	opts := []events.Option{events.WithID(id), events.WithTraceParent(os.Getenv("TRACEPARENT"))}
	if connectionID != "" {
		opts = append(opts, events.WithSubject(connectionID))
	}
	ev, err := events.New(eventType, source(), json.RawMessage(raw), opts...)
	if err != nil {
		return err
	}
	d, _ := events.Lookup(eventType)
	if g := cmp.Or(f.gatewayURL, os.Getenv("AAM_GATEWAY_URL")); g != "" {
		return f.submitViaGateway(cmd, strings.TrimRight(g, "/"), ev, untilTerminal)
	}

	nc, js, err := f.connectNATS()
	if err != nil {
		return err
	}
	defer nc.Close()
	var startSeq uint64
	if f.wait {
		// Facts stored from now on answer the request: read them from the
		// replayable stream, so that none can be missed.
		if startSeq, err = nextSequence(ctx, js); err != nil {
			return err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ack, err := bus.NewPublisher(js).Publish(pctx, d.Subject, ev, events.Binary)
	cancel()
	if err != nil {
		return fmt.Errorf("the request was not stored: %w", err)
	}
	acc := gateway.Accepted{RequestID: id, StatusURL: "/v1/requests/" + id, Type: eventType, Subject: d.Subject}
	if !f.wait {
		if f.output == outputJSON {
			return writeJSON(out, acc)
		}
		dup := ""
		if ack.Duplicate {
			dup = " (already stored: the same request as before)"
		}
		fmt.Fprintf(out, "request %s accepted on %s, %s sequence %d%s\n", id, d.Subject, ack.Stream, ack.Sequence, dup)
		return nil
	}
	var since time.Time
	if ack.Duplicate {
		// A repeat: its answers may be older than now.
		if at, err := storedAt(ctx, js, ack.Sequence); err == nil {
			since, startSeq = at.Add(-time.Second), 0
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, f.timeout)
	defer wcancel()
	p := newProgress(errw, fmt.Sprintf("waiting for the answer to %s", id))
	facts, final, err := awaitAnswer(wctx, js, id, startSeq, since, untilTerminal, func(e event.Event) {
		p.note("%s: %s", e.Type(), summarize(e))
	})
	p.finish()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			st := statusOf(id, eventType, facts, event.Event{}, false)
			if f.output == outputJSON {
				_ = writeJSON(out, st)
			}
			return &ExitCodeError{Code: ExitTimeout, Err: fmt.Errorf("no answer within %s; request %s is %s", f.timeout, id, st.Status)}
		}
		return err
	}
	return f.report(out, id, eventType, facts, final)
}

// exitFor maps a request's state to the command's exit.
func exitFor(st gateway.RequestStatus) error {
	switch st.Status {
	case gateway.RequestRejected:
		return &ExitCodeError{Code: ExitRejected, Err: fmt.Errorf("request %s was rejected: %s", st.RequestID, st.Reason)}
	case gateway.RequestFailed, gateway.RequestCancelled:
		return &ExitCodeError{Code: ExitFailed, Err: fmt.Errorf("request %s %s: %s", st.RequestID, st.Status, st.Reason)}
	}
	return nil
}

// nextSequence returns the sequence the next fact stored in AAM_EVENTS
// will have.
func nextSequence(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, bus.StreamEvents)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", bus.StreamEvents, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", bus.StreamEvents, err)
	}
	return info.State.LastSeq + 1, nil
}

// storedAt returns when AAM_REQUESTS stored the message at seq.
func storedAt(ctx context.Context, js jetstream.JetStream, seq uint64) (time.Time, error) {
	s, err := js.Stream(ctx, bus.StreamRequests)
	if err != nil {
		return time.Time{}, err
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return time.Time{}, err
	}
	return m.Time, nil
}

// awaitAnswer reads AAM_EVENTS from startSeq (or since, when set) until a
// fact with correlationid id completes the request. onFact sees the facts
// that do not. It returns every fact of the request and the completing one.
func awaitAnswer(ctx context.Context, js jetstream.JetStream, id string, startSeq uint64, since time.Time,
	untilTerminal bool, onFact func(event.Event)) ([]event.Event, event.Event, error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: startSeq}
	if !since.IsZero() || startSeq == 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since}
	}
	cons, err := js.OrderedConsumer(ctx, bus.StreamEvents, cfg)
	if err != nil {
		return nil, event.Event{}, fmt.Errorf("follow %s: %w", bus.StreamEvents, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, event.Event{}, fmt.Errorf("follow %s: %w", bus.StreamEvents, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	var facts []event.Event
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return facts, event.Event{}, ctx.Err()
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return facts, event.Event{}, err
			}
			continue
		}
		ev, _, err := events.Decode(m.Headers(), m.Data())
		if err != nil || events.CorrelationID(ev) != id {
			continue
		}
		facts = append(facts, ev)
		if gateway.Completes(ev.Type(), untilTerminal) {
			return facts, ev, nil
		}
		if onFact != nil {
			onFact(ev)
		}
	}
}

// statusOf builds the request status the JSON output prints.
func statusOf(id, requestType string, facts []event.Event, final event.Event, done bool) gateway.RequestStatus {
	st := gateway.RequestStatus{RequestID: id, Type: requestType, Status: gateway.RequestPending, Events: []json.RawMessage{}}
	for _, f := range facts {
		b, _ := json.Marshal(f)
		st.Events = append(st.Events, b)
		if s := gateway.FactState(f.Type()); s != "" {
			st.Status = s
			st.Outcome = b
			st.ConnectionID = cmp.Or(f.Subject(), st.ConnectionID)
		}
	}
	if done {
		st.Reason = failureReason(final)
	}
	return st
}

// failureReason says why a failure or rejection fact ended its request.
func failureReason(e event.Event) string {
	switch e.Type() {
	case events.TypeOnboardFailed:
		d := factData[events.OnboardFailed](e)
		return prefixed(d.Step, d.Reason)
	case events.TypeRepairFailed:
		d := factData[events.RepairFailed](e)
		return prefixed(d.Field, d.Reason)
	case events.TypeSyncFailed, events.TypeSyncCancelled:
		d := factData[events.SyncFinished](e)
		return cmp.Or(d.ErrorMessage, "sync "+d.Status)
	case events.TypeRequestRejected:
		d := factData[events.RequestRejected](e)
		if d.Field != "" && !strings.Contains(d.Reason, d.Field) {
			return d.Field + ": " + d.Reason
		}
		return d.Reason
	}
	return ""
}

// prefixed is reason after "what: ", or reason alone when what is empty.
func prefixed(what, reason string) string {
	if what == "" {
		return reason
	}
	return what + ": " + reason
}

// factData decodes a fact's data into a T; a body that does not decode
// leaves the fields it lacks zero, so a summary still reads.
func factData[T any](e event.Event) T {
	var d T
	_ = json.Unmarshal(e.Data(), &d)
	return d
}

// describe is the human answer to a request.
func describe(e event.Event) string {
	switch e.Type() {
	case events.TypeOnboarded:
		d := factData[events.ConnectionOnboarded](e)
		return fmt.Sprintf("onboarded connection %s %q (%s): %s at catalog version %d\n  airbyte source %s, connection %s",
			d.ID, d.Name, d.SourceType, d.Status, d.CatalogVersion, d.AirbyteSourceID, d.AirbyteConnectionID)
	case events.TypeOnboardFailed:
		return "onboarding failed: " + failureReason(e)
	case events.TypeRequestRejected:
		return "request rejected: " + failureReason(e)
	case events.TypeCatalogVersioned, events.TypeRollbackPlanned:
		var d struct {
			Summary string          `json:"summary"`
			Refresh json.RawMessage `json:"refresh"`
		}
		_ = json.Unmarshal(e.Data(), &d)
		return e.Type() + ": " + summarize(e) + refreshNote(d.Summary, d.Refresh)
	}
	return e.Type() + ": " + summarize(e)
}

// refreshNote describes a catalog change and the streams Airbyte needs to
// refresh or clear after it, on lines of their own.
func refreshNote(summary string, raw json.RawMessage) string {
	var out string
	if summary != "" {
		out += "\n  changes: " + summary
	}
	var rs []drift.StreamRefresh
	_ = json.Unmarshal(raw, &rs)
	for _, r := range rs {
		out += fmt.Sprintf("\n  Airbyte needs a %s of %s: %s", r.Action, r.Stream, strings.Join(r.Reasons, ", "))
	}
	return out
}

// summarize is a one-line summary of a fact's data.
func summarize(e event.Event) string {
	switch e.Type() {
	case events.TypeOnboarded:
		d := factData[events.ConnectionOnboarded](e)
		return fmt.Sprintf("connection %s %q %s, catalog version %d", d.ID, d.Name, d.Status, d.CatalogVersion)
	case events.TypeSyncStarted:
		d := factData[events.SyncStarted](e)
		s := fmt.Sprintf("job %s started on connection %s (catalog version %d)", d.JobID, d.ConnectionID, d.CatalogVersion)
		if d.Attached {
			s += ", attached to the running job"
		}
		return s
	case events.TypeSyncSucceeded:
		d := factData[events.SyncFinished](e)
		return fmt.Sprintf("job %s succeeded on connection %s: %d rows, %s in %s", d.JobID, d.ConnectionID, d.RowsSynced,
			byteSize(d.BytesSynced), (time.Duration(d.DurationMS) * time.Millisecond).String())
	case events.TypeCatalogVersioned:
		d := factData[events.CatalogVersioned](e)
		if d.Unchanged {
			return fmt.Sprintf("connection %s: catalog unchanged at version %d", d.ConnectionID, d.NewVersion)
		}
		s := fmt.Sprintf("connection %s: catalog version %d → %d (%s)", d.ConnectionID, d.PreviousVersion, d.NewVersion, d.Message)
		if d.RollbackTo > 0 {
			s += fmt.Sprintf(", rolled back to version %d", d.RollbackTo)
		}
		return s
	case events.TypeRollbackPlanned:
		d := factData[events.RollbackPlanned](e)
		s := fmt.Sprintf("connection %s: a rollback from catalog version %d to %d ", d.ConnectionID, d.CurrentVersion, d.ToVersion)
		if d.Applicable {
			s += "applies"
		} else {
			s += "would be refused: " + d.Reason
		}
		return s
	case events.TypeDriftDetected:
		d := factData[events.DriftDetected](e)
		kind := "non-breaking"
		if d.Breaking {
			kind = "breaking"
		}
		return fmt.Sprintf("connection %s drifted from catalog version %d (%s)", d.ConnectionID, d.CatalogVersion, kind)
	case events.TypePolicySet:
		d := factData[events.PolicySet](e)
		return fmt.Sprintf("connection %s: drift policy version %d stored", d.ConnectionID, d.Version)
	case events.TypeDriftResolved:
		d := factData[events.DriftResolved](e)
		s := fmt.Sprintf("connection %s: drift %s %sd", d.ConnectionID, shortID(d.DriftID), d.Decision)
		if d.Resumed {
			s += ", connection resumed"
		}
		if d.RepairRequestID != "" {
			s += ", repair requested (" + d.RepairRequestID + ")"
		}
		return s
	case events.TypeConnectionDeleted:
		d := factData[events.ConnectionDeleted](e)
		return fmt.Sprintf("connection %s %q deleted (was %s); airbyte source %s, connection %s", d.ConnectionID, d.Name,
			d.PreviousStatus, cmp.Or(d.AirbyteSourceID, "none"), cmp.Or(d.AirbyteConnectionID, "none"))
	case events.TypeReleased:
		d := factData[events.ConnectionReleased](e)
		return fmt.Sprintf("connection %s released (was %s after %d failed syncs in a row), %s again", d.ConnectionID,
			d.PreviousStatus, d.ConsecutiveFailures, d.Status)
	case events.TypeConnectionPaused:
		d := factData[events.ConnectionPaused](e)
		return fmt.Sprintf("connection %s paused: %s", d.ConnectionID, d.Reason)
	case events.TypeApprovalRequested:
		d := factData[events.ApprovalRequested](e)
		return fmt.Sprintf("connection %s: drift %s needs approval (rule %s): %s", d.ConnectionID, shortID(d.DriftID), d.Decision.RuleID, d.Summary)
	case events.TypeOnboardFailed, events.TypeRepairFailed, events.TypeSyncFailed, events.TypeSyncCancelled, events.TypeRequestRejected:
		return failureReason(e)
	}
	return string(e.Data())
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
