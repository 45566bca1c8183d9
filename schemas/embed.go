// Package schemas holds the JSON Schema (draft 2020-12) of the data of every
// AAM event type and the AsyncAPI 3 document of the whole catalog, and
// validates event data against them at the edges (the gateway and the worker
// runtime).
//
// Each schema file is named after events.Descriptor.Schema and its $id is
// events.Descriptor.DataSchema(), the URI AAM puts in the dataschema
// attribute.
package schemas

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/aam-mesh/aam/events"
)

// FS holds the JSON Schema files and asyncapi.yaml.
//
//go:embed *.json asyncapi.yaml
var FS embed.FS

// ErrUnknownType reports an event type that has no schema.
var ErrUnknownType = errors.New("no schema for event type")

// ValidationError reports event data that does not match its schema.
type ValidationError struct {
	// EventType is the CloudEvent type whose schema the data failed.
	EventType string
	// Field is the dotted path of the offending data field, for example
	// "connection_id" or "new_sync_catalog.streams[0].sync_mode"; for a
	// missing property it is the property's own path. It is empty when
	// the data as a whole is at fault (not JSON, not an object).
	Field string
	// Reason is a short sentence naming the problem.
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("invalid %s data: %s", e.EventType, e.Reason)
	}
	return fmt.Sprintf("invalid %s data: %s: %s", e.EventType, e.Field, e.Reason)
}

// Validate checks data, the JSON data of an event of type eventType, against
// the type's schema. It returns nil, a *ValidationError naming the first
// offending field, or an error wrapping ErrUnknownType. It is safe for
// concurrent use.
func Validate(eventType string, data []byte) error {
	c, err := compiled()
	if err != nil {
		return err
	}
	sch, ok := c.byType[eventType]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownType, eventType)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &ValidationError{EventType: eventType, Reason: "data is empty, want a JSON object"}
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &ValidationError{EventType: eventType, Reason: "data is not valid JSON: " + err.Error()}
	}
	err = sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validate %s data: %w", eventType, err)
	}
	return c.explain(eventType, v, ve)
}

type compiledSet struct {
	byType map[string]*jsonschema.Schema
	// byLocation indexes every sub-schema, to suggest property names.
	byLocation map[string]*jsonschema.Schema
}

var (
	compileOnce     sync.Once
	compiledSchemas *compiledSet
	compileErr      error
)

func compiled() (*compiledSet, error) {
	compileOnce.Do(func() { compiledSchemas, compileErr = compile() })
	return compiledSchemas, compileErr
}

// compile compiles the schema of every catalog type from FS. References
// resolve only within FS; nothing is fetched.
func compile() (*compiledSet, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	for _, d := range events.Catalog() {
		f, err := FS.Open(d.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", d.Type, err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", d.Schema, err)
		}
		if err := c.AddResource(d.DataSchema(), doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", d.Schema, err)
		}
	}
	set := &compiledSet{byType: map[string]*jsonschema.Schema{}, byLocation: map[string]*jsonschema.Schema{}}
	for _, d := range events.Catalog() {
		sch, err := c.Compile(d.DataSchema())
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", d.Schema, err)
		}
		set.byType[d.Type] = sch
		index(sch, set.byLocation)
	}
	return set, nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not embedded", url)
}

func index(s *jsonschema.Schema, m map[string]*jsonschema.Schema) {
	if s == nil || m[s.Location] != nil {
		return
	}
	m[s.Location] = s
	for _, p := range s.Properties {
		index(p, m)
	}
	if a, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		index(a, m)
	}
	for _, sub := range [...]*jsonschema.Schema{s.Ref, s.If, s.Then, s.Else, s.Items2020, s.Not} {
		index(sub, m)
	}
	for _, list := range [...][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
		for _, sub := range list {
			index(sub, m)
		}
	}
}

var printer = message.NewPrinter(language.English)

