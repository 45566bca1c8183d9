package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

// run runs the aam command line and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Execute(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRequestCommands(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	nurl := "--nats-url=" + mesh.URL()

	// Onboard and wait: the human answer.
	code, out, stderr := run(t, "onboard", nurl, "--source-type", "Salesforce", "--name", "Salesforce Production",
		"--credential", "salesforce-prod", "--stream", "Account", "--stream", "Lead", "--wait")
	require.Equal(t, ExitOK, code, "stdout: %s\nstderr: %s", out, stderr)
	require.Contains(t, out, `onboarded connection `)
	require.Contains(t, out, `"Salesforce Production" (Salesforce): ACTIVE at catalog version 1`)
	require.Contains(t, stderr, "waiting for the answer to ")

	// The same, as JSON.
	code, out, stderr = run(t, "onboard", nurl, "--source-type", "Salesforce", "--name", "CRM", "--credential", "salesforce-prod", "-w", "-o", "json")
	require.Equal(t, ExitOK, code, "stderr: %s", stderr)
	var st gateway.RequestStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, gateway.RequestSucceeded, st.Status)
	require.Equal(t, events.TypeOnboardRequested, st.Type)
	connID := st.ConnectionID
	require.NotEmpty(t, connID)
	var onboarded map[string]any
	require.NoError(t, json.Unmarshal(st.Outcome, &onboarded))
	require.Equal(t, events.TypeOnboarded, onboarded["type"])
	require.Equal(t, st.RequestID, onboarded["correlationid"])

	// Sync to the job's end: sync.started shows as progress on stderr.
	code, out, stderr = run(t, "sync", connID, nurl, "--until", "terminal", "-o", "json")
	require.Equal(t, ExitOK, code, "stderr: %s", stderr)
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, gateway.RequestSucceeded, st.Status)
	require.Len(t, st.Events, 2)
	require.Contains(t, stderr, "io.aam.sync.started.v1: job ")

	// Sync without waiting: accepted.
	code, out, _ = run(t, "sync", connID, nurl, "--id", "nightly-1")
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "request nightly-1 accepted on aam.requests.connection.sync")
	// The same id again is the same request, and a wait finds its answer.
	code, out, stderr = run(t, "sync", connID, nurl, "--id", "nightly-1", "--wait")
	require.Equal(t, ExitOK, code, "stderr: %s", stderr)
	require.Contains(t, out, "io.aam.sync.started.v1: job ")

	// Repair from a catalog file (the whole seed body also works).
	dir := t.TempDir()
	catalog := filepath.Join(dir, "catalog.json")
	require.NoError(t, os.WriteFile(catalog, gatewaytest.Catalog("Account"), 0o600))
	code, out, stderr = run(t, "repair", connID, nurl, "--catalog", catalog, "--reason", "drop Contact", "--wait")
	require.Equal(t, ExitOK, code, "stderr: %s", stderr)
	require.Contains(t, out, "catalog version 1 → 2")
	body := filepath.Join(dir, "body.json")
	require.NoError(t, os.WriteFile(body, []byte(`{"connection_id":"`+connID+`","new_sync_catalog":`+string(gatewaytest.Catalog("Account", "Lead"))+`}`), 0o600))
	code, out, _ = run(t, "repair", connID, nurl, "--catalog", body, "-w")
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "catalog version 2 → 3")
}

