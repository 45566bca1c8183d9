package observer

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// pausedDrift is a running observer and repair worker and a connection
// its default policy paused for a narrowed field, with the check's result.
func pausedDrift(t *testing.T) (*testenv.Env, testenv.Seeded, *Observer, Result) {
	t.Helper()
	env := setup(t)
	c := env.SeedConnection()
	startRepair(t, env)
	o := newObserver(t, env, Config{Heal: HealPolicy, CheckSubject: ""})
	env.Go(o.Run)
	mutate(t, env, c, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "integer"})
	r := check(t, env, o, c.ID)
	require.Equal(t, "pause", r.Decision.Action)
	return env, c, o, r
}

// TestApprovePausedDrift: a narrowed field pauses the connection; approving
// it applies the change as a new version and resumes, once, however often
// the approval is delivered.
func TestApprovePausedDrift(t *testing.T) {
	t.Parallel()
	env, c, o, r := pausedDrift(t)
	require.Equal(t, "inactive", airbyteStatus(t, env, c.AirbyteConnectionID))

	req := events.ResolveRequested{ConnectionID: c.ID, DriftID: r.DriftID, Decision: events.ResolveApprove, Reason: "checked"}
	id := env.Publish(events.TypeResolveRequested, req, events.WithSubject(c.ID))
	res := testenv.Data[events.DriftResolved](t, env.WaitFact(id, events.TypeDriftResolved))
	require.True(t, res.Resumed)
	require.NotEmpty(t, res.RepairRequestID)
	v := testenv.Data[events.CatalogVersioned](t, env.WaitFact(res.RepairRequestID, events.TypeCatalogVersioned))
	require.Equal(t, 2, v.NewVersion)
	require.Contains(t, v.Reason, "schema drift "+r.DriftID+" approved: checked")
	cat := latestCatalog(t, env, c.ID)
	account, ok := cat.Stream("Account", "")
	require.True(t, ok)
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(account.Stream.JSONSchema, &schema))
	require.JSONEq(t, `{"type":["integer","null"]}`, string(schema.Properties["AnnualRevenue"]), "the approved change applied")

	conn, err := env.Store.ConnectionGet(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusActive, conn.Status)
	require.Equal(t, "active", airbyteStatus(t, env, c.AirbyteConnectionID))
	rec := mustDrift(t, env, c.ID)
	require.Equal(t, registry.DriftApproved, rec.Status)
	require.NotNil(t, rec.ResolvedAt)
	require.NotNil(t, rec.RepairPublishedAt)

	// A crash before the repair request was acknowledged: the next check
	// publishes it again with the same id; another approval is refused.
	// One version, one fact.
	_, err = env.Store.DB().Exec(env.Ctx, `UPDATE schema_drifts SET repair_published_at = NULL`)
	require.NoError(t, err)
	check(t, env, o, c.ID)
	require.NotNil(t, mustDrift(t, env, c.ID).RepairPublishedAt)
	again := env.Publish(events.TypeResolveRequested, req, events.WithSubject(c.ID))
	rej := testenv.Data[events.RequestRejected](t, env.WaitFact(again, events.TypeRequestRejected))
	require.Contains(t, rej.Reason, "is approved, not awaiting a decision")
	require.Eventually(t, func() bool { return mustDrift(t, env, c.ID).RepairPublishedAt != nil }, 10*time.Second, 20*time.Millisecond)
	versions, err := env.Store.CatalogVersionList(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, versions, 2, "one new version")
	require.Equal(t, 1, outboxCount(t, env, events.TypeDriftResolved, c.ID))
}

func TestRejectDrift(t *testing.T) {
	t.Parallel()
	env := setup(t)
	c := env.SeedConnection()
	setPolicy(t, env, c.ID, drift.Policy{Rules: []drift.Rule{
		{ID: "ask", When: `change.kind == "type_changed"`, Action: drift.ActionRequireApproval},
		{ID: "stop", When: "change.breaking", Action: drift.ActionPause},
		{ID: "rest", When: "true", Action: drift.ActionPropagate},
	}})
	o := newObserver(t, env, Config{Heal: HealPolicy, CheckSubject: ""})
	env.Go(o.Run)

	mutate(t, env, c, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "Name", Type: "number"})
	r := check(t, env, o, c.ID)
	require.Equal(t, "require_approval", r.Decision.Action)
	id := env.Publish(events.TypeResolveRequested, events.ResolveRequested{ConnectionID: c.ID, DriftID: r.DriftID,
		Decision: events.ResolveReject}, events.WithSubject(c.ID))
	res := testenv.Data[events.DriftResolved](t, env.WaitFact(id, events.TypeDriftResolved))
	require.False(t, res.Resumed)
	require.Empty(t, res.RepairRequestID)
	require.Equal(t, registry.DriftRejected, mustDrift(t, env, c.ID).Status)
	versions, err := env.Store.CatalogVersionList(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, versions, 1)

	// A paused connection stays paused when rejected, unless asked.
	mutate(t, env, c, emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "Id"})
	r = check(t, env, o, c.ID)
	require.Equal(t, "pause", r.Decision.Action)
	id = env.Publish(events.TypeResolveRequested, events.ResolveRequested{ConnectionID: c.ID, DriftID: r.DriftID,
		Decision: events.ResolveReject, Resume: true}, events.WithSubject(c.ID))
	res = testenv.Data[events.DriftResolved](t, env.WaitFact(id, events.TypeDriftResolved))
	require.True(t, res.Resumed)
	conn, err := env.Store.ConnectionGet(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusActive, conn.Status)
	require.Equal(t, "active", airbyteStatus(t, env, c.AirbyteConnectionID))

	bad := env.Publish(events.TypeResolveRequested, events.ResolveRequested{ConnectionID: c.ID, DriftID: "1-nope",
		Decision: events.ResolveApprove}, events.WithSubject(c.ID))
	rej := testenv.Data[events.RequestRejected](t, env.WaitFact(bad, events.TypeRequestRejected))
	require.Contains(t, rej.Reason, "has no drift 1-nope")
}

