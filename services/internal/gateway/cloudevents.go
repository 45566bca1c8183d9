package gateway

import (
	"errors"
	"fmt"
	"github.com/cloudevents/sdk-go/v2/event"
	"mime"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
)

// handleEvents takes a request as a CloudEvent over HTTP (CloudEvents HTTP
// protocol binding): binary mode (ce-* headers, the data in the body,
// Content-Type = datacontenttype) or structured mode (Content-Type
// application/cloudevents+json). Header values are percent-decoded as the
// binding says. The event goes to the subject of its type unchanged (the
// gateway only adds traceparent from the HTTP header when the event has
// none); its id is the idempotency key, scoped to its source.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	wo, werr := s.waitOptions(r, 0)
	if werr != nil {
		writeError(w, http.StatusBadRequest, *werr)
		return
	}
	if status, eerr := eventContentType(r.Header); eerr != nil {
		writeError(w, status, *eerr)
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	ev, status, eerr := decodeHTTPEvent(r.Header, body)
	if eerr != nil {
		writeError(w, status, *eerr)
		return
	}
	if events.TraceParent(ev) == "" {
		if tp := traceParent(r); tp != "" {
			ev.SetExtension(events.ExtTraceParent, tp)
		}
	}
	s.submit(w, r, ev, submitOpts{keyed: true, keyField: "id", wait: wo, shape: shapeEvent, dataPrefix: true})
}

// eventContentType checks the content mode of a CloudEvent over HTTP before
// its body is read: binary (ce-specversion header, JSON data) or structured
// JSON; batches and other formats are 415.
func eventContentType(hdr http.Header) (int, *Error) {
	ct := hdr.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	binary := hdr.Get("Ce-Specversion") != ""
	switch {
	case mt == "application/cloudevents-batch+json":
		return http.StatusUnsupportedMediaType, &Error{Error: "batched mode is not supported; send one event per request", Field: "Content-Type"}
	case strings.HasPrefix(mt, "application/cloudevents"):
		if mt != events.MediaTypeCloudEventsJSON {
			return http.StatusUnsupportedMediaType, &Error{Error: fmt.Sprintf("structured format %q is not supported; use %s", mt, events.MediaTypeCloudEventsJSON), Field: "Content-Type"}
		}
	case binary:
		if ct != "" && !isJSONContentType(ct) {
			return http.StatusUnsupportedMediaType, &Error{Error: fmt.Sprintf("datacontenttype %q is not supported; request data is application/json", ct), Field: "Content-Type"}
		}
	default:
		return http.StatusUnsupportedMediaType, &Error{
			Error: "not a CloudEvent: send binary mode (ce-specversion, ce-id, ce-source, ce-type headers, JSON data in the body) or structured mode (Content-Type: application/cloudevents+json)",
			Field: "Content-Type"}
	}
	return 0, nil
}

// decodeHTTPEvent reads a request CloudEvent from HTTP headers and body (see
// handleEvents) and checks it as the gateway does before publishing: a
// request type, a usable id and source, JSON data valid against its schema,
// and an Idempotency-Key, if any, equal to the id. On failure it returns
// the HTTP status and the error to answer.
func decodeHTTPEvent(hdr http.Header, body []byte) (event.Event, int, *Error) {
	bad := func(status int, e Error) (event.Event, int, *Error) { return event.Event{}, status, &e }
	h := nats.Header{}
	for k, v := range hdr {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, events.HeaderPrefix) || lk == "content-type" {
			h[lk] = v
		}
	}
	ev, _, err := events.Decode(h, body)
	if err != nil {
		var de *events.DecodeError
		field := ""
		if errors.As(err, &de) {
			field = de.Field
		}
		return bad(http.StatusBadRequest, Error{Error: err.Error(), Field: field})
	}
	d, known := events.Lookup(ev.Type())
	switch {
	case !known:
		return bad(http.StatusBadRequest, Error{Error: fmt.Sprintf("unknown type %q; requests are %s", ev.Type(), requestTypes()), Field: "type"})
	case d.Kind != events.KindRequest:
		return bad(http.StatusBadRequest, Error{Error: fmt.Sprintf("type %q is a fact, not a request; requests are %s", ev.Type(), requestTypes()), Field: "type"})
	case len(ev.ID()) > 255 || !validKey(ev.ID()):
		return bad(http.StatusBadRequest, Error{Error: "id must be 1 to 255 visible ASCII characters", Field: "id"})
	case len(ev.Source()) > 1024:
		return bad(http.StatusBadRequest, Error{Error: "source is longer than 1024 characters", Field: "source"})
	}
	if dct := ev.DataContentType(); dct != "" && !isJSONContentType(dct) {
		return bad(http.StatusUnsupportedMediaType, Error{Error: fmt.Sprintf("datacontenttype %q is not supported; request data is application/json", dct), Field: "datacontenttype"})
	}
	if key := hdr.Get("Idempotency-Key"); key != "" && key != ev.ID() {
		return bad(http.StatusBadRequest, Error{Error: "Idempotency-Key differs from the event id; the id is the key", Field: "Idempotency-Key"})
	}
	if verr := validateData(ev.Type(), ev.Data(), "data."); verr != nil {
		return event.Event{}, http.StatusBadRequest, verr
	}
	return ev, 0, nil
}

func requestTypes() string {
	var out []string
	for _, d := range events.Catalog() {
		if d.Kind == events.KindRequest {
			out = append(out, d.Type)
		}
	}
	return strings.Join(out, ", ")
}
