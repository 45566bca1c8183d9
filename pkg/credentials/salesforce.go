package credentials

import (
	"regexp"
	"slices"
	"strings"
)

// KindSalesforce is the kind of Salesforce credentials.
const KindSalesforce = "salesforce"

// SalesforceAuthType is the only auth_type source-salesforce accepts.
const SalesforceAuthType = "Client"

// salesforceStartDate is source-salesforce's start_date pattern.
var salesforceStartDate = regexp.MustCompile(`^([0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?)$`)

// SalesforceCriteria are the values of streams_criteria[].criteria.
var SalesforceCriteria = []string{"starts with", "ends with", "contains", "exacts", "starts not with", "ends not with", "not contains", "not exacts"}

// Salesforce is the configuration of Airbyte's source-salesforce, the
// document of a credential of kind "salesforce". JSON names are Airbyte's.
// ClientSecret and RefreshToken are Secrets: they never print, and
// json.Marshal of a Salesforce writes them redacted; use Fields or
// Credential to store them.
type Salesforce struct {
	// ClientID is the connected app's consumer key (required).
	ClientID string `json:"client_id"`
	// ClientSecret is the connected app's consumer secret (required).
	ClientSecret Secret `json:"client_secret"`
	// RefreshToken is the OAuth refresh token (required).
	RefreshToken Secret `json:"refresh_token"`
	// AuthType is "Client" ("" means "Client").
	AuthType string `json:"auth_type,omitempty"`
	// IsSandbox selects test.salesforce.com.
	IsSandbox bool `json:"is_sandbox"`
	// StartDate is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ; "" means the last
	// two years.
	StartDate string `json:"start_date,omitempty"`
	// ForceUseBulkAPI makes the source use the Bulk API.
	ForceUseBulkAPI bool `json:"force_use_bulk_api"`
	// StreamSliceStep is an ISO-8601 duration (Airbyte's default P30D).
	StreamSliceStep string `json:"stream_slice_step,omitempty"`
	// StreamsCriteria filter the SObjects discovered as streams.
	StreamsCriteria []StreamCriterion `json:"streams_criteria,omitempty"`
}

// StreamCriterion is one entry of streams_criteria.
type StreamCriterion struct {
	// Criteria is one of SalesforceCriteria.
	Criteria string `json:"criteria"`
	Value    string `json:"value"`
}

// Fields returns the secret document of s, with the plain secret values.
func (s Salesforce) Fields() map[string]any {
	f := map[string]any{
		"client_id":          s.ClientID,
		"client_secret":      s.ClientSecret.Value(),
		"refresh_token":      s.RefreshToken.Value(),
		"auth_type":          SalesforceAuthType,
		"is_sandbox":         s.IsSandbox,
		"force_use_bulk_api": s.ForceUseBulkAPI,
	}
	if s.AuthType != "" {
		f["auth_type"] = s.AuthType
	}
	if s.StartDate != "" {
		f["start_date"] = s.StartDate
	}
	if s.StreamSliceStep != "" {
		f["stream_slice_step"] = s.StreamSliceStep
	}
	if len(s.StreamsCriteria) > 0 {
		f["streams_criteria"] = unwrapSecrets(s.StreamsCriteria)
	}
	return f
}

// Credential returns a credential of kind "salesforce" with id and s.
func (s Salesforce) Credential(id string) Credential {
	return Credential{ID: id, Kind: KindSalesforce, Fields: s.Fields()}
}

// Validate checks s as a put of it would.
func (s Salesforce) Validate() error {
	fields, err := decodeDocumentOf(s.Fields())
	if err != nil {
		return err
	}
	_, err = parseSalesforce(fields)
	return err
}

// Salesforce returns the document of a credential of kind "salesforce".
func (c Credential) Salesforce() (Salesforce, error) {
	if c.Kind != KindSalesforce {
		return Salesforce{}, invalid("kind", "credential %q is of kind %q, not %q", c.ID, c.Kind, KindSalesforce)
	}
	fields, err := decodeDocumentOf(c.Fields)
	if err != nil {
		return Salesforce{}, err
	}
	return parseSalesforce(fields)
}

