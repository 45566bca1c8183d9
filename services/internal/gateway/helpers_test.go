package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vconfig "github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

// bundle is a mesh, a gateway on it, and a client whose every answer is
// checked against the gateway's OpenAPI document.
type bundle struct {
	t      *testing.T
	mesh   *gatewaytest.Mesh
	srv    *gateway.Server
	ts     *httptest.Server
	client *http.Client
	token  string
}

func setup(t *testing.T, cfg gateway.Config, opts ...gatewaytest.Options) *bundle {
	t.Helper()
	mesh := gatewaytest.Start(t, opts...)
	srv, ts := mesh.Gateway(cfg)
	b := &bundle{t: t, mesh: mesh, srv: srv, ts: ts}
	b.client = &http.Client{Transport: &validatingTransport{t: t, base: http.DefaultTransport}, Timeout: 30 * time.Second}
	return b
}

// response is a read answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (r response) errBody(t *testing.T) gateway.Error {
	t.Helper()
	var e gateway.Error
	r.json(t, &e)
	return e
}

// do sends a request; headers come in name, value pairs. A JSON body gets
// Content-Type application/json unless a header says otherwise.
func (b *bundle) do(method, path, body string, headers ...string) response {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.ts.URL+path, rd)
	require.NoError(b.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: rb}
}

// requestsStored counts the messages of AAM_REQUESTS.
func (b *bundle) requestsStored() uint64 {
	b.t.Helper()
	s, err := b.mesh.JS.Stream(context.Background(), bus.StreamRequests)
	require.NoError(b.t, err)
	info, err := s.Info(context.Background())
	require.NoError(b.t, err)
	return info.State.Msgs
}

// lastRequest returns the newest message of AAM_REQUESTS.
func (b *bundle) lastRequest() *jetstream.RawStreamMsg {
	b.t.Helper()
	s, err := b.mesh.JS.Stream(context.Background(), bus.StreamRequests)
	require.NoError(b.t, err)
	info, err := s.Info(context.Background())
	require.NoError(b.t, err)
	m, err := s.GetMsg(context.Background(), info.State.LastSeq)
	require.NoError(b.t, err)
	return m
}

// validatingTransport checks every answer (but event streams) against the
// OpenAPI document: the status must be declared and the body must match.
type validatingTransport struct {
	t    *testing.T
	base http.RoundTripper
}

var (
	docOnce sync.Once
	docV    validator.Validator
	docErr  error
	docMu   sync.Mutex
)

func openAPIValidator(t *testing.T) validator.Validator {
	t.Helper()
	docOnce.Do(func() {
		cfg := datamodel.NewDocumentConfiguration()
		cfg.Logger = slog.New(slog.DiscardHandler)
		doc, err := libopenapi.NewDocumentWithConfiguration(gateway.OpenAPI, cfg)
		if err != nil {
			docErr = err
			return
		}
		v, errs := validator.NewValidator(doc, vconfig.WithoutSecurityValidation(), vconfig.WithFormatAssertions(),
			vconfig.WithLogger(slog.New(slog.DiscardHandler)))
		if len(errs) > 0 {
			docErr = errs[0]
			return
		}
		docV = v
	})
	require.NoError(t, docErr)
	return docV
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := vt.base.RoundTrip(req)
	if err != nil || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	vresp := *resp
	vresp.Body = io.NopCloser(bytes.NewReader(body))
	v := openAPIValidator(vt.t)
	docMu.Lock()
	ok, verrs := v.ValidateHttpResponse(vreq, &vresp)
	docMu.Unlock()
	if !ok && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) &&
		len(verrs) == 1 && (verrs[0].IsPathMissingError() || verrs[0].IsOperationMissingError()) {
		ok = true // no route: outside the document by definition
	}
	if !ok {
		for _, e := range verrs {
			msg := e.Message + ": " + e.Reason
			for _, se := range e.SchemaValidationErrors {
				msg += "\n    " + se.Reason + " at " + se.FieldPath
			}
			vt.t.Errorf("%s %s answered %d against the OpenAPI document: %s\n  body: %s", req.Method, req.URL.Path, resp.StatusCode, msg, body)
		}
	}
	return resp, nil
}

// requireBadAndUnknown checks that a connection route (the path after
// /v1/connections/{id}) answers 400 for connection id with a bad query and
// 404 for a connection that is not registered.
func (b *bundle) requireBadAndUnknown(method, id, route, badQuery string) {
	b.t.Helper()
	r := b.do(method, "/v1/connections/"+id+route+badQuery, "")
	require.Equal(b.t, http.StatusBadRequest, r.status, "%s", r.body)
	r = b.do(method, "/v1/connections/"+registry.NewID()+route, "")
	require.Equal(b.t, http.StatusNotFound, r.status, "%s", r.body)
}

// requireReasonChecked checks that a request route with an optional
// reason refuses a reason over 1000 characters (field reason) at path and
// a connection that is not registered at unknownPath, before anything is
// published.
func (b *bundle) requireReasonChecked(method, path, unknownPath string) {
	b.t.Helper()
	r := b.do(method, path, `{"reason":"`+strings.Repeat("x", 1001)+`"}`, "Content-Type", "application/json")
	require.Equal(b.t, http.StatusBadRequest, r.status, "%s", r.body)
	require.Equal(b.t, "reason", r.errBody(b.t).Field)
	r = b.do(method, unknownPath, "")
	require.Equal(b.t, http.StatusNotFound, r.status, "%s", r.body)
}
