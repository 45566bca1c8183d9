package deploy

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// role describes one deployable AAM role as every deployment file must
// present it.
type role struct {
	Name     string // compose service, Kubernetes component (Deployment aam-<Name>)
	Binary   string // executable in the image
	Dir      string // main package: services/<Dir>
	NATSUser string // user in nats/accounts.conf ("" for the emulator)
	Port     int    // port of /healthz, /readyz and /metrics in containers
	Worker   bool   // durable consumer on AAM_REQUESTS: HPA in Kubernetes
	Airbyte  bool   // calls the Airbyte API
}

// Consumer is the worker's durable consumer name, Filter its subject.
func (r role) Consumer() string { return r.Name }

func (r role) Filter() string {
	if r.Name == "onboarding" {
		return "aam.requests.connection.onboard"
	}
	return "aam.requests.connection." + r.Name
}

// InboxPrefix is the private inbox prefix of the role's NATS user.
func (r role) InboxPrefix() string { return "_INBOX_" + r.NATSUser }

var roles = []role{
	{Name: "gateway", Binary: "aam-gateway", Dir: "gateway", NATSUser: "gateway", Port: 8080},
	{Name: "onboarding", Binary: "aam-onboarding", Dir: "onboarding", NATSUser: "onboarding", Port: 9090, Worker: true, Airbyte: true},
	{Name: "sync", Binary: "aam-sync", Dir: "sync", NATSUser: "sync", Port: 9090, Worker: true, Airbyte: true},
	{Name: "repair", Binary: "aam-repair", Dir: "repair", NATSUser: "repair", Port: 9090, Worker: true, Airbyte: true},
	{Name: "credential-broker", Binary: "aam-credential-broker", Dir: "credential-broker", NATSUser: "broker", Port: 9090},
	{Name: "schema-observer", Binary: "aam-schema-observer", Dir: "schema-observer", NATSUser: "observer", Port: 9090, Airbyte: true},
}

var emulator = role{Name: "airbyte-emulator", Binary: "aam-airbyte-emulator", Dir: "airbyte-emulator", Port: 8000}

// binaries maps every executable the image must contain to its main package
// folder under services/.
var binaries = map[string]string{
	"aam":                   "aam",
	"aam-gateway":           "gateway",
	"aam-onboarding":        "onboarding",
	"aam-sync":              "sync",
	"aam-repair":            "repair",
	"aam-credential-broker": "credential-broker",
	"aam-schema-observer":   "schema-observer",
	"aam-airbyte-emulator":  "airbyte-emulator",
}

func roleByName(name string) (role, bool) {
	for _, r := range roles {
		if r.Name == name {
			return r, true
		}
	}
	if name == emulator.Name {
		return emulator, true
	}
	return role{}, false
}

// natsUsers are the users of nats/accounts.conf, passwords holds the
// password of each for this test run; TestMain exports them as the
// *_NATS_PASSWORD variables the configuration reads.
var (
	natsUsers = []string{"gateway", "onboarding", "sync", "repair", "broker", "observer", "admin", "sys"}
	passwords = map[string]string{}
)

func passwordVar(user string) string { return strings.ToUpper(user) + "_NATS_PASSWORD" }

func TestMain(m *testing.M) {
	for _, u := range natsUsers {
		// Letters and digits, starting with a letter: nats-server parses an
		// environment value like a configuration value.
		passwords[u] = "p" + rand.Text()
		if err := os.Setenv(passwordVar(u), passwords[u]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	// cluster.conf takes its node name from the environment.
	if err := os.Setenv("NATS_SERVER_NAME", "nats-1"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// repoRoot is the repository root (the parent of deploy/).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Dir(filepath.Dir(file))
}

func readFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return string(b)
}
