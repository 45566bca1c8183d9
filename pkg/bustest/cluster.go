package bustest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is an in-process JetStream cluster on 127.0.0.1.
type Cluster struct {
	t       testing.TB
	Name    string
	Servers []*server.Server
	opts    []*server.Options
}

// NewCluster starts n JetStream servers clustered over fixed route ports on
// 127.0.0.1 (chosen free, outside the ephemeral port range, as nats-server's
// own tests do) with random client ports, and waits until the cluster has a
// meta leader and n peers. Every server is shut down when the test ends.
func NewCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{t: tb, Name: fmt.Sprintf("aam-test-%d", rand.IntN(1_000_000))}
	ports := freePorts(tb, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	for i := range n {
		o := &server.Options{
			ServerName:         fmt.Sprintf("n%d", i+1),
			Host:               "127.0.0.1",
			Port:               -1,
			JetStream:          true,
			StoreDir:           tb.TempDir(),
			JetStreamMaxMemory: 64 << 20,
			JetStreamMaxStore:  4 << 30,
			NoSigs:             true,
			NoLog:              true,
			Cluster:            server.ClusterOpts{Name: c.Name, Host: "127.0.0.1", Port: ports[i]},
			Routes:             server.RoutesFromStr(strings.Join(routes, ",")),
		}
		c.opts = append(c.opts, o)
	}
	for i := range n {
		c.Servers = append(c.Servers, c.start(i))
	}
	tb.Cleanup(c.Shutdown)
	c.WaitReady()
	return c
}

func (c *Cluster) start(i int) *server.Server {
	c.t.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatalf("bustest: cluster node %d: %v", i+1, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		c.t.Fatalf("bustest: cluster node %d not ready", i+1)
	}
	return s
}

// URLs returns the client URLs of the running servers, comma-separated.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers {
		if s != nil && s.Running() {
			urls = append(urls, s.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// WaitReady waits until a running server is meta leader with every running
// server as a peer.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range c.Servers {
			if s != nil && s.Running() && s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) >= c.running() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("bustest: cluster %s has no meta leader", c.Name)
}

func (c *Cluster) running() int {
	n := 0
	for _, s := range c.Servers {
		if s != nil && s.Running() {
			n++
		}
	}
	return n
}

// StreamLeader returns the index of the server leading stream (in the
// default account), waiting up to 30 s for one.
func (c *Cluster) StreamLeader(stream string) int {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for i, s := range c.Servers {
			if s != nil && s.Running() && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
				return i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("bustest: no leader for stream %s", stream)
	return -1
}

// Stop shuts server i down (gracefully: it hands its leaderships over).
func (c *Cluster) Stop(i int) {
	s := c.Servers[i]
	if s == nil {
		return
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts server i again with its store and ports.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	c.Servers[i] = c.start(i)
}

// Shutdown stops every server.
func (c *Cluster) Shutdown() {
	for i := range c.Servers {
		c.Stop(i)
	}
}

// freePorts returns n free TCP ports in 20000-29999 (below Linux's ephemeral
// range, so that clients do not take them meanwhile).
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var out []int
	seen := map[int]bool{}
	for tries := 0; len(out) < n && tries < 1000; tries++ {
		p := 20000 + rand.IntN(10000)
		if seen[p] {
			continue
		}
		seen[p] = true
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		out = append(out, p)
	}
	if len(out) < n {
		tb.Fatalf("bustest: no free cluster ports")
	}
	return out
}
