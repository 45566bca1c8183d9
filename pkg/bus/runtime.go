package bus

import (
	"cmp"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Runtime holds what every consumer of a process shares.
type Runtime struct {
	// JS is the JetStream context. Required.
	JS jetstream.JetStream
	// Logger receives one line per settled message (default: no logging).
	Logger *zap.Logger
	// Ledger records outcomes (default: rejections are published directly
	// and nothing is remembered).
	Ledger Ledger
	// Validate checks request data (default: none beyond JSON decoding).
	Validate Validator
	// Metrics records outcomes (default: none).
	Metrics *Metrics
	// Source is the CloudEvent source of facts the runtime emits itself
	// (default "/aam/bus").
	Source string
	// SoftStop is how long in-flight handlers may run on after shutdown
	// begins before their context is cancelled (default 10 s).
	SoftStop time.Duration
	// PullHeartbeat is how often the server confirms a consumer's open pull
	// request. A pull request lost with a consumer leader that went away
	// without telling (or refused while the consumer had no leader) is
	// noticed after two missed heartbeats and sent again (default 5 s;
	// nats.go's own default, 15 s, leaves a consumer idle for 30 s).
	PullHeartbeat time.Duration
	// StateInterval is how often each consumer's pending and ack-pending
	// counts are read from the server for Metrics (default 5 s). The first
	// reading is taken when the consumer starts.
	StateInterval time.Duration
}

func (rt Runtime) withDefaults() (Runtime, error) {
	if rt.JS == nil {
		return rt, errors.New("bus: runtime needs JS")
	}
	rt.Logger = cmp.Or(rt.Logger, zap.NewNop())
	rt.Source = cmp.Or(rt.Source, "/aam/bus")
	rt.SoftStop = cmp.Or(rt.SoftStop, 10*time.Second)
	if rt.PullHeartbeat <= 0 {
		rt.PullHeartbeat = 5 * time.Second
	}
	if rt.StateInterval <= 0 {
		rt.StateInterval = 5 * time.Second
	}
	if rt.Ledger == nil {
		rt.Ledger = NewDirectLedger(rt.JS, rt.Source)
	}
	return rt, nil
}
