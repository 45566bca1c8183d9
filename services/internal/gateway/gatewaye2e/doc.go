// Package gatewaye2e tests the gateway in front of the real workers
// (onboarding, sync, repair), the real credential broker and the Airbyte
// emulator: the seed's documented requests, end to end.
package gatewaye2e
