// Package observability gives every AAM role its logger and its small HTTP
// server for /healthz (process up), /readyz (dependencies reachable) and
// /metrics (Prometheus).
package observability

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aam-mesh/aam/pkg/buildinfo"
	"github.com/aam-mesh/aam/pkg/config"
)

// NewLogger builds the process logger.
func NewLogger(cfg config.Log, role string) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cmp.Or(cfg.Level, "info"))
	if err != nil {
		return nil, err
	}
	var zc zap.Config
	if cfg.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		if colour(os.Stderr) {
			zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
	} else {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.TimeKey = "time"
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.DisableStacktrace = true
	l, err := zc.Build()
	if err != nil {
		return nil, err
	}
	return l.With(zap.String("role", role), zap.String("build", buildinfo.Version)), nil
}

// colour reports whether console logs written to f may carry ANSI colour:
// only when f is a terminal and NO_COLOR (https://no-color.org) is unset, so
// that logs redirected to a file or a pipe stay plain text.
func colour(f *os.File) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// NewRegistry returns a Prometheus registry with the Go and process
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Check is one readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Handler serves /healthz, /readyz and /metrics.
type Handler struct {
	mu     sync.RWMutex
	checks []Check
	reg    prometheus.Gatherer
}

// NewHandler returns a Handler for reg and checks.
func NewHandler(reg prometheus.Gatherer, checks ...Check) *Handler {
	return &Handler{reg: reg, checks: checks}
}

// AddCheck adds a readiness check.
func (h *Handler) AddCheck(c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, c)
}

// Register mounts the three endpoints on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": buildinfo.Version})
	})
	mux.HandleFunc("GET /readyz", h.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}))
}

func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	h.mu.RLock()
	checks := append([]Check(nil), h.checks...)
	h.mu.RUnlock()
	status := http.StatusOK
	result := map[string]string{}
	for _, c := range checks {
		if err := c.Fn(ctx); err != nil {
			status = http.StatusServiceUnavailable
			result[c.Name] = err.Error()
		} else {
			result[c.Name] = "ok"
		}
	}
	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": result})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves handler on addr until ctx is cancelled, then shuts down
// gracefully. An empty addr serves nothing and waits for ctx.
func Serve(ctx context.Context, addr string, handler http.Handler, log *zap.Logger) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, handler, log)
}

// ServeListener is Serve on an open listener.
func ServeListener(ctx context.Context, ln net.Listener, handler http.Handler, log *zap.Logger) error {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	if log != nil {
		log.Info("http listening", zap.String("addr", ln.Addr().String()))
	}
	return ServeServer(ctx, srv, ln)
}

// ServeServer runs srv on ln until srv fails or ctx is cancelled, then
// shuts it down, giving in-flight requests ten seconds. It returns the
// serve error, or the shutdown's.
func ServeServer(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
