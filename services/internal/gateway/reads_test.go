package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

func TestRegistryReads(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	var ids []string
	for i := range 5 {
		c := b.mesh.AddConnection("", "conn-"+string(rune('a'+i)))
		ids = append(ids, c.ID)
	}

	// Paging through /v1/connections visits each connection once, in order.
	var seen []string
	next := ""
	pages := 0
	for {
		path := "/v1/connections?limit=2"
		if next != "" {
			path += "&after=" + next
		}
		r := b.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var page gateway.ConnectionList
		r.json(t, &page)
		for _, c := range page.Connections {
			seen = append(seen, c.ID)
		}
		pages++
		if page.Next == "" {
			break
		}
		next = page.Next
	}
	require.Equal(t, ids, seen)
	require.Equal(t, 3, pages)
	r := b.do(http.MethodGet, "/v1/connections?status=failed", "")
	var none gateway.ConnectionList
	r.json(t, &none)
	require.Empty(t, none.Connections)
	for _, bad := range []string{"limit=0", "limit=x", "status=SLEEPING", "after=notacursor"} {
		r := b.do(http.MethodGet, "/v1/connections?"+bad, "")
		require.Equal(t, http.StatusBadRequest, r.status, bad)
	}

	// One connection.
	r = b.do(http.MethodGet, "/v1/connections/"+ids[0], "")
	require.Equal(t, http.StatusOK, r.status)
	var c gateway.Connection
	r.json(t, &c)
	require.Equal(t, "conn-a", c.Name)
	require.Equal(t, "ACTIVE", c.Status)
	require.Equal(t, 1, c.CatalogVersion)
	require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/v1/connections/"+uuid.NewString(), "").status)
	require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/v1/connections/not-an-id", "").status)
	require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/connections/"+uuid.NewString(), "").status)

	// A repair makes version 2; both are listed, each is readable.
	r = b.do(http.MethodPost, "/v1/connections/"+ids[0]+"/repair?wait=10s",
		`{"new_sync_catalog":`+string(gatewaytest.Catalog("Account", "Lead"))+`,"reason":"Lead added"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = b.do(http.MethodGet, "/v1/connections/"+ids[0]+"/catalog/versions", "")
	require.Equal(t, http.StatusOK, r.status)
	var versions gateway.CatalogVersionList
	r.json(t, &versions)
	require.Len(t, versions.Versions, 2)
	require.Equal(t, []string{"Account", "Contact"}, versions.Versions[0].Streams)
	require.Equal(t, []string{"Account", "Lead"}, versions.Versions[1].Streams)
	require.Equal(t, "Lead added", versions.Versions[1].Reason)
	require.Empty(t, versions.Versions[1].SyncCatalog)
	r = b.do(http.MethodGet, "/v1/connections/"+ids[0]+"/catalog/versions/2", "")
	require.Equal(t, http.StatusOK, r.status)
	var v2 gateway.CatalogVersion
	r.json(t, &v2)
	require.JSONEq(t, string(gatewaytest.Catalog("Account", "Lead")), string(v2.SyncCatalog))
	require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/v1/connections/"+ids[0]+"/catalog/versions/3", "").status)
	require.Equal(t, http.StatusBadRequest, b.do(http.MethodGet, "/v1/connections/"+ids[0]+"/catalog/versions/zero", "").status)
	require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/v1/connections/"+uuid.NewString()+"/catalog/versions", "").status)

	// Jobs, newest first.
	for range 2 {
		r = b.do(http.MethodPost, "/v1/connections/"+ids[1]+"/sync?wait=10s&until=terminal", "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	r = b.do(http.MethodGet, "/v1/connections/"+ids[1]+"/jobs", "")
	require.Equal(t, http.StatusOK, r.status)
	var jobs gateway.JobList
	r.json(t, &jobs)
	require.Len(t, jobs.Jobs, 2)
	require.Equal(t, "succeeded", jobs.Jobs[0].Status)
	require.Greater(t, jobs.Jobs[0].AirbyteJobID, jobs.Jobs[1].AirbyteJobID)
	r = b.do(http.MethodGet, "/v1/connections/"+ids[1]+"/jobs?limit=1", "")
	r.json(t, &jobs)
	require.Len(t, jobs.Jobs, 1)
	require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/v1/connections/"+uuid.NewString()+"/jobs", "").status)
}

func TestBearerTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{Tokens: config.Secret("first-token, second-token")}, gatewaytest.Options{NoWorkers: true})

	for _, auth := range []string{"", "Bearer wrong", "Basic Zmlyc3QtdG9rZW4=", "Bearer first-token-and-more", "first-token"} {
		r := b.do(http.MethodGet, "/v1/connections", "", "Authorization", auth)
		require.Equal(t, http.StatusUnauthorized, r.status, auth)
		require.Equal(t, `Bearer realm="aam"`, r.header.Get("WWW-Authenticate"))
		require.Equal(t, "Authorization", r.errBody(t).Field)
		r = b.do(http.MethodPost, "/v1/connections/onboard", `{}`, "Authorization", auth)
		require.Equal(t, http.StatusUnauthorized, r.status, auth)
	}
	require.EqualValues(t, 0, b.requestsStored())
	for _, tok := range []string{"first-token", "second-token"} {
		r := b.do(http.MethodGet, "/v1/connections", "", "Authorization", "Bearer "+tok)
		require.Equal(t, http.StatusOK, r.status, tok)
		r = b.do(http.MethodGet, "/v1/connections", "", "Authorization", "bearer "+tok)
		require.Equal(t, http.StatusOK, r.status, tok)
	}
	// Health, metrics and the document stay open.
	for _, path := range []string{"/healthz", "/health", "/readyz", "/metrics", "/openapi.yaml"} {
		r := b.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, r.status, path)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{}, gatewaytest.Options{NoWorkers: true})
	r := b.do(http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"ready":true,"checks":{"nats":"ok","postgres":"ok"}}`, string(r.body))
	b.do(http.MethodGet, "/v1/connections/"+uuid.NewString(), "")
	r = b.do(http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, r.status)
	body := string(r.body)
	require.Contains(t, body, `aam_gateway_http_requests_total{code="404",method="GET",route="GET /v1/connections/{id}"} 1`)
	require.Contains(t, body, `aam_gateway_http_request_duration_seconds_bucket{method="GET",route="GET /readyz"`)
	require.True(t, strings.Contains(body, "go_goroutines"), "process collectors registered")
}

