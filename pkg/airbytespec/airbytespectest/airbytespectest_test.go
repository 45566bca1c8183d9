package airbytespectest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbytespec/airbytespectest"
)

// recorder is a testing.TB that records Errorf calls instead of failing.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func fakeAirbyte(jobBody string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, jobBody)
	})
}

const goodJob = `{"jobId":7,"status":"running","jobType":"sync","startTime":"2025-09-16T20:13:24Z","connectionId":"9924bcd0-99be-453d-ba47-c2c9766f7da5"}`

func TestTransport(t *testing.T) {
	t.Parallel()
	specs := airbytespectest.Specs(t)
	for _, tc := range []struct {
		name, job, jobType string
		wantErrors         int
	}{
		{"valid exchange", goodJob, "sync", 0},
		{"invalid request", goodJob, "resync", 1},
		{"invalid response", strings.Replace(goodJob, `"jobId":7`, `"jobId":"7"`, 1), "sync", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(fakeAirbyte(tc.job))
			t.Cleanup(srv.Close)
			rec := &recorder{TB: t}
			hc := &http.Client{Transport: airbytespectest.Transport(rec, specs, nil)}
			resp, err := hc.Post(srv.URL+"/api/public/v1/jobs", "application/json",
				strings.NewReader(`{"connectionId":"9924bcd0-99be-453d-ba47-c2c9766f7da5","jobType":"`+tc.jobType+`"}`))
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.job, string(body), "the caller still reads the whole body")
			require.Len(t, rec.errors, tc.wantErrors, "%v", rec.errors)
		})
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	specs := airbytespectest.Specs(t)
	rec := &recorder{TB: t}
	srv := httptest.NewServer(airbytespectest.Middleware(rec, specs, fakeAirbyte(`{"jobId":7}`)))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/api/public/v1/jobs/7")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, rec.errors, 1)
	require.Contains(t, rec.errors[0], "connectionId")

	resp, err = http.Get(srv.URL + "/_emulator/state")
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, rec.errors, 1, "paths outside the APIs are not validated")
}