// explain turns the library's error tree into one ValidationError: the first
// failing leaf in validation order, with the instance path in dotted form.
func (c *compiledSet) explain(eventType string, data any, ve *jsonschema.ValidationError) *ValidationError {
	leaves := appendLeaves(nil, ve)
	leaf := leaves[0]
	field := dottedPath(data, leaf.InstanceLocation)
	out := &ValidationError{EventType: eventType, Field: field}
	join := func(name string) string {
		if field == "" {
			return name
		}
		return field + "." + name
	}
	switch k := leaf.ErrorKind.(type) {
	case *kind.Required:
		missing := k.Missing[0]
		out.Field = join(missing)
		out.Reason = "missing required property " + strconv.Quote(missing)
		// A misspelt required property shows up twice: missing under its
		// name and unknown under the typo. Say so.
		if typo := misspelling(leaves, leaf.InstanceLocation, missing); typo != "" {
			out.Reason += fmt.Sprintf(" (is %q a misspelling?)", typo)
		}
	case *kind.AdditionalProperties:
		props := append([]string(nil), k.Properties...)
		sort.Strings(props)
		out.Field = join(props[0])
		out.Reason = "unknown property " + strconv.Quote(props[0])
		if s := c.suggest(leaf.SchemaURL, props[0]); s != "" {
			out.Reason += ", did you mean " + strconv.Quote(s) + "?"
		}
	case *kind.Type:
		out.Reason = fmt.Sprintf("must be %s, got %s", article(strings.Join(k.Want, " or ")), k.Got)
	case *kind.MinLength:
		out.Reason = atLeast(k.Want, "must be at least %d characters long")
	case *kind.MaxLength:
		out.Reason = fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Pattern:
		if k.Want == `\S` {
			out.Reason = "must not be blank"
		} else {
			out.Reason = fmt.Sprintf("must match the pattern %s", k.Want)
		}
	case *kind.MinItems:
		out.Reason = atLeast(k.Want, "must have at least %d items")
	case *kind.Format:
		switch {
		case k.Got == "":
			out.Reason = "must not be empty"
		case k.Want == "uuid":
			out.Reason = display(k.Got) + " is not a UUID (want 8-4-4-4-12 hexadecimal digits)"
		case k.Want == "date-time":
			out.Reason = display(k.Got) + " is not an RFC 3339 date-time"
		default:
			out.Reason = fmt.Sprintf("%s is not a valid %s", display(k.Got), k.Want)
			if k.Err != nil {
				out.Reason += ": " + k.Err.Error()
			}
		}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = display(w)
		}
		out.Reason = fmt.Sprintf("%s is not one of %s", display(k.Got), strings.Join(want, ", "))
	case *kind.Const:
		out.Reason = fmt.Sprintf("must be %s, got %s", display(k.Want), display(k.Got))
	case *kind.UniqueItems:
		out.Reason = fmt.Sprintf("items %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	case *kind.Minimum:
		out.Reason = "must be at least " + k.Want.RatString()
	default:
		out.Reason = leaf.ErrorKind.LocalizedString(printer)
	}
	return out
}

// appendLeaves appends the errors without causes of the tree, depth first,
// in validation order.
func appendLeaves(dst []*jsonschema.ValidationError, ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return append(dst, ve)
	}
	for _, c := range ve.Causes {
		dst = appendLeaves(dst, c)
	}
	return dst
}

// misspelling returns an unknown property reported at the same instance
// location that looks like a misspelling of the missing property.
func misspelling(leaves []*jsonschema.ValidationError, at []string, missing string) string {
	for _, l := range leaves {
		k, ok := l.ErrorKind.(*kind.AdditionalProperties)
		if !ok || !slices.Equal(l.InstanceLocation, at) {
			continue
		}
		for _, p := range k.Properties {
			if closeEnough(p, missing) {
				return p
			}
		}
	}
	return ""
}

func closeEnough(typo, name string) bool {
	return distance(strings.ToLower(typo), strings.ToLower(name)) < len(name)/2+2
}

// dottedPath renders a JSON pointer's tokens as a.b[0].c, using the data to
// tell array indices from object keys.
func dottedPath(data any, tokens []string) string {
	var b strings.Builder
	cur := data
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
			if m, ok := v.(map[string]any); ok {
				cur = m[tok]
			} else {
				cur = nil
			}
		}
	}
	return b.String()
}

// suggest returns the declared property of the schema at location closest
// to an unknown name, if one is close enough to be a typo.
func (c *compiledSet) suggest(location, name string) string {
	s := c.byLocation[location]
	if s == nil {
		return ""
	}
	best, bestDist := "", -1
	names := make([]string, 0, len(s.Properties))
	for p := range s.Properties {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if !closeEnough(name, p) {
			continue
		}
		if d := distance(strings.ToLower(name), strings.ToLower(p)); bestDist < 0 || d < bestDist {
			best, bestDist = p, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func article(typ string) string {
	switch typ[0] {
	case 'a', 'i', 'o':
		return "an " + typ
	}
	return "a " + typ
}

func display(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprint(v)
}

// The longest free text a request may carry, in characters (Unicode code
// points), as the request schemas declare with maxLength. Longer values are
// rejected at every edge that validates: the gateway, the CLI and the worker
// runtime.
const (
	// MaxNameLength bounds names and ids people choose: connection_name,
	// source_type, credential_id.
	MaxNameLength = 255
	// MaxIdentifierLength bounds names that come from a source: stream
	// names, namespaces, field path elements, aliases.
	MaxIdentifierLength = 1024
	// MaxReasonLength bounds the reason a caller gives for a change.
	MaxReasonLength = 1000
)

// Truncate cuts s to at most n characters, its last one "…" when it was
// cut, so that a text AAM composes (a reason, a summary) fits its bound.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// atLeast is the reason of a value under a minimum length or item count of
// want (format takes want): a minimum of 1 reads "must not be empty".
func atLeast(want int, format string) string {
	if want == 1 {
		return "must not be empty"
	}
	return fmt.Sprintf(format, want)
}
