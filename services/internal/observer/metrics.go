package observer

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aam-mesh/aam/pkg/observability"
)

// metrics of the schema observer.
type metrics struct {
	// checks counts connection checks by outcome: no_drift, drift (new),
	// known (a drift seen before), skipped, failed.
	checks *prometheus.CounterVec
	// drifts counts new drifts' changes by class: breaking or
	// non_breaking (AAM's verdict), with the change kind.
	drifts *prometheus.CounterVec
	// decisions counts new drifts by the policy's action.
	decisions *prometheus.CounterVec
	// latency is the duration of a check that discovered the source.
	latency *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aam_observer_checks_total",
			Help: "Connection checks, by outcome: no_drift, drift, known, skipped, failed."}, []string{"outcome"}),
		drifts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aam_observer_drift_changes_total",
			Help: "Changes of new drifts, by class (breaking, non_breaking) and kind."}, []string{"class", "kind"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aam_observer_decisions_total",
			Help: "New drifts decided by policy, by action: propagate, ignore, pause, require_approval."}, []string{"action"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aam_observer_check_seconds",
			Help: "Duration of a connection check that discovered its source.", Buckets: prometheus.DefBuckets}, []string{"outcome"}),
	}
	if reg != nil {
		m.checks, _ = observability.Register(reg, m.checks)
		m.drifts, _ = observability.Register(reg, m.drifts)
		m.decisions, _ = observability.Register(reg, m.decisions)
		m.latency, _ = observability.Register(reg, m.latency)
	}
	return m
}

// observe records one check's result.
func (m *metrics) observe(r Result, seconds float64, discovered bool) {
	outcome := "no_drift"
	switch {
	case r.Error != "":
		outcome = "failed"
	case r.Skipped != "":
		outcome = "skipped"
	case r.Drift && r.New:
		outcome = "drift"
	case r.Drift:
		outcome = "known"
	}
	m.checks.WithLabelValues(outcome).Inc()
	if discovered {
		m.latency.WithLabelValues(outcome).Observe(seconds)
	}
	if !r.New {
		return
	}
	for _, c := range r.Changes {
		class := "non_breaking"
		if c.Breaking {
			class = "breaking"
		}
		m.drifts.WithLabelValues(class, string(c.Kind)).Inc()
	}
	if r.Decision != nil {
		m.decisions.WithLabelValues(r.Decision.Action).Inc()
	}
}
