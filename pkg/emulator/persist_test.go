package emulator_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// crashCopy copies the data folder as a killed process leaves it (what was
// written so far, nothing flushed at exit) into a new folder.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
	}
	return dst
}

type world struct {
	sources     []emulator.SourceSnapshot
	connections []emulator.ConnectionSnapshot
	jobs        []emulator.JobSnapshot
}

func worldOf(e *emulator.Emulator) world {
	return world{sources: e.Sources(), connections: e.Connections(), jobs: e.Jobs()}
}

// reopen opens a new emulator on dir with a clock at now.
func reopen(t *testing.T, cfg emulator.Config, dir string, now time.Time) *testBundle {
	t.Helper()
	cfg.DataDir = dir
	cfg.Clock = emulator.NewManualClock(now)
	b := setup(t, cfg)
	t.Cleanup(func() { _ = b.emu.Stop() })
	return b
}

// openWithConnection opens an emulator on a new data folder and creates a
// source and a connection on it; it returns the folder and the connection.
func openWithConnection(t *testing.T, cfg emulator.Config) (*testBundle, string, string) {
	t.Helper()
	dir := t.TempDir()
	b := reopen(t, cfg, dir, t0)
	return b, dir, b.createConnection(t, b.createSource(t), nil)
}

// A restarted emulator has every source, connection, catalog, upstream schema
// and job of the last one, and carries on: its connections sync, drift is
// still detected against the stored catalog, and new ids do not collide.
func TestRestartRestoresEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := emulator.Config{JobPending: time.Second, JobRunning: 3 * time.Second, JobRetention: 2}
	b := reopen(t, cfg, dir, t0)
	src := b.createSource(t)
	conn := b.createConnection(t, src, map[string]any{"prefix": "", "name": "accounts"})
	other := b.createConnection(t, b.createSource(t), nil)
	for range 3 { // the oldest job leaves the history
		b.startSync(t, conn)
		b.clock.Advance(5 * time.Second)
	}
	require.NoError(t, b.emu.MutateSchema(src, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))
	running := b.startSync(t, other)
	before := worldOf(b.emu)
	require.Len(t, before.jobs, 3)
	require.NoError(t, b.emu.Stop())

	b2 := reopen(t, cfg, dir, t0.Add(30*time.Second))
	after := worldOf(b2.emu)
	require.Equal(t, before.sources, after.sources)
	require.Equal(t, before.connections, after.connections)
	require.Len(t, after.jobs, 3)
	require.Equal(t, before.jobs[:2], after.jobs[:2])
	require.Equal(t, running, after.jobs[2].ID)
	require.Equal(t, "succeeded", after.jobs[2].Status, "the job running at the stop ended as it would have")

	got := b2.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/connections/"+conn, nil)
	require.Equal(t, "accounts", got["name"])
	require.Equal(t, "", got["prefix"])

	// Drift against the stored catalog: the mutation made before the restart.
	d := b2.c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema",
		map[string]any{"sourceId": src, "connectionId": conn, "disable_cache": true})
	require.NotNil(t, d["catalogDiff"])
	require.NotEmpty(t, d["catalogDiff"].(map[string]any)["transforms"])

	next := b2.startSync(t, conn)
	require.Equal(t, running+1, next, "job ids carry on")
	src3 := b2.createSource(t)
	for _, s := range after.sources {
		require.NotEqual(t, s.ID, src3, "ids carry on")
	}
	b2.clock.Advance(5 * time.Second)
	require.Equal(t, "succeeded", b2.status(t, next))
}

