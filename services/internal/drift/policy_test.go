package drift_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/services/internal/drift"
)

func change(k drift.Kind, stream string, field ...string) drift.Change {
	row, _ := drift.Lookup(k)
	return drift.Change{Kind: k, Stream: stream, Field: field, Breaking: row.Breaking, Risk: row.Risk, Reason: row.Reason}
}

var conn = drift.Connection{ID: "c1", Name: "Salesforce Production", SourceType: "Salesforce",
	Labels: map[string]string{"team": "finance"}}

func TestPolicyRejected(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    drift.Policy
		// want is a part of the error message.
		want string
	}{
		{"syntax error", drift.Policy{Rules: []drift.Rule{{ID: "r", When: "change.kind ==", Action: drift.ActionIgnore}}},
			`connection rule "r": ERROR: <input>:1:15: Syntax error`},
		{"unknown variable", drift.Policy{Rules: []drift.Rule{{ID: "r", When: "chnage.kind == 'x'", Action: drift.ActionIgnore}}},
			"undeclared reference to 'chnage'"},
		{"no such field", drift.Policy{Rules: []drift.Rule{{ID: "r", When: "change.colour == 'x'", Action: drift.ActionIgnore}}},
			"undeclared reference to 'change'"},
		{"type mismatch", drift.Policy{Rules: []drift.Rule{{ID: "r", When: "change.breaking == 'yes'", Action: drift.ActionIgnore}}},
			"found no matching overload for '_==_'"},
		{"not a boolean", drift.Policy{Rules: []drift.Rule{{ID: "r", When: "change.kind", Action: drift.ActionIgnore}}},
			`connection rule "r": when must return a bool, not string`},
		{"a label is a string", drift.Policy{Rules: []drift.Rule{{ID: "r", When: "connection.labels['team']", Action: drift.ActionIgnore}}},
			"when must return a bool, not string"},
		{"empty expression", drift.Policy{Rules: []drift.Rule{{ID: "r", When: " ", Action: drift.ActionIgnore}}},
			"when is empty"},
		{"unknown action", drift.Policy{Rules: []drift.Rule{{ID: "r", When: "true", Action: "heal"}}},
			`action "heal" is not propagate, ignore, pause or require_approval`},
		{"no id", drift.Policy{Rules: []drift.Rule{{When: "true", Action: drift.ActionIgnore}}},
			"connection rule 1: id is empty"},
		{"id twice", drift.Policy{Rules: []drift.Rule{{ID: "r", When: "true", Action: drift.ActionIgnore},
			{ID: "r", When: "false", Action: drift.ActionPause}}}, `connection rule "r": id is used twice`},
		{"stream override", drift.Policy{Streams: map[string][]drift.Rule{"Account": {{ID: "a", When: "1 + 1", Action: drift.ActionPause}}}},
			`stream Account rule "a": when must return a bool, not int`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := drift.Compile(tc.p, 1)
			require.Nil(t, c)
			require.ErrorIs(t, err, drift.ErrInvalidPolicy)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestPolicyReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := drift.Compile(drift.Policy{Rules: []drift.Rule{
		{ID: "a", When: "change.kind", Action: drift.ActionIgnore},
		{ID: "b", When: "true", Action: "nope"},
	}}, 1)
	require.ErrorContains(t, err, `rule "a"`)
	require.ErrorContains(t, err, `rule "b"`)
}

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p := drift.MustCompile(drift.DefaultPolicy(), 1)
	for _, tc := range []struct {
		change drift.Change
		action drift.Action
		rule   string
	}{
		{change(drift.FieldAdded, "Account", "Region"), drift.ActionPropagate, "propagate-columns"},
		{change(drift.TypeWidened, "Account", "Count"), drift.ActionPropagate, "propagate-columns"},
		{change(drift.StreamRemoved, "Gone"), drift.ActionPropagate, "propagate-columns"},
		{change(drift.StreamAdded, "Invoice"), drift.ActionIgnore, "ignore-new-streams"},
		{change(drift.TypeNarrowed, "Account", "Amount"), drift.ActionPause, "pause-breaking"},
		{change(drift.CursorFieldRemoved, "Account", "Modified"), drift.ActionPause, "pause-breaking"},
		{change(drift.SelectedStreamRemoved, "User"), drift.ActionPause, "pause-breaking"},
	} {
		d := p.Decide(conn, tc.change)
		require.Equal(t, tc.action, d.Action, tc.change.Kind)
		require.Equal(t, tc.rule, d.RuleID, tc.change.Kind)
		require.Equal(t, "connection", d.Scope)
	}
	// Every kind of the table gets a decision from a rule of the default
	// policy, pause exactly for the breaking ones.
	for _, row := range drift.Table {
		d := p.Decide(conn, change(row.Kind, "S"))
		require.NotEmpty(t, d.RuleID)
		require.Equal(t, row.Breaking, d.Action == drift.ActionPause, row.Kind)
	}
}

