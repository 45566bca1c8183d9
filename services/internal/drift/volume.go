package drift

import (
	"cmp"
	"errors"
	"math"
	"slices"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/config"
)

// Anomalies is the volume part of a connection's health policy: when a
// successful job's per-stream records, or its duration, are far enough
// from the median of the trailing successful jobs to raise
// sync.anomaly.detected. Zero fields take their defaults (WithDefaults).
type Anomalies struct {
	// Disabled turns volume anomalies off for the connection (its stats are
	// still kept).
	Disabled bool `json:"disabled,omitempty"`
	// MinJobs is how many earlier successful jobs a stream (or the job's
	// duration) needs before it is judged (default 10).
	MinJobs int `json:"min_jobs,omitempty"`
	// Window is how many of the last successful jobs the median is taken
	// over (default 10).
	Window int `json:"window,omitempty"`
	// DropBelow: a stream that moves fewer records than this fraction of
	// its median dropped (default 0.5); one that moves none is kind zero.
	DropBelow float64 `json:"drop_below,omitempty"`
	// SpikeAbove: a stream that moves more records than this multiple of
	// its median spiked (default 3).
	SpikeAbove float64 `json:"spike_above,omitempty"`
	// DurationAbove: a job that takes longer than this multiple of the
	// median duration is a duration anomaly (default 3).
	DurationAbove float64 `json:"duration_above,omitempty"`
}

// Defaults of Anomalies.
const (
	DefaultAnomalyMinJobs       = 10
	DefaultAnomalyWindow        = 10
	DefaultAnomalyDropBelow     = 0.5
	DefaultAnomalySpikeAbove    = 3.0
	DefaultAnomalyDurationAbove = 3.0
)

// WithDefaults returns a (nil: the default policy) with every unset field
// at its default.
func (a *Anomalies) WithDefaults() Anomalies {
	out := *cmp.Or(a, &Anomalies{})
	config.FillZero(&out, Anomalies{MinJobs: DefaultAnomalyMinJobs, Window: DefaultAnomalyWindow, DropBelow: DefaultAnomalyDropBelow,
		SpikeAbove: DefaultAnomalySpikeAbove, DurationAbove: DefaultAnomalyDurationAbove})
	return out
}

// validate reports the first threshold that cannot work.
func (a *Anomalies) validate() error {
	switch {
	case a == nil:
	case a.MinJobs < 0 || a.Window < 0:
		return errors.New("health.anomalies: min_jobs and window must not be negative")
	case a.DropBelow < 0 || a.DropBelow >= 1:
		return errors.New("health.anomalies: drop_below must be a fraction below 1")
	case a.SpikeAbove != 0 && a.SpikeAbove <= 1, a.DurationAbove != 0 && a.DurationAbove <= 1:
		return errors.New("health.anomalies: spike_above and duration_above must be above 1")
	}
	return nil
}

// Expectation is what a value's trailing history expects of it.
type Expectation struct {
	// Median is the median of the window's values; Min and Max bound the
	// normal values (inclusive).
	Median   float64
	Min, Max int64
	// History is how many earlier jobs there were (up to the policy's
	// MinJobs or Window, whichever is larger).
	History int
}

// Judge returns the anomaly kind of a stream's records against their
// expectation (zero, drop, spike), "" when they are normal.
func (e Expectation) Judge(observed int64) string {
	switch {
	case observed == 0 && e.Min > 0:
		return events.AnomalyZero
	case observed < e.Min:
		return events.AnomalyDrop
	case observed > e.Max:
		return events.AnomalySpike
	}
	return ""
}

// Records returns what a stream's history of records (newest first)
// expects of its next job, and false when the history is too short to
// judge by, or its median is zero (a stream that usually moves nothing is
// not judged).
func (a Anomalies) Records(history []int64) (Expectation, bool) {
	e, ok := a.expect(history)
	if !ok {
		return e, false
	}
	e.Min, e.Max = int64(math.Ceil(e.Median*a.DropBelow)), int64(math.Floor(e.Median*a.SpikeAbove))
	return e, true
}

// Duration returns what a history of job durations (newest first) expects
// of the next job's: at most DurationAbove times the median. False as for
// Records.
func (a Anomalies) Duration(history []int64) (Expectation, bool) {
	e, ok := a.expect(history)
	if !ok {
		return e, false
	}
	e.Max = int64(math.Floor(e.Median * a.DurationAbove))
	return e, true
}

func (a Anomalies) expect(history []int64) (Expectation, bool) {
	if a.Disabled || len(history) < a.MinJobs || len(history) == 0 {
		return Expectation{History: len(history)}, false
	}
	m := Median(history[:min(len(history), a.Window)])
	return Expectation{Median: m, History: len(history)}, m > 0
}

// Median returns the median of vs (the mean of the two middle values of an
// even count; 0 for none), robust to a few outliers.
func Median(vs []int64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return (float64(s[n/2-1]) + float64(s[n/2])) / 2
}
