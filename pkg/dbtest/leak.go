package dbtest

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs a package's tests and then fails the run if any
// goroutine they started is still alive (goleak). It closes the
// administration pool the package's schemas shared first, so that a pool a
// test forgot to close is still reported. Call it from TestMain:
//
//	func TestMain(m *testing.M) { dbtest.VerifyTestMain(m) }
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	adminOnce.Do(func() {}) // no schema was made: nothing to close
	if adminPool != nil {
		adminPool.Close()
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
