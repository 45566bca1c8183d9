package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
)

// Mode is a CloudEvents content mode.
type Mode int

const (
	// Binary carries attributes in ce- headers and data in the body.
	Binary Mode = iota + 1
	// Structured carries the whole event as JSON in the body.
	Structured
)

func (m Mode) String() string {
	switch m {
	case Binary:
		return "binary"
	case Structured:
		return "structured"
	}
	return "unknown"
}

// Header names and media types of the binding.
const (
	// HeaderPrefix prefixes every attribute header in binary mode.
	HeaderPrefix = "ce-"
	// HeaderContentType is the NATS header that marks structured mode.
	HeaderContentType = "Content-Type"
	// HeaderMsgID is JetStream's de-duplication header; AAM sets it to the
	// event id.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderTraceParent is the per-hop W3C trace context header.
	HeaderTraceParent = "traceparent"

	// MediaTypeCloudEventsJSON is the structured-mode media type.
	MediaTypeCloudEventsJSON = "application/cloudevents+json"
	// MediaTypeJSON is the datacontenttype of every AAM payload.
	MediaTypeJSON = "application/json"
)

// ErrNotCloudEvent reports a message that is neither a binary-mode nor a
// structured-mode CloudEvent.
var ErrNotCloudEvent = errors.New("not a CloudEvent")

// DecodeError is returned by Decode and FromMsg. Field names the attribute
// at fault (for example "id" or "time"), or is empty when the message as a
// whole could not be read.
type DecodeError struct {
	Field  string
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("cloudevent attribute %s: %s", e.Field, e.Reason)
	}
	return "cloudevent: " + e.Reason
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ToMsg encodes e as a NATS message on subject in the given mode. It
// validates the event first. Nats-Msg-Id is set to the event id so that
// JetStream drops a re-published copy within its duplicate window, and a
// plain traceparent header mirrors the traceparent extension.
func ToMsg(subject string, e event.Event, mode Mode) (*nats.Msg, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("encode cloudevent: %w", err)
	}
	msg := nats.NewMsg(subject)
	msg.Header.Set(HeaderMsgID, e.ID())
	if tp, ok := e.Extensions()[ExtTraceParent]; ok {
		if s, err := types.Format(tp); err == nil {
			msg.Header.Set(HeaderTraceParent, s)
		}
	}
	switch mode {
	case Binary:
		setBinary(msg.Header, e)
		msg.Data = e.Data()
	case Structured:
		// event.WriteJson copies JSON data verbatim; json.Marshal would
		// compact it and escape <, > and & on the way.
		se := structuredForm(e)
		var buf bytes.Buffer
		if err := event.WriteJson(&se, &buf); err != nil {
			return nil, fmt.Errorf("encode structured cloudevent: %w", err)
		}
		body := buf.Bytes()
		if !json.Valid(body) {
			return nil, errors.New("encode structured cloudevent: the event does not form valid JSON")
		}
		msg.Header.Set(HeaderContentType, MediaTypeCloudEventsJSON+"; charset=utf-8")
		msg.Data = body
	default:
		return nil, fmt.Errorf("encode cloudevent: unknown mode %d", mode)
	}
	return msg, nil
}

// structuredForm returns e, or a copy of e that carries its data as
// data_base64 when the JSON event format cannot carry the data as it is:
// data that is not valid JSON under a JSON media type (or none), or data
// that is not valid UTF-8 (the JSON event format is UTF-8 text).
func structuredForm(e event.Event) event.Event {
	if len(e.DataEncoded) == 0 || e.DataBase64 || e.SpecVersion() != event.CloudEventsVersionV1 {
		return e
	}
	if isJSONMediaType(e.DataMediaType()) {
		if json.Valid(e.DataEncoded) && utf8.Valid(e.DataEncoded) {
			return e
		}
	} else if utf8.Valid(e.DataEncoded) {
		return e
	}
	e.DataBase64 = true
	return e
}

// isJSONMediaType reports whether sdk-go writes data of this media type
// into the JSON event format as a JSON value rather than a string.
func isJSONMediaType(mt string) bool {
	switch mt {
	case "", MediaTypeJSON, "text/json", MediaTypeCloudEventsJSON, "application/cloudevents-batch+json":
		return true
	}
	return false
}

func setBinary(h nats.Header, e event.Event) {
	set := func(name, value string) { h[HeaderPrefix+name] = []string{PercentEncode(value)} }
	set("specversion", e.SpecVersion())
	set("id", e.ID())
	set("source", e.Source())
	set("type", e.Type())
	if s := e.Subject(); s != "" {
		set("subject", s)
	}
	if t := e.Time(); !t.IsZero() {
		set("time", t.UTC().Format(time.RFC3339Nano))
	}
	if s := e.DataSchema(); s != "" {
		set("dataschema", s)
	}
	if ct := e.DataContentType(); ct != "" {
		set("datacontenttype", ct)
		// Readers built on sdk-go's NATS bindings take datacontenttype from
		// an unprefixed content-type header.
		h["content-type"] = []string{ct}
	}
	names := make([]string, 0, len(e.Extensions()))
	for name := range e.Extensions() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s, err := types.Format(e.Extensions()[name])
		if err != nil {
			continue
		}
		set(strings.ToLower(name), s)
	}
}

