package observability

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRegisterSharesASeries: a second component registering the same
// series gets the first one's collector and counts into it; a series of
// the same name and other labels is refused.
func TestRegisterSharesASeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	counter := func(labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aam_test_total", Help: "Test."}, labels)
	}
	first, err := Register(reg, counter("outcome"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Register(reg, counter("outcome"))
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatal("the second registration did not return the registered collector")
	}
	second.WithLabelValues("ok").Inc()
	if got := testutil.ToFloat64(first.WithLabelValues("ok")); got != 1 {
		t.Fatalf("the shared series counts %v, want 1", got)
	}
	if _, err := Register(reg, counter("other")); err == nil {
		t.Fatal("a series of the same name with other labels was registered")
	}
}
