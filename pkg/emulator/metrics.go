package emulator

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Collector returns a Prometheus collector of the capacity counters (see
// [Emulator.Capacity]), for a process that serves its own registry; the
// emulator serves the same metrics at GET /_emulator/metrics.
func (e *Emulator) Collector() prometheus.Collector { return capacityCollector{e} }

func (e *Emulator) metricsHandler() http.Handler {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

const metricNS = "airbyte_emulator"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(metricNS+"_"+name, help, labels, nil)
}

var (
	descCalls         = desc("calls_total", "API calls answered, per route.", "route", "pool")
	descCallBusy      = desc("call_busy_seconds_total", "Time API calls held a pool thread, per route.", "route", "pool")
	descCallInFlight  = desc("calls_in_flight", "API calls in flight (waiting for a thread or served), per route.", "route", "pool")
	descCallMax       = desc("calls_in_flight_max", "High-water mark of API calls in flight, per route.", "route", "pool")
	descCallRejected  = desc("calls_rejected_total", "API calls answered 429 because their pool's queue was full, per route.", "route", "pool")
	descPoolThreads   = desc("pool_threads", "Threads of the pool (0: unbounded).", "pool")
	descPoolBusy      = desc("pool_busy", "Threads of the pool serving a request.", "pool")
	descPoolBusyMax   = desc("pool_busy_max", "High-water mark of busy threads.", "pool")
	descPoolQueued    = desc("pool_queued", "Requests waiting for a thread of the pool.", "pool")
	descPoolQueuedMax = desc("pool_queued_max", "High-water mark of requests waiting for a thread.", "pool")
	descPoolInFlight  = desc("pool_in_flight_max", "High-water mark of requests in the pool (busy + queued).", "pool")
	descPoolBusySecs  = desc("pool_busy_seconds_total", "Total time the pool's threads were busy.", "pool")
	descPoolRejected  = desc("pool_rejected_total", "Requests the pool answered 429 because its queue was full.", "pool")
	descWorkers       = desc("sync_workers", "Sync workers: jobs that can run at once (0: unbounded).")
	descJobsRunning   = desc("jobs_running", "Jobs holding a sync worker.")
	descJobsRunMax    = desc("jobs_running_max", "High-water mark of jobs holding a sync worker.")
	descJobsWaiting   = desc("jobs_waiting", "Jobs due to run that wait for a sync worker.")
	descJobsWaitMax   = desc("jobs_waiting_max", "High-water mark of jobs waiting for a sync worker.")
)

type capacityCollector struct{ e *Emulator }

func (capacityCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descCallBusy, descCallInFlight, descCallMax, descCallRejected,
		descPoolThreads, descPoolBusy, descPoolBusyMax, descPoolQueued, descPoolQueuedMax, descPoolInFlight,
		descPoolBusySecs, descPoolRejected, descWorkers, descJobsRunning, descJobsRunMax, descJobsWaiting, descJobsWaitMax} {
		ch <- d
	}
}

func (c capacityCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.e.Capacity()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, route := range s.routes() {
		ep := s.Endpoints[route]
		counter(descCalls, float64(ep.Calls), route, ep.Pool)
		counter(descCallBusy, ep.BusySeconds, route, ep.Pool)
		gauge(descCallInFlight, float64(ep.InFlight), route, ep.Pool)
		gauge(descCallMax, float64(ep.MaxInFlight), route, ep.Pool)
		counter(descCallRejected, float64(ep.Rejected), route, ep.Pool)
	}
	for _, name := range []string{poolPublic, poolConfig} {
		p := s.Pools[name]
		gauge(descPoolThreads, float64(p.Threads), name)
		gauge(descPoolBusy, float64(p.Busy), name)
		gauge(descPoolBusyMax, float64(p.MaxBusy), name)
		gauge(descPoolQueued, float64(p.Queued), name)
		gauge(descPoolQueuedMax, float64(p.MaxQueued), name)
		gauge(descPoolInFlight, float64(p.MaxInFlight), name)
		counter(descPoolBusySecs, p.BusySeconds, name)
		counter(descPoolRejected, float64(p.Rejected), name)
	}
	gauge(descWorkers, float64(s.Jobs.Workers))
	gauge(descJobsRunning, float64(s.Jobs.Running))
	gauge(descJobsRunMax, float64(s.Jobs.MaxRunning))
	gauge(descJobsWaiting, float64(s.Jobs.Waiting))
	gauge(descJobsWaitMax, float64(s.Jobs.MaxWaiting))
}
