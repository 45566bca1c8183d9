package credentials

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/aam-mesh/aam/pkg/config"
)

// Secret is a string that never prints itself (fmt, JSON, zap); see
// config.Secret. Secret values placed in Credential.Fields are stored as
// their plain value.
type Secret = config.Secret

// Limits of a credential.
const (
	// MaxDocumentSize caps the JSON secret document (64 KiB).
	MaxDocumentSize = 64 << 10
	// MaxIDLength caps credential ids.
	MaxIDLength = 128
)

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	kindPattern  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	fieldPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)
)

// Credential is a stored secret: a document of fields (for kind
// "salesforce", the source-salesforce configuration) under an id, with a
// version that rotation increments.
//
// A Credential never prints its field values: String, GoString, Format,
// MarshalJSON and zap's MarshalLogObject show the id, kind, version and
// field names only. Fields is read directly by the code that needs the
// values (AirbyteConfiguration, Salesforce).
type Credential struct {
	// ID is the credential id (credential_id in requests): letters,
	// digits, '.', '_' and '-', at most 128 characters, starting with a
	// letter or digit.
	ID string
	// Kind is the kind of credential, lowercase ("salesforce", or any
	// other source type whose document is stored as given).
	Kind string
	// Fields is the secret document: JSON values (string, float64, bool,
	// nil, []any, map[string]any) by field name.
	Fields map[string]any
	// Version starts at 1 and is incremented by each rotation.
	Version int
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FieldNames returns the names of the document's fields, sorted.
func (c Credential) FieldNames() []string { return slices.Sorted(maps.Keys(c.Fields)) }

func (c Credential) String() string {
	return fmt.Sprintf("credential %q (kind %s, version %d, fields %s)", c.ID, c.Kind, c.Version, strings.Join(c.FieldNames(), ","))
}

// GoString is String.
func (c Credential) GoString() string { return c.String() }

// Format prints String for every verb, so that no verb prints a value.
func (c Credential) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// MarshalJSON writes the credential without its values: credential_id,
// kind, version, field_names and timestamps.
func (c Credential) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID         string    `json:"credential_id"`
		Kind       string    `json:"kind"`
		Version    int       `json:"version"`
		FieldNames []string  `json:"field_names"`
		CreatedAt  time.Time `json:"created_at"`
		UpdatedAt  time.Time `json:"updated_at"`
	}{c.ID, c.Kind, c.Version, c.FieldNames(), c.CreatedAt, c.UpdatedAt})
}

// MarshalLogObject logs the id, kind, version and field names.
func (c Credential) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("credential_id", c.ID)
	enc.AddString("kind", c.Kind)
	enc.AddInt("version", c.Version)
	enc.AddString("field_names", strings.Join(c.FieldNames(), ","))
	return nil
}

// Metadata describes a stored credential without its values: what list
// returns, and what put and rotate answer.
type Metadata struct {
	ID      string `json:"credential_id"`
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	// KeyID is the id of the key the credential is sealed with.
	KeyID string `json:"key_id"`
	// FieldNames are the document's field names, sorted; empty when the
	// credential cannot be opened with the key in use.
	FieldNames []string `json:"field_names"`
	// Readable is false when the credential is sealed with another key
	// than the one in use, or was altered: get would fail.
	Readable  bool      `json:"readable"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// normalize checks c's id, kind and document and returns it with a
// lowercase kind and its document in canonical JSON types. Secret values
// are unwrapped to their plain strings.
func normalize(c Credential) (Credential, []byte, error) {
	if err := validateID(c.ID); err != nil {
		return Credential{}, nil, err
	}
	c.Kind = strings.ToLower(strings.TrimSpace(c.Kind))
	if c.Kind == "" {
		return Credential{}, nil, invalid("kind", "is required (for example salesforce)")
	}
	if !kindPattern.MatchString(c.Kind) {
		return Credential{}, nil, invalid("kind", "must be lowercase letters, digits, '_' or '-', starting with a letter, at most 64 characters")
	}
	if len(c.Fields) == 0 {
		return Credential{}, nil, invalid("fields", "is required: a JSON object with the secret's fields")
	}
	for _, name := range c.FieldNames() {
		if !fieldPattern.MatchString(name) {
			return Credential{}, nil, invalid("fields", "field name %q must be letters, digits, '_', '.' or '-', starting with a letter or '_', at most 128 characters", name)
		}
	}
	doc, err := json.Marshal(unwrapSecrets(c.Fields))
	if err != nil {
		return Credential{}, nil, invalid("fields", "values must be JSON values")
	}
	if len(doc) > MaxDocumentSize {
		clear(doc)
		return Credential{}, nil, invalid("fields", "the document is %d bytes, above the limit of %d", len(doc), MaxDocumentSize)
	}
	fields, err := decodeDocument(doc)
	if err != nil {
		clear(doc)
		return Credential{}, nil, invalid("fields", "values must be JSON values")
	}
	c.Fields = fields
	if err := validateKind(c.Kind, c.Fields); err != nil {
		clear(doc)
		return Credential{}, nil, err
	}
	return c, doc, nil
}

func validateID(id string) error {
	switch {
	case id == "":
		return invalid("credential_id", "is required")
	case len(id) > MaxIDLength:
		return invalid("credential_id", "is longer than %d characters", MaxIDLength)
	case !idPattern.MatchString(id):
		return invalid("credential_id", "must be letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// unwrapSecrets returns v with every Secret replaced by its value, so that
// Secret's redacting MarshalJSON does not replace the secret by a mask.
func unwrapSecrets(v any) any {
	switch t := v.(type) {
	case Secret:
		return t.Value()
	case *Secret:
		if t == nil {
			return nil
		}
		return t.Value()
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = unwrapSecrets(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = unwrapSecrets(e)
		}
		return out
	case []StreamCriterion:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = map[string]any{"criteria": e.Criteria, "value": e.Value}
		}
		return out
	default:
		return v
	}
}

// decodeDocument decodes a JSON object. Its error never quotes the input.
func decodeDocument(doc []byte) (map[string]any, error) {
	var fields map[string]any
	if err := json.Unmarshal(doc, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return fields, nil
}

// validateKind applies the rules of known kinds.
func validateKind(kind string, fields map[string]any) error {
	switch kind {
	case KindSalesforce:
		_, err := parseSalesforce(fields)
		return err
	}
	return nil
}

// AirbyteConfiguration returns the Airbyte source configuration object for
// this credential, which the onboarding worker sends as `configuration` of
// POST /sources together with the source definition id. It is a copy of
// Fields (the caller may change it), with the defaults of known kinds:
//
//   - kind "salesforce": the source-salesforce properties client_id,
//     client_secret, refresh_token, is_sandbox, auth_type ("Client" when
//     absent), and, when stored, start_date (dropped when blank, which
//     Airbyte reads as "the last two years"), force_use_bulk_api,
//     stream_slice_step and streams_criteria. It holds no sourceType: the
//     source is chosen by definitionId.
//   - any other kind: the stored fields as they are.
//
// The map holds the plaintext secrets: never log it.
func (c Credential) AirbyteConfiguration() map[string]any {
	out, _ := deepCopy(c.Fields).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	if c.Kind == KindSalesforce {
		if v, ok := out["auth_type"]; !ok || v == nil || v == "" {
			out["auth_type"] = SalesforceAuthType
		}
		if v, ok := out["is_sandbox"]; !ok || v == nil {
			out["is_sandbox"] = false
		}
		if v, ok := out["start_date"]; ok && (v == nil || v == "") {
			delete(out, "start_date")
		}
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return unwrapSecrets(v)
	}
}
