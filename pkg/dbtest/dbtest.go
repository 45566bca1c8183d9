// Package dbtest gives tests a real PostgreSQL: a migrated schema of their
// own per test, so tests may commit, run in parallel and clean up by dropping
// the schema.
//
// The server comes from TEST_DATABASE_URL, or the local development default
// postgres://aam:aam@127.0.0.1:5432/aam_test that `make test` prepares
// (deploy/local/postgres.sh). A server that cannot be reached fails the test:
// database tests never pass by skipping.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/aam-mesh/aam/migrations"
)

// DefaultURL is used when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://aam:aam@127.0.0.1:5432/aam_test?sslmode=disable"

// BaseURL returns the test server URL.
func BaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	adminOnce sync.Once
	adminPool *pgxpool.Pool
	adminErr  error
)

func admin() (*pgxpool.Pool, error) {
	adminOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(BaseURL())
		if err != nil {
			adminErr = err
			return
		}
		cfg.MaxConns = 4
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adminPool, adminErr = pgxpool.NewWithConfig(ctx, cfg)
		if adminErr == nil {
			adminErr = adminPool.Ping(ctx)
		}
	})
	return adminPool, adminErr
}

// Options tune NewSchema.
type Options struct {
	// MaxConns caps the returned pool (default 8).
	MaxConns int32
	// NoMigrate leaves the schema empty.
	NoMigrate bool
}

// Schema is a per-test schema on the test server.
type Schema struct {
	// Name is the schema's name.
	Name string
	// URL connects to the test server with search_path set to the schema.
	URL string
	// Pool is a pool on URL, closed when the test ends.
	Pool *pgxpool.Pool
}

// NewSchema creates a fresh schema, applies the migrations in it and returns
// a pool whose connections use it. The schema is dropped when the test ends.
func NewSchema(tb testing.TB, opts ...Options) *Schema {
	tb.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.MaxConns == 0 {
		o.MaxConns = 8
	}
	ap, err := admin()
	if err != nil {
		tb.Fatalf("dbtest: PostgreSQL at %s is not reachable (%v); run deploy/local/postgres.sh or set TEST_DATABASE_URL", redact(BaseURL()), err)
	}
	ctx := context.Background()
	name := "t_" + randomHex(8)
	if _, err := ap.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("dbtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := ap.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Logf("dbtest: drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(BaseURL())
	if err != nil {
		tb.Fatalf("dbtest: parse url: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	s := &Schema{Name: name, URL: u.String()}

	cfg, err := pgxpool.ParseConfig(s.URL)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	cfg.MaxConns = o.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("dbtest: connect: %v", err)
	}
	tb.Cleanup(pool.Close)
	s.Pool = pool
	if !o.NoMigrate {
		db := stdlib.OpenDBFromPool(pool)
		defer db.Close()
		if _, err := migrations.Up(ctx, db, name); err != nil {
			tb.Fatalf("dbtest: %v", err)
		}
	}
	return s
}

// Tx begins a transaction on pool that is rolled back when the test ends.
func Tx(tb testing.TB, pool *pgxpool.Pool) pgx.Tx {
	tb.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		tb.Fatalf("dbtest: begin: %v", err)
	}
	tb.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(context.Background())) })
	return tx
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("dbtest: random: %v", err))
	}
	return hex.EncodeToString(b)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}
