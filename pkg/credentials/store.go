package credentials

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/aam-mesh/aam/pkg/registry"
)

// Store keeps credentials in the registry's credentials table, sealed with
// AES-256-GCM under one Key. Only the key id, the nonce and the ciphertext
// of the JSON document are stored; the ciphertext is bound to the id, kind
// and version of its credential.
//
// Errors speak the package's vocabulary: ErrNotFound, ErrExists,
// *ValidationError, ErrWrongKey, ErrTampered, and ErrUnavailable for
// transient registry failures. None carries a secret value.
type Store struct {
	reg *registry.Store
	key Key
}

// NewStore returns a Store on reg sealing with key.
func NewStore(reg *registry.Store, key Key) *Store { return &Store{reg: reg, key: key} }

// KeyID returns the id of the key in use.
func (s *Store) KeyID() string { return s.key.ID() }

// maxRotateAttempts bounds the retries of a rotation that raced another.
const maxRotateAttempts = 5

// Create stores a new credential at version 1. An existing id is ErrExists;
// an invalid credential is a *ValidationError.
func (s *Store) Create(ctx context.Context, c Credential) (Metadata, error) {
	c, doc, err := normalize(c)
	if err != nil {
		return Metadata{}, err
	}
	defer clear(doc)
	sealed, err := s.key.Seal(Binding{ID: c.ID, Kind: c.Kind, Version: 1}, doc)
	if err != nil {
		return Metadata{}, err
	}
	row, err := s.reg.CredentialCreate(ctx, registry.Credential{
		ID: c.ID, Kind: c.Kind, KeyID: sealed.KeyID, Nonce: sealed.Nonce, Ciphertext: sealed.Ciphertext,
	})
	if err != nil {
		if errors.Is(err, registry.ErrConflict) {
			return Metadata{}, fmt.Errorf("%w: %q", ErrExists, c.ID)
		}
		return Metadata{}, storeError("create", c.ID, err)
	}
	if row.Version != 1 {
		return Metadata{}, fmt.Errorf("credentials: create %q: stored at version %d, not 1", c.ID, row.Version)
	}
	return metadata(row, c.FieldNames(), true), nil
}

// Rotate replaces the document of an existing credential and increments
// its version; the previous ciphertext is overwritten. An empty Kind keeps
// the credential's kind; another kind is a *ValidationError (delete and
// create to change it). A missing id is ErrNotFound.
func (s *Store) Rotate(ctx context.Context, c Credential) (Metadata, error) {
	if err := validateID(c.ID); err != nil {
		return Metadata{}, err
	}
	for attempt := 1; ; attempt++ {
		md, err := s.rotateOnce(ctx, c)
		if errors.Is(err, errRotateRaced) && attempt < maxRotateAttempts {
			continue
		}
		return md, err
	}
}

var errRotateRaced = errors.New("credentials: rotation raced another")

// rotateOnce seals the document for version n+1 of the version n it read,
// and rolls back when a concurrent rotation made the update land on
// another version (the ciphertext is bound to the version).
func (s *Store) rotateOnce(ctx context.Context, c Credential) (Metadata, error) {
	var md Metadata
	err := s.reg.InTx(ctx, func(q *registry.Queries) error {
		cur, err := q.CredentialGet(ctx, c.ID)
		if err != nil {
			if errors.Is(err, registry.ErrNotFound) {
				return fmt.Errorf("%w: %q", ErrNotFound, c.ID)
			}
			return storeError("rotate", c.ID, err)
		}
		next := c
		if next.Kind == "" {
			next.Kind = cur.Kind
		}
		next, doc, err := normalize(next)
		if err != nil {
			return err
		}
		defer clear(doc)
		if next.Kind != cur.Kind {
			return invalid("kind", "credential %q is of kind %q; delete and create it to change its kind", c.ID, cur.Kind)
		}
		sealed, err := s.key.Seal(Binding{ID: next.ID, Kind: next.Kind, Version: cur.Version + 1}, doc)
		if err != nil {
			return err
		}
		row, err := q.CredentialReplace(ctx, registry.Credential{
			ID: next.ID, Kind: next.Kind, KeyID: sealed.KeyID, Nonce: sealed.Nonce, Ciphertext: sealed.Ciphertext,
		})
		if err != nil {
			if errors.Is(err, registry.ErrNotFound) {
				return fmt.Errorf("%w: %q", ErrNotFound, c.ID)
			}
			return storeError("rotate", c.ID, err)
		}
		if row.Version != cur.Version+1 {
			return errRotateRaced
		}
		md = metadata(row, next.FieldNames(), true)
		return nil
	})
	return md, err
}

