package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Source is the CloudEvent source of the requests the gateway builds from
// its JSON routes. Idempotency keys are scoped to it.
const Source = "/aam/gateway"

// Server is the HTTP gateway. Build it with New, serve it with Run or
// mount Handler in another server; Close ends its streams and waits.
type Server struct {
	cfg     Config
	log     *zap.Logger
	nc      *nats.Conn
	js      jetstream.JetStream
	store   *registry.Store
	pub     *bus.Publisher
	hub     *hub
	metrics *metrics
	mux     *http.ServeMux
	routes  []string
	open    map[string]bool
	tokens  [][sha256.Size]byte
	// known are the connections the registry said exist.
	known registered

	// ctx ends when the server shuts down: streams and waits return.
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// New builds a gateway on d's NATS connection, JetStream context and
// registry (d.Log, d.NC, d.JS and d.Store are required). Its metrics are
// registered on d.Metrics (a new registry when nil). It subscribes to the
// facts at once, so that a wait can never miss its answer.
func New(cfg Config, d *app.Deps) (*Server, error) {
	if d == nil || d.NC == nil || d.JS == nil || d.Store == nil {
		return nil, errors.New("gateway: NATS connection, JetStream and registry are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	log := d.Log
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("gateway")
	reg := d.Metrics
	if reg == nil {
		reg = observability.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("gateway: metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: log, nc: d.NC, js: d.JS, store: d.Store, pub: bus.NewPublisher(d.JS),
		metrics: m, mux: http.NewServeMux(), open: map[string]bool{}, ctx: ctx, cancel: cancel,
		known: registered{max: maxRegistered},
	}
	for _, t := range cfg.tokens() {
		s.tokens = append(s.tokens, sha256.Sum256([]byte(t)))
	}
	if len(s.tokens) == 0 {
		log.Warn("GATEWAY_TOKENS is empty: authentication is disabled, every caller is accepted")
	}
	s.hub, err = newHub(d.NC, log)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	health := observability.NewHandler(reg,
		observability.Check{Name: "postgres", Fn: d.Store.Ping},
		app.NATSCheck(d.NC))
	s.routeTable(health, reg)
	return s, nil
}

// routeTable registers every route. The OpenAPI document lists the same
// routes; a test keeps the two equal.
func (s *Server) routeTable(health *observability.Handler, reg prometheus.Gatherer) {
	hm := http.NewServeMux()
	health.Register(hm)
	openRoute := func(pattern string, h http.Handler) {
		s.handle(pattern, h)
		s.open[pattern] = true
	}
	openRoute("GET /healthz", hm)
	openRoute("GET /health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/healthz"
		hm.ServeHTTP(w, r2)
	}))
	openRoute("GET /readyz", hm)
	openRoute("GET /metrics", hm)
	openRoute("GET /openapi.yaml", http.HandlerFunc(serveOpenAPI))

	// Requests: the seed's routes and their /v1 counterparts.
	s.handle("POST /connections/onboard", s.jsonRoute(kindOnboard, true))
	s.handle("POST /connections/{id}/sync", s.jsonRoute(kindSync, true))
	s.handle("POST /repair/apply_new_catalog", s.jsonRoute(kindRepairSeed, true))
	s.handle("POST /v1/connections/onboard", s.jsonRoute(kindOnboard, false))
	s.handle("POST /v1/connections/{id}/sync", s.jsonRoute(kindSync, false))
	s.handle("POST /v1/connections/{id}/repair", s.jsonRoute(kindRepair, false))
	s.handle("POST /v1/events", http.HandlerFunc(s.handleEvents))

	// Registry reads.
	s.handle("GET /connections", http.HandlerFunc(s.handleSeedConnections))
	s.handle("GET /connections/{id}", http.HandlerFunc(s.handleSeedConnection))
	s.handle("GET /v1/connections", http.HandlerFunc(s.handleConnections))
	s.handle("GET /v1/connections/{id}", http.HandlerFunc(s.handleConnection))
	s.handle("GET /v1/connections/{id}/catalog/versions", http.HandlerFunc(s.handleVersions))
	s.handle("GET /v1/connections/{id}/catalog/versions/{n}", http.HandlerFunc(s.handleVersion))
	s.handle("GET /v1/connections/{id}/catalog/versions/{a}/diff/{b}", http.HandlerFunc(s.handleVersionDiff))
	s.handle("GET /v1/connections/{id}/drifts", http.HandlerFunc(s.handleDrifts))
	s.handle("DELETE /v1/connections/{id}", s.jsonRoute(kindDelete, false))
	s.handle("PUT /v1/connections/{id}/policy", s.jsonRoute(kindPolicy, false))
	s.handle("GET /v1/connections/{id}/policy", http.HandlerFunc(s.handlePolicy))
	s.handle("POST /v1/connections/{id}/drift/check", http.HandlerFunc(s.handleDriftCheck))
	s.handle("POST /v1/connections/{id}/drifts/{drift_id}/approve", s.jsonRoute(kindApprove, false))
	s.handle("POST /v1/connections/{id}/drifts/{drift_id}/reject", s.jsonRoute(kindReject, false))
	s.handle("POST /v1/connections/{id}/catalog/rollback", s.jsonRoute(kindRollback, false))
	s.handle("GET /v1/connections/{id}/jobs", http.HandlerFunc(s.handleJobs))
	s.handle("GET /v1/connections/{id}/health", http.HandlerFunc(s.handleHealth))
	s.handle("GET /v1/connections/{id}/stats", http.HandlerFunc(s.handleStats))
	s.handle("POST /v1/connections/{id}/release", s.jsonRoute(kindRelease, false))
	s.handle("GET /v1/requests/{id}", http.HandlerFunc(s.handleRequest))
	s.handle("GET /v1/events/stream", http.HandlerFunc(s.handleStream))
}

func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.routes = append(s.routes, pattern)
}

// Routes lists the registered routes as "METHOD /pattern".
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// Handler returns the gateway's HTTP handler: authentication, body limits,
// metrics and JSON errors around the routes.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Run serves on cfg.Addr until ctx is cancelled, then shuts down: open
// event streams and waits end, in-flight requests get 10 s to finish.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("gateway: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an open listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	// Shutdown waits for in-flight requests; event streams and waits end
	// at once (a wait then answers 202: its request is stored).
	srv.RegisterOnShutdown(s.cancel)
	s.log.Info("gateway listening", zap.String("addr", ln.Addr().String()), zap.Bool("auth", len(s.tokens) > 0))
	err := observability.ServeServer(ctx, srv, ln)
	s.Close()
	return err
}

