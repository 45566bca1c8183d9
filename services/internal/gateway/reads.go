package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/registry"
)

// registryError answers a failed registry read: 404 for a missing row, 503
// when PostgreSQL cannot be reached, 500 otherwise.
func (s *Server) registryError(w http.ResponseWriter, err error, what string) {
	switch {
	case registry.IsNotFound(err):
		writeError(w, http.StatusNotFound, Error{Error: what + " not found"})
	case registry.IsRetryable(err) || errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, Error{Error: "the registry (PostgreSQL) is not reachable"})
	default:
		s.log.Error("registry read failed", zap.String("what", what), zap.Error(err))
		writeError(w, http.StatusInternalServerError, Error{Error: "registry read failed"})
	}
}

// handleSeedConnections is the seed's GET /connections: every connection,
// in the seed's shape, oldest first.
func (s *Server) handleSeedConnections(w http.ResponseWriter, r *http.Request) {
	out := []SeedConnection{}
	p := registry.ConnectionListParams{Limit: 1000}
	for {
		page, err := s.store.ConnectionList(r.Context(), p)
		if err != nil {
			s.registryError(w, err, "connections")
			return
		}
		for _, c := range page {
			out = append(out, SeedConnectionFrom(c))
		}
		if len(page) < p.Limit {
			break
		}
		last := page[len(page)-1]
		p.AfterCreatedAt, p.AfterID = last.CreatedAt, last.ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleSeedConnection(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := s.store.ConnectionGet(r.Context(), id)
	if err != nil {
		s.registryError(w, err, "connection "+id)
		return
	}
	writeJSON(w, http.StatusOK, SeedConnectionFrom(c))
}

// handleConnections lists connections a page at a time: ?limit= (default
// 100, at most 1000), ?status=, ?health= (quarantined or warning) and
// ?after= (the previous page's next).
func (s *Server) handleConnections(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := registry.ConnectionListParams{Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("limit %q is not between 1 and 1000", v), Field: "limit"})
			return
		}
		p.Limit = n
	}
	if v := q.Get("status"); v != "" {
		st := registry.ConnectionStatus(strings.ToUpper(v))
		switch st {
		case registry.StatusPending, registry.StatusActive, registry.StatusFailed, registry.StatusHealing, registry.StatusPaused,
			registry.StatusDeleted, registry.StatusOrphaned, registry.StatusQuarantined:
			p.Status = st
		default:
			writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("status %q is not PENDING, ACTIVE, FAILED, HEALING, PAUSED, DELETED, ORPHANED or QUARANTINED", v), Field: "status"})
			return
		}
	}
	if v := q.Get("health"); v != "" {
		f, err := ParseHealthFilter(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, Error{Error: err.Error(), Field: "health"})
			return
		}
		p.Health = f
	}
	if v := q.Get("after"); v != "" {
		t, id, ok := decodeCursor(v)
		if !ok {
			writeError(w, http.StatusBadRequest, Error{Error: "after is not a cursor this gateway issued", Field: "after"})
			return
		}
		p.AfterCreatedAt, p.AfterID = t, id
	}
	page, err := s.store.ConnectionList(r.Context(), p)
	if err != nil {
		s.registryError(w, err, "connections")
		return
	}
	out := ConnectionList{Connections: make([]Connection, 0, len(page))}
	for _, c := range page {
		out.Connections = append(out.Connections, ConnectionFrom(c))
	}
	if len(page) == p.Limit {
		last := page[len(page)-1]
		out.Next = encodeCursor(last.CreatedAt, last.ID)
	}
	writeJSON(w, http.StatusOK, out)
}

// ParseHealthFilter reads a connection list's health filter: quarantined
// or warning, in any case.
func ParseHealthFilter(v string) (registry.HealthFilter, error) {
	switch f := registry.HealthFilter(strings.ToLower(v)); f {
	case registry.HealthQuarantined, registry.HealthWarning:
		return f, nil
	}
	return "", fmt.Errorf("health %q is not quarantined or warning", v)
}

func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "," + id))
}

func decodeCursor(c string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	ts, id, ok := strings.Cut(string(b), ",")
	if !ok {
		return time.Time{}, "", false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", false
	}
	return t, id, true
}

func (s *Server) handleConnection(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := s.store.ConnectionGet(r.Context(), id)
	if err != nil {
		s.registryError(w, err, "connection "+id)
		return
	}
	writeJSON(w, http.StatusOK, ConnectionFrom(c))
}

// connectionRows reads the rows of the path's connection with read (what
// names them in errors) and converts each with from. It answers the error
// itself, and returns false, when the connection is not registered or its
// rows cannot be read.
func connectionRows[Row, Out any](s *Server, w http.ResponseWriter, r *http.Request, what string,
	read func(ctx context.Context, id string) ([]Row, error), from func(Row) Out) ([]Out, bool) {
	id := r.PathValue("id")
	if _, err := s.store.ConnectionGet(r.Context(), id); err != nil {
		s.registryError(w, err, "connection "+id)
		return nil, false
	}
	rows, err := read(r.Context(), id)
	if err != nil {
		s.registryError(w, err, what+" of "+id)
		return nil, false
	}
	out := make([]Out, 0, len(rows))
	for _, row := range rows {
		out = append(out, from(row))
	}
	return out, true
}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) {
	vs, ok := connectionRows(s, w, r, "catalog versions", s.store.CatalogVersionList,
		func(v registry.CatalogVersion) CatalogVersion { return CatalogVersionFrom(v, false) })
	if ok {
		writeJSON(w, http.StatusOK, CatalogVersionList{Versions: vs})
	}
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	id, raw := r.PathValue("id"), r.PathValue("n")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("version %q is not a positive integer", raw), Field: "n"})
		return
	}
	v, err := s.store.CatalogVersionGet(r.Context(), id, n)
	if err != nil {
		s.registryError(w, err, fmt.Sprintf("catalog version %d of connection %s", n, id))
		return
	}
	writeJSON(w, http.StatusOK, CatalogVersionFrom(v, true))
}

