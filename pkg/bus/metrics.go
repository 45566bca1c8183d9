package bus

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runtime's Prometheus series. A nil *Metrics records
// nothing.
type Metrics struct {
	handled    *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	pending    *prometheus.GaugeVec
	ackPending *prometheus.GaugeVec
	redeliver  *prometheus.GaugeVec
}

// NewMetrics registers the runtime's series on reg (outcome is a
// MessageOutcome):
//
//	aam_messages_handled_total{consumer,outcome}      ack|nak|term|dlq|duplicate
//	aam_handler_duration_seconds{consumer,outcome}
//	aam_consumer_pending_messages{consumer}           not yet delivered
//	aam_consumer_ack_pending_messages{consumer}       delivered, not yet acknowledged
//	aam_consumer_redelivered_messages{consumer}
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aam_messages_handled_total",
			Help: "Requests handled by a worker consumer, by outcome (" + messageOutcomeList() + ").",
		}, []string{"consumer", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aam_handler_duration_seconds",
			Help:    "Time from delivery to settlement of a request, by outcome.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"consumer", "outcome"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "aam_consumer_pending_messages",
			Help: "Messages in the stream not yet delivered to the consumer.",
		}, []string{"consumer"}),
		ackPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "aam_consumer_ack_pending_messages",
			Help: "Messages delivered to the consumer and not yet acknowledged.",
		}, []string{"consumer"}),
		redeliver: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "aam_consumer_redelivered_messages",
			Help: "Messages of the consumer being redelivered.",
		}, []string{"consumer"}),
	}
	reg.MustRegister(m.handled, m.duration, m.pending, m.ackPending, m.redeliver)
	return m
}

func (m *Metrics) observe(consumer string, outcome MessageOutcome, d time.Duration) {
	if m == nil {
		return
	}
	m.handled.WithLabelValues(consumer, outcome.label()).Inc()
	m.duration.WithLabelValues(consumer, outcome.label()).Observe(d.Seconds())
}

func (m *Metrics) consumerState(consumer string, pending uint64, ackPending, redelivered int) {
	if m == nil {
		return
	}
	m.pending.WithLabelValues(consumer).Set(float64(pending))
	m.ackPending.WithLabelValues(consumer).Set(float64(ackPending))
	m.redeliver.WithLabelValues(consumer).Set(float64(redelivered))
}