// decodeDocumentOf returns fields in canonical JSON types.
func decodeDocumentOf(fields map[string]any) (map[string]any, error) {
	c, doc, err := normalize(Credential{ID: "x", Kind: "generic", Fields: fields})
	clear(doc)
	return c.Fields, err
}

// parseSalesforce reads and validates a document in canonical JSON types.
// Its errors name the field and never quote a value.
func parseSalesforce(f map[string]any) (Salesforce, error) {
	var s Salesforce
	str := func(name string, required bool) (string, error) {
		v, ok := f[name]
		if !ok || v == nil {
			if required {
				return "", invalid(name, "is required for kind %s", KindSalesforce)
			}
			return "", nil
		}
		t, ok := v.(string)
		if !ok {
			return "", invalid(name, "must be a string")
		}
		if required && t == "" {
			return "", invalid(name, "must not be empty")
		}
		return t, nil
	}
	boolean := func(name string) (bool, error) {
		v, ok := f[name]
		if !ok || v == nil {
			return false, nil
		}
		b, ok := v.(bool)
		if !ok {
			return false, invalid(name, "must be true or false")
		}
		return b, nil
	}
	var err error
	if s.ClientID, err = str("client_id", true); err != nil {
		return Salesforce{}, err
	}
	secret, err := str("client_secret", true)
	if err != nil {
		return Salesforce{}, err
	}
	s.ClientSecret = Secret(secret)
	token, err := str("refresh_token", true)
	if err != nil {
		return Salesforce{}, err
	}
	s.RefreshToken = Secret(token)
	if s.AuthType, err = str("auth_type", false); err != nil {
		return Salesforce{}, err
	}
	if s.AuthType != "" && s.AuthType != SalesforceAuthType {
		return Salesforce{}, invalid("auth_type", "must be %q", SalesforceAuthType)
	}
	if s.IsSandbox, err = boolean("is_sandbox"); err != nil {
		return Salesforce{}, err
	}
	if s.ForceUseBulkAPI, err = boolean("force_use_bulk_api"); err != nil {
		return Salesforce{}, err
	}
	if s.StartDate, err = str("start_date", false); err != nil {
		return Salesforce{}, err
	}
	if s.StartDate != "" && !salesforceStartDate.MatchString(s.StartDate) {
		return Salesforce{}, invalid("start_date", "must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
	}
	if s.StreamSliceStep, err = str("stream_slice_step", false); err != nil {
		return Salesforce{}, err
	}
	if s.StreamSliceStep != "" && s.StreamSliceStep[0] != 'P' {
		return Salesforce{}, invalid("stream_slice_step", "must be an ISO-8601 duration such as P30D")
	}
	if v, ok := f["streams_criteria"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return Salesforce{}, invalid("streams_criteria", "must be an array of {criteria, value}")
		}
		for i, e := range list {
			m, ok := e.(map[string]any)
			crit, ok1 := m["criteria"].(string)
			val, ok2 := m["value"].(string)
			if !ok || !ok2 || (m["criteria"] != nil && !ok1) {
				return Salesforce{}, invalid("streams_criteria", "entry %d must be {criteria, value} with string values", i)
			}
			if crit == "" {
				crit = "contains"
			}
			if !slices.Contains(SalesforceCriteria, crit) {
				return Salesforce{}, invalid("streams_criteria", "entry %d: criteria must be one of %q", i, SalesforceCriteria)
			}
			s.StreamsCriteria = append(s.StreamsCriteria, StreamCriterion{Criteria: crit, Value: val})
		}
	}
	return s, nil
}

// KnownKinds are the kinds whose documents AAM checks and completes (see
// AirbyteConfiguration). A credential of another kind is stored as given.
func KnownKinds() []string { return []string{KindSalesforce} }

// IsKnownKind reports whether kind (any case) is one of KnownKinds.
func IsKnownKind(kind string) bool {
	return slices.Contains(KnownKinds(), strings.ToLower(strings.TrimSpace(kind)))
}
