// Package config holds the configuration blocks AAM's services share, parsed
// from the environment with caarlos0/env. A service embeds the blocks it
// needs in its own Config and calls Parse:
//
//	type Config struct {
//		config.Log
//		config.HTTP
//		config.Postgres
//		config.NATS
//	}
//	cfg, err := config.Parse[Config]()
//
// Parse reports a missing or invalid variable by name, gives the result the
// defaults of its SetDefaults methods and runs its Validate methods
// (see Prepare).
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
	"go.uber.org/zap/zapcore"
)

// Validator is implemented by configs with rules across fields.
type Validator interface{ Validate() error }

// Parse parses T from the process environment.
func Parse[T any]() (T, error) { return ParseFrom[T](nil) }

// ParseFrom parses T from environ (the process environment when nil).
func ParseFrom[T any](environ map[string]string) (T, error) {
	var sets []setVar
	opts := env.Options{OnSet: func(key string, value any, _ bool) {
		s, _ := value.(string)
		sets = append(sets, setVar{key: key, value: s})
	}}
	if environ != nil {
		opts.Environment = environ
	}
	cfg, err := env.ParseAsWithOptions[T](opts)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("configuration: %w", explain[T](err, sets))
	}
	if err := Prepare(&cfg); err != nil {
		var zero T
		return zero, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// Defaulter is implemented (with a pointer receiver) by configs whose zero
// fields take defaults set in code. A default then lives in one place, the
// SetDefaults method, for a config parsed from the environment and for one
// built in code alike; its env tag carries no envDefault.
type Defaulter interface{ SetDefaults() }

// Prepare finishes a config, cfg being a pointer to it, the way Parse does
// after reading the environment: SetDefaults on every struct field (embedded
// or named) that has one, depth first, and on cfg; then Validate likewise.
// Components that take a config built in code call it so that their
// defaults and checks are the same as a parsed config's.
func Prepare(cfg any) error {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Prepare needs a pointer to a struct, not %T", cfg)
	}
	setDefaults(v.Elem())
	return validateValue(v.Elem())
}

func setDefaults(v reflect.Value) {
	for i := range v.NumField() {
		if f := v.Field(i); v.Type().Field(i).IsExported() && f.Kind() == reflect.Struct {
			setDefaults(f)
		}
	}
	if d, ok := v.Addr().Interface().(Defaulter); ok {
		d.SetDefaults()
	}
}

func validateValue(v reflect.Value) error {
	var errs []error
	if v.Kind() == reflect.Struct {
		for i := range v.NumField() {
			f := v.Field(i)
			if !v.Type().Field(i).IsExported() || f.Kind() != reflect.Struct {
				continue
			}
			errs = append(errs, validateValue(f))
		}
	}
	if v.CanInterface() {
		if val, ok := v.Interface().(Validator); ok {
			errs = append(errs, val.Validate())
		}
	}
	return errors.Join(errs...)
}

// Secret is a string that never prints itself: not in fmt, not in JSON, not
// in zap fields.
type Secret string

// Value returns the secret.
func (s Secret) Value() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON writes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalLogObject-free zap support: zap uses String through Stringer.
var _ fmt.Stringer = Secret("")

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error (LOG_LEVEL, default info).
	Level string `env:"LOG_LEVEL" envDefault:"info"`
	// Format is json or console (LOG_FORMAT, default json).
	Format string `env:"LOG_FORMAT" envDefault:"json"`
}

// Validate checks the level and format.
func (l Log) Validate() error {
	var errs []error
	if _, err := zapcore.ParseLevel(l.Level); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", l.Level))
	}
	if l.Format != "json" && l.Format != "console" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT: %q is not json or console", l.Format))
	}
	return errors.Join(errs...)
}

// HTTP is the address of a role's /healthz, /readyz and /metrics.
type HTTP struct {
	// Addr is host:port (HTTP_ADDR, default 127.0.0.1:9090; "" disables).
	Addr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9090"`
}

// Validate checks the address.
func (h HTTP) Validate() error {
	if h.Addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(h.Addr); err != nil {
		return fmt.Errorf("HTTP_ADDR: %q is not host:port", h.Addr)
	}
	return nil
}

// Postgres is the registry database.
type Postgres struct {
	// URL is a PostgreSQL connection URL (DATABASE_URL, required).
	URL Secret `env:"DATABASE_URL,required,notEmpty"`
	// MaxConns caps the pool (DATABASE_MAX_CONNS, default 16).
	MaxConns int32 `env:"DATABASE_MAX_CONNS" envDefault:"16"`
}

