package deploy

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// composeFile is the part of a compose file the tests look at.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Restart  string   `yaml:"restart"`
	Profiles []string `yaml:"profiles"`
	Volumes  []string `yaml:"volumes"`
	ReadOnly bool     `yaml:"read_only"`
	CapDrop  []string `yaml:"cap_drop"`
	Ports    []string `yaml:"ports"`
}

// dockerCompose runs Debian's docker-compose on the repository's compose file
// with .env.example, in an environment that holds nothing else, and returns
// its standard output. A missing docker-compose fails the test.
func dockerCompose(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose is not installed (it validates docker-compose.yml): " +
			"run deploy/scripts/install-test-tools.sh (Debian package docker-compose)")
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := append([]string{
		"--project-directory", root,
		"--env-file", filepath.Join(root, ".env.example"),
		"--file", filepath.Join(root, "docker-compose.yml"),
	}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	// Only .env.example may supply values: no variable of the caller's shell.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

func TestComposeConfigAcceptsEnvExample(t *testing.T) {
	t.Parallel()
	for _, profile := range []string{"", "local"} {
		t.Run("profile="+cmp.Or(profile, "default"), func(t *testing.T) {
			t.Parallel()
			var args []string
			if profile != "" {
				args = append(args, "--profile", profile)
			}
			stdout, stderr := dockerCompose(t, append(args, "config")...)
			// Every variable the file uses is documented in .env.example.
			assert.NotContains(t, stderr, "variable is not set", "docker-compose warned:\n%s", stderr)

			var cf composeFile
			require.NoError(t, yaml.Unmarshal([]byte(stdout), &cf), "docker-compose config output")
			for _, r := range append(slices.Clone(roles), role{Name: "migrate"}, role{Name: "nats"}, role{Name: "postgres"}) {
				assert.Contains(t, cf.Services, r.Name)
			}
			// With the local profile the emulator is part of the stack; in
			// every case it only exists under that profile.
			emu, ok := cf.Services[emulator.Name]
			if profile == "local" {
				require.True(t, ok, "the local profile starts the Airbyte emulator")
			}
			if ok {
				assert.Equal(t, []string{"local"}, emu.Profiles)
			}
			// Values come from .env.example, resolved.
			assert.Equal(t, "nats://nats:4222", cf.Services["gateway"].Environment["NATS_URL"])
			assert.Equal(t, envExample(t)["GATEWAY_NATS_PASSWORD"], cf.Services["gateway"].Environment["NATS_PASSWORD"])

			services, _ := dockerCompose(t, append(args, "config", "--services")...)
			assert.Contains(t, strings.Fields(services), "gateway")
		})
	}
}

// envExample parses .env.example (KEY=VALUE lines, # comments).
func envExample(t testing.TB) map[string]string {
	t.Helper()
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, ".env.example")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf(".env.example: not KEY=VALUE: %q", line)
		}
		vars[k] = v
	}
	return vars
}

var composeVarRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}`)

// TestComposeFile checks the compose file's shape without docker-compose:
// every role, health checks, restart policies, start order, the emulator
// only under the local profile, and each role's NATS user.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	text := readFile(t, "docker-compose.yml")
	var cf composeFile
	require.NoError(t, yaml.Unmarshal([]byte(text), &cf))

	env := envExample(t)
	t.Run("variables", func(t *testing.T) {
		used := map[string]bool{}
		for _, m := range composeVarRe.FindAllStringSubmatch(text, -1) {
			used[m[1]] = true
			if m[2] == "" {
				assert.Contains(t, env, m[1], "docker-compose.yml uses ${%s} without a default: document it in .env.example", m[1])
			}
		}
		for k := range env {
			assert.True(t, used[k], ".env.example documents %s, which docker-compose.yml does not use", k)
		}
	})

	t.Run("infrastructure", func(t *testing.T) {
		nats := cf.Services["nats"]
		assert.True(t, strings.HasPrefix(nats.Image, "${NATS_IMAGE:-nats:"), "official nats image: %s", nats.Image)
		assert.Contains(t, strings.Join(nats.Command, " "), "/etc/aam-nats/dev.conf")
		assert.Contains(t, nats.Volumes, "./deploy/nats:/etc/aam-nats:ro")
		assert.Contains(t, nats.Volumes, "nats-data:/data", "JetStream on a persistent volume")
		require.NotNil(t, nats.Healthcheck)
		assert.Contains(t, strings.Join(nats.Healthcheck.Test, " "), "/healthz?js-enabled-only=true")
		for _, u := range natsUsers {
			assert.Contains(t, nats.Environment, passwordVar(u), "the server needs every user's password")
		}

		pg := cf.Services["postgres"]
		assert.Contains(t, pg.Image, "postgres:15")
		require.NotNil(t, pg.Healthcheck)
		assert.Contains(t, strings.Join(pg.Healthcheck.Test, " "), "pg_isready")
		assert.Contains(t, pg.Volumes, "postgres-data:/var/lib/postgresql/data")
		assert.Contains(t, cf.Volumes, "nats-data")
		assert.Contains(t, cf.Volumes, "postgres-data")

		mig := cf.Services["migrate"]
		assert.Equal(t, []string{"aam", "migrate", "up"}, mig.Command)
		assert.Equal(t, "no", mig.Restart, "migrate runs once")
		assert.Equal(t, "service_healthy", mig.DependsOn["nats"].Condition)
		assert.Equal(t, "service_healthy", mig.DependsOn["postgres"].Condition)
		assert.Equal(t, "admin", mig.Environment["NATS_USER"], "migrate provisions the streams")
	})

	for _, r := range append(slices.Clone(roles), emulator) {
		t.Run(r.Name, func(t *testing.T) {
			s, ok := cf.Services[r.Name]
			require.True(t, ok, "service %s", r.Name)
			assert.Equal(t, "${AAM_IMAGE:-aam:latest}", s.Image, "one image for every role")
			assert.Equal(t, []string{r.Binary}, s.Command, "the command chooses the role")
			assert.Equal(t, "unless-stopped", s.Restart)
			assert.True(t, s.ReadOnly, "read-only root filesystem")
			assert.Equal(t, []string{"ALL"}, s.CapDrop)

			require.NotNil(t, s.Healthcheck, "health check")
			probe := "/readyz"
			if r == emulator {
				probe = "/healthz"
			}
			assert.Equal(t, []string{"CMD", "aam", "healthcheck", fmt.Sprintf("http://127.0.0.1:%d%s", r.Port, probe)}, s.Healthcheck.Test)

			if r == emulator {
				assert.Equal(t, []string{"local"}, s.Profiles, "the emulator only runs with --profile local")
				assert.Equal(t, "0.0.0.0:8000", s.Environment["EMULATOR_ADDR"])
				return
			}
			assert.Empty(t, s.Profiles, "roles run in every profile")
			assert.Equal(t, "service_completed_successfully", s.DependsOn["migrate"].Condition)
			assert.Equal(t, "service_healthy", s.DependsOn["nats"].Condition)
			assert.Equal(t, "service_healthy", s.DependsOn["postgres"].Condition)
			assert.NotContains(t, s.DependsOn, emulator.Name, "a role must start without the local profile")

			e := s.Environment
			assert.Equal(t, r.NATSUser, e["NATS_USER"])
			assert.Equal(t, "${"+passwordVar(r.NATSUser)+"}", e["NATS_PASSWORD"])
			assert.Equal(t, r.InboxPrefix(), e["NATS_INBOX_PREFIX"])
			assert.Equal(t, "${DATABASE_URL}", e["DATABASE_URL"])
			assert.Equal(t, "1", e["NATS_STREAM_REPLICAS"], "one NATS node")
			if r.Name == "gateway" {
				assert.Equal(t, "0.0.0.0:8080", e["GATEWAY_ADDR"])
			} else {
				assert.Equal(t, "0.0.0.0:9090", e["HTTP_ADDR"])
			}
			if r.Airbyte {
				assert.Equal(t, "${AIRBYTE_API_URL}", e["AIRBYTE_API_URL"])
				assert.Contains(t, e, "AIRBYTE_CLIENT_SECRET")
			} else {
				assert.NotContains(t, e, "AIRBYTE_CLIENT_SECRET", "only Airbyte roles get Airbyte credentials")
			}
			// Secrets go to the one role that needs them.
			assert.Equal(t, r.Name == "credential-broker", e["AAM_SECRET_KEY"] != "", "AAM_SECRET_KEY")
			assert.Equal(t, r.Name == "gateway", e["GATEWAY_TOKENS"] != "", "GATEWAY_TOKENS")
			assert.Equal(t, r.Name == "onboarding", e["AIRBYTE_DESTINATION_ID"] != "", "AIRBYTE_DESTINATION_ID")
		})
	}

	t.Run("admin password", func(t *testing.T) {
		for name, s := range cf.Services {
			if name == "nats" || name == "migrate" {
				continue
			}
			for k, v := range s.Environment {
				assert.NotContains(t, v, "ADMIN_NATS_PASSWORD", "%s.%s: only migrate uses the admin user", name, k)
			}
		}
	})
}
