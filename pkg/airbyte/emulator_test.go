package airbyte_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/airbytespec"
	"github.com/aam-mesh/aam/pkg/airbytespec/airbytespectest"
	"github.com/aam-mesh/aam/pkg/emulator"
)

var emuStart = time.Date(2025, 9, 16, 20, 13, 24, 0, time.UTC)

// emuBundle is an Airbyte emulator behind an httptest server and a client for it.
type emuBundle struct {
	emu    *emulator.Emulator
	clock  *emulator.ManualClock
	srv    *httptest.Server
	client *airbyte.Client

	mu     sync.Mutex
	waits  []time.Duration
	reqs   []airbyte.RequestInfo
	states []airbyte.BreakerState
}

type emuOpts struct {
	emu      emulator.Config
	client   func(*airbyte.Config)
	validate bool // validate every exchange against Airbyte's OpenAPI documents
}

func setupEmulator(t *testing.T, o emuOpts) *emuBundle {
	t.Helper()
	var specs *airbytespec.Specs
	if o.validate {
		specs = airbytespectest.Specs(t) // skips, saying why, when the documents are absent
	}
	clock := emulator.NewManualClock(emuStart)
	o.emu.Clock = clock
	o.emu.Seed = 7
	emu := emulator.New(o.emu)
	srv := httptest.NewServer(emu.Handler())

	base := http.DefaultTransport.(*http.Transport).Clone()
	var rt http.RoundTripper = base
	if o.validate {
		rt = airbytespectest.Transport(t, specs, base)
	}
	t.Cleanup(func() {
		emu.Close()
		srv.Close()
		base.CloseIdleConnections()
	})

	b := &emuBundle{emu: emu, clock: clock, srv: srv}
	cfg := airbyte.Config{
		BaseURL:      srv.URL + "/api/public/v1",
		ClientID:     emulator.DefaultClientID,
		ClientSecret: airbyte.NewSecret(emulator.DefaultClientSecret),
		HTTPClient:   &http.Client{Transport: rt},
		RateLimit:    -1,
		Timeout:      5 * time.Second,
	}
	if o.client != nil {
		o.client(&cfg)
	}
	c, err := airbyte.New(cfg, airbyte.WithObserver(airbyte.ObserverFuncs{
		Request: func(i airbyte.RequestInfo) { b.mu.Lock(); b.reqs = append(b.reqs, i); b.mu.Unlock() },
		Breaker: func(ch airbyte.BreakerChange) { b.mu.Lock(); b.states = append(b.states, ch.To); b.mu.Unlock() },
	}))
	require.NoError(t, err)
	airbyte.SetSleep(c, func(ctx context.Context, d time.Duration) error {
		b.mu.Lock()
		b.waits = append(b.waits, d)
		b.mu.Unlock()
		return ctx.Err()
	})
	b.client = c
	return b
}

func (b *emuBundle) count(pred func(airbyte.RequestInfo) bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, r := range b.reqs {
		if pred(r) {
			n++
		}
	}
	return n
}

func (b *emuBundle) tokenRequests() int {
	return b.count(func(r airbyte.RequestInfo) bool { return r.Operation == "createAccessToken" })
}

func (b *emuBundle) recordedWaits() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Duration(nil), b.waits...)
}

func salesforceConfig() map[string]any {
	return map[string]any{
		"client_id": "3MVG9-acme", "client_secret": "acme-sf-client-secret", "refresh_token": "acme-sf-refresh-token",
		"is_sandbox": false, "start_date": "2024-01-01T00:00:00Z",
	}
}

// pollAdvancing waits for a job, moving the emulator's clock on each poll.
func (b *emuBundle) pollAdvancing(t *testing.T, jobID int64) *airbyte.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := b.client.WaitForJob(ctx, jobID, airbyte.WaitOptions{
		PollInterval: time.Second,
		OnPoll:       func(*airbyte.Job) { b.clock.Advance(2 * time.Second) },
	})
	require.NoError(t, err)
	return job
}

