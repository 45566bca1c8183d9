package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/services/internal/cli"
	"github.com/aam-mesh/aam/services/internal/gateway"
)

// devProcess is an `aam dev` run as a child process of the test.
type devProcess struct {
	t        *testing.T
	dataDir  string
	gateway  string
	cmd      *exec.Cmd
	out      *syncBuffer
	env      []string
	httpAddr string
	// emulator and nats are the addresses of the stack's Airbyte emulator
	// and NATS server.
	emulator, nats string
}

// startDev starts aam dev on its own ports and data folder, with its
// registry in a schema of its own (DATABASE_URL unset), and waits until it
// is ready.
func startDev(t *testing.T, dataDir string, extra ...string) *devProcess {
	t.Helper()
	ports := freePorts(t, 4)
	env := []string{childEnv + "=1", "LOG_LEVEL=warn", "AAM_DEV_DATABASE=" + dbtest.BaseURL()}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "AIRBYTE_") {
			env = append(env, kv)
		}
	}
	p := &devProcess{t: t, dataDir: dataDir, gateway: "http://" + ports[2], env: env, httpAddr: ports[1],
		emulator: "http://" + ports[3], nats: "nats://" + ports[0]}
	p.cmd, p.out = runDev(t, env, p.httpAddr, 90*time.Second, append([]string{"--data-dir", dataDir, "--nats-addr", ports[0],
		"--http-addr", ports[1], "--gateway-addr", ports[2], "--emulator-addr", ports[3], "--emulator-jobs", "instant"}, extra...)...)
	return p
}

// stop stops the stack with SIGTERM and waits for it.
func (p *devProcess) stop() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(p.t, p.cmd.Wait(), "aam dev said:\n%s", p.out.String())
}

// reset runs aam dev --reset on the stack's data folder.
func (p *devProcess) reset() {
	p.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "dev", "--reset", "--data-dir", p.dataDir)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	require.NoError(p.t, err, "%s", out)
}

func (p *devProcess) call(method, path, body string) (int, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.gateway+path, strings.NewReader(body))
	require.NoError(p.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return resp.StatusCode, b
}

func (p *devProcess) onboard(name string) string {
	p.t.Helper()
	code, body := p.call(http.MethodPost, "/connections/onboard",
		`{"source_type":"Salesforce","connection_name":"`+name+`","credential_id":"salesforce-prod"}`)
	require.Equal(p.t, http.StatusOK, code, "%s", body)
	var c struct {
		ID string `json:"id"`
	}
	require.NoError(p.t, json.Unmarshal(body, &c))
	require.NotEmpty(p.t, c.ID, "%s", body)
	return c.ID
}

func (p *devProcess) connectionNames() []string {
	p.t.Helper()
	code, body := p.call(http.MethodGet, "/v1/connections", "")
	require.Equal(p.t, http.StatusOK, code, "%s", body)
	var list struct {
		Connections []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	require.NoError(p.t, json.Unmarshal(body, &list), "%s", body)
	var names []string
	for _, c := range list.Connections {
		names = append(names, c.Name)
	}
	return names
}

// TestDevStacksApart runs two stacks at once, on different data folders and
// ports, and shows that neither sees the other's connections or jobs; then
// that a second stack on a folder in use refuses at once, and that --reset
// empties a stack's registry.
func TestDevStacksApart(t *testing.T) {
	t.Parallel()
	a := startDev(t, filepath.Join(t.TempDir(), "a"))
	b := startDev(t, filepath.Join(t.TempDir(), "b"))

	idA := a.onboard("Stack A")
	idB := b.onboard("Stack B")
	require.Equal(t, []string{"Stack A"}, a.connectionNames())
	require.Equal(t, []string{"Stack B"}, b.connectionNames())

	code, body := a.call(http.MethodPost, "/connections/"+idA+"/sync", "")
	require.Equal(t, http.StatusOK, code, "%s", body)
	code, body = a.call(http.MethodGet, "/v1/connections/"+idA+"/jobs", "")
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.Contains(t, string(body), "succeeded")
	code, body = b.call(http.MethodGet, "/v1/connections/"+idA+"/jobs", "")
	require.Equal(t, http.StatusNotFound, code, "stack B reads stack A's jobs: %s", body)
	code, _ = a.call(http.MethodPost, "/v1/connections/"+idB+"/sync", "")
	require.Equal(t, http.StatusNotFound, code, "stack A syncs stack B's connection")

	// The same folder twice: the second refuses at once.
	second := exec.Command(os.Args[0], "-test.run=^$", "--", "dev", "--data-dir", a.dataDir, "--nats-addr", "127.0.0.1:0")
	second.Env = a.env
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = second.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = second.Process.Kill()
		t.Fatal("a second aam dev on a folder in use did not refuse")
	}
	require.Error(t, err)
	require.Contains(t, string(out), "is in use by another aam dev")

	// Reset empties the stack's registry: started again, it knows nothing.
	schema := schemaOf(t, a)
	a.stop()
	a.reset()
	require.False(t, schemaPresent(t, schema), "schema %s left after --reset", schema)
	a = startDev(t, a.dataDir)
	require.Empty(t, a.connectionNames())
	require.Equal(t, []string{"Stack B"}, b.connectionNames())
	a.stop()
	a.reset()
	b.stop()
	b.reset()
}

func schemaOf(t *testing.T, p *devProcess) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "stack.id"))
	require.NoError(t, err)
	return "aam_dev_" + strings.TrimSpace(string(b))
}

func schemaPresent(t *testing.T, schema string) bool {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbtest.BaseURL())
	require.NoError(t, err)
	defer c.Close(ctx)
	var n int
	require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n))
	return n == 1
}

