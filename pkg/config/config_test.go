package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/config"
)

type serviceConfig struct {
	config.Log
	config.HTTP
	config.Postgres
	config.NATS
}

func TestParseNamesMissingVariable(t *testing.T) {
	t.Parallel()
	_, err := config.ParseFrom[serviceConfig](map[string]string{})
	require.ErrorContains(t, err, "DATABASE_URL")
}

func TestParseValidatesEveryBlock(t *testing.T) {
	t.Parallel()
	_, err := config.ParseFrom[serviceConfig](map[string]string{
		"DATABASE_URL": "mysql://x", "LOG_LEVEL": "loud", "NATS_URL": "http://x", "HTTP_ADDR": "nope",
	})
	require.Error(t, err)
	for _, name := range []string{"DATABASE_URL", "LOG_LEVEL", "NATS_URL", "HTTP_ADDR"} {
		require.ErrorContains(t, err, name)
	}
	require.NotContains(t, err.Error(), "mysql://x", "the database URL may hold a password")
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.ParseFrom[serviceConfig](map[string]string{"DATABASE_URL": "postgres://u:pw@db:5432/aam"})
	require.NoError(t, err)
	require.Equal(t, "nats://127.0.0.1:4222", cfg.NATS.URL)
	require.Equal(t, "127.0.0.1:9090", cfg.HTTP.Addr)
	require.Equal(t, "info", cfg.Level)
	require.EqualValues(t, 16, cfg.MaxConns)
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := config.Secret("hunter2")
	b, err := json.Marshal(struct{ S config.Secret }{s})
	require.NoError(t, err)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(b)} {
		require.NotContains(t, out, "hunter2")
	}
	require.Equal(t, "hunter2", s.Value())
}

func TestParseErrorsNameTheVariableNotTheValue(t *testing.T) {
	t.Parallel()
	type withDuration struct {
		config.Postgres
		Timeout int `env:"SOME_TIMEOUT_SECONDS"`
	}
	_, err := config.ParseFrom[withDuration](map[string]string{
		"DATABASE_URL": "postgres://u:pw@db/aam", "DATABASE_MAX_CONNS": "lots-s3cret", "SOME_TIMEOUT_SECONDS": "soon",
	})
	require.ErrorContains(t, err, "DATABASE_MAX_CONNS: not a valid whole number")
	require.ErrorContains(t, err, "SOME_TIMEOUT_SECONDS: not a valid whole number")
	require.NotContains(t, err.Error(), "lots-s3cret")
}

// Two blocks with a field of the same name, as airbyte.Config's Timeout and
// a worker's own Timeout.
type ClientBlock struct {
	Timeout time.Duration `env:"CLIENT_TIMEOUT"`
}

type WorkerBlock struct {
	Timeout time.Duration `env:"TIMEOUT"`
	Workers int           `env:"WORKERS"`
}

type collidingConfig struct {
	Client      ClientBlock
	WorkerBlock `envPrefix:"WORKER_"`
	Role        WorkerBlock `envPrefix:"ROLE_"`
}

func TestParseErrorsNameTheVariableOfCollidingFields(t *testing.T) {
	t.Parallel()
	all := []string{"CLIENT_TIMEOUT", "WORKER_TIMEOUT", "ROLE_TIMEOUT"}
	for _, bad := range [][]string{{"CLIENT_TIMEOUT"}, {"WORKER_TIMEOUT"}, {"ROLE_TIMEOUT"}, {"WORKER_TIMEOUT", "ROLE_TIMEOUT"}, all} {
		t.Run(strings.Join(bad, "+"), func(t *testing.T) {
			t.Parallel()
			environ := map[string]string{"CLIENT_TIMEOUT": "1s", "WORKER_TIMEOUT": "2s", "ROLE_TIMEOUT": "3s"}
			for _, k := range bad {
				environ[k] = "abc"
			}
			_, err := config.ParseFrom[collidingConfig](environ)
			require.Error(t, err)
			for _, k := range all {
				if slices.Contains(bad, k) {
					require.ErrorContains(t, err, k+": not a valid duration")
				} else {
					require.NotContains(t, err.Error(), k)
				}
			}
			require.NotContains(t, err.Error(), "abc")
		})
	}
}

// defaulted gives its zero fields defaults in code, and embeds a block that
// does too.
type defaulted struct {
	Inner
	Workers int `env:"WORKERS"`
}

type Inner struct {
	Timeout time.Duration `env:"TIMEOUT"`
}

func (c *Inner) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
}

func (c *defaulted) SetDefaults() {
	if c.Workers == 0 {
		c.Workers = 4
	}
}

func (c defaulted) Validate() error {
	if c.Workers < 0 {
		return errors.New("WORKERS: negative")
	}
	return nil
}

func TestParseAndPrepareSetDefaultsThenValidate(t *testing.T) {
	t.Parallel()
	cfg, err := config.ParseFrom[defaulted](map[string]string{})
	require.NoError(t, err)
	require.Equal(t, defaulted{Inner: Inner{Timeout: 5 * time.Second}, Workers: 4}, cfg)

	cfg, err = config.ParseFrom[defaulted](map[string]string{"WORKERS": "2", "TIMEOUT": "1m"})
	require.NoError(t, err)
	require.Equal(t, defaulted{Inner: Inner{Timeout: time.Minute}, Workers: 2}, cfg)

	_, err = config.ParseFrom[defaulted](map[string]string{"WORKERS": "-1"})
	require.ErrorContains(t, err, "WORKERS: negative")

	built := defaulted{Workers: 3}
	require.NoError(t, config.Prepare(&built))
	require.Equal(t, defaulted{Inner: Inner{Timeout: 5 * time.Second}, Workers: 3}, built, "a config built in code gets the same defaults")
	require.ErrorContains(t, config.Prepare(&defaulted{Workers: -1}), "WORKERS: negative")
	require.ErrorContains(t, config.Prepare(built), "pointer")
}

type rules struct {
	Workers  int           `env:"WORKERS"`
	Timeout  time.Duration `env:"TIMEOUT"`
	Ratio    float64       `env:"RATIO"`
	Name     string        `env:"NAME"`
	Internal int           `env:"-"`
	Nested   Inner
}

func TestFillZero(t *testing.T) {
	t.Parallel()
	got := rules{Workers: 3, Nested: Inner{}}
	config.FillZero(&got, rules{Workers: 8, Timeout: time.Second, Name: "x", Nested: Inner{Timeout: time.Minute}})
	require.Equal(t, rules{Workers: 3, Timeout: time.Second, Name: "x", Nested: Inner{Timeout: time.Minute}}, got,
		"set fields are kept, zero ones (nested too) take the default")
}

func TestNonNegative(t *testing.T) {
	t.Parallel()
	require.NoError(t, config.NonNegative(rules{Workers: 0, Timeout: time.Second}))
	err := config.NonNegative(&rules{Workers: -1, Timeout: -time.Second, Ratio: -0.5, Internal: -1, Nested: Inner{Timeout: -time.Second}})
	require.EqualError(t, err, "WORKERS: -1 is negative\nTIMEOUT: -1s is negative\nRATIO: -0.5 is negative",
		"every number and duration with a variable, nested blocks aside")
}
