package cli

import (
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
