package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
)

// handleStream serves the facts of AAM_EVENTS as server-sent events:
//
//	id: <AAM_EVENTS stream sequence>
//	event: <CloudEvent type>
//	data: <the fact as a structured CloudEvent, one line>
//
// ?type= (repeatable) keeps the given fact types, ?connection_id= the facts
// about one connection. A client resumes after the last event it saw with
// the Last-Event-ID header (EventSource sends it on reconnect) or
// ?last_event_id=; ?since= (a duration such as 1h, or an RFC 3339 time)
// replays from a point in time; otherwise only new facts are sent. Comment
// lines keep idle connections alive every Heartbeat.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy, InactiveThreshold: 30 * time.Second}
	for _, t := range q["type"] {
		d, ok := events.Lookup(t)
		if !ok || d.Kind != events.KindFact {
			writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("type %q is not a fact type", t), Field: "type"})
			return
		}
		cfg.FilterSubjects = appendUnique(cfg.FilterSubjects, d.Subject)
	}
	connectionID := q.Get("connection_id")
	last := r.Header.Get("Last-Event-ID")
	field := "Last-Event-ID"
	if last == "" {
		last, field = q.Get("last_event_id"), "last_event_id"
	}
	switch {
	case last != "":
		seq, err := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("%s %q is not a stream sequence", field, last), Field: field})
			return
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
	case q.Get("since") != "":
		t, err := parseSince(q.Get("since"), time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, Error{Error: "since: " + err.Error(), Field: "since"})
			return
		}
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	if !s.nc.IsConnected() {
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, Error{Error: "NATS is not reachable"})
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	cctx, ccancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	cons, err := s.js.OrderedConsumer(cctx, bus.StreamEvents, cfg)
	ccancel()
	if err != nil {
		s.log.Warn("event stream not opened", zap.Error(err))
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, Error{Error: "the events stream is not available"})
		return
	}
	it, err := cons.Messages()
	if err != nil {
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, Error{Error: "the events stream is not available"})
		return
	}
	defer it.Stop()
	msgs := make(chan jetstream.Msg)
	go func() {
		defer close(msgs)
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
					return
				}
				continue
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": aam events\nretry: 2000\n\n")
	_ = rc.Flush()
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if _, err := fmt.Fprintf(w, ": heartbeat %s\n\n", time.Now().UTC().Format(time.RFC3339)); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		case m, ok := <-msgs:
			if !ok {
				return
			}
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			ev, _, err := events.Decode(m.Headers(), m.Data())
			if err != nil {
				continue // not a CloudEvent: nothing a client could read
			}
			if connectionID != "" && ev.Subject() != connectionID {
				continue
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", meta.Sequence.Stream, ev.Type(), structured(ev)); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

// parseSince reads a duration back from now (1h, 30m) or an RFC 3339 time.
func parseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q is negative", v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration such as 1h nor an RFC 3339 time", v)
	}
	return t, nil
}
