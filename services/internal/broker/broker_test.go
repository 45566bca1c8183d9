package broker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/observability/logtest"
	"github.com/aam-mesh/aam/pkg/registry"
)

const (
	testKey    = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // bytes 0..31
	testSecret = "broker-test-client-secret-93b1"
	testToken  = "broker-test-refresh-token-6c0e"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DATABASE_URL": "postgres://aam:pw@db:5432/aam", "AAM_SECRET_KEY": testKey}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}

	cfg, err := config.ParseFrom[Config](base)
	require.NoError(t, err)
	key, err := cfg.Key()
	require.NoError(t, err)
	require.Len(t, key.ID(), 16)
	require.False(t, cfg.Salesforce.Set())
	require.Equal(t, credentials.DefaultSalesforceCredentialID, cfg.Salesforce.CredentialID)
	require.Equal(t, 10*time.Second, cfg.RequestTimeout)

	cfg, err = config.ParseFrom[Config](with("SALESFORCE_CLIENT_ID", "cid", "SALESFORCE_CLIENT_SECRET", testSecret,
		"SALESFORCE_REFRESH_TOKEN", testToken, "SALESFORCE_IS_SANDBOX", "true", "SALESFORCE_START_DATE", "2024-01-01"))
	require.NoError(t, err)
	require.True(t, cfg.Salesforce.Set())
	sf, err := cfg.Salesforce.Credential().Salesforce()
	require.NoError(t, err)
	require.True(t, sf.IsSandbox)
	require.Equal(t, "2024-01-01", sf.StartDate)

	for _, tc := range []struct {
		name    string
		environ map[string]string
		want    string
		secret  string
	}{
		{"no key", with("AAM_SECRET_KEY", ""), "AAM_SECRET_KEY", ""},
		{"short key", with("AAM_SECRET_KEY", "c2hvcnQta2V5LXZhbHVl"), "AAM_SECRET_KEY", "c2hvcnQta2V5LXZhbHVl"},
		{"passphrase key", with("AAM_SECRET_KEY", "hunter2-hunter2"), "AAM_SECRET_KEY", "hunter2"},
		{"no database", with("DATABASE_URL", ""), "DATABASE_URL", ""},
		{"salesforce without token", with("SALESFORCE_CLIENT_ID", "cid", "SALESFORCE_CLIENT_SECRET", testSecret), "SALESFORCE_REFRESH_TOKEN", testSecret},
		{"bad timeout", with("CREDENTIALS_REQUEST_TIMEOUT", "-1s"), "CREDENTIALS_REQUEST_TIMEOUT", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseFrom[Config](tc.environ)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			if tc.secret != "" {
				require.NotContains(t, err.Error(), tc.secret)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get(url) //nolint:noctx // test
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestRun(t *testing.T) {
	t.Parallel()
	schema := dbtest.NewSchema(t)
	ns := bustest.NewServer(t)
	nc, _ := bustest.Connect(t, ns)
	client := credentials.NewClient(nc, credentials.ClientOptions{})
	addr := freeAddr(t)
	cfg, err := config.ParseFrom[Config](map[string]string{
		"DATABASE_URL": schema.URL, "NATS_URL": ns.ClientURL(), "HTTP_ADDR": addr, "AAM_SECRET_KEY": testKey,
		"SALESFORCE_CLIENT_ID": "cid", "SALESFORCE_CLIENT_SECRET": testSecret, "SALESFORCE_REFRESH_TOKEN": testToken,
	})
	require.NoError(t, err)
	log, logs := logtest.New(t)

	start := func() (context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- Run(ctx, cfg, log) }()
		require.Eventually(t, func() bool {
			code, _ := httpGet(t, "http://"+addr+"/readyz")
			return code == http.StatusOK
		}, 20*time.Second, 20*time.Millisecond)
		return cancel, errc
	}
	stopped := func(cancel context.CancelFunc, errc chan error) {
		cancel()
		select {
		case err := <-errc:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}

	cancel, errc := start()
	code, body := httpGet(t, "http://"+addr+"/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"postgres":"ok"`)
	require.Contains(t, body, `"nats":"ok"`)

	ctx, cancelCtx := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelCtx()
	got, err := client.Get(ctx, credentials.DefaultSalesforceCredentialID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	require.Equal(t, testSecret, got.Fields["client_secret"])
	require.Equal(t, testToken, got.AirbyteConfiguration()["refresh_token"])

	msg, err := nc.Request("$SRV.INFO."+credentials.ServiceName, nil, 5*time.Second)
	require.NoError(t, err)
	var info micro.Info
	require.NoError(t, json.Unmarshal(msg.Data, &info))
	require.Equal(t, credentials.ServiceName, info.Name)
	require.Len(t, info.Endpoints, 5)

	// The service counts a request after it answered it.
	require.Eventually(t, func() bool {
		_, body := httpGet(t, "http://"+addr+"/metrics")
		return strings.Contains(body, `aam_credentials_requests_total{code="200",endpoint="get"} 1`)
	}, 5*time.Second, 10*time.Millisecond)

	stopped(cancel, errc)
	_, err = client.Get(ctx, credentials.DefaultSalesforceCredentialID)
	require.ErrorIs(t, err, credentials.ErrUnavailable)

	// A restart with the same environment does not rotate.
	cancel, errc = start()
	got, err = client.Get(ctx, credentials.DefaultSalesforceCredentialID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	stopped(cancel, errc)

	out := string(logs.JSON())
	require.Contains(t, out, "salesforce credential imported from the environment")
	require.Contains(t, out, `"outcome":"unchanged"`)
	require.NotContains(t, out, testSecret)
	require.NotContains(t, out, testToken)
	require.NotContains(t, out, testKey)
	require.NotContains(t, out, testKey[:12])
}

func TestRunFailsFast(t *testing.T) {
	t.Parallel()
	// A wrong key never reaches the database.
	err := Run(context.Background(), Config{Settings: Settings{SecretKey: "not-a-key"}}, zap.NewNop())
	require.Error(t, err)
	require.Contains(t, err.Error(), "AAM_SECRET_KEY")
	require.NotContains(t, err.Error(), "not-a-key")
}

func TestStart(t *testing.T) {
	t.Parallel()
	schema := dbtest.NewSchema(t)
	store := registry.NewStore(schema.Pool)
	ns := bustest.NewServer(t)
	brokerNC, _ := bustest.Connect(t, ns)
	nc, _ := bustest.Connect(t, ns)
	key, err := credentials.ParseKey(testKey)
	require.NoError(t, err)
	client := credentials.NewClient(nc, credentials.ClientOptions{})

	_, err = Start(context.Background(), store, brokerNC, credentials.Key{}, zap.NewNop())
	require.Error(t, err)
	_, err = Start(context.Background(), store, brokerNC, key, zap.NewNop(), WithSalesforce(credentials.SalesforceEnv{
		CredentialID: "sf", ClientID: "cid", ClientSecret: testSecret}))
	require.Error(t, err, "an invalid SALESFORCE_* credential stops the start")
	require.NotContains(t, err.Error(), testSecret)

	ctx, cancel := context.WithCancel(context.Background())
	stop, err := Start(ctx, store, brokerNC, key, zap.NewNop())
	require.NoError(t, err)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	_, err = client.Put(rctx, credentials.Credential{ID: "hubspot", Kind: "hubspot", Fields: map[string]any{"api_key": "k"}})
	require.NoError(t, err)
	list, err := client.List(rctx, "")
	require.NoError(t, err)
	require.Len(t, list, 1)

	// The end of ctx stops the service; stop may still be called.
	cancel()
	require.Eventually(t, func() bool {
		_, err := client.List(rctx, "")
		return errors.Is(err, credentials.ErrUnavailable)
	}, 10*time.Second, 10*time.Millisecond)
	stop()
	stop()
	require.True(t, strings.HasPrefix(key.String(), "key:"))
}