// TestDevDriftStory runs the README's drift story in `aam dev`, its schema
// observer on a short interval and nobody asking for a check: a field added
// in the emulator is found by the schedule and propagated by the default
// policy (a new version whose reason names the rule); a field narrowed
// pauses the connection; approving it over HTTP applies the change and
// resumes; a rollback's dry run and the rollback itself go through the
// CLI. `aam drift ls` lists the drifts with their decisions, and the event
// stream holds the facts of each step.
func TestDevDriftStory(t *testing.T) {
	t.Parallel()
	const interval = 2 * time.Second
	p := startDev(t, t.TempDir(), "--observer-interval", interval.String())
	id := p.onboard("Drift story")
	get := func(path string, v any) {
		t.Helper()
		code, body := p.call(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, code, "%s", body)
		require.NoError(t, json.Unmarshal(body, v), "%s", body)
	}
	connection := func() gateway.Connection {
		var c gateway.Connection
		get("/v1/connections/"+id, &c)
		return c
	}
	versions := func() []gateway.CatalogVersion {
		var l gateway.CatalogVersionList
		get("/v1/connections/"+id+"/catalog/versions", &l)
		return l.Versions
	}
	waitVersion := func(n int) gateway.CatalogVersion {
		t.Helper()
		require.Eventually(t, func() bool { return len(versions()) >= n }, 30*interval, 100*time.Millisecond,
			"no catalog version %d; aam dev said:\n%s", n, p.out.String())
		return versions()[n-1]
	}
	mutate := func(op string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, p.emulator+"/_emulator/sources/"+connection().AirbyteSourceID+"/schema",
			strings.NewReader(op))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, op)
	}
	aam := func(args ...string) string {
		t.Helper()
		var out, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := cli.Execute(ctx, append(args, "--gateway", p.gateway), &out, &stderr)
		require.Equal(t, cli.ExitOK, code, "aam %s: %s", strings.Join(args, " "), stderr.String())
		return out.String()
	}

	// 1. A field added upstream: found by the schedule, propagated as
	// version 2 by the default policy, the rule in the reason.
	mutate(`{"op":"add_field","stream":"Account","field":"Region__c"}`)
	added := time.Now()
	v2 := waitVersion(2)
	t.Logf("field added → catalog version 2 in %s (observer interval %s)", time.Since(added).Round(100*time.Millisecond), interval)
	require.Contains(t, v2.Reason, "Region__c")
	require.Contains(t, v2.Reason, "(policy v0, rule propagate-columns)")
	require.Equal(t, "ACTIVE", connection().Status)

	// 2. A number narrowed to an integer: the connection is paused.
	mutate(`{"op":"change_type","stream":"Account","field":"AnnualRevenue","type":"integer"}`)
	require.Eventually(t, func() bool { return connection().Status == "PAUSED" }, 30*interval, 100*time.Millisecond,
		"not paused; aam dev said:\n%s", p.out.String())
	require.Contains(t, connection().StatusReason, "rule pause-breaking")

	// aam drift ls shows both drifts and what was decided.
	ls := aam("drift", "ls", id)
	require.Contains(t, ls, "propagate-columns")
	require.Contains(t, ls, "pause-breaking")
	require.Contains(t, ls, "type_narrowed")
	var drifts []gateway.Drift
	require.NoError(t, json.Unmarshal([]byte(aam("drift", "ls", id, "-o", "json")), &drifts))
	require.Len(t, drifts, 2)
	require.Equal(t, "propagated", drifts[0].Status)
	require.Equal(t, "paused", drifts[1].Status)

	// 3. Approved over HTTP: applied as version 3, the connection resumes.
	code, body := p.call(http.MethodPost, "/v1/connections/"+id+"/drifts/"+drifts[1].DriftID+"/approve?wait=30s",
		`{"reason":"finance checked"}`)
	require.Equal(t, http.StatusOK, code, "%s", body)
	var resolved events.DriftResolved
	require.NoError(t, json.Unmarshal(body, &resolved))
	require.True(t, resolved.Resumed)
	v3 := waitVersion(3)
	require.Contains(t, v3.Reason, "approved: finance checked")
	require.Eventually(t, func() bool { return connection().Status == "ACTIVE" }, 30*interval, 100*time.Millisecond)

	// 4. A rollback to version 2: first what it would change, then done.
	plan := aam("catalog", "rollback", id, "--to", "2", "--dry-run", "--wait")
	require.Contains(t, plan, "a rollback from catalog version 3 to 2 applies")
	require.Contains(t, plan, "AnnualRevenue")
	require.Len(t, versions(), 3, "a dry run changes nothing")
	done := aam("catalog", "rollback", id, "--to", "2", "--reason", "wait for the report", "--wait")
	require.Contains(t, done, "catalog version 3 → 4")
	require.Equal(t, "rollback to 2: wait for the report", waitVersion(4).Reason)

	// The event stream tells the story.
	nc, err := nats.Connect(p.nats)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	seen := map[string]int{}
	for {
		m, err := c.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			break
		}
		if e, _, err := events.FromMsg(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}); err == nil && e.Subject() == id {
			seen[e.Type()]++
		}
	}
	for typ, n := range map[string]int{events.TypeOnboarded: 1, events.TypeDriftResolved: 1, events.TypeRollbackPlanned: 1,
		events.TypeCatalogVersioned: 3} {
		require.Equal(t, n, seen[typ], "%s in %v", typ, seen)
	}
	// Version 2 measured against the source is a drift again (the
	// narrowed field), decided by the policy at the observer's next round.
	require.GreaterOrEqual(t, seen[events.TypeDriftDetected], 2, "%v", seen)
	require.GreaterOrEqual(t, seen[events.TypeConnectionPaused], 1, "%v", seen)
}
