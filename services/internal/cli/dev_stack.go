package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// devLocalDatabase is the local server and database `make run` prepares;
// each data folder gets a schema of its own in it (see devStack).
const devLocalDatabase = "postgres://aam:aam@127.0.0.1:5432/aam?sslmode=disable"

// devStack is aam dev's hold on its data folder: an exclusive lock, so that
// one stack at a time uses the folder (a second one refuses at once instead
// of opening a live JetStream store), and the folder's stack id, which names
// the registry schema of its own that the stack uses unless DATABASE_URL is
// set. Two data folders on one machine so never see each other's rows or
// jobs.
type devStack struct {
	dir  string
	id   string
	lock *os.File
}

var stackIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// openDevStack locks dir (created when missing) and reads its stack id,
// making one on first start.
func openDevStack(dir string) (*devStack, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := ""
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				who = " (pid " + pid + ")"
			}
			return nil, fmt.Errorf("data folder %s is in use by another aam dev%s: stop it first, or give this one its own --data-dir (and ports)", dir, who)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	s := &devStack{dir: dir, lock: f}
	if s.id, err = stackID(dir); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the lock.
func (s *devStack) Close() {
	if s.lock != nil {
		_ = s.lock.Truncate(0)
		_ = s.lock.Close()
		s.lock = nil
	}
}

// Schema is the registry schema of the stack.
func (s *devStack) Schema() string { return "aam_dev_" + s.id }

func stackID(dir string) (string, error) {
	path := filepath.Join(dir, "stack.id")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if !stackIDPattern.MatchString(id) {
			return "", fmt.Errorf("%s holds %q, not a stack id: remove it with the folder (aam dev --reset)", path, id)
		}
		return id, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return id, nil
}

// withSearchPath returns the PostgreSQL URL base with the stack's schema as
// its search path, so that every registry statement (and the migrations'
// version table) lands in it.
func withSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", errors.New("DATABASE_URL is not a valid PostgreSQL URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ensureSchema creates the stack's schema on first start.
func ensureSchema(ctx context.Context, base, schema string) error {
	return withConn(ctx, base, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
		return err
	})
}

// dropSchema removes the stack's schema and everything in it.
func dropSchema(ctx context.Context, base, schema string) error {
	return withConn(ctx, base, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		return err
	})
}

func withConn(ctx context.Context, dsn string, fn func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres: %w (start one with `make run`, or set DATABASE_URL)", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	return fn(ctx, c)
}

// resetDevStack empties a stack: its registry schema (when it has its own)
// and its data folder (JetStream, the emulator's state, the development
// key). The folder must not be in use.
func resetDevStack(ctx context.Context, dir string, ownSchema bool, base string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	s, err := openDevStack(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	if ownSchema {
		if err := dropSchema(ctx, base, s.Schema()); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "lock" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// watchParent cancels stop when the process that started aam dev exits
// (the process is then adopted by another), so that a stack started by
// `make run` stops with make even when a signal reached make alone.
func watchParent(ctx context.Context, stop context.CancelFunc) {
	parent := os.Getppid()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != parent {
				stop()
				return
			}
		}
	}
}