func TestRequestExitCodes(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	nurl := "--nats-url=" + mesh.URL()

	// Failed: exit 3, the reason on stderr.
	code, out, stderr := run(t, "onboard", nurl, "--source-type", "Salesforce", "--name", "Broken",
		"--credential", gatewaytest.CredentialMissing, "--wait")
	require.Equal(t, ExitFailed, code, "stdout: %s", out)
	require.Contains(t, out, "onboarding failed: credentials: ")
	require.Contains(t, stderr, "failed")

	// Invalid input never leaves the command: exit 2, naming the field.
	code, _, stderr = run(t, "sync", "not-a-uuid", nurl, "--wait")
	require.Equal(t, ExitRejected, code)
	require.Contains(t, stderr, "connection_id")
	code, _, stderr = run(t, "onboard", nurl, "--source-type", "Salesforce", "--name", strings.Repeat("n", 256),
		"--credential", "salesforce-prod", "--wait")
	require.Equal(t, ExitRejected, code)
	require.Contains(t, stderr, "connection_name: must be at most 255 characters long")

	// Rejected by the runtime: exit 2. The request is published past the
	// command's validation, then waited for by id.
	id := uuid.NewString()
	bad := nats.NewMsg(events.SubjectSyncRequest)
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": id, "ce-source": source(), "ce-type": events.TypeSyncRequested} {
		bad.Header.Set(k, v)
	}
	bad.Header.Set("Nats-Msg-Id", id)
	bad.Data = []byte(`{"connection_id":"` + uuid.NewString() + `","extra":1}`)
	_, err := mesh.JS.PublishMsg(context.Background(), bad)
	require.NoError(t, err)
	code, out, stderr = run(t, "sync", uuid.NewString(), nurl, "--id", id, "--wait", "-o", "json")
	require.Equal(t, ExitRejected, code, "stdout: %s\nstderr: %s", out, stderr)
	var st gateway.RequestStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, gateway.RequestRejected, st.Status)
	require.Contains(t, st.Reason, "extra")

	// Nobody answers: exit 4 after --timeout.
	idle := gatewaytest.Start(t, gatewaytest.Options{NoWorkers: true})
	code, _, stderr = run(t, "sync", uuid.NewString(), "--nats-url="+idle.URL(), "--wait", "--timeout", "300ms")
	require.Equal(t, ExitTimeout, code)
	require.Contains(t, stderr, "no answer within 300ms")
	require.Contains(t, stderr, "is pending")

	// No NATS: exit 1.
	code, _, stderr = run(t, "sync", uuid.NewString(), "--nats-url=nats://127.0.0.1:1")
	require.Equal(t, ExitError, code)
	require.Contains(t, stderr, "connect to NATS")
}

func TestRegistryCommands(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	_, ts := mesh.Gateway(gateway.Config{Tokens: "cli-token"})
	a := mesh.AddConnection("", "Accounts")
	nurl := "--nats-url=" + mesh.URL()
	catalog := filepath.Join(t.TempDir(), "catalog.json")
	v2 := `{"streams":[
	  {"stream":{"name":"Account","json_schema":{"properties":{"Id":{"type":"string"},"Name":{"type":["string","null"]},"Industry":{"type":"string"}}},"supported_sync_modes":["full_refresh","incremental"]},
	   "sync_mode":"incremental","destination_sync_mode":"append_dedup","cursor_field":["SystemModstamp"],"primary_key":[["Id"]]},
	  {"stream":{"name":"Lead","json_schema":{"properties":{"Id":{"type":"string"}}},"supported_sync_modes":["full_refresh"]},
	   "sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]}`
	require.NoError(t, os.WriteFile(catalog, []byte(v2), 0o600))
	code, _, stderr := run(t, "repair", a.ID, nurl, "--catalog", catalog, "--reason", "Industry", "--wait")
	require.Equal(t, ExitOK, code, stderr)
	code, _, stderr = run(t, "sync", a.ID, nurl, "--until", "terminal")
	require.Equal(t, ExitOK, code, stderr)

	for _, src := range [][]string{{"--gateway", ts.URL, "--token", "cli-token"}, {"--database-url", mesh.Schema.URL}} {
		with := func(args ...string) []string { return append(args, src...) }
		code, out, stderr := run(t, with("connections", "ls")...)
		require.Equal(t, ExitOK, code, stderr)
		require.Contains(t, out, a.ID)
		require.Contains(t, out, "Accounts")

		code, out, _ = run(t, with("connections", "get", a.ID, "-o", "json")...)
		require.Equal(t, ExitOK, code)
		var c gateway.Connection
		require.NoError(t, json.Unmarshal([]byte(out), &c))
		require.Equal(t, 2, c.CatalogVersion)

		code, out, _ = run(t, with("versions", "ls", a.ID)...)
		require.Equal(t, ExitOK, code)
		require.Contains(t, out, "Account,Lead")
		require.Contains(t, out, "Industry")

		code, out, _ = run(t, with("versions", "show", a.ID, "2")...)
		require.Equal(t, ExitOK, code)
		require.Contains(t, out, "stream Account (incremental, append_dedup)")

		code, out, _ = run(t, with("versions", "diff", a.ID, "1", "2")...)
		require.Equal(t, ExitOK, code)
		for _, want := range []string{
			"catalog version 1 → 2",
			"+ stream Lead (full_refresh, overwrite)",
			"- stream Contact (full_refresh, overwrite)",
			"~ stream Account",
			"sync mode: full_refresh → incremental",
			"destination sync mode: overwrite → append_dedup",
			"cursor: (none) → SystemModstamp",
			"primary key: (none) → Id",
			"+ field Industry string",
			"~ field Name: string → string|null",
		} {
			require.Contains(t, out, want)
		}
		code, out, _ = run(t, with("versions", "diff", a.ID, "1", "2", "-o", "json")...)
		require.Equal(t, ExitOK, code)
		var d catalogDiff
		require.NoError(t, json.Unmarshal([]byte(out), &d))
		require.Len(t, d.Added, 1)
		require.Len(t, d.Removed, 1)
		require.Len(t, d.Changed, 1)

		code, out, _ = run(t, with("jobs", "ls", a.ID)...)
		require.Equal(t, ExitOK, code)
		require.Contains(t, out, "succeeded")
		require.Contains(t, out, "4.0 KiB")

		code, _, stderr = run(t, with("connections", "get", uuid.NewString())...)
		require.Equal(t, ExitError, code)
		require.Contains(t, stderr, "not found")
	}
	code, _, stderr = run(t, "connections", "ls", "--gateway", ts.URL, "--token", "wrong")
	require.Equal(t, ExitError, code)
	require.Contains(t, stderr, "401")
}