func TestPolicyRules(t *testing.T) {
	t.Parallel()
	p, err := drift.Compile(drift.Policy{
		Rules: []drift.Rule{
			{ID: "finance-types", When: `connection.labels["team"] == "finance" && change.kind.startsWith("type_")`, Action: drift.ActionRequireApproval},
			{ID: "ssn", When: `change.field.contains("SSN")`, Action: drift.ActionIgnore},
			{ID: "deep", When: `size(change.path) > 1 && change.path[0] == "Addr"`, Action: drift.ActionIgnore},
			{ID: "airbyte-breaking", When: "change.airbyte_breaking", Action: drift.ActionPause},
			{ID: "high", When: `change.risk == "high"`, Action: drift.ActionRequireApproval},
			{ID: "salesforce", When: `connection.source_type == "Salesforce" && connection.name.startsWith("Salesforce")`, Action: drift.ActionPropagate},
		},
		Streams: map[string][]drift.Rule{
			"Account":     {{ID: "account-frozen", When: `change.kind != "annotation_changed"`, Action: drift.ActionPause}},
			"crm.Contact": {{ID: "crm-contact", When: "true", Action: drift.ActionIgnore}},
		},
	}, 7)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		conn   drift.Connection
		change drift.Change
		action drift.Action
		rule   string
		scope  string
	}{
		{"per-stream override beats the connection's rule", conn, change(drift.TypeWidened, "Account", "Count"),
			drift.ActionPause, "account-frozen", "stream:Account"},
		{"an override that does not match falls through", conn, change(drift.AnnotationOnly, "Account", "Count"),
			drift.ActionPropagate, "salesforce", "connection"},
		{"labels", conn, change(drift.TypeWidened, "Lead", "Count"), drift.ActionRequireApproval, "finance-types", "connection"},
		{"other team", drift.Connection{SourceType: "Salesforce", Name: "Salesforce EU"}, change(drift.TypeWidened, "Lead", "Count"),
			drift.ActionPropagate, "salesforce", "connection"},
		{"field", conn, change(drift.FieldAdded, "Lead", "SSN__c"), drift.ActionIgnore, "ssn", "connection"},
		{"path", conn, change(drift.NestedFieldAdded, "Lead", "Addr", "county"), drift.ActionIgnore, "deep", "connection"},
		{"Airbyte's verdict", conn, func() drift.Change {
			c := change(drift.CursorFieldRemoved, "Lead", "Modified")
			c.AirbyteBreaking = true
			return c
		}(), drift.ActionPause, "airbyte-breaking", "connection"},
		{"risk", conn, change(drift.SelectedFieldRemoved, "Lead", "Phone"), drift.ActionRequireApproval, "high", "connection"},
		{"namespaced override", conn, func() drift.Change { c := change(drift.FieldAdded, "Contact", "X"); c.Namespace = "crm"; return c }(),
			drift.ActionIgnore, "crm-contact", "stream:crm.Contact"},
		{"no rule matches", drift.Connection{SourceType: "Postgres"}, change(drift.FieldAdded, "Lead", "X"),
			drift.ActionRequireApproval, "", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Decide(tc.conn, tc.change)
			require.Equal(t, tc.action, d.Action)
			require.Equal(t, tc.rule, d.RuleID)
			require.Equal(t, tc.scope, d.Scope)
			require.Equal(t, 7, d.PolicyVersion)
			require.Equal(t, tc.change, d.Inputs.Change)
			require.Equal(t, tc.conn, d.Inputs.Connection)
		})
	}
}

