package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// onMaxDeliveries hears the server's max-deliveries advisory: the server
// stopped delivering a message of this consumer because no delivery was
// acknowledged in time. It ends the request in the background.
func (s *server[T]) onMaxDeliveries(m *nats.Msg) {
	var adv struct {
		Stream     string `json:"stream"`
		Consumer   string `json:"consumer"`
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
		return
	}
	if !s.begin() {
		return
	}
	go func() {
		defer s.wg.Done()
		s.endUndelivered(adv.StreamSeq, adv.Deliveries)
	}()
}

// endUndelivered ends the request at stream sequence seq that the server
// gave up on: it records the failure unless the request already ended, and
// copies it to the DLQ. The server has already stopped delivering it, so
// there is nothing to terminate; a step that fails is logged and not
// retried.
func (s *server[T]) endUndelivered(seq, deliveries uint64) {
	ctx, cancel := context.WithTimeout(s.workCtx, 30*time.Second)
	defer cancel()
	log := s.log.With(zap.Uint64("stream_seq", seq), zap.Uint64("num_delivered", deliveries))
	raw, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		log.Error("max deliveries reached; message not readable", zap.Error(err))
		return
	}
	info := MsgInfo{Subject: raw.Subject, Stream: StreamRequests, Consumer: s.r.Consumer, Sequence: seq, NumDelivered: deliveries, Last: true}
	ev, rej := s.decode(raw.Header, raw.Data, info)
	e := ending[T]{rej: rej, ev: ev,
		cause: fmt.Errorf("no delivery was acknowledged after %d attempts (max deliveries reached)", deliveries)}
	recorded := false
	if rej == nil {
		outcome, err := s.rt.Ledger.Outcome(ctx, ev.Source, ev.ID)
		if err != nil {
			log.Error("max deliveries reached; outcome not readable", zap.Error(err))
			return
		}
		if outcome == OutcomeDone {
			return
		}
		recorded = outcome != OutcomeNone
	}
	if !recorded {
		if err := s.record(ctx, e); err != nil {
			log.Error("max deliveries reached; "+e.kind()+" not recorded", zap.Error(err))
			return
		}
	}
	if err := s.deadLetter(ctx, raw.Subject, raw.Header, raw.Data, info, e.reason(), e.field()); err != nil {
		log.Error("max deliveries reached; dead letter not published", zap.Error(err))
		return
	}
	s.rt.Metrics.observe(s.r.Consumer, OutcomeDLQ, 0)
	log.Error("request failed: max deliveries reached")
}
