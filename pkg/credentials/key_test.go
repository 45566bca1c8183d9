package credentials

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// rawKey is a fixed test key: bytes 1..32.
func rawKey(seed byte) []byte {
	b := make([]byte, KeySize)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func testKey(t testing.TB, seed byte) Key {
	t.Helper()
	k, err := NewKey(rawKey(seed))
	require.NoError(t, err)
	return k
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	raw := rawKey(1)
	sum := sha256.Sum256(raw)
	wantID := hex.EncodeToString(sum[:8])
	for _, tc := range []struct{ name, in string }{
		{"base64 std padded", base64.StdEncoding.EncodeToString(raw)},
		{"base64 std unpadded", base64.RawStdEncoding.EncodeToString(raw)},
		{"base64 url padded", base64.URLEncoding.EncodeToString(rawKey(250))},
		{"base64 url unpadded", base64.RawURLEncoding.EncodeToString(rawKey(250))},
		{"hex lower", hex.EncodeToString(raw)},
		{"hex upper", strings.ToUpper(hex.EncodeToString(raw))},
		{"surrounding space", "  " + base64.StdEncoding.EncodeToString(raw) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseKey(tc.in)
			require.NoError(t, err)
			require.Len(t, k.ID(), 16)
			if !strings.Contains(tc.name, "url") {
				require.Equal(t, wantID, k.ID())
			}
		})
	}
	// A URL-alphabet key (bytes 250.. include '-' and '_' in base64) and
	// its standard form are the same key.
	a, err := ParseKey(base64.RawURLEncoding.EncodeToString(rawKey(250)))
	require.NoError(t, err)
	b, err := ParseKey(base64.StdEncoding.EncodeToString(rawKey(250)))
	require.NoError(t, err)
	require.Equal(t, a.ID(), b.ID())
	require.NotEqual(t, wantID, a.ID())
}

func TestParseKeyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"blank", "   "},
		{"passphrase", "correct horse battery staple"},
		{"31 bytes base64", base64.StdEncoding.EncodeToString(rawKey(1)[:31])},
		{"33 bytes base64", base64.StdEncoding.EncodeToString(append(rawKey(1), 7))},
		{"63 hex", hex.EncodeToString(rawKey(1))[:63]},
		{"65 hex", hex.EncodeToString(rawKey(1)) + "a"},
		{"hex with a non-hex character", "zz" + hex.EncodeToString(rawKey(1))[2:]},
		{"all zero", base64.StdEncoding.EncodeToString(make([]byte, 32))},
		{"16 bytes (AES-128)", base64.StdEncoding.EncodeToString(rawKey(1)[:16])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseKey(tc.in)
			require.Error(t, err)
			require.True(t, k.IsZero())
			msg := err.Error()
			require.Contains(t, msg, "AAM_SECRET_KEY")
			require.Contains(t, msg, "base64")
			require.Contains(t, msg, "hex")
			if strings.TrimSpace(tc.in) != "" {
				require.NotContains(t, msg, strings.TrimSpace(tc.in), "the error must not echo the value")
				require.NotContains(t, msg, strings.TrimSpace(tc.in)[:8], "the error must not echo part of the value")
			}
		})
	}
}

