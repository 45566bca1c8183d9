package drift_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/services/internal/drift"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	require.Zero(t, drift.Median(nil))
	require.Equal(t, 5.0, drift.Median([]int64{9, 1, 5}))
	require.Equal(t, 4.5, drift.Median([]int64{9, 1, 4, 5}))
	vs := []int64{3, 1, 2}
	drift.Median(vs)
	require.Equal(t, []int64{3, 1, 2}, vs, "the history is left as it is")
}

func TestAnomalyThresholds(t *testing.T) {
	t.Parallel()
	def := (*drift.Anomalies)(nil).WithDefaults()
	steady := []int64{1000, 980, 1020, 990, 1010, 1000, 995, 1005, 1000, 1000}
	// One outlier in the window does not move the median.
	spiky := append([]int64{10000}, steady[:9]...)

	for _, tc := range []struct {
		name     string
		policy   drift.Anomalies
		history  []int64
		observed int64
		judged   bool
		want     string
	}{
		{"steady", def, steady, 1030, true, ""},
		{"a 90% drop", def, steady, 100, true, events.AnomalyDrop},
		{"at the drop threshold", def, steady, 500, true, ""},
		{"just below it", def, steady, 499, true, events.AnomalyDrop},
		{"zero", def, steady, 0, true, events.AnomalyZero},
		{"a spike within thresholds", def, steady, 2500, true, ""},
		{"at the spike threshold", def, steady, 3000, true, ""},
		{"a spike", def, steady, 3001, true, events.AnomalySpike},
		{"after an outlier", def, spiky, 1000, true, ""},
		{"too little history", def, steady[:9], 0, false, ""},
		{"a usually empty stream", def, make([]int64, 10), 500, false, ""},
		{"disabled", drift.Anomalies{Disabled: true, MinJobs: 1, Window: 1, DropBelow: 0.5, SpikeAbove: 3}, steady, 0, false, ""},
		{"a shorter history by policy", (&drift.Anomalies{MinJobs: 3}).WithDefaults(), steady[:3], 10, true, events.AnomalyDrop},
		{"a tighter spike threshold", (&drift.Anomalies{SpikeAbove: 2}).WithDefaults(), steady, 2500, true, events.AnomalySpike},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, ok := tc.policy.Records(tc.history)
			require.Equal(t, tc.judged, ok)
			if ok {
				require.Equal(t, tc.want, e.Judge(tc.observed))
			}
		})
	}

	e, ok := def.Records(steady)
	require.True(t, ok)
	require.Equal(t, drift.Expectation{Median: 1000, Min: 500, Max: 3000, History: 10}, e)

	// The median is taken over the window, the newest jobs.
	w := (&drift.Anomalies{Window: 3, MinJobs: 5}).WithDefaults()
	e, ok = w.Records([]int64{10, 12, 11, 1000, 1000})
	require.True(t, ok)
	require.Equal(t, 11.0, e.Median)
	require.Equal(t, 5, e.History)

	d, ok := def.Duration([]int64{60000, 61000, 59000, 60000, 60000, 60000, 62000, 58000, 60000, 60000})
	require.True(t, ok)
	require.Equal(t, drift.Expectation{Median: 60000, Min: 0, Max: 180000, History: 10}, d)
}

func TestAnomalyPolicyValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		health string
		ok     bool
	}{
		{"defaults", `{}`, true},
		{"thresholds", `{"anomalies":{"min_jobs":5,"window":20,"drop_below":0.2,"spike_above":5,"duration_above":2}}`, true},
		{"drop above one", `{"anomalies":{"drop_below":1.5}}`, false},
		{"spike below one", `{"anomalies":{"spike_above":0.5}}`, false},
		{"negative history", `{"anomalies":{"min_jobs":-1}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p drift.Policy
			require.NoError(t, json.Unmarshal([]byte(`{"rules":[],"health":`+tc.health+`}`), &p))
			_, err := drift.Compile(p, 1)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, drift.ErrInvalidPolicy)
			}
		})
	}
}
