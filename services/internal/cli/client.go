package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/pkg/config"
	reg "github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/observer"
)

// clientFlags are the connection and output flags of the client commands.
// Every flag falls back to an environment variable, read when the command
// runs (so that secrets never show in --help).
type clientFlags struct {
	natsURL     string // NATS_URL
	natsUser    string // NATS_USER
	natsCreds   string // NATS_CREDS
	gatewayURL  string // AAM_GATEWAY_URL
	token       string // AAM_GATEWAY_TOKEN
	databaseURL string // DATABASE_URL
	output      string
}

const (
	outputHuman = "human"
	outputJSON  = "json"
)

// addOutputFlag adds -o/--output.
func (f *clientFlags) addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.output, "output", "o", outputHuman, "output format: human or json")
}

// addNATSFlags adds the flags of commands that talk to NATS.
func (f *clientFlags) addNATSFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.natsURL, "nats-url", "", "NATS server URLs, comma-separated (default $NATS_URL, else nats://127.0.0.1:4222)")
	fl.StringVar(&f.natsUser, "nats-user", "", "NATS user (default $NATS_USER)")
	fl.StringVar(&f.natsCreds, "nats-creds", "", "NATS credentials file (default $NATS_CREDS); NATS_PASSWORD and NATS_INBOX_PREFIX are read from the environment")
	f.addOutputFlag(cmd)
}

// addRegistryFlags adds the flags of commands that read the registry.
func (f *clientFlags) addRegistryFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.gatewayURL, "gateway", "", "read through the gateway at this URL (default $AAM_GATEWAY_URL)")
	fl.StringVar(&f.token, "token", "", "bearer token for the gateway (default $AAM_GATEWAY_TOKEN)")
	fl.StringVar(&f.databaseURL, "database-url", "", "read PostgreSQL at this URL when no gateway is set (default $DATABASE_URL)")
	f.addOutputFlag(cmd)
}

func (f *clientFlags) validateOutput() error {
	switch f.output {
	case outputHuman, outputJSON:
		return nil
	}
	return fmt.Errorf("--output %q: want human or json", f.output)
}

// natsConfig is the shared NATS configuration (pkg/config: NATS_URL,
// NATS_USER, NATS_PASSWORD, NATS_CREDS, NATS_INBOX_PREFIX) with the flags
// given over it.
func (f *clientFlags) natsConfig() (config.NATS, error) {
	c, err := config.Parse[config.NATS]()
	if err != nil {
		return c, err
	}
	c.URL = cmp.Or(f.natsURL, c.URL)
	c.User = cmp.Or(f.natsUser, c.User)
	c.CredsFile = cmp.Or(f.natsCreds, c.CredsFile)
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// connectNATS connects to NATS for one command, with the options every AAM
// process takes from the shared configuration (app.NATSOptions).
func (f *clientFlags) connectNATS() (*nats.Conn, jetstream.JetStream, error) {
	c, err := f.natsConfig()
	if err != nil {
		return nil, nil, err
	}
	opts := append([]nats.Option{nats.Name("aam-cli"), nats.Timeout(5 * time.Second), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond)}, app.NATSOptions(c)...)
	nc, err := nats.Connect(strings.TrimSpace(c.URL), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w (set --nats-url or NATS_URL)", redactURL(c.URL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

func redactURL(raw string) string {
	var out []string
	for _, s := range strings.Split(raw, ",") {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil {
			out = append(out, u.Redacted())
		} else {
			out = append(out, "(unparseable)")
		}
	}
	return strings.Join(out, ",")
}

// source is the CloudEvent source of requests the CLI publishes: it names
// the user, so ids chosen with --id are scoped to them.
func source() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return "/aam/cli/" + url.PathEscape(name)
}

// errNotFound is what both registry readers return for a missing row.
var errNotFound = errors.New("not found")

// registryReader reads the registry: through the gateway, or directly from
// PostgreSQL.
type registryReader interface {
	// Connections lists every connection, or those of a health when set.
	Connections(ctx context.Context, health reg.HealthFilter) ([]gateway.Connection, error)
	Connection(ctx context.Context, id string) (gateway.Connection, error)
	Versions(ctx context.Context, id string) ([]gateway.CatalogVersion, error)
	Version(ctx context.Context, id string, n int) (gateway.CatalogVersion, error)
	Jobs(ctx context.Context, id string, limit int) ([]gateway.Job, error)
	Drifts(ctx context.Context, id string) ([]gateway.Drift, error)
	Health(ctx context.Context, id string) (gateway.ConnectionHealth, error)
	Stats(ctx context.Context, id string, limit int) ([]gateway.JobStats, error)
	Close()
}

// DefaultGatewayURL is where `aam dev` (and so `make run`) serves the
// gateway; the registry commands read through it when nothing else is set.
const DefaultGatewayURL = "http://127.0.0.1:8080"

// reader opens the registry reader the flags and environment choose: the
// gateway when --gateway or AAM_GATEWAY_URL is set, else PostgreSQL at
// DATABASE_URL when --database-url or DATABASE_URL is set, else the gateway
// at DefaultGatewayURL.
func (f *clientFlags) reader(ctx context.Context) (registryReader, error) {
	g := cmp.Or(f.gatewayURL, os.Getenv("AAM_GATEWAY_URL"))
	db := cmp.Or(f.databaseURL, os.Getenv("DATABASE_URL"))
	defaulted := g == "" && db == ""
	if defaulted {
		g = DefaultGatewayURL
	}
	if g != "" {
		u, err := url.Parse(g)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("gateway URL %q is not an http(s) URL", g)
		}
		return &gatewayReader{base: strings.TrimRight(g, "/"), token: cmp.Or(f.token, os.Getenv("AAM_GATEWAY_TOKEN")),
			client: &http.Client{Timeout: 30 * time.Second}, defaulted: defaulted}, nil
	}
	cfg, err := pgxpool.ParseConfig(db)
	if err != nil {
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL URL")
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["application_name"] = "aam-cli"
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &dbReader{pool: pool, store: reg.NewStore(pool)}, nil
}

// gatewayReader reads the registry through the gateway's /v1 routes.
type gatewayReader struct {
	base, token string
	client      *http.Client
	// defaulted is true when no address was given and base is
	// DefaultGatewayURL: an error then says how to choose another.
	defaulted bool
}

func (g *gatewayReader) Close() {}

func (g *gatewayReader) get(ctx context.Context, path string, out any) error {
	return g.call(ctx, http.MethodGet, path, out)
}

func (g *gatewayReader) call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, nil)
	if err != nil {
		return err
	}
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		if g.defaulted {
			return fmt.Errorf("no gateway answers at %s, where `make run` serves it: start the stack, or set --gateway (AAM_GATEWAY_URL) or DATABASE_URL: %w", g.base, err)
		}
		return fmt.Errorf("gateway: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e gateway.Error
		_ = json.Unmarshal(body, &e)
		msg := cmp.Or(e.Error, http.StatusText(resp.StatusCode))
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %s", errNotFound, msg)
		}
		return fmt.Errorf("gateway answered %d: %s", resp.StatusCode, msg)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("gateway: unexpected answer: %w", err)
	}
	return nil
}

