package credentials

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/registry"
)

type storeBundle struct {
	schema *dbtest.Schema
	reg    *registry.Store
	store  *Store
}

func setupStore(t testing.TB) *storeBundle {
	t.Helper()
	schema := dbtest.NewSchema(t)
	reg := registry.NewStore(schema.Pool)
	return &storeBundle{schema: schema, reg: reg, store: NewStore(reg, testKey(t, 1))}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// requireConcurrentOK runs call(0) to call(n-1) at the same time and
// requires every one to succeed.
func requireConcurrentOK(t *testing.T, n int, call func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = call(i) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// dumpSchema returns every row of every table in the test's schema as
// PostgreSQL's text form (bytea in hex), plus the raw bytes of every bytea
// column of credentials, to look for plaintext.
func dumpSchema(t *testing.T, s *dbtest.Schema) []byte {
	t.Helper()
	ctx := ctxT(t)
	rows, err := s.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, s.Name)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "credentials")
	var out bytes.Buffer
	for _, table := range tables {
		rows, err := s.Pool.Query(ctx, fmt.Sprintf(`SELECT t::text FROM %s t`, pgx.Identifier{s.Name, table}.Sanitize()))
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		for _, txt := range texts {
			out.WriteString(txt)
			out.WriteByte('\n')
		}
	}
	rows, err = s.Pool.Query(ctx, `SELECT id, kind, key_id, nonce, ciphertext FROM credentials`)
	require.NoError(t, err)
	for rows.Next() {
		var id, kind, keyID string
		var nonce, ct []byte
		require.NoError(t, rows.Scan(&id, &kind, &keyID, &nonce, &ct))
		out.WriteString(id + kind + keyID)
		out.Write(nonce)
		out.Write(ct)
	}
	require.NoError(t, rows.Err())
	return out.Bytes()
}

// requireAbsent fails when any of secrets appears in b (as is, or in hex,
// the form bytea takes in text).
func requireAbsent(t *testing.T, b []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		require.False(t, bytes.Contains(b, []byte(s)), "found a secret in plain")
		require.False(t, bytes.Contains(bytes.ToLower(b), []byte(fmt.Sprintf("%x", s))), "found a secret in hex")
	}
}

