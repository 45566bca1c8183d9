package credentials

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound reports that no credential has the id.
	ErrNotFound = errors.New("credentials: not found")
	// ErrExists reports that a credential with the id already exists (put
	// of an existing id; rotate it instead).
	ErrExists = errors.New("credentials: already exists")
	// ErrUnavailable reports that the broker or its database could not
	// answer: no broker is subscribed, no reply came in time, or the
	// registry failed transiently. The request can be retried.
	ErrUnavailable = errors.New("credentials: broker unavailable")
	// ErrWrongKey reports a credential sealed with another key than the one
	// in use (AAM_SECRET_KEY changed). The error is a *KeyMismatchError
	// naming both key ids.
	ErrWrongKey = errors.New("credentials: sealed with another key")
	// ErrTampered reports a stored credential that does not open with the
	// key it names: its ciphertext, nonce, id, kind or version changed
	// after it was sealed.
	ErrTampered = errors.New("credentials: ciphertext does not open")
)

// ValidationError reports a request or credential that is not acceptable.
// Field names the offending field (credential_id, kind, fields, or a field
// of the secret document such as client_secret); Reason never contains the
// field's value.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "credentials: invalid request: " + e.Reason
	}
	return "credentials: invalid " + e.Field + ": " + e.Reason
}

func invalid(field, reason string, args ...any) *ValidationError {
	if len(args) > 0 {
		reason = fmt.Sprintf(reason, args...)
	}
	return &ValidationError{Field: field, Reason: reason}
}

// KeyMismatchError reports a credential sealed with another key. It
// matches ErrWrongKey with errors.Is. Key ids are fingerprints, not keys.
type KeyMismatchError struct {
	CredentialID string
	// SealedKeyID is the id of the key the credential was sealed with.
	SealedKeyID string
	// KeyID is the id of the key in use.
	KeyID string
}

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("credentials: credential %q is sealed with key id %s, but the key in use (AAM_SECRET_KEY) has id %s",
		e.CredentialID, e.SealedKeyID, e.KeyID)
}

// Is matches ErrWrongKey.
func (e *KeyMismatchError) Is(target error) bool { return target == ErrWrongKey }

// ServiceError is an error reply of the broker that is neither a
// validation error, nor "not found", nor "exists": an internal error
// ("500"), a store that is unavailable ("503", matching ErrUnavailable), or
// a credential sealed with another key or altered (matching ErrWrongKey or
// ErrTampered).
type ServiceError struct {
	// Code is the micro error code (Nats-Service-Error-Code).
	Code string
	// Description is the broker's description (Nats-Service-Error).
	Description string
	// ErrorID identifies an internal error in the broker's log.
	ErrorID string
	kind    error
}

func (e *ServiceError) Error() string {
	if e.ErrorID != "" {
		return fmt.Sprintf("credentials: broker error %s: %s (error_id %s)", e.Code, e.Description, e.ErrorID)
	}
	return fmt.Sprintf("credentials: broker error %s: %s", e.Code, e.Description)
}

// Unwrap returns the sentinel the error matches, if any.
func (e *ServiceError) Unwrap() error { return e.kind }
