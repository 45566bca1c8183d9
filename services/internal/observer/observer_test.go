package observer

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

func setup(t *testing.T) *testenv.Env {
	t.Helper()
	env := testenv.New(t, testenv.Options{NoRelay: true})
	env.StartRelay()
	return env
}

// storedRepairRequests counts the repair requests AAM_REQUESTS holds.
func storedRepairRequests(t *testing.T, env *testenv.Env) uint64 {
	t.Helper()
	stream, err := env.JS.Stream(env.Ctx, bus.StreamRequests)
	require.NoError(t, err)
	info, err := stream.Info(env.Ctx, jetstream.WithSubjectFilter(events.SubjectRepairRequest))
	require.NoError(t, err)
	return info.State.Subjects[events.SubjectRepairRequest]
}

// startRepair runs a repair worker on env until the test ends.
func startRepair(t *testing.T, env *testenv.Env) {
	t.Helper()
	rw, err := repair.New(env.Deps, env.Airbyte, repair.Config{})
	require.NoError(t, err)
	env.Go(rw.Run)
}

func newObserver(t *testing.T, env *testenv.Env, cfg Config) *Observer {
	t.Helper()
	o, err := New(env.Deps, env.Airbyte, cfg)
	require.NoError(t, err)
	return o
}

// check checks a connection once and fails the test on an error.
func check(t *testing.T, env *testenv.Env, o *Observer, connID string) Result {
	t.Helper()
	r, err := o.Check(env.Ctx, connID)
	require.NoError(t, err)
	return r
}

// latestCatalog returns the catalog of a connection's newest version.
func latestCatalog(t *testing.T, env *testenv.Env, connID string) airbyte.AirbyteCatalog {
	t.Helper()
	latest, err := env.Store.CatalogVersionLatest(env.Ctx, connID)
	require.NoError(t, err)
	var cat airbyte.AirbyteCatalog
	require.NoError(t, json.Unmarshal(latest.SyncCatalog, &cat))
	return cat
}

// drifts returns the drift facts about a connection.
func drifts(env *testenv.Env, connID string) []event.Event {
	var out []event.Event
	for _, f := range env.Facts("") {
		if f.Type() == events.TypeDriftDetected && f.Subject() == connID {
			out = append(out, f)
		}
	}
	return out
}

func waitDrift(t *testing.T, env *testenv.Env, connID string, n int) events.DriftDetected {
	t.Helper()
	require.Eventually(t, func() bool { return len(drifts(env, connID)) >= n }, 10*time.Second, 10*time.Millisecond)
	fs := drifts(env, connID)
	require.Len(t, fs, n)
	return testenv.Data[events.DriftDetected](t, fs[n-1])
}

func mutate(t *testing.T, env *testenv.Env, c testenv.Seeded, ops ...emulator.SchemaOp) {
	t.Helper()
	require.NoError(t, env.Emulator.MutateSchema(c.AirbyteSourceID, ops...))
}

// observed seeds a connection and makes a new observer of cfg.
func observed(t *testing.T, cfg Config) (*testenv.Env, testenv.Seeded, *Observer) {
	t.Helper()
	env := setup(t)
	c := env.SeedConnection()
	return env, c, newObserver(t, env, cfg)
}

// drifted seeds a connection, changes its source by ops and checks it once
// with a new observer of cfg.
func drifted(t *testing.T, cfg Config, ops ...emulator.SchemaOp) (*testenv.Env, testenv.Seeded, *Observer, Result) {
	t.Helper()
	env, c, o := observed(t, cfg)
	mutate(t, env, c, ops...)
	return env, c, o, check(t, env, o, c.ID)
}

func decodeDiff(t *testing.T, raw json.RawMessage) airbyte.CatalogDiff {
	t.Helper()
	var d airbyte.CatalogDiff
	require.NoError(t, json.Unmarshal(raw, &d))
	return d
}

func TestNoDriftNoFact(t *testing.T) {
	t.Parallel()
	env, c, o := observed(t, Config{})
	r := check(t, env, o, c.ID)
	require.False(t, r.Drift)
	require.Empty(t, r.Skipped)
	// An unselected stream that changes is not the connection's drift.
	mutate(t, env, c, emulator.SchemaOp{Op: "add_field", Stream: "Contact", Field: "Pronouns__c"})
	r = check(t, env, o, c.ID)
	require.False(t, r.Drift)
	msgs, err := env.Store.OutboxByConnection(env.Ctx, c.ID, 10)
	require.NoError(t, err)
	require.Empty(t, msgs)
}

