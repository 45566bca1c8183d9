package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
	"github.com/aam-mesh/aam/services/internal/observer"
)

// configCatalog is a one-stream catalog in the configuration API form.
func configCatalog(props string) json.RawMessage {
	return json.RawMessage(`{"streams":[{"stream":{"name":"Account","jsonSchema":{"type":"object","properties":` + props +
		`},"supportedSyncModes":["full_refresh","incremental"],"sourceDefinedPrimaryKey":[["Id"]]},
		"config":{"syncMode":"full_refresh","destinationSyncMode":"overwrite","selected":true}}]}`)
}

func TestVersionDiffAndDrifts(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	c := b.mesh.AddConnection("", "drifting")
	for n, props := range map[int]string{
		2: `{"Id":{"type":"string"},"Amount":{"type":["number","null"]}}`,
		3: `{"Id":{"type":"string"},"Amount":{"type":["integer","null"]},"Region":{"type":["string","null"]}}`,
	} {
		_, err := b.mesh.Store.CatalogVersionCreate(b.mesh.Ctx, registry.CatalogVersionCreateParams{ConnectionID: c.ID,
			VersionNumber: n, SyncCatalog: configCatalog(props), Reason: "test", RequestSource: "/test", RequestID: c.ID + string(rune('0'+n))})
		require.NoError(t, err)
	}

	r := b.do(http.MethodGet, "/v1/connections/"+c.ID+"/catalog/versions/2/diff/3", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var d gateway.VersionDiff
	r.json(t, &d)
	require.Equal(t, 2, d.From)
	require.Equal(t, 3, d.To)
	kinds := map[string]drift.Kind{}
	for _, ch := range d.Changes {
		kinds[ch.FieldPath()] = ch.Kind
	}
	require.Equal(t, map[string]drift.Kind{"Amount": drift.TypeNarrowed, "Region": drift.FieldAdded}, kinds)
	require.True(t, d.Breaking)
	require.False(t, d.AirbyteBreaking)
	require.Contains(t, d.Summary, "field Region added")

	r = b.do(http.MethodGet, "/v1/connections/"+c.ID+"/catalog/versions/3/diff/2", "")
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &d)
	kinds = map[string]drift.Kind{}
	for _, ch := range d.Changes {
		kinds[ch.FieldPath()] = ch.Kind
	}
	require.Equal(t, map[string]drift.Kind{"Amount": drift.TypeWidened, "Region": drift.FieldRemoved}, kinds)
	require.False(t, d.Breaking)

	for path, want := range map[string]int{
		"/v1/connections/" + c.ID + "/catalog/versions/0/diff/2": http.StatusBadRequest,
		"/v1/connections/" + c.ID + "/catalog/versions/2/diff/x": http.StatusBadRequest,
		"/v1/connections/" + c.ID + "/catalog/versions/2/diff/9": http.StatusNotFound,
	} {
		require.Equal(t, want, b.do(http.MethodGet, path, "").status, path)
	}

	// Drifts, with their changes and decision.
	r = b.do(http.MethodGet, "/v1/connections/"+c.ID+"/drifts", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var list gateway.DriftList
	r.json(t, &list)
	require.Empty(t, list.Drifts)
	changes, _ := json.Marshal(d.Changes)
	inserted, err := b.mesh.Store.DriftInsert(b.mesh.Ctx, registry.Drift{ConnectionID: c.ID, CatalogVersion: 1, DiscoveredHash: "sha256:ab12",
		Diff: json.RawMessage(`{"transforms":[]}`), Changes: changes, Action: "pause", RuleID: "pause-breaking",
		Decisions: json.RawMessage(`[{"action":"pause","rule_id":"pause-breaking","scope":"connection","policy_version":0}]`),
		Status:    registry.DriftPaused})
	require.NoError(t, err)
	require.True(t, inserted)
	r = b.do(http.MethodGet, "/v1/connections/"+c.ID+"/drifts", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &list)
	require.Len(t, list.Drifts, 1)
	got := list.Drifts[0]
	require.Equal(t, "1-ab12", got.DriftID)
	require.Equal(t, "paused", got.Status)
	require.Equal(t, "pause-breaking", got.RuleID)
	require.JSONEq(t, string(changes), string(got.Changes))
	require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/v1/connections/"+registry.NewID()+"/drifts", "").status)
}

func TestDriftCheck(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	c := b.mesh.AddConnection("", "checked")

	// No observer: 503.
	r := b.do(http.MethodPost, "/v1/connections/"+c.ID+"/drift/check?wait=2s", "")
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)

	// An observer answers for the connection asked about.
	sub, err := b.mesh.NC.Subscribe(observer.SubjectCheck, func(m *nats.Msg) {
		var req observer.CheckRequest
		_ = json.Unmarshal(m.Data, &req)
		reply, _ := json.Marshal(observer.CheckReply{Results: []observer.Result{{ConnectionID: req.ConnectionID, CatalogVersion: 1,
			Drift: true, New: true, Summary: "Account: field Region added"}}})
		_ = m.Respond(reply)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, b.mesh.NC.Flush())
	r = b.do(http.MethodPost, "/v1/connections/"+c.ID+"/drift/check", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var reply observer.CheckReply
	r.json(t, &reply)
	require.Len(t, reply.Results, 1)
	require.Equal(t, c.ID, reply.Results[0].ConnectionID)
	require.True(t, reply.Results[0].Drift)

	b.requireBadAndUnknown(http.MethodPost, c.ID, "/drift/check", "?wait=forever")
}

func TestSetPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	c := b.mesh.AddConnection("", "governed")
	path := "/v1/connections/" + c.ID + "/policy"

	r := b.do(http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var p gateway.Policy
	r.json(t, &p)
	require.Equal(t, 0, p.Version)
	require.Contains(t, string(p.Policy), "pause-breaking", "the default policy")
	require.Empty(t, p.Versions)

	// Refused before it is published, with the compiler's message.
	r = b.do(http.MethodPut, path, `{"policy":{"rules":[{"id":"r","when":"change.kind","action":"pause"}]}}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	e := r.errBody(t)
	require.Equal(t, "policy", e.Field)
	require.Contains(t, e.Error, `connection rule "r": when must return a bool, not string`)
	r = b.do(http.MethodPut, path, `{"policy":{"rules":[{"id":"r","when":"change.kind == ","action":"pause"}]}}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.Contains(t, r.errBody(t).Error, "Syntax error")
	r = b.do(http.MethodPut, path, `{"policy":{"rules":[{"id":"r","when":"true","action":"heal"}]}}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)

	// Stored as version 1, then 2.
	for want := 1; want <= 2; want++ {
		r = b.do(http.MethodPut, path+"?wait=10s", `{"policy":{"rules":[{"id":"all","when":"change.breaking","action":"require_approval"}],
			"labels":{"team":"finance"}}}`, "Content-Type", "application/json")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var set struct {
			Version int `json:"version"`
		}
		r.json(t, &set)
		require.Equal(t, want, set.Version)
	}
	r = b.do(http.MethodGet, path, "")
	r.json(t, &p)
	require.Equal(t, 2, p.Version)
	require.Len(t, p.Versions, 2)
	require.Contains(t, string(p.Policy), "finance")
}

// TestRollbackAndResolveRoutes: the rollback, approve and reject routes
// publish their requests with the connection (and the drift) from the
// path, and refuse what the request's schema refuses before publishing.
func TestRollbackAndResolveRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	c := b.mesh.AddConnection("", "rolling back")
	base := "/v1/connections/" + c.ID

	stored := func(subject string) map[string]any {
		t.Helper()
		msg := b.lastRequest()
		require.Equal(t, subject, msg.Subject)
		var data map[string]any
		require.NoError(t, json.Unmarshal(msg.Data, &data))
		return data
	}

	r := b.do(http.MethodPost, base+"/catalog/rollback", `{"to_version": 1, "dry_run": true}`)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Equal(t, map[string]any{"connection_id": c.ID, "to_version": 1.0, "dry_run": true}, stored(events.SubjectRollbackRequest))
	before := b.requestsStored()
	for _, body := range []string{`{}`, `{"to_version": 0}`, `{"to_version": 1, "force": true}`} {
		r = b.do(http.MethodPost, base+"/catalog/rollback", body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", body, r.body)
	}
	require.Equal(t, "to_version", b.do(http.MethodPost, base+"/catalog/rollback", `{}`).errBody(t).Field)
	require.Equal(t, before, b.requestsStored(), "nothing refused is published")

	r = b.do(http.MethodPost, base+"/drifts/2-5d41402abc4b2a76/approve", `{"reason": "checked"}`)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Equal(t, map[string]any{"connection_id": c.ID, "drift_id": "2-5d41402abc4b2a76", "decision": "approve", "reason": "checked"},
		stored(events.SubjectResolveRequest))
	r = b.do(http.MethodPost, base+"/drifts/2-5d41402abc4b2a76/reject", "")
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Equal(t, map[string]any{"connection_id": c.ID, "drift_id": "2-5d41402abc4b2a76", "decision": "reject"},
		stored(events.SubjectResolveRequest))
	r = b.do(http.MethodPost, base+"/drifts/2-5d41402abc4b2a76/reject", `{"resume": true}`)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Equal(t, true, stored(events.SubjectResolveRequest)["resume"])

	r = b.do(http.MethodPost, base+"/drifts/2-5d41402abc4b2a76/approve", `{"decision": "reject"}`)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.Equal(t, "decision", r.errBody(t).Field)
	r = b.do(http.MethodPost, "/v1/connections/7b0e0a3c-0000-4000-8000-000000000000/drifts/2-5d41402abc4b2a76/approve", "")
	require.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
}

// TestRollbackReplayed: a keyed rollback sent again is answered with the
// catalog.versioned that answered it (rollback_to tells it from a repair's),
// and the key cannot be reused for a repair.
func TestRollbackReplayed(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{}, gatewaytest.Options{NoWorkers: true})
	c := b.mesh.AddConnection("", "rolled back")
	const key = "rollback-replayed-1"
	body := `{"to_version": 1}`
	r := b.do(http.MethodPost, "/v1/connections/"+c.ID+"/catalog/rollback", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.NoError(t, b.mesh.Store.InTx(b.mesh.Ctx, func(q *registry.Queries) error {
		return outbox.Emit(b.mesh.Ctx, q, events.TypeCatalogVersioned, "/aam/repair", c.ID, outbox.Request{Source: gateway.Source, ID: key},
			events.CatalogVersioned{ConnectionID: c.ID, PreviousVersion: 2, NewVersion: 3, Status: "success", Message: "Catalog updated and versioned successfully",
				ContentHash: "sha256:00", Reason: "rollback to 1", RollbackTo: 1})
	}))

	r = b.do(http.MethodPost, "/v1/connections/"+c.ID+"/catalog/rollback?wait=5s", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	var got struct {
		NewVersion int `json:"new_version"`
	}
	r.json(t, &got)
	require.Equal(t, 3, got.NewVersion)

	r = b.do(http.MethodPost, "/v1/connections/"+c.ID+"/repair", `{"new_sync_catalog": {"streams": [{"stream": {"name": "Account", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
		"sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}}`, "Idempotency-Key", key)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
}
