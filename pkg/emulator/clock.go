package emulator

import (
	"sync"
	"time"
)

// Clock tells the emulator what time it is. Job states, token expiry, timestamps
// and discover buckets are all computed from it, so a test that injects a
// [ManualClock] decides exactly when a job moves on.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that only moves when told to. It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock stopped at t (truncated to whole seconds, the
// resolution of Airbyte's timestamps).
func NewManualClock(t time.Time) *ManualClock {
	return &ManualClock{now: t.UTC().Truncate(time.Second)}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.mu.Unlock()
}
