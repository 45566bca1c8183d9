package testenv

import (
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Load is a batch of requests for a benchmark, timed from the publication
// of each to the first fact that answers it. Build it with NewLoad, then
// Send and Wait.
type Load struct {
	e    *Env
	msgs []*nats.Msg
	ids  []string

	mu        sync.Mutex
	sent      map[string]time.Time
	latencies []time.Duration
	subjects  map[string]int
	done      chan struct{}
}

// NewLoad builds n requests of eventType from source "/bench", data(i)
// being the i-th's data, and starts watching the facts on answers (a
// subject filter such as "aam.events.sync.>") that answer them; skip
// (may be nil) passes over facts that do not end a request, by subject.
func (e *Env) NewLoad(eventType string, n int, data func(i int) any, answers string, skip func(subject string) bool) *Load {
	e.T.Helper()
	d, ok := events.Lookup(eventType)
	require.True(e.T, ok, "unknown type %s", eventType)
	l := &Load{e: e, msgs: make([]*nats.Msg, n), ids: make([]string, n),
		sent: make(map[string]time.Time, n), latencies: make([]time.Duration, 0, n),
		subjects: map[string]int{}, done: make(chan struct{})}
	for i := range n {
		ev, err := events.New(eventType, "/bench", data(i))
		require.NoError(e.T, err)
		l.msgs[i], err = events.ToMsg(d.Subject, ev, events.Binary)
		require.NoError(e.T, err)
		l.ids[i] = ev.ID()
	}
	sub, err := e.NC.Subscribe(answers, func(m *nats.Msg) {
		if skip != nil && skip(m.Subject) {
			return
		}
		id := m.Header.Get("ce-" + events.ExtCorrelationID)
		now := time.Now()
		l.mu.Lock()
		defer l.mu.Unlock()
		t, ok := l.sent[id]
		if !ok {
			return
		}
		delete(l.sent, id)
		l.subjects[m.Subject]++
		l.latencies = append(l.latencies, now.Sub(t))
		if len(l.latencies) == n {
			close(l.done)
		}
	})
	require.NoError(e.T, err)
	e.T.Cleanup(func() { _ = sub.Unsubscribe() })
	return l
}

// Send publishes the requests asynchronously, one every interval when it
// is positive, as fast as JetStream takes them otherwise, and returns when
// it started.
func (l *Load) Send(interval time.Duration) time.Time {
	start := time.Now()
	for i, m := range l.msgs {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d) // pacing the load, not waiting for a result
			}
		}
		l.mu.Lock()
		l.sent[l.ids[i]] = time.Now()
		l.mu.Unlock()
		for {
			_, err := l.e.JS.PublishMsgAsync(m, jetstream.WithMsgID(l.ids[i]))
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				require.NoError(l.e.T, err)
				break
			}
			<-l.e.JS.PublishAsyncComplete()
		}
	}
	return start
}

// Wait waits until every request has its answer, and fails the test after
// timeout.
func (l *Load) Wait(timeout time.Duration) {
	select {
	case <-l.done:
	case <-time.After(timeout):
		l.mu.Lock()
		defer l.mu.Unlock()
		l.e.T.Fatalf("only %d of %d requests answered", len(l.latencies), len(l.msgs))
	}
}

// Answered returns how many requests were answered by a fact on subject.
func (l *Load) Answered(subject string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.subjects[subject]
}

// Percentile returns the latency within which the fraction p of the
// answered requests were answered (1: the longest).
func (l *Load) Percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.latencies) == 0 {
		return 0
	}
	slices.Sort(l.latencies)
	i := int(math.Ceil(p*float64(len(l.latencies)))) - 1
	return l.latencies[min(max(i, 0), len(l.latencies)-1)]
}

// QuietWorkerDeps returns what a worker under measurement runs on: a copy
// of the environment's Deps that logs nothing, and an Airbyte client for
// the emulator without the test's transport or logger.
func (e *Env) QuietWorkerDeps() (*app.Deps, *airbyte.Client) {
	e.T.Helper()
	deps := *e.Deps
	deps.Log = zap.NewNop()
	ab, err := airbyte.New(e.AirbyteConfig(airbyte.Config{}))
	require.NoError(e.T, err)
	return &deps, ab
}

// EnvInt returns the positive whole number in the environment variable
// name, or def.
func EnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
