package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// SchemaOp changes a source's upstream schema: what its connector will discover
// next. Op is one of add_stream, remove_stream, add_field, remove_field,
// change_type, change_primary_key.
type SchemaOp struct {
	Op     string `json:"op"`
	Stream string `json:"stream"`
	// Field names a top-level field; Path a nested one (["BillingAddress","city"]).
	Field string   `json:"field,omitempty"`
	Path  []string `json:"path,omitempty"`
	// Type is the new JSON type for add_field/change_type ("number" becomes
	// ["number","null"]); Schema, when set, is used verbatim instead.
	Type   string         `json:"type,omitempty"`
	Schema map[string]any `json:"schema,omitempty"`
	// PrimaryKey is the new source-defined primary key (change_primary_key) or the
	// key of an added stream.
	PrimaryKey [][]string `json:"primary_key,omitempty"`
	// Cursor is the default cursor of an added stream.
	Cursor []string `json:"cursor,omitempty"`
}

// ErrNotFound is returned by admin methods for unknown ids.
var ErrNotFound = errors.New("emulator: not found")

// ErrInvalidOp is returned for a schema operation that cannot be applied.
var ErrInvalidOp = errors.New("emulator: invalid schema operation")

func (op SchemaOp) path() []string {
	if len(op.Path) > 0 {
		return op.Path
	}
	if op.Field != "" {
		return []string{op.Field}
	}
	return nil
}

func (op SchemaOp) fieldSchema() map[string]any {
	if op.Schema != nil {
		return deepCopy(op.Schema).(map[string]any)
	}
	t := cmpOr(op.Type, "string")
	return map[string]any{"type": []any{t, "null"}}
}

// MutateSchema applies ops, in order and atomically, to the upstream schema of
// sourceID. The change is seen by the next uncached discover (and by the next
// pre-sync check in a new discover window). Only this source's schema changes:
// the source gets its own copy of every stream an op changes, and keeps sharing
// the others.
func (e *Emulator) MutateSchema(sourceID string, ops ...SchemaOp) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.st.sources[sourceID]
	if !ok {
		return fmt.Errorf("%w: source %s", ErrNotFound, sourceID)
	}
	streams := slices.Clone(s.upstream.streams)
	owned := map[string]bool{} // streams whose schema this mutation already copied
	for _, op := range ops {
		var err error
		if streams, err = applyOp(streams, op, owned); err != nil {
			return err
		}
	}
	s.upstream = &schema{streams: streams}
	e.touchSource(s)
	e.log.Info("upstream schema changed", zap.String("source_id", sourceID), zap.Int("num_ops", len(ops)))
	return e.flushLocked()
}

// applyOp applies op to streams, a copy of the source's list whose elements still
// share their schemas; a stream's JSON schema is copied before it is first changed
// and recorded in owned. Every other change replaces slices rather than editing
// them.
func applyOp(streams []Stream, op SchemaOp, owned map[string]bool) ([]Stream, error) {
	idx := slices.IndexFunc(streams, func(s Stream) bool { return s.Name == op.Stream })
	if op.Stream == "" {
		return nil, fmt.Errorf("%w: %s needs a stream", ErrInvalidOp, op.Op)
	}
	if op.Op != "add_stream" && idx < 0 {
		return nil, fmt.Errorf("%w: %s: no stream %q", ErrInvalidOp, op.Op, op.Stream)
	}
	switch op.Op {
	case "add_stream":
		if idx >= 0 {
			return nil, fmt.Errorf("%w: stream %q already exists", ErrInvalidOp, op.Stream)
		}
		schema := op.Schema
		if schema == nil {
			schema = map[string]any{
				"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": true,
				"properties": map[string]any{
					"Id":             salesforceFieldSchema("id"),
					"Name":           salesforceFieldSchema("string"),
					"CreatedDate":    salesforceFieldSchema("datetime"),
					"SystemModstamp": salesforceFieldSchema("datetime"),
				},
			}
		}
		s := Stream{Name: op.Stream, JSONSchema: deepCopy(schema).(map[string]any), SupportedSyncModes: []string{"full_refresh"},
			DefaultCursorField: []string{}, SourceDefinedPrimaryKey: [][]string{}, IsResumable: true}
		deriveKeys(&s, op.PrimaryKey, op.Cursor)
		owned[op.Stream] = true
		return append(streams, s), nil
	case "remove_stream":
		return slices.Delete(streams, idx, idx+1), nil
	case "add_field", "remove_field", "change_type":
		p := op.path()
		if len(p) == 0 {
			return nil, fmt.Errorf("%w: %s needs field or path", ErrInvalidOp, op.Op)
		}
		s := &streams[idx]
		if !owned[op.Stream] {
			s.JSONSchema = deepCopy(s.JSONSchema).(map[string]any)
			owned[op.Stream] = true
		}
		parent, err := propsAt(s.JSONSchema, p[:len(p)-1])
		if err != nil {
			return nil, err
		}
		name := p[len(p)-1]
		_, exists := parent[name]
		switch op.Op {
		case "add_field":
			if exists {
				return nil, fmt.Errorf("%w: field %v already exists in %s", ErrInvalidOp, p, op.Stream)
			}
			parent[name] = op.fieldSchema()
		case "remove_field":
			if !exists {
				return nil, fmt.Errorf("%w: no field %v in %s", ErrInvalidOp, p, op.Stream)
			}
			delete(parent, name)
			if len(p) == 1 {
				rederiveAfterRemoval(s, name)
			}
		case "change_type":
			if !exists {
				return nil, fmt.Errorf("%w: no field %v in %s", ErrInvalidOp, p, op.Stream)
			}
			if op.Type == "" && op.Schema == nil {
				return nil, fmt.Errorf("%w: change_type needs type or schema", ErrInvalidOp)
			}
			ns := op.fieldSchema()
			if old, ok := parent[name].(map[string]any); ok && op.Schema == nil {
				if f, ok := old["format"]; ok && op.Type == "string" {
					ns["format"] = f
				}
			}
			parent[name] = ns
		}
		return streams, nil
	case "change_primary_key":
		streams[idx].SourceDefinedPrimaryKey = clonePK(op.PrimaryKey)
		return streams, nil
	}
	return nil, fmt.Errorf("%w: unknown op %q", ErrInvalidOp, op.Op)
}