func TestCredentialCommands(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t, gatewaytest.Options{NoWorkers: true})
	mesh.StartBroker()
	nurl := "--nats-url=" + mesh.URL()
	secretFile := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("s3cr3t-value\n"), 0o600))

	code, out, stderr := run(t, "credentials", "add", "salesforce-prod", nurl, "--kind", "salesforce",
		"--field", "client_id=3MVG9-id", "--field", "client_secret=@"+secretFile, "--field", "refresh_token=tok-value")
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, "stored credential salesforce-prod (kind salesforce, version 1")
	require.NotContains(t, out+stderr, "s3cr3t-value")

	code, _, stderr = run(t, "credentials", "add", "salesforce-prod", nurl, "--kind", "salesforce", "--field", "client_id=x",
		"--field", "client_secret=y", "--field", "refresh_token=z")
	require.Equal(t, ExitError, code)
	require.Contains(t, stderr, "already exists")
	// A salesforce credential without its secret is refused: exit 2, naming the field.
	code, _, stderr = run(t, "credentials", "add", "other", nurl, "--kind", "salesforce", "--field", "client_id=x")
	require.Equal(t, ExitRejected, code)
	require.Contains(t, stderr, "client_secret")
	// A kind AAM does not know is a typo until said otherwise.
	code, _, stderr = run(t, "credentials", "add", "typo", nurl, "--kind", "nosuchkind", "--field", "token=x")
	require.Equal(t, ExitRejected, code)
	require.Contains(t, stderr, `--kind "nosuchkind" is not a kind AAM knows (salesforce)`)
	code, out, stderr = run(t, "credentials", "add", "hubspot-prod", nurl, "--kind", "hubspot", "--any-kind", "--field", "token=x")
	require.Equal(t, ExitOK, code, stderr)
	require.Contains(t, out, "stored credential hubspot-prod (kind hubspot, version 1")

	doc := filepath.Join(t.TempDir(), "doc.json")
	require.NoError(t, os.WriteFile(doc, []byte(`{"client_id":"3MVG9-id","client_secret":"rotated-secret","refresh_token":"tok-2"}`), 0o600))
	code, out, stderr = run(t, "credentials", "rotate", "salesforce-prod", nurl, "--from-file", doc, "-o", "json")
	require.Equal(t, ExitOK, code, stderr)
	var md credentials.Metadata
	require.NoError(t, json.Unmarshal([]byte(out), &md))
	require.Equal(t, 2, md.Version)

	code, out, _ = run(t, "credentials", "ls", nurl)
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "salesforce-prod")
	require.NotContains(t, out, "rotated-secret")

	code, out, _ = run(t, "credentials", "rm", "salesforce-prod", nurl)
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "deleted credential salesforce-prod")
	code, _, stderr = run(t, "credentials", "rm", "salesforce-prod", nurl)
	require.Equal(t, ExitError, code)
	require.Contains(t, stderr, "does not exist")
}

