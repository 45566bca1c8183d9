// Command aam-repair is AAM's drift repair worker (package repair),
// configured by app.Common, airbyte.Config and repair.Config (REPAIR_*)
// from the environment.
//
// The role is described once, in package role, for this binary and for
// `aam dev`.
package main

import "github.com/aam-mesh/aam/services/internal/role"

func main() { role.Main(role.Repair) }
