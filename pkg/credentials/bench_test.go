package credentials

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/bustest"
)

// BenchmarkClientGet measures get through NATS, the broker and PostgreSQL
// (one broker instance; its endpoint answers one request at a time).
func BenchmarkClientGet(b *testing.B) {
	sb := setupBenchService(b)
	ctx := context.Background()
	_, err := sb.client.Put(ctx, Credential{ID: "sf", Kind: "salesforce", Fields: salesforceFields()})
	require.NoError(b, err)
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := sb.client.Get(ctx, "sf"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := sb.client.Get(ctx, "sf"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSealOpen measures sealing and opening a Salesforce document.
func BenchmarkSealOpen(b *testing.B) {
	k, err := NewKey(rawKey(1))
	require.NoError(b, err)
	_, doc, err := normalize(Credential{ID: "sf", Kind: "salesforce", Fields: salesforceFields()})
	require.NoError(b, err)
	bind := Binding{ID: "sf", Kind: "salesforce", Version: 1}
	for b.Loop() {
		s, err := k.Seal(bind, doc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Open(bind, s); err != nil {
			b.Fatal(err)
		}
	}
}

type benchService struct{ client *Client }

func setupBenchService(b *testing.B) benchService {
	b.Helper()
	sb := setupStore(b)
	ns := bustest.NewServer(b)
	brokerNC, _ := bustest.Connect(b, ns)
	clientNC, _ := bustest.Connect(b, ns)
	svc, err := NewService(brokerNC, sb.store, zap.NewNop(), "dev")
	require.NoError(b, err)
	b.Cleanup(func() { _ = svc.Stop() })
	return benchService{client: NewClient(clientNC, ClientOptions{})}
}