// runSeedFlow walks what the workers do: onboard (definition → source →
// discover → connection), sync (job → status → failure reason → cancel),
// repair (connection catalog → discover → update) and observe (discover
// with the connection, diff).
func runSeedFlow(t *testing.T, b *emuBundle) {
	ctx := context.Background()
	c, api := b.client, b.client.ConfigAPI()
	ws := b.emu.WorkspaceID()

	// Onboard.
	def, err := c.FindSourceDefinition(ctx, ws, "Salesforce")
	require.NoError(t, err)
	require.Equal(t, emulator.SalesforceDefinitionID, def.ID)

	const sourceName = "aam-acme-salesforce"
	_, err = c.FindSourceByName(ctx, ws, sourceName)
	require.True(t, airbyte.IsNotFound(err), "err = %v", err)
	src, err := c.CreateSource(ctx, airbyte.SourceCreateRequest{
		Name: sourceName, DefinitionID: def.ID, WorkspaceID: ws, Configuration: salesforceConfig(),
	})
	require.NoError(t, err)
	require.Equal(t, "salesforce", src.SourceType)
	var masked map[string]any
	require.NoError(t, json.Unmarshal(src.Configuration, &masked))
	require.Equal(t, "**********", masked["client_secret"])
	require.False(t, src.CreatedAt.Time().IsZero())

	found, err := c.FindSourceByName(ctx, ws, sourceName)
	require.NoError(t, err)
	require.Equal(t, src.SourceID, found.SourceID)

	// A create that Airbyte refuses names the problem without the secrets.
	bad := salesforceConfig()
	delete(bad, "refresh_token")
	_, err = c.CreateSource(ctx, airbyte.SourceCreateRequest{Name: "broken", DefinitionID: def.ID, WorkspaceID: ws, Configuration: bad})
	require.True(t, airbyte.IsValidation(err), "err = %v", err)
	require.NotContains(t, err.Error(), "acme-sf-client-secret")

	disc, err := api.DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: src.SourceID})
	require.NoError(t, err)
	require.NotEmpty(t, disc.CatalogID)
	require.NotNil(t, disc.JobInfo)
	account, ok := disc.Catalog.Stream("Account", "")
	require.True(t, ok)
	require.Equal(t, [][]string{{"Id"}}, account.Stream.SourceDefinedPrimaryKey)
	require.Equal(t, []string{"SystemModstamp"}, account.Stream.DefaultCursorField)

	dest, err := c.GetDestination(ctx, b.emu.DestinationID())
	require.NoError(t, err)
	dests, err := c.ListAllDestinations(ctx, airbyte.ListParams{WorkspaceIDs: []string{ws}})
	require.NoError(t, err)
	require.Len(t, dests, 1)

	props, err := c.GetStreamProperties(ctx, airbyte.StreamPropertiesParams{SourceID: src.SourceID, DestinationID: dest.DestinationID})
	require.NoError(t, err)
	require.NotEmpty(t, props)

	const connName = "aam-acme-salesforce-to-warehouse"
	conn, err := c.CreateConnection(ctx, airbyte.ConnectionCreateRequest{
		Name: connName, SourceID: src.SourceID, DestinationID: dest.DestinationID,
		Configurations: &airbyte.StreamConfigurations{Streams: []airbyte.StreamConfiguration{
			{Name: "Account", SyncMode: airbyte.SyncModeIncrementalDedupedHistory},
			{Name: "Contact", SyncMode: airbyte.SyncModeIncrementalAppend},
		}},
		Schedule:                         &airbyte.ConnectionSchedule{ScheduleType: airbyte.ScheduleManual},
		NonBreakingSchemaUpdatesBehavior: airbyte.SchemaUpdatesIgnore,
	})
	require.NoError(t, err)
	require.Equal(t, airbyte.ConnectionActive, conn.Status)
	require.Len(t, conn.Configurations.Streams, 2)

	foundConn, err := c.FindConnectionByName(ctx, ws, connName)
	require.NoError(t, err)
	require.Equal(t, conn.ConnectionID, foundConn.ConnectionID)
	got, err := c.GetConnection(ctx, conn.ConnectionID)
	require.NoError(t, err)
	require.Equal(t, connName, got.Name)

	// Sync.
	job, started, err := c.StartSyncOrGetRunning(ctx, conn.ConnectionID)
	require.NoError(t, err)
	require.True(t, started)
	require.False(t, job.Status.IsTerminal())

	_, err = c.StartSync(ctx, conn.ConnectionID)
	require.True(t, airbyte.IsSyncRunning(err), "err = %v", err)
	again, started, err := c.StartSyncOrGetRunning(ctx, conn.ConnectionID)
	require.NoError(t, err)
	require.False(t, started)
	require.Equal(t, job.JobID, again.JobID)

	done := b.pollAdvancing(t, job.JobID)
	require.Equal(t, airbyte.JobStatusSucceeded, done.Status)
	require.Positive(t, done.RowsSynced)
	d, err := done.Duration.Duration()
	require.NoError(t, err)
	require.Positive(t, d)
	info, err := api.GetJob(ctx, job.JobID)
	require.NoError(t, err)
	require.Equal(t, airbyte.JobStatusSucceeded, info.Job.Status)
	require.Empty(t, info.FailureMessage())
	requirePublicView(t, c, info)

	b.emu.FailNextJobs(1)
	failing, err := c.StartSync(ctx, conn.ConnectionID)
	require.NoError(t, err)
	failed := b.pollAdvancing(t, failing.JobID)
	require.Equal(t, airbyte.JobStatusFailed, failed.Status)
	finfo, err := api.GetJob(ctx, failing.JobID)
	require.NoError(t, err)
	require.NotEmpty(t, finfo.FailureMessage())
	require.Len(t, finfo.Attempts, b.emu.Config().MaxAttempts)
	requirePublicView(t, c, finfo)

	running, err := c.StartSync(ctx, conn.ConnectionID)
	require.NoError(t, err)
	cancelled, err := c.CancelJob(ctx, running.JobID)
	require.NoError(t, err)
	require.Equal(t, airbyte.JobStatusCancelled, cancelled.Status)
	again, err = c.CancelJob(ctx, running.JobID) // no longer running: returned as it is
	require.NoError(t, err)
	require.Equal(t, airbyte.JobStatusCancelled, again.Status)
	cinfo, err := api.GetJob(ctx, running.JobID)
	require.NoError(t, err)
	requirePublicView(t, c, cinfo)
	pending, err := c.StartSync(ctx, conn.ConnectionID)
	require.NoError(t, err)
	pinfo, err := api.GetJob(ctx, pending.JobID)
	require.NoError(t, err)
	requirePublicView(t, c, pinfo)
	_, err = c.CancelJob(ctx, pending.JobID)
	require.NoError(t, err)

	_, err = c.GetJob(ctx, 987654)
	require.True(t, airbyte.IsJobNotFound(err), "err = %v", err)

	jobs, err := collectJobs(c.Jobs(ctx, airbyte.JobListParams{ConnectionID: conn.ConnectionID, Limit: 2}))
	require.NoError(t, err)
	require.Len(t, jobs, 4)

	// The follower's list: the workspace's ended sync jobs, newest change
	// first, each as the public API answers it.
	ended, err := api.ListJobsForWorkspaces(ctx, airbyte.JobListForWorkspacesRequest{
		ConfigTypes: []airbyte.JobConfigType{airbyte.JobConfigSync}, WorkspaceIDs: []string{ws},
		Statuses:       []airbyte.JobStatus{airbyte.JobStatusSucceeded, airbyte.JobStatusFailed, airbyte.JobStatusCancelled},
		UpdatedAtStart: &emuStart, OrderByField: "updatedAt", OrderByMethod: "DESC",
		Pagination: &airbyte.Pagination{PageSize: 200},
	})
	require.NoError(t, err)
	require.Len(t, ended.Jobs, 4, "the succeeded, failed and two cancelled jobs")
	for _, lj := range ended.Jobs {
		require.True(t, lj.Job.Status.IsTerminal(), "job %d is %s", lj.Job.ID, lj.Job.Status)
		requirePublicView(t, c, &airbyte.JobInfoRead{Job: lj.Job})
	}

	// Repair: apply the source's new schema to the connection.
	require.NoError(t, b.emu.MutateSchema(src.SourceID, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c", Type: "string"}))
	before, err := api.GetConnection(ctx, conn.ConnectionID)
	require.NoError(t, err)
	require.Len(t, before.SyncCatalog.Streams, 2)
	fresh, err := api.DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: src.SourceID})
	require.NoError(t, err)
	require.NotEqual(t, before.SourceCatalogID, fresh.CatalogID)
	newAccount, ok := fresh.Catalog.Stream("Account", "")
	require.True(t, ok)
	catalog := before.SyncCatalog
	for i := range catalog.Streams {
		if catalog.Streams[i].Stream.Name == "Account" {
			catalog.Streams[i].Stream = newAccount.Stream
		}
	}
	no := false
	updated, err := api.UpdateConnection(ctx, airbyte.ConnectionUpdate{
		ConnectionID: conn.ConnectionID, SyncCatalog: &catalog, SourceCatalogID: fresh.CatalogID, BreakingChange: &no,
	})
	require.NoError(t, err)
	require.Equal(t, fresh.CatalogID, updated.SourceCatalogID)
	require.False(t, updated.BreakingChange)
	acc, ok := updated.SyncCatalog.Stream("Account", "")
	require.True(t, ok)
	require.Contains(t, string(acc.Stream.JSONSchema), "Region__c")

	// Observe: a discover with the connection reports the diff.
	require.NoError(t, b.emu.MutateSchema(src.SourceID, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "string"}))
	obs, err := api.DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: src.SourceID, ConnectionID: conn.ConnectionID})
	require.NoError(t, err)
	require.False(t, obs.CatalogDiff.IsEmpty())
	require.False(t, obs.CatalogDiff.HasBreakingChange())
	require.Equal(t, airbyte.TransformUpdateStream, obs.CatalogDiff.Transforms[0].TransformType)
	ft := obs.CatalogDiff.Transforms[0].UpdateStream.FieldTransforms[0]
	require.Equal(t, airbyte.TransformUpdateFieldSchema, ft.TransformType)
	require.Equal(t, []string{"AnnualRevenue"}, ft.FieldName)

	// A token expiring in the middle changes nothing for the caller.
	b.emu.ExpireTokens()
	_, err = c.GetSource(ctx, src.SourceID)
	require.NoError(t, err)
}

