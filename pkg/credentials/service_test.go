package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/aam-mesh/aam/pkg/bustest"
)

type serviceBundle struct {
	*storeBundle
	nc      *nats.Conn
	client  *Client
	svc     micro.Service
	metrics *prometheus.Registry
}

func setupService(t *testing.T, log *zap.Logger) *serviceBundle {
	t.Helper()
	sb := setupStore(t)
	ns := bustest.NewServer(t)
	brokerNC, _ := bustest.Connect(t, ns)
	clientNC, _ := bustest.Connect(t, ns)
	if log == nil {
		log = zaptest.NewLogger(t)
	}
	reg := prometheus.NewRegistry()
	svc, err := NewService(brokerNC, sb.store, log, "v1.4.0", WithMetrics(reg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Stop() })
	return &serviceBundle{storeBundle: sb, nc: clientNC, client: NewClient(clientNC, ClientOptions{}), svc: svc, metrics: reg}
}

func TestServiceThroughClient(t *testing.T) {
	t.Parallel()
	b := setupService(t, nil)
	ctx := ctxT(t)
	c := b.client

	md, err := c.Put(ctx, Salesforce{ClientID: "3MVG9-client-id", ClientSecret: testSecret, RefreshToken: testToken, StartDate: "2024-01-01"}.Credential("salesforce-prod"))
	require.NoError(t, err)
	require.Equal(t, Metadata{ID: "salesforce-prod", Kind: "salesforce", Version: 1, KeyID: b.store.KeyID(), Readable: true,
		FieldNames: []string{"auth_type", "client_id", "client_secret", "force_use_bulk_api", "is_sandbox", "refresh_token", "start_date"},
		CreatedAt:  md.CreatedAt, UpdatedAt: md.UpdatedAt}, md)

	got, err := c.Get(ctx, "salesforce-prod")
	require.NoError(t, err)
	require.Equal(t, "salesforce", got.Kind)
	require.Equal(t, 1, got.Version)
	require.Equal(t, testSecret, got.Fields["client_secret"])
	sf, err := got.Salesforce()
	require.NoError(t, err)
	require.Equal(t, Secret(testToken), sf.RefreshToken)
	require.Equal(t, map[string]any{
		"client_id": "3MVG9-client-id", "client_secret": testSecret, "refresh_token": testToken, "auth_type": "Client",
		"is_sandbox": false, "force_use_bulk_api": false, "start_date": "2024-01-01",
	}, got.AirbyteConfiguration())

	md, err = c.Rotate(ctx, Credential{ID: "salesforce-prod", Fields: with(salesforceFields(), "client_secret", "rotated-secret-0b7d")})
	require.NoError(t, err)
	require.Equal(t, 2, md.Version)
	got, err = c.Get(ctx, "salesforce-prod")
	require.NoError(t, err)
	require.Equal(t, "rotated-secret-0b7d", got.Fields["client_secret"])
	require.Equal(t, 2, got.Version)

	_, err = c.Put(ctx, Credential{ID: "hubspot-main", Kind: "hubspot", Fields: map[string]any{"api_key": "hs"}})
	require.NoError(t, err)
	list, err := c.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{"hubspot-main", "salesforce-prod"}, []string{list[0].ID, list[1].ID})
	list, err = c.List(ctx, "Salesforce")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, 2, list[0].Version)

	require.NoError(t, c.Delete(ctx, "hubspot-main"))
	list, err = c.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, list, 1)

	// Metrics are counted after the reply is sent.
	require.Eventually(t, func() bool {
		return counter(t, b.metrics, "delete", "200") == 1 && counter(t, b.metrics, "get", "200") == 2 &&
			counter(t, b.metrics, "list", "200") == 3 && counter(t, b.metrics, "put", "200") == 2
	}, 5*time.Second, 5*time.Millisecond)
}