// Delete deletes a credential. A missing id is ErrNotFound.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := validateID(id); err != nil {
		return err
	}
	if err := s.reg.CredentialDelete(ctx, id); err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return storeError("delete", id, err)
	}
	return nil
}

// Get returns a credential with its document. A missing id is
// ErrNotFound; a credential sealed with another key is a
// *KeyMismatchError; an altered one is ErrTampered.
func (s *Store) Get(ctx context.Context, id string) (Credential, error) {
	_, c, err := s.load(ctx, id)
	return c, err
}

// load reads and opens a credential, returning its row too.
func (s *Store) load(ctx context.Context, id string) (registry.Credential, Credential, error) {
	if err := validateID(id); err != nil {
		return registry.Credential{}, Credential{}, err
	}
	row, err := s.reg.CredentialGet(ctx, id)
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return registry.Credential{}, Credential{}, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return registry.Credential{}, Credential{}, storeError("get", id, err)
	}
	fields, err := s.open(row)
	if err != nil {
		return row, Credential{}, err
	}
	return row, Credential{ID: row.ID, Kind: row.Kind, Fields: fields, Version: row.Version, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}, nil
}

func (s *Store) open(row registry.Credential) (map[string]any, error) {
	doc, err := s.key.Open(Binding{ID: row.ID, Kind: row.Kind, Version: row.Version},
		Sealed{KeyID: row.KeyID, Nonce: row.Nonce, Ciphertext: row.Ciphertext})
	if err != nil {
		return nil, err
	}
	defer clear(doc)
	fields, err := decodeDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: credential %q: the document is not a JSON object", ErrTampered, row.ID)
	}
	return fields, nil
}

// List returns every credential's metadata, by id. Field names come from
// opening each document; a credential that does not open with the key in
// use is listed with Readable false and no field names.
func (s *Store) List(ctx context.Context) ([]Metadata, error) {
	rows, err := s.reg.CredentialList(ctx)
	if err != nil {
		return nil, storeError("list", "", err)
	}
	out := make([]Metadata, 0, len(rows))
	for _, row := range rows {
		fields, err := s.open(row)
		out = append(out, metadata(row, slices.Sorted(maps.Keys(fields)), err == nil))
	}
	return out, nil
}

// Outcome is what Apply did.
type Outcome string

// Outcomes of Apply.
const (
	OutcomeCreated   Outcome = "created"
	OutcomeRotated   Outcome = "rotated"
	OutcomeUnchanged Outcome = "unchanged"
	// OutcomeSkipped: ImportSalesforce found no SALESFORCE_* variables.
	OutcomeSkipped Outcome = "skipped"
)

// Apply makes the stored credential c.ID hold c's document: it creates the
// credential, rotates it when its kind or document differ (or when it
// cannot be opened with the key in use), and otherwise leaves it, and its
// version, as they are. Importing the same configuration at every start is
// therefore idempotent.
func (s *Store) Apply(ctx context.Context, c Credential) (Metadata, Outcome, error) {
	want, doc, err := normalize(c)
	if err != nil {
		return Metadata{}, "", err
	}
	clear(doc)
	for attempt := 1; ; attempt++ {
		row, cur, err := s.load(ctx, want.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			md, err := s.Create(ctx, want)
			if errors.Is(err, ErrExists) && attempt < maxRotateAttempts {
				continue
			}
			return md, OutcomeCreated, err
		case err == nil && cur.Kind == want.Kind && reflect.DeepEqual(cur.Fields, want.Fields):
			return metadata(row, want.FieldNames(), true), OutcomeUnchanged, nil
		case err == nil, errors.Is(err, ErrWrongKey), errors.Is(err, ErrTampered):
			if err == nil && cur.Kind != want.Kind {
				return Metadata{}, "", invalid("kind", "credential %q is of kind %q; delete and create it to change its kind", want.ID, cur.Kind)
			}
			md, err := s.Rotate(ctx, want)
			return md, OutcomeRotated, err
		default:
			return Metadata{}, "", err
		}
	}
}

func metadata(row registry.Credential, names []string, readable bool) Metadata {
	if names == nil {
		names = []string{}
	}
	return Metadata{
		ID: row.ID, Kind: row.Kind, Version: row.Version, KeyID: row.KeyID, FieldNames: names,
		Readable: readable, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt,
	}
}

// storeError wraps a registry failure; transient ones match ErrUnavailable.
func storeError(op, id string, err error) error {
	if registry.IsRetryable(err) {
		return fmt.Errorf("credentials: %s %q: %w: %w", op, id, ErrUnavailable, err)
	}
	return fmt.Errorf("credentials: %s %q: %w", op, id, err)
}
