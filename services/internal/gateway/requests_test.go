package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestRequestAcceptedAfterStore(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{}, gatewaytest.Options{NoWorkers: true})
	conn := b.mesh.AddConnection("", "Accounts")

	cases := []struct {
		name, path, body, typ, subject, ceSubject string
	}{
		{"onboard", "/v1/connections/onboard", `{"source_type":"Salesforce","connection_name":"CRM","credential_id":"sf","streams":["Account"]}`,
			events.TypeOnboardRequested, events.SubjectOnboardRequest, ""},
		{"sync", "/v1/connections/" + conn.ID + "/sync", "", events.TypeSyncRequested, events.SubjectSyncRequest, conn.ID},
		{"repair", "/v1/connections/" + conn.ID + "/repair", `{"new_sync_catalog":` + string(gatewaytest.Catalog("Account")) + `,"reason":"drop Contact"}`,
			events.TypeRepairRequested, events.SubjectRepairRequest, conn.ID},
		{"seed onboard without wait", "/connections/onboard?wait=0", `{"source_type":"Salesforce","connection_name":"CRM","credential_id":"sf"}`,
			events.TypeOnboardRequested, events.SubjectOnboardRequest, ""},
	}
	for _, tc := range cases {
		r := b.do(http.MethodPost, tc.path, tc.body, "traceparent", traceparent)
		require.Equal(t, http.StatusAccepted, r.status, "%s: %s", tc.name, r.body)
		var acc gateway.Accepted
		r.json(t, &acc)
		require.Equal(t, tc.typ, acc.Type, tc.name)
		require.Equal(t, tc.subject, acc.Subject, tc.name)
		require.Equal(t, "/v1/requests/"+acc.RequestID, acc.StatusURL, tc.name)
		require.Equal(t, acc.StatusURL, r.header.Get("Location"), tc.name)
		id, err := uuid.Parse(acc.RequestID)
		require.NoError(t, err, tc.name)
		require.Equal(t, uuid.Version(7), id.Version(), tc.name)

		// The answer came after JetStream stored the request, as sent.
		stored := b.lastRequest()
		require.Equal(t, tc.subject, stored.Subject, tc.name)
		require.Equal(t, acc.RequestID, stored.Header.Get("Nats-Msg-Id"), tc.name)
		ev, mode, err := events.Decode(nats.Header(stored.Header), stored.Data)
		require.NoError(t, err, tc.name)
		require.Equal(t, events.Binary, mode)
		require.Equal(t, acc.RequestID, ev.ID())
		require.Equal(t, gateway.Source, ev.Source())
		require.Equal(t, tc.typ, ev.Type())
		require.Equal(t, tc.ceSubject, ev.Subject())
		require.Equal(t, traceparent, events.TraceParent(ev))
		if tc.ceSubject != "" {
			var d map[string]any
			require.NoError(t, json.Unmarshal(ev.Data(), &d))
			require.Equal(t, conn.ID, d["connection_id"])
		}
	}
	require.EqualValues(t, len(cases), b.requestsStored())

	// Nothing answered: the status reads pending, and a short wait ends in
	// 202 with the status URL.
	r := b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync?wait=300ms", "")
	require.Equal(t, http.StatusAccepted, r.status)
	var acc gateway.Accepted
	r.json(t, &acc)
	r = b.do(http.MethodGet, acc.StatusURL, "")
	require.Equal(t, http.StatusOK, r.status)
	var st gateway.RequestStatus
	r.json(t, &st)
	require.Equal(t, gateway.RequestPending, st.Status)
	require.Empty(t, st.Events)
}

