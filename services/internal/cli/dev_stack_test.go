package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/dbtest"
)

func TestDevStackLock(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	first, err := openDevStack(dir)
	require.NoError(t, err)
	require.Regexp(t, `^aam_dev_[0-9a-f]{16}$`, first.Schema())

	// A second stack on the same folder refuses at once, naming the holder.
	_, err = openDevStack(dir)
	require.ErrorContains(t, err, "is in use by another aam dev (pid ")
	require.ErrorContains(t, err, "--data-dir")

	// Released, the folder opens again with the same stack id.
	first.Close()
	again, err := openDevStack(dir)
	require.NoError(t, err)
	defer again.Close()
	require.Equal(t, first.Schema(), again.Schema())

	// Another folder is another stack.
	other, err := openDevStack(filepath.Join(t.TempDir(), "other"))
	require.NoError(t, err)
	defer other.Close()
	require.NotEqual(t, first.Schema(), other.Schema())
}

func TestDevStackReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := dbtest.BaseURL()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := openDevStack(dir)
	require.NoError(t, err)
	schema := s.Schema()
	t.Cleanup(func() { _ = dropSchema(context.Background(), base, schema) })
	require.NoError(t, ensureSchema(ctx, base, schema))
	url, err := withSearchPath(base, schema)
	require.NoError(t, err)
	require.NoError(t, withConn(ctx, url, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `CREATE TABLE connections (id int)`)
		return err
	}))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "jetstream", "x"), 0o700))

	// Not while it runs.
	require.ErrorContains(t, resetDevStack(ctx, dir, true, base), "is in use")
	s.Close()

	require.NoError(t, resetDevStack(ctx, dir, true, base))
	require.False(t, schemaExists(t, base, schema), "schema dropped")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.Equal(t, "lock", e.Name(), "left in the data folder")
	}
	// A missing folder is already empty.
	require.NoError(t, resetDevStack(ctx, filepath.Join(t.TempDir(), "none"), true, base))
}

func schemaExists(t *testing.T, base, schema string) bool {
	t.Helper()
	var n int
	require.NoError(t, withConn(context.Background(), base, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n)
	}))
	return n == 1
}
