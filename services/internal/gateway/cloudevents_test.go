package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

func TestCloudEventsOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	conn := b.mesh.AddConnection("", "Accounts")

	// Binary mode: attributes in ce- headers (percent-encoded), data in
	// the body, Content-Type = datacontenttype.
	binID := uuid.NewString()
	r := b.do(http.MethodPost, "/v1/events", `{"connection_id":"`+conn.ID+`"}`,
		"ce-specversion", "1.0",
		"ce-id", binID,
		"ce-source", "/billing/nightly",
		"ce-type", events.TypeSyncRequested,
		"ce-subject", conn.ID,
		"ce-team", "data%E2%82%AC",
		"traceparent", traceparent)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	var acc gateway.Accepted
	r.json(t, &acc)
	require.Equal(t, binID, acc.RequestID)
	require.Equal(t, events.SubjectSyncRequest, acc.Subject)
	stored := b.lastRequest()
	require.Equal(t, events.SubjectSyncRequest, stored.Subject)
	ev, _, err := events.Decode(nats.Header(stored.Header), stored.Data)
	require.NoError(t, err)
	require.Equal(t, "/billing/nightly", ev.Source())
	require.Equal(t, "data€", ev.Extensions()["team"])
	require.Equal(t, traceparent, events.TraceParent(ev))
	require.Equal(t, conn.ID, ev.Subject())
	require.Equal(t, "application/json", ev.DataContentType())

	// The same event again is the same request.
	r = b.do(http.MethodPost, "/v1/events", `{"connection_id":"`+conn.ID+`"}`,
		"ce-specversion", "1.0", "ce-id", binID, "ce-source", "/billing/nightly", "ce-type", events.TypeSyncRequested,
		"ce-subject", conn.ID)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	require.EqualValues(t, 1, b.requestsStored())

	// Structured mode, waiting: the answer is the completion event.
	strID := uuid.NewString()
	structured := `{"specversion":"1.0","id":"` + strID + `","source":"/crm/sync","type":"` + events.TypeRepairRequested +
		`","datacontenttype":"application/json","data":{"connection_id":"` + conn.ID + `","new_sync_catalog":` +
		string(gatewaytest.Catalog("Account")) + `,"reason":"narrow"}}`
	r = b.do(http.MethodPost, "/v1/events?wait=10s", structured, "Content-Type", "application/cloudevents+json; charset=utf-8")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, events.MediaTypeCloudEventsJSON, r.header.Get("Content-Type"))
	var fact map[string]any
	r.json(t, &fact)
	require.Equal(t, events.TypeCatalogVersioned, fact["type"])
	require.Equal(t, strID, fact["correlationid"])
	require.Equal(t, conn.ID, fact["subject"])
	require.Equal(t, float64(2), fact["data"].(map[string]any)["new_version"])

	// Binary onboard, waiting: the onboarded event.
	r = b.do(http.MethodPost, "/v1/events?wait=10s", `{"source_type":"Salesforce","connection_name":"Via HTTP","credential_id":"sf"}`,
		"ce-specversion", "1.0", "ce-id", uuid.NewString(), "ce-source", "/crm", "ce-type", events.TypeOnboardRequested)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &fact)
	require.Equal(t, events.TypeOnboarded, fact["type"])
}

func TestCloudEventsOverHTTPErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{}, gatewaytest.Options{NoWorkers: true})
	conn := b.mesh.AddConnection("", "Accounts")
	okData := `{"connection_id":"` + conn.ID + `"}`
	bin := func(typ string, extra ...string) []string {
		return append([]string{"ce-specversion", "1.0", "ce-id", uuid.NewString(), "ce-source", "/test", "ce-type", typ}, extra...)
	}
	cases := []struct {
		name, body string
		headers    []string
		status     int
		field      string
	}{
		{"fact type", okData, bin(events.TypeSyncStarted), 400, "type"},
		{"unknown type", okData, bin("com.example.other.v1"), 400, "type"},
		{"missing source", okData, []string{"ce-specversion", "1.0", "ce-id", "x", "ce-type", events.TypeSyncRequested}, 400, "source"},
		{"bad time", okData, bin(events.TypeSyncRequested, "ce-time", "yesterday"), 400, "time"},
		{"invalid data", `{"connection_id":"nope"}`, bin(events.TypeSyncRequested), 400, "data.connection_id"},
		{"unknown data field", `{"connection_id":"` + conn.ID + `","force":true}`, bin(events.TypeSyncRequested), 400, "data.force"},
		{"text data", "hello", bin(events.TypeSyncRequested, "Content-Type", "text/plain"), 415, "Content-Type"},
		{"plain JSON, not an event", okData, nil, 415, "Content-Type"},
		{"batch", `[]`, []string{"Content-Type", "application/cloudevents-batch+json"}, 415, "Content-Type"},
		{"structured, missing id", `{"specversion":"1.0","source":"/x","type":"` + events.TypeSyncRequested + `","data":` + okData + `}`,
			[]string{"Content-Type", "application/cloudevents+json"}, 400, "id"},
		{"structured, not JSON", `{"specversion":`, []string{"Content-Type", "application/cloudevents+json"}, 400, ""},
		{"key differs from id", okData, bin(events.TypeSyncRequested, "Idempotency-Key", "other"), 400, "Idempotency-Key"},
	}
	for _, tc := range cases {
		r := b.do(http.MethodPost, "/v1/events", tc.body, tc.headers...)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		e := r.errBody(t)
		require.Equal(t, tc.field, e.Field, "%s: %s", tc.name, e.Error)
	}
	require.EqualValues(t, 0, b.requestsStored())

	// One id from one source for two different requests is a conflict.
	id := uuid.NewString()
	r := b.do(http.MethodPost, "/v1/events", okData, "ce-specversion", "1.0", "ce-id", id, "ce-source", "/test", "ce-type", events.TypeSyncRequested)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	other := b.mesh.AddConnection("", "Other")
	r = b.do(http.MethodPost, "/v1/events", `{"connection_id":"`+other.ID+`"}`, "ce-specversion", "1.0", "ce-id", id, "ce-source", "/test", "ce-type", events.TypeSyncRequested)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "id", r.errBody(t).Field)
	var e gateway.Error
	require.NoError(t, json.Unmarshal(r.body, &e))
	require.Equal(t, id, e.RequestID)
}