// counter returns aam_credentials_requests_total{endpoint, code}.
func counter(t *testing.T, reg *prometheus.Registry, endpoint, code string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "aam_credentials_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["endpoint"] == endpoint && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestServiceErrors(t *testing.T) {
	t.Parallel()
	b := setupService(t, nil)
	ctx := ctxT(t)
	c := b.client
	_, err := c.Put(ctx, Credential{ID: "sf", Kind: "salesforce", Fields: salesforceFields()})
	require.NoError(t, err)

	for _, tc := range []struct {
		name      string
		call      func() error
		wantErr   error
		wantField string
	}{
		{"get missing", func() error { _, err := c.Get(ctx, "nope"); return err }, ErrNotFound, ""},
		{"get bad id", func() error { _, err := c.Get(ctx, "a b"); return err }, nil, "credential_id"},
		{"get empty id", func() error { _, err := c.Get(ctx, ""); return err }, nil, "credential_id"},
		{"put exists", func() error {
			_, err := c.Put(ctx, Credential{ID: "sf", Kind: "salesforce", Fields: salesforceFields()})
			return err
		}, ErrExists, ""},
		{"put without secret", func() error {
			_, err := c.Put(ctx, Credential{ID: "sf2", Kind: "salesforce", Fields: with(salesforceFields(), "client_secret", nil)})
			return err
		}, nil, "client_secret"},
		{"put bad start date", func() error {
			_, err := c.Put(ctx, Credential{ID: "sf2", Kind: "salesforce", Fields: with(salesforceFields(), "start_date", "yesterday")})
			return err
		}, nil, "start_date"},
		{"put without kind", func() error {
			_, err := c.Put(ctx, Credential{ID: "sf2", Fields: salesforceFields()})
			return err
		}, nil, "kind"},
		{"put without fields", func() error { _, err := c.Put(ctx, Credential{ID: "sf2", Kind: "salesforce"}); return err }, nil, "fields"},
		{"rotate missing", func() error {
			_, err := c.Rotate(ctx, Credential{ID: "nope", Kind: "salesforce", Fields: salesforceFields()})
			return err
		}, ErrNotFound, ""},
		{"rotate other kind", func() error {
			_, err := c.Rotate(ctx, Credential{ID: "sf", Kind: "hubspot", Fields: map[string]any{"a": "b"}})
			return err
		}, nil, "kind"},
		{"delete missing", func() error { return c.Delete(ctx, "nope") }, ErrNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			var ve *ValidationError
			require.ErrorAs(t, err, &ve, err.Error())
			require.Equal(t, tc.wantField, ve.Field)
			require.NotEmpty(t, ve.Reason)
		})
	}

	// Raw requests: the codes and bodies on the wire.
	raw := func(subject, body string) (code, description string, detail ErrorDetail) {
		msg, err := b.nc.Request(subject, []byte(body), 5*time.Second)
		require.NoError(t, err)
		_ = json.Unmarshal(msg.Data, &detail)
		return msg.Header.Get(micro.ErrorCodeHeader), msg.Header.Get(micro.ErrorHeader), detail
	}
	for _, tc := range []struct {
		name, subject, body, code, field string
	}{
		{"empty body", SubjectGet, "", "400", ""},
		{"not json", SubjectGet, "credential_id=sf", "400", ""},
		{"truncated json", SubjectPut, `{"credential_id":"x","fields":{"client_secret":"abc`, "400", ""},
		{"trailing data", SubjectGet, `{"credential_id":"sf"} {}`, "400", ""},
		{"unknown field", SubjectGet, `{"credential_id":"sf","reveal":true}`, "400", "reveal"},
		{"id not a string", SubjectGet, `{"credential_id":42}`, "400", "credential_id"},
		{"fields not an object", SubjectPut, `{"credential_id":"x","kind":"salesforce","fields":"abc"}`, "400", "fields"},
		{"not found", SubjectGet, `{"credential_id":"nope"}`, "404", ""},
		{"exists", SubjectPut, `{"credential_id":"sf","kind":"salesforce","fields":{"client_id":"a","client_secret":"b","refresh_token":"c"}}`, "409", ""},
		{"list accepts empty", SubjectList, "", "", ""},
	} {
		t.Run("raw "+tc.name, func(t *testing.T) {
			code, description, detail := raw(tc.subject, tc.body)
			require.Equal(t, tc.code, code, description)
			if tc.code == "" {
				return
			}
			require.NotEmpty(t, description)
			require.Equal(t, tc.field, detail.Field)
			require.NotContains(t, description, "abc")
		})
	}

	t.Run("500 wrong key", func(t *testing.T) {
		other := NewStore(b.reg, testKey(t, 100))
		_, err := other.Create(ctx, Credential{ID: "other-key", Kind: "hubspot", Fields: map[string]any{"k": "v"}})
		require.NoError(t, err)
		_, err = c.Get(ctx, "other-key")
		require.ErrorIs(t, err, ErrWrongKey)
		var se *ServiceError
		require.ErrorAs(t, err, &se)
		require.Equal(t, "500", se.Code)
		require.Contains(t, se.Description, other.KeyID())
		require.Contains(t, se.Description, b.store.KeyID())
		list, err := c.List(ctx, "hubspot")
		require.NoError(t, err)
		require.False(t, list[0].Readable)
	})
	t.Run("500 tampered", func(t *testing.T) {
		_, err := b.schema.Pool.Exec(ctx, `UPDATE credentials SET version = version + 5 WHERE id = 'sf'`)
		require.NoError(t, err)
		_, err = c.Get(ctx, "sf")
		require.ErrorIs(t, err, ErrTampered)
		require.False(t, errors.Is(err, ErrUnavailable))
	})
	t.Run("503 store unavailable", func(t *testing.T) {
		// The registry does not answer within the request timeout.
		ns := bustest.NewServer(t)
		nc, _ := bustest.Connect(t, ns)
		svc, err := NewService(nc, b.store, zaptest.NewLogger(t), "dev", WithRequestTimeout(time.Nanosecond))
		require.NoError(t, err)
		t.Cleanup(func() { _ = svc.Stop() })
		_, err = NewClient(nc, ClientOptions{}).Get(ctx, "sf")
		require.ErrorIs(t, err, ErrUnavailable)
		var se *ServiceError
		require.ErrorAs(t, err, &se)
		require.Equal(t, "503", se.Code)
	})
	t.Run("500 internal", func(t *testing.T) {
		// A store on a closed pool fails with an unexpected error: the
		// reply is generic, with an error id to find the details in the log.
		b2 := setupStore(t)
		ns := bustest.NewServer(t)
		nc, _ := bustest.Connect(t, ns)
		svc, err := NewService(nc, b2.store, zaptest.NewLogger(t), "dev")
		require.NoError(t, err)
		t.Cleanup(func() { _ = svc.Stop() })
		b2.schema.Pool.Close()
		_, err = NewClient(nc, ClientOptions{}).Get(ctx, "sf")
		var se *ServiceError
		require.ErrorAs(t, err, &se)
		require.Equal(t, "500", se.Code)
		require.NotEmpty(t, se.ErrorID)
		require.Contains(t, err.Error(), se.ErrorID)
		require.NotContains(t, se.Description, "pool")
		require.False(t, errors.Is(err, ErrUnavailable))
	})
}

