package bench

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pythonReplicaApp is the prototype-style orchestrator (FastAPI +
// SQLAlchemy + httpx, one uvicorn process) the seed route is compared
// with.
//
//go:embed replica/app.py
var pythonReplicaApp []byte

// PythonModules are the Python packages the replica imports; Debian ships
// them as python3-fastapi, python3-uvicorn, python3-httpx,
// python3-sqlalchemy and python3-psycopg2 (deploy/local/bench-replica.sh
// installs them).
var PythonModules = []string{"fastapi", "uvicorn", "httpx", "sqlalchemy", "psycopg2"}

// Replica kinds (Config.Replica).
const (
	// ReplicaAuto is the Python replica, or the Go one when Python or its
	// packages are missing.
	ReplicaAuto   = "auto"
	ReplicaPython = "python"
	ReplicaGo     = "go"
)

// seedReplica is a running prototype-style sync route.
type seedReplica interface {
	url() string
	// cpu is the processor time the replica's own process has used (0
	// for the Go replica, which runs in the load generator).
	cpu() time.Duration
	// logs is what the replica's process wrote to its standard error.
	logs() string
	close()
}

// startSeedReplica starts the replica cfg.Replica asks for and says which
// one runs.
func startSeedReplica(ctx context.Context, cfg Config, emu string) (seedReplica, string, error) {
	kind := cfg.Replica
	if kind == "" {
		kind = ReplicaAuto
	}
	if kind != ReplicaGo {
		r, label, err := startPythonReplica(ctx, cfg, emu)
		if err == nil {
			return r, label, nil
		}
		if kind == ReplicaPython {
			return nil, "", err
		}
		fmt.Fprintf(cfg.Out, "Python replica unavailable (%v); falling back to the Go replica\n", err)
		r2, gerr := startReplica(ctx, cfg.DatabaseURL, emu)
		return r2, "Go replica of the prototype's route (fallback: Python replica unavailable)", gerr
	}
	r, err := startReplica(ctx, cfg.DatabaseURL, emu)
	return r, "Go replica of the prototype's route (net/http + pgx in the load generator's process)", err
}

// pythonInterpreter is the interpreter the Debian packages belong to:
// BENCH_PYTHON, else /usr/bin/python3, else python3 on the PATH.
func pythonInterpreter() string {
	if p := os.Getenv("BENCH_PYTHON"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// pyReplica is the Python replica's process.
type pyReplica struct {
	cmd  *exec.Cmd
	dir  string
	addr string
	errs *bytes.Buffer
}

func (r *pyReplica) url() string { return r.addr }

func (r *pyReplica) logs() string { return r.errs.String() }

func (r *pyReplica) cpu() time.Duration {
	return procCPU(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
}

func (r *pyReplica) close() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
		_ = r.cmd.Wait()
	}
	_ = os.RemoveAll(r.dir)
}

// startPythonReplica writes the replica's app to a temporary folder and
// runs it on a free port, on the registry and the emulator of the aam dev
// under test.
func startPythonReplica(ctx context.Context, cfg Config, emu string) (*pyReplica, string, error) {
	py := pythonInterpreter()
	check := exec.CommandContext(ctx, py, "-c",
		"import "+strings.Join(PythonModules, ", ")+"; print(fastapi.__version__, uvicorn.__version__, httpx.__version__, sqlalchemy.__version__)")
	vers, err := check.CombinedOutput()
	if err != nil {
		return nil, "", fmt.Errorf("%s cannot import %s: %s", py, strings.Join(PythonModules, ", "), lastLine(string(vers), err))
	}
	v := strings.Fields(string(vers))
	for len(v) < 4 {
		v = append(v, "?")
	}
	dir, err := os.MkdirTemp("", "aam-bench-replica-")
	if err != nil {
		return nil, "", err
	}
	r := &pyReplica{dir: dir, errs: &bytes.Buffer{}}
	app := filepath.Join(dir, "app.py")
	if err := os.WriteFile(app, pythonReplicaApp, 0o644); err != nil {
		r.close()
		return nil, "", err
	}
	ports, err := FreePorts(1)
	if err != nil {
		r.close()
		return nil, "", err
	}
	r.addr = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(py, app, "--host", "127.0.0.1", "--port", strconv.Itoa(ports[0]),
		"--database-url", cfg.DatabaseURL, "--airbyte-url", emu)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.close()
		return nil, "", err
	}
	cmd.Stderr = r.errs
	if err := cmd.Start(); err != nil {
		r.close()
		return nil, "", err
	}
	r.cmd = cmd
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.TrimSpace(sc.Text()) == "ready" {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			r.close()
			return nil, "", fmt.Errorf("the Python replica exited: %s", tail(r.errs.String(), 10))
		}
	case <-time.After(30 * time.Second):
		r.close()
		return nil, "", errors.New("the Python replica did not start within 30 s: " + tail(r.errs.String(), 10))
	case <-ctx.Done():
		r.close()
		return nil, "", ctx.Err()
	}
	label := fmt.Sprintf("Python replica of the prototype (FastAPI %s, uvicorn %s, SQLAlchemy %s, httpx %s; one process, pid %d)",
		v[0], v[1], v[3], v[2], cmd.Process.Pid)
	return r, label, nil
}

func lastLine(s string, err error) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if l := lines[len(lines)-1]; l != "" {
		return l
	}
	return err.Error()
}