// FromMsg decodes a NATS message into a CloudEvent and reports its mode.
func FromMsg(msg *nats.Msg) (event.Event, Mode, error) {
	return Decode(msg.Header, msg.Data)
}

// Decode decodes a CloudEvent from NATS headers and body. Header names are
// matched without regard to case. Structured mode is chosen when a
// Content-Type header starts with application/cloudevents; binary mode when
// a ce-specversion header is present; otherwise a body that is a JSON object
// with a specversion member is read as structured (sdk-go sends structured
// events without a Content-Type). Anything else is ErrNotCloudEvent.
//
// The returned event has its id, source, type and specversion present and
// passes event.Validate.
func Decode(h nats.Header, body []byte) (event.Event, Mode, error) {
	lower := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		lk := strings.ToLower(k)
		if _, dup := lower[lk]; !dup {
			lower[lk] = v[0]
		}
	}
	if ct, ok := lower["content-type"]; ok && isCloudEventsMediaType(ct) {
		e, err := decodeStructured(ct, body)
		return e, Structured, err
	}
	if _, ok := lower[HeaderPrefix+"specversion"]; ok {
		e, err := decodeBinary(lower, body)
		return e, Binary, err
	}
	if looksStructured(body) {
		e, err := decodeStructured(MediaTypeCloudEventsJSON, body)
		return e, Structured, err
	}
	return event.Event{}, 0, &DecodeError{Field: "specversion", Err: ErrNotCloudEvent,
		Reason: "not a CloudEvent: no ce-specversion header, no application/cloudevents content type, no specversion in the body"}
}

func isCloudEventsMediaType(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/cloudevents")
}

