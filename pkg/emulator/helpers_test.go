package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aam-mesh/aam/pkg/airbytespec/airbytespectest"
	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	wsID   = emulator.DefaultWorkspaceID
	destID = emulator.DefaultDestinationID
	sfDef  = emulator.SalesforceDefinitionID
)

var t0 = time.Date(2025, 9, 16, 20, 13, 24, 0, time.UTC)

// testBundle is an emulator behind an httptest server plus a client for it.
type testBundle struct {
	emu   *emulator.Emulator
	clock *emulator.ManualClock
	srv   *httptest.Server
	c     *client
}

type setupOpts struct {
	validate bool // validate every exchange against the Airbyte OpenAPI documents
}

func setup(t *testing.T, cfg emulator.Config, opts ...setupOpts) *testBundle {
	t.Helper()
	var o setupOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	clock, _ := cfg.Clock.(*emulator.ManualClock)
	if cfg.Clock == nil {
		clock = emulator.NewManualClock(t0)
		cfg.Clock = clock
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	emu := emulator.New(cfg)
	var h http.Handler = emu.Handler()
	if o.validate {
		h = airbytespectest.Middleware(t, airbytespectest.Specs(t), h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		emu.Close()
		srv.Close()
	})
	b := &testBundle{emu: emu, clock: clock, srv: srv, c: &client{t: t, base: srv.URL, http: srv.Client()}}
	b.c.token = b.c.getToken()
	return b
}

// client is a minimal Airbyte HTTP client for tests.
type client struct {
	t     *testing.T
	base  string
	token string
	http  *http.Client
	// noRefresh disables the refresh-and-retry on 401.
	noRefresh bool
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (r response) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// do sends one request. Like Airbyte's own clients, it fetches a new token and
// retries once on a 401 (tests that advance the clock past the token lifetime rely
// on it) unless noRefresh is set.
func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	r := c.once(method, path, body)
	if r.status == http.StatusUnauthorized && c.token != "" && !c.noRefresh && !strings.HasSuffix(path, "/applications/token") {
		c.token = c.getToken()
		r = c.once(method, path, body)
	}
	return r
}

func (c *client) once(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			require.NoError(c.t, err)
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// ok performs a call that must succeed with want and decodes the body into a map.
func (c *client) ok(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	r := c.do(method, path, body)
	require.Equal(c.t, want, r.status, "%s %s: %s", method, path, r.body)
	if want == http.StatusNoContent {
		return nil
	}
	return r.obj(c.t)
}

func (c *client) pub(method, path string, body any) response {
	c.t.Helper()
	return c.do(method, "/api/public/v1"+path, body)
}

func (c *client) cfg(path string, body any) response {
	c.t.Helper()
	return c.do(http.MethodPost, "/api/v1"+path, body)
}

func (c *client) getToken() string {
	c.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {emulator.DefaultClientID}, "client_secret": {emulator.DefaultClientSecret}}
	resp, err := c.http.Post(c.base+"/api/public/v1/applications/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	defer resp.Body.Close()
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(c.t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}

func salesforceConfig() map[string]any {
	return map[string]any{
		"sourceType":    "salesforce",
		"client_id":     "3MVG9-client",
		"client_secret": "s3cr3t",
		"refresh_token": "5Aep861-refresh",
		"is_sandbox":    false,
		"start_date":    "2024-01-01T00:00:00Z",
	}
}

// createSource creates a Salesforce source and returns its id.
func (b *testBundle) createSource(t *testing.T) string {
	t.Helper()
	r := b.c.pub(http.MethodPost, "/sources", map[string]any{"name": "acme-salesforce", "workspaceId": wsID, "configuration": salesforceConfig()})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	return r.obj(t)["sourceId"].(string)
}

// createConnection creates a connection with Account (dedup), Contact (append)
// and Lead (full refresh) and returns its id.
func (b *testBundle) createConnection(t *testing.T, sourceID string, extra map[string]any) string {
	t.Helper()
	body := map[string]any{
		"sourceId":      sourceID,
		"destinationId": destID,
		"configurations": map[string]any{"streams": []any{
			map[string]any{"name": "Account", "syncMode": "incremental_deduped_history"},
			map[string]any{"name": "Contact", "syncMode": "incremental_append"},
			map[string]any{"name": "Lead", "syncMode": "full_refresh_overwrite"},
		}},
	}
	for k, v := range extra {
		body[k] = v
	}
	r := b.c.pub(http.MethodPost, "/connections", body)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	return r.obj(t)["connectionId"].(string)
}

func (b *testBundle) startSync(t *testing.T, connectionID string) int64 {
	t.Helper()
	r := b.c.pub(http.MethodPost, "/jobs", map[string]any{"connectionId": connectionID, "jobType": "sync"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	return int64(r.obj(t)["jobId"].(float64))
}

func (b *testBundle) job(t *testing.T, id int64) map[string]any {
	t.Helper()
	return b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/jobs/"+itoa(id), nil)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
