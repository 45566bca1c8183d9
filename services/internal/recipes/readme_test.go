package recipes_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// TestREADMEEmulatorWalk runs the README's curl walk through the seed's flow
// (token → source → discover → connection → job → job status) against a
// running emulator, exactly as written but for the port.
func TestREADMEEmulatorWalk(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"curl", "jq", "script"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is needed to run the README's walk (deploy/scripts/install-test-tools.sh installs it)", tool)
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), "<!-- recipe: emulator-walk -->\n```sh\n")
	require.True(t, ok, "README.md has no emulator-walk recipe")
	walk, _, ok := strings.Cut(after, "\n```")
	require.True(t, ok)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	emu := emulator.New(emulator.DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- emu.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	base := "http://" + ln.Addr().String()
	require.Contains(t, walk, "BASE=http://127.0.0.1:8000")
	walk = strings.Replace(walk, "BASE=http://127.0.0.1:8000", "BASE="+base, 1)
	sh := &shell{t: t, dir: t.TempDir(), env: os.Environ()}
	out := ansi.ReplaceAllString(sh.run(walk+"\n"), "")

	require.Contains(t, out, `"client_secret":"**********"`, "secrets come back masked")
	require.Contains(t, out, `"name":"Account"`, "discover lists the Salesforce streams")
	require.Contains(t, out, `"status": "pending"`, "a new job is pending")
	require.Contains(t, out, `"status": "succeeded"`, "the job succeeds")
	require.Contains(t, out, `"attempts":[{"id":0,"status":"succeeded"`, "the configuration API shows the attempt")
	jobs := emu.Jobs()
	require.Len(t, jobs, 1)
	require.Len(t, emu.Connections(), 1)
}

// ansi matches terminal colour sequences (jq colours its output under the
// pseudo-terminal the recipes run in).
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")
