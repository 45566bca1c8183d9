package credentials

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testSecret = "sf-client-secret-7f3a9c"
	testToken  = "sf-refresh-token-5d2e1b"
)

func salesforceFields() map[string]any {
	return map[string]any{
		"client_id":     "3MVG9-client-id",
		"client_secret": testSecret,
		"refresh_token": testToken,
		"is_sandbox":    false,
		"start_date":    "2024-01-01T00:00:00Z",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	sf := salesforceFields()
	for _, tc := range []struct {
		name      string
		c         Credential
		wantField string // "" = valid
	}{
		{"salesforce", Credential{ID: "salesforce-prod", Kind: "salesforce", Fields: sf}, ""},
		{"kind is lowercased", Credential{ID: "a", Kind: " Salesforce ", Fields: sf}, ""},
		{"date only", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "start_date", "2024-01-01")}, ""},
		{"blank start date", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "start_date", "")}, ""},
		{"criteria", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "streams_criteria", []any{map[string]any{"criteria": "exacts", "value": "Account"}})}, ""},
		{"typed criteria", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "streams_criteria", []StreamCriterion{{Criteria: "contains", Value: "Opp"}})}, ""},
		{"secret values", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "client_secret", Secret(testSecret))}, ""},
		{"generic kind", Credential{ID: "hubspot.main_1", Kind: "hubspot", Fields: map[string]any{"api_key": "k", "n": 3}}, ""},

		{"no id", Credential{Kind: "salesforce", Fields: sf}, "credential_id"},
		{"bad id", Credential{ID: "has space", Kind: "salesforce", Fields: sf}, "credential_id"},
		{"id with slash", Credential{ID: "a/b", Kind: "salesforce", Fields: sf}, "credential_id"},
		{"long id", Credential{ID: strings.Repeat("a", 129), Kind: "salesforce", Fields: sf}, "credential_id"},
		{"no kind", Credential{ID: "a", Fields: sf}, "kind"},
		{"bad kind", Credential{ID: "a", Kind: "sales force", Fields: sf}, "kind"},
		{"no fields", Credential{ID: "a", Kind: "salesforce"}, "fields"},
		{"bad field name", Credential{ID: "a", Kind: "hubspot", Fields: map[string]any{"": "x"}}, "fields"},
		{"unencodable", Credential{ID: "a", Kind: "hubspot", Fields: map[string]any{"f": func() {}}}, "fields"},
		{"too large", Credential{ID: "a", Kind: "hubspot", Fields: map[string]any{"f": strings.Repeat("x", MaxDocumentSize)}}, "fields"},
		{"missing client_id", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "client_id", nil)}, "client_id"},
		{"missing client_secret", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "client_secret", nil)}, "client_secret"},
		{"empty client_secret", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "client_secret", "")}, "client_secret"},
		{"missing refresh_token", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "refresh_token", nil)}, "refresh_token"},
		{"numeric refresh_token", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "refresh_token", 12345)}, "refresh_token"},
		{"bad start_date", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "start_date", "01/02/2024")}, "start_date"},
		{"start_date with offset", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "start_date", "2024-01-01T00:00:00+01:00")}, "start_date"},
		{"is_sandbox string", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "is_sandbox", "yes")}, "is_sandbox"},
		{"auth_type", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "auth_type", "Server")}, "auth_type"},
		{"criteria not array", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "streams_criteria", "Account")}, "streams_criteria"},
		{"criteria unknown", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "streams_criteria", []any{map[string]any{"criteria": "like", "value": "A"}})}, "streams_criteria"},
		{"criteria without value", Credential{ID: "a", Kind: "salesforce", Fields: with(sf, "streams_criteria", []any{map[string]any{"criteria": "exacts"}})}, "streams_criteria"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, doc, err := normalize(tc.c)
			if tc.wantField == "" {
				require.NoError(t, err)
				require.Equal(t, strings.ToLower(strings.TrimSpace(tc.c.Kind)), got.Kind)
				var back map[string]any
				require.NoError(t, json.Unmarshal(doc, &back))
				require.Equal(t, got.Fields, back)
				return
			}
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.wantField, ve.Field, err.Error())
			require.NotContains(t, err.Error(), testSecret)
			require.NotContains(t, err.Error(), testToken)
			require.NotContains(t, err.Error(), "12345")
			require.NotContains(t, err.Error(), "01/02/2024")
		})
	}
}

