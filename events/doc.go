// Package events is AAM's public event contract: the NATS subjects and
// CloudEvent types of every request and fact, the payload structs carried in
// each event's data, and the CloudEvents⇄NATS codec.
//
// Other systems import this package to ask AAM for work without depending on
// anything else in the project:
//
//	ev, err := events.New(events.TypeSyncRequested, "/billing/nightly",
//		events.SyncRequested{ConnectionID: id})
//	if err != nil { ... }
//	msg, err := events.ToMsg(events.SubjectSyncRequest, ev, events.Binary)
//	if err != nil { ... }
//	_, err = js.PublishMsg(ctx, msg) // Nats-Msg-Id is already the event id
//
// Every completion event carries the extension attribute correlationid (the
// id of the request it answers) and subject (the registry connection id), so
// a caller can wait for the answer to its own request by filtering
// aam.events.> on correlationid.
//
// Encoding follows the CloudEvents NATS protocol binding (1.0.3): binary mode
// (ce- headers, lowercase, percent-encoded values, data in the body) and
// structured mode (Content-Type application/cloudevents+json). The decoder
// also accepts the forms sdk-go's own NATS bindings emit: unencoded header
// values, an unprefixed content-type header for datacontenttype, and
// structured JSON without any Content-Type header.
package events