func TestStoreLifecycle(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := ctxT(t)
	s := b.store

	md, err := s.Create(ctx, Credential{ID: "salesforce-prod", Kind: "Salesforce", Fields: salesforceFields()})
	require.NoError(t, err)
	require.Equal(t, "salesforce-prod", md.ID)
	require.Equal(t, "salesforce", md.Kind)
	require.Equal(t, 1, md.Version)
	require.Equal(t, s.KeyID(), md.KeyID)
	require.True(t, md.Readable)
	require.Equal(t, []string{"client_id", "client_secret", "is_sandbox", "refresh_token", "start_date"}, md.FieldNames)
	require.False(t, md.CreatedAt.IsZero())

	_, err = s.Create(ctx, Credential{ID: "salesforce-prod", Kind: "salesforce", Fields: salesforceFields()})
	require.ErrorIs(t, err, ErrExists)

	got, err := s.Get(ctx, "salesforce-prod")
	require.NoError(t, err)
	require.Equal(t, salesforceFields(), got.Fields)
	require.Equal(t, 1, got.Version)
	require.Equal(t, "salesforce", got.Kind)

	requireAbsent(t, dumpSchema(t, b.schema), testSecret, testToken, "3MVG9-client-id")

	// Rotate: version 2, the old secret is gone from the database.
	const newSecret = "sf-client-secret-rotated-91c4"
	md2, err := s.Rotate(ctx, Credential{ID: "salesforce-prod", Fields: with(salesforceFields(), "client_secret", newSecret)})
	require.NoError(t, err)
	require.Equal(t, 2, md2.Version)
	require.Equal(t, "salesforce", md2.Kind)
	require.True(t, md2.UpdatedAt.After(md.UpdatedAt) || md2.UpdatedAt.Equal(md.UpdatedAt))
	got, err = s.Get(ctx, "salesforce-prod")
	require.NoError(t, err)
	require.Equal(t, newSecret, got.Fields["client_secret"])
	require.Equal(t, 2, got.Version)
	requireAbsent(t, dumpSchema(t, b.schema), testSecret, testToken, newSecret)

	_, err = s.Rotate(ctx, Credential{ID: "salesforce-prod", Kind: "hubspot", Fields: map[string]any{"k": "v"}})
	require.ErrorAs(t, err, new(*ValidationError))
	_, err = s.Rotate(ctx, Credential{ID: "salesforce-prod", Fields: with(salesforceFields(), "refresh_token", nil)})
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "refresh_token", ve.Field)
	_, err = s.Rotate(ctx, Credential{ID: "missing", Kind: "salesforce", Fields: salesforceFields()})
	require.ErrorIs(t, err, ErrNotFound)

	_, err = s.Create(ctx, Credential{ID: "hubspot", Kind: "hubspot", Fields: map[string]any{"api_key": "hs-key-1"}})
	require.NoError(t, err)
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "hubspot", list[0].ID)
	require.Equal(t, []string{"api_key"}, list[0].FieldNames)
	require.Equal(t, "salesforce-prod", list[1].ID)
	require.Equal(t, 2, list[1].Version)

	require.NoError(t, s.Delete(ctx, "salesforce-prod"))
	require.ErrorIs(t, s.Delete(ctx, "salesforce-prod"), ErrNotFound)
	_, err = s.Get(ctx, "salesforce-prod")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Get(ctx, "bad id")
	require.ErrorAs(t, err, new(*ValidationError))
	list, err = s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func TestStoreWrongKeyAndTampering(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := ctxT(t)
	for _, id := range []string{"a", "b", "c"} {
		_, err := b.store.Create(ctx, Credential{ID: id, Kind: "salesforce", Fields: salesforceFields()})
		require.NoError(t, err)
	}

	other := NewStore(b.reg, testKey(t, 100))
	_, err := other.Get(ctx, "a")
	require.ErrorIs(t, err, ErrWrongKey)
	require.Contains(t, err.Error(), b.store.KeyID())
	require.Contains(t, err.Error(), other.KeyID())
	list, err := other.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.False(t, list[0].Readable)
	require.Empty(t, list[0].FieldNames)
	require.Equal(t, b.store.KeyID(), list[0].KeyID)

	exec := func(sql string, args ...any) {
		_, err := b.schema.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	// b gets a's ciphertext and nonce: it must not open as b.
	exec(`UPDATE credentials SET nonce = src.nonce, ciphertext = src.ciphertext FROM credentials src WHERE src.id = 'a' AND credentials.id = 'b'`)
	_, err = b.store.Get(ctx, "b")
	require.ErrorIs(t, err, ErrTampered)
	// c's version is rolled back or its kind changed: it must not open.
	exec(`UPDATE credentials SET version = 7 WHERE id = 'c'`)
	_, err = b.store.Get(ctx, "c")
	require.ErrorIs(t, err, ErrTampered)
	exec(`UPDATE credentials SET kind = 'hubspot' WHERE id = 'a'`)
	_, err = b.store.Get(ctx, "a")
	require.ErrorIs(t, err, ErrTampered)

	list, err = b.store.List(ctx)
	require.NoError(t, err)
	for _, md := range list {
		require.False(t, md.Readable, md.ID)
	}
}

func TestStoreConcurrentRotations(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := ctxT(t)
	_, err := b.store.Create(ctx, Credential{ID: "sf", Kind: "salesforce", Fields: salesforceFields()})
	require.NoError(t, err)
	const n = 6
	requireConcurrentOK(t, n, func(i int) error {
		_, err := b.store.Rotate(ctx, Credential{ID: "sf", Fields: with(salesforceFields(), "client_secret", fmt.Sprintf("secret-%d", i))})
		return err
	})
	got, err := b.store.Get(ctx, "sf")
	require.NoError(t, err)
	require.Equal(t, n+1, got.Version)
	require.True(t, strings.HasPrefix(got.Fields["client_secret"].(string), "secret-"))
}

func TestStoreApply(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := ctxT(t)
	c := Credential{ID: "sf", Kind: "salesforce", Fields: salesforceFields()}
	md, outcome, err := b.store.Apply(ctx, c)
	require.NoError(t, err)
	require.Equal(t, OutcomeCreated, outcome)
	require.Equal(t, 1, md.Version)
	md, outcome, err = b.store.Apply(ctx, c)
	require.NoError(t, err)
	require.Equal(t, OutcomeUnchanged, outcome)
	require.Equal(t, 1, md.Version)
	require.Equal(t, b.store.KeyID(), md.KeyID)
	md, outcome, err = b.store.Apply(ctx, Credential{ID: "sf", Kind: "salesforce", Fields: with(salesforceFields(), "is_sandbox", true)})
	require.NoError(t, err)
	require.Equal(t, OutcomeRotated, outcome)
	require.Equal(t, 2, md.Version)
	_, _, err = b.store.Apply(ctx, Credential{ID: "sf", Kind: "hubspot", Fields: map[string]any{"a": "b"}})
	require.ErrorAs(t, err, new(*ValidationError))

	// Under a new key, the same document re-seals the credential so that
	// it is readable again.
	newKey := NewStore(b.reg, testKey(t, 100))
	md, outcome, err = newKey.Apply(ctx, Credential{ID: "sf", Kind: "salesforce", Fields: with(salesforceFields(), "is_sandbox", true)})
	require.NoError(t, err)
	require.Equal(t, OutcomeRotated, outcome)
	require.Equal(t, 3, md.Version)
	require.Equal(t, newKey.KeyID(), md.KeyID)
	_, err = newKey.Get(ctx, "sf")
	require.NoError(t, err)
}
