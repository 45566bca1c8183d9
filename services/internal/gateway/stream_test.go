package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

// sse is one server-sent event, or a comment when comment is set.
type sse struct {
	id, event, data, comment string
}

// openStream opens /v1/events/stream and returns its events and comments
// as they arrive; the stream closes when the test ends or stop is called.
func (b *bundle) openStream(query string, headers ...string) (<-chan sse, func()) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.ts.URL+"/v1/events/stream"+query, nil)
	require.NoError(b.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	require.Equal(b.t, http.StatusOK, resp.StatusCode)
	require.Equal(b.t, "text/event-stream", resp.Header.Get("Content-Type"))
	out := make(chan sse, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur != (sse{}) {
					out <- cur
				}
				cur = sse{}
			case strings.HasPrefix(line, ":"):
				out <- sse{comment: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	stop := func() { cancel(); resp.Body.Close(); <-done }
	b.t.Cleanup(stop)
	return out, stop
}

// nextEvent returns the next event, skipping comments.
func nextEvent(t *testing.T, ch <-chan sse) sse {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			require.True(t, ok, "stream ended")
			if e.comment == "" {
				return e
			}
		case <-timeout:
			t.Fatal("no event within 10 s")
		}
	}
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{Heartbeat: 100 * time.Millisecond})
	live, stopLive := b.openStream("")

	r := b.do(http.MethodPost, "/v1/connections/onboard?wait=10s", `{"source_type":"Salesforce","connection_name":"Live","credential_id":"sf"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var conn gateway.SeedConnection
	r.json(t, &conn)
	first := nextEvent(t, live)
	require.Equal(t, events.TypeOnboarded, first.event)
	var fact map[string]any
	require.NoError(t, json.Unmarshal([]byte(first.data), &fact))
	require.Equal(t, events.TypeOnboarded, fact["type"])
	require.Equal(t, conn.ID, fact["subject"])
	require.Equal(t, r.header.Get("Aam-Request-Id"), fact["correlationid"])
	require.Equal(t, conn.Name, fact["data"].(map[string]any)["name"])
	seq, err := strconv.ParseUint(first.id, 10, 64)
	require.NoError(t, err)

	// Heartbeats keep the idle stream alive.
	require.Eventually(t, func() bool {
		select {
		case e := <-live:
			return strings.HasPrefix(e.comment, "heartbeat")
		default:
			return false
		}
	}, 5*time.Second, 10*time.Millisecond)
	stopLive()

	// While nobody listens, a sync runs to its end.
	other := b.mesh.AddConnection("", "Other")
	for _, id := range []string{conn.ID, other.ID} {
		r = b.do(http.MethodPost, "/v1/connections/"+id+"/sync?wait=10s&until=terminal", "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}

	// Resuming after the last event seen delivers what was missed, in
	// order, and nothing before it.
	resumed, _ := b.openStream("", "Last-Event-ID", first.id)
	var got []string
	var ids []uint64
	for range 4 {
		e := nextEvent(t, resumed)
		got = append(got, e.event)
		n, err := strconv.ParseUint(e.id, 10, 64)
		require.NoError(t, err)
		ids = append(ids, n)
	}
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded, events.TypeSyncStarted, events.TypeSyncSucceeded}, got)
	require.Equal(t, []uint64{seq + 1, seq + 2, seq + 3, seq + 4}, ids)

	// Filters: by type (server side) and by connection.
	byType, _ := b.openStream("?type=" + events.TypeSyncSucceeded + "&last_event_id=0")
	for _, want := range []string{conn.ID, other.ID} {
		e := nextEvent(t, byType)
		require.Equal(t, events.TypeSyncSucceeded, e.event)
		require.Contains(t, e.data, want)
	}
	byConn, _ := b.openStream("?connection_id=" + other.ID + "&since=1h")
	for _, want := range []string{events.TypeSyncStarted, events.TypeSyncSucceeded} {
		e := nextEvent(t, byConn)
		require.Equal(t, want, e.event)
		require.Contains(t, e.data, `"subject":"`+other.ID+`"`)
	}

	// Bad parameters.
	for _, q := range []string{"?type=" + events.TypeSyncRequested, "?type=nope", "?last_event_id=x", "?since=yesterday"} {
		r := b.do(http.MethodGet, "/v1/events/stream"+q, "")
		require.Equal(t, http.StatusBadRequest, r.status, q)
	}
	r = b.do(http.MethodGet, "/v1/events/stream", "", "Last-Event-ID", "-1")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "Last-Event-ID", r.errBody(t).Field)
}

// TestServeStopsWithOpenStreams: shutting the server down ends open event
// streams at once instead of waiting for them forever.
func TestServeStopsWithOpenStreams(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t, gatewaytest.Options{NoWorkers: true})
	cfg := gateway.DefaultConfig()
	srv, err := gateway.New(cfg, mesh.Deps())
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/v1/events/stream")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, resp.Body); close(ended) }()

	cancel()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return with a stream open")
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
	}
}
