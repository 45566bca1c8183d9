package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/observer"
)

// requestKind tells the JSON request routes apart.
type requestKind int

const (
	kindOnboard requestKind = iota + 1
	kindSync
	// kindRepair takes the connection from the path.
	kindRepair
	// kindRepairSeed takes the seed's body, connection_id included.
	kindRepairSeed
	// kindPolicy sets a drift policy, the connection from the path.
	kindPolicy
	// kindDelete deletes a connection, the connection from the path; the
	// body (a reason) is optional.
	kindDelete
	// kindRollback rolls a connection's catalog back, the connection from
	// the path.
	kindRollback
	// kindApprove and kindReject resolve a drift, the connection and the
	// drift from the path; the body (reason, resume) is optional.
	kindApprove
	kindReject
	// kindRelease releases a quarantined connection, the connection from
	// the path; the body (a reason) is optional.
	kindRelease
)

// bodyOptional reports the kinds whose body may be empty.
func (k requestKind) bodyOptional() bool {
	return k == kindDelete || k == kindApprove || k == kindReject || k == kindRelease
}

func (k requestKind) eventType() string {
	switch k {
	case kindOnboard:
		return events.TypeOnboardRequested
	case kindSync:
		return events.TypeSyncRequested
	case kindPolicy:
		return events.TypePolicyRequested
	case kindDelete:
		return events.TypeDeleteRequested
	case kindRollback:
		return events.TypeRollbackRequested
	case kindApprove, kindReject:
		return events.TypeResolveRequested
	case kindRelease:
		return events.TypeReleaseRequested
	}
	return events.TypeRepairRequested
}

// jsonRoute handles a request route that takes the event's data as a JSON
// body. seed routes wait SeedWait for the answer unless told otherwise.
func (s *Server) jsonRoute(kind requestKind, seed bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var def time.Duration
		if seed {
			def = s.cfg.SeedWait
		}
		wo, werr := s.waitOptions(r, def)
		if werr != nil {
			writeError(w, http.StatusBadRequest, *werr)
			return
		}
		if !isJSONContentType(r.Header.Get("Content-Type")) && !(kind.bodyOptional() && r.ContentLength == 0) {
			writeError(w, http.StatusUnsupportedMediaType, Error{
				Error: fmt.Sprintf("Content-Type %q is not supported; send application/json", r.Header.Get("Content-Type")),
				Field: "Content-Type"})
			return
		}
		body, ok := s.readBody(w, r)
		if !ok {
			return
		}
		typ := kind.eventType()
		data, derr := requestData(kind, r.PathValue("id"), body)
		if derr == nil && (kind == kindApprove || kind == kindReject) {
			data, derr = resolveData(kind, r.PathValue("drift_id"), data)
		}
		if derr != nil {
			writeError(w, http.StatusBadRequest, *derr)
			return
		}
		if verr := validateData(typ, data, ""); verr != nil {
			writeError(w, http.StatusBadRequest, *verr)
			return
		}
		if kind == kindPolicy {
			var d events.PolicySetRequested
			_ = json.Unmarshal(data, &d)
			if _, err := observer.ParsePolicy(d.Policy); err != nil {
				writeError(w, http.StatusBadRequest, Error{Error: err.Error(), Field: "policy"})
				return
			}
		}
		connID := ""
		if kind != kindOnboard {
			var d struct {
				ConnectionID string `json:"connection_id"`
			}
			_ = json.Unmarshal(data, &d)
			connID = d.ConnectionID
			if s.connectionMissing(r.Context(), connID) {
				writeError(w, http.StatusNotFound, Error{Error: fmt.Sprintf("connection %s is not registered", connID), Field: "connection_id"})
				return
			}
		}
		key := r.Header.Get("Idempotency-Key")
		id := key
		if key == "" {
			id = uuid.Must(uuid.NewV7()).String()
		} else if !validKey(key) {
			writeError(w, http.StatusBadRequest, Error{
				Error: "Idempotency-Key must be 1 to 255 visible ASCII characters", Field: "Idempotency-Key"})
			return
		}
		opts := []events.Option{events.WithID(id), events.WithTraceParent(traceParent(r))}
		if connID != "" {
			opts = append(opts, events.WithSubject(connID))
		}
		ev, err := events.New(typ, Source, json.RawMessage(data), opts...)
		if err != nil {
			writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
			return
		}
		s.submit(w, r, ev, submitOpts{keyed: key != "", keyField: "Idempotency-Key", wait: wo, shape: shapeSeed})
	}
}

