package cli_test

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/services/internal/cli"
)

// childEnv makes the test binary run the aam command line with the
// arguments after "--" instead of the tests, so that a test can start `aam
// dev` as a process of its own and kill it.
const childEnv = "AAM_TEST_RUN_AAM"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Execute(ctx, args, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	dbtest.VerifyTestMain(m)
}
