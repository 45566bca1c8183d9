package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/dbtest"
)

// TestDevRestartKeepsItsAirbyte onboards a connection in `aam dev` (its
// embedded emulator), stops the process with SIGTERM and then with SIGKILL,
// and after each restart on the same data folder syncs and repairs the same
// connection: the emulated Airbyte kept its sources, connections and jobs.
func TestDevRestartKeepsItsAirbyte(t *testing.T) {
	t.Parallel()
	schema := dbtest.NewSchema(t, dbtest.Options{NoMigrate: true})
	ports := freePorts(t, 4)
	natsAddr, emuAddr, httpAddr, gwAddr := ports[0], ports[1], ports[2], ports[3]
	dataDir := t.TempDir()
	env := append(os.Environ(), childEnv+"=1", "DATABASE_URL="+schema.URL, "LOG_LEVEL=warn", "AIRBYTE_API_URL=")
	start := func() (*exec.Cmd, *syncBuffer) {
		return runDev(t, env, httpAddr, 90*time.Second, "--data-dir", dataDir,
			"--nats-addr", natsAddr, "--emulator-addr", emuAddr, "--http-addr", httpAddr, "--gateway-addr", gwAddr,
			"--emulator-jobs", "instant")
	}

	// session is one NATS connection to a running stack, collecting facts.
	type session struct {
		nc    *nats.Conn
		js    jetstream.JetStream
		mu    sync.Mutex
		facts []event.Event
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	connect := func() *session {
		s := &session{}
		var err error
		s.nc, err = nats.Connect("nats://" + natsAddr)
		require.NoError(t, err)
		s.js, err = jetstream.New(s.nc)
		require.NoError(t, err)
		_, err = s.nc.Subscribe(events.SubjectEventsAll, func(m *nats.Msg) {
			if e, _, err := events.FromMsg(m); err == nil {
				s.mu.Lock()
				s.facts = append(s.facts, e)
				s.mu.Unlock()
			}
		})
		require.NoError(t, err)
		require.NoError(t, s.nc.Flush())
		return s
	}
	n := 0
	send := func(s *session, eventType, body string) string {
		d, _ := events.Lookup(eventType)
		n++
		e := event.New()
		e.SetID(fmt.Sprintf("restart-%d-%d", n, time.Now().UnixNano()))
		e.SetSource("/test/restart")
		e.SetType(eventType)
		require.NoError(t, e.SetData(events.MediaTypeJSON, json.RawMessage(body)))
		msg, err := events.ToMsg(d.Subject, e, events.Binary)
		require.NoError(t, err)
		_, err = s.js.PublishMsg(ctx, msg)
		require.NoError(t, err)
		return e.ID()
	}
	await := func(s *session, out *syncBuffer, id string, factTypes ...string) (string, map[string]any) {
		var typ string
		var got map[string]any
		require.Eventually(t, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, f := range s.facts {
				for _, ft := range factTypes {
					if events.CorrelationID(f) == id && f.Type() == ft {
						typ = ft
						require.NoError(t, json.Unmarshal(f.Data(), &got))
						return true
					}
				}
			}
			return false
		}, 60*time.Second, 20*time.Millisecond, "no %v for %s; aam dev said:\n%s", factTypes, id, out.String())
		return typ, got
	}
	syncAndRepair := func(s *session, out *syncBuffer, id, stream string, version int) {
		t.Helper()
		syncID := send(s, events.TypeSyncRequested, `{"connection_id": "`+id+`"}`)
		typ, fact := await(s, out, syncID, events.TypeSyncSucceeded, events.TypeSyncFailed)
		require.Equal(t, events.TypeSyncSucceeded, typ, "sync after the restart: %v", fact)
		_, versioned := await(s, out, send(s, events.TypeRepairRequested, `{
			"connection_id": "`+id+`",
			"new_sync_catalog": {"streams": [{"stream": {"name": "`+stream+`", "json_schema": {},
				"supported_sync_modes": ["full_refresh", "incremental"]},
				"sync_mode": "incremental", "destination_sync_mode": "append_dedup"}]}}`),
			events.TypeCatalogVersioned, events.TypeRepairFailed)
		require.Equal(t, "success", versioned["status"], "repair after the restart: %v", versioned)
		require.EqualValues(t, version, versioned["new_version"])
	}

	first, out := start()
	s := connect()
	_, onboarded := await(s, out, send(s, events.TypeOnboardRequested,
		`{"source_type": "Salesforce", "connection_name": "Restarted", "credential_id": "salesforce-prod"}`),
		events.TypeOnboarded)
	id := onboarded["id"].(string)
	s.nc.Close()

	require.NoError(t, first.Process.Signal(syscall.SIGTERM))
	require.NoError(t, first.Wait(), "a clean stop:\n%s", out.String())
	second, out := start()
	s = connect()
	syncAndRepair(s, out, id, "Account", 2)
	s.nc.Close()

	require.NoError(t, second.Process.Signal(syscall.SIGKILL))
	_ = second.Wait()
	_, out = start()
	s = connect()
	defer s.nc.Close()
	syncAndRepair(s, out, id, "Contact", 3)
}
