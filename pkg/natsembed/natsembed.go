// Package natsembed runs a nats-server with JetStream inside the process:
// the message bus of `aam dev` and of the tests.
package natsembed

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// Options configure an embedded server.
type Options struct {
	// Name is the server name (default "aam").
	Name string
	// Host and Port are the client listener (defaults 127.0.0.1 and 4222;
	// Port -1 picks a free port).
	Host string
	Port int
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// SyncAlways fsyncs every JetStream write before acknowledging it. The
	// development stack sets it: at its volumes it costs little and makes a
	// killed process lose nothing it acknowledged.
	SyncAlways bool
	// MaxMemory and MaxStore cap JetStream resources (defaults 256 MiB and
	// 8 GiB).
	MaxMemory int64
	MaxStore  int64
	// Logger receives the server's notices and errors; nil silences it.
	Logger *zap.Logger
	// ReadyTimeout bounds the wait for the listener (default 10 s).
	ReadyTimeout time.Duration
}

// Start starts a server and waits until it accepts connections.
func Start(o Options) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("natsembed: StoreDir is required")
	}
	opts := &server.Options{
		ServerName:         cmpOr(o.Name, "aam"),
		Host:               cmpOr(o.Host, "127.0.0.1"),
		Port:               o.Port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		SyncAlways:         o.SyncAlways,
		JetStreamMaxMemory: cmpOr(o.MaxMemory, 256<<20),
		JetStreamMaxStore:  cmpOr(o.MaxStore, 8<<30),
		NoSigs:             true,
		NoLog:              o.Logger == nil,
		MaxPayload:         8 << 20,
	}
	if opts.Port == 0 {
		opts.Port = 4222
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	if o.Logger != nil {
		ns.SetLoggerV2(zapLogger{o.Logger.Named("nats").Sugar()}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(cmpOr(o.ReadyTimeout, 10*time.Second)) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsembed: server on %s:%d not ready (port in use?)", opts.Host, opts.Port)
	}
	return ns, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

type zapLogger struct{ s *zap.SugaredLogger }

func (l zapLogger) Noticef(format string, v ...any) { l.s.Debugf(format, v...) }
func (l zapLogger) Warnf(format string, v ...any)   { l.s.Warnf(format, v...) }
func (l zapLogger) Fatalf(format string, v ...any)  { l.s.Errorf(format, v...) }
func (l zapLogger) Errorf(format string, v ...any)  { l.s.Errorf(format, v...) }
func (l zapLogger) Debugf(format string, v ...any)  { l.s.Debugf(format, v...) }
func (l zapLogger) Tracef(format string, v ...any)  {}
