// Command aam-schema-observer reports schema drift of ACTIVE connections
// and heals non-breaking drift by policy (package observer), configured by
// app.Common, airbyte.Config and observer.Config (OBSERVER_*) from the
// environment. Its NATS user may not manage streams: they are provisioned
// by the workers or `aam migrate up`.
//
// The role is described once, in package role, for this binary and for
// `aam dev`.
package main

import "github.com/aam-mesh/aam/services/internal/role"

func main() { role.Main(role.SchemaObserver) }
