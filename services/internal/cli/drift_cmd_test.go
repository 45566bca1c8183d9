package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	reg "github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
	"github.com/aam-mesh/aam/services/internal/observer"
)

func TestDriftCommands(t *testing.T) {
	t.Parallel()
	mesh, sources := startReadMesh(t)
	c := mesh.AddConnection("", "drifting")
	changes, err := json.Marshal([]drift.Change{
		{Kind: drift.TypeNarrowed, Stream: "Account", Field: []string{"Amount"}, OldType: "number|null", NewType: "integer|null",
			Breaking: true, Risk: drift.RiskHigh},
		{Kind: drift.FieldAdded, Stream: "Account", Field: []string{"Region"}, NewType: "string|null", Risk: drift.RiskNone},
	})
	require.NoError(t, err)
	_, err = mesh.Store.DriftInsert(mesh.Ctx, reg.Drift{ConnectionID: c.ID, CatalogVersion: 1, DiscoveredHash: "sha256:0123456789abcdef0123",
		Diff: json.RawMessage(`{"transforms":[]}`), Changes: changes, Action: "pause", RuleID: "pause-breaking", Status: reg.DriftPaused,
		Decisions: json.RawMessage(`[{"action":"pause","rule_id":"pause-breaking","scope":"connection","policy_version":0},
			{"action":"propagate","rule_id":"propagate-columns","scope":"connection","policy_version":0}]`)})
	require.NoError(t, err)

	for _, src := range sources {
		with := func(args ...string) []string { return append(args, src...) }
		code, out, stderr := run(t, with("drift", "ls", c.ID)...)
		require.Equal(t, ExitOK, code, stderr)
		require.Contains(t, out, "1-0123456789ab")
		require.Contains(t, out, "paused")
		require.Contains(t, out, "pause-breaking")
		require.Contains(t, out, "type_narrowed, field_added")

		code, out, stderr = run(t, with("drift", "show", c.ID, "1-0123")...)
		require.Equal(t, ExitOK, code, stderr)
		require.Contains(t, out, "decision: pause by rule pause-breaking (policy v0), paused")
		require.Regexp(t, `Account\s+Amount\s+type_narrowed\s+number\|null\s+integer\|null\s+yes\s+no\s+high\s+pause\s+pause-breaking`, out)
		require.Regexp(t, `Account\s+Region\s+field_added\s+-\s+string\|null\s+no\s+no\s+none\s+propagate\s+propagate-columns`, out)

		code, out, _ = run(t, with("drift", "ls", c.ID, "-o", "json")...)
		require.Equal(t, ExitOK, code)
		var ds []gateway.Drift
		require.NoError(t, json.Unmarshal([]byte(out), &ds))
		require.Len(t, ds, 1)

		code, _, stderr = run(t, with("drift", "show", c.ID, "9-")...)
		require.Equal(t, ExitError, code, stderr)
		require.Contains(t, stderr, "not found")
	}

	// check goes through the gateway to the observer.
	sub, err := mesh.NC.Subscribe(observer.SubjectCheck, func(m *nats.Msg) {
		reply, _ := json.Marshal(observer.CheckReply{Results: []observer.Result{{ConnectionID: c.ID, CatalogVersion: 1, Drift: true, New: true,
			DriftID: "1-0123456789abcdef0123", Summary: "Account: field Region added",
			Decision: &events.DriftDecision{Action: "propagate", RuleID: "propagate-columns"}}}})
		_ = m.Respond(reply)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, mesh.NC.Flush())
	code, out, stderr := run(t, append([]string{"drift", "check", c.ID}, sources[0]...)...) // through the gateway
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, c.ID+": drift 1-0123456789ab (new) from catalog v1: Account: field Region added")
	require.Contains(t, out, "decision: propagate by rule propagate-columns (policy v0)")
	code, _, stderr = run(t, "drift", "check", c.ID, "--database-url", mesh.Schema.URL)
	require.NotEqual(t, ExitOK, code)
	require.Contains(t, stderr, "drift check goes through the gateway")
}

