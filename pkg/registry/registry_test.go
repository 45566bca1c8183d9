package registry_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/migrations"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

type testBundle struct {
	store *registry.Store
	ctx   context.Context
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	s := dbtest.NewSchema(t)
	return &testBundle{store: registry.NewStore(s.Pool), ctx: context.Background()}
}

func newConnection(t *testing.T, b *testBundle, requestID string) registry.Connection {
	t.Helper()
	c, created, err := b.store.ConnectionCreate(b.ctx, registry.ConnectionCreateParams{
		ID: registry.NewID(), Name: "Salesforce Production", SourceType: "Salesforce",
		CredentialID: "salesforce-prod", RequestSource: "/test", RequestID: requestID,
	})
	require.NoError(t, err)
	require.True(t, created)
	return c
}

// unmigrated is a schema of its own with no migration applied, and a
// database/sql handle on it for goose, closed when the test ends.
func unmigrated(t *testing.T) (*dbtest.Schema, *sql.DB) {
	t.Helper()
	s := dbtest.NewSchema(t, dbtest.Options{NoMigrate: true})
	db := stdlib.OpenDBFromPool(s.Pool)
	t.Cleanup(func() { _ = db.Close() })
	return s, db
}

func TestMigrationsUpDown(t *testing.T) {
	t.Parallel()
	s, db := unmigrated(t)
	ctx := context.Background()

	files, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	// The latest version is the highest file number (numbers may be
	// reserved ahead of the files that take them).
	var latest int64
	for _, f := range files {
		n, err := strconv.ParseInt(f[:strings.IndexByte(f, '_')], 10, 64)
		require.NoError(t, err, f)
		latest = max(latest, n)
	}
	v, err := migrations.Up(ctx, db, s.Name)
	require.NoError(t, err)
	require.Equal(t, latest, v)
	// Idempotent.
	v, err = migrations.Up(ctx, db, s.Name)
	require.NoError(t, err)
	require.Equal(t, latest, v)

	require.NoError(t, migrations.Down(ctx, db, s.Name))
	var n int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = $1 AND table_name <> 'goose_db_version'`, s.Name).Scan(&n))
	require.Zero(t, n, "down leaves no registry tables")

	_, err = migrations.Up(ctx, db, s.Name)
	require.NoError(t, err)
}

func TestConnectionCreateIsIdempotentPerRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "req-1")
	require.Equal(t, registry.StatusPending, c.Status)
	require.Equal(t, []string{}, c.RequestedStreams)

	again, created, err := b.store.ConnectionCreate(b.ctx, registry.ConnectionCreateParams{
		ID: registry.NewID(), Name: "other", SourceType: "Salesforce", RequestSource: "/test", RequestID: "req-1",
	})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, c.ID, again.ID)
	require.Equal(t, "Salesforce Production", again.Name)
}

func TestConnectionErrorsAreTranslated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.ConnectionGet(b.ctx, registry.NewID())
	require.ErrorIs(t, err, registry.ErrNotFound)
	_, err = b.store.ConnectionGet(b.ctx, "not-a-uuid")
	require.ErrorIs(t, err, registry.ErrNotFound)

	c := newConnection(t, b, "req-2")
	_, err = b.store.ConnectionSetStatus(b.ctx, c.ID, "BROKEN", "")
	require.ErrorIs(t, err, registry.ErrInvalid)
}

func TestConnectionCheckpointsAndActivate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "req-3")
	c, err := b.store.ConnectionSaveCheckpoint(b.ctx, c.ID, registry.ConnectionCheckpoint{
		Step: "source_created", AirbyteSourceDefinitionID: "def", AirbyteSourceID: "src-1",
	})
	require.NoError(t, err)
	c, err = b.store.ConnectionSaveCheckpoint(b.ctx, c.ID, registry.ConnectionCheckpoint{
		Step: "discovered", DiscoveredCatalog: json.RawMessage(`{"streams":[]}`), AirbyteSourceCatalogID: "cat-1",
	})
	require.NoError(t, err)
	require.Equal(t, "discovered", c.OnboardStep)
	require.Equal(t, "src-1", c.AirbyteSourceID, "empty fields keep earlier checkpoints")
	require.JSONEq(t, `{"streams":[]}`, string(c.DiscoveredCatalog))

	c, err = b.store.ConnectionActivate(b.ctx, c.ID, 1, "")
	require.NoError(t, err)
	require.Equal(t, registry.StatusActive, c.Status)
	require.Equal(t, 1, c.CatalogVersion)
	require.Equal(t, "cat-1", c.AirbyteSourceCatalogID)
	require.Nil(t, c.DiscoveredCatalog)
}

func TestConnectionListPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, newConnection(t, b, "page-"+string(rune('a'+i))).ID)
	}
	var got []string
	p := registry.ConnectionListParams{Limit: 2}
	for {
		page, err := b.store.ConnectionList(b.ctx, p)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		last := page[len(page)-1]
		p.AfterCreatedAt, p.AfterID = last.CreatedAt, last.ID
	}
	require.ElementsMatch(t, ids, got)
	require.Len(t, got, 5)
}

func TestCatalogVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "req-4")
	v1, err := b.store.CatalogVersionCreate(b.ctx, registry.CatalogVersionCreateParams{
		ConnectionID: c.ID, VersionNumber: 1, SyncCatalog: json.RawMessage(`{"streams":[{"b":1,"a":2}]}`),
		Reason: "onboarded", RequestSource: "/test", RequestID: "req-4",
	})
	require.NoError(t, err)
	h, err := registry.CatalogHash(json.RawMessage(`{ "streams": [ {"a":2, "b":1} ] }`))
	require.NoError(t, err)
	require.Equal(t, v1.ContentHash, h, "hash ignores key order and whitespace")

	_, err = b.store.CatalogVersionCreate(b.ctx, registry.CatalogVersionCreateParams{
		ConnectionID: c.ID, VersionNumber: 1, SyncCatalog: json.RawMessage(`{}`),
	})
	require.ErrorIs(t, err, registry.ErrConflict)
	var re *registry.Error
	require.True(t, errors.As(err, &re))
	require.Equal(t, "sync_catalog_versions_number_key", re.Constraint)

	_, err = b.store.CatalogVersionCreate(b.ctx, registry.CatalogVersionCreateParams{
		ConnectionID: c.ID, VersionNumber: 2, SyncCatalog: json.RawMessage(`{"streams":[]}`),
	})
	require.NoError(t, err)
	latest, err := b.store.CatalogVersionLatest(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 2, latest.VersionNumber)
	list, err := b.store.CatalogVersionList(b.ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	_, err = b.store.CatalogVersionGet(b.ctx, c.ID, 3)
	require.ErrorIs(t, err, registry.ErrNotFound)
}

func TestInboxAndTransactions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	entry := registry.InboxEntry{Source: "/test", ID: "r1", Type: events.TypeSyncRequested, Outcome: registry.OutcomeDone}

	ok, err := b.store.InboxInsert(b.ctx, entry)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.store.InboxInsert(b.ctx, entry)
	require.NoError(t, err)
	require.False(t, ok, "second insert of one request is a duplicate")

	// A failed transaction leaves nothing behind.
	boom := errors.New("boom")
	err = b.store.InTx(b.ctx, func(q *registry.Queries) error {
		_, err := q.InboxInsert(b.ctx, registry.InboxEntry{Source: "/test", ID: "r2", Type: "t", Outcome: registry.OutcomeDone})
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = b.store.InboxGet(b.ctx, "/test", "r2")
	require.ErrorIs(t, err, registry.ErrNotFound)
}

func TestOutboxQueueAndNotify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kicked := make(chan struct{}, 10)
	b.store.OnOutboxCommit(func() { kicked <- struct{}{} })

	ev, err := events.New(events.TypeSyncStarted, "/aam/sync", events.SyncStarted{ConnectionID: "c", JobID: "1"},
		events.WithSubject("c"), events.WithCorrelationID("req-9"))
	require.NoError(t, err)
	row, err := outbox.Encode(events.SubjectSyncStarted, ev)
	require.NoError(t, err)
	err = b.store.InTx(b.ctx, func(q *registry.Queries) error {
		ok, err := q.OutboxAdd(b.ctx, row)
		require.True(t, ok)
		if err != nil {
			return err
		}
		ok, err = q.OutboxAdd(b.ctx, row)
		require.False(t, ok, "one event id is queued once")
		return err
	})
	require.NoError(t, err)
	select {
	case <-kicked:
	case <-time.After(time.Second):
		t.Fatal("no outbox commit notification")
	}

	pending, err := b.store.OutboxPending(b.ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	m := pending[0]
	require.Equal(t, ev.ID(), m.EventID)
	require.Equal(t, "req-9", m.CorrelationID)
	require.Equal(t, "c", m.ConnectionID)
	got, err := outbox.Decode(m.OutboxRow)
	require.NoError(t, err)
	require.Equal(t, ev.ID(), got.ID())
	require.Equal(t, ev.ID(), outbox.Msg(m.OutboxRow).Header.Get(events.HeaderMsgID))

	require.False(t, m.Published)
	require.NoError(t, b.store.OutboxMarkPublished(b.ctx, []int64{m.Seq}))
	pending, err = b.store.OutboxPending(b.ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
	byCorr, err := b.store.OutboxByCorrelation(b.ctx, "req-9")
	require.NoError(t, err)
	require.Len(t, byCorr, 1)
	require.True(t, byCorr[0].Published)
}

func TestJobClaimsDoNotOverlap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "req-5")
	now := time.Now()
	for i := range 20 {
		_, created, err := b.store.JobCreate(b.ctx, registry.JobCreateParams{
			ConnectionID: c.ID, AirbyteJobID: string(rune('A' + i)), Status: registry.JobPending,
			CatalogVersion: 1, NextCheckAt: &now,
		})
		require.NoError(t, err)
		require.True(t, created)
	}
	_, created, err := b.store.JobCreate(b.ctx, registry.JobCreateParams{
		ConnectionID: c.ID, AirbyteJobID: "A", Status: registry.JobPending, CatalogVersion: 1,
	})
	require.NoError(t, err)
	require.False(t, created)

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				jobs, err := b.store.JobClaimDue(b.ctx, time.Now(), time.Hour, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					seen[j.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, 20)
	for id, n := range seen {
		require.Equal(t, 1, n, "job %s claimed %d times", id, n)
	}
}

func TestJobRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "req-6")
	j, _, err := b.store.JobCreate(b.ctx, registry.JobCreateParams{ConnectionID: c.ID, AirbyteJobID: "42", Status: registry.JobRunning, CatalogVersion: 1})
	require.NoError(t, err)
	ok, err := b.store.JobRequestAdd(b.ctx, registry.JobRequest{JobID: j.ID, RequestSource: "/s", RequestID: "a"})
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.store.JobRequestAdd(b.ctx, registry.JobRequest{JobID: j.ID, RequestSource: "/s", RequestID: "a"})
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = b.store.JobRequestAdd(b.ctx, registry.JobRequest{JobID: j.ID, RequestSource: "/s", RequestID: "b", Attached: true})
	require.NoError(t, err)
	require.True(t, ok)
	reqs, err := b.store.JobRequestList(b.ctx, j.ID)
	require.NoError(t, err)
	require.Len(t, reqs, 2)
	active, err := b.store.JobActiveForConnection(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, j.ID, active.ID)

	done := time.Now()
	j, err = b.store.JobUpdate(b.ctx, j.ID, registry.JobUpdateParams{Status: registry.JobSucceeded, CompletedAt: &done, RowsSynced: 10, BytesSynced: 100})
	require.NoError(t, err)
	require.True(t, j.Status.Terminal())
	_, err = b.store.JobActiveForConnection(b.ctx, c.ID)
	require.ErrorIs(t, err, registry.ErrNotFound)
}

// TestVolumeHistory keeps successful jobs' stream stats and reads the
// history judging needs: as deep as asked, deeper when the policy's window
// asks for it, the job itself left out; and an anomaly opens once per
// stream and kind until closed.
func TestVolumeHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "volume")
	start := time.Now().Add(-time.Hour)
	record := func(n int, depth int) (registry.Job, registry.VolumeHistory) {
		t.Helper()
		j, _, err := b.store.JobCreate(b.ctx, registry.JobCreateParams{ConnectionID: c.ID, AirbyteJobID: strconv.Itoa(n),
			Status: registry.JobRunning, CatalogVersion: 1})
		require.NoError(t, err)
		started, ended := start.Add(time.Duration(n)*time.Minute), start.Add(time.Duration(n)*time.Minute+time.Duration(n)*time.Second)
		j, err = b.store.JobUpdate(b.ctx, j.ID, registry.JobUpdateParams{Status: registry.JobSucceeded, StartedAt: &started, CompletedAt: &ended})
		require.NoError(t, err)
		h, err := b.store.SuccessRecord(b.ctx, j, []registry.StreamStat{{Stream: "Account", Records: int64(n), Bytes: 10}}, depth)
		require.NoError(t, err)
		return j, h
	}
	_, err := b.store.HealthFailed(b.ctx, c.ID)
	require.NoError(t, err)
	for n := 1; n <= 12; n++ {
		record(n, 3)
	}
	health, err := b.store.HealthGet(b.ctx, c.ID)
	require.NoError(t, err)
	require.Zero(t, health.ConsecutiveFailures, "a success ends the run of failures")
	require.NotNil(t, health.LastSuccessAt)
	j, h := record(13, 3)
	require.Nil(t, h.Policy)
	require.Equal(t, map[string][]int64{"Account": {12, 11, 10}}, h.Records, "newest first, the job left out")
	require.Equal(t, []int64{12000, 11000, 10000}, h.Durations)
	require.Empty(t, h.Open)

	// Recording the job again keeps its first rows.
	again, err := b.store.SuccessRecord(b.ctx, j, []registry.StreamStat{{Stream: "Account", Records: 999}}, 3)
	require.NoError(t, err)
	require.Equal(t, h.Records, again.Records)
	stats, err := b.store.StatsList(b.ctx, c.ID, 1)
	require.NoError(t, err)
	require.Equal(t, []registry.StreamStat{{Stream: "Account", Records: 13, Bytes: 10}}, stats[0].Streams)

	_, _, err = b.store.PolicyCreate(b.ctx, c.ID, []byte(`{"rules":[],"health":{"anomalies":{"window":5}}}`), "", "")
	require.NoError(t, err)
	_, h = record(14, 3)
	require.NotNil(t, h.Policy)
	require.Len(t, h.Records["Account"], 5, "the policy's window")
	require.Len(t, h.Durations, 5)

	a := registry.Anomaly{ConnectionID: c.ID, JobID: j.ID, AirbyteJobID: j.AirbyteJobID, Stream: "Account", Kind: "drop",
		Metric: "records", Observed: 1, ExpectedMin: 5, ExpectedMax: 30, Median: 10, HistoryJobs: 10}
	opened, ok, err := b.store.AnomalyOpen(b.ctx, a)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = b.store.AnomalyOpen(b.ctx, a)
	require.NoError(t, err)
	require.False(t, ok, "one open anomaly per stream and kind")
	next, h := record(15, 3)
	require.Len(t, h.Open, 1)
	require.NoError(t, b.store.AnomalyClose(b.ctx, next.ID, []string{opened.ID}))
	open, err := b.store.AnomalyListOpen(b.ctx, c.ID)
	require.NoError(t, err)
	require.Empty(t, open)
	_, ok, err = b.store.AnomalyOpen(b.ctx, a)
	require.NoError(t, err)
	require.True(t, ok, "a new one once the last is closed")
}

// TestVolumeHistoryOfManyStreams: each of the job's streams gets the
// records of the earlier jobs that synced it, newest first; a stream an
// earlier job did not sync has no entry for it, and a stream the job does
// not sync is not read.
func TestVolumeHistoryOfManyStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "volume-streams")
	start := time.Now().Add(-time.Hour)
	record := func(n int, streams ...registry.StreamStat) registry.VolumeHistory {
		t.Helper()
		j, _, err := b.store.JobCreate(b.ctx, registry.JobCreateParams{ConnectionID: c.ID, AirbyteJobID: strconv.Itoa(n),
			Status: registry.JobRunning, CatalogVersion: 1})
		require.NoError(t, err)
		started, ended := start.Add(time.Duration(n)*time.Minute), start.Add(time.Duration(n)*time.Minute+time.Second)
		j, err = b.store.JobUpdate(b.ctx, j.ID, registry.JobUpdateParams{Status: registry.JobSucceeded, StartedAt: &started, CompletedAt: &ended})
		require.NoError(t, err)
		h, err := b.store.SuccessRecord(b.ctx, j, streams, 10)
		require.NoError(t, err)
		return h
	}
	h := record(1, registry.StreamStat{Stream: "Account", Records: 1})
	require.Empty(t, h.Records)
	require.Empty(t, h.Durations)
	record(2, registry.StreamStat{Stream: "Contact", Records: 20}, registry.StreamStat{Stream: "Account", Records: 2},
		registry.StreamStat{Stream: "Lead", Records: 200})
	record(3, registry.StreamStat{Stream: "Account", Records: 3})
	h = record(4, registry.StreamStat{Stream: "Contact", Records: 40}, registry.StreamStat{Stream: "Account", Records: 4})
	require.Equal(t, map[string][]int64{"Account": {3, 2, 1}, "Contact": {20}}, h.Records)
	require.Equal(t, []int64{1000, 1000, 1000}, h.Durations)
}

// TestMigrationJobVolumes: 00021 folds a job's per-stream rows into one
// job_volumes row (streams sorted, their records and bytes in the same
// order), and its down migration gives the rows back.
func TestMigrationJobVolumes(t *testing.T) {
	t.Parallel()
	s, db := unmigrated(t)
	ctx := context.Background()
	p, err := migrations.Provider(db, s.Name)
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 20)
	require.NoError(t, err)

	conn, job := "0b7f1d8e-2c35-4a61-9d1e-6f0a3b5c7d21", "5e2a9c4b-1f36-4d78-8a0b-3c6e9f1d2b47"
	_, err = s.Pool.Exec(ctx, `INSERT INTO connections (id, name, source_type, request_source, request_id) VALUES ($1, 'c', 'salesforce', 's', 'r')`, conn)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO job_history (id, connection_id, airbyte_job_id, status, catalog_version, completed_at)
		VALUES ($1, $2, '7', 'succeeded', 1, '2026-01-02T03:04:05Z')`, job, conn)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO job_stream_stats (job_id, connection_id, stream, records, bytes, completed_at)
		VALUES ($1, $2, 'Contact', 10, 100, '2026-01-02T03:04:05Z'), ($1, $2, 'Account', 2, 20, '2026-01-02T03:04:05Z')`, job, conn)
	require.NoError(t, err)

	_, err = p.UpTo(ctx, 21)
	require.NoError(t, err)
	var streams []string
	var records, bytes []int64
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT streams, records, bytes FROM job_volumes WHERE job_id = $1`, job).
		Scan(&streams, &records, &bytes))
	require.Equal(t, []string{"Account", "Contact"}, streams)
	require.Equal(t, []int64{2, 10}, records)
	require.Equal(t, []int64{20, 100}, bytes)

	_, err = p.DownTo(ctx, 20)
	require.NoError(t, err)
	r, err := s.Pool.Query(ctx, `SELECT stream || ':' || records || ':' || bytes FROM job_stream_stats WHERE job_id = $1 ORDER BY stream`, job)
	require.NoError(t, err)
	rows, err := pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"Account:2:20", "Contact:10:100"}, rows)
}
