package recipes_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

// natsCLIVersion is the natscli release the recipes are written for.
const natsCLIVersion = "v0.5.0"

// seedConnectionID is the connection the recipes name (the seed README's).
const seedConnectionID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"

func TestNATSCLIRecipes(t *testing.T) {
	natsBin := natsCLI(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("script(1) runs the recipes under a terminal (nats stream view pages interactively); install util-linux (Debian: bsdutils)")
	}
	recipes := parseRecipes(t, filepath.Join(repoRoot(t), "docs", "nats-cli.md"))
	var names []string
	for n := range recipes {
		names = append(names, n)
	}
	sort.Strings(names)
	require.Equal(t, []string{"broker", "dlq-publish", "dlq-view", "onboard-binary", "repair-structured", "replay",
		"streams", "sync-binary", "watch"}, names, "every recipe in docs/nats-cli.md must be checked here, and only those")

	mesh := gatewaytest.Start(t)
	mesh.AddConnection(seedConnectionID, "Salesforce Production")
	mesh.StartBroker(credentials.Credential{ID: "salesforce-prod", Kind: "salesforce",
		Fields: map[string]any{"client_id": "aam-test-client-id", "client_secret": "aam-test-client-secret", "refresh_token": "aam-test-refresh-token"}})
	sh := &shell{t: t, dir: t.TempDir(), env: []string{
		"PATH=" + filepath.Dir(natsBin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"NATS_URL=" + mesh.URL(),
		"HOME=" + t.TempDir(), // no natscli contexts of the machine's user
		"TERM=dumb",
	}}
	ctx := context.Background()

	// Watch first, so that it sees the answers to every request below.
	watch := sh.start(recipes["watch"])
	watch.waitFor("Subscribing on aam.events.>")

	out := sh.run(recipes["onboard-binary"])
	require.Contains(t, out, "Stored in Stream: AAM_REQUESTS")
	require.Eventually(t, func() bool {
		cs, err := mesh.Store.ConnectionList(ctx, registry.ConnectionListParams{})
		require.NoError(t, err)
		for _, c := range cs {
			if c.RequestSource == "/cli/alice" && c.Status == registry.StatusActive {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the onboarding request was answered")

	out = sh.run(recipes["sync-binary"])
	require.Contains(t, out, "Stored in Stream: AAM_REQUESTS")
	require.NotContains(t, out, "Duplicate")
	out = sh.run(recipes["sync-binary"])
	require.Contains(t, out, "Duplicate: true", "the second publish of one id is a duplicate")
	require.Eventually(t, func() bool {
		facts, err := mesh.Store.OutboxByCorrelation(ctx, "nightly-sync-2025-01-15")
		require.NoError(t, err)
		return len(facts) == 2
	}, 10*time.Second, 20*time.Millisecond, "the sync started and ended")
	jobs, err := mesh.Store.JobListByConnection(ctx, seedConnectionID, 10)
	require.NoError(t, err)
	require.Len(t, jobs, 1, "one request, one job")

	out = sh.run(recipes["repair-structured"])
	require.Contains(t, out, "Stored in Stream: AAM_REQUESTS")
	require.Eventually(t, func() bool {
		v, err := mesh.Store.CatalogVersionLatest(ctx, seedConnectionID)
		return err == nil && v.VersionNumber == 2 && v.Reason == "keep Account only"
	}, 10*time.Second, 20*time.Millisecond, "the repair made catalog version 2")

	watch.waitFor("aam.events.connection.onboarded")
	watch.waitFor("aam.events.sync.started")
	watch.waitFor("ce-correlationid: nightly-sync-2025-01-15")
	watch.waitFor("aam.events.catalog.versioned")
	watch.stop()

	out = sh.run(recipes["replay"])
	for _, want := range []string{"aam.events.connection.onboarded", "aam.events.sync.succeeded", "aam.events.catalog.versioned"} {
		require.Contains(t, out, want)
	}

	out = sh.run(recipes["dlq-publish"])
	require.Contains(t, out, "Stored in Stream: AAM_REQUESTS")
	require.Eventually(t, func() bool {
		s, err := mesh.JS.Stream(ctx, bus.StreamDLQ)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		return info.State.Msgs == 1
	}, 10*time.Second, 20*time.Millisecond, "the invalid request was dead-lettered")
	out = sh.run(recipes["dlq-view"])
	require.Contains(t, out, "aam.dlq.connection.sync")
	require.Contains(t, out, "Aam-Dlq-Reason")
	require.Contains(t, out, "Aam-Dlq-Field: data.connection_id")
	require.Contains(t, out, `{"connection_id":"not-a-uuid"}`)

	out = sh.run(recipes["streams"])
	for _, want := range []string{"AAM_REQUESTS", "AAM_EVENTS", "AAM_DLQ", "onboarding", "repair", "sync", "aam.requests.connection.onboard", "aam.requests.connection.sync"} {
		require.Contains(t, out, want)
	}

	out = sh.run(recipes["broker"])
	for _, want := range []string{"aam-credentials", "aam.credentials.get", "aam.credentials.rotate", `"credential_id":"salesforce-prod"`} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "aam-test-client-secret", "no secret value is listed")
}

// natsCLI returns the natscli binary of natsCLIVersion: `nats` on PATH when
// it is that version, else the copy cached under $(go env GOCACHE)/../aam-tools,
// installed there from the Go module proxy when missing.
func natsCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats"); err == nil {
		if v, err := exec.Command(p, "--version").Output(); err == nil && strings.TrimSpace(string(v)) == natsCLIVersion {
			return p
		}
	}
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	require.NoError(t, err, "go env GOCACHE")
	dir := filepath.Join(filepath.Dir(strings.TrimSpace(string(gocache))), "aam-tools", "natscli-"+natsCLIVersion)
	bin := filepath.Join(dir, "nats")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	cmd := exec.Command("go", "install", "github.com/nats-io/natscli/nats@"+natsCLIVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the nats CLI %s is needed and could not be installed into %s: %v\n%s\n"+
			"install it by hand: GOBIN=%s go install github.com/nats-io/natscli/nats@%s", natsCLIVersion, dir, err, out, dir, natsCLIVersion)
	}
	return bin
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d
		}
		require.NotEqual(t, d, filepath.Dir(d), "no go.work above %s", wd)
	}
}

