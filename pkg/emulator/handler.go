package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

const (
	publicPrefix = "/api/public/v1"
	configPrefix = "/api/v1"
	adminPrefix  = "/_emulator"
)

// apiFunc handles one API call: it returns the status and body to send, or an error
// (an *apiError is rendered as a problem; anything else as 500).
type apiFunc func(r *http.Request) (int, any, error)

// Handler returns the emulator's HTTP handler: the public API under
// /api/public/v1, the Configuration API under /api/v1 and the test controls under
// /_emulator (see the package documentation).
func (e *Emulator) Handler() http.Handler {
	api := http.NewServeMux()
	// Every route but health runs on its API's pool (see capacity.go).
	pub := func(pattern string, h apiFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		route := method + " " + publicPrefix + path
		api.Handle(route, e.serve(poolPublic, route, e.requireAuth(e.render(h, false))))
	}
	cfg := func(path string, h apiFunc) {
		route := "POST " + configPrefix + path
		api.Handle(route, e.serve(poolConfig, route, e.requireAuth(e.render(h, true))))
	}

	tokenRoute := "POST " + publicPrefix + "/applications/token"
	api.Handle(tokenRoute, e.serve(poolPublic, tokenRoute, http.HandlerFunc(e.handleToken)))
	configTokenRoute := "POST " + configPrefix + "/applications/token"
	api.Handle(configTokenRoute, e.serve(poolConfig, configTokenRoute, http.HandlerFunc(e.handleConfigToken)))
	api.HandleFunc("GET "+publicPrefix+"/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("Successful operation"))
	})

	pub("GET /workspaces", e.listWorkspaces)
	pub("GET /workspaces/{workspaceId}", e.getWorkspace)
	pub("GET /workspaces/{workspaceId}/definitions/sources", e.listSourceDefinitions)
	pub("GET /workspaces/{workspaceId}/definitions/sources/{definitionId}", e.getSourceDefinition)
	pub("GET /connector_definitions", e.listConnectorDefinitions)
	pub("POST /sources", e.createSource)
	pub("GET /sources", e.listSources)
	pub("GET /sources/{sourceId}", e.getSource)
	pub("PATCH /sources/{sourceId}", e.patchSource)
	pub("PUT /sources/{sourceId}", e.putSource)
	pub("DELETE /sources/{sourceId}", e.deleteSource)
	pub("GET /destinations", e.listDestinations)
	pub("GET /destinations/{destinationId}", e.getDestination)
	pub("GET /streams", e.getStreams)
	pub("POST /connections", e.createConnection)
	pub("GET /connections", e.listConnections)
	pub("GET /connections/{connectionId}", e.getConnection)
	pub("PATCH /connections/{connectionId}", e.patchConnection)
	pub("DELETE /connections/{connectionId}", e.deleteConnection)
	pub("POST /jobs", e.createJob)
	pub("GET /jobs", e.listJobs)
	pub("GET /jobs/{jobId}", e.getJob)
	pub("DELETE /jobs/{jobId}", e.cancelJob)

	cfg("/sources/discover_schema", e.configDiscover)
	cfg("/sources/create", e.configCreateSource)
	cfg("/sources/get", e.configGetSource)
	cfg("/source_definitions/list_for_workspace", e.configListSourceDefinitions)
	cfg("/connections/get", e.configGetConnection)
	cfg("/connections/update", e.configUpdateConnection)
	cfg("/connections/sync", e.configSync)
	cfg("/connections/reset", e.configReset)
	cfg("/connections/status", e.configConnectionStatus)
	cfg("/jobs/get", e.configGetJob)
	cfg("/jobs/list", e.configListJobs)
	cfg("/jobs/list_for_workspaces", e.configListJobsForWorkspaces)
	cfg("/jobs/cancel", e.configCancelJob)

	root := http.NewServeMux()
	root.Handle("/api/", e.injectFaults(e.notFoundFallback(api)))
	root.Handle(adminPrefix+"/", e.adminHandler())
	return e.logRequests(root)
}

// notFoundFallback answers unknown API routes with Airbyte-shaped bodies instead of
// the mux's text/plain 404/405.
func (e *Emulator) notFoundFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, publicPrefix) {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Page Not Found", "_links": map[string]any{"self": map[string]any{"href": r.URL.Path}}})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Page Not Found"})
	})
}

