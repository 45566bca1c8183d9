package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// memoryFootprint is what the memory scenario measured: the live heap (after a
// full GC) the emulator added per onboarded connection (source, discovered
// catalog and connection) and per sync job.
type memoryFootprint struct {
	perConnection, perJob float64 // bytes
	total                 uint64  // bytes the emulator holds at the end
	jobsRetained          int
}

// liveHeap returns the bytes of live heap objects after two full collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// measureMemory onboards conns Salesforce sources and connections through the HTTP
// API (create source, discover, create connection with the default streams) and
// then runs jobs instant sync jobs (POST /jobs + GET /jobs/{id}) spread evenly over
// the connections, measuring the live heap before, between and after.
func measureMemory(tb testing.TB, cfg emulator.Config, conns, jobs int) memoryFootprint {
	tb.Helper()
	cfg.Seed = 1
	emu := emulator.New(cfg)
	srv := httptest.NewServer(emu.Handler())
	tb.Cleanup(func() {
		emu.Close()
		srv.Close()
	})
	hc := srv.Client()
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 8
	token := benchTokenFor(tb, hc, srv.URL)
	var (
		failOnce sync.Once
		failure  error
		failed   = make(chan struct{})
	)
	fail := func(err error) {
		failOnce.Do(func() { failure = err; close(failed) })
	}
	// call sends one request that must answer 200 and decodes the body; on any
	// failure it records the first error and returns nil.
	call := func(method, path string, body any) map[string]any {
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				fail(err)
				return nil
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, srv.URL+path, rd)
		if err != nil {
			fail(err)
			return nil
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			fail(err)
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if resp.StatusCode != http.StatusOK {
			fail(fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b))
			return nil
		}
		if err := json.Unmarshal(b, &out); err != nil {
			fail(err)
			return nil
		}
		return out
	}
	// parallel runs f(i) for i in [0, n) on a few workers until one fails.
	parallel := func(n int, f func(i int) bool) {
		var wg sync.WaitGroup
		const workers = 4
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					select {
					case <-failed:
						return
					default:
					}
					if !f(i) {
						return
					}
				}
			})
		}
		wg.Wait()
		if failure != nil {
			tb.Fatal(failure)
		}
	}

	base := liveHeap()
	ids := make([]string, conns)
	parallel(conns, func(i int) bool {
		n := strconv.Itoa(i)
		src := call(http.MethodPost, "/api/public/v1/sources", map[string]any{
			"name": "salesforce-" + n, "workspaceId": wsID, "configuration": map[string]any{
				"sourceType": "salesforce", "client_id": "3MVG9-client-" + n, "client_secret": "s3cr3t",
				"refresh_token": "5Aep861-refresh-" + n, "start_date": "2024-01-01T00:00:00Z",
			},
		})
		if src == nil || call(http.MethodPost, "/api/v1/sources/discover_schema", map[string]any{"sourceId": src["sourceId"]}) == nil {
			return false
		}
		conn := call(http.MethodPost, "/api/public/v1/connections", map[string]any{
			"name": "salesforce-" + n, "sourceId": src["sourceId"], "destinationId": destID,
		})
		if conn == nil {
			return false
		}
		ids[i] = conn["connectionId"].(string)
		return true
	})
	onboarded := liveHeap()
	parallel(conns, func(i int) bool {
		for k := i; k < jobs; k += conns {
			job := call(http.MethodPost, "/api/public/v1/jobs", map[string]any{"connectionId": ids[i], "jobType": "sync"})
			if job == nil {
				return false
			}
			got := call(http.MethodGet, "/api/public/v1/jobs/"+strconv.FormatInt(int64(job["jobId"].(float64)), 10), nil)
			if got == nil {
				return false
			}
			if got["status"] != "succeeded" {
				fail(fmt.Errorf("job %v: %v, want succeeded (instant jobs)", job["jobId"], got["status"]))
				return false
			}
		}
		return true
	})
	done := liveHeap()
	retained := len(emu.Jobs())
	if path := os.Getenv("EMULATOR_MEM_PROFILE"); path != "" {
		f, err := os.Create(path)
		require.NoError(tb, err)
		require.NoError(tb, pprof.WriteHeapProfile(f))
		require.NoError(tb, f.Close())
	}
	runtime.KeepAlive(emu)
	return memoryFootprint{
		perConnection: float64(int64(onboarded)-int64(base)) / float64(conns),
		perJob:        float64(int64(done)-int64(onboarded)) / float64(jobs),
		total:         done - base,
		jobsRetained:  retained,
	}
}

func benchTokenFor(tb testing.TB, hc *http.Client, base string) string {
	tb.Helper()
	resp, err := hc.Post(base+"/api/public/v1/applications/token", "application/json",
		bytes.NewReader([]byte(`{"client_id":"`+emulator.DefaultClientID+`","client_secret":"`+emulator.DefaultClientSecret+`"}`)))
	require.NoError(tb, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(tb, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkMemory reports the live heap the emulator holds per onboarded
// connection and per sync job, the numbers that bound `aam dev`'s RSS under
// `aam bench`. Run it with
//
//	go test -run '^$' -bench Memory -benchtime 1x ./emulator/
//
// EMULATOR_MEM_CONNECTIONS (default 1000) and EMULATOR_MEM_JOBS (default 30000)
// set the scale; EMULATOR_MEM_PROFILE=file writes a heap profile at the end (add
// -memprofilerate 4096 for detail).
func BenchmarkMemory(b *testing.B) {
	conns := envInt("EMULATOR_MEM_CONNECTIONS", 1000)
	jobs := envInt("EMULATOR_MEM_JOBS", 30000)
	for range b.N {
		m := measureMemory(b, emulator.Config{}, conns, jobs)
		b.ReportMetric(m.perConnection, "B/connection")
		b.ReportMetric(m.perJob, "B/job")
		b.ReportMetric(float64(m.total)/(1<<20), "MiB_total")
		b.ReportMetric(float64(m.jobsRetained), "jobs_retained")
	}
}

// TestMemoryFootprint guards the sharing and the compact jobs: an onboarded
// connection must not cost a copy of its catalog (about 190 KB each when schemas
// were copied per source and connection), nor a job more than a few hundred bytes.
func TestMemoryFootprint(t *testing.T) {
	// Not parallel: the live heap is measured while no other test runs.
	m := measureMemory(t, emulator.Config{}, 100, 2000)
	t.Logf("%.0f B/connection, %.0f B/job", m.perConnection, m.perJob)
	require.Less(t, m.perConnection, 16_000.0, "bytes per connection")
	require.Less(t, m.perJob, 512.0, "bytes per job")
	require.Equal(t, 2000, m.jobsRetained)
}