func TestKeyNeverPrintsMaterial(t *testing.T) {
	t.Parallel()
	raw := rawKey(1)
	k := testKey(t, 1)
	forms := []string{hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw)[:20], base64.RawURLEncoding.EncodeToString(raw)[:20], string(raw[:8])}
	js, err := json.Marshal(map[string]any{"k": k})
	require.NoError(t, err)
	core, logs := observer.New(zapcore.DebugLevel)
	zap.New(core).Info("key", zap.Any("key", k), zap.Stringer("s", k), zap.Reflect("r", k))
	var logged bytes.Buffer
	for _, e := range logs.All() {
		fmt.Fprintf(&logged, "%v", e.ContextMap())
	}
	outputs := []string{
		fmt.Sprintf("%v %+v %#v %s %x %X %q %d", k, k, k, k, k, k, k, k),
		fmt.Sprint(&k), string(js), logged.String(),
	}
	for _, out := range outputs {
		require.Contains(t, out, k.ID())
		for _, f := range forms {
			require.NotContains(t, strings.ToLower(out), strings.ToLower(f))
		}
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k := testKey(t, 1)
	b := Binding{ID: "salesforce-prod", Kind: "salesforce", Version: 3}
	plain := []byte(`{"client_secret":"s3cr3t-value"}`)

	s1, err := k.Seal(b, plain)
	require.NoError(t, err)
	require.Equal(t, k.ID(), s1.KeyID)
	require.Len(t, s1.Nonce, NonceSize)
	require.NotContains(t, string(s1.Ciphertext), "s3cr3t")
	got, err := k.Open(b, s1)
	require.NoError(t, err)
	require.Equal(t, plain, got)

	// A fresh nonce per seal: the same plaintext seals differently.
	s2, err := k.Seal(b, plain)
	require.NoError(t, err)
	require.NotEqual(t, s1.Nonce, s2.Nonce)
	require.NotEqual(t, s1.Ciphertext, s2.Ciphertext)

	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	for _, tc := range []struct {
		name    string
		binding Binding
		sealed  Sealed
	}{
		{"ciphertext byte", b, Sealed{KeyID: s1.KeyID, Nonce: s1.Nonce, Ciphertext: flip(s1.Ciphertext, 0)}},
		{"tag byte", b, Sealed{KeyID: s1.KeyID, Nonce: s1.Nonce, Ciphertext: flip(s1.Ciphertext, len(s1.Ciphertext)-1)}},
		{"truncated", b, Sealed{KeyID: s1.KeyID, Nonce: s1.Nonce, Ciphertext: s1.Ciphertext[:len(s1.Ciphertext)-1]}},
		{"nonce byte", b, Sealed{KeyID: s1.KeyID, Nonce: flip(s1.Nonce, 5), Ciphertext: s1.Ciphertext}},
		{"short nonce", b, Sealed{KeyID: s1.KeyID, Nonce: s1.Nonce[:11], Ciphertext: s1.Ciphertext}},
		{"other nonce", b, Sealed{KeyID: s1.KeyID, Nonce: s2.Nonce, Ciphertext: s1.Ciphertext}},
		{"moved to another id", Binding{ID: "salesforce-dev", Kind: b.Kind, Version: b.Version}, s1},
		{"other kind", Binding{ID: b.ID, Kind: "hubspot", Version: b.Version}, s1},
		{"other version (replay)", Binding{ID: b.ID, Kind: b.Kind, Version: 4}, s1},
		{"id/kind boundary", Binding{ID: "salesforce-prodsales", Kind: "force", Version: 3}, s1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := k.Open(tc.binding, tc.sealed)
			require.ErrorIs(t, err, ErrTampered)
			require.Nil(t, got)
			require.NotContains(t, err.Error(), "s3cr3t")
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		t.Parallel()
		other := testKey(t, 100)
		_, err := other.Open(b, s1)
		require.ErrorIs(t, err, ErrWrongKey)
		var km *KeyMismatchError
		require.ErrorAs(t, err, &km)
		require.Equal(t, KeyMismatchError{CredentialID: b.ID, SealedKeyID: k.ID(), KeyID: other.ID()}, *km)
		require.Contains(t, err.Error(), k.ID())
		require.Contains(t, err.Error(), other.ID())
		require.Contains(t, err.Error(), "salesforce-prod")
	})
	t.Run("wrong key with forged key id", func(t *testing.T) {
		t.Parallel()
		other := testKey(t, 100)
		forged := s1
		forged.KeyID = other.ID()
		_, err := other.Open(b, forged)
		require.ErrorIs(t, err, ErrTampered)
	})
	t.Run("zero key", func(t *testing.T) {
		t.Parallel()
		_, err := Key{}.Seal(b, plain)
		require.Error(t, err)
		_, err = Key{}.Open(b, s1)
		require.Error(t, err)
		require.False(t, errors.Is(err, ErrTampered))
	})
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	a, err := GenerateKey()
	require.NoError(t, err)
	b, err := GenerateKey()
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	ka, err := ParseKey(a)
	require.NoError(t, err)
	kb, err := ParseKey(b)
	require.NoError(t, err)
	require.NotEqual(t, ka.ID(), kb.ID())
}

func TestServiceVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"v1.2.3":          "1.2.3",
		"1.2.3-rc.1":      "1.2.3-rc.1",
		"v1.2.3-4-gabcde": "1.2.3-4-gabcde",
		"dev":             "0.0.0-dev",
		"8918cc5":         "0.0.0-8918cc5",
		"8918cc5-dirty":   "0.0.0-8918cc5-dirty",
		"":                "0.0.0-dev",
		"0123":            "0.0.0-dev",
		"feature/x y":     "0.0.0-feature-x-y",
	} {
		require.Equal(t, want, serviceVersion(in), in)
	}
}
