package schemas_test

import (
	"testing"

	"github.com/aam-mesh/aam/schemas"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven char", 10, "eleven ch…"},
		{"äöüäöüäöüäöü", 5, "äöüä…"}, // characters, not bytes
	} {
		if got := schemas.Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
