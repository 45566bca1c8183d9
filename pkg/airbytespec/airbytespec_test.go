package airbytespec_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbytespec"
	"github.com/aam-mesh/aam/pkg/airbytespec/airbytespectest"
)

func newRequest(method, path, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://localhost:8000"+path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer x")
	return r
}

func newResponse(status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": []string{"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	specs := airbytespectest.Specs(t)

	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		wantErr string
	}{
		{name: "public create source", method: http.MethodPost, path: "/api/public/v1/sources",
			body: `{"name":"sf","workspaceId":"744cc0ed-7f05-4949-9e60-2a814f90c035","configuration":{"sourceType":"salesforce"}}`},
		{name: "public create source without workspaceId", method: http.MethodPost, path: "/api/public/v1/sources",
			body: `{"name":"sf","configuration":{}}`, wantErr: "workspaceId"},
		{name: "public job with wrong jobType", method: http.MethodPost, path: "/api/public/v1/jobs",
			body: `{"connectionId":"9924bcd0-99be-453d-ba47-c2c9766f7da5","jobType":"resync"}`, wantErr: "jobType"},
		{name: "public get job", method: http.MethodGet, path: "/api/public/v1/jobs/42"},
		{name: "public get job with non-integer id", method: http.MethodGet, path: "/api/public/v1/jobs/abc", wantErr: "jobId"},
		{name: "public token with grant-type spelling", method: http.MethodPost, path: "/api/public/v1/applications/token",
			body: `{"client_id":"a","client_secret":"b","grant-type":"client_credentials"}`},
		{name: "config discover", method: http.MethodPost, path: "/api/v1/sources/discover_schema",
			body: `{"sourceId":"0c31738c-0b2d-4887-b506-e2cd1c39cc35","disable_cache":true}`},
		{name: "config discover with string disable_cache", method: http.MethodPost, path: "/api/v1/sources/discover_schema",
			body: `{"sourceId":"0c31738c-0b2d-4887-b506-e2cd1c39cc35","disable_cache":"yes"}`, wantErr: "disable_cache"},
		{name: "unknown path", method: http.MethodGet, path: "/api/public/v1/nowhere", wantErr: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireValidation(t, specs.ValidateRequest(newRequest(tt.method, tt.path, tt.body)), tt.wantErr)
		})
	}
}

func TestValidateResponse(t *testing.T) {
	t.Parallel()
	specs := airbytespectest.Specs(t)

	const job = `{"jobId":7,"status":"running","jobType":"sync","startTime":"2025-09-16T20:13:24Z","connectionId":"9924bcd0-99be-453d-ba47-c2c9766f7da5"}`
	tests := []struct {
		name    string
		method  string
		path    string
		reqBody string
		status  int
		body    string
		wantErr string
	}{
		{name: "job", method: http.MethodGet, path: "/api/public/v1/jobs/7", status: 200, body: job},
		{name: "job with string id", method: http.MethodGet, path: "/api/public/v1/jobs/7", status: 200,
			body: strings.Replace(job, `"jobId":7`, `"jobId":"7"`, 1), wantErr: "jobId"},
		{name: "job with unknown status", method: http.MethodGet, path: "/api/public/v1/jobs/7", status: 200,
			body: strings.Replace(job, `running`, `sleeping`, 1), wantErr: "status"},
		{name: "job without connectionId", method: http.MethodGet, path: "/api/public/v1/jobs/7", status: 200,
			body: `{"jobId":7,"status":"running","jobType":"sync","startTime":"2025-09-16T20:13:24Z"}`, wantErr: "connectionId"},
		{name: "problem", method: http.MethodGet, path: "/api/public/v1/jobs/7", status: 409,
			body: `{"status":409,"type":"https://reference.airbyte.com/reference/errors#409-state-conflict","title":"state-conflict","detail":"State conflict","data":{"message":"Job is not currently running"}}`},
		{name: "problem without title", method: http.MethodGet, path: "/api/public/v1/jobs/7", status: 409,
			body: `{"status":409,"type":"https://reference.airbyte.com/reference/errors#409-state-conflict"}`, wantErr: "title"},
		{name: "discover with connectionId and no jobInfo", method: http.MethodPost, path: "/api/v1/sources/discover_schema",
			reqBody: `{"sourceId":"0c31738c-0b2d-4887-b506-e2cd1c39cc35","connectionId":"9924bcd0-99be-453d-ba47-c2c9766f7da5","disable_cache":true}`,
			status:  200, body: `{"catalog":{"streams":[]},"catalogId":"5bd0c1b6-4c1e-4a39-9b5a-9c7f4b1d2e11","catalogDiff":{"transforms":[]},"breakingChange":false,"connectionStatus":"active"}`},
		{name: "discover without connectionId needs jobInfo", method: http.MethodPost, path: "/api/v1/sources/discover_schema",
			reqBody: `{"sourceId":"0c31738c-0b2d-4887-b506-e2cd1c39cc35","disable_cache":true}`,
			status:  200, body: `{"catalog":{"streams":[]},"catalogId":"5bd0c1b6-4c1e-4a39-9b5a-9c7f4b1d2e11"}`, wantErr: "jobInfo"},
		{name: "config error body", method: http.MethodPost, path: "/api/v1/connections/sync",
			reqBody: `{"connectionId":"9924bcd0-99be-453d-ba47-c2c9766f7da5"}`, status: 409,
			body: `{"message":"A sync is already running for: 9924bcd0-99be-453d-ba47-c2c9766f7da5"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := newRequest(tt.method, tt.path, tt.reqBody)
			requireValidation(t, specs.ValidateResponse(req, newResponse(tt.status, tt.body)), tt.wantErr)
		})
	}
}

// requireValidation asserts err is nil when wantErr is empty, else a
// *ValidationError whose message holds wantErr.
func requireValidation(t *testing.T, err error, wantErr string) {
	t.Helper()
	if wantErr == "" {
		require.NoError(t, err)
		return
	}
	var ve *airbytespec.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Contains(t, err.Error(), wantErr)
}

func TestNotCovered(t *testing.T) {
	t.Parallel()
	specs := airbytespectest.Specs(t)
	err := specs.ValidateRequest(newRequest(http.MethodGet, "/_emulator/state", ""))
	require.True(t, errors.Is(err, airbytespec.ErrNotCovered))
}

func TestDirFromEnv(t *testing.T) {
	t.Setenv(airbytespec.EnvDir, t.TempDir())
	_, ok := airbytespec.Dir()
	require.False(t, ok, "a folder without public-api.yaml is not a spec folder")
}

func TestSpecsSkipsWhenAbsent(t *testing.T) {
	t.Setenv(airbytespec.EnvDir, t.TempDir())
	var sub *testing.T
	t.Run("absent", func(t *testing.T) {
		sub = t
		airbytespectest.Specs(t)
		t.Error("Specs returned although the documents are absent")
	})
	require.True(t, sub.Skipped(), "the test must be skipped, not passed, when nothing was validated")
}

func TestLoadIsCached(t *testing.T) {
	t.Parallel()
	specs := airbytespectest.Specs(t)
	again, err := airbytespec.Load(specs.Dir())
	require.NoError(t, err)
	require.Same(t, specs, again)
}