// requirePublicView asserts that the configuration API's job, seen as the
// public API answers it, is what GET /jobs/{id} answers.
func requirePublicView(t *testing.T, c *airbyte.Client, info *airbyte.JobInfoRead) {
	t.Helper()
	want, err := c.GetJob(context.Background(), info.Job.ID)
	require.NoError(t, err)
	got := info.Job.Public()
	for _, ts := range [][2]airbyte.ISOTime{{want.StartTime, got.StartTime}, {want.LastUpdatedAt, got.LastUpdatedAt}} {
		w, err := ts[0].Time()
		require.NoError(t, err)
		g, err := ts[1].Time()
		require.NoError(t, err)
		require.True(t, w.Equal(g), "time %q, public %q", ts[1], ts[0])
	}
	wd, err := want.Duration.Duration()
	require.NoError(t, err)
	gd, err := got.Duration.Duration()
	require.NoError(t, err)
	require.Equal(t, wd, gd)
	require.Equal(t, want.Duration == "", got.Duration == "", "duration present")
	got.StartTime, got.LastUpdatedAt, got.Duration = want.StartTime, want.LastUpdatedAt, want.Duration
	require.Equal(t, *want, got)
}

func collectJobs(seq func(func(airbyte.Job, error) bool)) ([]airbyte.Job, error) {
	var out []airbyte.Job
	for j, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

var jobDurations = emulator.Config{JobPending: time.Second, JobRunning: 3 * time.Second, JobRetryDelay: time.Second}

func TestEmulatorSeedFlow(t *testing.T) {
	t.Parallel()
	b := setupEmulator(t, emuOpts{emu: jobDurations})
	runSeedFlow(t, b)
}

func TestEmulatorSeedFlowCancelConflict(t *testing.T) {
	t.Parallel()
	cfg := jobDurations
	cfg.CancelTerminalConflict = true // DELETE on an ended job answers 409
	b := setupEmulator(t, emuOpts{emu: cfg})
	runSeedFlow(t, b)
}

// TestContractSeedFlow validates every request the client sends in the
// workers' flows, and every answer, against Airbyte's OpenAPI documents. It
// is skipped, and says so, when the documents are absent.
func TestContractSeedFlow(t *testing.T) {
	t.Parallel()
	b := setupEmulator(t, emuOpts{emu: jobDurations, validate: true})
	runSeedFlow(t, b)
	require.Positive(t, b.count(func(r airbyte.RequestInfo) bool { return r.API == airbyte.APIConfig }))
}

func TestEmulatorRetriesThroughBursts(t *testing.T) {
	t.Parallel()
	b := setupEmulator(t, emuOpts{emu: jobDurations, client: func(c *airbyte.Config) {
		c.MaxAttempts = 12
		c.BreakerFailures = -1
	}})
	ctx := context.Background()
	src, err := b.client.CreateSource(ctx, airbyte.SourceCreateRequest{
		Name: "aam-burst", DefinitionID: emulator.SalesforceDefinitionID, WorkspaceID: b.emu.WorkspaceID(), Configuration: salesforceConfig(),
	})
	require.NoError(t, err)

	b.emu.SetFaults(emulator.Faults{ErrorRate: 0.3, ErrorStatus: http.StatusBadGateway, RateLimitRate: 0.3})
	for range 20 {
		got, err := b.client.GetSource(ctx, src.SourceID)
		require.NoError(t, err)
		require.Equal(t, src.SourceID, got.SourceID)
		_, err = b.client.ConfigAPI().GetConnection(ctx, "00000000-0000-4000-8000-000000000000")
		require.True(t, airbyte.IsNotFound(err), "err = %v", err)
	}
	require.Positive(t, b.count(func(r airbyte.RequestInfo) bool { return r.StatusCode == http.StatusBadGateway }))
	require.Positive(t, b.count(func(r airbyte.RequestInfo) bool { return r.StatusCode == http.StatusTooManyRequests }))

	// Creates go through load shedding (429) but are never resent after a 502.
	b.emu.SetFaults(emulator.Faults{RateLimitRate: 0.5, Path: "/api/public/v1/sources"})
	for i := range 5 {
		_, err := b.client.CreateSource(ctx, airbyte.SourceCreateRequest{
			Name: "aam-shed-" + string(rune('a'+i)), DefinitionID: emulator.SalesforceDefinitionID, WorkspaceID: b.emu.WorkspaceID(),
			Configuration: salesforceConfig(),
		})
		require.NoError(t, err)
	}
	require.Len(t, b.emu.Sources(), 6, "no create was duplicated")

	b.emu.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusBadGateway, Path: "/api/public/v1/sources"})
	before := b.count(func(r airbyte.RequestInfo) bool { return r.Operation == "createSource" })
	_, err = b.client.CreateSource(ctx, airbyte.SourceCreateRequest{
		Name: "aam-gateway", DefinitionID: emulator.SalesforceDefinitionID, WorkspaceID: b.emu.WorkspaceID(), Configuration: salesforceConfig(),
	})
	require.Error(t, err)
	require.True(t, airbyte.IsRetryable(err))
	require.Equal(t, before+1, b.count(func(r airbyte.RequestInfo) bool { return r.Operation == "createSource" }))
}

func TestEmulatorRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	b := setupEmulator(t, emuOpts{client: func(c *airbyte.Config) { c.MaxAttempts = 20; c.BreakerFailures = -1 }})
	b.emu.SetFaults(emulator.Faults{RateLimitRate: 0.6, RetryAfter: 3 * time.Second})
	ctx := context.Background()
	for range 5 {
		_, err := b.client.ListSourceDefinitions(ctx, b.emu.WorkspaceID())
		require.NoError(t, err)
	}
	waits := b.recordedWaits()
	require.NotEmpty(t, waits)
	for _, w := range waits {
		require.GreaterOrEqual(t, w, 3*time.Second)
	}
}

func TestEmulatorBreakerOpensAndHalfOpens(t *testing.T) {
	t.Parallel()
	b := setupEmulator(t, emuOpts{client: func(c *airbyte.Config) {
		c.MaxAttempts = 1
		c.BreakerFailures = 3
		c.BreakerOpenTimeout = 100 * time.Millisecond
	}})
	ctx := context.Background()
	ws := b.emu.WorkspaceID()
	_, err := b.client.GetWorkspace(ctx, ws)
	require.NoError(t, err)

	b.emu.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	for range 3 {
		_, err := b.client.GetWorkspace(ctx, ws)
		require.Error(t, err)
		require.NotErrorIs(t, err, airbyte.ErrCircuitOpen)
	}
	sent := len(b.reqs)
	_, err = b.client.GetWorkspace(ctx, ws)
	require.ErrorIs(t, err, airbyte.ErrCircuitOpen)
	require.Len(t, b.reqs, sent, "an open breaker sends nothing")

	b.emu.SetFaults(emulator.Faults{})
	require.Eventually(t, func() bool { return b.client.BreakerState() == airbyte.BreakerHalfOpen }, 5*time.Second, 5*time.Millisecond)
	_, err = b.client.GetWorkspace(ctx, ws)
	require.NoError(t, err)
	require.Equal(t, airbyte.BreakerClosed, b.client.BreakerState())
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Equal(t, []airbyte.BreakerState{airbyte.BreakerOpen, airbyte.BreakerHalfOpen, airbyte.BreakerClosed}, b.states)
}

