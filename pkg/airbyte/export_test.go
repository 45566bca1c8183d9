package airbyte

import (
	"context"
	"time"
)

// SetSleep replaces c's wait between attempts and job polls (tests only).
func SetSleep(c *Client, f func(ctx context.Context, d time.Duration) error) { c.sleep = f }