// propsAt returns the `properties` map of the object at path (root for nil).
func propsAt(schema map[string]any, path []string) (map[string]any, error) {
	node := schema
	for _, p := range path {
		props, _ := node["properties"].(map[string]any)
		child, ok := props[p].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: no object field %q", ErrInvalidOp, p)
		}
		node = child
	}
	props, ok := node["properties"].(map[string]any)
	if !ok {
		props = map[string]any{}
		node["properties"] = props
	}
	return props, nil
}

var cursorCandidates = []string{"SystemModstamp", "LastModifiedDate", "CreatedDate", "LoginTime"}

// deriveKeys sets PK and cursor from explicit values or the Salesforce rules.
func deriveKeys(s *Stream, pk [][]string, cursor []string) {
	props, _ := s.JSONSchema["properties"].(map[string]any)
	switch {
	case pk != nil:
		s.SourceDefinedPrimaryKey = clonePK(pk)
	case props["Id"] != nil:
		s.SourceDefinedPrimaryKey = [][]string{{"Id"}}
	}
	if cursor == nil {
		for _, c := range cursorCandidates {
			if props[c] != nil {
				cursor = []string{c}
				break
			}
		}
	}
	if len(cursor) > 0 {
		s.SourceDefinedCursor = true
		s.DefaultCursorField = slices.Clone(cursor)
		s.SupportedSyncModes = []string{"full_refresh", "incremental"}
	}
}

// rederiveAfterRemoval re-applies the connector's key rules when the field that was
// the PK or the cursor disappears.
func rederiveAfterRemoval(s *Stream, field string) {
	props, _ := s.JSONSchema["properties"].(map[string]any)
	if len(s.SourceDefinedPrimaryKey) == 1 && slices.Equal(s.SourceDefinedPrimaryKey[0], []string{field}) {
		s.SourceDefinedPrimaryKey = [][]string{}
	}
	if slices.Equal(s.DefaultCursorField, []string{field}) {
		s.DefaultCursorField, s.SourceDefinedCursor = []string{}, false
		s.SupportedSyncModes = []string{"full_refresh"}
		for _, c := range cursorCandidates {
			if props[c] != nil {
				s.DefaultCursorField, s.SourceDefinedCursor = []string{c}, true
				s.SupportedSyncModes = []string{"full_refresh", "incremental"}
				break
			}
		}
	}
}

// SetFaults replaces the fault configuration.
func (e *Emulator) SetFaults(f Faults) {
	e.faults.set(f)
	e.log.Info("faults set", zap.Float64("error_rate", f.ErrorRate), zap.Float64("rate_limit_rate", f.RateLimitRate),
		zap.Float64("timeout_rate", f.TimeoutRate), zap.Duration("latency", f.Latency), zap.Int("fail_next_jobs", f.FailNextJobs))
}

