package registry

import (
	"context"

	"github.com/jackc/pgx/v5"
)

const credentialColumns = `id, kind, key_id, nonce, ciphertext, version, created_at, updated_at`

func scanCredential(row pgx.Row) (Credential, error) {
	var c Credential
	err := row.Scan(&c.ID, &c.Kind, &c.KeyID, &c.Nonce, &c.Ciphertext, &c.Version, &c.CreatedAt, &c.UpdatedAt)
	return c, translate(err)
}

// CredentialCreate stores a new credential; an existing id is ErrConflict.
func (q *Queries) CredentialCreate(ctx context.Context, c Credential) (Credential, error) {
	return scanCredential(q.db.QueryRow(ctx, `INSERT INTO credentials (id, kind, key_id, nonce, ciphertext)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+credentialColumns, c.ID, c.Kind, c.KeyID, c.Nonce, c.Ciphertext))
}

// CredentialReplace replaces a credential's secret (rotation) and bumps its
// version.
func (q *Queries) CredentialReplace(ctx context.Context, c Credential) (Credential, error) {
	return scanCredential(q.db.QueryRow(ctx, `UPDATE credentials SET kind = $2, key_id = $3, nonce = $4,
			ciphertext = $5, version = version + 1, updated_at = now()
		WHERE id = $1 RETURNING `+credentialColumns, c.ID, c.Kind, c.KeyID, c.Nonce, c.Ciphertext))
}

// CredentialGet returns a credential.
func (q *Queries) CredentialGet(ctx context.Context, id string) (Credential, error) {
	return scanCredential(q.db.QueryRow(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE id = $1`, id))
}

// CredentialList lists credentials by id.
func (q *Queries) CredentialList(ctx context.Context) ([]Credential, error) {
	return list(ctx, q.db, scanCredential, `SELECT `+credentialColumns+` FROM credentials ORDER BY id`)
}

// CredentialDelete deletes a credential; a missing id is ErrNotFound.
func (q *Queries) CredentialDelete(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM credentials WHERE id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return &Error{Kind: ErrNotFound, Err: pgx.ErrNoRows}
	}
	return nil
}
