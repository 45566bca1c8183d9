package cli

import (
	"cmp"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/services/internal/bench"
)

func init() { register(benchCommand) }

func benchCommand(root *cobra.Command) {
	cfg := bench.Config{}
	var jsonOut string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test the whole pipeline against a fresh aam dev and report throughput, latency and peak RSS",
		Long: `aam bench starts this binary as "aam dev" (instant emulator jobs, its own ports and data
folder, the registry at BENCH_DATABASE_URL, by default the local aam_bench database, emptied
first), then:

  1. onboards --connections connections,
  2. sends sync requests as fast as the stack takes them for --duration,
  3. sends sync requests at --rate per second for --duration (latency),
  4. sends --onboardings onboard requests at once with --onboard-latency added by the emulator
     to every Airbyte call,

and prints throughput, request→completion latency percentiles (publish to completion fact)
and the peak RSS of the aam dev process. The registry database is shared with aam dev: use a
database of its own (the default is the local aam_bench database).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Binary = exe
			cfg.Out = cmd.ErrOrStderr()
			cfg.DatabaseURL = cmp.Or(os.Getenv("BENCH_DATABASE_URL"), "postgres://aam:aam@127.0.0.1:5432/aam_bench?sslmode=disable")
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			rep.Print(cmd.OutOrStdout())
			if jsonOut != "" {
				if err := os.WriteFile(jsonOut, rep.JSON(), 0o644); err != nil {
					return fmt.Errorf("--json: %w", err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Connections, "connections", 200, "connections onboarded for the sync phases")
	f.DurationVar(&cfg.SyncDuration, "duration", 15*time.Second, "length of each sync phase")
	f.IntVar(&cfg.SyncRate, "rate", 1000, "paced sync rate of the latency phase (requests/s)")
	f.IntVar(&cfg.Onboardings, "onboardings", 1000, "concurrent onboardings of the last phase")
	f.DurationVar(&cfg.OnboardLatency, "onboard-latency", 200*time.Millisecond, "emulated latency per Airbyte call in the onboarding phase")
	f.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	f.StringVar(&cfg.HeapProfile, "memprofile", "", "write aam dev's heap profile at the end to this file")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of aam dev during the max-throughput phase to this file")
	root.AddCommand(cmd)
}
