// Package airbytespectest is test support for validating Airbyte API traffic against
// Airbyte's OpenAPI documents: it finds and loads the documents once per test binary
// (skipping the test with a clear message when they are absent) and wraps an
// http.RoundTripper or http.Handler so every request and response is validated and
// each violation is reported with t.Errorf.
package airbytespectest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aam-mesh/aam/pkg/airbytespec"
)

// SkipMessage is the reason given to t.Skip when the documents are absent.
const SkipMessage = "Airbyte OpenAPI specs absent (set " + airbytespec.EnvDir +
	" or provide ../shared/airbyte beside the repository): nothing was validated against them"

// Specs returns the loaded documents, or skips the test when the spec folder is
// absent. A folder that exists but cannot be loaded fails the test.
func Specs(tb testing.TB) *airbytespec.Specs {
	tb.Helper()
	dir, ok := airbytespec.Dir()
	if !ok {
		tb.Skip(SkipMessage)
	}
	specs, err := airbytespec.Load(dir)
	if err != nil {
		tb.Fatalf("load Airbyte OpenAPI specs from %s: %v", dir, err)
	}
	return specs
}

// Transport wraps base (http.DefaultTransport when nil) so that every request sent
// to a path under /api/public/v1 or /api/v1, and its response, is validated against
// specs. Violations are reported with tb.Errorf; the exchange itself is not altered.
func Transport(tb testing.TB, specs *airbytespec.Specs, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{tb: tb, specs: specs, base: base}
}

type transport struct {
	tb    testing.TB
	specs *airbytespec.Specs
	base  http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !airbytespec.Covers(req.URL.Path) {
		return t.base.RoundTrip(req)
	}
	// Validate a copy so the caller's request body is left to the transport.
	body, err := readAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	report(t.tb, t.specs.ValidateRequest(vreq))

	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	report(t.tb, t.specs.ValidateResponse(vreq, resp)) // restores resp.Body
	return resp, nil
}

// Middleware wraps next so that every request it serves under /api/public/v1 or
// /api/v1, and the response next writes, is validated against specs. Violations are
// reported with tb.Errorf. Responses are buffered before they reach the client.
func Middleware(tb testing.TB, specs *airbytespec.Specs, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !airbytespec.Covers(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := readAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		vreq := r.Clone(r.Context())
		vreq.Body = io.NopCloser(bytes.NewReader(body))
		report(tb, specs.ValidateRequest(vreq))

		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		resp := rec.Result()
		vreq.Body = io.NopCloser(bytes.NewReader(body))
		report(tb, specs.ValidateResponse(vreq, resp))

		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func readAll(rc io.ReadCloser) ([]byte, error) {
	if rc == nil || rc == http.NoBody {
		return nil, nil
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func report(tb testing.TB, err error) {
	if err == nil {
		return
	}
	tb.Helper()
	var ve *airbytespec.ValidationError
	if errors.As(err, &ve) {
		tb.Errorf("%v", ve)
		return
	}
	tb.Errorf("validate against Airbyte OpenAPI specs: %v", err)
}
