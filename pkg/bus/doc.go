// Package bus is AAM's JetStream wiring and worker runtime, built on the
// nats.go jetstream package.
//
// Provision creates the three streams idempotently: AAM_REQUESTS
// (aam.requests.>), AAM_EVENTS (aam.events.>, replayable) and AAM_DLQ
// (aam.dlq.>). Publisher publishes CloudEvents with Nats-Msg-Id = event id.
//
// Serve runs one durable pull consumer with bounded concurrency and hands
// each request to a typed handler:
//
//	bus.Serve(ctx, rt, bus.Route[events.SyncRequested]{
//		Consumer: "sync",
//		Subject:  events.SubjectSyncRequest,
//		Type:     events.TypeSyncRequested,
//		Handle:   w.handleSync,
//	})
//
// The runtime decodes the CloudEvent, checks its type and validates its data
// against the event's JSON Schema, recovers panics, applies a per-message
// timeout, keeps long handlers alive with InProgress, and maps the outcome:
//
//	handler returns                 runtime does
//	nil                             Ack (after the handler's commit)
//	Permanent(err)                  Route.Fail (failure fact) + DLQ copy + TermWithReason
//	RetryAfter(d, err)              NakWithDelay(d)
//	other error, panic              NakWithDelay(backoff(NumDelivered)); on the last
//	                                delivery (MaxDeliver) as Permanent
//	context cancelled by shutdown   Nak, so another instance takes it at once
//
// A request that is not a CloudEvent, lacks id/type/source, has a type not
// accepted on its subject, or data that fails its schema is answered with
// one io.aam.request.rejected.v1 fact naming the field, copied to the DLQ,
// and terminated: bad input never blocks a consumer. When the server itself
// gives up on a message (MaxDeliver reached by ack timeouts, e.g. a process
// killed on every delivery), the runtime hears the max-deliveries advisory
// and ends the request the same way. Either way the end is recorded in one
// place: Route.Fail for a handler's failure, the Ledger for a rejection.
//
// Two typed vocabularies describe outcomes. RequestOutcome is how a request
// ended (done, failed, rejected), as a Ledger records it; a Ledger maps its
// store's own values to it. MessageOutcome is how one delivery was settled
// (ack, nak, term, dlq, duplicate), the outcome label of the metrics.
package bus