func TestPolicySetCommand(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	c := mesh.AddConnection("", "governed")
	nurl := "--nats-url=" + mesh.URL()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	bad := write("bad.json", `{"rules":[{"id":"r","when":"change.kind","action":"pause"}]}`)
	code, _, stderr := run(t, "policy", "set", c.ID, nurl, "--file", bad, "--wait")
	require.Equal(t, ExitRejected, code, stderr)
	require.Contains(t, stderr, "when must return a bool, not string")

	good := write("good.json", `{"policy":{"rules":[{"id":"all","when":"true","action":"require_approval"}]}}`)
	code, out, stderr := run(t, "policy", "set", c.ID, nurl, "--file", good, "--wait")
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, "drift policy version 1 stored")
	code, out, stderr = run(t, "policy", "set", c.ID, nurl, "--file", good, "--wait")
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, "drift policy version 2 stored")

	// Approvals and rejections are requests to the schema observer.
	code, out, stderr = run(t, "drift", "reject", c.ID, "1-0123", nurl, "--resume", "--id", "reject-1")
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, "request reject-1 accepted on aam.requests.drift.resolve")
	code, _, stderr = run(t, "drift", "approve", c.ID, "x", nurl)
	require.Equal(t, ExitRejected, code, stderr)
	require.Contains(t, stderr, "drift_id")
}

// TestDriftCheckWaitsForTheRepair: a check whose decision published a
// repair request prints that repair's answer.
func TestDriftCheckWaitsForTheRepair(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	_, ts := mesh.Gateway(gateway.Config{})
	c := mesh.AddConnection("", "healing")
	repairID := reg.NewID()
	sub, err := mesh.NC.Subscribe(observer.SubjectCheck, func(m *nats.Msg) {
		req, err := events.New(events.TypeRepairRequested, observer.Source, events.RepairRequested{ConnectionID: c.ID,
			NewSyncCatalog: json.RawMessage(`{"streams":[{"stream":{"name":"Account","json_schema":{},"supported_sync_modes":["full_refresh","incremental"]},"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]}`), Reason: "schema drift"}, events.WithID(repairID), events.WithSubject(c.ID))
		if assert.NoError(t, err) {
			_, err = bus.NewPublisher(mesh.JS).Publish(mesh.Ctx, events.SubjectRepairRequest, req, events.Binary)
			assert.NoError(t, err)
		}
		reply, _ := json.Marshal(observer.CheckReply{Results: []observer.Result{{ConnectionID: c.ID, CatalogVersion: 1, Drift: true, New: true,
			DriftID: "1-0123456789abcdef0123", Summary: "Account: field Region added", RepairRequestID: repairID,
			Decision: &events.DriftDecision{Action: "propagate", RuleID: "propagate-columns"}}}})
		_ = m.Respond(reply)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, mesh.NC.Flush())
	code, out, stderr := run(t, "drift", "check", c.ID, "--gateway", ts.URL, "--wait", "20s")
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, "decision: propagate by rule propagate-columns (policy v0)")
	require.Contains(t, out, "repair: ")
	require.Contains(t, out, "catalog version 1 → 2")
}

func TestCatalogRollbackCommand(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t, gatewaytest.Options{NoWorkers: true})
	c := mesh.AddConnection("", "rolling back")
	nurl := "--nats-url=" + mesh.URL()
	code, out, stderr := run(t, "catalog", "rollback", c.ID, "--to", "1", "--dry-run", nurl, "--id", "rollback-1")
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, "request rollback-1 accepted on aam.requests.connection.rollback")
	code, _, stderr = run(t, "catalog", "rollback", c.ID, "--to", "0", nurl)
	require.Equal(t, ExitRejected, code, stderr)
	require.Contains(t, stderr, "to_version")
	code, _, stderr = run(t, "catalog", "rollback", c.ID, nurl)
	require.NotEqual(t, ExitOK, code)
	require.Contains(t, stderr, `required flag(s) "to" not set`)
}