func looksStructured(body []byte) bool {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	var probe struct {
		SpecVersion *json.RawMessage `json:"specversion"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.SpecVersion != nil
}

func decodeStructured(contentType string, body []byte) (event.Event, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	if mt != MediaTypeCloudEventsJSON {
		return event.Event{}, &DecodeError{Reason: fmt.Sprintf("unsupported structured format %q (only %s)", mt, MediaTypeCloudEventsJSON), Err: ErrNotCloudEvent}
	}
	if !utf8.Valid(body) {
		// encoding/json would replace the bad bytes, sdk-go keeps them.
		return event.Event{}, &DecodeError{Reason: "structured body is not valid UTF-8", Err: ErrNotCloudEvent}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return event.Event{}, &DecodeError{Reason: "structured body is not a JSON object: " + err.Error(), Err: ErrNotCloudEvent}
	}
	if err := checkStructured(raw); err != nil {
		return event.Event{}, err
	}
	var e event.Event
	if err := json.Unmarshal(body, &e); err != nil {
		return event.Event{}, &DecodeError{Field: structuredField(err), Reason: err.Error(), Err: err}
	}
	return e, validate(e)
}

// checkStructured checks the attributes of a structured event one by one, so
// that an error names the attribute at fault (sdk-go's own unmarshal errors
// do not say which member they are about).
func checkStructured(raw map[string]json.RawMessage) error {
	for _, attr := range []string{"specversion", "id", "source", "type"} {
		v, ok := raw[attr]
		if !ok || string(v) == "null" {
			return &DecodeError{Field: attr, Reason: "missing required attribute " + attr}
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil || strings.TrimSpace(s) == "" {
			return &DecodeError{Field: attr, Reason: attr + " must be a non-empty string"}
		}
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names) // report the same attribute every time
	for _, name := range names {
		v := raw[name]
		switch name {
		case "specversion", "id", "source", "type", "data":
			continue
		}
		if string(v) == "null" {
			continue
		}
		switch name {
		case "subject", "time", "datacontenttype", "dataschema", "schemaurl", "datacontentencoding", "data_base64":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return &DecodeError{Field: name, Reason: name + " must be a string", Err: err}
			}
			switch name {
			case "time":
				if _, err := parseTime(s); err != nil {
					return &DecodeError{Field: "time", Reason: err.Error(), Err: err}
				}
			case "data_base64":
				if _, err := base64.StdEncoding.DecodeString(s); err != nil {
					return &DecodeError{Field: "data_base64", Reason: "data_base64 is not base64: " + err.Error(), Err: err}
				}
			}
			continue
		}
		// Attribute names are lower-case letters and digits; sdk-go would
		// lower-case others and could collide with a spec attribute.
		if !event.IsExtensionNameValid(name) || name != strings.ToLower(name) {
			return &DecodeError{Field: name, Reason: fmt.Sprintf("invalid extension name %q", name)}
		}
		var value any
		if err := json.Unmarshal(v, &value); err != nil {
			return &DecodeError{Field: name, Reason: err.Error(), Err: err}
		}
		switch value := value.(type) {
		case string, bool:
		case float64:
			// CloudEvents integers are 32-bit.
			if value < math.MinInt32 || value > math.MaxInt32 {
				return &DecodeError{Field: name, Reason: "extension " + name + " is out of the 32-bit integer range"}
			}
		default:
			return &DecodeError{Field: name, Reason: "extension " + name + " must be a string, number or boolean"}
		}
	}
	return nil
}

// structuredField guesses the attribute an sdk-go unmarshal error is about.
func structuredField(err error) string {
	msg := err.Error()
	for _, attr := range []string{"specversion", "datacontenttype", "dataschema", "subject", "time", "source", "type", "id", "data_base64", "data"} {
		if strings.Contains(msg, attr) {
			return attr
		}
	}
	return ""
}

func decodeBinary(h map[string]string, body []byte) (event.Event, error) {
	get := func(name string) (string, bool, error) {
		raw, ok := h[HeaderPrefix+name]
		if !ok {
			return "", false, nil
		}
		v, err := PercentDecode(raw)
		if err != nil {
			return "", true, &DecodeError{Field: name, Reason: err.Error(), Err: err}
		}
		return v, true, nil
	}
	sv, _, err := get("specversion")
	if err != nil {
		return event.Event{}, err
	}
	if sv != event.CloudEventsVersionV1 && sv != event.CloudEventsVersionV03 {
		return event.Event{}, &DecodeError{Field: "specversion", Reason: fmt.Sprintf("unsupported specversion %q", sv)}
	}
	e := event.New(sv)
	for _, attr := range []string{"id", "source", "type"} {
		v, ok, err := get(attr)
		if err != nil {
			return event.Event{}, err
		}
		if !ok || strings.TrimSpace(v) == "" {
			return event.Event{}, &DecodeError{Field: attr, Reason: "missing required attribute " + attr}
		}
	}
	for name := range h {
		if !strings.HasPrefix(name, HeaderPrefix) {
			continue
		}
		attr := strings.TrimPrefix(name, HeaderPrefix)
		v, _, err := get(attr)
		if err != nil {
			return event.Event{}, err
		}
		switch attr {
		case "specversion":
		case "id":
			e.SetID(v)
		case "source":
			e.SetSource(v)
		case "type":
			e.SetType(v)
		case "subject":
			e.SetSubject(v)
		case "time":
			t, err := parseTime(v)
			if err != nil {
				return event.Event{}, &DecodeError{Field: "time", Reason: err.Error(), Err: err}
			}
			e.SetTime(t)
		case "dataschema":
			e.SetDataSchema(v)
		case "datacontenttype":
			e.SetDataContentType(v)
		default:
			if !event.IsExtensionNameValid(attr) {
				return event.Event{}, &DecodeError{Field: attr, Reason: fmt.Sprintf("invalid extension name %q", attr)}
			}
			if attr == "data" {
				// The JSON event format reserves the member for the data.
				return event.Event{}, &DecodeError{Field: attr, Reason: "data is reserved and cannot be an extension attribute"}
			}
			e.SetExtension(attr, v)
		}
	}
	if e.DataContentType() == "" {
		if ct, ok := h["content-type"]; ok && ct != "" {
			e.SetDataContentType(ct)
		}
	}
	if len(body) > 0 {
		e.DataEncoded = append([]byte(nil), body...)
	}
	return e, validate(e)
}

// parseTime parses an RFC 3339 time attribute. The time must stay within
// years 0000-9999 once converted to UTC, the form the encoder writes.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is not RFC 3339", s)
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("time %q is out of range", s)
	}
	return t, nil
}

func validate(e event.Event) error {
	if err := e.Validate(); err != nil {
		var ve event.ValidationError
		if errors.As(err, &ve) {
			fields := make([]string, 0, len(ve))
			for f := range ve {
				fields = append(fields, f)
			}
			sort.Strings(fields)
			return &DecodeError{Field: fields[0], Reason: ve[fields[0]].Error(), Err: err}
		}
		return &DecodeError{Reason: err.Error(), Err: err}
	}
	return nil
}

// PercentEncode encodes a header value as the NATS binding requires: space,
// double quote, percent and every byte outside U+0021..U+007E become %XY
// with upper-case hex digits of the value's UTF-8 bytes.
func PercentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7F || c == '"' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// PercentDecode decodes a header value. An RFC 7230 quoted string is first
// unquoted; then one round of percent-decoding is applied. A value with a
// '%' that does not start a valid %XY sequence is taken as written (senders
// that do not encode, like sdk-go, send "100%" raw). A decoded value that is
// not valid UTF-8 is an error, as the binding requires.
func PercentDecode(s string) (string, error) {
	s = unquote(s)
	if !strings.Contains(s, "%") {
		if !utf8.ValidString(s) {
			return "", errors.New("header value is not valid UTF-8")
		}
		return s, nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
				i += 2
				continue
			}
			// Not an escape: the sender did not percent-encode.
			if !utf8.ValidString(s) {
				return "", errors.New("header value is not valid UTF-8")
			}
			return s, nil
		}
		out = append(out, s[i])
	}
	if !utf8.Valid(out) {
		return "", errors.New("percent-decoded header value is not valid UTF-8")
	}
	return string(out), nil
}

func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	inner := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' && i+1 < len(inner) {
			i++
		}
		b.WriteByte(inner[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
