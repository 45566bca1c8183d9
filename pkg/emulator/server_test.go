package emulator_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestServeShutsDownOnCancel(t *testing.T) {
	t.Parallel()
	emu := emulator.New(emulator.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- emu.Serve(ctx, ln) }()

	// A request held by the timeout fault must not block the shutdown.
	emu.SetFaults(emulator.Faults{TimeoutRate: 1, Path: "/api/public/v1/workspaces"})
	held := make(chan struct{})
	go func() {
		defer close(held)
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/public/v1/workspaces")
		if err == nil {
			resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + ln.Addr().String() + "/_emulator/state")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the context was cancelled")
	}
	<-held
}

// TestConcurrentSyncs drives many connections from many goroutines; run with -race.
func TestConcurrentSyncs(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{Clock: emulator.SystemClock{}})
	src := b.createSource(t)
	const conns, perConn = 8, 25
	ids := make([]string, conns)
	for i := range ids {
		ids[i] = b.createConnection(t, src, nil)
	}
	var wg sync.WaitGroup
	var synced atomic.Int64
	for _, conn := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{t: t, base: b.srv.URL, http: b.srv.Client(), token: b.c.token}
			for range perConn {
				r := c.pub(http.MethodPost, "/jobs", map[string]any{"connectionId": conn, "jobType": "sync"})
				if r.status == http.StatusConflict {
					continue
				}
				if r.status != http.StatusOK {
					t.Errorf("POST /jobs: %d %s", r.status, r.body)
					return
				}
				id := int64(r.obj(t)["jobId"].(float64))
				if st := c.pub(http.MethodGet, fmt.Sprintf("/jobs/%d", id), nil); st.status != http.StatusOK {
					t.Errorf("GET /jobs/%d: %d", id, st.status)
					return
				}
				synced.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, conns*perConn, synced.Load(), "zero durations: every sync finishes when read, so none conflicts")
	require.Len(t, b.emu.Jobs(), conns*perConn)
}

// BenchmarkSyncRoundTrip measures POST /jobs + GET /jobs/{id} over HTTP.
func BenchmarkSyncRoundTrip(b *testing.B) {
	emu := emulator.New(emulator.Config{Seed: 1})
	srv := newBenchServer(b, emu)
	c := &client{t: &testing.T{}, base: srv, http: http.DefaultClient}
	c.token = benchToken(b, srv)
	src := c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/sources", map[string]any{"name": "s", "workspaceId": wsID, "configuration": salesforceConfig()})
	var conns []string
	for range 64 {
		conn := c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/connections", map[string]any{"sourceId": src["sourceId"], "destinationId": destID})
		conns = append(conns, conn["connectionId"].(string))
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn := conns[next.Add(1)%int64(len(conns))]
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		c := &client{t: &testing.T{}, base: srv, http: hc, token: c.token}
		for pb.Next() {
			r := c.once(http.MethodPost, "/api/public/v1/jobs", map[string]any{"connectionId": conn, "jobType": "sync"})
			if r.status != http.StatusOK && r.status != http.StatusConflict {
				b.Errorf("POST /jobs: %d", r.status)
				return
			}
			if r.status == http.StatusOK {
				var j struct {
					JobID int64 `json:"jobId"`
				}
				r.json(c.t, &j)
				c.once(http.MethodGet, fmt.Sprintf("/api/public/v1/jobs/%d", j.JobID), nil)
			}
		}
	})
}
