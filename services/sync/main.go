// Command aam-sync is AAM's sync worker and job follower (package syncer),
// configured by app.Common, airbyte.Config and syncer.Config (SYNC_*) from
// the environment.
//
// The role is described once, in package role, for this binary and for
// `aam dev`.
package main

import "github.com/aam-mesh/aam/services/internal/role"

func main() { role.Main(role.Sync) }
