package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/syncer"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// scrape reads a role's /metrics over HTTP and parses the text format.
func scrape(t require.TestingT, baseURL string) map[string]*dto.MetricFamily {
	resp, err := http.Get(baseURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// series is one expectation on a scraped role: the series of name whose
// labels include labels must be present, and non-zero unless present is
// all that is asked.
type series struct {
	role    string
	name    string
	labels  map[string]string
	present bool
}

func (s series) String() string {
	var l []string
	for k, v := range s.labels {
		l = append(l, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(l)
	return fmt.Sprintf("%s: %s{%s}", s.role, s.name, strings.Join(l, ","))
}

// workerRole is a worker role's dependencies and the URL of its health
// and metrics server.
type workerRole struct {
	deps *app.Deps
	ab   *airbyte.Client
	url  string
}

// startRole builds a worker role as its main does: its own registry and
// metrics, an Airbyte client exporting its calls, the health and metrics
// endpoints served over HTTP, and an outbox relay.
func startRole(t *testing.T, env *testenv.Env, name string, abCfg airbyte.Config) workerRole {
	t.Helper()
	d := env.NewDeps(name, nil, nil)
	d.ConsumerStateInterval = 50 * time.Millisecond
	ab, err := d.Airbyte(abCfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	d.Health.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	env.Go(d.Relay())
	return workerRole{deps: d, ab: ab, url: srv.URL}
}

// gatherValue reads the value of series from a registry without HTTP, for
// waiting on a role's state.
func gatherValue(d *app.Deps, name string, labels map[string]string) (float64, bool) {
	fams, err := d.Metrics.Gather()
	if err != nil {
		return 0, false
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	ms := metric(byName, name, labels)
	return value(ms), len(ms) > 0
}

// checkTrace checks that every fact answering a request carries the trace
// id of traceparent.
func checkTrace(t *testing.T, facts []event.Event, traceparent string) {
	t.Helper()
	require.NotEmpty(t, facts)
	for _, f := range facts {
		require.Equal(t, traceID(traceparent), traceID(events.TraceParent(f)),
			"trace id of %s (traceparent %q)", f.Type(), events.TraceParent(f))
	}
}

// TestMetricsAfterTraffic drives traffic through the gateway and the
// workers (an Airbyte 5xx and 429 burst, a failing job, a bad request) and
// finds the named series, non-zero, on each role's /metrics; and shows that
// a W3C trace context given on a request, as a CloudEvent extension or as
// the gateway's HTTP header, reaches the request's completion facts.
func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := testenv.New(t, testenv.Options{NoRelay: true})
	broker := env.StartBroker()

	// A breaker that opens after 5 failed attempts and tries again soon.
	abCfg := env.AirbyteConfig(airbyte.Config{BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		BreakerOpenTimeout: 100 * time.Millisecond})
	fast := func(uint64) time.Duration { return 50 * time.Millisecond }
	ob := startRole(t, env, "onboarding", abCfg)
	ow, err := onboarding.New(ob.deps, ob.ab, broker.Client, onboarding.Config{
		WorkspaceID: env.Emulator.WorkspaceID(), DestinationID: env.Emulator.DestinationID(),
		Delivery: app.Delivery{Redelivery: bus.Redelivery{MaxDeliver: 100, Backoff: fast}}})
	require.NoError(t, err)
	sy := startRole(t, env, "sync", abCfg)
	sw, err := syncer.New(sy.deps, sy.ab, syncer.Config{PollInterval: 20 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	rp := startRole(t, env, "repair", abCfg)
	rw, err := repair.New(rp.deps, rp.ab, repair.Config{Delivery: app.Delivery{Redelivery: bus.Redelivery{Backoff: fast}}})
	require.NoError(t, err)
	env.Go(ow.Run)
	env.Go(sw.Run)
	env.Go(rw.Run)

	gd := env.NewDeps("gateway", nil, nil)
	gw, err := gateway.New(gateway.DefaultConfig(), gd)
	require.NoError(t, err)
	gts := httptest.NewServer(gw.Handler())
	t.Cleanup(gts.Close)
	t.Cleanup(gw.Close)
	post := func(path, body, traceparent string) (int, gateway.Accepted) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, gts.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var acc gateway.Accepted
		if resp.StatusCode == http.StatusAccepted {
			require.NoError(t, json.Unmarshal(b, &acc), "%s", b)
		}
		return resp.StatusCode, acc
	}

	// 1. Onboard through the gateway, with a trace, while Airbyte answers
	// 503 until the onboarding role's breaker opens, then 429, then well.
	const onboardTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	env.Emulator.SetFaults(emulator.Faults{Path: "/api/public/v1/workspaces", ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	status, onboarded := post("/v1/connections/onboard", `{"source_type": "Salesforce",
		"connection_name": "Salesforce Production", "credential_id": "`+testenv.SalesforceCredentialID+`"}`, onboardTrace)
	require.Equal(t, http.StatusAccepted, status)
	require.Eventually(t, func() bool {
		v, ok := gatherValue(ob.deps, "aam_airbyte_breaker_state", nil)
		return ok && v == airbyte.BreakerOpen.Value()
	}, 15*time.Second, 5*time.Millisecond, "the onboarding role's Airbyte breaker opens")
	env.Emulator.SetFaults(emulator.Faults{Path: "/api/public/v1/workspaces", RateLimitRate: 1})
	require.Eventually(t, func() bool {
		v, _ := gatherValue(ob.deps, "aam_airbyte_call_errors_total", map[string]string{"outcome": string(airbyte.OutcomeRateLimited)})
		return v > 0
	}, 15*time.Second, 5*time.Millisecond, "a call rate limited")
	env.Emulator.SetFaults(emulator.Faults{})
	onboardedFact := env.WaitFact(onboarded.RequestID, events.TypeOnboarded, 20*time.Second)
	checkTrace(t, env.Facts(onboarded.RequestID), onboardTrace)
	connID := onboardedFact.Subject()

	// 2. Sync through the gateway, with a trace.
	const gatewayTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	status, synced := post("/v1/connections/"+connID+"/sync", "", gatewayTrace)
	require.Equal(t, http.StatusAccepted, status)
	env.WaitFact(synced.RequestID, events.TypeSyncSucceeded)
	checkTrace(t, env.Facts(synced.RequestID), gatewayTrace)

	// 3. A sync published on NATS with a traceparent extension, whose job
	// fails in Airbyte.
	const natsTrace = "00-5e2a7c0f9d3b41e6a8f1c2d3e4f5a6b7-1122334455667788-01"
	env.Emulator.FailNextJobs(1)
	failedID := env.Publish(events.TypeSyncRequested, events.SyncRequested{ConnectionID: connID},
		events.WithTraceParent(natsTrace))
	env.WaitFact(failedID, events.TypeSyncFailed)
	checkTrace(t, env.Facts(failedID), natsTrace)

	// 4. A repair through the gateway.
	status, repaired := post("/v1/connections/"+connID+"/repair",
		`{"reason": "keep Account only", "new_sync_catalog": `+repairCatalog+`}`, "")
	require.Equal(t, http.StatusAccepted, status)
	env.WaitFact(repaired.RequestID, events.TypeCatalogVersioned)

	// 5. Bad requests: one on NATS (rejected, dead-lettered), one at the
	// gateway (400).
	badID := env.Publish(events.TypeSyncRequested, json.RawMessage(`{"connection_id": 42}`))
	env.WaitFact(badID, events.TypeRequestRejected)
	status, _ = post("/v1/connections/onboard", `{}`, "")
	require.Equal(t, http.StatusBadRequest, status)

	// Every named series, scraped over HTTP from the role that owns it.
	urls := map[string]string{"gateway": gts.URL, "onboarding": ob.url, "sync": sy.url, "repair": rp.url}
	onb, syn, rep := map[string]string{"consumer": onboarding.Consumer}, map[string]string{"consumer": syncer.Consumer},
		map[string]string{"consumer": repair.Consumer}
	with := func(l map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for lk, lv := range l {
			out[lk] = lv
		}
		return out
	}
	want := []series{
		{role: "onboarding", name: "aam_messages_handled_total", labels: with(onb, "outcome", string(bus.OutcomeAck))},
		{role: "onboarding", name: "aam_messages_handled_total", labels: with(onb, "outcome", string(bus.OutcomeNak))},
		{role: "onboarding", name: "aam_handler_duration_seconds", labels: onb},
		{role: "onboarding", name: "aam_consumer_pending_messages", labels: onb, present: true},
		{role: "onboarding", name: "aam_consumer_ack_pending_messages", labels: onb, present: true},
		{role: "onboarding", name: "aam_airbyte_call_duration_seconds"},
		{role: "onboarding", name: "aam_airbyte_call_errors_total", labels: map[string]string{"outcome": string(airbyte.OutcomeServerError)}},
		{role: "onboarding", name: "aam_airbyte_call_errors_total", labels: map[string]string{"outcome": string(airbyte.OutcomeRateLimited)}},
		{role: "onboarding", name: "aam_airbyte_call_errors_total", labels: map[string]string{"outcome": string(airbyte.OutcomeCircuitOpen)}},
		{role: "onboarding", name: "aam_airbyte_breaker_state", present: true},
		{role: "onboarding", name: "aam_airbyte_admission_limit", labels: map[string]string{"api": string(airbyte.APIPublic)}},
		{role: "onboarding", name: "aam_airbyte_admission_decreases_total", labels: map[string]string{"api": string(airbyte.APIPublic)}},
		{role: "onboarding", name: "aam_airbyte_admission_queued",
			labels: map[string]string{"api": string(airbyte.APIPublic), "priority": airbyte.PriorityBulk.String()}, present: true},
		{role: "sync", name: "aam_messages_handled_total", labels: with(syn, "outcome", string(bus.OutcomeAck))},
		{role: "sync", name: "aam_messages_handled_total", labels: with(syn, "outcome", string(bus.OutcomeDLQ))},
		{role: "sync", name: "aam_messages_handled_total", labels: with(syn, "outcome", string(bus.OutcomeTerm))},
		{role: "sync", name: "aam_handler_duration_seconds", labels: syn},
		{role: "sync", name: "aam_consumer_pending_messages", labels: syn, present: true},
		{role: "sync", name: "aam_consumer_ack_pending_messages", labels: syn, present: true},
		{role: "sync", name: "aam_airbyte_call_duration_seconds"},
		{role: "sync", name: "aam_airbyte_admission_in_flight", labels: map[string]string{"api": string(airbyte.APIPublic)}, present: true},
		{role: "sync", name: "aam_airbyte_admission_rejected_total",
			labels: map[string]string{"api": string(airbyte.APIPublic), "priority": airbyte.PriorityJobs.String()}, present: true},
		{role: "sync", name: "aam_sync_jobs_finished_total", labels: map[string]string{"status": "failed"}},
		{role: "sync", name: "aam_sync_jobs_finished_total", labels: map[string]string{"status": "succeeded"}},
		{role: "repair", name: "aam_messages_handled_total", labels: with(rep, "outcome", string(bus.OutcomeAck))},
		{role: "repair", name: "aam_airbyte_call_duration_seconds"},
		{role: "gateway", name: "aam_gateway_http_requests_total",
			labels: map[string]string{"route": "POST /v1/connections/onboard", "code": "202"}},
		{role: "gateway", name: "aam_gateway_http_requests_total",
			labels: map[string]string{"route": "POST /v1/connections/onboard", "code": "400"}},
		{role: "gateway", name: "aam_gateway_http_requests_total",
			labels: map[string]string{"route": "POST /v1/connections/{id}/sync", "code": "202"}},
		{role: "gateway", name: "aam_gateway_http_request_duration_seconds",
			labels: map[string]string{"route": "POST /v1/connections/{id}/repair"}},
		{role: "gateway", name: "aam_gateway_requests_total", labels: map[string]string{"result": "accepted"}},
	}
	for _, role := range []string{"onboarding", "sync", "repair"} {
		want = append(want, series{role: role, name: "aam_outbox_published_total", present: true},
			series{role: role, name: "aam_outbox_lag_seconds", present: true})
	}
	var published float64
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		scraped := map[string]map[string]*dto.MetricFamily{}
		for role, url := range urls {
			scraped[role] = scrape(c, url)
		}
		for _, s := range want {
			ms := metric(scraped[s.role], s.name, s.labels)
			if assert.NotEmpty(c, ms, "%s absent", s) && !s.present {
				assert.NotZero(c, value(ms), "%s zero", s)
			}
		}
		// One relay leads and publishes every role's events.
		published = 0
		for _, role := range []string{"onboarding", "sync", "repair"} {
			published += value(metric(scraped[role], "aam_outbox_published_total", nil))
		}
		assert.NotZero(c, published, "aam_outbox_published_total in every role")
	}, 10*time.Second, 50*time.Millisecond)
	t.Logf("%v events published by the leading relay", published)
}
