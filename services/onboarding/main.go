// Command aam-onboarding is AAM's onboarding worker (package onboarding),
// configured by app.Common, airbyte.Config and onboarding.Config
// (AIRBYTE_WORKSPACE_ID, AIRBYTE_DESTINATION_ID, ONBOARDING_*) from the
// environment. It asks the credential broker for credentials over NATS.
//
// The role is described once, in package role, for this binary and for
// `aam dev`.
package main

import "github.com/aam-mesh/aam/services/internal/role"

func main() { role.Main(role.Onboarding) }
