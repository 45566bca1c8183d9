package airbyte

import (
	"fmt"

	"go.uber.org/zap/zapcore"
)

const redacted = "[REDACTED]"

// Secret holds a credential such as an application's client secret. Every
// way of printing it (String, GoString, any fmt verb, JSON, text, zap) shows
// "[REDACTED]"; only Reveal returns the value.
type Secret struct {
	value string
}

// NewSecret wraps a secret value.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the secret value. Call it only where the value is sent.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "[REDACTED]" (or "" for an empty secret).
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return "airbyte.Secret(" + redacted + ")" }

// Format implements fmt.Formatter so that no verb prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// MarshalJSON implements json.Marshaler; it never writes the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText implements encoding.TextMarshaler; it never writes the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so that a Secret can be
// read from the environment (caarlos0/env) or a text config.
func (s *Secret) UnmarshalText(b []byte) error {
	s.value = string(b)
	return nil
}

// MarshalLogObject implements zapcore.ObjectMarshaler; it logs only whether
// the secret is set.
func (s Secret) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddBool("set", s.value != "")
	return nil
}
