package deploy

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// BenchmarkPublishDurability measures what an fsync per message costs a
// publisher that waits for each publish ack (the gateway and the outbox relay
// do), on one file-stored R1 stream of an in-process server:
//
//	go test -run '^$' -bench PublishDurability -benchtime 2000x ./deploy
//
// deploy/README.md ("Durability") quotes the result.
func BenchmarkPublishDurability(b *testing.B) {
	for _, bc := range []struct {
		name       string
		syncAlways bool
	}{{"sync_interval=default", false}, {"sync_interval=always", true}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := &server.Options{
				Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
				JetStream: true, StoreDir: b.TempDir(), SyncAlways: bc.syncAlways,
				JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
			}
			s, err := server.NewServer(opts)
			if err != nil {
				b.Fatal(err)
			}
			s.Start()
			defer func() { s.Shutdown(); s.WaitForShutdown() }()
			if !s.ReadyForConnections(10 * time.Second) {
				b.Fatal("nats-server did not start")
			}
			nc, err := nats.Connect(s.ClientURL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
				Name: "BENCH", Subjects: []string{"aam.events.>"}, Storage: jetstream.FileStorage,
			}); err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, 512) // a small CloudEvent
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := js.Publish(ctx, "aam.events.bench", payload, jetstream.WithMsgID(nuid.Next())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
