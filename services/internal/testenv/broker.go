package testenv

import (
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/credentials/credentialstest"
)

// SalesforceCredentialID is the id of the Salesforce test credential that
// StartBroker registers (the id of the seed's onboarding example).
const SalesforceCredentialID = "salesforce-prod"

// TestSalesforce is the Salesforce test credential StartBroker registers.
// Its secret values are distinctive so that leak checks can look for them
// (Broker.Secrets).
var TestSalesforce = credentials.Salesforce{
	ClientID:     "3MVG9aam-test-client-id",
	ClientSecret: "aam-test-sf-client-secret-5f2c9e71",
	RefreshToken: "aam-test-sf-refresh-token-0b8d4a36",
	StartDate:    "2024-01-01T00:00:00Z",
}

// Broker is a credential broker running in an Env: the real micro service
// on the environment's NATS, over a credential store in its registry.
type Broker struct {
	// Store is the broker's credential store (register more credentials
	// with Store.Create).
	Store *credentials.Store
	// Client calls the broker over the environment's NATS connection.
	Client *credentials.Client
	// Secrets are the plaintext secret values of TestSalesforce, which must
	// never appear in logs or events.
	Secrets []string
}

// StartBroker starts the credential broker (pkg/credentials micro service)
// with a fresh key and the Salesforce test credential registered under
// SalesforceCredentialID. It stops when the test ends.
func (e *Env) StartBroker() *Broker {
	e.T.Helper()
	store := credentialstest.StartBroker(e.T, e.NC, e.Store, e.Log, TestSalesforce.Credential(SalesforceCredentialID))
	return &Broker{
		Store:   store,
		Client:  credentials.NewClient(e.NC, credentials.ClientOptions{}),
		Secrets: []string{TestSalesforce.ClientSecret.Value(), TestSalesforce.RefreshToken.Value()},
	}
}
