package airbyte

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// CallsAtOnce makes n calls at the same time and requires every one to
// succeed (tests only).
func CallsAtOnce(t testing.TB, n int, call func() error) {
	t.Helper()
	var g errgroup.Group
	for range n {
		g.Go(call)
	}
	require.NoError(t, g.Wait())
}

// SetSleep replaces c's wait between attempts and job polls (tests only).
func SetSleep(c *Client, f func(ctx context.Context, d time.Duration) error) { c.sleep = f }
