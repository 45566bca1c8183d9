package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrNotFound reports that the requested row does not exist.
	ErrNotFound = errors.New("registry: not found")
	// ErrConflict reports a unique or foreign-key constraint violation.
	ErrConflict = errors.New("registry: conflict")
	// ErrInvalid reports a value the database refused (check constraint,
	// bad enum value, malformed uuid).
	ErrInvalid = errors.New("registry: invalid value")
	// ErrRetryable reports a transient failure: serialization failure,
	// deadlock, lost connection, server shutting down. The operation can be
	// tried again.
	ErrRetryable = errors.New("registry: transient failure")
)

// Error wraps a translated database error. It matches its Kind with
// errors.Is and keeps the driver error reachable through Unwrap.
type Error struct {
	Kind       error
	Constraint string
	Err        error
}

func (e *Error) Error() string {
	if e.Constraint != "" {
		return fmt.Sprintf("%v (%s): %v", e.Kind, e.Constraint, e.Err)
	}
	return fmt.Sprintf("%v: %v", e.Kind, e.Err)
}

func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// translate maps pgx errors to registry errors. nil stays nil.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var re *Error
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &Error{Kind: ErrNotFound, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "23503":
			return &Error{Kind: ErrConflict, Constraint: pgErr.ConstraintName, Err: err}
		case "23514", "22P02", "22023", "23502":
			return &Error{Kind: ErrInvalid, Constraint: pgErr.ConstraintName, Err: err}
		case "40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300":
			return &Error{Kind: ErrRetryable, Err: err}
		}
		if len(pgErr.Code) == 2 || (len(pgErr.Code) >= 2 && pgErr.Code[:2] == "08") {
			return &Error{Kind: ErrRetryable, Err: err}
		}
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return &Error{Kind: ErrRetryable, Err: err}
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return &Error{Kind: ErrRetryable, Err: err}
	}
	return err
}

// IsNotFound reports whether err is (or wraps) ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
