package config_test

import (
	"encoding/json"
	"fmt"
	"testing"

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
