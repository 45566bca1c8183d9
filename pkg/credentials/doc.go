// Package credentials is AAM's credential broker: secrets (Salesforce
// connected-app credentials, or any source's configuration secrets) kept
// in the registry encrypted with AES-256-GCM, and served by id over NATS
// request/reply to the roles that configure Airbyte sources.
//
// # Keys and sealing
//
// The key comes from AAM_SECRET_KEY (ParseKey): 32 random bytes as base64
// or hex, e.g. `openssl rand -base64 32`. Each credential's JSON document
// is sealed under a fresh random 12-byte nonce, with the credential's id,
// kind and version as additional data, so a ciphertext moved to another
// credential or replayed over a newer version does not open. The registry
// row holds only the key id (Key.ID, a fingerprint), nonce and ciphertext.
// A credential sealed with another key fails with a *KeyMismatchError
// naming both key ids.
//
// # Store
//
// Store (on a *registry.Store) creates, rotates (version+1), deletes, gets
// and lists credentials; Apply and ImportSalesforce store the environment's
// SALESFORCE_* credential idempotently at start.
//
// # Service and client
//
// NewService runs the NATS micro service "aam-credentials" with the
// endpoints of group "aam.credentials":
//
//	subject                request                               reply
//	aam.credentials.get    {"credential_id"}                     {"credential_id","kind","version","fields":{...},"created_at","updated_at"}
//	aam.credentials.put    {"credential_id","kind","fields"}     Metadata (version 1)
//	aam.credentials.rotate {"credential_id","kind"?,"fields"}    Metadata (new version)
//	aam.credentials.delete {"credential_id"}                     {"credential_id","deleted":true}
//	aam.credentials.list   {"kind"?} or empty                    {"credentials":[Metadata...]}
//
// Only get's reply carries secret values. Errors are micro error replies
// (headers Nats-Service-Error-Code and Nats-Service-Error, body
// ErrorDetail): 400 invalid request (naming the field), 404 not found, 409
// exists, 503 store unavailable (retry), 500 internal (a credential sealed
// with another key or altered, or an unexpected failure logged under an
// error_id). `nats micro ls`, `nats micro info aam-credentials` and
// `nats micro stats aam-credentials` show the service.
//
// Client wraps these calls for other roles and maps error replies back to
// ErrNotFound, ErrExists, *ValidationError, ErrUnavailable (also when no
// broker answers: retryable) and *ServiceError.
//
// # No leaks
//
// Secret values never appear in logs (handlers log credential ids, kinds,
// versions and key ids), in errors (validation errors name fields, never
// values; JSON errors never quote input), in list, put, rotate or delete
// replies, or in the registry except as ciphertext. Credential, GetReply,
// PutRequest and Key print, format, marshal and log without values.
package credentials