// requestData builds the event data of a JSON route from its body and
// path.
func requestData(kind requestKind, pathID string, body []byte) ([]byte, *Error) {
	switch kind {
	case kindOnboard, kindRepairSeed:
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, &Error{Error: "the body is empty; send a JSON object"}
		}
		return body, nil
	}
	fields := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
			return nil, &Error{Error: "the body must be a JSON object: " + jsonProblem(err)}
		}
	}
	want, _ := json.Marshal(pathID)
	if got, ok := fields["connection_id"]; ok {
		var gotID string
		if json.Unmarshal(got, &gotID) != nil || gotID != pathID {
			return nil, &Error{Error: fmt.Sprintf("connection_id in the body (%s) differs from the path (%s)", got, pathID), Field: "connection_id"}
		}
	}
	fields["connection_id"] = want
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, &Error{Error: "the body does not encode: " + err.Error()}
	}
	return b, nil
}

// resolveData adds the drift from the path and the route's decision to an
// approval's or rejection's data.
func resolveData(kind requestKind, driftID string, data []byte) ([]byte, *Error) {
	fields := map[string]json.RawMessage{}
	_ = json.Unmarshal(data, &fields)
	decision := events.ResolveReject
	if kind == kindApprove {
		decision = events.ResolveApprove
	}
	for name, v := range map[string]string{"drift_id": driftID, "decision": decision} {
		if _, ok := fields[name]; ok {
			return nil, &Error{Error: name + " is taken from the path; leave it out of the body", Field: name}
		}
		fields[name], _ = json.Marshal(v)
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, &Error{Error: "the body does not encode: " + err.Error()}
	}
	return b, nil
}

func jsonProblem(err error) string {
	if err == nil {
		return "null is not an object"
	}
	return err.Error()
}

// validateData checks event data against its JSON Schema. prefix is put
// before the field name ("data." for CloudEvents, where the data is one
// member of the event).
func validateData(eventType string, data []byte, prefix string) *Error {
	err := schemas.Validate(eventType, data)
	if err == nil {
		return nil
	}
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		field := prefix + ve.Field
		if ve.Field == "" {
			field = strings.TrimSuffix(prefix, ".")
		}
		msg := ve.Reason
		if ve.Field != "" {
			msg = ve.Field + ": " + ve.Reason
		}
		return &Error{Error: msg, Field: field}
	}
	return &Error{Error: err.Error(), Field: "type"}
}

// connectionMissing reports whether the registry says the connection does
// not exist; a connection it said exists before is not read again
// (registered). An unreachable registry does not block the request: the
// worker answers an unknown connection with a failure event.
func (s *Server) connectionMissing(ctx context.Context, id string) bool {
	if s.known.has(id) {
		return false
	}
	ok, err := s.store.ConnectionExists(ctx, id)
	if err != nil {
		s.log.Debug("connection look-up failed; forwarding the request", zap.Error(err))
		return false
	}
	if ok {
		s.known.add(id)
	}
	return !ok
}

var keyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

func validKey(k string) bool { return keyPattern.MatchString(k) }

var traceParentPattern = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// traceParent returns the request's W3C traceparent header when it is well
// formed.
func traceParent(r *http.Request) string {
	tp := strings.TrimSpace(r.Header.Get("traceparent"))
	if traceParentPattern.MatchString(tp) {
		return tp
	}
	return ""
}

func isJSONContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true // curl -d without -H, scripts: read as JSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json") &&
		!strings.HasPrefix(mt, "application/cloudevents"))
}

// readBody reads the body within MaxBodyBytes, answering 413 past it.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	tooLarge := func() {
		writeError(w, http.StatusRequestEntityTooLarge, Error{
			Error: fmt.Sprintf("the body is larger than %d bytes", s.cfg.MaxBodyBytes), Field: "body"})
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		tooLarge()
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge()
			return nil, false
		}
		writeError(w, http.StatusBadRequest, Error{Error: "the body could not be read: " + err.Error(), Field: "body"})
		return nil, false
	}
	return b, true
}