func TestEventsTail(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	nurl := "--nats-url=" + mesh.URL()
	a := mesh.AddConnection("", "A")
	b := mesh.AddConnection("", "B")
	for _, id := range []string{a.ID, b.ID} {
		code, _, stderr := run(t, "sync", id, nurl, "--until", "terminal")
		require.Equal(t, ExitOK, code, stderr)
	}
	code, out, stderr := run(t, "events", "tail", nurl, "--all", "--connection", b.ID, "--count", "2")
	require.Equal(t, ExitOK, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], "io.aam.sync.started.v1")
	require.Contains(t, lines[1], "io.aam.sync.succeeded.v1  job ")
	require.Contains(t, lines[1], b.ID)

	code, out, _ = run(t, "events", "tail", nurl, "--since", "1h", "--type", events.TypeSyncSucceeded, "--count", "2", "-o", "json")
	require.Equal(t, ExitOK, code)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev))
		require.Equal(t, events.TypeSyncSucceeded, ev["type"])
	}
	code, _, stderr = run(t, "events", "tail", nurl, "--type", events.TypeSyncRequested)
	require.Equal(t, ExitError, code)
	require.Contains(t, stderr, "not a fact type")
}

func TestRequestCommandsThroughTheGateway(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t)
	_, ts := mesh.Gateway(gateway.Config{Tokens: "cli-token", WaitMax: 2 * time.Second})
	gw := []string{"--gateway", ts.URL, "--token", "cli-token"}
	with := func(args ...string) []string { return append(args, gw...) }

	code, out, stderr := run(t, with("onboard", "--source-type", "Salesforce", "--name", "Via gateway", "--credential", "sf", "--wait", "-o", "json")...)
	require.Equal(t, ExitOK, code, "stderr: %s", stderr)
	var st gateway.RequestStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, gateway.RequestSucceeded, st.Status)
	connID := st.ConnectionID
	require.NotEmpty(t, connID)

	code, out, stderr = run(t, with("sync", connID, "--until", "terminal")...)
	require.Equal(t, ExitOK, code, "stderr: %s", stderr)
	require.Contains(t, out, "io.aam.sync.succeeded.v1: job ")

	code, out, _ = run(t, with("sync", connID)...)
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "accepted on aam.requests.connection.sync through the gateway")

	code, out, _ = run(t, with("onboard", "--source-type", "Salesforce", "--name", "Broken", "--credential", gatewaytest.CredentialMissing, "-w")...)
	require.Equal(t, ExitFailed, code)
	require.Contains(t, out, "onboarding failed: credentials: ")

	code, _, stderr = run(t, "sync", connID, "--gateway", ts.URL, "--token", "wrong")
	require.Equal(t, ExitError, code)
	require.Contains(t, stderr, "401")

	// A gateway wait shorter than --timeout is asked again; past --timeout: exit 4.
	gate := make(chan struct{})
	slow := gatewaytest.Start(t, gatewaytest.Options{SyncGate: gate})
	_, sts := slow.Gateway(gateway.Config{WaitMax: 300 * time.Millisecond})
	c := slow.AddConnection("", "Slow")
	go func() {
		// End the job once the command had to ask the gateway again.
		defer close(gate)
		for range 200 {
			resp, err := http.Get(sts.URL + "/metrics")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(b), `route="GET /v1/requests/{id}"`) {
					return
				}
			}
			<-time.After(25 * time.Millisecond)
		}
	}()
	code, out, stderr = run(t, "sync", c.ID, "--gateway", sts.URL, "--until", "terminal", "--timeout", "10s")
	require.Equal(t, ExitOK, code, "stderr: %s", stderr)
	require.Contains(t, out, "succeeded")
	idle := gatewaytest.Start(t, gatewaytest.Options{NoWorkers: true})
	_, its := idle.Gateway(gateway.Config{WaitMax: 200 * time.Millisecond})
	code, _, stderr = run(t, "onboard", "--gateway", its.URL, "--source-type", "S", "--name", "n", "--credential", "c", "-w", "--timeout", "500ms")
	require.Equal(t, ExitTimeout, code, stderr)
	require.Contains(t, stderr, "no answer within 500ms")
}
