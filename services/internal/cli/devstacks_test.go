package cli_test

import (
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
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/dbtest"
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
	args := append([]string{"-test.run=^$", "--", "dev", "--data-dir", dataDir, "--nats-addr", ports[0],
		"--http-addr", ports[1], "--gateway-addr", ports[2], "--emulator-addr", ports[3], "--emulator-jobs", "instant"}, extra...)
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = env
	p.out = &syncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + p.httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 90*time.Second, 50*time.Millisecond, "aam dev not ready:\n%s", p.out.String())
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
