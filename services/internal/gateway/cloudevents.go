package gateway

import (
	"errors"
	"fmt"
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
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	binary := r.Header.Get("Ce-Specversion") != ""
	switch {
	case mt == "application/cloudevents-batch+json":
		writeError(w, http.StatusUnsupportedMediaType, Error{Error: "batched mode is not supported; send one event per request", Field: "Content-Type"})
		return
	case strings.HasPrefix(mt, "application/cloudevents"):
		if mt != events.MediaTypeCloudEventsJSON {
			writeError(w, http.StatusUnsupportedMediaType, Error{Error: fmt.Sprintf("structured format %q is not supported; use %s", mt, events.MediaTypeCloudEventsJSON), Field: "Content-Type"})
			return
		}
	case binary:
		if ct != "" && !isJSONContentType(ct) {
			writeError(w, http.StatusUnsupportedMediaType, Error{Error: fmt.Sprintf("datacontenttype %q is not supported; request data is application/json", ct), Field: "Content-Type"})
			return
		}
	default:
		writeError(w, http.StatusUnsupportedMediaType, Error{
			Error: "not a CloudEvent: send binary mode (ce-specversion, ce-id, ce-source, ce-type headers, JSON data in the body) or structured mode (Content-Type: application/cloudevents+json)",
			Field: "Content-Type"})
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	h := nats.Header{}
	for k, v := range r.Header {
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
		writeError(w, http.StatusBadRequest, Error{Error: err.Error(), Field: field})
		return
	}
	d, known := events.Lookup(ev.Type())
	switch {
	case !known:
		writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("unknown type %q; requests are %s", ev.Type(), requestTypes()), Field: "type"})
		return
	case d.Kind != events.KindRequest:
		writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("type %q is a fact, not a request; requests are %s", ev.Type(), requestTypes()), Field: "type"})
		return
	case len(ev.ID()) > 255 || !validKey(ev.ID()):
		writeError(w, http.StatusBadRequest, Error{Error: "id must be 1 to 255 visible ASCII characters", Field: "id"})
		return
	case len(ev.Source()) > 1024:
		writeError(w, http.StatusBadRequest, Error{Error: "source is longer than 1024 characters", Field: "source"})
		return
	}
	if dct := ev.DataContentType(); dct != "" && !isJSONContentType(dct) {
		writeError(w, http.StatusUnsupportedMediaType, Error{Error: fmt.Sprintf("datacontenttype %q is not supported; request data is application/json", dct), Field: "datacontenttype"})
		return
	}
	if key := r.Header.Get("Idempotency-Key"); key != "" && key != ev.ID() {
		writeError(w, http.StatusBadRequest, Error{Error: "Idempotency-Key differs from the event id; the id is the key", Field: "Idempotency-Key"})
		return
	}
	if verr := validateData(ev.Type(), ev.Data(), "data."); verr != nil {
		writeError(w, http.StatusBadRequest, *verr)
		return
	}
	if events.TraceParent(ev) == "" {
		if tp := traceParent(r); tp != "" {
			ev.SetExtension(events.ExtTraceParent, tp)
		}
	}
	s.submit(w, r, ev, submitOpts{keyed: true, keyField: "id", wait: wo, shape: shapeEvent, dataPrefix: true})
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