func (g *gatewayReader) Connections(ctx context.Context, health reg.HealthFilter) ([]gateway.Connection, error) {
	var all []gateway.Connection
	next := ""
	for {
		path := "/v1/connections?limit=1000"
		if health != "" {
			path += "&health=" + url.QueryEscape(string(health))
		}
		if next != "" {
			path += "&after=" + url.QueryEscape(next)
		}
		var page gateway.ConnectionList
		if err := g.get(ctx, path, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Connections...)
		if page.Next == "" {
			return all, nil
		}
		next = page.Next
	}
}

func (g *gatewayReader) Connection(ctx context.Context, id string) (gateway.Connection, error) {
	var c gateway.Connection
	return c, g.get(ctx, "/v1/connections/"+url.PathEscape(id), &c)
}

func (g *gatewayReader) Versions(ctx context.Context, id string) ([]gateway.CatalogVersion, error) {
	var l gateway.CatalogVersionList
	return l.Versions, g.get(ctx, "/v1/connections/"+url.PathEscape(id)+"/catalog/versions", &l)
}

func (g *gatewayReader) Version(ctx context.Context, id string, n int) (gateway.CatalogVersion, error) {
	var v gateway.CatalogVersion
	return v, g.get(ctx, fmt.Sprintf("/v1/connections/%s/catalog/versions/%d", url.PathEscape(id), n), &v)
}

func (g *gatewayReader) Jobs(ctx context.Context, id string, limit int) ([]gateway.Job, error) {
	var l gateway.JobList
	return l.Jobs, g.get(ctx, fmt.Sprintf("/v1/connections/%s/jobs?limit=%d", url.PathEscape(id), limit), &l)
}

func (g *gatewayReader) Drifts(ctx context.Context, id string) ([]gateway.Drift, error) {
	var l gateway.DriftList
	return l.Drifts, g.get(ctx, "/v1/connections/"+url.PathEscape(id)+"/drifts", &l)
}

// CheckDrift asks the gateway for an on-demand drift check.
func (g *gatewayReader) CheckDrift(ctx context.Context, id string, wait time.Duration) (observer.CheckReply, error) {
	var r observer.CheckReply
	return r, g.call(ctx, http.MethodPost, fmt.Sprintf("/v1/connections/%s/drift/check?wait=%s", url.PathEscape(id), wait), &r)
}