func TestClientUnavailable(t *testing.T) {
	t.Parallel()
	ns := bustest.NewServer(t)
	nc, _ := bustest.Connect(t, ns)
	ctx := ctxT(t)

	// Nobody subscribed: no responders, reported at once as retryable.
	start := time.Now()
	_, err := NewClient(nc, ClientOptions{}).Get(ctx, "sf")
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, nats.ErrNoResponders)
	require.Less(t, time.Since(start), 2*time.Second)

	// A subscriber that never answers: the client's timeout.
	sub, err := nc.SubscribeSync(SubjectGet)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, nc.Flush())
	_, err = NewClient(nc, ClientOptions{Timeout: 100 * time.Millisecond}).Get(context.Background(), "sf")
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "100ms")

	// The caller's deadline wins over the default.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = NewClient(nc, ClientOptions{}).List(short, "")
	require.ErrorIs(t, err, ErrUnavailable)

	// A cancelled context is not "unavailable".
	cancelled, cancel2 := context.WithCancel(ctx)
	cancel2()
	_, err = NewClient(nc, ClientOptions{}).Get(cancelled, "sf")
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.Is(err, ErrUnavailable))
}

func TestServiceConcurrentGets(t *testing.T) {
	t.Parallel()
	b := setupService(t, nil)
	ctx := ctxT(t)
	const ids = 5
	for i := range ids {
		_, err := b.client.Put(ctx, Credential{ID: fmt.Sprintf("sf-%d", i), Kind: "salesforce", Fields: with(salesforceFields(), "client_secret", fmt.Sprintf("secret-%d", i))})
		require.NoError(t, err)
	}
	const n = 200
	requireConcurrentOK(t, n, func(i int) error {
		id := i % ids
		got, err := b.client.Get(ctx, fmt.Sprintf("sf-%d", id))
		if err == nil && got.Fields["client_secret"] != fmt.Sprintf("secret-%d", id) {
			err = fmt.Errorf("get sf-%d returned another credential's secret", id)
		}
		return err
	})
	// micro counts a request after its handler returned, which may be
	// after the client got the reply.
	require.Eventually(t, func() bool {
		for _, e := range b.svc.Stats().Endpoints {
			if e.Name == "get" {
				return e.NumRequests == n && e.NumErrors == 0
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond)
}

func TestServiceDiscovery(t *testing.T) {
	t.Parallel()
	b := setupService(t, nil)
	ctx := ctxT(t)
	_, err := b.client.Get(ctx, "missing")
	require.ErrorIs(t, err, ErrNotFound)

	request := func(verb micro.Verb, v any) {
		subject, err := micro.ControlSubject(verb, ServiceName, "")
		require.NoError(t, err)
		msg, err := b.nc.Request(subject, nil, 5*time.Second)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(msg.Data, v))
	}
	var info micro.Info
	request(micro.InfoVerb, &info)
	require.Equal(t, ServiceName, info.Name)
	require.Equal(t, "1.4.0", info.Version)
	require.Equal(t, micro.InfoResponseType, info.Type)
	require.NotEmpty(t, info.Description)
	require.Equal(t, b.store.KeyID(), info.Metadata["key_id"])
	subjects := map[string]string{}
	for _, e := range info.Endpoints {
		subjects[e.Name] = e.Subject
		require.NotEmpty(t, e.Metadata["description"], e.Name)
		require.Equal(t, micro.DefaultQueueGroup, e.QueueGroup)
		require.Equal(t, fmt.Sprint(e.Name == "get"), e.Metadata["returns_secrets"], e.Name)
	}
	require.Equal(t, map[string]string{
		"get": SubjectGet, "put": SubjectPut, "rotate": SubjectRotate, "delete": SubjectDelete, "list": SubjectList,
	}, subjects)

	var ping micro.Ping
	request(micro.PingVerb, &ping)
	require.Equal(t, ServiceName, ping.Name)

	require.Eventually(t, func() bool {
		var stats micro.Stats
		request(micro.StatsVerb, &stats)
		for _, e := range stats.Endpoints {
			if e.Name == "get" {
				return e.NumRequests == 1 && e.NumErrors == 1 && strings.Contains(e.LastError, "404")
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond)

	// The service stops cleanly, after which (once the server has the
	// unsubscriptions) nobody answers.
	require.NoError(t, b.svc.Stop())
	require.True(t, b.svc.Stopped())
	require.Eventually(t, func() bool {
		_, err := b.client.Get(ctx, "missing")
		return errors.Is(err, ErrUnavailable)
	}, 5*time.Second, 10*time.Millisecond)
}
