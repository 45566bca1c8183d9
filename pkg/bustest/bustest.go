// Package bustest gives tests a real in-process NATS server with JetStream
// and connections to it. Everything is shut down when the test ends.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/natsembed"
)

// NewServer starts a JetStream server on a random 127.0.0.1 port with its
// store in a temporary folder.
func NewServer(tb testing.TB) *server.Server {
	tb.Helper()
	return NewServerAt(tb, tb.TempDir(), -1)
}

// NewServerAt starts a server with the given store folder and port (-1 for
// a random one); a test restarts "the same" server by calling it again with
// the folder and port of the one it shut down.
func NewServerAt(tb testing.TB, storeDir string, port int) *server.Server {
	tb.Helper()
	ns, err := natsembed.Start(natsembed.Options{Port: port, StoreDir: storeDir, MaxMemory: 64 << 20, MaxStore: 4 << 30})
	if err != nil {
		tb.Fatalf("bustest: %v", err)
	}
	tb.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// Connect opens a connection to ns that keeps reconnecting, and its
// JetStream context. Both are closed when the test ends.
func Connect(tb testing.TB, ns *server.Server) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		tb.Fatalf("bustest: connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("bustest: jetstream: %v", err)
	}
	return nc, js
}

// Provisioned starts a server, connects, and creates AAM's streams.
func Provisioned(tb testing.TB) (*server.Server, *nats.Conn, jetstream.JetStream) {
	tb.Helper()
	ns := NewServer(tb)
	nc, js := Connect(tb, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Provision(ctx, js, bus.StreamsConfig{}); err != nil {
		tb.Fatalf("bustest: provision: %v", err)
	}
	return ns, nc, js
}
