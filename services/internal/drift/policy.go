package drift

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/google/cel-go/cel"
)

// Action is what a policy decides for a change.
type Action string

// The actions, from least to most restrictive.
const (
	// ActionIgnore leaves the change out of the connection's catalog.
	ActionIgnore Action = "ignore"
	// ActionPropagate applies the change as a new catalog version.
	ActionPropagate Action = "propagate"
	// ActionRequireApproval asks a person to approve or reject the change.
	ActionRequireApproval Action = "require_approval"
	// ActionPause stops the connection until a person acts.
	ActionPause Action = "pause"
)

// severity orders actions: a drift takes the most severe action of its
// changes.
var severity = map[Action]int{ActionIgnore: 0, ActionPropagate: 1, ActionRequireApproval: 2, ActionPause: 3}

// Valid reports whether a is one of the four actions.
func (a Action) Valid() bool {
	_, ok := severity[a]
	return ok
}

// Rule is one rule of a policy: when When, a CEL expression over the
// change and the connection, is true, Action is decided.
type Rule struct {
	// ID names the rule in decisions; unique within its list.
	ID     string `json:"id"`
	When   string `json:"when"`
	Action Action `json:"action"`
}

// Policy is a connection's drift policy: an ordered list of rules, and per
// stream an ordered list tried before them. The first rule that matches a
// change decides it; a change no rule matches requires approval.
type Policy struct {
	Rules []Rule `json:"rules"`
	// Labels are the connection's labels, as rules see them
	// (connection.labels).
	Labels map[string]string `json:"labels,omitempty"`
	// Streams holds per-stream overrides, by stream name (or
	// "namespace.name").
	Streams map[string][]Rule `json:"streams,omitempty"`
	// Health sets when failing syncs warn and quarantine the connection
	// (nil: the defaults).
	Health *Health `json:"health,omitempty"`
}

// DefaultPolicy mirrors Airbyte's propagate_columns preference, with
// breaking changes pausing the connection: breaking changes pause, new
// streams are left out, everything else is propagated.
func DefaultPolicy() Policy {
	return Policy{Rules: []Rule{
		{ID: "pause-breaking", When: "change.breaking", Action: ActionPause},
		{ID: "ignore-new-streams", When: `change.kind == "stream_added"`, Action: ActionIgnore},
		{ID: "propagate-columns", When: "true", Action: ActionPropagate},
	}}
}

// Inputs is what a rule's expression sees: change.kind, change.stream,
// change.namespace, change.field (the path joined with dots), change.path,
// change.old_type, change.new_type, change.breaking,
// change.airbyte_breaking, change.risk; connection.id, connection.name,
// connection.source_type, connection.labels (a map of strings).
type Inputs struct {
	Change     Change     `json:"change"`
	Connection Connection `json:"connection"`
}

