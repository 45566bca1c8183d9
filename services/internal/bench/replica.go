package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// replica is the Go rendering of the prototype-style sync route, used
// when the Python replica (pyreplica.go) cannot run or when asked for: like the seed's FastAPI
// orchestrator, POST /connections/{id}/sync reads the connection from the
// registry, calls Airbyte's POST /jobs on the request's own time, records
// the job in a job table and answers with it. No queue, no coalescing, no
// admission control: one Airbyte call per HTTP request. It runs in the
// benchmark's process, on the registry database and the emulator of the
// aam dev under test, so that both answer the same clients on the same
// machine.
type replica struct {
	db    *pgxpool.Pool
	hc    *http.Client
	emu   string
	token string
	srv   *http.Server
	addr  string
}

// Pool sizes of the prototype's stack: SQLAlchemy's default pool (5 plus
// an overflow of 10) and httpx's default keep-alive connections (20).
const (
	replicaDBConns   = 15
	replicaHTTPConns = 20
)

// startReplica serves the replica on a free local port.
func startReplica(ctx context.Context, dbURL, emu string) (*replica, error) {
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = replicaDBConns
	db, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	r := &replica{db: db, emu: emu,
		hc: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: replicaHTTPConns, MaxConnsPerHost: replicaHTTPConns}}}
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS replica_job_history (
		id bigserial PRIMARY KEY, connection_id uuid NOT NULL, airbyte_job_id bigint NOT NULL,
		status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		r.close()
		return nil, err
	}
	// The prototype's OAuth2 client takes a token once and keeps it.
	if r.token, err = r.getToken(ctx); err != nil {
		r.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.close()
		return nil, err
	}
	r.addr = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connections/{id}/sync", r.sync)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *replica) url() string { return r.addr }

func (r *replica) cpu() time.Duration { return 0 }

func (r *replica) logs() string { return "" }

func (r *replica) close() {
	if r.srv != nil {
		_ = r.srv.Close()
	}
	r.db.Close()
	r.hc.CloseIdleConnections()
}

func (r *replica) getToken(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"client_id": "aam-local", "client_secret": "aam-local-secret", "grant-type": "client_credentials"})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := r.call(ctx, "/api/public/v1/applications/token", "", body, &tok); err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("replica: no access token from %s", r.emu)
	}
	return tok.AccessToken, nil
}

// call POSTs body to the emulator and decodes a 200 answer into out.
func (r *replica) call(ctx context.Context, path, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.emu+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// sync is the route: registry read, Airbyte call, registry write, answer.
func (r *replica) sync(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	id := req.PathValue("id")
	var abConn *string
	if err := r.db.QueryRow(ctx, `SELECT airbyte_connection_id FROM connections WHERE id = $1`, id).Scan(&abConn); err != nil || abConn == nil {
		http.Error(w, `{"detail":"Connection not found"}`, http.StatusNotFound)
		return
	}
	body, _ := json.Marshal(map[string]string{"connectionId": *abConn, "jobType": "sync"})
	var job struct {
		JobID  int64  `json:"jobId"`
		Status string `json:"status"`
	}
	if err := r.call(ctx, "/api/public/v1/jobs", r.token, body, &job); err != nil {
		http.Error(w, fmt.Sprintf(`{"detail":%q}`, err.Error()), http.StatusInternalServerError)
		return
	}
	if _, err := r.db.Exec(ctx, `INSERT INTO replica_job_history (connection_id, airbyte_job_id, status) VALUES ($1, $2, $3)`,
		id, job.JobID, job.Status); err != nil {
		http.Error(w, `{"detail":"registry write failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"connection_id": id, "job_id": fmt.Sprint(job.JobID), "status": "triggered",
		"message": "Sync job started successfully"})
}