func TestAddedFieldIsNonBreakingDriftReportedOnce(t *testing.T) {
	t.Parallel()
	env, c, o := observed(t, Config{})
	check(t, env, o, c.ID)

	mutate(t, env, c, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"})
	r := check(t, env, o, c.ID)
	require.True(t, r.Drift)
	require.True(t, r.New)
	require.False(t, r.Breaking)
	require.Empty(t, r.RepairRequestID, "healing is off by default")

	d := waitDrift(t, env, c.ID, 1)
	require.Equal(t, c.ID, d.ConnectionID)
	require.Equal(t, 1, d.CatalogVersion)
	require.False(t, d.Breaking)
	diff := decodeDiff(t, d.Diff)
	require.Len(t, diff.Transforms, 1)
	tr := diff.Transforms[0]
	require.Equal(t, airbyte.TransformUpdateStream, tr.TransformType)
	require.Equal(t, "Account", tr.StreamDescriptor.Name)
	require.Len(t, tr.UpdateStream.FieldTransforms, 1)
	f := tr.UpdateStream.FieldTransforms[0]
	require.Equal(t, airbyte.TransformAddField, f.TransformType)
	require.Equal(t, []string{"Region__c"}, f.FieldName)
	require.False(t, f.Breaking)
	require.JSONEq(t, `{"type":["string","null"]}`, string(f.AddField.Schema))

	// The same drift again: no second fact; a further change is a new drift.
	r = check(t, env, o, c.ID)
	require.True(t, r.Drift)
	require.False(t, r.New)
	mutate(t, env, c, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "string"})
	check(t, env, o, c.ID)
	d = waitDrift(t, env, c.ID, 2)
	diff = decodeDiff(t, d.Diff)
	types := []airbyte.FieldTransformType{}
	for _, f := range diff.Transforms[0].UpdateStream.FieldTransforms {
		types = append(types, f.TransformType)
	}
	require.ElementsMatch(t, []airbyte.FieldTransformType{airbyte.TransformAddField, airbyte.TransformUpdateFieldSchema}, types)
	require.False(t, d.Breaking, "a type change is not breaking")

	recorded, err := env.Store.DriftList(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, recorded, 2)
	// The Airbyte connection was not touched by the discovers.
	for _, ac := range env.Emulator.Connections() {
		require.Equal(t, "active", ac.Status)
		require.False(t, ac.BreakingChange)
	}
}

func TestBreakingDrift(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		op     emulator.SchemaOp
		expect func(t *testing.T, u *airbyte.UpdateStream)
	}{
		{"cursor removed", emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "SystemModstamp"},
			func(t *testing.T, u *airbyte.UpdateStream) {
				i := slices.IndexFunc(u.FieldTransforms, func(f airbyte.FieldTransform) bool {
					return f.TransformType == airbyte.TransformRemoveField && slices.Equal(f.FieldName, []string{"SystemModstamp"})
				})
				require.GreaterOrEqual(t, i, 0)
				require.True(t, u.FieldTransforms[i].Breaking)
			}},
		{"primary key field removed", emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "Id"},
			func(t *testing.T, u *airbyte.UpdateStream) {
				require.True(t, u.FieldTransforms[0].Breaking)
				require.Equal(t, []string{"Id"}, u.FieldTransforms[0].FieldName)
			}},
		{"primary key changed", emulator.SchemaOp{Op: "change_primary_key", Stream: "Account", PrimaryKey: [][]string{{"Name"}}},
			func(t *testing.T, u *airbyte.UpdateStream) {
				require.Empty(t, u.FieldTransforms)
				require.Len(t, u.StreamAttributeTransforms, 1)
				a := u.StreamAttributeTransforms[0]
				require.Equal(t, airbyte.TransformUpdatePrimaryKey, a.TransformType)
				require.True(t, a.Breaking)
				require.Equal(t, [][]string{{"Id"}}, a.UpdatePrimaryKey.OldPrimaryKey)
				require.Equal(t, [][]string{{"Name"}}, a.UpdatePrimaryKey.NewPrimaryKey)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, c, _, r := drifted(t, Config{Heal: HealNonBreaking}, tc.op)
			require.True(t, r.Breaking)
			require.Empty(t, r.RepairRequestID, "breaking drift is not healed")
			d := waitDrift(t, env, c.ID, 1)
			require.True(t, d.Breaking)
			diff := decodeDiff(t, d.Diff)
			require.Len(t, diff.Transforms, 1)
			tc.expect(t, diff.Transforms[0].UpdateStream)
			msgs, err := env.Store.OutboxByConnection(env.Ctx, c.ID, 10)
			require.NoError(t, err)
			require.Len(t, msgs, 1, "the fact, no repair request")
		})
	}
}

