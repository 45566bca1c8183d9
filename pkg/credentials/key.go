package credentials

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// KeySize is the size of the secret key in bytes (AES-256).
const KeySize = 32

// NonceSize is the size of the random nonce of each seal (AES-GCM standard).
const NonceSize = 12

// keyFormat is the format ParseKey accepts, as printed in its errors.
const keyFormat = "32 random bytes as base64 (44 characters, or 43 without padding; standard or URL alphabet) or as 64 hex characters, e.g. the output of `openssl rand -base64 32`"

// Key is the AES-256 key credentials are sealed with, from AAM_SECRET_KEY.
// The key material cannot be read back: Key prints, formats, marshals and
// logs as its ID only. The zero Key seals nothing.
type Key struct{ m *keyMaterial }

type keyMaterial struct {
	id   string
	aead cipher.AEAD
}

// ParseKey parses AAM_SECRET_KEY: 32 bytes given as base64 (standard or URL
// alphabet, padded or not) or as 64 hexadecimal characters. Surrounding
// white space is ignored. The error names AAM_SECRET_KEY and the expected
// format, never the value.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Key{}, fmt.Errorf("AAM_SECRET_KEY: empty; want %s", keyFormat)
	}
	raw, ok := decodeKey(s)
	if !ok {
		return Key{}, fmt.Errorf("AAM_SECRET_KEY: not %s (got %d characters)", keyFormat, len(s))
	}
	defer clear(raw)
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("AAM_SECRET_KEY: decodes to %d bytes; want %s", len(raw), keyFormat)
	}
	return NewKey(raw)
}

// decodeKey decodes hex (exactly 64 characters) or any base64 variant.
func decodeKey(s string) ([]byte, bool) {
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// NewKey returns the Key for 32 raw bytes. A key whose bytes are all equal
// (all zero, for instance) is refused as a placeholder. raw is not retained.
func NewKey(raw []byte) (Key, error) {
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("AAM_SECRET_KEY: %d bytes; want %s", len(raw), keyFormat)
	}
	if allEqual(raw) {
		return Key{}, fmt.Errorf("AAM_SECRET_KEY: all bytes are equal, which is a placeholder, not a key; want %s", keyFormat)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, fmt.Errorf("AAM_SECRET_KEY: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("AAM_SECRET_KEY: %w", err)
	}
	sum := sha256.Sum256(raw)
	return Key{m: &keyMaterial{id: hex.EncodeToString(sum[:8]), aead: aead}}, nil
}

func allEqual(b []byte) bool {
	for _, c := range b[1:] {
		if c != b[0] {
			return false
		}
	}
	return true
}

// GenerateKey returns a new random key in the form AAM_SECRET_KEY takes
// (standard base64, padded).
func GenerateKey() (string, error) {
	raw := make([]byte, KeySize)
	defer clear(raw)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("credentials: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// ID is the key's fingerprint: the first 8 bytes of the SHA-256 of the key,
// in hex (16 characters). It is stored beside each ciphertext as key_id and
// may be logged. The zero Key's ID is "".
func (k Key) ID() string {
	if k.m == nil {
		return ""
	}
	return k.m.id
}

// IsZero reports whether k is the zero Key.
func (k Key) IsZero() bool { return k.m == nil }

// String returns "key:<id>"; the key material is never printed.
func (k Key) String() string {
	if k.m == nil {
		return "key:none"
	}
	return "key:" + k.m.id
}

// GoString is String, so that %#v prints no key material either.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb (%x and %d included).
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// MarshalJSON writes the key's ID only.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// MarshalText writes the key's ID only.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Binding is what a ciphertext is bound to (the GCM additional data): the
// credential's id, kind and version. A ciphertext copied to another
// credential, or to another version of the same one, does not open.
type Binding struct {
	ID      string
	Kind    string
	Version int
}

// aad encodes the binding with length prefixes, so that no two bindings
// share an encoding.
func (b Binding) aad() []byte {
	const label = "aam.credential.v1"
	buf := make([]byte, 0, len(label)+len(b.ID)+len(b.Kind)+16)
	for _, s := range []string{label, b.ID, b.Kind, strconv.Itoa(b.Version)} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

// Sealed is a sealed secret document as the registry stores it.
type Sealed struct {
	// KeyID is the ID of the key it was sealed with.
	KeyID string
	// Nonce is the random 12-byte GCM nonce.
	Nonce []byte
	// Ciphertext is the AES-256-GCM ciphertext with its 16-byte tag.
	Ciphertext []byte
}

// Seal encrypts plaintext with AES-256-GCM under a fresh random nonce,
// bound to b.
func (k Key) Seal(b Binding, plaintext []byte) (Sealed, error) {
	if k.m == nil {
		return Sealed{}, errNoKey
	}
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("credentials: nonce: %w", err)
	}
	return Sealed{KeyID: k.m.id, Nonce: nonce, Ciphertext: k.m.aead.Seal(nil, nonce, plaintext, b.aad())}, nil
}

// Open decrypts s, which must have been sealed with k and bound to b. A
// document sealed with another key is a *KeyMismatchError (ErrWrongKey); a
// ciphertext, nonce or binding that was altered is ErrTampered.
func (k Key) Open(b Binding, s Sealed) ([]byte, error) {
	if k.m == nil {
		return nil, errNoKey
	}
	if subtle.ConstantTimeCompare([]byte(s.KeyID), []byte(k.m.id)) != 1 {
		return nil, &KeyMismatchError{CredentialID: b.ID, SealedKeyID: s.KeyID, KeyID: k.m.id}
	}
	if len(s.Nonce) != NonceSize {
		return nil, fmt.Errorf("%w: credential %q has a %d-byte nonce", ErrTampered, b.ID, len(s.Nonce))
	}
	plain, err := k.m.aead.Open(nil, s.Nonce, s.Ciphertext, b.aad())
	if err != nil {
		return nil, fmt.Errorf("%w: credential %q (id, kind, version, nonce or ciphertext changed since it was sealed)", ErrTampered, b.ID)
	}
	return plain, nil
}

var errNoKey = errors.New("credentials: no key (AAM_SECRET_KEY not parsed)")