type submitOpts struct {
	// keyed is true when the caller chose the id (Idempotency-Key, or the
	// CloudEvent's own id); keyField names where it came from.
	keyed    bool
	keyField string
	wait     waitOpts
	shape    shape
	// dataPrefix keeps "data." in the field of a rejection (CloudEvents).
	dataPrefix bool
}

// submit publishes a request and answers: 202 with the status URL, or,
// when asked to wait, the answer itself.
//
// Idempotency: a keyed request whose id JetStream has seen within its
// duplicate window is not stored again (the PubAck says duplicate); one
// whose answer is already in the registry (after the window) is not
// published at all. Either way the caller gets the same answer as the first
// time, marked Idempotent-Replayed: true. An id reused for a different
// request is 409.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, ev event.Event, o submitOpts) {
	ctx := r.Context()
	d, _ := events.Lookup(ev.Type())
	id := ev.ID()
	var wt *waiter
	if o.wait.wait > 0 {
		wt = s.hub.register(id)
		defer s.hub.unregister(wt)
	}
	replayed := false
	if o.keyed {
		if conflict := s.claimKey(ctx, ev); conflict != "" {
			s.metrics.published.WithLabelValues(ev.Type(), "conflict").Inc()
			writeError(w, http.StatusConflict, Error{Error: conflict, Field: o.keyField, RequestID: id})
			return
		}
		known, conflict := s.prior(ctx, ev)
		if conflict != "" {
			s.metrics.published.WithLabelValues(ev.Type(), "conflict").Inc()
			writeError(w, http.StatusConflict, Error{Error: conflict, Field: o.keyField, RequestID: id})
			return
		}
		replayed = known
	}
	if !replayed {
		if !s.nc.IsConnected() {
			s.unavailable(w, ev.Type(), "NATS is not reachable")
			return
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
		ack, err := s.pub.Publish(pctx, d.Subject, ev, events.Binary)
		cancel()
		if err != nil {
			s.log.Warn("request not stored", zap.String("ce_id", id), zap.String("ce_type", ev.Type()), zap.Error(err))
			s.unavailable(w, ev.Type(), "JetStream did not store the request")
			return
		}
		if ack.Duplicate {
			replayed = true
			if conflict := s.storedConflict(ctx, ack.Sequence, ev); conflict != "" {
				s.metrics.published.WithLabelValues(ev.Type(), "conflict").Inc()
				writeError(w, http.StatusConflict, Error{Error: conflict, Field: o.keyField, RequestID: id})
				return
			}
		}
	}
	result := "accepted"
	if replayed {
		result = "replayed"
		w.Header().Set("Idempotent-Replayed", "true")
	}
	s.metrics.published.WithLabelValues(ev.Type(), result).Inc()
	acc := Accepted{RequestID: id, StatusURL: "/v1/requests/" + id, Type: ev.Type(), Subject: d.Subject}
	w.Header().Set("Location", acc.StatusURL)
	w.Header().Set("Aam-Request-Id", id)
	if wt != nil {
		if o.wait.prefer {
			w.Header().Set("Preference-Applied", fmt.Sprintf("wait=%d", int(o.wait.wait.Seconds())))
		}
		// A request with a new id the gateway chose cannot have an answer
		// recorded before its waiter was registered: the wait starts on
		// the wire, without a first registry read.
		fresh := !o.keyed && !replayed
		if fact, ok := s.await(ctx, wt, id, o.wait.untilTerminal, o.wait.wait, fresh); ok {
			writeOutcome(w, id, fact, o.shape, o.dataPrefix)
			return
		}
	}
	writeJSON(w, http.StatusAccepted, acc)
}

func (s *Server) unavailable(w http.ResponseWriter, eventType, why string) {
	s.metrics.published.WithLabelValues(eventType, "unavailable").Inc()
	w.Header().Set("Retry-After", "2")
	writeError(w, http.StatusServiceUnavailable, Error{Error: why + "; the request was not accepted, retry it (with the same Idempotency-Key)"})
}

