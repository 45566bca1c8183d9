package observability

import (
	"sync"

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
//
// and, for the clients passed to Watch, their admission control, read when
// scraped:
//
//	aam_airbyte_admission_limit{api}                  calls admitted at once now (adaptive)
//	aam_airbyte_admission_max{api}                    the configured bound
//	aam_airbyte_admission_in_flight{api}              calls sent and not yet answered
//	aam_airbyte_admission_queued{api,priority}        calls waiting for a slot
//	aam_airbyte_admission_rejected_total{api,priority} calls refused as busy (their wait outlasted the deadline)
//	aam_airbyte_admission_decreases_total{api}        times the limit was lowered for overload
type AirbyteMetrics struct {
	calls     *prometheus.HistogramVec
	requests  *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	breaker   *prometheus.GaugeVec
	admission *admissionCollector
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
		admission: newAdmissionCollector(),
	}
	reg.MustRegister(m.calls, m.requests, m.errors, m.breaker, m.admission)
	return m
}

// Watch exports c's admission control. Several clients of one process add
// up per API.
func (m *AirbyteMetrics) Watch(c *airbyte.Client) {
	m.admission.mu.Lock()
	defer m.admission.mu.Unlock()
	m.admission.clients = append(m.admission.clients, c)
}

type admissionCollector struct {
	limit, max, inFlight, queued, rejected, decreases *prometheus.Desc

	mu      sync.Mutex
	clients []*airbyte.Client
}

func newAdmissionCollector() *admissionCollector {
	api := []string{"api"}
	apiPrio := []string{"api", "priority"}
	return &admissionCollector{
		limit:     prometheus.NewDesc("aam_airbyte_admission_limit", "Airbyte calls admitted at once now, lowered while Airbyte shows overload.", api, nil),
		max:       prometheus.NewDesc("aam_airbyte_admission_max", "Configured bound on Airbyte calls in flight.", api, nil),
		inFlight:  prometheus.NewDesc("aam_airbyte_admission_in_flight", "Airbyte calls sent and not yet answered.", api, nil),
		queued:    prometheus.NewDesc("aam_airbyte_admission_queued", "Airbyte calls waiting for a slot, by priority.", apiPrio, nil),
		rejected:  prometheus.NewDesc("aam_airbyte_admission_rejected_total", "Airbyte calls not sent because their wait for a slot outlasted their deadline, by priority.", apiPrio, nil),
		decreases: prometheus.NewDesc("aam_airbyte_admission_decreases_total", "Times the in-flight limit was lowered for overload.", api, nil),
	}
}

// Describe implements prometheus.Collector.
func (a *admissionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{a.limit, a.max, a.inFlight, a.queued, a.rejected, a.decreases} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (a *admissionCollector) Collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	clients := append([]*airbyte.Client(nil), a.clients...)
	a.mu.Unlock()
	var apis []airbyte.API
	sum := map[airbyte.API]*airbyte.AdmissionStats{}
	for _, c := range clients {
		for _, s := range c.AdmissionStats() {
			t := sum[s.API]
			if t == nil {
				t = &airbyte.AdmissionStats{API: s.API}
				sum[s.API] = t
				apis = append(apis, s.API)
			}
			t.Limit += s.Limit
			t.Max += s.Max
			t.InFlight += s.InFlight
			t.Decreases += s.Decreases
			for p := range s.Queued {
				t.Queued[p] += s.Queued[p]
				t.Rejected[p] += s.Rejected[p]
			}
		}
	}
	for _, api := range apis {
		s, l := sum[api], string(api)
		ch <- prometheus.MustNewConstMetric(a.limit, prometheus.GaugeValue, float64(s.Limit), l)
		ch <- prometheus.MustNewConstMetric(a.max, prometheus.GaugeValue, float64(s.Max), l)
		ch <- prometheus.MustNewConstMetric(a.inFlight, prometheus.GaugeValue, float64(s.InFlight), l)
		ch <- prometheus.MustNewConstMetric(a.decreases, prometheus.CounterValue, float64(s.Decreases), l)
		for p := range s.Queued {
			prio := airbyte.Priority(p).String()
			ch <- prometheus.MustNewConstMetric(a.queued, prometheus.GaugeValue, float64(s.Queued[p]), l, prio)
			ch <- prometheus.MustNewConstMetric(a.rejected, prometheus.CounterValue, float64(s.Rejected[p]), l, prio)
		}
	}
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