func TestSecretValuesAreStoredPlain(t *testing.T) {
	t.Parallel()
	// A Secret marshals as "[redacted]"; in Fields it must keep its value.
	c, doc, err := normalize(Credential{ID: "a", Kind: "salesforce", Fields: with(salesforceFields(), "client_secret", Secret(testSecret))})
	require.NoError(t, err)
	require.Equal(t, testSecret, c.Fields["client_secret"])
	require.Contains(t, string(doc), testSecret)
}

func TestSalesforceRoundTrip(t *testing.T) {
	t.Parallel()
	sf := Salesforce{
		ClientID: "3MVG9", ClientSecret: testSecret, RefreshToken: testToken, IsSandbox: true,
		StartDate: "2024-01-01", ForceUseBulkAPI: true, StreamSliceStep: "P7D",
		StreamsCriteria: []StreamCriterion{{Criteria: "exacts", Value: "Account"}},
	}
	require.NoError(t, sf.Validate())
	c := sf.Credential("salesforce-prod")
	c2, _, err := normalize(c)
	require.NoError(t, err)
	got, err := c2.Salesforce()
	require.NoError(t, err)
	sf.AuthType = SalesforceAuthType
	require.Equal(t, sf, got)

	// json.Marshal of the typed form redacts the secrets.
	js, err := json.Marshal(sf)
	require.NoError(t, err)
	require.NotContains(t, string(js), testSecret)
	require.NotContains(t, string(js), testToken)
	require.Contains(t, string(js), `"client_id":"3MVG9"`)

	require.Error(t, Salesforce{ClientID: "x"}.Validate())
	_, err = Credential{ID: "h", Kind: "hubspot", Fields: map[string]any{"a": "b"}}.Salesforce()
	require.Error(t, err)
}

func TestAirbyteConfiguration(t *testing.T) {
	t.Parallel()
	c := Credential{ID: "salesforce-prod", Kind: KindSalesforce, Fields: with(salesforceFields(), "start_date", "", "is_sandbox", nil,
		"streams_criteria", []any{map[string]any{"criteria": "exacts", "value": "Account"}})}
	got := c.AirbyteConfiguration()
	require.Equal(t, map[string]any{
		"client_id":        "3MVG9-client-id",
		"client_secret":    testSecret,
		"refresh_token":    testToken,
		"auth_type":        "Client",
		"is_sandbox":       false,
		"streams_criteria": []any{map[string]any{"criteria": "exacts", "value": "Account"}},
	}, got)
	require.NotContains(t, got, "sourceType")
	// The map is a copy.
	got["client_id"] = "changed"
	got["streams_criteria"].([]any)[0].(map[string]any)["value"] = "changed"
	require.Equal(t, "3MVG9-client-id", c.Fields["client_id"])
	require.Equal(t, "Account", c.Fields["streams_criteria"].([]any)[0].(map[string]any)["value"])

	generic := Credential{ID: "h", Kind: "hubspot", Fields: map[string]any{"api_key": "k"}}
	require.Equal(t, map[string]any{"api_key": "k"}, generic.AirbyteConfiguration())
	require.Equal(t, map[string]any{}, Credential{}.AirbyteConfiguration())
}

func TestCredentialNeverPrintsValues(t *testing.T) {
	t.Parallel()
	c := Credential{ID: "salesforce-prod", Kind: "salesforce", Fields: salesforceFields(), Version: 2}
	js, err := json.Marshal(c)
	require.NoError(t, err)
	req := PutRequest{CredentialID: c.ID, Kind: c.Kind, Fields: c.Fields}
	reply := GetReply{CredentialID: c.ID, Kind: c.Kind, Fields: c.Fields}
	core, logs := observer.New(zapcore.DebugLevel)
	zap.New(core).Info("x", zap.Any("c", c), zap.Object("o", c), zap.Any("req", req), zap.Any("reply", reply), zap.Stringer("s", c))
	outputs := []string{
		fmt.Sprintf("%v %+v %#v %s %d %x %q", c, c, c, c, c, c, c),
		fmt.Sprintf("%v %+v %#v %s %d", req, req, req, req, req),
		fmt.Sprintf("%v %+v %#v %s %d", reply, reply, reply, reply, reply),
		fmt.Sprint(&c, []Credential{c}, map[string]Credential{"a": c}),
		string(js), fmt.Sprint(logs.All()[0].ContextMap()),
	}
	for _, out := range outputs {
		require.NotContains(t, out, testSecret)
		require.NotContains(t, out, testToken)
		require.NotContains(t, out, "3MVG9-client-id")
		require.Contains(t, out, "salesforce-prod")
	}
	require.JSONEq(t, `{"credential_id":"salesforce-prod","kind":"salesforce","version":2,
		"field_names":["client_id","client_secret","is_sandbox","refresh_token","start_date"],
		"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`, string(js))
}