func TestConnectionsHealthCommand(t *testing.T) {
	t.Parallel()
	mesh, sources := startReadMesh(t)
	c := mesh.AddConnection("", "failing")
	_, _, err := mesh.Store.JobCreate(mesh.Ctx, reg.JobCreateParams{ConnectionID: c.ID, AirbyteJobID: "77", Status: reg.JobFailed, CatalogVersion: 1})
	require.NoError(t, err)
	for range 2 {
		_, err := mesh.Store.HealthFailed(mesh.Ctx, c.ID)
		require.NoError(t, err)
	}
	ok, err := mesh.Store.HealthQuarantine(mesh.Ctx, c.ID, 1, "credentials refused")
	require.NoError(t, err)
	require.True(t, ok)
	for _, src := range sources {
		code, out, stderr := run(t, append([]string{"connections", "health", c.ID}, src...)...)
		require.Equal(t, ExitOK, code, stderr)
		require.Regexp(t, `status:\s+QUARANTINED \(credentials refused\)`, out)
		require.Regexp(t, `quarantined:\s+true`, out)
		require.Regexp(t, `failures in a row:\s+2`, out)
		require.Regexp(t, `77\s+failed\s+-`, out)
		code, out, _ = run(t, append([]string{"connections", "health", c.ID, "-o", "json"}, src...)...)
		require.Equal(t, ExitOK, code)
		var h gateway.ConnectionHealth
		require.NoError(t, json.Unmarshal([]byte(out), &h))
		require.Equal(t, 2, h.ConsecutiveFailures)
		code, _, stderr = run(t, append([]string{"connections", "health", reg.NewID()}, src...)...)
		require.Equal(t, ExitError, code, stderr)
		require.Contains(t, stderr, "not found")
	}
}

func TestConnectionsStatsCommand(t *testing.T) {
	t.Parallel()
	mesh, sources := startReadMesh(t)
	c := mesh.AddConnection("", "volume")
	ctx, st := mesh.Ctx, mesh.Store
	j, _, err := st.JobCreate(ctx, reg.JobCreateParams{ConnectionID: c.ID, AirbyteJobID: "78", Status: reg.JobRunning, CatalogVersion: 1})
	require.NoError(t, err)
	started := time.Now().Add(-time.Minute)
	ended := started.Add(30 * time.Second)
	j, err = st.JobUpdate(ctx, j.ID, reg.JobUpdateParams{Status: reg.JobSucceeded, StartedAt: &started, CompletedAt: &ended, RowsSynced: 7})
	require.NoError(t, err)
	_, err = st.SuccessRecord(ctx, j, []reg.StreamStat{{Stream: "Account", Records: 0, Bytes: 0}, {Stream: "Contact", Records: 7, Bytes: 2048}}, 10)
	require.NoError(t, err)
	_, _, err = st.AnomalyOpen(ctx, reg.Anomaly{ConnectionID: c.ID, JobID: j.ID, AirbyteJobID: "78", Stream: "Account",
		Kind: "zero", Metric: "records", ExpectedMin: 490, ExpectedMax: 2940, Median: 980, HistoryJobs: 10})
	require.NoError(t, err)
	for _, src := range sources {
		code, out, stderr := run(t, append([]string{"connections", "stats", c.ID}, src...)...)
		require.Equal(t, ExitOK, code, stderr)
		require.Regexp(t, `78\s+\S+\s+30s\s+Account\s+0\s`, out)
		require.Regexp(t, `78\s+\S+\s+30s\s+Contact\s+7\s+2\.0 KiB`, out)
		code, out, _ = run(t, append([]string{"connections", "stats", c.ID, "-o", "json"}, src...)...)
		require.Equal(t, ExitOK, code)
		var jobs []gateway.JobStats
		require.NoError(t, json.Unmarshal([]byte(out), &jobs))
		require.Len(t, jobs, 1)
		require.EqualValues(t, 30000, jobs[0].DurationMS)

		code, out, stderr = run(t, append([]string{"connections", "health", c.ID}, src...)...)
		require.Equal(t, ExitOK, code, stderr)
		require.Regexp(t, `open anomalies:\n\s+JOB.*\n\s+78\s+Account\s+zero\s+0 records\s+490-2940\s+980\s`, out)
		code, _, stderr = run(t, append([]string{"connections", "stats", reg.NewID()}, src...)...)
		require.Equal(t, ExitError, code, stderr)
		require.Contains(t, stderr, "not found")
	}
}