func TestStreamsAddedAndRemoved(t *testing.T) {
	t.Parallel()
	env := setup(t)
	c := env.SeedConnection(testenv.SeedOptions{Streams: []string{"Account", "Lead"}})
	o := newObserver(t, env, Config{})
	check(t, env, o, c.ID) // the baseline
	mutate(t, env, c,
		emulator.SchemaOp{Op: "add_stream", Stream: "Invoice__c"},
		emulator.SchemaOp{Op: "remove_stream", Stream: "Lead"},
		emulator.SchemaOp{Op: "remove_stream", Stream: "Task"})
	check(t, env, o, c.ID)
	d := waitDrift(t, env, c.ID, 1)
	require.False(t, d.Breaking, "stream changes are never breaking")
	diff := decodeDiff(t, d.Diff)
	got := map[string]airbyte.StreamTransformType{}
	for _, tr := range diff.Transforms {
		got[tr.StreamDescriptor.Name] = tr.TransformType
	}
	require.Equal(t, map[string]airbyte.StreamTransformType{
		"Invoice__c": airbyte.TransformAddStream, "Lead": airbyte.TransformRemoveStream, "Task": airbyte.TransformRemoveStream,
	}, got)
}

func TestHealPropagatesNonBreakingDrift(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		propagate string
		streams   []string
	}{
		{PropagateColumns, []string{"Account"}},
		{PropagateFully, []string{"Account", "Invoice__c"}},
	} {
		t.Run(tc.propagate, func(t *testing.T) {
			t.Parallel()
			env := setup(t)
			c := env.SeedConnection()
			startRepair(t, env)
			o := newObserver(t, env, Config{Heal: HealNonBreaking, Propagate: tc.propagate})
			check(t, env, o, c.ID)

			mutate(t, env, c,
				emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"},
				emulator.SchemaOp{Op: "add_stream", Stream: "Invoice__c"})
			r := check(t, env, o, c.ID)
			require.False(t, r.Breaking)
			require.NotEmpty(t, r.RepairRequestID)
			waitDrift(t, env, c.ID, 1)

			v := testenv.Data[events.CatalogVersioned](t, env.WaitFact(r.RepairRequestID, events.TypeCatalogVersioned))
			require.Equal(t, 1, v.PreviousVersion)
			require.Equal(t, 2, v.NewVersion)
			require.Contains(t, v.Reason, "schema drift: ")
			require.Contains(t, v.Reason, "Region__c")

			cat := latestCatalog(t, env, c.ID)
			var names []string
			for _, s := range cat.Streams {
				names = append(names, s.Stream.Name)
			}
			require.ElementsMatch(t, tc.streams, names)
			account, ok := cat.Stream("Account", "")
			require.True(t, ok)
			require.Contains(t, string(account.Stream.JSONSchema), "Region__c")
			require.Equal(t, airbyte.SyncModeIncremental, account.Config.SyncMode, "configuration kept")

			// Measured against version 2 the source has not drifted
			// (with columns, the unselected new stream is in the baseline).
			r = check(t, env, o, c.ID)
			require.Equal(t, 2, r.CatalogVersion)
			require.False(t, r.Drift, "%s", r.Summary)
		})
	}
}

