package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/bench"
)

// proc is one process of the run: started from argv with env, its output
// appended to its log file, restartable after a kill.
type proc struct {
	name string
	argv []string
	env  []string
	log  string
	// ready, when set, is polled after a start until it answers 200.
	ready string

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when the current process has been waited for.
	exited chan struct{}
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C of the run reaches only the run,
	// which then stops what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	return nil
}

// waitReady polls the process's readiness URL.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration) error {
	if p.ready == "" {
		return nil
	}
	if err := bench.WaitReady(ctx, p.ready, timeout); err != nil {
		return fmt.Errorf("%s: %w (log %s)", p.name, err, p.log)
	}
	return nil
}

// signal sends sig to the process and waits (at most wait) for its end.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// kill9 kills the process with SIGKILL and waits for its end.
func (p *proc) kill9() { p.signal(syscall.SIGKILL, 10*time.Second) }

// stop asks the process to stop (SIGTERM), then kills it after 15 s.
func (p *proc) stop() { p.signal(syscall.SIGTERM, 15*time.Second) }

func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// postgres is a PostgreSQL cluster of the run's own, in its folder, on a
// free port and a unix socket in the folder.
type postgres struct {
	bin, data, sock, log string
	port                 int
	cred                 *syscall.Credential
}

// discoverTimeout is the run's AIRBYTE_DISCOVER_TIMEOUT: the longest a
// held Airbyte call that runs a discover keeps a request (5 min by
// default).
const discoverTimeout = 45 * time.Second

// pgBinDir is where Debian's PostgreSQL 15 keeps initdb and pg_ctl.
const pgBinDir = "/usr/lib/postgresql/15/bin"

func startPostgres(ctx context.Context, dir string) (*postgres, error) {
	ports, err := bench.FreePorts(1)
	if err != nil {
		return nil, err
	}
	pg := &postgres{bin: cmpOr(os.Getenv("PG_BIN"), pgBinDir), data: filepath.Join(dir, "pg", "data"),
		sock: filepath.Join(dir, "pg"), log: filepath.Join(dir, "logs", "postgres.log"), port: ports[0]}
	if err := os.MkdirAll(pg.sock, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(pg.log, nil, 0o644); err != nil {
		return nil, err
	}
	// initdb refuses to run as root: the cluster then belongs to the
	// postgres user.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user for the cluster: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, p := range []string{pg.sock, pg.log} {
			if err := os.Chown(p, uid, gid); err != nil {
				return nil, err
			}
		}
		// The run folder must be traversable by that user.
		_ = os.Chmod(dir, 0o755)
	}
	if err := pg.run(ctx, "initdb", "-D", pg.data, "-U", "aam", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	if err := pg.ctl(ctx, "start"); err != nil {
		return nil, err
	}
	return pg, nil
}

func (pg *postgres) run(ctx context.Context, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, tool), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: pg.cred}
	cmd.Dir = pg.sock
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w\n%s", tool, args, err, out)
	}
	return nil
}

// ctl runs pg_ctl action (start, stop or restart) with the cluster's
// options; restart and stop are immediate (a crash, recovered at start).
func (pg *postgres) ctl(ctx context.Context, action string) error {
	args := []string{"-D", pg.data, "-l", pg.log, "-w", "-t", "60", action}
	if action != "start" {
		args = append(args, "-m", "immediate")
	}
	if action != "stop" {
		args = append(args, "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses='' -c fsync=on -c max_connections=300", pg.port, pg.sock))
	}
	return pg.run(ctx, "pg_ctl", args...)
}

// url is the registry's DATABASE_URL.
func (pg *postgres) url() string {
	return fmt.Sprintf("postgres://aam@localhost:%d/postgres?host=%s&sslmode=disable", pg.port, pg.sock)
}

func (pg *postgres) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = pg.ctl(ctx, "stop")
}

// stack is every process of the run.
type stack struct {
	dir   string
	pg    *postgres
	nats  *proc
	emu   *proc
	roles []*proc
	all   []*proc

	natsURL, emuURL, gwURL string
}