func TestEmulatorTimeouts(t *testing.T) {
	t.Parallel()
	b := setupEmulator(t, emuOpts{client: func(c *airbyte.Config) {
		c.Timeout = 100 * time.Millisecond
		c.MaxAttempts = 2
		c.BreakerFailures = -1
	}})
	ctx := context.Background()
	_, err := b.client.GetWorkspace(ctx, b.emu.WorkspaceID()) // token first, without faults
	require.NoError(t, err)
	b.emu.SetFaults(emulator.Faults{TimeoutRate: 1, Path: "/api/public/v1/sources"})

	var held atomic.Int32
	_, err = b.client.ListSources(ctx, airbyte.ListParams{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, airbyte.IsRetryable(err))
	held.Store(int32(b.count(func(r airbyte.RequestInfo) bool { return r.Operation == "listSources" })))
	require.EqualValues(t, 2, held.Load(), "an idempotent call is retried after a timeout")

	_, err = b.client.CreateSource(ctx, airbyte.SourceCreateRequest{
		Name: "aam-timeout", DefinitionID: emulator.SalesforceDefinitionID, WorkspaceID: b.emu.WorkspaceID(), Configuration: salesforceConfig(),
	})
	require.Error(t, err)
	require.Equal(t, 1, b.count(func(r airbyte.RequestInfo) bool { return r.Operation == "createSource" }),
		"a create that may have reached Airbyte is not resent")
}

func TestEmulatorTokenExpiryIsInvisible(t *testing.T) {
	t.Parallel()
	// expires_in says 15 min but the token dies after 3 (airbyte-api-python-sdk#118).
	b := setupEmulator(t, emuOpts{emu: emulator.Config{TokenLifetime: 3 * time.Minute}})
	ctx := context.Background()
	ws := b.emu.WorkspaceID()
	for range 4 {
		_, err := b.client.ListSourceDefinitions(ctx, ws)
		require.NoError(t, err)
		b.clock.Advance(4 * time.Minute)
	}
	require.Equal(t, 4, b.tokenRequests(), "one token, then one refresh per expiry")
	require.Equal(t, 3, b.count(func(r airbyte.RequestInfo) bool { return r.StatusCode == http.StatusUnauthorized }))

	b.emu.ExpireTokens()
	airbyte.CallsAtOnce(t, 8, func() error {
		_, err := b.client.GetWorkspace(ctx, ws)
		return err
	})
	require.Equal(t, 5, b.tokenRequests(), "concurrent 401s share one refresh")
}

func TestEmulatorBadCredentials(t *testing.T) {
	t.Parallel()
	for _, cloud := range []bool{false, true} {
		b := setupEmulator(t, emuOpts{emu: emulator.Config{CloudAuthErrors: cloud}, client: func(c *airbyte.Config) {
			c.ClientSecret = airbyte.NewSecret("not-the-secret")
		}})
		_, err := b.client.GetWorkspace(context.Background(), b.emu.WorkspaceID())
		require.True(t, airbyte.IsAuth(err), "cloud=%v err=%v", cloud, err)
		require.NotContains(t, err.Error(), "not-the-secret")
	}
}
