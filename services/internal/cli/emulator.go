package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/services/internal/role"
)

func emulatorCommand(root *cobra.Command) {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve the Airbyte API emulator alone (EMULATOR_ADDR, default 127.0.0.1:8000)",
		Long: `aam emulator serves the stateful Airbyte API emulator: the public API under
/api/public/v1, the Configuration API under /api/v1, and test controls under /_emulator
(see pkg/emulator/README.md). Environment: EMULATOR_ADDR (127.0.0.1:8000),
AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET (aam-local / aam-local-secret),
EMULATOR_JOBS (realistic or instant), EMULATOR_PUBLIC_API_THREADS (5),
EMULATOR_CONFIG_API_THREADS (100), EMULATOR_MAX_SYNC_WORKERS (10),
EMULATOR_QUEUE_LIMIT (0: queue without 429s), EMULATOR_CALL_TIME (0: calls take no time),
EMULATOR_DATA_DIR (none: state in memory),
EMULATOR_LOG_LEVEL (info).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var environ map[string]string
			if cmd.Flags().Changed("data-dir") {
				environ = processEnv()
				environ["EMULATOR_DATA_DIR"] = dataDir
			}
			return role.AirbyteEmulator.Run(cmd.Context(), environ)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "folder to keep the emulator's state in across restarts (EMULATOR_DATA_DIR)")
	root.AddCommand(cmd)
}

func roleCommand(root *cobra.Command) {
	var names []string
	for _, r := range role.All() {
		names = append(names, r.Name)
	}
	root.AddCommand(&cobra.Command{
		Use:   "role NAME",
		Short: "Run one role as a process of its own, configured from the environment, as its binary aam-NAME does",
		Long: "aam role NAME runs the role NAME (" + strings.Join(names, ", ") + ") exactly as its own binary\n" +
			"aam-NAME does: its configuration from the environment, its own NATS and PostgreSQL connections,\n" +
			"until SIGINT or SIGTERM.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, r := range role.All() {
				if r.Name == args[0] {
					return r.Run(cmd.Context(), nil)
				}
			}
			return fmt.Errorf("no role %q (roles: %s)", args[0], strings.Join(names, ", "))
		},
	})
}
