package airbyte

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestAPIErrorShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        APIError
		check       func(t *testing.T, err error)
	}{
		{
			name: "public problem with data.message", status: 409,
			body: `{"status":409,"type":"https://reference.airbyte.com/reference/errors#try-again-later","title":"try-again-later","detail":"Please try again later.","data":{"message":"A sync is already running for: 9924bcd0-99be-453d-ba47-c2c9766f7da5"}}`,
			want: APIError{StatusCode: 409, Type: "https://reference.airbyte.com/reference/errors#try-again-later", Title: "try-again-later",
				Detail: "Please try again later.", Message: "A sync is already running for: 9924bcd0-99be-453d-ba47-c2c9766f7da5",
				Data: json.RawMessage(`{"message":"A sync is already running for: 9924bcd0-99be-453d-ba47-c2c9766f7da5"}`)},
			check: func(t *testing.T, err error) {
				require.True(t, IsSyncRunning(err))
				require.True(t, IsConflict(err))
				require.False(t, IsJobNotFound(err))
				require.False(t, IsRetryable(err))
			},
		},
		{
			name: "older public problem with the message in detail", status: 400,
			body: `{"type":"https://reference.airbyte.com/reference/errors","title":"bad-request","status":400,"detail":"The body of the request contains an invalid connection configuration. Primary key for stream: Account is already pre-defined. Please do NOT include a primary key configuration for this stream."}`,
			want: APIError{StatusCode: 400, Type: "https://reference.airbyte.com/reference/errors", Title: "bad-request",
				Detail:  "The body of the request contains an invalid connection configuration. Primary key for stream: Account is already pre-defined. Please do NOT include a primary key configuration for this stream.",
				Message: "The body of the request contains an invalid connection configuration. Primary key for stream: Account is already pre-defined. Please do NOT include a primary key configuration for this stream."},
			check: func(t *testing.T, err error) { require.True(t, IsValidation(err)) },
		},
		{
			name: "public not found with resource data", status: 404,
			body: `{"status":404,"type":"https://reference.airbyte.com/reference/errors#resource-not-found","title":"resource-not-found","detail":"The requested resource could not be found.","data":{"resourceType":"STANDARD_SYNC","resourceId":"x"}}`,
			want: APIError{StatusCode: 404, Type: "https://reference.airbyte.com/reference/errors#resource-not-found", Title: "resource-not-found",
				Detail: "The requested resource could not be found.", Message: "The requested resource could not be found.",
				Data: json.RawMessage(`{"resourceType":"STANDARD_SYNC","resourceId":"x"}`)},
			check: func(t *testing.T, err error) {
				require.True(t, IsNotFound(err))
				require.True(t, IsJobNotFound(err))
				require.True(t, IsNotFoundOf(err, "x"))
				require.False(t, IsNotFoundOf(err, "9924bcd0-99be-453d-ba47-c2c9766f7da5"), "another resource")
			},
		},
		{
			name: "config not found naming the resource", status: 404,
			body: `{"message":"Could not find configuration for STANDARD_SYNC: 9924BCD0-99be-453d-ba47-c2c9766f7da5.","exceptionClassName":"io.airbyte.commons.server.errors.IdNotFoundKnownException","errorId":"e"}`,
			want: APIError{StatusCode: 404, Message: "Could not find configuration for STANDARD_SYNC: 9924BCD0-99be-453d-ba47-c2c9766f7da5.", ErrorID: "e"},
			check: func(t *testing.T, err error) {
				require.True(t, IsNotFoundOf(err, "9924bcd0-99be-453d-ba47-c2c9766f7da5"))
				require.False(t, IsNotFoundOf(err, "5e1b7c2a-0000-4000-8000-000000000000"))
				require.False(t, IsNotFoundOf(err, ""))
			},
		},
		{
			name: "config known exception", status: 409,
			body:  `{"message":"A sync is already running for: 9924bcd0-99be-453d-ba47-c2c9766f7da5","exceptionClassName":"io.airbyte.commons.server.errors.ValueConflictKnownException","errorId":"4b7f4c1e-0000-4000-8000-000000000001"}`,
			want:  APIError{StatusCode: 409, Message: "A sync is already running for: 9924bcd0-99be-453d-ba47-c2c9766f7da5", ErrorID: "4b7f4c1e-0000-4000-8000-000000000001"},
			check: func(t *testing.T, err error) { require.True(t, IsSyncRunning(err)) },
		},
		{
			name: "config not found with only an errorId", status: 404,
			body: `{"errorId":"4b7f4c1e-0000-4000-8000-000000000002"}`,
			want: APIError{StatusCode: 404, ErrorID: "4b7f4c1e-0000-4000-8000-000000000002"},
			check: func(t *testing.T, err error) {
				require.True(t, IsNotFound(err))
				require.False(t, IsNotFoundOf(err, testSource), "a 404 naming nothing")
				require.Contains(t, err.Error(), "404 not found (errorId 4b7f4c1e-0000-4000-8000-000000000002)")
			},
		},
		{
			name: "config known exception with details", status: 422,
			body:  `{"message":"Invalid input","details":{"field":"x"},"errorId":"e"}`,
			want:  APIError{StatusCode: 422, Message: "Invalid input", ErrorID: "e", Data: json.RawMessage(`{"field":"x"}`)},
			check: func(t *testing.T, err error) { require.True(t, IsValidation(err)) },
		},
		{
			name: "job not currently running", status: 409,
			body: `{"status":409,"type":"https://reference.airbyte.com/reference/errors#409-state-conflict","title":"state-conflict","detail":"State conflict","data":{"message":"Job is not currently running"}}`,
			want: APIError{StatusCode: 409, Type: "https://reference.airbyte.com/reference/errors#409-state-conflict", Title: "state-conflict",
				Detail: "State conflict", Message: "Job is not currently running",
				Data: json.RawMessage(`{"message":"Job is not currently running"}`)},
			check: func(t *testing.T, err error) {
				require.True(t, IsJobNotRunning(err))
				require.True(t, IsJobNotFound(err))
				require.False(t, IsSyncRunning(err))
			},
		},
		{
			name: "load shedding 429", status: 429,
			body:  `{"message":"You are being rate limited."}`,
			want:  APIError{StatusCode: 429, Message: "You are being rate limited."},
			check: func(t *testing.T, err error) { require.True(t, IsRetryable(err)) },
		},
		{
			name: "gateway HTML", status: 502, contentType: "text/html",
			body:  "<html><body><h1>502 Bad Gateway</h1></body></html>",
			want:  APIError{StatusCode: 502},
			check: func(t *testing.T, err error) { require.Contains(t, err.Error(), "502 bad gateway") },
		},
		{
			name: "empty 401", status: 401, body: "",
			want:  APIError{StatusCode: 401},
			check: func(t *testing.T, err error) { require.True(t, IsAuth(err)) },
		},
		{
			name: "plain text", status: 500, contentType: "text/plain", body: "Internal Server Error: boom\n",
			want: APIError{StatusCode: 500, Message: "Internal Server Error: boom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", cmpOr(tt.contentType, "application/json"))
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}, func(c *Config) { c.MaxAttempts = 1; c.BreakerFailures = -1 })
			_, err := b.client.GetSource(context.Background(), testSource)
			require.Error(t, err)
			e, ok := AsAPIError(err)
			require.True(t, ok, "err = %v", err)
			tt.want.Operation, tt.want.Method, tt.want.Path = "getSource", http.MethodGet, "/api/public/v1/sources/"+testSource
			require.Equal(t, tt.want, *e)
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestErrorsNeverEchoSecrets(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// A careless server echoing the request body in its error.
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"status": 422, "type": "https://reference.airbyte.com/reference/errors#unprocessable-entity", "title": "unprocessable-entity",
			"detail": "bad configuration " + string(body),
			"data":   map[string]any{"message": "client_secret sf-secret-value is invalid", "echo": json.RawMessage(body)},
		})
	})
	b.client.log = zap.New(core)
	req := testSourceCreate()
	_, err := b.client.CreateSource(context.Background(), req)
	require.Error(t, err)
	e, ok := AsAPIError(err)
	require.True(t, ok)
	for _, s := range []string{err.Error(), e.Detail, e.Message, string(e.Data), fmt.Sprintf("%+v", e)} {
		require.NotContains(t, s, "sf-secret-value")
		require.NotContains(t, s, "sf-refresh-value")
	}
	require.Contains(t, e.Message, "client_secret ********** is invalid")
	require.True(t, json.Valid(e.Data), "masked data stays JSON: %s", e.Data)

	// The request type itself never prints its configuration.
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", req), fmt.Sprintf("%#v", req), fmt.Sprintf("%v", &req)} {
		require.NotContains(t, s, "sf-secret-value")
		require.Contains(t, s, "aam-acme-salesforce")
	}
	for _, entry := range logs.All() {
		require.NotContains(t, entry.Message+fmt.Sprint(entry.ContextMap()), "sf-secret-value")
	}
}

func TestMaskerHandlesJSONEscapes(t *testing.T) {
	t.Parallel()
	m := newMasker(map[string]any{"password": `pa"ss\word`, "nested": []any{map[string]any{"k": "deep-secret"}}, "n": 5, "short": "abc"})
	require.NotNil(t, m)
	raw := json.RawMessage(`{"echo":"pa\"ss\\word and deep-secret and abc"}`)
	got := string(m.raw(raw))
	require.NotContains(t, got, `pa\"ss\\word`)
	require.NotContains(t, got, "deep-secret")
	require.Contains(t, got, "abc", "values shorter than 4 bytes are left alone")
	require.Nil(t, newMasker(map[string]any{"n": 1}))
}

func TestErrorMessageIsTruncated(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 2000)
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": long})
	})
	_, err := b.client.GetSource(context.Background(), testSource)
	e, ok := AsAPIError(err)
	require.True(t, ok)
	require.LessOrEqual(t, len(e.Message), maxMessageLen+len("…"))
	require.True(t, strings.HasSuffix(e.Message, "…"))
}
