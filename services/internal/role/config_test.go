package role_test

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/services/internal/role"
)

// roleEnv is the least environment every role starts with.
var roleEnv = map[string]string{
	"DATABASE_URL":           "postgres://aam:aam@127.0.0.1:5432/aam",
	"AIRBYTE_WORKSPACE_ID":   "744cc0ed-7f05-4949-9e60-2a814f90c035",
	"AIRBYTE_DESTINATION_ID": "e478de0d-a3a0-475c-b019-25f7dd29e281",
	"AAM_SECRET_KEY":         "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}

// TestConfigErrorsNameTheVariable sets each variable of every role's
// configuration, in turn, to a value it cannot take, and checks that the
// error names that variable and no other. Several blocks of one role have
// fields of the same name (AIRBYTE_TIMEOUT and ONBOARDING_TIMEOUT are both
// Timeout), so a variable named by its Go field would be the wrong one.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	roles := map[string]roleConfig{
		// aam dev reads every role's settings from one environment.
		"aam dev": {
			parse: func(environ map[string]string) error { _, err := role.ParseSettings(environ); return err },
			typ:   reflect.TypeFor[role.Settings](),
		},
	}
	for _, r := range role.All() {
		cfg, err := r.ParseConfig(roleEnv)
		require.NoError(t, err, "%s: the least environment is valid", r.Name)
		roles[r.Name] = roleConfig{
			parse: func(environ map[string]string) error { _, err := r.ParseConfig(environ); return err },
			typ:   reflect.TypeOf(cfg),
		}
	}
	require.Len(t, roles, len(role.All())+1)
	for name, rc := range roles {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, rc.parse(roleEnv), "the least environment is valid")
			vars := envVars(rc.typ, "")
			collisions := 0
			byField := map[string]int{}
			for _, v := range vars {
				byField[v.field]++
			}
			for _, v := range vars {
				if byField[v.field] > 1 {
					collisions++
				}
				for _, value := range invalidValues(v.typ) {
					environ := maps.Clone(roleEnv)
					environ[v.key] = value
					err := rc.parse(environ)
					require.Error(t, err, "%s=%s", v.key, value)
					require.Contains(t, err.Error(), v.key, "%s=%s names the variable", v.key, value)
					for _, other := range vars {
						if other.key != v.key && other.field == v.field {
							require.NotContains(t, err.Error(), other.key+":", "%s=%s names no other variable", v.key, value)
						}
					}
				}
			}
			if strings.HasPrefix(rc.typ.Name(), "AirbyteRole[") {
				require.Positive(t, collisions, "the role has fields of the same name in two blocks")
			}
		})
	}
}

// roleConfig is a configuration type and its parser.
type roleConfig struct {
	parse func(environ map[string]string) error
	typ   reflect.Type
}

// envVar is one variable of a configuration.
type envVar struct {
	key, field string
	typ        reflect.Type
}

// envVars lists the variables of t as the env library reads them.
func envVars(t reflect.Type, prefix string) []envVar {
	var out []envVar
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, ok := f.Tag.Lookup("env"); ok && tag != "-" {
			if key, _, _ := strings.Cut(tag, ","); key != "" {
				out = append(out, envVar{key: prefix + key, field: f.Name, typ: f.Type})
				continue
			}
		}
		if f.Type.Kind() == reflect.Struct && f.IsExported() {
			out = append(out, envVars(f.Type, prefix+f.Tag.Get("envPrefix"))...)
		}
	}
	return out
}

// invalidValues are values a variable of type t cannot take: one that does
// not parse, and for a duration one that is negative.
func invalidValues(t reflect.Type) []string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return []string{"abc", "-1s"}
	case t.Kind() == reflect.Bool, t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return []string{"abc"}
	}
	return nil
}