func TestWaitAnswersWithTheOutcome(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	b := setup(t, gateway.Config{}, gatewaytest.Options{SyncGate: gate})

	// Onboard, waiting: the seed's connection object.
	r := b.do(http.MethodPost, "/v1/connections/onboard?wait=10s",
		`{"source_type":"Salesforce","connection_name":"Sales","credential_id":"salesforce-prod","streams":["Account","Opportunity"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, events.TypeOnboarded, r.header.Get("Aam-Event-Type"))
	var conn gateway.SeedConnection
	r.json(t, &conn)
	require.Equal(t, "Sales", conn.Name)
	require.Equal(t, "ACTIVE", conn.Status)

	// Sync, waiting with Prefer: answered at sync.started, the seed's body.
	r = b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync", "", "Prefer", "wait=10")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "wait=10", r.header.Get("Preference-Applied"))
	var started gateway.SeedSync
	r.json(t, &started)
	require.Equal(t, "triggered", started.Status)
	requestID := r.header.Get("Aam-Request-Id")
	require.NotEmpty(t, requestID)

	// The request is running; its job ends when the gate opens.
	r = b.do(http.MethodGet, "/v1/requests/"+requestID, "")
	var st gateway.RequestStatus
	r.json(t, &st)
	require.Equal(t, gateway.RequestRunning, st.Status)
	require.Equal(t, events.TypeSyncRequested, st.Type)
	require.Equal(t, conn.ID, st.ConnectionID)
	gate <- struct{}{}
	r = b.do(http.MethodGet, "/v1/requests/"+requestID+"?wait=10s&until=terminal", "")
	r.json(t, &st)
	require.Equal(t, gateway.RequestSucceeded, st.Status)
	require.Len(t, st.Events, 2)

	// until=terminal: sync.started does not end the wait; sync.succeeded does.
	done := make(chan response, 1)
	go func() {
		done <- b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync?wait=20s&until=terminal", "")
	}()
	require.Eventually(t, func() bool { return countJobs(t, b, conn.ID) == 2 }, 10*time.Second, 20*time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("answered before the job ended: %d %s", r.status, r.body)
	case <-time.After(300 * time.Millisecond):
	}
	gate <- struct{}{}
	r = <-done
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, events.TypeSyncSucceeded, r.header.Get("Aam-Event-Type"))
	var finished events.SyncFinished
	r.json(t, &finished)
	require.Equal(t, events.JobSucceeded, finished.Status)
	require.EqualValues(t, 42, finished.RowsSynced)

	// Repair, waiting: the seed's repair body.
	r = b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/repair?wait=10s",
		`{"new_sync_catalog":`+string(gatewaytest.Catalog("Account"))+`,"reason":"Opportunity dropped"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var repaired gateway.SeedRepair
	r.json(t, &repaired)
	require.Equal(t, gateway.SeedRepair{ConnectionID: conn.ID, PreviousVersion: 1, NewVersion: 2, Status: "success",
		Message: "Catalog updated and versioned successfully"}, repaired)
}

func countJobs(t *testing.T, b *bundle, connID string) int {
	jobs, err := b.mesh.Store.JobListByConnection(context.Background(), connID, 100)
	require.NoError(t, err)
	return len(jobs)
}

func TestFailedAndRejectedOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})

	// A failure fact: 422 with the reason and the fact.
	r := b.do(http.MethodPost, "/v1/connections/onboard?wait=10s",
		`{"source_type":"Salesforce","connection_name":"Broken","credential_id":"`+gatewaytest.CredentialMissing+`"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	e := r.errBody(t)
	require.Equal(t, gateway.RequestFailed, e.Status)
	require.Equal(t, events.TypeOnboardFailed, e.Type)
	require.Contains(t, e.Error, "credentials: ")
	require.Contains(t, e.Error, gatewaytest.CredentialMissing)
	require.NotEmpty(t, e.ConnectionID)
	require.Contains(t, string(e.Event), `"type":"io.aam.connection.onboard_failed.v1"`)

	// A sync of a connection the registry has but not ACTIVE fails in the worker.
	failed := b.mesh.AddConnection("", "Failing")
	_, err := b.mesh.Store.ConnectionSetStatus(context.Background(), failed.ID, registry.StatusFailed, "broken")
	require.NoError(t, err)
	r = b.do(http.MethodPost, "/v1/connections/"+failed.ID+"/sync?wait=10s", "")
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	e = r.errBody(t)
	require.Equal(t, events.TypeSyncFailed, e.Type)
	require.Contains(t, e.Error, "not ACTIVE")

	// A rejection the runtime recorded (published past the gateway, with a
	// field the schema refuses) is 400 naming the field, to a keyed retry.
	id := uuid.NewString()
	bad := nats.NewMsg(events.SubjectSyncRequest)
	bad.Header.Set("ce-specversion", "1.0")
	bad.Header.Set("ce-id", id)
	bad.Header.Set("ce-source", gateway.Source)
	bad.Header.Set("ce-type", events.TypeSyncRequested)
	bad.Data = []byte(`{"connection_id":"not-a-uuid"}`)
	_, err = b.mesh.JS.PublishMsg(context.Background(), bad)
	require.NoError(t, err)
	r = b.do(http.MethodGet, "/v1/requests/"+id+"?wait=10s", "")
	var st gateway.RequestStatus
	r.json(t, &st)
	require.Equal(t, gateway.RequestRejected, st.Status)
	require.Contains(t, st.Reason, "connection_id")
	require.Equal(t, events.TypeSyncRequested, st.Type)

	conn := b.mesh.AddConnection("", "Other")
	r = b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync?wait=5s", "", "Idempotency-Key", id)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	e = r.errBody(t)
	require.Equal(t, gateway.RequestRejected, e.Status)
	require.Equal(t, "connection_id", e.Field)
	require.Equal(t, id, e.RequestID)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	conn := b.mesh.AddConnection("", "Accounts")
	key := "nightly-" + uuid.NewString()

	// Two POSTs with one key: one request stored, one answer.
	first := b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync", "", "Idempotency-Key", key)
	require.Equal(t, http.StatusAccepted, first.status, "%s", first.body)
	require.Empty(t, first.header.Get("Idempotent-Replayed"))
	second := b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync", "", "Idempotency-Key", key)
	require.Equal(t, http.StatusAccepted, second.status, "%s", second.body)
	require.Equal(t, "true", second.header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.body), string(second.body))
	var acc gateway.Accepted
	first.json(t, &acc)
	require.Equal(t, key, acc.RequestID)
	require.EqualValues(t, 1, b.requestsStored())

	// Waiting on the same key gets the outcome of that one request.
	r := b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync?wait=10s", "", "Idempotency-Key", key)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.EqualValues(t, 1, b.requestsStored())
	require.Equal(t, 1, countJobs(t, b, conn.ID))

	// The same key for a different request is a conflict.
	other := b.mesh.AddConnection("", "Other")
	r = b.do(http.MethodPost, "/v1/connections/"+other.ID+"/sync", "", "Idempotency-Key", key)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "Idempotency-Key", r.errBody(t).Field)
	r = b.do(http.MethodPost, "/v1/connections/onboard", `{"source_type":"S","connection_name":"n","credential_id":"c"}`, "Idempotency-Key", key)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)

	// After JetStream's duplicate window the registry still knows the
	// request: a repeat is answered from it and not published again.
	late := uuid.NewString()
	require.NoError(t, b.mesh.Store.InTx(context.Background(), func(q *registry.Queries) error {
		if _, err := q.InboxInsert(context.Background(), registry.InboxEntry{Source: gateway.Source, ID: late,
			Type: events.TypeRepairRequested, Outcome: registry.OutcomeDone}); err != nil {
			return err
		}
		return outbox.Emit(context.Background(), q, events.TypeCatalogVersioned, gatewaytest.WorkerSource, conn.ID,
			outbox.Request{Source: gateway.Source, ID: late}, events.CatalogVersioned{ConnectionID: conn.ID,
				PreviousVersion: 3, NewVersion: 4, Status: "success", Message: "Catalog updated and versioned successfully"})
	}))
	stored := b.requestsStored()
	r = b.do(http.MethodPost, "/repair/apply_new_catalog",
		`{"connection_id":"`+conn.ID+`","new_sync_catalog":`+string(gatewaytest.Catalog("Account"))+`}`, "Idempotency-Key", late)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	var repaired gateway.SeedRepair
	r.json(t, &repaired)
	require.Equal(t, 4, repaired.NewVersion)
	require.Equal(t, stored, b.requestsStored())

	// A key that is not a header token is refused.
	r = b.do(http.MethodPost, "/v1/connections/"+conn.ID+"/sync", "", "Idempotency-Key", strings.Repeat("k", 256))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "Idempotency-Key", r.errBody(t).Field)
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{MaxBodyBytes: 2048}, gatewaytest.Options{NoWorkers: true})
	conn := b.mesh.AddConnection("", "Accounts")
	big := `{"source_type":"Salesforce","connection_name":"` + strings.Repeat("x", 4096) + `","credential_id":"c"}`

	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		field                    string
	}{
		{"missing field", "POST", "/v1/connections/onboard", `{"source_type":"Salesforce","connection_name":"n"}`, nil, 400, "credential_id"},
		{"misspelt field", "POST", "/v1/connections/onboard", `{"source_type":"Salesforce","connection_name":"n","credential":"c"}`, nil, 400, "credential_id"},
		{"wrong type", "POST", "/connections/onboard", `{"source_type":1,"connection_name":"n","credential_id":"c"}`, nil, 400, "source_type"},
		{"not JSON", "POST", "/v1/connections/onboard", `{"source_type":`, nil, 400, ""},
		{"empty body", "POST", "/v1/connections/onboard", ``, []string{"Content-Type", "application/json"}, 400, ""},
		{"bad catalog", "POST", "/v1/connections/" + conn.ID + "/repair", `{"new_sync_catalog":{"streams":[]}}`, nil, 400, "new_sync_catalog.streams"},
		{"seed repair bad mode", "POST", "/repair/apply_new_catalog", `{"connection_id":"` + conn.ID + `","new_sync_catalog":{"streams":[{"stream":{"name":"A","json_schema":{},"supported_sync_modes":["full_refresh"]},"sync_mode":"sideways","destination_sync_mode":"append"}]}}`, nil, 400, "new_sync_catalog.streams[0].sync_mode"},
		{"path and body disagree", "POST", "/v1/connections/" + conn.ID + "/sync", `{"connection_id":"` + uuid.NewString() + `"}`, nil, 400, "connection_id"},
		{"not a uuid", "POST", "/v1/connections/abc/sync", ``, nil, 400, "connection_id"},
		{"unknown connection", "POST", "/v1/connections/" + uuid.NewString() + "/sync", ``, nil, 404, "connection_id"},
		{"seed repair unknown connection", "POST", "/repair/apply_new_catalog", `{"connection_id":"` + uuid.NewString() + `","new_sync_catalog":` + string(gatewaytest.Catalog("A")) + `}`, nil, 404, "connection_id"},
		{"bad wait", "POST", "/v1/connections/" + conn.ID + "/sync?wait=soon", ``, nil, 400, "wait"},
		{"bad prefer", "POST", "/v1/connections/" + conn.ID + "/sync", ``, []string{"Prefer", "wait=-3"}, 400, "Prefer"},
		{"bad until", "POST", "/v1/connections/" + conn.ID + "/sync?until=later", ``, nil, 400, "until"},
		{"form body", "POST", "/v1/connections/onboard", `source_type=Salesforce`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "Content-Type"},
		{"text body", "POST", "/connections/" + conn.ID + "/sync", `hi`, []string{"Content-Type", "text/plain"}, 415, "Content-Type"},
		{"too large", "POST", "/v1/connections/onboard", big, nil, 413, "body"},
		{"unknown route", "GET", "/v2/nothing", ``, nil, 404, ""},
		{"wrong method", "DELETE", "/v1/connections", ``, nil, 405, ""},
	}
	for _, tc := range cases {
		r := b.do(tc.method, tc.path, tc.body, tc.headers...)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		e := r.errBody(t)
		require.NotEmpty(t, e.Error, tc.name)
		require.Equal(t, tc.field, e.Field, "%s: %s", tc.name, e.Error)
	}
	require.EqualValues(t, 0, b.requestsStored(), "no invalid request may be stored")

	// A body past the limit without a Content-Length (chunked) is 413 too.
	req, err := http.NewRequest(http.MethodPost, b.ts.URL+"/v1/connections/onboard", strings.NewReader(big))
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, "GET, HEAD", b.do("DELETE", "/v1/connections", "").header.Get("Allow"))
}

func TestIdempotencyKeyReusedWithDifferentData(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	key := "onboard-" + uuid.NewString()
	body := func(name string) string {
		return `{"source_type":"Salesforce","connection_name":"` + name + `","credential_id":"salesforce-prod"}`
	}

	// Answered first.
	r := b.do(http.MethodPost, "/v1/connections/onboard?wait=10s", body("Accounts"), "Idempotency-Key", key)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	stored := b.requestsStored()

	// The same key with the same data, spelt differently, is the same
	// request: replayed, not stored again.
	r = b.do(http.MethodPost, "/v1/connections/onboard", `{ "credential_id":"salesforce-prod", "connection_name":"Accounts", "source_type":"Salesforce" }`, "Idempotency-Key", key)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))

	// The same key with other data is refused, after the answer as before
	// it, and JetStream stores nothing more.
	r = b.do(http.MethodPost, "/v1/connections/onboard?wait=10s", body("Contacts"), "Idempotency-Key", key)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	e := r.errBody(t)
	require.Equal(t, "Idempotency-Key", e.Field)
	require.Contains(t, e.Error, "different data")
	require.Equal(t, key, e.RequestID)
	require.Equal(t, stored, b.requestsStored())
}

func TestIdempotencyKeyRememberedUnanswered(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{}, gatewaytest.Options{NoWorkers: true})
	key := "onboard-" + uuid.NewString()
	r := b.do(http.MethodPost, "/v1/connections/onboard", `{"source_type":"Salesforce","connection_name":"A","credential_id":"c"}`, "Idempotency-Key", key)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)

	// Past JetStream's memory of the id (the stream purged stands for the
	// duplicate window gone by) and with no answer yet, the key still
	// belongs to the first request.
	s, err := b.mesh.JS.Stream(context.Background(), bus.StreamRequests)
	require.NoError(t, err)
	require.NoError(t, s.Purge(context.Background()))
	r = b.do(http.MethodPost, "/v1/connections/onboard", `{"source_type":"Salesforce","connection_name":"B","credential_id":"c"}`, "Idempotency-Key", key)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Contains(t, r.errBody(t).Error, "different data")
	require.EqualValues(t, 0, b.requestsStored())
}

// TestOverLongName: a name over the documented maximum is refused at the
// HTTP edge, and, published straight to NATS past the gateway, rejected by
// the worker runtime with the same reason.
func TestOverLongName(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	long := strings.Repeat("n", 256)
	body := `{"source_type":"Salesforce","connection_name":"` + long + `","credential_id":"salesforce-prod"}`

	r := b.do(http.MethodPost, "/v1/connections/onboard", body)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	e := r.errBody(t)
	require.Equal(t, "connection_name", e.Field)
	require.Contains(t, e.Error, "must be at most 255 characters long")
	r = b.do(http.MethodPost, "/connections/onboard", body)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.EqualValues(t, 0, b.requestsStored())

	id := uuid.NewString()
	msg := nats.NewMsg(events.SubjectOnboardRequest)
	msg.Header.Set("ce-specversion", "1.0")
	msg.Header.Set("ce-id", id)
	msg.Header.Set("ce-source", "/nats-cli")
	msg.Header.Set("ce-type", events.TypeOnboardRequested)
	msg.Data = []byte(body)
	_, err := b.mesh.JS.PublishMsg(context.Background(), msg)
	require.NoError(t, err)
	r = b.do(http.MethodGet, "/v1/requests/"+id+"?wait=10s", "")
	var st gateway.RequestStatus
	r.json(t, &st)
	require.Equal(t, gateway.RequestRejected, st.Status, "%s", r.body)
	require.Contains(t, st.Reason, "connection_name")
	require.Contains(t, st.Reason, "must be at most 255 characters long")
}

// TestGatewayRemembersRegisteredConnections: a connection the registry
// said exists is not looked up again (its row is never deleted); one it
// said is unknown is looked up at each request, so that it is accepted
// once registered.
func TestGatewayRemembersRegisteredConnections(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	id := uuid.NewString()
	path := "/v1/connections/" + id + "/sync?wait=0"
	require.Equal(t, http.StatusNotFound, b.do("POST", path, "").status)
	b.mesh.AddConnection(id, "Accounts")
	r := b.do("POST", path, "")
	require.Equal(t, http.StatusAccepted, r.status, r.body)

	// Gone from the registry behind the gateway's back: the gateway still
	// forwards, and the worker would answer the request.
	_, err := b.mesh.Store.DB().Exec(b.mesh.Ctx, `DELETE FROM connections WHERE id = $1`, id)
	require.NoError(t, err)
	before := b.requestsStored()
	r = b.do("POST", path, "")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Equal(t, before+1, b.requestsStored())
}