// Connection is the connection a change belongs to, as rules see it.
type Connection struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	SourceType string            `json:"source_type"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// Decision is the outcome of a policy for one change, with its provenance.
type Decision struct {
	Action Action `json:"action"`
	// RuleID is the rule that matched ("" when none did); Scope is
	// "connection" or "stream:<name>", where the rule was found.
	RuleID        string `json:"rule_id"`
	Scope         string `json:"scope"`
	PolicyVersion int    `json:"policy_version"`
	Inputs        Inputs `json:"inputs"`
	// Errors lists the rules whose expression failed on these inputs
	// (they did not match).
	Errors []string `json:"errors,omitempty"`
}

// Outcome is a policy's decision for a whole drift: the most severe action
// of its changes' decisions, and the decision that set it.
type Outcome struct {
	Action        Action     `json:"action"`
	RuleID        string     `json:"rule_id"`
	PolicyVersion int        `json:"policy_version"`
	Decisions     []Decision `json:"decisions"`
}

// ErrInvalidPolicy wraps every reason a policy is refused.
var ErrInvalidPolicy = errors.New("invalid drift policy")

// Compiled is a policy whose expressions compiled; safe for concurrent use.
type Compiled struct {
	Policy  Policy
	Version int
	rules   []compiledRule
	streams map[string][]compiledRule
}

type compiledRule struct {
	Rule
	prg cel.Program
}

var env = func() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("change.kind", cel.StringType),
		cel.Variable("change.stream", cel.StringType),
		cel.Variable("change.namespace", cel.StringType),
		cel.Variable("change.field", cel.StringType),
		cel.Variable("change.path", cel.ListType(cel.StringType)),
		cel.Variable("change.old_type", cel.StringType),
		cel.Variable("change.new_type", cel.StringType),
		cel.Variable("change.breaking", cel.BoolType),
		cel.Variable("change.airbyte_breaking", cel.BoolType),
		cel.Variable("change.risk", cel.StringType),
		cel.Variable("connection.id", cel.StringType),
		cel.Variable("connection.name", cel.StringType),
		cel.Variable("connection.source_type", cel.StringType),
		cel.Variable("connection.labels", cel.MapType(cel.StringType, cel.StringType)),
	)
	if err != nil {
		panic(err)
	}
	return e
}()

// costLimit bounds one expression's evaluation.
const costLimit = 10_000

// CompileExpr compiles one when expression; the error is the compiler's
// message, or says that the expression does not return a boolean.
func CompileExpr(expr string) (cel.Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("when is empty")
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("when must return a bool, not %s", ast.OutputType())
	}
	return env.Program(ast, cel.CostLimit(costLimit))
}

// Compile checks and compiles a policy at version. Every problem is
// reported, each naming its rule, wrapped in ErrInvalidPolicy.
func Compile(p Policy, version int) (*Compiled, error) {
	c := &Compiled{Policy: p, Version: version, streams: map[string][]compiledRule{}}
	var errs []error
	compileList := func(scope string, rules []Rule) []compiledRule {
		out := make([]compiledRule, 0, len(rules))
		seen := map[string]bool{}
		for i, r := range rules {
			name := fmt.Sprintf("%s rule %d", scope, i+1)
			if r.ID != "" {
				name = fmt.Sprintf("%s rule %q", scope, r.ID)
			}
			switch {
			case r.ID == "":
				errs = append(errs, fmt.Errorf("%s: id is empty", name))
			case seen[r.ID]:
				errs = append(errs, fmt.Errorf("%s: id is used twice", name))
			}
			seen[r.ID] = true
			if !r.Action.Valid() {
				errs = append(errs, fmt.Errorf("%s: action %q is not propagate, ignore, pause or require_approval", name, r.Action))
			}
			prg, err := CompileExpr(r.When)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				continue
			}
			out = append(out, compiledRule{Rule: r, prg: prg})
		}
		return out
	}
	c.rules = compileList("connection", p.Rules)
	for _, s := range slices.Sorted(maps.Keys(p.Streams)) {
		if s == "" {
			errs = append(errs, errors.New("a stream override has no stream name"))
		}
		c.streams[s] = compileList("stream "+s, p.Streams[s])
	}
	if err := p.Health.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(errs...))
	}
	return c, nil
}

// MustCompile compiles a policy known to be valid, such as DefaultPolicy.
func MustCompile(p Policy, version int) *Compiled {
	c, err := Compile(p, version)
	if err != nil {
		panic(err)
	}
	return c
}

func (in Inputs) activation() map[string]any {
	labels := in.Connection.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	path := in.Change.Field
	if path == nil {
		path = []string{}
	}
	return map[string]any{
		"change.kind":             string(in.Change.Kind),
		"change.stream":           in.Change.Stream,
		"change.namespace":        in.Change.Namespace,
		"change.field":            in.Change.FieldPath(),
		"change.path":             path,
		"change.old_type":         in.Change.OldType,
		"change.new_type":         in.Change.NewType,
		"change.breaking":         in.Change.Breaking,
		"change.airbyte_breaking": in.Change.AirbyteBreaking,
		"change.risk":             string(in.Change.Risk),
		"connection.id":           in.Connection.ID,
		"connection.name":         in.Connection.Name,
		"connection.source_type":  in.Connection.SourceType,
		"connection.labels":       labels,
	}
}

// Decide returns the decision for one change: the first matching rule of
// the change's stream override ("namespace.name", then "name"), then of the
// connection's rules; require_approval when none matches.
func (c *Compiled) Decide(conn Connection, ch Change) Decision {
	in := Inputs{Change: ch, Connection: conn}
	d := Decision{Action: ActionRequireApproval, PolicyVersion: c.Version, Inputs: in, Scope: "none"}
	act := in.activation()
	type scoped struct {
		scope string
		rules []compiledRule
	}
	var lists []scoped
	if ch.Namespace != "" {
		if rs, ok := c.streams[ch.Namespace+"."+ch.Stream]; ok {
			lists = append(lists, scoped{"stream:" + ch.Namespace + "." + ch.Stream, rs})
		}
	}
	if rs, ok := c.streams[ch.Stream]; ok {
		lists = append(lists, scoped{"stream:" + ch.Stream, rs})
	}
	lists = append(lists, scoped{"connection", c.rules})
	for _, l := range lists {
		for _, r := range l.rules {
			v, _, err := r.prg.Eval(act)
			if err != nil {
				d.Errors = append(d.Errors, r.ID+": "+err.Error())
				continue
			}
			if b, ok := v.Value().(bool); ok && b {
				d.Action, d.RuleID, d.Scope = r.Action, r.ID, l.scope
				return d
			}
		}
	}
	return d
}

// DecideAll decides every change of a drift. The outcome's action is the
// most severe of them (pause, require_approval, propagate, ignore); its
// rule the first decision with that action. A drift without changes is
// ignored.
func (c *Compiled) DecideAll(conn Connection, changes []Change) Outcome {
	o := Outcome{Action: ActionIgnore, PolicyVersion: c.Version, Decisions: make([]Decision, 0, len(changes))}
	top := -1
	for _, ch := range changes {
		d := c.Decide(conn, ch)
		o.Decisions = append(o.Decisions, d)
		if severity[d.Action] > top {
			top, o.Action, o.RuleID = severity[d.Action], d.Action, d.RuleID
		}
	}
	return o
}

// Actions lists the valid actions, sorted.
func Actions() []string {
	out := make([]string, 0, len(severity))
	for a := range severity {
		out = append(out, string(a))
	}
	sort.Strings(out)
	return out
}
