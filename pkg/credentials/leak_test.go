package credentials

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/observability/logtest"
)

// TestNoSecretLeaks drives every endpoint, successful and failing, and
// looks for the plaintext secrets in the broker's log (at debug level),
// in every NATS message (except the requests that carry secrets to the
// broker and the get replies that carry them to the caller), in every
// error the client returned, and in every row of the database.
func TestNoSecretLeaks(t *testing.T) {
	t.Parallel()
	logger, logs := logtest.New(t)

	sb := setupStore(t)
	ns := bustest.NewServer(t)
	brokerNC, _ := bustest.Connect(t, ns)
	clientNC, _ := bustest.Connect(t, ns)
	spyNC, _ := bustest.Connect(t, ns)
	svc, err := NewService(brokerNC, sb.store, logger, "dev")
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Stop() })

	var mu sync.Mutex
	var captured []*nats.Msg
	done := make(chan struct{})
	_, err = spyNC.Subscribe(">", func(m *nats.Msg) {
		if m.Subject == "leaktest.done" {
			close(done)
			return
		}
		mu.Lock()
		captured = append(captured, m)
		mu.Unlock()
	})
	require.NoError(t, err)
	require.NoError(t, spyNC.Flush())

	ctx := ctxT(t)
	c := NewClient(clientNC, ClientOptions{})
	secrets := []string{}
	secret := func(name string) string {
		s := fmt.Sprintf("S3CRET-%s-%d", name, time.Now().UnixNano())
		secrets = append(secrets, s)
		return s
	}
	sf := func(clientSecret, token string) map[string]any {
		return map[string]any{"client_id": "cid", "client_secret": clientSecret, "refresh_token": token, "start_date": "2024-01-01"}
	}
	var errs []error
	fail := func(err error) {
		t.Helper()
		require.Error(t, err)
		errs = append(errs, err)
	}

	// Successful calls.
	a, tokA := secret("A"), secret("tokA")
	_, err = c.Put(ctx, Credential{ID: "salesforce-prod", Kind: "salesforce", Fields: sf(a, tokA)})
	require.NoError(t, err)
	got, err := c.Get(ctx, "salesforce-prod")
	require.NoError(t, err)
	require.Equal(t, a, got.Fields["client_secret"])
	b, tokB := secret("B"), secret("tokB")
	_, err = c.Rotate(ctx, Credential{ID: "salesforce-prod", Fields: sf(b, tokB)})
	require.NoError(t, err)
	_, err = c.Put(ctx, Credential{ID: "hubspot", Kind: "hubspot", Fields: map[string]any{"api_key": secret("hubspot"), "nested": map[string]any{"token": secret("nested")}}})
	require.NoError(t, err)
	_, err = c.List(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx, "hubspot"))

	// Failing calls, each carrying a secret.
	_, err = c.Put(ctx, Credential{ID: "salesforce-prod", Kind: "salesforce", Fields: sf(secret("dup"), secret("duptok"))})
	fail(err)
	_, err = c.Put(ctx, Credential{ID: "sf2", Kind: "salesforce", Fields: map[string]any{"client_id": "cid", "client_secret": secret("notoken")}})
	fail(err)
	_, err = c.Put(ctx, Credential{ID: "sf2", Kind: "salesforce", Fields: map[string]any{"client_id": "cid", "client_secret": secret("date"), "refresh_token": secret("datetok"), "start_date": secret("start")}})
	fail(err)
	_, err = c.Put(ctx, Credential{ID: "sf2", Kind: "salesforce", Fields: map[string]any{"client_id": "cid", "client_secret": secret("sandbox"), "refresh_token": secret("sbtok"), "is_sandbox": secret("sandboxvalue")}})
	fail(err)
	_, err = c.Put(ctx, Credential{ID: "sf2", Kind: "bad kind " + secret("kind"), Fields: sf(secret("k1"), secret("k2"))})
	fail(err)
	_, err = c.Rotate(ctx, Credential{ID: "missing", Kind: "salesforce", Fields: sf(secret("rot"), secret("rottok"))})
	fail(err)
	_, err = c.Rotate(ctx, Credential{ID: "salesforce-prod", Kind: "hubspot", Fields: map[string]any{"k": secret("rotkind")}})
	fail(err)
	_, err = c.Get(ctx, "missing")
	fail(err)
	fail(c.Delete(ctx, "missing"))
	// Malformed requests with secrets in them.
	for _, body := range []string{
		`{"credential_id":"x","kind":"salesforce","fields":{"client_secret":"` + secret("truncated"),
		`{"credential_id":"x","kind":"salesforce","fields":{"client_secret":"` + secret("trailing") + `"}} {"x"`,
		`{"credential_id":"x","kind":"salesforce","fields":"` + secret("fieldsstring") + `"}`,
		`{"credential_id":"x","kind":"salesforce","client_secret":"` + secret("unknownfield") + `"}`,
		`{"credential_id":["` + secret("idarray") + `"],"kind":"salesforce","fields":{}}`,
		secret("notjson"),
	} {
		msg, err := clientNC.Request(SubjectPut, []byte(body), 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, CodeBadRequest, msg.Header.Get("Nats-Service-Error-Code"))
		errs = append(errs, errors.New(msg.Header.Get("Nats-Service-Error")+string(msg.Data)))
	}
	// A credential sealed with another key.
	other := NewStore(sb.reg, testKey(t, 100))
	_, err = other.Create(ctx, Credential{ID: "other-key", Kind: "salesforce", Fields: sf(secret("otherkey"), secret("otherkeytok"))})
	require.NoError(t, err)
	_, err = c.Get(ctx, "other-key")
	fail(err)
	_, err = c.List(ctx, "")
	require.NoError(t, err)
	// The environment import, failing on a bad start date.
	_, _, err = ImportSalesforceEnv(ctx, sb.store, map[string]string{
		"SALESFORCE_CLIENT_ID": "cid", "SALESFORCE_CLIENT_SECRET": secret("env"), "SALESFORCE_REFRESH_TOKEN": secret("envtok"),
		"SALESFORCE_START_DATE": secret("envdate"),
	})
	fail(err)

	require.NoError(t, clientNC.Publish("leaktest.done", nil))
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the spy did not see the end marker")
	}
	// Stop the service and drain its connection, so that every handler
	// has returned and written its log line.
	require.NoError(t, svc.Stop())
	closed := make(chan struct{})
	brokerNC.SetClosedHandler(func(*nats.Conn) { close(closed) })
	require.NoError(t, brokerNC.Drain())
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("the broker connection did not drain")
	}
	require.NoError(t, logger.Sync())

	// Messages: everything but put/rotate requests and get replies.
	mu.Lock()
	msgs := slices.Clone(captured)
	mu.Unlock()
	getReplies := map[string]bool{}
	for _, m := range msgs {
		if m.Subject == SubjectGet {
			getReplies[m.Reply] = true
		}
	}
	var wire, getReplyBytes bytes.Buffer
	var checked int
	for _, m := range msgs {
		if m.Subject == SubjectPut || m.Subject == SubjectRotate {
			continue
		}
		if getReplies[m.Subject] {
			getReplyBytes.Write(m.Data)
			continue
		}
		checked++
		fmt.Fprintf(&wire, "%s %s %v %s\n", m.Subject, m.Reply, m.Header, m.Data)
	}
	require.Greater(t, checked, 20, "the spy saw the replies")
	require.Contains(t, wire.String(), "salesforce-prod", "the spy saw list replies")
	require.Contains(t, wire.String(), "Nats-Service-Error", "the spy saw error replies")
	require.Contains(t, getReplyBytes.String(), a, "the spy saw get replies with their secret (so it sees payloads)")

	var errText bytes.Buffer
	for _, err := range errs {
		errText.WriteString(err.Error() + "\n")
	}
	logged := logs.JSON()
	require.Contains(t, string(logged), "salesforce-prod")
	require.Contains(t, string(logged), sb.store.KeyID())
	require.Contains(t, string(logged), "credential request rejected")
	db := dumpSchema(t, sb.schema)

	// Short failure messages: the test's own output must not print the
	// haystacks.
	for _, s := range secrets {
		require.Falsef(t, bytes.Contains(logged, []byte(s)), "secret %s in the log", s[:10])
		require.Falsef(t, bytes.Contains(wire.Bytes(), []byte(s)), "secret %s on the wire", s[:10])
		require.Falsef(t, bytes.Contains(errText.Bytes(), []byte(s)), "secret %s in an error", s[:10])
	}
	requireAbsent(t, db, secrets...)
}