// Faults returns the current fault configuration (counters consumed so far are
// reflected in FailNextJobs/FailNextDiscovers).
func (e *Emulator) Faults() Faults { return e.faults.get() }

// FailNextJobs makes the next n sync jobs fail every attempt.
func (e *Emulator) FailNextJobs(n int) { e.FailNextJobsWith(n, "", "") }

// FailNextJobsWith makes the next n sync jobs fail every attempt with the
// given failureType and failureOrigin (Faults.FailType, FailOrigin).
func (e *Emulator) FailNextJobsWith(n int, failureType, failureOrigin string) {
	e.faults.mu.Lock()
	e.faults.f.FailNextJobs, e.faults.f.FailAttempts = n, 0
	e.faults.f.FailType, e.faults.f.FailOrigin = failureType, failureOrigin
	e.faults.mu.Unlock()
}

// ExpireTokens invalidates every issued token; it returns how many were live.
func (e *Emulator) ExpireTokens() int { return e.auth.expireAll() }

// RegisterSourceDefinition makes another source connector available. Its
// SourceType, if set, is accepted as configuration.sourceType.
func (e *Emulator) RegisterSourceDefinition(d SourceDefinition) error {
	if !validUUID(d.ID) || d.Name == "" {
		return fmt.Errorf("%w: definition needs a UUID id and a name", ErrInvalidOp)
	}
	d.DockerImageTag = cmpOr(d.DockerImageTag, "0.1.0")
	d.DockerRepository = cmpOr(d.DockerRepository, "airbyte/source-"+strings.ToLower(d.SourceType))
	d.Streams = cloneStreams(d.Streams)
	d.spec = connectorSpec{Required: d.RequiredFields, Secrets: d.SecretFields}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.st.sourceDefs[d.ID]; !ok {
		e.st.sourceDefOrder = append(e.st.sourceDefOrder, d.ID)
	}
	e.st.sourceDefs[d.ID] = &d
	return nil
}

// SetConnectionStatus forces a connection's status (e.g. "locked").
func (e *Emulator) SetConnectionStatus(connectionID, status, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.st.connections[connectionID]
	if !ok {
		return fmt.Errorf("%w: connection %s", ErrNotFound, connectionID)
	}
	c.Status, c.StatusReason = status, reason
	e.touchConnection(c)
	return e.flushLocked()
}

// Reset forgets every source, connection, job, catalog and token and clears the
// faults; the workspace, destination and definitions stay.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defs, order := e.st.sourceDefs, e.st.sourceDefOrder
	e.st = newState(e)
	e.st.sourceDefs, e.st.sourceDefOrder = defs, order
	if e.store != nil && e.store.log != nil && e.store.err == nil {
		if err := e.snapshotLocked(); err != nil {
			e.log.Error("airbyte emulator: persist state", zap.Error(err))
		}
	}
	e.mu.Unlock()
	e.auth.expireAll()
	e.faults.set(Faults{})
}

// SourceSnapshot is a source as tests see it.
type SourceSnapshot struct {
	ID, Name, WorkspaceID, DefinitionID string
	Deleted                             bool
	Configuration                       map[string]any // secrets masked
	Streams                             []Stream       // upstream schema
}

// ConnectionSnapshot is a connection as tests see it.
type ConnectionSnapshot struct {
	ID, Name, SourceID, DestinationID string
	Status, StatusReason              string
	BreakingChange                    bool
	SourceCatalogID                   string
	NonBreakingPreference             string
	Streams                           []StreamAndConfig
	// LastDiff is the diff of the last discover-with-connection or pre-sync check.
	LastDiff *CatalogDiff
}

// JobSnapshot is a job as tests see it, advanced to the emulator's clock.
type JobSnapshot struct {
	ID                   int64
	ConnectionID         string
	JobType, Status      string
	Attempts             int
	CreatedAt, UpdatedAt time.Time
	Rows, Bytes          int64
}

// Sources returns every source, deleted ones included, in creation order.
func (e *Emulator) Sources() []SourceSnapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return inOrder(e.st.sourceOrder, e.st.sources, func(s *sourceRec) SourceSnapshot {
		return SourceSnapshot{ID: s.ID, Name: s.Name, WorkspaceID: s.WorkspaceID, DefinitionID: s.DefinitionID,
			Deleted: s.Deleted, Configuration: maskConfig(e.st.sourceDefs[s.DefinitionID], s.Config), Streams: cloneStreams(s.upstream.streams)}
	})
}

