// Command aam-credential-broker serves AAM's credentials, kept encrypted in
// the registry, to the roles that configure Airbyte sources: the NATS micro
// service aam-credentials (aam.credentials.get, put, rotate, delete, list).
// Configuration is from the environment: DATABASE_URL, NATS_URL,
// AAM_SECRET_KEY (required), the optional SALESFORCE_* credential,
// HTTP_ADDR, LOG_LEVEL, LOG_FORMAT.
//
// The role is described once, in package role, for this binary and for
// `aam dev`.
package main

import "github.com/aam-mesh/aam/services/internal/role"

func main() { role.Main(role.CredentialBroker) }