func (g *gatewayReader) Health(ctx context.Context, id string) (gateway.ConnectionHealth, error) {
	var h gateway.ConnectionHealth
	return h, g.get(ctx, "/v1/connections/"+url.PathEscape(id)+"/health", &h)
}

func (g *gatewayReader) Stats(ctx context.Context, id string, limit int) ([]gateway.JobStats, error) {
	var l gateway.StatsList
	return l.Jobs, g.get(ctx, fmt.Sprintf("/v1/connections/%s/stats?limit=%d", url.PathEscape(id), limit), &l)
}

// Request reads a request's state, waiting up to wait for its answer.
func (g *gatewayReader) Request(ctx context.Context, id string, wait time.Duration) (gateway.RequestStatus, error) {
	var st gateway.RequestStatus
	return st, g.get(ctx, fmt.Sprintf("/v1/requests/%s?wait=%s", url.PathEscape(id), wait), &st)
}

// dbReader reads the registry from PostgreSQL.
type dbReader struct {
	pool  *pgxpool.Pool
	store *reg.Store
}

func (d *dbReader) Close() { d.pool.Close() }

func dbErr(err error, what string) error {
	if reg.IsNotFound(err) {
		return fmt.Errorf("%w: %s", errNotFound, what)
	}
	return err
}

func (d *dbReader) Connections(ctx context.Context, health reg.HealthFilter) ([]gateway.Connection, error) {
	var all []gateway.Connection
	p := reg.ConnectionListParams{Limit: 1000, Health: health}
	for {
		page, err := d.store.ConnectionList(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			all = append(all, gateway.ConnectionFrom(c))
		}
		if len(page) < p.Limit {
			return all, nil
		}
		p.AfterCreatedAt, p.AfterID = page[len(page)-1].CreatedAt, page[len(page)-1].ID
	}
}

func (d *dbReader) Connection(ctx context.Context, id string) (gateway.Connection, error) {
	c, err := d.store.ConnectionGet(ctx, id)
	if err != nil {
		return gateway.Connection{}, dbErr(err, "connection "+id)
	}
	return gateway.ConnectionFrom(c), nil
}

func (d *dbReader) Health(ctx context.Context, id string) (gateway.ConnectionHealth, error) {
	h, err := gateway.ReadHealth(ctx, d.store, id)
	return h, dbErr(err, "connection "+id)
}

func (d *dbReader) Stats(ctx context.Context, id string, limit int) ([]gateway.JobStats, error) {
	if _, err := d.Connection(ctx, id); err != nil {
		return nil, err
	}
	jobs, err := d.store.StatsList(ctx, id, limit)
	return jobs, dbErr(err, "connection "+id)
}

func (d *dbReader) Versions(ctx context.Context, id string) ([]gateway.CatalogVersion, error) {
	if _, err := d.Connection(ctx, id); err != nil {
		return nil, err
	}
	vs, err := d.store.CatalogVersionList(ctx, id)
	if err != nil {
		return nil, dbErr(err, "connection "+id)
	}
	out := make([]gateway.CatalogVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, gateway.CatalogVersionFrom(v, false))
	}
	return out, nil
}

func (d *dbReader) Version(ctx context.Context, id string, n int) (gateway.CatalogVersion, error) {
	v, err := d.store.CatalogVersionGet(ctx, id, n)
	if err != nil {
		return gateway.CatalogVersion{}, dbErr(err, fmt.Sprintf("catalog version %d of connection %s", n, id))
	}
	return gateway.CatalogVersionFrom(v, true), nil
}

func (d *dbReader) Drifts(ctx context.Context, id string) ([]gateway.Drift, error) {
	if _, err := d.Connection(ctx, id); err != nil {
		return nil, err
	}
	list, err := d.store.DriftList(ctx, id)
	if err != nil {
		return nil, dbErr(err, "connection "+id)
	}
	out := make([]gateway.Drift, 0, len(list))
	for _, dr := range list {
		out = append(out, gateway.DriftFrom(dr))
	}
	return out, nil
}

func (d *dbReader) Jobs(ctx context.Context, id string, limit int) ([]gateway.Job, error) {
	if _, err := d.Connection(ctx, id); err != nil {
		return nil, err
	}
	jobs, err := d.store.JobListByConnection(ctx, id, limit)
	if err != nil {
		return nil, dbErr(err, "connection "+id)
	}
	out := make([]gateway.Job, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, gateway.JobFrom(j))
	}
	return out, nil
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func envToken() string { return os.Getenv("AAM_GATEWAY_TOKEN") }
