package observability

import (
	"os"
	"path/filepath"
	"testing"
)

func TestColourOnlyOnATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if colour(f) {
		t.Error("a regular file gets colour")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		t.Logf("no terminal to check the positive case: %v", err)
		return
	}
	defer tty.Close()
	t.Setenv("NO_COLOR", "")
	if !colour(tty) {
		t.Error("a terminal gets no colour")
	}
	t.Setenv("NO_COLOR", "1")
	if colour(tty) {
		t.Error("NO_COLOR is ignored")
	}
}