// claimKey remembers what a keyed request asks (type, connection and a
// digest of its data) the first time its id is seen, and explains why a later
// request with the same id is a different one. The registry keeps these for
// as long as it keeps the inbox, so a key reused with different data is
// refused whether or not the first request was answered. A registry that
// cannot be written is not a reason to refuse: JetStream's window and the
// workers' inbox still keep the request once.
func (s *Server) claimKey(ctx context.Context, ev event.Event) string {
	sum := sha256.Sum256(canonicalJSON(ev.Data()))
	first, claimed, err := s.store.RequestKeyClaim(ctx, registry.RequestKey{
		Source: ev.Source(), ID: ev.ID(), Type: ev.Type(), Subject: ev.Subject(), DataSHA256: sum[:]})
	switch {
	case err != nil:
		s.log.Debug("request key not recorded", zap.String("ce_id", ev.ID()), zap.Error(err))
		return ""
	case claimed:
		return ""
	case first.Type != ev.Type():
		return fmt.Sprintf("request id %s was already used for a %s request", ev.ID(), first.Type)
	case first.Subject != ev.Subject() && first.Subject != "" && ev.Subject() != "":
		return fmt.Sprintf("request id %s was already used for a request about connection %s", ev.ID(), first.Subject)
	case !bytes.Equal(first.DataSHA256, sum[:]):
		return fmt.Sprintf("request id %s was already used for a request with different data", ev.ID())
	}
	return ""
}

// prior looks the request up in the registry: known is true when an answer
// or an inbox entry exists for its id; conflict explains why the id belongs
// to a different request (another type, or another connection: the
// registry keeps the answers, not the request, so a repeat found there is
// compared by type and connection only). A registry that cannot be read makes the request
// go to JetStream, whose window and the workers' inbox keep it once.
func (s *Server) prior(ctx context.Context, ev event.Event) (known bool, conflict string) {
	id := ev.ID()
	facts, err := s.registryFacts(ctx, id)
	if err != nil {
		s.log.Debug("registry look-up of a keyed request failed", zap.String("ce_id", id), zap.Error(err))
		return false, ""
	}
	for _, f := range facts {
		if t := answeredType(f); t != "" && t != ev.Type() {
			return true, fmt.Sprintf("request id %s was already used for a %s request", id, t)
		}
		if ev.Subject() != "" && f.Subject() != "" && f.Subject() != ev.Subject() {
			return true, fmt.Sprintf("request id %s was already used for a request about connection %s", id, f.Subject())
		}
	}
	entry, err := s.store.InboxGet(ctx, ev.Source(), id)
	switch {
	case err == nil:
		if entry.Type != "" && entry.Type != ev.Type() {
			return true, fmt.Sprintf("request id %s was already used for a %s request", id, entry.Type)
		}
		return true, ""
	case !registry.IsNotFound(err):
		s.log.Debug("inbox look-up failed", zap.String("ce_id", id), zap.Error(err))
	}
	return len(facts) > 0, ""
}

// storedConflict compares a request with the one JetStream stored under the
// same id (the duplicate's sequence) and explains any difference.
func (s *Server) storedConflict(ctx context.Context, seq uint64, ev event.Event) string {
	stream, err := s.js.Stream(ctx, bus.StreamRequests)
	if err != nil {
		return ""
	}
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return ""
	}
	stored, _, err := events.Decode(nats.Header(raw.Header), raw.Data)
	if err != nil {
		return ""
	}
	switch {
	case stored.Type() != ev.Type():
		return fmt.Sprintf("request id %s was already used for a %s request", ev.ID(), stored.Type())
	case stored.Source() != ev.Source():
		return fmt.Sprintf("request id %s was already used by source %s", ev.ID(), stored.Source())
	case stored.Subject() != ev.Subject() || !sameJSON(stored.Data(), ev.Data()):
		return fmt.Sprintf("request id %s was already used for a request with different data", ev.ID())
	}
	return ""
}

// sameJSON compares two JSON documents by value.
func sameJSON(a, b []byte) bool { return bytes.Equal(canonicalJSON(a), canonicalJSON(b)) }

// canonicalJSON re-encodes a JSON document with sorted keys and no spacing,
// so that two encodings of one value compare equal; anything that is not
// JSON is returned as it is.
func canonicalJSON(b []byte) []byte {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}