func TestRepairRequestIsValidAtTheEdge(t *testing.T) {
	t.Parallel()
	env, c, _, r := drifted(t, Config{Heal: HealNonBreaking}, emulator.SchemaOp{Op: "add_field", Stream: "Account", Path: []string{"BillingAddress", "region"}})
	require.NotEmpty(t, r.RepairRequestID)
	stream, err := env.JS.Stream(env.Ctx, bus.StreamRequests)
	require.NoError(t, err)
	raw, err := stream.GetLastMsgForSubject(env.Ctx, events.SubjectRepairRequest)
	require.NoError(t, err)
	ev, _, err := events.Decode(raw.Header, raw.Data)
	require.NoError(t, err)
	require.Equal(t, r.RepairRequestID, ev.ID())
	require.Equal(t, events.TypeRepairRequested, ev.Type())
	require.Equal(t, Source, ev.Source())
	require.Equal(t, c.ID, ev.Subject())
	require.NoError(t, bus.SchemaValidator()(ev.Type(), ev.Data()))
	drift, err := env.Store.DriftGet(env.Ctx, c.ID, 1, mustDrift(t, env, c.ID).DiscoveredHash)
	require.NoError(t, err)
	require.NotNil(t, drift.RepairPublishedAt)
	// A nested field: the field and its parent object changed.
	var fields [][]string
	for _, f := range r.Diff.Transforms[0].UpdateStream.FieldTransforms {
		fields = append(fields, f.FieldName)
	}
	require.Contains(t, fields, []string{"BillingAddress", "region"})
}

func TestScheduledChecksAreClaimedOnce(t *testing.T) {
	t.Parallel()
	env := setup(t)
	c1, c2 := env.SeedConnection(), env.SeedConnection()
	inactive := env.SeedConnection()
	_, err := env.Store.ConnectionSetStatus(env.Ctx, inactive.ID, registry.StatusFailed, "test")
	require.NoError(t, err)
	a := newObserver(t, env, Config{Interval: time.Hour})
	b := newObserver(t, env, Config{Interval: time.Hour})

	ra, err := a.CheckAll(env.Ctx, false)
	require.NoError(t, err)
	require.Len(t, ra, 2, "ACTIVE connections only")
	for _, r := range ra {
		require.Contains(t, []string{c1.ID, c2.ID}, r.ConnectionID)
		require.Empty(t, r.Skipped)
	}
	rb, err := b.CheckAll(env.Ctx, false)
	require.NoError(t, err)
	for _, r := range rb {
		require.Equal(t, "checked recently", r.Skipped)
	}
	rb, err = b.CheckAll(env.Ctx, true)
	require.NoError(t, err)
	for _, r := range rb {
		require.Empty(t, r.Skipped)
	}
}

func TestOnDemandCheckOverNATS(t *testing.T) {
	t.Parallel()
	env, c, o := observed(t, Config{Interval: time.Hour, CheckSubject: "aam.observer.check.test"})
	env.Go(o.Run)
	mutate(t, env, c, emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "SystemModstamp"})
	var reply CheckReply
	require.Eventually(t, func() bool {
		m, err := env.NC.Request("aam.observer.check.test", []byte(`{"connection_id":"`+c.ID+`"}`), 5*time.Second)
		if err != nil {
			return false
		}
		require.NoError(t, json.Unmarshal(m.Data, &reply))
		return true
	}, 10*time.Second, 50*time.Millisecond)
	require.Empty(t, reply.Error)
	require.Len(t, reply.Results, 1)
	require.True(t, reply.Results[0].Drift)
	require.True(t, reply.Results[0].Breaking)
	require.Contains(t, reply.Results[0].Summary, "SystemModstamp removed (breaking)")
	waitDrift(t, env, c.ID, 1)

	m, err := env.NC.Request("aam.observer.check.test", []byte(`not json`), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(m.Data, &reply))
	require.Contains(t, reply.Error, "not a check request")
}

func TestFirstCheckMeasuresNewStreamsAgainstAirbytesCatalog(t *testing.T) {
	t.Parallel()
	env := setup(t)
	c := env.SeedConnection()
	// The source changed before the observer ever looked at it.
	mutate(t, env, c, emulator.SchemaOp{Op: "add_stream", Stream: "Invoice__c"})
	o := newObserver(t, env, Config{})
	r := check(t, env, o, c.ID)
	require.True(t, r.Drift)
	require.Len(t, r.Diff.Transforms, 1)
	require.Equal(t, airbyte.TransformAddStream, r.Diff.Transforms[0].TransformType)
	require.Equal(t, "Invoice__c", r.Diff.Transforms[0].StreamDescriptor.Name)
}

