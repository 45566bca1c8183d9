package bus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
)

// DLQ headers added to the copy of a dead request.
const (
	HeaderDLQReason     = "Aam-Dlq-Reason"
	HeaderDLQField      = "Aam-Dlq-Field"
	HeaderDLQSubject    = "Aam-Dlq-Subject"
	HeaderDLQStream     = "Aam-Dlq-Stream"
	HeaderDLQSequence   = "Aam-Dlq-Sequence"
	HeaderDLQConsumer   = "Aam-Dlq-Consumer"
	HeaderDLQDeliveries = "Aam-Dlq-Deliveries"
	HeaderDLQTime       = "Aam-Dlq-Time"
)

// deadLetter publishes a copy of a request (its headers other than NATS's
// own, and its data) on its DLQ subject, with the DLQ headers saying why and
// where it came from. The copy's Nats-Msg-Id is derived from the message's
// stream sequence, so copying a message twice yields one dead letter.
func (s *server[T]) deadLetter(ctx context.Context, subject string, h nats.Header, data []byte, info MsgInfo, reason, field string) error {
	dl := nats.NewMsg(events.DLQSubject(subject))
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		dl.Header[k] = append([]string(nil), v...)
	}
	dl.Header.Set(HeaderDLQReason, truncate(reason, 2048))
	if field != "" {
		dl.Header.Set(HeaderDLQField, field)
	}
	dl.Header.Set(HeaderDLQSubject, subject)
	dl.Header.Set(HeaderDLQStream, info.Stream)
	dl.Header.Set(HeaderDLQSequence, fmt.Sprint(info.Sequence))
	dl.Header.Set(HeaderDLQConsumer, info.Consumer)
	dl.Header.Set(HeaderDLQDeliveries, fmt.Sprint(info.NumDelivered))
	dl.Header.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	dl.Header.Set(events.HeaderMsgID, fmt.Sprintf("dlq:%s:%d", info.Stream, info.Sequence))
	dl.Data = data
	_, err := s.pub.PublishMsg(ctx, dl)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