// limitParam reads ?limit= (1 to 1000, def when absent); false when it
// answered 400.
func limitParam(w http.ResponseWriter, r *http.Request, def int) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("limit %q is not between 1 and 1000", v), Field: "limit"})
		return 0, false
	}
	return n, true
}

// handleJobs lists a connection's jobs, newest first (?limit=, default 100).
func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	limit, ok := limitParam(w, r, 100)
	if !ok {
		return
	}
	jobs, ok := connectionRows(s, w, r, "jobs", func(ctx context.Context, id string) ([]registry.Job, error) {
		return s.store.JobListByConnection(ctx, id, limit)
	}, JobFrom)
	if ok {
		writeJSON(w, http.StatusOK, JobList{Jobs: jobs})
	}
}

// DefaultStatsJobs is how many successful jobs GET .../stats lists when
// no limit is given.
const DefaultStatsJobs = 20

// handleStats lists the volume of a connection's successful jobs, newest
// first (?limit=, default 20).
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	limit, ok := limitParam(w, r, DefaultStatsJobs)
	if !ok {
		return
	}
	jobs, ok := connectionRows(s, w, r, "stats", func(ctx context.Context, id string) ([]JobStats, error) {
		return s.store.StatsList(ctx, id, limit)
	}, utcStats)
	if ok {
		writeJSON(w, http.StatusOK, StatsList{Jobs: jobs})
	}
}

func utcStats(j JobStats) JobStats {
	j.CompletedAt = utcPtr(j.CompletedAt)
	return j
}

// handleHealth answers a connection's health at a glance.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h, err := ReadHealth(r.Context(), s.store, id)
	if err != nil {
		s.registryError(w, err, "health of connection "+id)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// RecentJobs is how many of its last jobs a connection's health shows.
const RecentJobs = 10

// ReadHealth reads a connection's health at a glance from the registry:
// its row, its run of failures, its last RecentJobs jobs and its open
// volume anomalies.
func ReadHealth(ctx context.Context, store *registry.Store, id string) (ConnectionHealth, error) {
	c, err := store.ConnectionGet(ctx, id)
	if err != nil {
		return ConnectionHealth{}, err
	}
	h, err := store.HealthGet(ctx, id)
	if err != nil {
		return ConnectionHealth{}, err
	}
	jobs, err := store.JobListByConnection(ctx, id, RecentJobs)
	if err != nil {
		return ConnectionHealth{}, err
	}
	anomalies, err := store.AnomalyListOpen(ctx, id)
	if err != nil {
		return ConnectionHealth{}, err
	}
	return HealthFrom(c, h, jobs, anomalies), nil
}

// handleRequest reports a request's state from the registry: the answers
// recorded in the outbox under its correlationid, and its inbox entry.
// ?wait= blocks until an answer that completes it (sync.started, or with
// ?until=terminal the job's end) is recorded.
func (s *Server) handleRequest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	wo, werr := s.waitOptions(r, 0)
	if werr != nil {
		writeError(w, http.StatusBadRequest, *werr)
		return
	}
	if wo.wait > 0 {
		wt := s.hub.register(id)
		defer s.hub.unregister(wt)
		if wo.prefer {
			w.Header().Set("Preference-Applied", fmt.Sprintf("wait=%d", int(wo.wait.Seconds())))
		}
		s.await(r.Context(), wt, id, wo.untilTerminal, wo.wait, false)
	}
	facts, err := s.registryFacts(r.Context(), id)
	if err != nil {
		s.registryError(w, err, "request "+id)
		return
	}
	st := RequestStatus{RequestID: id, Status: RequestPending, Events: make([]json.RawMessage, 0, len(facts))}
	for _, f := range facts {
		st.Events = append(st.Events, structured(f))
		if FactState(f.Type()) == "" {
			continue
		}
		applyFact(&st, f)
	}
	if st.Type == "" {
		if entries, err := s.store.InboxGetByID(r.Context(), id); err == nil && len(entries) > 0 {
			st.Type = entries[0].Type
		}
	}
	writeJSON(w, http.StatusOK, st)
}

// applyFact moves a request status forward with one of its answers.
func applyFact(st *RequestStatus, f event.Event) {
	st.Status = FactState(f.Type())
	st.Outcome = structured(f)
	st.Type = firstNonEmpty(answeredType(f), st.Type)
	st.ConnectionID = firstNonEmpty(f.Subject(), st.ConnectionID)
	switch st.Status {
	case RequestFailed, RequestCancelled, RequestRejected:
		st.Reason = failureOf(f).reason
	default:
		st.Reason = ""
	}
	if f.Type() == events.TypeOnboarded && st.ConnectionID == "" {
		var d events.ConnectionOnboarded
		if json.Unmarshal(f.Data(), &d) == nil {
			st.ConnectionID = d.ID
		}
	}
}