// Connections returns every connection in creation order.
func (e *Emulator) Connections() []ConnectionSnapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return inOrder(e.st.connOrder, e.st.connections, func(c *connectionRec) ConnectionSnapshot {
		streams := make([]StreamAndConfig, len(c.Catalog))
		for i, sc := range c.Catalog {
			streams[i] = StreamAndConfig{Stream: sc.stream.clone(), Config: cloneConfig(renderedConfig(sc.config))}
		}
		var diff *CatalogDiff
		if c.lastDiff != nil {
			d := *c.lastDiff
			diff = &d
		}
		return ConnectionSnapshot{ID: c.ID, Name: c.Name, SourceID: c.SourceID, DestinationID: c.DestinationID,
			Status: c.Status, StatusReason: c.StatusReason, BreakingChange: c.BreakingChange, SourceCatalogID: c.SourceCatalogID,
			NonBreakingPreference: c.NonBreakingPreference, Streams: streams, LastDiff: diff}
	})
}

// Jobs returns every job of the job history (see Config.JobRetention) in
// creation order.
func (e *Emulator) Jobs() []JobSnapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advanceJobs(e.clock.Now())
	jobs := e.allJobs()
	out := make([]JobSnapshot, 0, len(jobs))
	for _, j := range jobs {
		rows, b := j.committed()
		out = append(out, JobSnapshot{ID: j.ID, ConnectionID: j.ConnectionID, JobType: j.JobType, Status: j.Status,
			Attempts: len(j.Attempts), CreatedAt: j.created.time(), UpdatedAt: j.updated.time(), Rows: rows, Bytes: b})
	}
	return out
}

// adminFaults is the JSON form of Faults (durations in ms / s).
type adminFaults struct {
	Faults
	LatencyMS  int64 `json:"latency"`
	RetryAfter int64 `json:"retry_after,omitempty"`
}

func (e *Emulator) adminHandler() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status int, err error) {
		writeJSON(w, status, map[string]any{"message": err.Error()})
	}
	mux.HandleFunc("POST "+adminPrefix+"/sources/{sourceId}/schema", func(w http.ResponseWriter, r *http.Request) {
		b, _ := readBody(r)
		var body struct {
			Ops []SchemaOp `json:"ops"`
		}
		if err := json.Unmarshal(b, &body); err != nil || len(body.Ops) == 0 {
			var op SchemaOp
			if err := json.Unmarshal(b, &op); err != nil || op.Op == "" {
				fail(w, http.StatusBadRequest, fmt.Errorf("%w: body must be a schema op or {\"ops\":[...]}", ErrInvalidOp))
				return
			}
			body.Ops = []SchemaOp{op}
		}
		id := r.PathValue("sourceId")
		if err := e.MutateSchema(id, body.Ops...); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, ErrNotFound) {
				status = http.StatusNotFound
			}
			fail(w, status, err)
			return
		}
		e.writeUpstream(w, id)
	})
	mux.HandleFunc("GET "+adminPrefix+"/sources/{sourceId}/schema", func(w http.ResponseWriter, r *http.Request) {
		e.writeUpstream(w, r.PathValue("sourceId"))
	})
	mux.HandleFunc("POST "+adminPrefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		var af adminFaults
		b, _ := readBody(r)
		if err := json.Unmarshal(b, &af); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		f := af.Faults
		f.Latency = time.Duration(af.LatencyMS) * time.Millisecond
		f.RetryAfter = time.Duration(af.RetryAfter) * time.Second
		if err := validateFaults(f); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		e.SetFaults(f)
		writeJSON(w, http.StatusOK, faultsJSON(e.Faults()))
	})
	mux.HandleFunc("GET "+adminPrefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, faultsJSON(e.Faults()))
	})
	mux.HandleFunc("DELETE "+adminPrefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		e.SetFaults(Faults{})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+adminPrefix+"/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"expired": e.ExpireTokens()})
	})
	mux.HandleFunc("POST "+adminPrefix+"/connections/{connectionId}/status", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Status, Reason string }
		b, _ := readBody(r)
		if err := json.Unmarshal(b, &body); err != nil || body.Status == "" {
			fail(w, http.StatusBadRequest, fmt.Errorf("%w: body must be {\"status\":...}", ErrInvalidOp))
			return
		}
		if err := e.SetConnectionStatus(r.PathValue("connectionId"), body.Status, body.Reason); err != nil {
			fail(w, http.StatusNotFound, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+adminPrefix+"/clock/advance", func(w http.ResponseWriter, r *http.Request) {
		mc, ok := e.clock.(*ManualClock)
		if !ok {
			fail(w, http.StatusConflict, errors.New("emulator: the clock is the wall clock"))
			return
		}
		var body struct {
			Seconds int64 `json:"seconds"`
		}
		b, _ := readBody(r)
		_ = json.Unmarshal(b, &body)
		mc.Advance(time.Duration(body.Seconds) * time.Second)
		writeJSON(w, http.StatusOK, map[string]any{"now": mc.Now().Format(time.RFC3339)})
	})
	mux.HandleFunc("GET "+adminPrefix+"/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, e.stateJSON())
	})
	mux.HandleFunc("GET "+adminPrefix+"/capacity", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, e.Capacity())
	})
	mux.HandleFunc("DELETE "+adminPrefix+"/capacity", func(w http.ResponseWriter, r *http.Request) {
		e.ResetCapacity()
		w.WriteHeader(http.StatusNoContent)
	})
	e.volumeRoutes(mux, fail)
	mux.Handle("GET "+adminPrefix+"/metrics", e.metricsHandler())
	mux.HandleFunc("POST "+adminPrefix+"/reset", func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func validateFaults(f Faults) error {
	for _, r := range []float64{f.ErrorRate, f.RateLimitRate, f.TimeoutRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%w: rates must be within [0,1]", ErrInvalidOp)
		}
	}
	if f.ErrorRate+f.RateLimitRate+f.TimeoutRate > 1 {
		return fmt.Errorf("%w: rates add up to more than 1", ErrInvalidOp)
	}
	switch f.ErrorStatus {
	case 0, 500, 502, 503, 504:
	default:
		return fmt.Errorf("%w: status must be 500, 502, 503 or 504", ErrInvalidOp)
	}
	if f.FailType != "" && !slices.Contains(failureTypes, f.FailType) {
		return fmt.Errorf("%w: fail_type must be one of %s", ErrInvalidOp, strings.Join(failureTypes, ", "))
	}
	if f.FailOrigin != "" && !slices.Contains(failureOrigins, f.FailOrigin) {
		return fmt.Errorf("%w: fail_origin must be one of %s", ErrInvalidOp, strings.Join(failureOrigins, ", "))
	}
	return nil
}

