package testenv

import (
	"hash/fnv"
	"time"

	"github.com/aam-mesh/aam/pkg/outbox"
)

// StartRelay publishes the environment's outbox with a relay whose leader
// lock is the environment's own (derived from its schema), for environments
// built with Options.NoRelay. The default relay's lock is shared by every
// schema of the test database, so parallel tests would wait for each other's
// relays; this one never does. The relay stops when the test ends.
func (e *Env) StartRelay() {
	e.T.Helper()
	h := fnv.New64a()
	_, _ = h.Write([]byte("testenv-relay:" + e.Schema.Name))
	relay := outbox.NewRelay(e.Store, e.JS, outbox.RelayConfig{
		PollInterval: 10 * time.Millisecond, LockID: int64(h.Sum64() >> 1), Logger: e.Log})
	e.Go(relay.Run)
}