// TestNATSOutage: while NATS is down nothing is accepted (503, readiness
// fails); after it is back on the same port and store, requests are
// accepted again and the stored ones are still there.
func TestNATSOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{PublishTimeout: time.Second}, gatewaytest.Options{NoWorkers: true})
	conn := b.mesh.AddConnection("", "Accounts")
	r := b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync", "")
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)

	b.mesh.StopNATS()
	require.Eventually(t, func() bool { return !b.mesh.NC.IsConnected() }, 5*time.Second, 10*time.Millisecond)
	for _, path := range []string{"/v1/connections/" + conn.ID + "/sync", "/connections/" + conn.ID + "/sync"} {
		r = b.do(http.MethodPost, path, "", "Idempotency-Key", "outage-"+uuid.NewString())
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
		require.Equal(t, "2", r.header.Get("Retry-After"))
		require.Contains(t, r.errBody(t).Error, "not accepted")
	}
	r = b.do(http.MethodPost, "/v1/events", `{"connection_id":"`+conn.ID+`"}`,
		"ce-specversion", "1.0", "ce-id", uuid.NewString(), "ce-source", "/test", "ce-type", "io.aam.connection.sync.requested.v1")
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	require.Equal(t, http.StatusServiceUnavailable, b.do(http.MethodGet, "/v1/events/stream", "").status)
	r = b.do(http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Contains(t, string(r.body), `"postgres":"ok"`)
	// Registry reads do not need NATS.
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/connections/"+conn.ID, "").status)

	b.mesh.RestartNATS()
	r = b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync", "")
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.EqualValues(t, 2, b.requestsStored())
	require.Eventually(t, func() bool {
		return b.do(http.MethodGet, "/readyz", "").status == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
}

// TestConnectionHealthRoute reads a quarantined connection's health and
// finds it by status.
func TestConnectionHealthRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	c := b.mesh.AddConnection("", "failing")
	other := b.mesh.AddConnection("", "healthy")
	ctx := b.mesh.Ctx
	st := b.mesh.Store
	_, _, err := st.JobCreate(ctx, registry.JobCreateParams{ConnectionID: c.ID, AirbyteJobID: "41", Status: registry.JobFailed, CatalogVersion: 1})
	require.NoError(t, err)
	for range 3 {
		_, err := st.HealthFailed(ctx, c.ID)
		require.NoError(t, err)
	}
	warned, err := st.HealthWarn(ctx, c.ID, 1)
	require.NoError(t, err)
	require.True(t, warned)
	quarantined, err := st.HealthQuarantine(ctx, c.ID, 1, "3 syncs failed in a row")
	require.NoError(t, err)
	require.True(t, quarantined)

	r := b.do(http.MethodGet, "/v1/connections/"+c.ID+"/health", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var h gateway.ConnectionHealth
	r.json(t, &h)
	require.Equal(t, c.ID, h.ConnectionID)
	require.True(t, h.Quarantined)
	require.Equal(t, "QUARANTINED", h.Status)
	require.Equal(t, "3 syncs failed in a row", h.StatusReason)
	require.Equal(t, 3, h.ConsecutiveFailures)
	require.True(t, h.Warned)
	require.NotNil(t, h.LastFailureAt)
	require.Nil(t, h.LastSuccessAt)
	require.Len(t, h.RecentJobs, 1)
	require.Equal(t, "41", h.RecentJobs[0].AirbyteJobID)

	r = b.do(http.MethodGet, "/v1/connections/"+other.ID+"/health", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var fine gateway.ConnectionHealth
	r.json(t, &fine)
	require.False(t, fine.Quarantined)
	require.Zero(t, fine.ConsecutiveFailures)
	require.False(t, fine.Warned)
	require.Empty(t, fine.RecentJobs)

	r = b.do(http.MethodGet, "/v1/connections?status=quarantined", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var list gateway.ConnectionList
	r.json(t, &list)
	require.Len(t, list.Connections, 1)
	require.Equal(t, c.ID, list.Connections[0].ID)

	r = b.do(http.MethodGet, "/v1/connections/"+registry.NewID()+"/health", "")
	require.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
}

// TestConnectionStatsRoute reads a connection's per-stream volume and its
// open anomalies in its health.
func TestConnectionStatsRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	c := b.mesh.AddConnection("", "volume")
	ctx, st := b.mesh.Ctx, b.mesh.Store
	j, _, err := st.JobCreate(ctx, registry.JobCreateParams{ConnectionID: c.ID, AirbyteJobID: "42", Status: registry.JobRunning, CatalogVersion: 1})
	require.NoError(t, err)
	started := time.Now().Add(-time.Minute)
	ended := started.Add(90 * time.Second)
	j, err = st.JobUpdate(ctx, j.ID, registry.JobUpdateParams{Status: registry.JobSucceeded, StartedAt: &started, CompletedAt: &ended,
		RowsSynced: 105, BytesSynced: 10500})
	require.NoError(t, err)
	_, err = st.SuccessRecord(ctx, j, []registry.StreamStat{{Stream: "Contact", Records: 100, Bytes: 10000}, {Stream: "Account", Records: 5, Bytes: 500}}, 10)
	require.NoError(t, err)
	_, opened, err := st.AnomalyOpen(ctx, registry.Anomaly{ConnectionID: c.ID, JobID: j.ID, AirbyteJobID: "42", Stream: "Account",
		Kind: "drop", Metric: "records", Observed: 5, ExpectedMin: 50, ExpectedMax: 300, Median: 100, HistoryJobs: 10})
	require.NoError(t, err)
	require.True(t, opened)

	// get reads path, which must answer 200, into out.
	get := func(path string, out any) {
		r := b.do(http.MethodGet, "/v1/connections/"+c.ID+path, "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r.json(t, out)
	}
	var stats gateway.StatsList
	get("/stats", &stats)
	require.Len(t, stats.Jobs, 1)
	require.Equal(t, "42", stats.Jobs[0].AirbyteJobID)
	require.EqualValues(t, 90000, stats.Jobs[0].DurationMS)
	require.Equal(t, []registry.StreamStat{{Stream: "Account", Records: 5, Bytes: 500}, {Stream: "Contact", Records: 100, Bytes: 10000}},
		stats.Jobs[0].Streams)

	var h gateway.ConnectionHealth
	get("/health", &h)
	require.Len(t, h.OpenAnomalies, 1)
	a := h.OpenAnomalies[0]
	require.Equal(t, events.SyncAnomaly{ConnectionID: c.ID, JobID: "42", Stream: "Account", Kind: "drop", Metric: "records",
		Observed: 5, Expected: events.ExpectedRange{Min: 50, Max: 300}, Median: 100, HistoryJobs: 10}, a.SyncAnomaly)

	b.requireBadAndUnknown(http.MethodGet, c.ID, "/stats", "?limit=0")
}

// TestConnectionsByHealth lists connections by health: quarantined, and
// warning (the current run of failures warned about, not quarantined).
func TestConnectionsByHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	quarantined := b.mesh.AddConnection("", "quarantined")
	b.mesh.SetHealth(quarantined.ID, 5, true, "quarantined after 5 consecutive failed syncs")
	warned := b.mesh.AddConnection("", "warned")
	b.mesh.SetHealth(warned.ID, 3, true, "")
	failing := b.mesh.AddConnection("", "failing, not warned yet")
	b.mesh.SetHealth(failing.ID, 2, false, "")
	recovered := b.mesh.AddConnection("", "warned, then a success")
	b.mesh.SetHealth(recovered.ID, 3, true, "")
	require.NoError(t, b.mesh.Store.HealthSucceeded(b.mesh.Ctx, recovered.ID))
	b.mesh.AddConnection("", "healthy")

	ids := func(query string) []string {
		t.Helper()
		r := b.do(http.MethodGet, "/v1/connections?"+query, "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var list gateway.ConnectionList
		r.json(t, &list)
		out := []string{}
		for _, c := range list.Connections {
			out = append(out, c.ID)
		}
		return out
	}
	require.Equal(t, []string{quarantined.ID}, ids("health=quarantined"))
	require.Equal(t, []string{warned.ID}, ids("health=warning"))
	require.Equal(t, []string{warned.ID}, ids("health=WARNING&status=active"))
	require.Empty(t, ids("health=warning&status=quarantined"))
	require.Len(t, ids(""), 5)

	r := b.do(http.MethodGet, "/v1/connections?health=failing", "")
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	e := r.errBody(t)
	require.Equal(t, "health", e.Field)
	require.Equal(t, `health "failing" is not quarantined or warning`, e.Error)
}
