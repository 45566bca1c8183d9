package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/pkg/natsembed"
	"github.com/aam-mesh/aam/services/internal/bench"
	"github.com/aam-mesh/aam/services/internal/chaos"
)

// benchCommand is the load benchmark; chaosCommand, below, the chaos run:
// the commands that drive a whole stack of their own.
func benchCommand(root *cobra.Command) {
	cfg := bench.Config{}
	var jsonOut, scenario string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test the whole pipeline against a fresh aam dev and report throughput, latency, Airbyte calls and peak RSS",
		Long: `aam bench starts this binary as "aam dev" (its own ports and data folder, the registry at
BENCH_DATABASE_URL, by default the local aam_bench database, emptied first) and runs two
scenarios (--scenario realistic, instant or both, the default).

realistic: the emulator with Airbyte's capacity model (--public-threads public API threads,
--config-threads Configuration API threads, --sync-workers jobs running at once, realistic job
timings: 1 s pending, 3 s running, 2 s per uncached discover) and AAM's bound on calls in flight
set to the public pool's size:

  1. onboards --real-connections connections at once,
  2. sends --real-requests sync requests at once, round-robin over them,
  3. starts another aam dev whose bound (--overload-bound) is above the emulator's public pool
     (--overload-threads), the emulator answering 429 once --overload-queue calls wait and
     every call holding its thread --overload-call-time, and runs --overload-connections onboardings and --overload-requests sync requests there.

It prints wall time, the floor the emulator's capacity allows for the same work (syncs:
pending + ceil(jobs / sync workers) x running; onboarding: the busiest pool's busy time
divided by its threads) and the ratio, Airbyte calls per request and per job by endpoint, the
high-water mark of calls in flight in the emulator, 429 answers, request→completion p50/p99,
the peak RSS of aam dev, and which targets are met.

instant: the emulator's jobs instant and no capacity bound:

  1. onboards --connections connections,
  2. sends sync requests as fast as the stack takes them for --duration,
  3. sends sync requests at --rate per second for --duration (latency),
  4. calls the gateway's seed route POST /connections/{id}/sync from --seed-clients clients
     over --seed-connections connections for --duration, each waiting for its answer,
     then the same clients against a prototype-style replica of that route on the same
     emulator and registry (--replica python: the prototype's stack, FastAPI + SQLAlchemy +
     httpx in one uvicorn process, run with /usr/bin/python3 or BENCH_PYTHON: registry
     read, one POST /jobs, job_history write per request; --replica go: the same route in
     Go in the benchmark's process; auto, the default: Python, else Go), and prints the
     ratio and which replica it is against,
  5. sends --onboardings onboard requests at once with --onboard-latency added by the emulator
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
			if scenario != "both" && scenario != "realistic" && scenario != "instant" {
				return fmt.Errorf("--scenario: %q is not realistic, instant or both", scenario)
			}
			if r := cfg.Replica; r != bench.ReplicaAuto && r != bench.ReplicaPython && r != bench.ReplicaGo {
				return fmt.Errorf("--replica: %q is not python, go or auto", r)
			}
			all := map[string]any{}
			if scenario != "instant" {
				rep, err := bench.RunRealistic(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				rep.Print(cmd.OutOrStdout())
				all["realistic"] = rep
			}
			if scenario != "realistic" {
				rep, err := bench.Run(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\ninstant scenario: emulator jobs instant, no capacity bound, %d connections\n", cfg.Connections)
				rep.Print(cmd.OutOrStdout())
				all["instant"] = rep
			}
			if jsonOut != "" {
				b, _ := json.MarshalIndent(all, "", "  ")
				if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
					return fmt.Errorf("--json: %w", err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "both", "realistic, instant or both")
	rc := &cfg.Realistic
	f.IntVar(&rc.Connections, "real-connections", 1000, "realistic: connections onboarded at once")
	f.IntVar(&rc.Requests, "real-requests", 20000, "realistic: sync requests sent at once over them")
	f.IntVar(&rc.PublicThreads, "public-threads", 50, "realistic: the emulator's public API threads, and AAM's bound on calls in flight")
	f.IntVar(&rc.ConfigThreads, "config-threads", 100, "realistic: the emulator's Configuration API threads, and AAM's bound there")
	f.IntVar(&rc.SyncWorkers, "sync-workers", 100, "realistic: jobs the emulator runs at once (MAX_SYNC_WORKERS)")
	f.IntVar(&rc.OverloadConnections, "overload-connections", 50, "overload run: onboardings (0: no overload run)")
	f.IntVar(&rc.OverloadRequests, "overload-requests", 2000, "overload run: sync requests")
	f.IntVar(&rc.OverloadThreads, "overload-threads", 5, "overload run: the emulator's public API threads")
	f.IntVar(&rc.OverloadQueue, "overload-queue", 2, "overload run: waiting calls beyond which the emulator answers 429")
	f.IntVar(&rc.OverloadBound, "overload-bound", 16, "overload run: AAM's bound on calls in flight")
	f.DurationVar(&rc.OverloadCallTime, "overload-call-time", 50*time.Millisecond, "overload run: how long every Airbyte call holds the emulator's thread")
	f.IntVar(&cfg.SeedClients, "seed-clients", 32, "instant: concurrent clients of the gateway's seed sync route (0: not run)")
	f.StringVar(&cfg.Replica, "replica", bench.ReplicaAuto, "instant: the prototype-style replica of the seed route: python, go or auto (python, else go)")
	f.IntVar(&cfg.SeedConnections, "seed-connections", 50, "instant: connections the seed route's clients spread over")
	f.IntVar(&cfg.Connections, "connections", 200, "connections onboarded for the sync phases")
	f.DurationVar(&cfg.SyncDuration, "duration", 15*time.Second, "length of each sync phase")
	f.IntVar(&cfg.SyncRate, "rate", 1000, "paced sync rate of the latency phase (requests/s)")
	f.IntVar(&cfg.Onboardings, "onboardings", 1000, "concurrent onboardings of the last phase")
	f.DurationVar(&cfg.OnboardLatency, "onboard-latency", 200*time.Millisecond, "emulated latency per Airbyte call in the onboarding phase")
	f.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	f.StringVar(&cfg.HeapProfile, "memprofile", "", "write aam dev's heap profile at the end to this file")
	f.StringVar(&cfg.SeedCPUProfile, "seed-cpuprofile", "", "write a CPU profile of aam dev while the seed route's clients run to this file")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of aam dev during the max-throughput phase to this file")
	root.AddCommand(cmd)
}

func chaosCommand(root *cobra.Command) {
	cfg := chaos.Defaults()
	var seed uint64
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Beat a whole stack of separate processes with faults and bad input, then check the outcome from the outside",
		Long: `aam chaos starts, in a fresh folder, a PostgreSQL cluster of its own (initdb, a free port, a
unix socket in the folder), a NATS server with JetStream on disk, the Airbyte emulator and every
role as a process of its own (two of each worker, one credential broker, one gateway), all on free
ports, with their logs under logs/. An independent publisher sends --requests requests over
--duration (onboard, sync, repair, policy set, and --bad-share malformed ones: not a CloudEvent,
missing attributes, wrong data types, a type unknown on its subject, a 1 MiB and an over-limit
body, invalid UTF-8, requests for unknown connections), retrying each publish until JetStream
acknowledges it (the same id: the same request). Meanwhile a fault schedule drawn from --seed
(printed; the same seed gives the same schedule and mix) kills role processes with kill -9 and
restarts them, kills the NATS server with kill -9 and restarts it on its store, restarts
PostgreSQL with -m immediate, and makes the emulator fail (5xx and 429 bursts, latency, timeouts,
failing jobs and discovers, expired tokens).

Then a checker that reads only AAM_EVENTS, AAM_DLQ, the emulator's /_emulator/state and the
registry prints a table: requests sent; with exactly one terminal fact, none, more than one;
Airbyte sources and connections per onboarding; jobs beyond the attach rule; catalog versions
per repair; DLQ entries by reason; time from the last fault to quiescence; and every place
(event, DLQ message, log file, registry table outside ciphertext columns) holding the plaintext
of a credential the run used. It exits 1 when any invariant is broken, and keeps the run folder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Binary, cfg.Seed, cfg.Out = exe, seed, cmd.ErrOrStderr()
			rep, err := chaos.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			rep.Print(cmd.OutOrStdout())
			if len(rep.Broken) > 0 {
				return &ExitCodeError{Code: ExitError, Err: fmt.Errorf("chaos run (seed %d): %d invariants broken", rep.Seed, len(rep.Broken))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&seed, "seed", 0, "seed of the request mix and the fault schedule (0: a random one, printed)")
	f.IntVar(&cfg.Requests, "requests", cfg.Requests, "requests to send, bad ones included")
	f.Float64Var(&cfg.BadShare, "bad-share", cfg.BadShare, "share of malformed requests")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "time the requests and the faults are spread over")
	f.IntVar(&cfg.Kills, "kills", cfg.Kills, "kill -9 of a random role process, restarted after up to 2 s")
	f.IntVar(&cfg.NATSRestarts, "nats-restarts", cfg.NATSRestarts, "kill -9 of the NATS server, restarted on its store")
	f.IntVar(&cfg.PostgresRestarts, "postgres-restarts", cfg.PostgresRestarts, "PostgreSQL restarts -m immediate")
	f.IntVar(&cfg.EmulatorFaults, "emulator-faults", cfg.EmulatorFaults, "emulator faults (bursts of 1 to 5 s)")
	f.DurationVar(&cfg.Settle, "settle", cfg.Settle, "longest wait for quiescence after the publishing")
	f.StringVar(&cfg.EmulatorJobs, "emulator-jobs", cfg.EmulatorJobs, "emulator job timing: instant or realistic")
	f.StringVar(&cfg.Dir, "dir", "", "run folder (default: a temporary one, removed when the run passes)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the run folder even when the run passes")
	cmd.AddCommand(chaosNATSCommand())
	root.AddCommand(cmd)
}

// chaosNATSCommand is the NATS server process of a chaos run: the
// embedded server of aam dev, alone, until SIGINT or SIGTERM.
func chaosNATSCommand() *cobra.Command {
	var addr, store string
	cmd := &cobra.Command{
		Use:    "nats-server --addr HOST:PORT --store-dir DIR",
		Short:  "Serve NATS with JetStream on disk (fsync on every write) as a process of its own",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, port, err := splitHostPort(addr)
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			ns, err := natsembed.Start(natsembed.Options{Name: "aam-chaos", Host: host, Port: port, StoreDir: store, SyncAlways: true})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "nats-server on %s, JetStream in %s\n", ns.ClientURL(), store)
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			select {
			case <-sig:
			case <-cmd.Context().Done():
			}
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:4222", "client listener")
	cmd.Flags().StringVar(&store, "store-dir", "", "JetStream store folder")
	_ = cmd.MarkFlagRequired("store-dir")
	return cmd
}
