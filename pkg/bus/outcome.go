package bus

import "strings"

// RequestOutcome is how a request ended, as a Ledger records it. A Ledger
// on another store maps that store's own vocabulary to these values at its
// edge (package outbox does it for the registry's inbox).
type RequestOutcome string

// Request outcomes a Ledger reports.
const (
	// OutcomeNone: the request has not ended (or the Ledger remembers
	// nothing).
	OutcomeNone RequestOutcome = ""
	// OutcomeDone: the handler committed the request's effect.
	OutcomeDone RequestOutcome = "done"
	// OutcomeFailed: the request was handled and failed for good.
	OutcomeFailed RequestOutcome = "failed"
	// OutcomeRejected: the runtime refused the request before any handler
	// saw it.
	OutcomeRejected RequestOutcome = "rejected"
)

// MessageOutcome is how the runtime settled one delivery of a message. Its
// values are the outcome label of aam_messages_handled_total and
// aam_handler_duration_seconds.
type MessageOutcome string

// Message outcomes counted by Metrics.
const (
	// OutcomeAck: the handler succeeded and the message was acknowledged.
	OutcomeAck MessageOutcome = "ack"
	// OutcomeNak: the message was returned for redelivery.
	OutcomeNak MessageOutcome = "nak"
	// OutcomeTerm: the message was terminated (after its DLQ copy).
	OutcomeTerm MessageOutcome = "term"
	// OutcomeDLQ: a copy of the message was published to the DLQ.
	OutcomeDLQ MessageOutcome = "dlq"
	// OutcomeDuplicate: the request had already been done; the message was
	// acknowledged without calling the handler.
	OutcomeDuplicate MessageOutcome = "duplicate"
)

// messageOutcomes lists every MessageOutcome, in the order the metrics'
// help text names them.
var messageOutcomes = []MessageOutcome{OutcomeAck, OutcomeNak, OutcomeTerm, OutcomeDLQ, OutcomeDuplicate}

// label returns o as a metric label value.
func (o MessageOutcome) label() string { return string(o) }

// messageOutcomeList is "ack, nak, term, dlq, duplicate".
func messageOutcomeList() string {
	s := make([]string, len(messageOutcomes))
	for i, o := range messageOutcomes {
		s[i] = o.label()
	}
	return strings.Join(s, ", ")
}
