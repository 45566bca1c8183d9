package drift

// Kind names one kind of schema change. Every kind has exactly one row in
// Table.
type Kind string

// Risk grades what a change can do to the data already synced or about to
// be synced.
type Risk string

// Risks, from harmless to data lost.
const (
	// RiskNone: no value is lost or changes meaning.
	RiskNone Risk = "none"
	// RiskLow: values keep their meaning; some columns stop filling or
	// change their declared type in a compatible way.
	RiskLow Risk = "low"
	// RiskMedium: some values may fail typing at the destination, or a
	// contract consumers rely on no longer holds.
	RiskMedium Risk = "medium"
	// RiskHigh: rows or values are lost, duplicated or mis-merged unless a
	// person acts.
	RiskHigh Risk = "high"
)

// The change kinds. Stream kinds concern whole streams; field kinds one
// field path of a configured stream's JSON schema; key, cursor and sync-mode
// kinds a configured stream's attributes.
const (
	StreamAdded           Kind = "stream_added"
	StreamRemoved         Kind = "stream_removed"
	SelectedStreamRemoved Kind = "selected_stream_removed"

	FieldAdded             Kind = "field_added"
	RequiredFieldAdded     Kind = "required_field_added"
	NestedFieldAdded       Kind = "nested_field_added"
	FieldRemoved           Kind = "field_removed"
	UnselectedFieldRemoved Kind = "unselected_field_removed"
	SelectedFieldRemoved   Kind = "selected_field_removed"
	CursorFieldRemoved     Kind = "cursor_field_removed"
	PrimaryKeyFieldRemoved Kind = "primary_key_field_removed"
	NestedFieldRemoved     Kind = "nested_field_removed"

	TypeWidened     Kind = "type_widened"
	NullAllowed     Kind = "null_allowed"
	FormatDropped   Kind = "format_dropped"
	TypeNarrowed    Kind = "type_narrowed"
	TypeChanged     Kind = "type_changed"
	NullDisallowed  Kind = "null_disallowed"
	FormatAdded     Kind = "format_added"
	FormatChanged   Kind = "format_changed"
	ScalarToObject  Kind = "scalar_to_object"
	ScalarToArray   Kind = "scalar_to_array"
	ObjectToScalar  Kind = "object_to_scalar"
	ArrayToScalar   Kind = "array_to_scalar"
	ObjectArraySwap Kind = "object_array_swapped"
	ItemsWidened    Kind = "array_items_widened"
	ItemsNarrowed   Kind = "array_items_narrowed"
	SchemaChanged   Kind = "schema_changed"
	AnnotationOnly  Kind = "annotation_changed"

	PrimaryKeyChanged        Kind = "primary_key_changed"
	DefaultPrimaryKeyChanged Kind = "default_primary_key_changed"
	CursorChanged            Kind = "cursor_changed"
	DefaultCursorChanged     Kind = "default_cursor_changed"
	SyncModeUnsupported      Kind = "sync_mode_unsupported"
	SyncModeAdded            Kind = "sync_mode_added"
)

// Class is one row of the classification: a kind, whether it breaks the
// connection, why, what it risks, and what Airbyte makes of the same change.
type Class struct {
	Kind     Kind `json:"kind"`
	Breaking bool `json:"breaking"`
	Risk     Risk `json:"risk"`
	// Reason says in words why the kind breaks the connection or not.
	Reason string `json:"reason"`
	// DataRisk says what can happen to the data.
	DataRisk string `json:"data_risk"`
	// Airbyte is how Airbyte's CatalogDiff reports the change ("" when it
	// does not) and AirbyteBreaking when Airbyte calls it breaking.
	Airbyte         string `json:"airbyte"`
	AirbyteBreaking string `json:"airbyte_breaking"`
}