// A process killed with jobs in flight (nothing written at exit): on restart
// each job is reported by the outcome the clock gives it, sync workers
// included, and a job set to fail still fails.
func TestJobsInFlightAtACrashEndAsTheyWould(t *testing.T) {
	dir := t.TempDir()
	cfg := emulator.Config{MaxSyncWorkers: 1, JobPending: time.Second, JobRunning: 3 * time.Second, JobRetryDelay: time.Second}
	b := reopen(t, cfg, dir, t0)
	b.emu.FailNextJobs(1)
	failing := b.startSync(t, b.createConnection(t, b.createSource(t), nil))
	ok := b.startSync(t, b.createConnection(t, b.createSource(t), nil))
	b.clock.Advance(2 * time.Second)
	require.Equal(t, []string{"running", "pending"}, b.statuses(t, failing, ok))

	crashed := crashCopy(t, dir)
	b2 := reopen(t, cfg, crashed, t0.Add(2*time.Second))
	require.Equal(t, []string{"running", "pending"}, b2.statuses(t, failing, ok))
	b2.clock.Advance(time.Minute)
	j := b2.job(t, ok)
	require.Equal(t, "succeeded", j["status"])
	require.Equal(t, "PT7S", j["duration"], "it waited for the worker until t0+4")
	require.Equal(t, "failed", b2.status(t, failing))
	require.Equal(t, 3, b2.emu.Jobs()[0].Attempts)
}

// A torn last line (a crash in the middle of a write) and a corrupt one are
// where the replay stops: the state before them is intact, and the emulator
// writes on after the last good line.
func TestTornWriteKeepsThePreviousState(t *testing.T) {
	cfg := emulator.Config{}
	b, dir, conn := openWithConnection(t, cfg)
	before := worldOf(b.emu)

	crashed := crashCopy(t, dir)
	f, err := os.OpenFile(filepath.Join(crashed, "log.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`1a2b3c {"seq":99,"kind":"connection","connection":{"id":"` + conn + `","na`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	b2 := reopen(t, cfg, crashed, t0)
	require.Equal(t, before, worldOf(b2.emu))
	other := b2.createSource(t) // written after the cut
	again := crashCopy(t, crashed)
	b3 := reopen(t, cfg, again, t0)
	require.Len(t, b3.emu.Sources(), 2)
	require.Equal(t, other, b3.emu.Sources()[1].ID)

	// A line whose checksum does not match ends the replay there.
	bad := crashCopy(t, dir)
	log, err := os.ReadFile(filepath.Join(bad, "log.jsonl"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bad, "log.jsonl"), append([]byte("0 {}\n"), log...), 0o600))
	b4 := reopen(t, cfg, bad, t0)
	require.Empty(t, b4.emu.Sources())
}

// A snapshot replaces the log; a crash between the snapshot's rename and the
// log's truncation leaves records the snapshot already holds, which are
// skipped, and a leftover temporary file is ignored.
func TestSnapshotSupersedesTheLog(t *testing.T) {
	cfg := emulator.Config{}
	b, dir, conn := openWithConnection(t, cfg)
	oldLog, err := os.ReadFile(filepath.Join(dir, "log.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, oldLog)
	b.c.ok(http.StatusOK, http.MethodPatch, "/api/public/v1/connections/"+conn, map[string]any{"name": "renamed"})
	require.NoError(t, b.emu.Stop())
	logAfter, err := os.ReadFile(filepath.Join(dir, "log.jsonl"))
	require.NoError(t, err)
	require.Empty(t, logAfter, "Stop writes a snapshot and empties the log")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "log.jsonl"), oldLog, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json.123.tmp"), []byte("{half a snap"), 0o600))
	b2 := reopen(t, cfg, dir, t0)
	require.Equal(t, "renamed", b2.emu.Connections()[0].Name, "the old log does not undo the snapshot")
}

// Reset empties the data folder's state too.
func TestResetIsDurable(t *testing.T) {
	dir := t.TempDir()
	b := reopen(t, emulator.Config{}, dir, t0)
	b.createSource(t)
	b.emu.Reset()
	require.NoError(t, b.emu.Stop())
	b2 := reopen(t, emulator.Config{}, dir, t0)
	require.Empty(t, b2.emu.Sources())
}

// Open refuses a data folder it cannot read.
func TestOpenRejectsACorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), []byte("not json"), 0o600))
	_, err := emulator.Open(emulator.Config{DataDir: dir})
	require.ErrorContains(t, err, "state.json")
}