// Close ends open event streams and waits and releases the fact
// subscription. The handler answers 503 afterwards.
func (s *Server) Close() {
	s.once.Do(func() {
		s.cancel()
		s.hub.close()
	})
}

// statusWriter records the status of an answer for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	_, pattern := s.mux.Handler(r)
	route := pattern
	if route == "" {
		route = "unmatched"
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("handler panic", zap.String("route", route), zap.Any("panic", p), zap.Stack("stack"))
			if sw.status == 0 {
				writeError(sw, http.StatusInternalServerError, Error{Error: "internal error"})
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observe(r.Method, route, status, time.Since(start))
	}()
	if s.ctx.Err() != nil {
		writeError(sw, http.StatusServiceUnavailable, Error{Error: "the gateway is shutting down"})
		return
	}
	if pattern == "" {
		s.unmatched(sw, r)
		return
	}
	if !s.open[pattern] && !s.authorized(r) {
		sw.Header().Set("WWW-Authenticate", `Bearer realm="aam"`)
		writeError(sw, http.StatusUnauthorized, Error{Error: "missing or invalid bearer token", Field: "Authorization"})
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// authorized checks the bearer token against every configured token in
// constant time (hashes of equal length, no early exit).
func (s *Server) authorized(r *http.Request) bool {
	if len(s.tokens) == 0 {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := 0
	for _, want := range s.tokens {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}

// unmatched answers requests no route takes (404, 405, redirects) with a
// JSON body, keeping the status and headers the mux chose.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	rec := &recorder{header: http.Header{}, Code: http.StatusOK}
	h.ServeHTTP(rec, r)
	for k, v := range rec.header {
		switch k {
		case "Content-Type", "Content-Length", "X-Content-Type-Options":
			continue
		}
		w.Header()[k] = v
	}
	msg := fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)
	switch rec.Code {
	case http.StatusMethodNotAllowed:
		msg = fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.header.Get("Allow"))
	case http.StatusMovedPermanently, http.StatusPermanentRedirect, http.StatusTemporaryRedirect, http.StatusFound:
		msg = "moved to " + rec.header.Get("Location")
	}
	writeError(w, rec.Code, Error{Error: msg})
}

// recorder keeps the status and headers the mux's own answer would have.
type recorder struct {
	header http.Header
	Code   int
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return len(b), nil
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.Code, r.wrote = code, true
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error: answer not encodable"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, e Error) { writeJSON(w, status, e) }

// metrics of the HTTP surface.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	published *prometheus.CounterVec
	streams   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aam_gateway_http_requests_total", Help: "HTTP requests answered, by route and status.",
		}, []string{"method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aam_gateway_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "route"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aam_gateway_requests_total", Help: "Requests taken by the gateway, by type and result (accepted, replayed, unavailable, conflict).",
		}, []string{"type", "result"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aam_gateway_event_streams", Help: "Open server-sent event streams.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.published, m.streams} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, fmt.Sprint(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}
