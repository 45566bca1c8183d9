package gatewaytest

import (
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/credentials/credentialstest"
)

// StartBroker runs the real credential broker (pkg/credentials) on the
// mesh's NATS, with a fresh key and the given credentials stored. It stops
// when the test ends.
func (m *Mesh) StartBroker(creds ...credentials.Credential) {
	m.T.Helper()
	credentialstest.StartBroker(m.T, m.NC, m.Store, m.Log, creds...)
}