// TestApproveOnce: an approval whose first delivery resumed Airbyte and
// died before its commit, then a copy of it (after JetStream's window), and
// a second approval racing the first: one resolution, one resumption, one
// repair, one version, one event id.
func TestApproveOnce(t *testing.T) {
	t.Parallel()
	env, c, _, r := pausedDrift(t)

	// As if a first delivery resumed the Airbyte connection and died.
	_, err := env.Airbyte.PatchConnection(env.Ctx, c.AirbyteConnectionID, airbyte.ConnectionPatchRequest{Status: airbyte.ConnectionActive})
	require.NoError(t, err)
	req := events.ResolveRequested{ConnectionID: c.ID, DriftID: r.DriftID, Decision: events.ResolveApprove}
	id := env.Publish(events.TypeResolveRequested, req, events.WithSubject(c.ID))
	rival := env.Publish(events.TypeResolveRequested, req, events.WithSubject(c.ID))
	env.WaitAcked(ResolveConsumer, env.PublishCopy(events.TypeResolveRequested, id, req, events.WithSubject(c.ID)))

	// One of the two approvals resolves the drift, the other is refused.
	var won string
	require.Eventually(t, func() bool {
		for _, rid := range []string{id, rival} {
			if len(env.Facts(rid)) > 0 && env.Facts(rid)[0].Type() == events.TypeDriftResolved {
				won = rid
			}
		}
		return won != ""
	}, 15*time.Second, 20*time.Millisecond)
	lost := map[string]string{id: rival, rival: id}[won]
	rej := testenv.Data[events.RequestRejected](t, env.WaitFact(lost, events.TypeRequestRejected))
	require.Contains(t, rej.Reason, "not awaiting a decision")
	res := testenv.Data[events.DriftResolved](t, env.WaitFact(won, events.TypeDriftResolved))
	require.True(t, res.Resumed)
	v := testenv.Data[events.CatalogVersioned](t, env.WaitFact(res.RepairRequestID, events.TypeCatalogVersioned))
	require.Equal(t, 2, v.NewVersion)

	conn, err := env.Store.ConnectionGet(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusActive, conn.Status)
	require.Equal(t, "active", airbyteStatus(t, env, c.AirbyteConnectionID))
	versions, err := env.Store.CatalogVersionList(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, versions, 2, "one new version")
	require.Equal(t, 1, outboxCount(t, env, events.TypeDriftResolved, c.ID), "one resolution")
	require.Equal(t, 1, outboxCount(t, env, events.TypeConnectionPaused, c.ID), "one pause")
	require.Equal(t, 1, outboxCount(t, env, events.TypeCatalogVersioned, c.ID), "one catalog.versioned")
	ids := map[string]bool{}
	for _, f := range factsOf(env, events.TypeDriftResolved, c.ID) {
		ids[f.ID()] = true
	}
	require.Len(t, ids, 1, "one event id")
}

// TestResumeWaitsForThePauseInFlight approves a drift while its pause's
// make-inactive call is on its way to Airbyte: the resumption waits for
// that call to land and then makes the connection active, so Airbyte and
// the registry agree on active.
func TestResumeWaitsForThePauseInFlight(t *testing.T) {
	t.Parallel()
	env := setup(t)
	c := env.SeedConnection()
	startRepair(t, env)
	p := testenv.NewStatusPatches()
	entered, unblock := p.HoldNext(airbyte.ConnectionInactive)
	t.Cleanup(unblock)
	ab, err := airbyte.New(env.AirbyteConfig(airbyte.Config{HTTPClient: &http.Client{Transport: p.Transport(nil)}}))
	require.NoError(t, err)
	o, err := New(env.Deps, ab, Config{Heal: HealPolicy, CheckSubject: ""})
	require.NoError(t, err)
	env.Go(o.Run)

	mutate(t, env, c, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "integer"})
	checked := make(chan Result, 1)
	go func() {
		r, _ := o.Check(env.Ctx, c.ID)
		checked <- r
	}()
	select {
	case <-entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the pause's make-inactive call was not made")
	}
	dr := mustDrift(t, env, c.ID)
	require.Equal(t, registry.DriftPaused, dr.Status)

	id := env.Publish(events.TypeResolveRequested, events.ResolveRequested{ConnectionID: c.ID,
		DriftID: DriftID(dr.CatalogVersion, dr.DiscoveredHash), Decision: events.ResolveApprove}, events.WithSubject(c.ID))
	require.Eventually(t, func() bool { return env.StatusLockWaiters(c.ID) > 0 }, 15*time.Second, 5*time.Millisecond,
		"the approval waits for the connection's status lock")
	require.Equal(t, "active", airbyteStatus(t, env, c.AirbyteConnectionID), "not yet made inactive, nor resumed")
	unblock()

	r := <-checked
	require.Equal(t, "pause", r.Decision.Action)
	res := testenv.Data[events.DriftResolved](t, env.WaitFact(id, events.TypeDriftResolved))
	require.True(t, res.Resumed)
	env.WaitFact(res.RepairRequestID, events.TypeCatalogVersioned) // the approved change applied
	conn, err := env.Store.ConnectionGet(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusActive, conn.Status)
	require.Equal(t, "active", airbyteStatus(t, env, c.AirbyteConnectionID), "the pause landed first, then the resumption")
}
