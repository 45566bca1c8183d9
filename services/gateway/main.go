// Command aam-gateway runs AAM's HTTP gateway: requests in, CloudEvents on
// JetStream out, registry reads, server-sent events of the facts. It is
// configured by role.GatewayConfig (LOG_*, DATABASE_*, NATS_*, GATEWAY_*)
// from the environment.
//
// The role is described once, in package role, for this binary and for
// `aam dev`.
package main

import "github.com/aam-mesh/aam/services/internal/role"

func main() { role.Main(role.Gateway) }