func (s *stack) close() {
	var wg sync.WaitGroup
	for _, p := range s.all {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
	if s.pg != nil {
		s.pg.stop()
	}
}

// startStack starts PostgreSQL, NATS, the emulator, the migrations and
// every role (workers twice) as processes of their own under dir.
func startStack(ctx context.Context, cfg Config, dir string, creds credentialsOfRun) (*stack, error) {
	s := &stack{dir: dir}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	pg, err := startPostgres(ctx, dir)
	if err != nil {
		return s, err
	}
	s.pg = pg

	ports, err := bench.FreePorts(2 + 2*len(roleInstances()))
	if err != nil {
		return s, err
	}
	next := func() int { p := ports[0]; ports = ports[1:]; return p }
	natsAddr := fmt.Sprintf("127.0.0.1:%d", next())
	s.natsURL = "nats://" + natsAddr
	s.nats = &proc{name: "nats-server", log: filepath.Join(logs, "nats-server.log"),
		argv: []string{cfg.Binary, "chaos", "nats-server", "--addr", natsAddr, "--store-dir", filepath.Join(dir, "jetstream")},
		env:  os.Environ()}
	emuAddr := fmt.Sprintf("127.0.0.1:%d", next())
	s.emuURL = "http://" + emuAddr
	s.emu = &proc{name: "airbyte-emulator", log: filepath.Join(logs, "airbyte-emulator.log"), ready: s.emuURL + "/api/public/v1/health",
		argv: []string{cfg.Binary, "emulator", "--data-dir", filepath.Join(dir, "airbyte")},
		env: append(os.Environ(), "EMULATOR_ADDR="+emuAddr, "EMULATOR_JOBS="+cfg.EmulatorJobs, "LOG_FORMAT=json",
			"AIRBYTE_CLIENT_ID=aam-chaos", "AIRBYTE_CLIENT_SECRET="+creds.airbyteSecret,
			"EMULATOR_PUBLIC_API_THREADS=0", "EMULATOR_CONFIG_API_THREADS=0", "EMULATOR_MAX_SYNC_WORKERS=0")}
	for _, p := range []*proc{s.nats, s.emu} {
		s.all = append(s.all, p)
		if err := p.start(); err != nil {
			return s, err
		}
	}
	if err := waitNATS(ctx, s.natsURL, 30*time.Second); err != nil {
		return s, err
	}
	if err := s.emu.waitReady(ctx, 30*time.Second); err != nil {
		return s, err
	}

	common := append(os.Environ(),
		"DATABASE_URL="+pg.url(), "DATABASE_MAX_CONNS=8", "NATS_URL="+s.natsURL, "NATS_STREAM_REPLICAS=1",
		"LOG_FORMAT=json", "LOG_LEVEL=info", "AAM_SECRET_KEY="+creds.secretKey,
		"AIRBYTE_API_URL="+s.emuURL+"/api/public/v1", "AIRBYTE_CLIENT_ID=aam-chaos", "AIRBYTE_CLIENT_SECRET="+creds.airbyteSecret,
		"AIRBYTE_WORKSPACE_ID="+emulator.DefaultWorkspaceID, "AIRBYTE_DESTINATION_ID="+emulator.DefaultDestinationID, "AIRBYTE_RATE_LIMIT=-1",
		// The emulator's timeout fault holds calls until the client gives up:
		// a discover's 5 min bound would outlast the settle window.
		"AIRBYTE_DISCOVER_TIMEOUT="+discoverTimeout.String(),
		"SALESFORCE_CLIENT_ID=chaos-connected-app", "SALESFORCE_CLIENT_SECRET="+creds.sfSecret,
		"SALESFORCE_REFRESH_TOKEN="+creds.sfToken, "OBSERVER_INTERVAL=5s")
	migrate := exec.CommandContext(ctx, cfg.Binary, "migrate", "up")
	migrate.Env = common
	if out, err := migrate.CombinedOutput(); err != nil {
		return s, fmt.Errorf("aam migrate up: %w\n%s", err, out)
	}

	for _, ri := range roleInstances() {
		port := next()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		env := append(slicesClone(common), "HTTP_ADDR="+addr)
		ready := "http://" + addr + "/readyz"
		if ri.role == "gateway" {
			env = append(env, "GATEWAY_ADDR="+addr)
			s.gwURL = "http://" + addr
		}
		p := &proc{name: ri.name, log: filepath.Join(logs, ri.name+".log"), ready: ready,
			argv: []string{cfg.Binary, "role", ri.role}, env: env}
		s.roles = append(s.roles, p)
		s.all = append(s.all, p)
		if err := p.start(); err != nil {
			return s, err
		}
	}
	for _, p := range s.roles {
		if err := p.waitReady(ctx, 60*time.Second); err != nil {
			return s, err
		}
	}
	return s, nil
}

type roleInstance struct{ role, name string }

// roleInstances are the role processes of a run: two of each worker, one
// credential broker and one gateway.
func roleInstances() []roleInstance {
	var out []roleInstance
	for _, r := range []string{"onboarding", "sync", "repair", "schema-observer"} {
		for i := 1; i <= 2; i++ {
			out = append(out, roleInstance{r, fmt.Sprintf("%s-%d", r, i)})
		}
	}
	return append(out, roleInstance{"credential-broker", "credential-broker"}, roleInstance{"gateway", "gateway"})
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
