package bus

import (
	"math/rand/v2"
	"time"
)

// BackoffFunc returns the redelivery delay after the given delivery (1 for
// the first).
type BackoffFunc func(numDelivered uint64) time.Duration

// ExponentialBackoff returns base·2^(n-1), capped at max, with ±20% jitter.
func ExponentialBackoff(base, max time.Duration) BackoffFunc {
	return func(n uint64) time.Duration {
		if n < 1 {
			n = 1
		}
		d := base
		for i := uint64(1); i < n && d < max; i++ {
			d *= 2
		}
		d = min(d, max)
		jitter := 0.8 + 0.4*rand.Float64()
		return time.Duration(float64(d) * jitter)
	}
}
