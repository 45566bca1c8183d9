package airbyte

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. An *APIError matches ErrNotFound (404), ErrConflict (409)
// and ErrUnauthorized (401, 403) with errors.Is.
var (
	// ErrNotFound: Airbyte answered 404, or a look-up such as
	// FindSourceByName found nothing.
	ErrNotFound = errors.New("airbyte: not found")
	// ErrConflict: Airbyte answered 409.
	ErrConflict = errors.New("airbyte: conflict")
	// ErrUnauthorized: Airbyte answered 401 or 403, or refused the client
	// credentials.
	ErrUnauthorized = errors.New("airbyte: unauthorized")
	// ErrCircuitOpen: the circuit breaker of the Airbyte origin is open (or
	// half-open with its trial requests taken); the request was not sent.
	// Retry later.
	ErrCircuitOpen = errors.New("airbyte: circuit breaker open")
	// ErrNoRunningJob: RunningJob found no job that is still running.
	ErrNoRunningJob = errors.New("airbyte: no running job")
	// ErrInvalidResponse: a 2xx answer could not be decoded or broke the
	// contract (e.g. a token_type other than Bearer).
	ErrInvalidResponse = errors.New("airbyte: invalid response")
)

// maxMessageLen bounds the server message kept in an APIError.
const maxMessageLen = 1024

// APIError is a non-2xx answer from Airbyte. It reads both error shapes:
// the public API's problem body {status, type, title, detail, data} and
// the configuration API's {message, errorId, ...}. It never holds the
// request body, and values of the request's connector configuration are
// masked in every field.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Type and Title are the public API problem's type URL and short name,
	// e.g. "https://reference.airbyte.com/reference/errors#try-again-later"
	// and "try-again-later"; empty for configuration API errors.
	Type  string
	Title string
	// Detail is the problem's detail (older servers put the message here).
	Detail string
	// Message is the most specific text the server gave: data.message, else
	// message (configuration API), else detail, else a text body.
	Message string
	// Data is the problem's data object (e.g. {resourceType, resourceId}),
	// or the configuration API's details object.
	Data json.RawMessage
	// ErrorID is the configuration API's errorId, for Airbyte's server logs.
	ErrorID string
	// RetryAfter is the server's Retry-After, zero when absent.
	RetryAfter time.Duration

	Operation string // spec operationId of the call, e.g. "createJob"
	Method    string
	Path      string // URL path without query
}

