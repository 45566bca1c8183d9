package observer

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// factsOf returns the facts of a type about a connection.
func factsOf(env *testenv.Env, typ, connID string) []event.Event {
	var out []event.Event
	for _, f := range env.Facts("") {
		if f.Type() == typ && f.Subject() == connID {
			out = append(out, f)
		}
	}
	return out
}

// outboxCount counts the queued events of a type about a connection.
func outboxCount(t *testing.T, env *testenv.Env, typ, connID string) int {
	t.Helper()
	msgs, err := env.Store.OutboxByConnection(env.Ctx, connID, 100)
	require.NoError(t, err)
	n := 0
	for _, m := range msgs {
		if m.EventType == typ {
			n++
		}
	}
	return n
}

func airbyteStatus(t *testing.T, env *testenv.Env, airbyteConnID string) string {
	t.Helper()
	for _, c := range env.Emulator.Connections() {
		if c.ID == airbyteConnID {
			return c.Status
		}
	}
	t.Fatalf("no Airbyte connection %s", airbyteConnID)
	return ""
}

// seenAtOnce makes a connection's source drift by op and has two
// observers (deciding by policy) check it at the same time.
func seenAtOnce(t *testing.T, op emulator.SchemaOp) (*testenv.Env, testenv.Seeded, *Observer, *Observer, []Result) {
	t.Helper()
	env := setup(t)
	c := env.SeedConnection()
	a := newObserver(t, env, Config{Heal: HealPolicy})
	b := newObserver(t, env, Config{Heal: HealPolicy})
	mutate(t, env, c, op)
	var wg sync.WaitGroup
	results := make([]Result, 2)
	for i, o := range []*Observer{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = o.Check(env.Ctx, c.ID)
		}()
	}
	wg.Wait()
	return env, c, a, b, results
}

func setPolicy(t *testing.T, env *testenv.Env, connID string, p drift.Policy) registry.DriftPolicy {
	t.Helper()
	_, err := drift.Compile(p, 1)
	require.NoError(t, err)
	doc, err := json.Marshal(p)
	require.NoError(t, err)
	var stored registry.DriftPolicy
	require.NoError(t, env.Store.InTx(env.Ctx, func(q *registry.Queries) error {
		if _, err := q.ConnectionGetForUpdate(env.Ctx, connID); err != nil {
			return err
		}
		stored, _, err = q.PolicyCreate(env.Ctx, connID, doc, "/test", "")
		return err
	}))
	return stored
}

func TestDefaultPolicyPropagatesAnAddedField(t *testing.T) {
	t.Parallel()
	env := setup(t)
	c := env.SeedConnection()
	startRepair(t, env)
	o := newObserver(t, env, Config{Heal: HealPolicy})
	check(t, env, o, c.ID)

	mutate(t, env, c, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"},
		emulator.SchemaOp{Op: "add_stream", Stream: "Invoice__c"})
	r := check(t, env, o, c.ID)
	require.NotNil(t, r.Decision)
	require.Equal(t, "propagate", r.Decision.Action)
	require.Equal(t, "propagate-columns", r.Decision.RuleID)
	require.Equal(t, 0, r.Decision.PolicyVersion, "the default policy")
	require.NotEmpty(t, r.RepairRequestID)

	v := testenv.Data[events.CatalogVersioned](t, env.WaitFact(r.RepairRequestID, events.TypeCatalogVersioned))
	require.Equal(t, 2, v.NewVersion)
	require.Contains(t, v.Reason, "Region__c")
	require.Contains(t, v.Reason, "(policy v0, rule propagate-columns)")
	cat := latestCatalog(t, env, c.ID)
	require.Len(t, cat.Streams, 1, "the new stream is ignored (ignore-new-streams)")

	d := waitDrift(t, env, c.ID, 1)
	require.Equal(t, r.DriftID, d.DriftID)
	require.NotNil(t, d.Decision)
	require.Equal(t, "propagate", d.Decision.Action)
	var decisions []drift.Decision
	require.NoError(t, json.Unmarshal(d.Decision.Decisions, &decisions))
	require.Len(t, decisions, 2)
	byKind := map[drift.Kind]drift.Decision{}
	for _, dec := range decisions {
		byKind[dec.Inputs.Change.Kind] = dec
	}
	require.Equal(t, drift.ActionIgnore, byKind[drift.StreamAdded].Action)
	require.Equal(t, "ignore-new-streams", byKind[drift.StreamAdded].RuleID)
	require.Equal(t, drift.ActionPropagate, byKind[drift.FieldAdded].Action)
	require.Equal(t, c.ID, byKind[drift.FieldAdded].Inputs.Connection.ID)

	rec := mustDrift(t, env, c.ID)
	require.Equal(t, registry.DriftPropagated, rec.Status)
	require.Equal(t, "propagate-columns", rec.RuleID)
	require.JSONEq(t, string(d.Decision.Decisions), string(rec.Decisions), "the provenance stored is the one emitted")
	require.Equal(t, "active", airbyteStatus(t, env, c.AirbyteConnectionID))
}