func mustDrift(t *testing.T, env *testenv.Env, connID string) registry.Drift {
	t.Helper()
	list, err := env.Store.DriftList(env.Ctx, connID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0]
}

func TestUnpublishedRepairRequestIsPublishedOnNextCheck(t *testing.T) {
	t.Parallel()
	env, c, o, r := drifted(t, Config{Heal: HealNonBreaking}, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"})
	require.NotEmpty(t, r.RepairRequestID)
	// As if the process died before it recorded JetStream's acknowledgement.
	_, err := env.Store.DB().Exec(env.Ctx, `UPDATE schema_drifts SET repair_published_at = NULL`)
	require.NoError(t, err)

	again := check(t, env, o, c.ID)
	require.False(t, again.New)
	require.Equal(t, r.RepairRequestID, again.RepairRequestID)
	require.NotNil(t, mustDrift(t, env, c.ID).RepairPublishedAt, "published again")
	require.EqualValues(t, 1, storedRepairRequests(t, env), "stored once (Nats-Msg-Id)")
	waitDrift(t, env, c.ID, 1) // the fact once
}

// TestOnDemandCheckWaitsForARepair: a check asked for while a repair holds
// the connection HEALING runs once the repair ends, not skipped.
func TestOnDemandCheckWaitsForARepair(t *testing.T) {
	t.Parallel()
	env, c, o := observed(t, Config{})
	_, err := env.Store.ConnectionStartHealing(env.Ctx, c.ID, "/test", "repairing", "repair: applying a new catalog")
	require.NoError(t, err)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		time.Sleep(300 * time.Millisecond)
		_, err := env.Store.ConnectionSetStatus(env.Ctx, c.ID, registry.StatusActive, "")
		assert.NoError(t, err)
	}()
	r, err := o.Check(env.Ctx, c.ID)
	<-ended
	require.NoError(t, err)
	require.Empty(t, r.Skipped, "checked after the repair, not skipped")
	require.Equal(t, c.ID, r.ConnectionID)
}

// TestCheckOfAForgottenConnection checks a connection whose Airbyte has
// forgotten everything: the discover of its source answers 404, so the
// check marks the connection ORPHANED, once; later passes skip it without
// calling Airbyte.
func TestCheckOfAForgottenConnection(t *testing.T) {
	t.Parallel()
	env, calls := testenv.NewWorkerEnv(t, testenv.WorkerEnvOptions{})
	c := env.SeedConnection()
	o := newObserver(t, env, Config{})
	env.Emulator.Reset()

	r, err := o.Check(env.Ctx, c.ID)
	require.NoError(t, err)
	reason := "Airbyte does not know source " + c.AirbyteSourceID + ": POST /api/v1/sources/discover_schema answered 404"
	require.True(t, r.Orphaned)
	require.Equal(t, "connection is ORPHANED ("+reason+")", r.Skipped)
	require.Equal(t, 1, calls.Status(http.StatusNotFound), "one Airbyte call answered 404")
	conn := env.Connection(c.ID)
	require.Equal(t, registry.StatusOrphaned, conn.Status)
	require.Equal(t, reason, conn.StatusReason)

	var facts []event.Event
	require.Eventually(t, func() bool {
		facts = env.FactsAbout(events.TypeConnectionOrphaned, c.ID)
		return len(facts) > 0
	}, 10*time.Second, 10*time.Millisecond)
	require.Len(t, facts, 1)
	require.Equal(t, Source, facts[0].Source())
	got := testenv.Data[events.ConnectionOrphaned](t, facts[0])
	require.Equal(t, events.OrphanedSource, got.Resource)
	require.Equal(t, "ACTIVE", got.PreviousStatus)

	total := calls.Total()
	results, err := o.CheckAll(env.Ctx, true)
	require.NoError(t, err)
	require.Empty(t, results, "only ACTIVE connections are checked")
	r, err = o.Check(env.Ctx, c.ID)
	require.NoError(t, err)
	require.False(t, r.Orphaned)
	require.Equal(t, "connection is ORPHANED", r.Skipped)
	require.Equal(t, total, calls.Total(), "no Airbyte call once ORPHANED")
}
