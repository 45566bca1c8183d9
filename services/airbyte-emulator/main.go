// Command aam-airbyte-emulator serves the Airbyte API emulator (package
// github.com/aam-mesh/aam/pkg/emulator) for local development and demos.
//
// Environment: EMULATOR_ADDR (default 127.0.0.1:8000), AIRBYTE_CLIENT_ID
// (default aam-local), AIRBYTE_CLIENT_SECRET (default aam-local-secret),
// EMULATOR_JOBS (realistic or instant), EMULATOR_PUBLIC_API_THREADS (5),
// EMULATOR_CONFIG_API_THREADS (100), EMULATOR_MAX_SYNC_WORKERS (10),
// EMULATOR_QUEUE_LIMIT (0), EMULATOR_CALL_TIME (0), EMULATOR_LOG_LEVEL (default info).
//
// The role is described once, in package role, for this binary and for
// `aam dev`.
package main

import "github.com/aam-mesh/aam/services/internal/role"

func main() { role.Main(role.AirbyteEmulator) }
