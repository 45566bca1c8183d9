// Package credentialstest runs the real credential broker for tests.
package credentialstest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/registry"
)

// StartBroker runs the credential broker (the pkg/credentials micro service)
// on nc over the registry, with a fresh key and creds stored, and returns its
// store. It stops when the test ends.
func StartBroker(tb testing.TB, nc *nats.Conn, reg *registry.Store, log *zap.Logger, creds ...credentials.Credential) *credentials.Store {
	tb.Helper()
	raw, err := credentials.GenerateKey()
	require.NoError(tb, err)
	key, err := credentials.ParseKey(raw)
	require.NoError(tb, err)
	store := credentials.NewStore(reg, key)
	for _, c := range creds {
		_, err := store.Create(context.Background(), c)
		require.NoError(tb, err)
	}
	svc, err := credentials.NewService(nc, store, log, "0.0.0-test")
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = svc.Stop() })
	return store
}