// Validate checks the URL's shape without printing it.
func (p Postgres) Validate() error {
	u, err := url.Parse(p.URL.Value())
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return errors.New("DATABASE_URL: must be a postgres:// URL with a host")
	}
	if p.MaxConns < 2 {
		return fmt.Errorf("DATABASE_MAX_CONNS: %d is below 2", p.MaxConns)
	}
	return nil
}

// NATS is the message bus.
type NATS struct {
	// URL lists servers, comma-separated (NATS_URL, default nats://127.0.0.1:4222).
	URL string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	// User and Password authenticate the role's NATS user (NATS_USER, NATS_PASSWORD).
	User     string `env:"NATS_USER"`
	Password Secret `env:"NATS_PASSWORD"`
	// CredsFile is a NATS credentials file (NATS_CREDS).
	CredsFile string `env:"NATS_CREDS"`
	// StreamReplicas of AAM's streams (NATS_STREAM_REPLICAS, default 1; 3 in a cluster).
	StreamReplicas int `env:"NATS_STREAM_REPLICAS" envDefault:"1"`
	// InboxPrefix replaces _INBOX for this connection's reply subjects
	// (NATS_INBOX_PREFIX, e.g. _INBOX_gateway). With per-role users each
	// role may only read its own inboxes, so no role can read replies meant
	// for another (the credential broker's answers in particular).
	InboxPrefix string `env:"NATS_INBOX_PREFIX"`
}

// Validate checks the URL list and replicas.
func (n NATS) Validate() error {
	var errs []error
	for _, raw := range strings.Split(n.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") {
			errs = append(errs, fmt.Errorf("NATS_URL: %q is not a nats:// URL", strings.TrimSpace(raw)))
		}
	}
	if n.StreamReplicas < 1 || n.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("NATS_STREAM_REPLICAS: %d is not between 1 and 5", n.StreamReplicas))
	}
	if p := n.InboxPrefix; p != "" && (strings.ContainsAny(p, " *>") || strings.HasSuffix(p, ".")) {
		errs = append(errs, fmt.Errorf("NATS_INBOX_PREFIX: %q is not a subject prefix", p))
	}
	if n.CredsFile != "" {
		if _, err := os.Stat(n.CredsFile); err != nil {
			errs = append(errs, fmt.Errorf("NATS_CREDS: %v", err))
		}
	}
	return errors.Join(errs...)
}

// explain rewrites the env library's parse errors, which name the Go field
// and quote the value, to name the variable and leave the value out (it may
// be a secret). The library tells which variable it reads through
// Options.OnSet (recorded in sets, in parse order); a parse error names only
// the Go field, so the variable is the first one set for a field of that
// name whose value does not parse: two blocks may both have a Timeout.
func explain[T any](err error, sets []setVar) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var zero T
	fields := map[string]reflect.StructField{}
	collectFields(reflect.TypeOf(zero), "", fields)
	claimed := make([]bool, len(sets))
	keyOf := func(pe env.ParseError) string {
		for i, s := range sets {
			f, ok := fields[s.key]
			if claimed[i] || !ok || f.Name != pe.Name || parses(f, s.value) {
				continue
			}
			claimed[i] = true
			return s.key
		}
		return pe.Name
	}
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			out = append(out, fmt.Errorf("%s: not a valid %s", keyOf(pe), describeType(pe.Type)))
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// setVar is a variable the env library read, and its value.
type setVar struct{ key, value string }

// collectFields maps each variable of t to its struct field, as the env
// library walks t: envPrefix tags prefix the variables of nested structs.
func collectFields(t reflect.Type, prefix string, fields map[string]reflect.StructField) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, ok := f.Tag.Lookup("env"); ok && tag != "-" {
			if key, _, _ := strings.Cut(tag, ","); key != "" {
				fields[prefix+key] = f
				continue
			}
		}
		if f.Type.Kind() == reflect.Struct || (f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct) {
			collectFields(f.Type, prefix+f.Tag.Get("envPrefix"), fields)
		}
	}
}

// parses reports whether the env library parses value into a field like f.
func parses(f reflect.StructField, value string) bool {
	tag := `env:"V"`
	for _, k := range []string{"envSeparator", "envKeyValSeparator"} {
		if v, ok := f.Tag.Lookup(k); ok {
			tag += fmt.Sprintf(" %s:%q", k, v)
		}
	}
	t := reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.Type, Tag: reflect.StructTag(tag)}})
	return env.ParseWithOptions(reflect.New(t).Interface(), env.Options{Environment: map[string]string{"V": value}}) == nil
}

func describeType(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.String() {
	case "time.Duration":
		return "duration (e.g. 30s, 5m)"
	case "bool":
		return "boolean (true or false)"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return t.String()
}
