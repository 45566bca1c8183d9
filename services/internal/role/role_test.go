package role

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// servicesDir is services/, the folder of every binary.
const servicesDir = "../.."

// TestEveryBinaryIsARole checks that the binaries and the role
// descriptions are the same set: every services/<name>/main.go but the
// command line's (aam) runs role.Main on the role named <name>, and every
// role of All has such a binary. A role given a binary but left out of
// All, or described but given no binary, fails here; `aam dev` runs every
// role of All (TestDevStackAnswersTheSeedRequests in package cli checks it).
func TestEveryBinaryIsARole(t *testing.T) {
	t.Parallel()
	byIdent := allByIdent(t)
	mains, err := filepath.Glob(filepath.Join(servicesDir, "*", "main.go"))
	require.NoError(t, err)
	var binaries []string
	for _, path := range mains {
		dir := filepath.Base(filepath.Dir(path))
		if dir == "aam" {
			continue
		}
		binaries = append(binaries, dir)
		ident := mainRole(t, path)
		r, ok := byIdent[ident]
		require.True(t, ok, "%s: role.%s is not in All", path, ident)
		require.Equal(t, dir, r.Name, "%s runs role.%s", path, ident)
		require.Equal(t, "aam-"+dir, r.Binary())
	}
	var names []string
	for _, r := range All() {
		names = append(names, r.Name)
	}
	require.ElementsMatch(t, binaries, names, "services/*/main.go and role.All")
	require.Len(t, names, len(slices.Compact(slices.Sorted(slices.Values(names)))), "role names are unique")
}

// allByIdent maps the identifiers listed in All's body to the roles All
// returns, in the same order.
func allByIdent(t *testing.T) map[string]Role {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "roles.go", nil, 0)
	require.NoError(t, err)
	var idents []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "All" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if lit, ok := n.(*ast.CompositeLit); ok {
				for _, e := range lit.Elts {
					idents = append(idents, e.(*ast.Ident).Name)
				}
				return false
			}
			return true
		})
		return false
	})
	all := All()
	require.Len(t, idents, len(all), "All's body lists every role by name")
	m := map[string]Role{}
	for i, id := range idents {
		m[id] = all[i]
	}
	return m
}

// mainRole returns X of the role.Main(role.X) that path's main function
// consists of.
func mainRole(t *testing.T, path string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := parser.ParseFile(token.NewFileSet(), path, src, 0)
	require.NoError(t, err)
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "main" {
			continue
		}
		require.Len(t, fn.Body.List, 1, "%s: main is role.Main(role.X) alone", path)
		call := fn.Body.List[0].(*ast.ExprStmt).X.(*ast.CallExpr)
		require.Equal(t, "role.Main", selector(call.Fun), path)
		require.Len(t, call.Args, 1, path)
		sel, ok := call.Args[0].(*ast.SelectorExpr)
		require.True(t, ok, "%s: role.Main takes a role of package role", path)
		require.Equal(t, "role", sel.X.(*ast.Ident).Name, path)
		return sel.Sel.Name
	}
	t.Fatalf("%s has no main function", path)
	return ""
}

func selector(e ast.Expr) string {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	return x.Name + "." + sel.Sel.Name
}

// environ is the smallest environment every role's binary starts with.
func environ(kv ...string) map[string]string {
	m := map[string]string{
		"DATABASE_URL":           "postgres://aam:aam@db:5432/aam",
		"AAM_SECRET_KEY":         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"AIRBYTE_WORKSPACE_ID":   emulator.DefaultWorkspaceID,
		"AIRBYTE_DESTINATION_ID": emulator.DefaultDestinationID,
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestSettingsAreTheBinariesSettings checks that, from one environment,
// every role's settings parsed for a single-process stack are the ones its
// binary parses: both ways of running a role read the same variables.
func TestSettingsAreTheBinariesSettings(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		environ(),
		environ("ONBOARDING_CONCURRENCY", "7", "ONBOARDING_ACK_WAIT", "2s", "SYNC_CONCURRENCY", "9",
			"REPAIR_TIMEOUT", "3m", "OBSERVER_INTERVAL", "45s", "OBSERVER_HEAL", "non_breaking",
			"GATEWAY_ADDR", "127.0.0.1:18080", "GATEWAY_TOKENS", "a,b", "CREDENTIALS_REQUEST_TIMEOUT", "4s",
			"EMULATOR_JOBS", "instant"),
	} {
		s, err := ParseSettings(env)
		require.NoError(t, err)
		for _, r := range All() {
			cfg, err := r.ParseConfig(env)
			require.NoError(t, err, r.Name)
			require.Equal(t, r.partOf(cfg), r.settingOf(&s), r.Name)
		}
	}
	s, err := ParseSettings(environ("OBSERVER_INTERVAL", "45s", "ONBOARDING_ACK_WAIT", "2s"))
	require.NoError(t, err)
	require.Equal(t, 45*time.Second, s.Observer.Interval)
	require.Equal(t, 2*time.Second, s.Onboarding.AckWait)
}

// TestParseSettingsNamesTheRoleAndTheVariable checks the errors of a bad
// environment.
func TestParseSettingsNamesTheRoleAndTheVariable(t *testing.T) {
	t.Parallel()
	_, err := ParseSettings(environ("OBSERVER_INTERVAL", "soon", "GATEWAY_MAX_BODY_BYTES", "10"))
	require.ErrorContains(t, err, "schema-observer: configuration: OBSERVER_INTERVAL")
	require.ErrorContains(t, err, "gateway: configuration: GATEWAY_MAX_BODY_BYTES")

	env := environ()
	delete(env, "AAM_SECRET_KEY")
	_, err = ParseSettings(env)
	require.ErrorContains(t, err, "credential-broker: configuration:")
	require.ErrorContains(t, err, "AAM_SECRET_KEY")
	_, err = CredentialBroker.ParseConfig(env)
	require.ErrorContains(t, err, "AAM_SECRET_KEY")
}

// TestSharedStopsLastFirst checks the order of Shared.Stop.
func TestSharedStopsLastFirst(t *testing.T) {
	t.Parallel()
	var s Shared
	var got []int
	s.OnStop(func() { got = append(got, 1) })
	s.OnStop(func() { got = append(got, 2) })
	s.Stop()
	s.Stop()
	require.Equal(t, []int{2, 1}, got)
}
