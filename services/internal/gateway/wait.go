package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/outbox"
)

// hub fans the facts of one core NATS subscription on aam.events.> out to
// the requests waiting for them, by correlationid. The subscription lives
// as long as the gateway, so a waiter registered before its request is
// published cannot miss the answer while the connection is up; the
// registry outbox covers the rest (see await).
type hub struct {
	log *zap.Logger
	sub *nats.Subscription

	mu      sync.Mutex
	waiters map[string]map[*waiter]struct{}
}

type waiter struct {
	id string
	ch chan event.Event
}

func newHub(nc *nats.Conn, log *zap.Logger) (*hub, error) {
	h := &hub{log: log, waiters: map[string]map[*waiter]struct{}{}}
	sub, err := nc.Subscribe(events.SubjectEventsAll, h.onMsg)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", events.SubjectEventsAll, err)
	}
	_ = sub.SetPendingLimits(-1, 256<<20)
	h.sub = sub
	return h, nil
}

func (h *hub) close() { _ = h.sub.Unsubscribe() }

func (h *hub) register(id string) *waiter {
	w := &waiter{id: id, ch: make(chan event.Event, 16)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters[id] == nil {
		h.waiters[id] = map[*waiter]struct{}{}
	}
	h.waiters[id][w] = struct{}{}
	return w
}

func (h *hub) unregister(w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.waiters[w.id], w)
	if len(h.waiters[w.id]) == 0 {
		delete(h.waiters, w.id)
	}
}

func (h *hub) onMsg(m *nats.Msg) {
	cid := correlationHint(m.Header)
	h.mu.Lock()
	empty := len(h.waiters) == 0
	_, wanted := h.waiters[cid]
	h.mu.Unlock()
	if empty || (cid != "" && !wanted) {
		return
	}
	ev, _, err := events.Decode(m.Header, m.Data)
	if err != nil {
		return
	}
	cid = events.CorrelationID(ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.waiters[cid] {
		select {
		case w.ch <- ev:
		default: // a slow waiter reads the registry instead
		}
	}
}

// correlationHint reads the correlationid header of a binary-mode fact
// without decoding it, to skip facts nobody waits for; "" when absent
// (structured mode), and the fact is then decoded.
func correlationHint(h nats.Header) string {
	for k, v := range h {
		if len(v) > 0 && strings.EqualFold(k, events.HeaderPrefix+events.ExtCorrelationID) {
			if s, err := events.PercentDecode(v[0]); err == nil {
				return s
			}
		}
	}
	return ""
}

// waitOpts is what a caller asked about waiting.
type waitOpts struct {
	wait          time.Duration
	untilTerminal bool
	// prefer is true when the wait came from a Prefer header.
	prefer bool
}

// waitOptions reads ?wait= (a Go duration such as 30s, or seconds; a bare
// ?wait or wait=true is the maximum), Prefer: wait=N (seconds, RFC 7240;
// respond-async asks for no wait) and ?until=started|terminal. def is the
// wait when the caller asks nothing. Every wait is capped by WaitMax.
func (s *Server) waitOptions(r *http.Request, def time.Duration) (waitOpts, *Error) {
	o := waitOpts{wait: def}
	q := r.URL.Query()
	if q.Has("wait") {
		d, err := parseWait(q.Get("wait"), s.cfg.WaitMax)
		if err != nil {
			return o, &Error{Error: "wait: " + err.Error(), Field: "wait"}
		}
		o.wait = d
	} else if p, ok := preferWait(r.Header.Values("Prefer")); ok {
		d, err := parseWait(p, s.cfg.WaitMax)
		if err != nil {
			return o, &Error{Error: "Prefer wait: " + err.Error(), Field: "Prefer"}
		}
		o.wait, o.prefer = d, true
	}
	o.wait = min(o.wait, s.cfg.WaitMax)
	switch u := q.Get("until"); u {
	case "", "started":
	case "terminal":
		o.untilTerminal = true
	default:
		return o, &Error{Error: fmt.Sprintf("until: %q is not started or terminal", u), Field: "until"}
	}
	return o, nil
}

func parseWait(v string, maxWait time.Duration) (time.Duration, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "true":
		return maxWait, nil
	case "false":
		return 0, nil
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, fmt.Errorf("%q is not a positive number of seconds", v)
		}
		return time.Duration(min(secs, 1e6) * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is neither seconds nor a duration such as 30s", v)
	}
	return d, nil
}

// preferWait finds wait=N or respond-async in Prefer headers.
func preferWait(values []string) (string, bool) {
	for _, v := range values {
		for _, pref := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(pref), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "wait":
				return strings.Trim(strings.TrimSpace(val), `"`), true
			case "respond-async":
				return "0", true
			}
		}
	}
	return "", false
}

// registryFacts returns the recorded answers to a request, oldest first.
func (s *Server) registryFacts(ctx context.Context, id string) ([]event.Event, error) {
	rows, err := s.store.OutboxByCorrelation(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]event.Event, 0, len(rows))
	for _, row := range rows {
		if e, err := outbox.Decode(row.OutboxRow); err == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// firstCompleting returns the first fact that completes a wait.
func firstCompleting(facts []event.Event, untilTerminal bool) (event.Event, bool) {
	for _, f := range facts {
		if Completes(f.Type(), untilTerminal) {
			return f, true
		}
	}
	return event.Event{}, false
}

// await waits up to d for the answer that completes request id, reading
// the waiter's facts and, every PollInterval, the registry outbox (the
// outbox holds every fact before the relay publishes it, so a fact missed
// on the wire during a reconnect is still found). The registry is read
// first too, unless fresh says no answer can be recorded yet (a new id,
// its waiter registered before the request was published). It reports
// false when the time is up or the gateway or the caller went away.
func (s *Server) await(ctx context.Context, w *waiter, id string, untilTerminal bool, d time.Duration, fresh bool) (event.Event, bool) {
	check := func() (event.Event, bool) {
		facts, err := s.registryFacts(ctx, id)
		if err != nil {
			s.log.Debug("read outbox while waiting", zap.String("request_id", id), zap.Error(err))
			return event.Event{}, false
		}
		return firstCompleting(facts, untilTerminal)
	}
	if !fresh {
		if f, ok := check(); ok {
			return f, true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case f := <-w.ch:
			if Completes(f.Type(), untilTerminal) {
				return f, true
			}
		case <-poll.C:
			if f, ok := check(); ok {
				return f, true
			}
		case <-timer.C:
			// One last look: the answer may have been committed just now.
			return check()
		case <-ctx.Done():
			return event.Event{}, false
		case <-s.ctx.Done():
			return event.Event{}, false
		}
	}
}