func TestPolicyRuntimeErrorDoesNotMatch(t *testing.T) {
	t.Parallel()
	p := drift.MustCompile(drift.Policy{Rules: []drift.Rule{
		{ID: "label", When: `connection.labels["team"] == "finance"`, Action: drift.ActionPause},
		{ID: "rest", When: "true", Action: drift.ActionPropagate},
	}}, 2)
	d := p.Decide(drift.Connection{ID: "c2"}, change(drift.FieldAdded, "A", "x"))
	require.Equal(t, drift.ActionPropagate, d.Action)
	require.Equal(t, "rest", d.RuleID)
	require.Len(t, d.Errors, 1)
	require.Contains(t, d.Errors[0], "label: no such key")
}

func TestDecideAll(t *testing.T) {
	t.Parallel()
	p := drift.MustCompile(drift.DefaultPolicy(), 3)
	o := p.DecideAll(conn, []drift.Change{change(drift.StreamAdded, "Invoice"), change(drift.FieldAdded, "Account", "Region"),
		change(drift.TypeNarrowed, "Account", "Amount"), change(drift.FieldRemoved, "Account", "Fax")})
	require.Equal(t, drift.ActionPause, o.Action)
	require.Equal(t, "pause-breaking", o.RuleID)
	require.Len(t, o.Decisions, 4)
	require.Equal(t, drift.ActionIgnore, o.Decisions[0].Action)
	require.Equal(t, drift.ActionPropagate, o.Decisions[1].Action)

	o = p.DecideAll(conn, []drift.Change{change(drift.StreamAdded, "Invoice"), change(drift.FieldAdded, "Account", "Region")})
	require.Equal(t, drift.ActionPropagate, o.Action)
	require.Equal(t, "propagate-columns", o.RuleID)

	o = p.DecideAll(conn, nil)
	require.Equal(t, drift.ActionIgnore, o.Action)
	require.Empty(t, o.RuleID)
}

// TestDecisionProvenanceJSON: a decision serializes with the policy
// version, the rule, its inputs and the action, as stored and emitted.
func TestDecisionProvenanceJSON(t *testing.T) {
	t.Parallel()
	p := drift.MustCompile(drift.DefaultPolicy(), 4)
	d := p.Decide(conn, change(drift.TypeNarrowed, "Account", "Amount"))
	b, err := json.Marshal(d)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, "pause", got["action"])
	require.Equal(t, "pause-breaking", got["rule_id"])
	require.EqualValues(t, 4, got["policy_version"])
	in := got["inputs"].(map[string]any)
	require.Equal(t, "type_narrowed", in["change"].(map[string]any)["kind"])
	require.Equal(t, []any{"Amount"}, in["change"].(map[string]any)["field"])
	require.Equal(t, "finance", in["connection"].(map[string]any)["labels"].(map[string]any)["team"])
}

func TestPolicyJSON(t *testing.T) {
	t.Parallel()
	var p drift.Policy
	require.NoError(t, json.Unmarshal([]byte(`{"rules":[{"id":"r","when":"change.breaking","action":"pause"}],
		"streams":{"Account":[{"id":"s","when":"true","action":"ignore"}]}}`), &p))
	c, err := drift.Compile(p, 1)
	require.NoError(t, err)
	require.Equal(t, drift.ActionIgnore, c.Decide(conn, change(drift.TypeNarrowed, "Account", "x")).Action)
	require.False(t, errors.Is(err, drift.ErrInvalidPolicy))
}