// Error returns e.g. `airbyte: POST /api/public/v1/jobs: 409 try-again-later:
// A sync is already running for: <id>`.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "airbyte: %s %s: %d", e.Method, e.Path, e.StatusCode)
	if e.Title != "" {
		b.WriteString(" " + e.Title)
	} else {
		b.WriteString(" " + strings.ToLower(http.StatusText(e.StatusCode)))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.ErrorID != "" {
		b.WriteString(" (errorId " + e.ErrorID + ")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound/ErrConflict/ErrUnauthorized) work.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden ||
			(e.StatusCode == http.StatusBadRequest && e.Operation == opCreateAccessToken)
	}
	return false
}

// text is every message field, lower-cased, for matching.
func (e *APIError) text() string {
	return strings.ToLower(e.Message + "\n" + e.Detail + "\n" + string(e.Data))
}

// AsAPIError returns the *APIError in err's chain.
func AsAPIError(err error) (*APIError, bool) {
	var e *APIError
	ok := errors.As(err, &e)
	return e, ok
}

// IsNotFound reports a 404 or a look-up that found nothing.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsNotFoundOf reports Airbyte's 404 naming id as the resource it could not
// find: the public API's problem with data.resourceId id, or a
// configuration API error whose message names id ("Could not find
// configuration for STANDARD_SYNC: <id>."). A 404 that names nothing (a
// proxy's, or a server that sent only an errorId) or names another id does
// not count: ask for the resource itself to tell whether Airbyte knows it.
func IsNotFoundOf(err error, id string) bool {
	e, ok := AsAPIError(err)
	if !ok || id == "" || e.StatusCode != http.StatusNotFound {
		return false
	}
	var data struct {
		ResourceID string `json:"resourceId"`
	}
	if json.Unmarshal(e.Data, &data) == nil && data.ResourceID != "" {
		return strings.EqualFold(data.ResourceID, id)
	}
	return strings.Contains(strings.ToLower(e.Message+"\n"+e.Detail), strings.ToLower(id))
}

// IsConflict reports a 409.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsSyncRunning reports Airbyte's 409 "A sync is already running for: <id>"
// to POST /jobs (public) or connections/sync (config).
func IsSyncRunning(err error) bool {
	e, ok := AsAPIError(err)
	return ok && e.StatusCode == http.StatusConflict && strings.Contains(e.text(), "sync is already running")
}

// IsJobNotRunning reports Airbyte's 409 "Job is not currently running",
// which DELETE /jobs/{id} returns for a job that already ended, and which
// the public API also returns for a job id that does not exist.
func IsJobNotRunning(err error) bool {
	e, ok := AsAPIError(err)
	return ok && e.StatusCode == http.StatusConflict && strings.Contains(e.text(), "not currently running")
}

// IsJobNotFound reports that a job id is unknown. Airbyte answers an unknown
// job id with 404 or, through its error mapping of "Could not find job with
// id", with 409 "Job is not currently running"; both count.
func IsJobNotFound(err error) bool {
	if IsNotFound(err) {
		return true
	}
	e, ok := AsAPIError(err)
	if !ok || e.StatusCode != http.StatusConflict {
		return false
	}
	t := e.text()
	return strings.Contains(t, "not currently running") || strings.Contains(t, "could not find job")
}

// IsValidation reports a 400 or 422: Airbyte refused the request's content.
// Sending it again unchanged will fail again.
func IsValidation(err error) bool {
	e, ok := AsAPIError(err)
	if !ok || e.Is(ErrUnauthorized) {
		return false
	}
	return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
}

// IsAuth reports a 401 or 403, or refused client credentials.
func IsAuth(err error) bool { return errors.Is(err, ErrUnauthorized) }

// IsRetryable reports whether the same call may succeed later: 408, 425,
// 429 and 5xx answers, an open circuit breaker, a call not admitted
// ([ErrBusy]), timeouts and connection errors. A cancelled context is not retryable. Note that for creates a
// retryable error may still mean the object was created: look it up first.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrBusy) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if e, ok := AsAPIError(err); ok {
		return retryableStatus(e.StatusCode)
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// RetryAfter returns the server's Retry-After carried by err, or the wait
// for a slot estimated by admission control ([BusyError]), if any.
func RetryAfter(err error) (time.Duration, bool) {
	var be *BusyError
	if errors.As(err, &be) && be.RetryAfter > 0 {
		return be.RetryAfter, true
	}
	e, ok := AsAPIError(err)
	if !ok || e.RetryAfter <= 0 {
		return 0, false
	}
	return e.RetryAfter, true
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported
}

// problemBody is the union of Airbyte's two error shapes.
type problemBody struct {
	Type    string          `json:"type"`
	Title   string          `json:"title"`
	Detail  string          `json:"detail"`
	Message string          `json:"message"`
	ErrorID string          `json:"errorId"`
	Data    json.RawMessage `json:"data"`
	Details json.RawMessage `json:"details"`
}

// parseAPIError builds the APIError of a non-2xx answer. mask hides values
// of the request's connector configuration; it may be nil.
func parseAPIError(r *request, status int, header http.Header, body []byte, retryAfter time.Duration, mask *masker) *APIError {
	e := &APIError{
		StatusCode: status,
		RetryAfter: retryAfter,
		Operation:  r.op,
		Method:     r.method,
		Path:       r.urlPath,
	}
	trimmed := bytes.TrimSpace(body)
	var pb problemBody
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &pb) == nil {
		e.Type, e.Title, e.Detail, e.ErrorID = pb.Type, pb.Title, pb.Detail, pb.ErrorID
		e.Data = pb.Data
		if len(e.Data) == 0 || string(e.Data) == "null" {
			e.Data = pb.Details
		}
		if string(e.Data) == "null" {
			e.Data = nil
		}
		var data struct {
			Message string `json:"message"`
		}
		if len(e.Data) > 0 && e.Data[0] == '{' {
			_ = json.Unmarshal(e.Data, &data)
		}
		switch {
		case data.Message != "":
			e.Message = data.Message
		case pb.Message != "":
			e.Message = pb.Message
		default:
			e.Message = pb.Detail
		}
	} else if len(trimmed) > 0 && !isHTML(header, trimmed) && utf8.Valid(trimmed) {
		e.Message = string(trimmed)
	}
	if mask != nil {
		e.Title = mask.text(e.Title)
		e.Detail = mask.text(e.Detail)
		e.Message = mask.text(e.Message)
		e.Data = mask.raw(e.Data)
	}
	e.Message = truncate(e.Message, maxMessageLen)
	e.Detail = truncate(e.Detail, maxMessageLen)
	return e
}

func isHTML(h http.Header, body []byte) bool {
	return strings.Contains(h.Get("Content-Type"), "html") || body[0] == '<'
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut at a rune boundary
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// masker hides known secret values (the string leaves of a connector
// configuration sent in the request) in server messages.
type masker struct {
	values []string
}

const secretMask = "**********"

// newMasker collects the string leaves of v that are at least 4 bytes long.
func newMasker(v any) *masker {
	m := &masker{}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			if len(t) >= 4 {
				m.values = append(m.values, t)
			}
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	// Normalise through JSON so typed maps and structs are walked too.
	if b, err := json.Marshal(v); err == nil {
		var generic any
		if json.Unmarshal(b, &generic) == nil {
			walk(generic)
		}
	}
	if len(m.values) == 0 {
		return nil
	}
	return m
}

func (m *masker) text(s string) string {
	for _, v := range m.values {
		if v == "" {
			continue
		}
		s = strings.ReplaceAll(s, v, secretMask)
	}
	return s
}

func (m *masker) raw(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return b
	}
	s := string(b)
	for _, v := range m.values {
		if v == "" {
			continue
		}
		s = strings.ReplaceAll(s, v, secretMask)
		if q, err := json.Marshal(v); err == nil {
			esc := string(q[1 : len(q)-1])
			s = strings.ReplaceAll(s, esc, secretMask)
		}
	}
	return json.RawMessage(s)
}