func faultsJSON(f Faults) adminFaults {
	return adminFaults{Faults: f, LatencyMS: f.Latency.Milliseconds(), RetryAfter: int64(f.RetryAfter / time.Second)}
}

func (e *Emulator) writeUpstream(w http.ResponseWriter, sourceID string) {
	e.mu.Lock()
	s, ok := e.st.sources[sourceID]
	var streams []Stream
	if ok {
		streams = s.upstream.streams // immutable: serialised without the lock
	}
	e.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "emulator: not found: source " + sourceID})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sourceId": sourceID, "streams": streams})
}

func (e *Emulator) stateJSON() map[string]any {
	// Read under the lock without copying catalogs: the state of thousands
	// of connections is summarised, not cloned.
	e.mu.Lock()
	e.advanceJobs(e.clock.Now())
	srcOut := inOrder(e.st.sourceOrder, e.st.sources, func(s *sourceRec) map[string]any {
		names := make([]string, len(s.upstream.streams))
		for k, st := range s.upstream.streams {
			names[k] = st.Name
		}
		return map[string]any{"sourceId": s.ID, "name": s.Name, "definitionId": s.DefinitionID, "deleted": s.Deleted, "streams": names}
	})
	connOut := inOrder(e.st.connOrder, e.st.connections, func(c *connectionRec) map[string]any {
		names := make([]string, len(c.Catalog))
		for k, sc := range c.Catalog {
			names[k] = sc.stream.Name
		}
		return map[string]any{"connectionId": c.ID, "name": c.Name, "sourceId": c.SourceID, "status": c.Status,
			"breakingChange": c.BreakingChange, "sourceCatalogId": c.SourceCatalogID, "streams": names, "lastDiff": diffJSON(c.lastDiff)}
	})
	byStatus := map[string]int{}
	for _, j := range e.st.jobs {
		byStatus[j.Status]++
	}
	jobs := map[string]any{"total": len(e.st.jobs), "byStatus": byStatus, "pruned": e.st.prunedJobs}
	now := e.clock.Now().UTC().Format(time.RFC3339)
	e.mu.Unlock()
	return map[string]any{
		"now":           now,
		"workspaceId":   e.cfg.WorkspaceID,
		"destinationId": e.cfg.DestinationID,
		"sources":       srcOut,
		"connections":   connOut,
		"jobs":          jobs,
		"faults":        faultsJSON(e.Faults()),
		"injected":      e.faults.counts(),
		"liveTokens":    e.auth.count(),
	}
}