var recipeMarker = regexp.MustCompile(`^<!--\s*recipe:\s*([a-z0-9-]+)\s*-->$`)

// parseRecipes returns the named ```sh blocks of a document. Every ```sh
// block must be named by the comment on the line before it.
func parseRecipes(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	recipes := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		name := ""
		if i > 0 {
			if m := recipeMarker.FindStringSubmatch(strings.TrimSpace(lines[i-1])); m != nil {
				name = m[1]
			}
		}
		require.NotEmpty(t, name, "%s:%d: a ```sh block without a <!-- recipe: NAME --> line before it", path, i+1)
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		require.NotContains(t, recipes, name, "recipe %s is defined twice", name)
		recipes[name] = strings.Join(body, "\n") + "\n"
	}
	return recipes
}

// shell runs recipes with bash under a pseudo-terminal (script(1)), as a
// person at a terminal would: some natscli commands page interactively.
type shell struct {
	t   *testing.T
	dir string
	env []string
	n   int
}

func (s *shell) command(ctx context.Context, recipe string) *exec.Cmd {
	s.t.Helper()
	s.n++
	file := filepath.Join(s.dir, fmt.Sprintf("recipe-%d.sh", s.n))
	require.NoError(s.t, os.WriteFile(file, []byte("set -e\n"+recipe), 0o600))
	cmd := exec.CommandContext(ctx, "script", "-qec", "bash "+file, "/dev/null")
	cmd.Env = s.env
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// run runs a recipe to its end and returns its output.
func (s *shell) run(recipe string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.command(ctx, recipe).CombinedOutput()
	text := strings.ReplaceAll(string(out), "\r", "")
	require.NoError(s.t, err, "recipe:\n%s\noutput:\n%s", recipe, text)
	s.t.Logf("recipe:\n%soutput:\n%s", recipe, text)
	return text
}

// background is a recipe that runs until stopped.
type background struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
	cancel context.CancelFunc
}

func (s *shell) start(recipe string) *background {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{t: s.t, cmd: s.command(ctx, recipe), done: make(chan struct{}), cancel: cancel}
	pipe, err := b.cmd.StdoutPipe()
	require.NoError(s.t, err)
	b.cmd.Stderr = b.cmd.Stdout
	require.NoError(s.t, b.cmd.Start())
	go func() {
		defer close(b.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			b.mu.Lock()
			b.out.WriteString(strings.ReplaceAll(sc.Text(), "\r", "") + "\n")
			b.mu.Unlock()
		}
		_ = b.cmd.Wait()
	}()
	s.t.Cleanup(b.stop)
	return b
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

func (b *background) waitFor(s string) {
	b.t.Helper()
	require.Eventually(b.t, func() bool { return strings.Contains(b.output(), s) }, 15*time.Second, 20*time.Millisecond,
		"waiting for %q in:\n%s", s, b.output())
}

func (b *background) stop() {
	b.cancel()
	<-b.done
}