func (e *Emulator) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ce := e.log.Check(zap.DebugLevel, "request"); ce != nil {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			ce.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", sw.status), zap.Duration("elapsed", time.Since(start)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// render adapts an apiFunc to http.Handler for the public (configAPI false) or the
// Configuration API.
func (e *Emulator) render(h apiFunc, configAPI bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := h(r)
		// What the call changed is on disk before it is answered.
		if perr := e.persist(); perr != nil && err == nil {
			e.log.Error("airbyte emulator: persist state", zap.Error(perr))
			err = perr
		}
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = problem(probUnexpected, err.Error())
			}
			if configAPI {
				writeConfigError(w, ae, e.errorID())
			} else {
				writePublicProblem(w, ae)
			}
			return
		}
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	})
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

// decode reads a JSON body into v. Malformed JSON is a 400 bad-request on the
// public API and 422 on the Configuration API (InvalidJsonInputExceptionHandler).
func decode(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return problem(probBadRequest, "could not read body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return &apiError{kind: probBadRequest, message: "Request body is required", configStatus: 422}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &apiError{kind: probBadRequest, message: "Invalid JSON in request body: " + err.Error(), configStatus: 422}
	}
	return nil
}

// page holds parsed limit/offset.
type page struct{ limit, offset int }

func parsePage(q url.Values) (page, error) {
	p := page{limit: 20}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return p, problem(probBadRequest, "limit must be between 1 and 100")
		}
		p.limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, problem(probBadRequest, "offset must be 0 or greater")
		}
		p.offset = n
	}
	return p, nil
}

// listResponse is the public API's list envelope.
type listResponse struct {
	Previous string `json:"previous"`
	Next     string `json:"next"`
	Data     any    `json:"data"`
}

// answerOne answers a call on one record under e.mu: find looks it up, act
// (when not nil) changes it, and the view of the record is the answer; an
// error of find or act is the answer instead.
func answerOne[R, V any](e *Emulator, find func() (R, error), act func(R) error, view func(R) V) (int, any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec, err := find()
	if err == nil && act != nil {
		err = act(rec)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, view(rec), nil
}

// paginate slices items and builds the envelope with Airbyte's link rules
// (PaginationMapper.kt): next whenever the page is non-empty, previous whenever
// offset != 0, both "" otherwise. filters come first in the links, as Airbyte
// builds them.
func paginate[T any](e *Emulator, r *http.Request, resource string, items []T, p page, filters [][2]string) listResponse {
	var data []T
	if p.offset < len(items) {
		end := min(p.offset+p.limit, len(items))
		data = items[p.offset:end]
	}
	if data == nil {
		data = []T{}
	}
	host := e.cfg.APIHost
	if host == "" {
		host = "http://" + r.Host + "/api/public"
	}
	link := func(offset int) string {
		var b strings.Builder
		b.WriteString(host + "/v1/" + resource + "?")
		for _, kv := range filters {
			b.WriteString(url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1]) + "&")
		}
		b.WriteString("limit=" + strconv.Itoa(p.limit) + "&offset=" + strconv.Itoa(offset))
		return b.String()
	}
	resp := listResponse{Data: data}
	if len(data) > 0 {
		resp.Next = link(p.offset + p.limit)
	}
	if p.offset != 0 {
		resp.Previous = link(max(p.offset-p.limit, 0))
	}
	return resp
}

// boolQuery parses a boolean query parameter (default false).
func boolQuery(q url.Values, name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, problem(probBadRequest, "Invalid value for "+name+": "+s)
	}
	return b, nil
}

// multiQuery returns every value of a repeatable parameter, accepting both
// repeated keys and comma-joined values.
func multiQuery(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// epoch renders t as Airbyte's epoch seconds.
func epoch(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// isoTime renders t like Java's OffsetDateTime.toString() in UTC: seconds are
// dropped when they are zero ("2025-09-16T20:13Z").
func isoTime(t time.Time) string {
	t = t.UTC().Truncate(time.Second)
	if t.Second() == 0 {
		return t.Format("2006-01-02T15:04Z")
	}
	return t.Format("2006-01-02T15:04:05Z")
}

// isoDuration renders d like Java's Duration.toString() ("PT8H6M12S", "PT0S").
func isoDuration(d time.Duration) string {
	secs := int64(d / time.Second)
	if secs == 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := secs / 3600; h != 0 {
		b.WriteString(strconv.FormatInt(h, 10) + "H")
	}
	if m := (secs % 3600) / 60; m != 0 {
		b.WriteString(strconv.FormatInt(m, 10) + "M")
	}
	if s := secs % 60; s != 0 {
		b.WriteString(strconv.FormatInt(s, 10) + "S")
	}
	return b.String()
}

// validUUID reports whether s looks like a UUID (36 chars, hex and dashes).
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