// TestPropagateNeverAppliesAnUndecidedChange: the source changes again
// between a propagate decision and its repair (a number narrowed after a
// field was added). The repair applies nothing, and the next check decides
// on the whole change: the narrowing pauses the connection.
func TestPropagateNeverAppliesAnUndecidedChange(t *testing.T) {
	t.Parallel()
	env, c, o, r := drifted(t, Config{Heal: HealPolicy}, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"})
	require.Equal(t, "propagate", r.Decision.Action)
	require.NotEmpty(t, r.RepairRequestID)
	mutate(t, env, c, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "integer"})

	startRepair(t, env)
	failed := testenv.Data[events.RepairFailed](t, env.WaitFact(r.RepairRequestID, events.TypeRepairFailed))
	require.Contains(t, failed.Reason, "the source's schema changed again")
	versions, err := env.Store.CatalogVersionList(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, versions, 1, "nothing applied")

	r = check(t, env, o, c.ID)
	require.True(t, r.New, "%+v", r)
	require.Equal(t, "pause", r.Decision.Action)
	conn, err := env.Store.ConnectionGet(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusPaused, conn.Status)
	require.Contains(t, conn.StatusReason, "AnnualRevenue")
}

func TestDefaultPolicyPausesANarrowedField(t *testing.T) {
	t.Parallel()
	// Two observers find the same drift at once: one pause, one of each fact.
	env, c, a, b, results := seenAtOnce(t, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "integer"})
	paused := 0
	for _, r := range results {
		if r.New {
			paused++
			require.Equal(t, "pause", r.Decision.Action)
			require.Equal(t, "pause-breaking", r.Decision.RuleID)
			require.False(t, r.Breaking, "not breaking for Airbyte")
			require.Empty(t, r.RepairRequestID)
		}
	}
	require.Equal(t, 1, paused, "%+v", results)

	conn, err := env.Store.ConnectionGet(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusPaused, conn.Status)
	require.Contains(t, conn.StatusReason, "AnnualRevenue")
	require.Contains(t, conn.StatusReason, "rule pause-breaking")
	require.Equal(t, "inactive", airbyteStatus(t, env, c.AirbyteConnectionID))
	rec := mustDrift(t, env, c.ID)
	require.Equal(t, registry.DriftPaused, rec.Status)
	require.NotNil(t, rec.AirbytePausedAt)

	require.Eventually(t, func() bool { return len(factsOf(env, events.TypeConnectionPaused, c.ID)) == 1 }, 10*time.Second, 10*time.Millisecond)
	p := testenv.Data[events.ConnectionPaused](t, factsOf(env, events.TypeConnectionPaused, c.ID)[0])
	require.Equal(t, rec.RuleID, p.Decision.RuleID)
	require.Equal(t, DriftID(1, rec.DiscoveredHash), p.DriftID)

	// Checked again, by either: skipped, nothing new.
	for _, o := range []*Observer{a, b} {
		r := check(t, env, o, c.ID)
		require.Equal(t, "connection is PAUSED", r.Skipped)
	}
	require.Equal(t, 1, outboxCount(t, env, events.TypeConnectionPaused, c.ID))
	require.Equal(t, 1, outboxCount(t, env, events.TypeDriftDetected, c.ID))
}

// TestPauseReachesAirbyteAfterACrash: a pause committed in the registry
// whose Airbyte call never happened is finished by the next check, once.
func TestPauseReachesAirbyteAfterACrash(t *testing.T) {
	t.Parallel()
	env, c, o, r := drifted(t, Config{Heal: HealPolicy}, emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "Id"})
	require.Equal(t, "pause", r.Decision.Action)
	// As if the process died after the commit, before Airbyte was called.
	_, err := env.Store.DB().Exec(env.Ctx, `UPDATE schema_drifts SET airbyte_paused_at = NULL`)
	require.NoError(t, err)
	_, err = env.Airbyte.PatchConnection(env.Ctx, c.AirbyteConnectionID, airbyte.ConnectionPatchRequest{Status: airbyte.ConnectionActive})
	require.NoError(t, err)

	r = check(t, env, o, c.ID)
	require.Equal(t, "connection is PAUSED", r.Skipped)
	require.Empty(t, r.Error)
	require.Equal(t, "inactive", airbyteStatus(t, env, c.AirbyteConnectionID))
	require.NotNil(t, mustDrift(t, env, c.ID).AirbytePausedAt)
	require.Equal(t, 1, outboxCount(t, env, events.TypeConnectionPaused, c.ID))
}

