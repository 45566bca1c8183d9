package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dockerInstruction is one Dockerfile instruction with its continuation
// lines joined.
type dockerInstruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, USER, ARG, ...
	Args string
}

type dockerStage struct {
	From         string
	Name         string
	Instructions []dockerInstruction
}

func parseDockerfile(t *testing.T, text string) []dockerStage {
	t.Helper()
	var (
		stages []dockerStage
		line   strings.Builder
	)
	flush := func() {
		s := strings.TrimSpace(line.String())
		line.Reset()
		if s == "" {
			return
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := dockerInstruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := dockerStage{}
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					st.Name = f[i+1]
					i++
				case st.From == "":
					st.From = f[i]
				}
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			require.Equal(t, "ARG", in.Cmd, "only ARG may come before the first FROM: %s", s)
			return
		}
		stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
	}
	for _, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") && line.Len() == 0 {
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // comment inside a continued instruction
		}
		if strings.HasSuffix(trimmed, "\\") {
			line.WriteString(strings.TrimSuffix(trimmed, "\\"))
			line.WriteString(" ")
			continue
		}
		line.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

// workspaceModules lists the folders of go.work's use directive.
func workspaceModules(t *testing.T) []string {
	t.Helper()
	var mods []string
	inUse := false
	for _, l := range strings.Split(readFile(t, "go.work"), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "use ("):
			inUse = true
		case inUse && l == ")":
			inUse = false
		case inUse && l != "":
			mods = append(mods, strings.TrimPrefix(l, "./"))
		case strings.HasPrefix(l, "use "):
			mods = append(mods, strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(l, "use ")), "./"))
		}
	}
	require.NotEmpty(t, mods, "go.work lists no module")
	return mods
}

var buildLineRe = regexp.MustCompile(`\bbuild\s+(aam[a-z-]*)\s+([a-z-]+)\s*(;|$)`)

func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, readFile(t, "Dockerfile"))
	require.GreaterOrEqual(t, len(stages), 2, "multi-stage build")

	var build *dockerStage
	for i := range stages {
		if stages[i].Name == "build" {
			build = &stages[i]
		}
	}
	require.NotNil(t, build, "a stage named build")
	final := stages[len(stages)-1]

	t.Run("binaries", func(t *testing.T) {
		var runs []string
		for _, in := range build.Instructions {
			if in.Cmd == "RUN" {
				runs = append(runs, in.Args)
			}
		}
		all := strings.Join(runs, "\n")
		built := map[string]string{}
		for _, m := range buildLineRe.FindAllStringSubmatch(all, -1) {
			built[m[1]] = m[2]
		}
		assert.Equal(t, binaries, built, "every role's binary is built from its services/ folder")
		assert.Contains(t, all, `go build -trimpath -ldflags "$ldflags" -o "/out/$1" "./services/$2"`)
		assert.Contains(t, all, `ldflags="-s -w -X ${VERSION_VAR}=${VERSION}"`)

		env := map[string]string{}
		args := map[string]string{}
		for _, in := range build.Instructions {
			switch in.Cmd {
			case "ENV":
				for _, kv := range strings.Fields(in.Args) {
					k, v, _ := strings.Cut(kv, "=")
					env[k] = v
				}
			case "ARG":
				k, v, _ := strings.Cut(in.Args, "=")
				args[k] = v
			}
		}
		assert.Equal(t, "0", env["CGO_ENABLED"], "static binaries")
		assert.Equal(t, "github.com/aam-mesh/aam/pkg/buildinfo.Version", args["VERSION_VAR"])
		assert.Contains(t, args, "VERSION")

		// Folders that exist already hold a main package.
		for bin, dir := range binaries {
			path := filepath.Join(repoRoot(t), "services", dir, "main.go")
			b, err := os.ReadFile(path)
			if os.IsNotExist(err) {
				t.Logf("%s: services/%s/main.go not written yet", bin, dir)
				continue
			}
			require.NoError(t, err)
			assert.Regexp(t, `(?m)^package main$`, string(b), "services/%s is a main package", dir)
		}
	})

	t.Run("workspace", func(t *testing.T) {
		var copies []string
		for _, in := range build.Instructions {
			if in.Cmd == "COPY" {
				copies = append(copies, in.Args)
			}
		}
		all := strings.Join(copies, "\n")
		assert.Contains(t, all, "go.work go.work.sum ./")
		ignore := readFile(t, ".dockerignore")
		for _, mod := range workspaceModules(t) {
			// go.work needs every module's go.mod, or the build fails.
			assert.Contains(t, all, mod+"/go.mod "+mod+"/go.sum "+mod+"/", "COPY of %s's module files", mod)
			assert.True(t, strings.Contains(ignore, "\n!"+mod+"/\n") || strings.Contains(ignore, "\n!"+mod+"/go.mod\n"),
				".dockerignore lets %s in", mod)
		}
		for _, dir := range []string{"events", "schemas", "migrations", "pkg", "services"} {
			assert.Contains(t, copies, dir+"/ "+dir+"/", "sources of %s", dir)
		}
	})

	t.Run("runtime", func(t *testing.T) {
		assert.True(t, strings.HasPrefix(final.From, "gcr.io/distroless/static") || final.From == "scratch",
			"minimal final image: %s", final.From)
		var user string
		var copied bool
		for _, in := range final.Instructions {
			switch in.Cmd {
			case "USER":
				user = in.Args
			case "COPY":
				copied = copied || strings.Contains(in.Args, "--from=build /out/ /usr/local/bin/")
			}
		}
		assert.True(t, copied, "the binaries go to /usr/local/bin (on PATH)")
		require.NotEmpty(t, user, "the final stage sets USER")
		uid, gid, _ := strings.Cut(user, ":")
		for _, id := range []string{uid, gid} {
			n, err := strconv.Atoi(id)
			require.NoError(t, err, "numeric USER (Kubernetes runAsNonRoot checks a numeric uid): %s", user)
			assert.NotZero(t, n, "non-root USER")
		}
	})
}
