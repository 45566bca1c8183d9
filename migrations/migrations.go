// Package migrations holds AAM's PostgreSQL schema as embedded SQL
// migrations (NNNNN_name.sql with goose Up and Down sections) and applies
// them with goose.
//
// Migrations run in the connection's current schema (search_path), which
// lets tests give each test its own schema.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS

// Provider returns a goose provider over FS for db. Concurrent callers on
// one schema are serialised by a PostgreSQL advisory lock derived from
// lockKey (use the schema name; "" for the default schema).
func Provider(db *sql.DB, lockKey string) (*goose.Provider, error) {
	h := fnv.New64a()
	_, _ = h.Write([]byte("aam-migrations:" + lockKey))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64() >> 1)))
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migration provider: %w", err)
	}
	return p, nil
}

// Up applies every pending migration and returns the resulting version.
func Up(ctx context.Context, db *sql.DB, lockKey string) (int64, error) {
	p, err := Provider(db, lockKey)
	if err != nil {
		return 0, err
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("apply migrations: %w", err)
	}
	return p.GetDBVersion(ctx)
}

// Down rolls every migration back.
func Down(ctx context.Context, db *sql.DB, lockKey string) error {
	p, err := Provider(db, lockKey)
	if err != nil {
		return err
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		return fmt.Errorf("roll back migrations: %w", err)
	}
	return nil
}
