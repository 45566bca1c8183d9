// Package logtest gives tests a logger whose lines they can read back, as
// the production JSON encoder writes them.
package logtest

import (
	"bytes"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Logs is what a logger made by New recorded.
type Logs struct {
	tb  testing.TB
	obs *observer.ObservedLogs
}

// New returns a logger that records every line at debug level and above.
func New(tb testing.TB) (*zap.Logger, *Logs) {
	core, obs := observer.New(zapcore.DebugLevel)
	return zap.New(core), &Logs{tb: tb, obs: obs}
}

// JSON renders the recorded lines as the production JSON encoder writes
// them, one per line.
func (l *Logs) JSON() []byte {
	l.tb.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	var out bytes.Buffer
	for _, e := range l.obs.All() {
		b, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			l.tb.Fatalf("logtest: encode %q: %v", e.Message, err)
		}
		out.Write(b.Bytes())
		b.Free()
	}
	return out.Bytes()
}
