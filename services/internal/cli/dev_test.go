package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/services/internal/cli"
	"github.com/aam-mesh/aam/services/internal/observer"
	"github.com/aam-mesh/aam/services/internal/role"
)

// TestDevStackAnswersTheSeedRequests runs `aam dev` in-process and sends it
// the seed's three documented requests as CloudEvents over NATS; each
// answer carries the seed's documented response fields. It also checks
// that aam dev runs every role of role.All, the roles that have a binary
// of their own (role.TestEveryBinaryIsARole).
func TestDevStackAnswersTheSeedRequests(t *testing.T) {
	schema := dbtest.NewSchema(t, dbtest.Options{NoMigrate: true})
	t.Setenv("DATABASE_URL", schema.URL)
	t.Setenv("LOG_LEVEL", "warn")
	ports := freePorts(t, 4)
	natsAddr, emuAddr, httpAddr, gwAddr := ports[0], ports[1], ports[2], ports[3]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Execute(ctx, []string{"dev", "--data-dir", t.TempDir(), "--nats-addr", natsAddr,
			"--emulator-addr", emuAddr, "--http-addr", httpAddr, "--gateway-addr", gwAddr, "--emulator-jobs", "instant"},
			&stdout, &stderr)
	}()
	require.Eventually(t, func() bool {
		select {
		case code := <-done:
			t.Fatalf("aam dev exited with %d:\n%s", code, stderr.String())
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond)
	resp, err := http.Get("http://" + gwAddr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	nc, err := nats.Connect("nats://" + natsAddr)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var mu sync.Mutex
	var facts []event.Event
	sub, err := nc.Subscribe(events.SubjectEventsAll, func(m *nats.Msg) {
		e, _, err := events.FromMsg(m)
		if err == nil {
			mu.Lock()
			facts = append(facts, e)
			mu.Unlock()
		}
	})
	require.NoError(t, err)
	defer sub.Unsubscribe()
	require.NoError(t, nc.Flush())

	// send publishes a seed request body as a binary-mode CloudEvent.
	send := func(eventType, body string) string {
		d, _ := events.Lookup(eventType)
		e := event.New()
		e.SetID(fmt.Sprintf("seed-%d", time.Now().UnixNano()))
		e.SetSource("/seed/readme")
		e.SetType(eventType)
		require.NoError(t, e.SetData(events.MediaTypeJSON, json.RawMessage(body)))
		msg, err := events.ToMsg(d.Subject, e, events.Binary)
		require.NoError(t, err)
		_, err = js.PublishMsg(ctx, msg)
		require.NoError(t, err)
		return e.ID()
	}
	await := func(id, factType string) map[string]any {
		var got map[string]any
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, f := range facts {
				if events.CorrelationID(f) == id && f.Type() == factType {
					require.NoError(t, json.Unmarshal(f.Data(), &got))
					return true
				}
			}
			return false
		}, 30*time.Second, 20*time.Millisecond, "no %s for %s", factType, id)
		return got
	}

	// 1. Onboard a Salesforce connection (seed README, "Expected Response").
	onboarded := await(send(events.TypeOnboardRequested,
		`{"source_type": "Salesforce", "connection_name": "Salesforce Production", "credential_id": "salesforce-prod"}`),
		events.TypeOnboarded)
	require.Equal(t, "Salesforce Production", onboarded["name"])
	require.Equal(t, "Salesforce", onboarded["source_type"])
	require.Equal(t, "ACTIVE", onboarded["status"])
	for _, k := range []string{"id", "airbyte_source_id", "airbyte_connection_id", "created_at"} {
		require.NotEmpty(t, onboarded[k], k)
	}
	id := onboarded["id"].(string)

	// 3. Trigger a sync.
	syncID := send(events.TypeSyncRequested, `{"connection_id": "`+id+`"}`)
	started := await(syncID, events.TypeSyncStarted)
	require.Equal(t, id, started["connection_id"])
	require.Equal(t, "triggered", started["status"])
	require.Equal(t, "Sync job started successfully", started["message"])
	require.NotEmpty(t, started["job_id"])
	succeeded := await(syncID, events.TypeSyncSucceeded)
	require.Equal(t, started["job_id"], succeeded["job_id"])

	// 4. Apply a catalog update (drift repair).
	versioned := await(send(events.TypeRepairRequested, `{
		"connection_id": "`+id+`",
		"new_sync_catalog": {"streams": [{"stream": {"name": "Account", "json_schema": {},
			"supported_sync_modes": ["full_refresh", "incremental"]},
			"sync_mode": "incremental", "destination_sync_mode": "append_dedup"}]}}`), events.TypeCatalogVersioned)
	require.Equal(t, id, versioned["connection_id"])
	require.EqualValues(t, 1, versioned["previous_version"])
	require.EqualValues(t, 2, versioned["new_version"])
	require.Equal(t, "success", versioned["status"])
	require.Equal(t, "Catalog updated and versioned successfully", versioned["message"])

	// Every role runs, each of them as its own binary would: the stack
	// names the roles it started, the workers' durable consumers exist,
	// and the schema observer answers an on-demand check.
	var running []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "roles "); ok {
			running = strings.Split(strings.TrimSpace(rest), ", ")
		}
	}
	var want []string
	for _, r := range role.All() {
		want = append(want, r.Name)
		for _, c := range r.Consumers {
			_, err := js.Consumer(ctx, bus.StreamRequests, c)
			require.NoError(t, err, "consumer %s of %s", c, r.Name)
		}
	}
	require.Equal(t, want, running, "aam dev runs every role:\n%s", stderr.String())
	require.Contains(t, stderr.String(), "observer     every 30s")
	body, err := json.Marshal(observer.CheckRequest{ConnectionID: id})
	require.NoError(t, err)
	msg, err := nc.Request(observer.SubjectCheck, body, 30*time.Second)
	require.NoError(t, err)
	var check observer.CheckReply
	require.NoError(t, json.Unmarshal(msg.Data, &check))
	require.Empty(t, check.Error)
	require.Len(t, check.Results, 1)
	require.Equal(t, id, check.Results[0].ConnectionID)
	require.Empty(t, check.Results[0].Error)

	// Ctrl-C: everything stops.
	cancel()
	select {
	case code := <-done:
		require.Equal(t, cli.ExitOK, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("aam dev did not stop")
	}
}

// TestDevHelpNamesEveryPart checks that `aam dev --help` documents the
// schema observer and its interval.
func TestDevHelpNamesEveryPart(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	require.Equal(t, cli.ExitOK, cli.Execute(context.Background(), []string{"dev", "--help"}, &stdout, &stderr), stderr.String())
	help := stdout.String()
	for _, want := range []string{"schema observer", "--observer-interval", "OBSERVER_INTERVAL", "(default 30s)"} {
		require.Contains(t, help, want)
	}
}

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		require.NoError(t, ln.Close())
	}
	return out
}

// runDev runs `aam dev` with args as a child process (this test binary,
// told so by childEnv in env) until the test ends, and waits up to within
// for it to be ready on httpAddr. It returns the process and its output.
func runDev(t *testing.T, env []string, httpAddr string, within time.Duration, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--", "dev"}, args...)...)
	cmd.Env = env
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, within, 50*time.Millisecond, "aam dev not ready:\n%s", out.String())
	return cmd, out
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
