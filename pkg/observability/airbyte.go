package observability

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aam-mesh/aam/pkg/airbyte"
)

// AirbyteMetrics exports the Airbyte client's telemetry (airbyte.Observer)
// as Prometheus series:
//
//	aam_airbyte_call_duration_seconds{operation,outcome}   one client call, retries included
//	aam_airbyte_request_duration_seconds{operation,status} one HTTP attempt
//	aam_airbyte_call_errors_total{operation,outcome}       calls that did not succeed
//	aam_airbyte_breaker_state{origin}                      0 closed, 1 half-open, 2 open
type AirbyteMetrics struct {
	calls    *prometheus.HistogramVec
	requests *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	breaker  *prometheus.GaugeVec
}

// NewAirbyteMetrics registers the series on reg.
func NewAirbyteMetrics(reg prometheus.Registerer) *AirbyteMetrics {
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m := &AirbyteMetrics{
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aam_airbyte_call_duration_seconds", Help: "Airbyte client calls, retries included, by operation and outcome.",
			Buckets: buckets,
		}, []string{"operation", "outcome"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aam_airbyte_request_duration_seconds", Help: "HTTP attempts to Airbyte, by operation and status class.",
			Buckets: buckets,
		}, []string{"operation", "status"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aam_airbyte_call_errors_total", Help: "Airbyte client calls that did not succeed, by operation and outcome.",
		}, []string{"operation", "outcome"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "aam_airbyte_breaker_state", Help: "Circuit breaker state per Airbyte origin: 0 closed, 1 half-open, 2 open.",
		}, []string{"origin"}),
	}
	reg.MustRegister(m.calls, m.requests, m.errors, m.breaker)
	return m
}

// RequestDone implements airbyte.Observer.
func (m *AirbyteMetrics) RequestDone(i airbyte.RequestInfo) {
	m.requests.WithLabelValues(i.Operation, statusClass(i.StatusCode)).Observe(i.Duration.Seconds())
}

// CallDone implements airbyte.Observer.
func (m *AirbyteMetrics) CallDone(i airbyte.CallInfo) {
	m.calls.WithLabelValues(i.Operation, string(i.Outcome)).Observe(i.Duration.Seconds())
	if i.Outcome != airbyte.OutcomeSuccess {
		m.errors.WithLabelValues(i.Operation, string(i.Outcome)).Inc()
	}
}

// BreakerStateChanged implements airbyte.Observer.
func (m *AirbyteMetrics) BreakerStateChanged(c airbyte.BreakerChange) {
	m.breaker.WithLabelValues(c.Name).Set(c.To.Value())
}

func statusClass(code int) string {
	switch {
	case code == 0:
		return "none"
	case code == 429:
		return "429"
	case code >= 500:
		return "5xx"
	case code >= 400:
		return "4xx"
	case code >= 300:
		return "3xx"
	}
	return "2xx"
}

var _ airbyte.Observer = (*AirbyteMetrics)(nil)