// Table is the classification, one row per kind, in the order of the
// documentation (docs/drift.md).
var Table = []Class{
	{StreamAdded, false, RiskNone,
		"a new stream is offered; nothing syncs it until it is selected",
		"none", "add_stream", "never"},
	{StreamRemoved, false, RiskNone,
		"the source no longer offers a stream the connection does not sync",
		"none", "remove_stream", "never"},
	{SelectedStreamRemoved, true, RiskHigh,
		"a stream the connection syncs is gone; its syncs would stop without an error",
		"the destination table stops receiving rows and silently goes stale", "remove_stream", "never"},

	{FieldAdded, false, RiskNone,
		"a nullable field is new; rows written before simply have no value",
		"none", "add_field", "never"},
	{RequiredFieldAdded, false, RiskLow,
		"a field the source declares required is new; it can only be absent from rows written before",
		"rows synced before the change have null in a column now declared required", "add_field", "never"},
	{NestedFieldAdded, false, RiskNone,
		"a field inside an object or array item is new; the column keeps its type",
		"none", "add_field", "never"},
	{FieldRemoved, false, RiskLow,
		"a field no key, cursor or field selection depends on is gone",
		"new rows carry null in the column; values synced before stay", "remove_field", "never"},
	{UnselectedFieldRemoved, false, RiskNone,
		"a field the stream's field selection leaves out is gone",
		"none", "remove_field", "never"},
	{SelectedFieldRemoved, true, RiskHigh,
		"a field the connection's field selection names explicitly is gone",
		"consumers that asked for the field get nulls from now on without an error", "remove_field", "never"},
	{CursorFieldRemoved, true, RiskHigh,
		"the cursor of an incremental stream is gone; the next sync cannot read incrementally",
		"the stream's state is unusable: records are missed or the stream must be reset", "remove_field",
		"yes, for an incremental stream"},
	{PrimaryKeyFieldRemoved, true, RiskHigh,
		"a field of the stream's primary key is gone",
		"deduplication merges distinct rows or fails; an append stream loses its key", "remove_field",
		"only for a deduplicated stream"},
	{NestedFieldRemoved, false, RiskLow,
		"a field inside an object or array item is gone; the column keeps its type",
		"the nested value is missing from new rows", "remove_field", "never"},

	{TypeWidened, false, RiskLow,
		"the new type accepts every value of the old one (integer to number, a type added to a union)",
		"the destination column is widened; every value keeps its meaning", "update_field_schema", "never"},
	{NullAllowed, false, RiskLow,
		"the type gained null; every old value is still valid",
		"consumers that assumed the column never null see nulls", "update_field_schema", "never"},
	{FormatDropped, false, RiskLow,
		"a string lost its format (date-time, date, …); every old value is still a string",
		"the destination keeps plain strings instead of typed dates or times", "update_field_schema", "never"},
	{TypeNarrowed, true, RiskHigh,
		"the new type accepts fewer values than the old one (number to integer, a type removed from a union)",
		"values that no longer fit fail typing and are nulled or rejected at the destination",
		"update_field_schema", "never"},
	{TypeChanged, true, RiskHigh,
		"the type changed to an incompatible scalar (string to number, boolean to string)",
		"the destination column's type no longer matches: values fail typing or the column is rebuilt",
		"update_field_schema", "never"},
	{NullDisallowed, true, RiskMedium,
		"the type lost null: the source promises values the rows already written do not have",
		"rows synced with null no longer satisfy the schema; a destination enforcing it rejects them",
		"update_field_schema", "never"},
	{FormatAdded, true, RiskMedium,
		"a plain string gained a format; old values need not match it",
		"values that do not parse in the new format fail typing and are nulled", "update_field_schema", "never"},
	{FormatChanged, true, RiskMedium,
		"a string's format changed (date to date-time, …)",
		"values in the old format fail typing in the new one", "update_field_schema", "never"},
	{ScalarToObject, true, RiskHigh,
		"a scalar became an object",
		"the column changes from a value to a JSON document; consumers and typing break", "update_field_schema", "never"},
	{ScalarToArray, true, RiskHigh,
		"a scalar became an array",
		"the column changes from a value to a list; consumers and typing break", "update_field_schema", "never"},
	{ObjectToScalar, true, RiskHigh,
		"an object became a scalar",
		"the nested fields disappear into one value; their columns or paths stop filling", "update_field_schema", "never"},
	{ArrayToScalar, true, RiskHigh,
		"an array became a scalar",
		"lists collapse to one value; the items are lost to consumers", "update_field_schema", "never"},
	{ObjectArraySwap, true, RiskHigh,
		"an object became an array or an array an object",
		"the document's shape changes; every path into it breaks", "update_field_schema", "never"},
	{ItemsWidened, false, RiskLow,
		"the items of an array accept every value they accepted before",
		"none beyond a widened item type", "update_field_schema", "never"},
	{ItemsNarrowed, true, RiskHigh,
		"the items of an array changed type incompatibly or accept fewer values",
		"items that no longer fit fail typing at the destination", "update_field_schema", "never"},
	{SchemaChanged, true, RiskMedium,
		"an untyped or combined schema (oneOf, anyOf, no type) changed; compatibility cannot be proven",
		"values may no longer match the declared schema", "update_field_schema", "never"},
	{AnnotationOnly, false, RiskNone,
		"only annotations changed (description, title, …); type, format and nullability are the same",
		"none", "update_field_schema", "never"},

	{PrimaryKeyChanged, true, RiskHigh,
		"the source-defined primary key of a deduplicated stream changed",
		"deduplication on the old key merges or duplicates rows until the stream is refreshed", "update_primary_key",
		"only when the configured key differs from the new one"},
	{DefaultPrimaryKeyChanged, false, RiskNone,
		"the source-defined primary key changed on a stream that does not deduplicate",
		"none until the stream is deduplicated", "update_primary_key", "never"},
	{CursorChanged, true, RiskHigh,
		"the source-defined cursor of an incremental stream that uses it changed",
		"the saved state refers to the old cursor: records are missed or synced twice", "", "not reported"},
	{DefaultCursorChanged, false, RiskNone,
		"the default cursor changed on a stream that does not read incrementally by it",
		"none", "", "not reported"},
	{SyncModeUnsupported, true, RiskHigh,
		"the source no longer supports the sync mode the stream is configured with",
		"the next sync fails until the stream's sync mode changes", "", "not reported"},
	{SyncModeAdded, false, RiskNone,
		"the source supports a sync mode it did not before",
		"none", "", "not reported"},
}

var byKind = func() map[Kind]Class {
	m := make(map[Kind]Class, len(Table))
	for _, c := range Table {
		m[c.Kind] = c
	}
	return m
}()

// Lookup returns the row of kind k.
func Lookup(k Kind) (Class, bool) {
	c, ok := byKind[k]
	return c, ok
}
