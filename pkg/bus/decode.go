package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
)

// decode turns a message into a typed event, or into a rejection that says
// which attribute or data field is wrong.
func (s *server[T]) decode(h nats.Header, data []byte, info MsgInfo) (Event[T], *Rejection) {
	rej := func(ce *eventAttrs, field, reason string) (Event[T], *Rejection) {
		r := &Rejection{Subject: info.Subject, Stream: info.Stream, Sequence: info.Sequence, Field: field, Reason: reason}
		if ce != nil {
			a := ce.recordable()
			r.RequestID, r.RequestSource, r.RequestType, r.TraceParent = a.id, a.source, a.typ, a.traceparent
		}
		return Event[T]{}, r
	}
	ce, mode, err := events.Decode(h, data)
	if err != nil {
		attrs := bestEffortAttrs(h, data)
		var de *events.DecodeError
		if errors.As(err, &de) {
			return rej(&attrs, de.Field, de.Error())
		}
		return rej(&attrs, "", err.Error())
	}
	attrs := &eventAttrs{id: ce.ID(), source: ce.Source(), typ: ce.Type(), traceparent: events.TraceParent(ce)}
	if ce.Type() != s.r.Type {
		if _, known := events.Lookup(ce.Type()); known {
			return rej(attrs, "type", fmt.Sprintf("type %q is not accepted on subject %s (expected %q)", ce.Type(), info.Subject, s.r.Type))
		}
		return rej(attrs, "type", fmt.Sprintf("unknown type %q (expected %q)", ce.Type(), s.r.Type))
	}
	// Outcome lookups need the key; reject requests we could never record.
	if len(ce.ID()) > 256 || len(ce.Source()) > 1024 {
		return rej(attrs, "id", "id or source is too long")
	}
	payload := ce.Data()
	if ct := ce.DataContentType(); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		return rej(attrs, "datacontenttype", fmt.Sprintf("datacontenttype %q is not JSON", ct))
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return rej(attrs, "data", "data is missing")
	}
	if s.rt.Validate != nil {
		if err := s.rt.Validate(ce.Type(), payload); err != nil {
			var de *DataError
			if errors.As(err, &de) {
				field := "data"
				if de.Field != "" {
					field = "data." + de.Field
				}
				return rej(attrs, field, de.Error())
			}
			return rej(attrs, "data", err.Error())
		}
	}
	var v T
	if err := json.Unmarshal(payload, &v); err != nil {
		return rej(attrs, "data", "data does not decode: "+err.Error())
	}
	return Event[T]{
		ID: ce.ID(), Source: ce.Source(), Type: ce.Type(), Subject: ce.Subject(), Time: ce.Time(),
		TraceParent: attrs.traceparent, Data: v, CloudEvent: ce,
		Msg: MsgInfo{Subject: info.Subject, Stream: info.Stream, Consumer: info.Consumer, Sequence: info.Sequence,
			NumDelivered: info.NumDelivered, Arrived: info.Arrived, Last: info.Last, Mode: mode},
	}, nil
}

type eventAttrs struct{ id, source, typ, traceparent string }

// bestEffortAttrs reads what it can of a request that did not decode.
func bestEffortAttrs(h nats.Header, data []byte) eventAttrs {
	var a eventAttrs
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		val, err := events.PercentDecode(v[0])
		if err != nil {
			continue
		}
		switch strings.ToLower(k) {
		case "ce-id":
			a.id = val
		case "ce-source":
			a.source = val
		case "ce-type":
			a.typ = val
		case "ce-traceparent":
			a.traceparent = val
		}
	}
	if a.id == "" && a.source == "" && a.typ == "" {
		var body struct {
			ID          string `json:"id"`
			Source      string `json:"source"`
			Type        string `json:"type"`
			TraceParent string `json:"traceparent"`
		}
		if json.Unmarshal(data, &body) == nil {
			a = eventAttrs{body.ID, body.Source, body.Type, body.TraceParent}
		}
	}
	return a
}

// recordable is the attributes without those the registry and the
// rejected fact cannot carry (invalid UTF-8 or a NUL byte).
func (a eventAttrs) recordable() eventAttrs {
	for _, v := range []*string{&a.id, &a.source, &a.typ, &a.traceparent} {
		if !utf8.ValidString(*v) || strings.ContainsRune(*v, 0) {
			*v = ""
		}
	}
	return a
}