func TestPolicyRequiresApprovalWithStreamOverride(t *testing.T) {
	t.Parallel()
	env := setup(t)
	c := env.SeedConnection(testenv.SeedOptions{Streams: []string{"Account", "Lead"}})
	stored := setPolicy(t, env, c.ID, drift.Policy{
		Labels: map[string]string{"team": "finance"},
		Rules: []drift.Rule{
			{ID: "finance-types", When: `connection.labels["team"] == "finance" && change.kind == "type_changed"`,
				Action: drift.ActionRequireApproval},
			{ID: "rest", When: "true", Action: drift.ActionPropagate},
		},
		Streams: map[string][]drift.Rule{"Lead": {{ID: "lead-frozen", When: "true", Action: drift.ActionIgnore}}},
	})
	require.Equal(t, 1, stored.Version)
	o := newObserver(t, env, Config{Heal: HealPolicy})
	mutate(t, env, c,
		emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "string"},
		emulator.SchemaOp{Op: "change_type", Stream: "Lead", Field: "AnnualRevenue", Type: "string"})
	r := check(t, env, o, c.ID)
	require.Equal(t, "require_approval", r.Decision.Action)
	require.Equal(t, "finance-types", r.Decision.RuleID)
	require.Equal(t, 1, r.Decision.PolicyVersion)
	require.Empty(t, r.RepairRequestID)
	var decisions []drift.Decision
	require.NoError(t, json.Unmarshal(r.Decision.Decisions, &decisions))
	require.Len(t, decisions, 2)
	for _, d := range decisions {
		switch d.Inputs.Change.Stream {
		case "Lead":
			require.Equal(t, "lead-frozen", d.RuleID, "the stream's override beats the connection's rule")
			require.Equal(t, "stream:Lead", d.Scope)
		case "Account":
			require.Equal(t, "finance-types", d.RuleID)
		}
	}

	require.Eventually(t, func() bool { return len(factsOf(env, events.TypeApprovalRequested, c.ID)) == 1 }, 10*time.Second, 10*time.Millisecond)
	a := testenv.Data[events.ApprovalRequested](t, factsOf(env, events.TypeApprovalRequested, c.ID)[0])
	require.Equal(t, r.DriftID, a.DriftID)
	require.Equal(t, "finance-types", a.Decision.RuleID)
	require.Equal(t, registry.DriftApprovalRequested, mustDrift(t, env, c.ID).Status)
	conn, err := env.Store.ConnectionGet(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusActive, conn.Status, "approval does not pause")

	// The same drift again: its recorded decision, no second request.
	again := check(t, env, o, c.ID)
	require.False(t, again.New)
	require.Equal(t, "finance-types", again.Decision.RuleID)
	require.Equal(t, 1, outboxCount(t, env, events.TypeApprovalRequested, c.ID))
}

func TestDriftID(t *testing.T) {
	t.Parallel()
	id := DriftID(3, "sha256:abc")
	require.Equal(t, "3-abc", id)
	v, h, err := ParseDriftID(id)
	require.NoError(t, err)
	require.Equal(t, 3, v)
	require.Equal(t, "sha256:abc", h)
	for _, bad := range []string{"", "abc", "0-abc", "x-abc", "3-"} {
		_, _, err := ParseDriftID(bad)
		require.Error(t, err, bad)
	}
}

// TestPropagateOnce: two observers find the same added field at once, the
// first publish's acknowledgement is lost (as if the process died), and
// the repair request is delivered again after JetStream's window: one
// drift, one repair request id, one version, one catalog.versioned.
func TestPropagateOnce(t *testing.T) {
	t.Parallel()
	env, c, _, b, results := seenAtOnce(t, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"})
	repairID := ""
	for _, r := range results {
		if r.RepairRequestID != "" {
			require.True(t, repairID == "" || repairID == r.RepairRequestID, "one repair request id: %+v", results)
			repairID = r.RepairRequestID
		}
	}
	require.NotEmpty(t, repairID, "%+v", results)

	// The acknowledgement lost, as if the process died: the next check
	// publishes the same request again, which JetStream keeps once.
	_, err := env.Store.DB().Exec(env.Ctx, `UPDATE schema_drifts SET repair_published_at = NULL`)
	require.NoError(t, err)
	again, err := b.Check(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, repairID, again.RepairRequestID)
	require.NotNil(t, mustDrift(t, env, c.ID).RepairPublishedAt, "published again")
	require.EqualValues(t, 1, storedRepairRequests(t, env), "stored once (Nats-Msg-Id)")

	startRepair(t, env)
	v := testenv.Data[events.CatalogVersioned](t, env.WaitFact(repairID, events.TypeCatalogVersioned))
	require.Equal(t, 2, v.NewVersion)
	require.Contains(t, v.Reason, "rule propagate-columns")

	// A copy of the repair request after JetStream's window.
	env.WaitAcked(repair.Consumer, env.CopyLast(events.SubjectRepairRequest))

	versions, err := env.Store.CatalogVersionList(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, versions, 2, "one new version")
	require.Equal(t, 1, outboxCount(t, env, events.TypeDriftDetected, c.ID), "one drift")
	require.Equal(t, 1, outboxCount(t, env, events.TypeCatalogVersioned, c.ID), "one catalog.versioned")
	ids := map[string]bool{}
	for _, f := range env.Facts(repairID) {
		ids[f.ID()] = true
	}
	require.Len(t, ids, 1, "one event id")
}
