// Package gateway is AAM's HTTP gateway: a thin edge that validates
// requests, publishes them as CloudEvents on the request subjects, and reads
// the registry. It never calls Airbyte.
//
// Requests arrive on the seed API's routes (POST /connections/onboard,
// /connections/{id}/sync, /repair/apply_new_catalog), on their /v1
// counterparts, or as CloudEvents over HTTP (POST /v1/events, binary and
// structured content modes). Each is validated against the JSON Schema of
// its type, published with JetStream (Nats-Msg-Id = CloudEvent id) and
// answered 202 Accepted only after the stream acknowledged it; nothing is
// accepted that was not stored. The Idempotency-Key header becomes the
// CloudEvent id, so a retried request is one request with one answer. A
// request for a connection the registry does not hold is answered 404
// without being published; a connection found once is not looked up again
// (a connection's row is never deleted: a deleted one stays, DELETED, and
// the worker answers its requests).
//
// A caller may wait for the answer (?wait=30s, Prefer: wait=30): the
// gateway follows the facts on aam.events.> by correlationid and the
// registry outbox, and answers with the seed's response body. Reads come
// from the registry (connections, catalog versions, jobs, request states),
// and GET /v1/events/stream relays the replayable AAM_EVENTS stream as
// server-sent events, resumable with Last-Event-ID.
//
// openapi.yaml, embedded and served at /openapi.yaml, documents every
// route; a test keeps the document and the route table equal and checks
// the answers of the tests against it.
package gateway
