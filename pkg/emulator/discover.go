package emulator

import (
	"net/http"
	"slices"
	"sort"
	"time"
)

// Discover: the emulated connector "discovers" the source's upstream schema. Fresh
// discovers are stored as actor catalogs (deduplicated by content hash, as Airbyte
// does) and cached per (source, connector version, md5(config)).

// storeCatalog records a discovered schema as an actor catalog and returns it.
// Like Airbyte's actor_catalog table, catalogs are deduplicated by content:
// rediscovering an unchanged schema yields the same catalogId, and every source
// discovering the same schema shares one catalog. Callers hold e.mu.
func (e *Emulator) storeCatalog(sch *schema, at time.Time) *actorCatalog {
	hash := sch.contentHash()
	if id, ok := e.st.catalogByHash[hash]; ok {
		return e.st.catalogs[id]
	}
	c := &actorCatalog{ID: e.newID(), Streams: sch.streams, CreatedAt: at, hash: hash}
	e.st.catalogs[c.ID] = c
	e.touchCatalog(c)
	e.st.catalogByHash[hash] = c.ID
	return c
}

// freshDiscover runs the emulated connector now. Callers hold e.mu.
func (e *Emulator) freshDiscover(s *sourceRec, at time.Time) *actorCatalog {
	def := e.st.sourceDefs[s.DefinitionID]
	c := e.storeCatalog(s.upstream, at)
	s.setCached(s.cacheKey(def), c.ID)
	s.lastFetch = c.ID
	e.touchSource(s)
	return c
}

// cachedCatalog returns the catalog cached for the source's current config.
func (e *Emulator) cachedCatalog(s *sourceRec) (*actorCatalog, bool) {
	def := e.st.sourceDefs[s.DefinitionID]
	id, ok := s.cached(s.cacheKey(def))
	if !ok {
		return nil, false
	}
	return e.st.catalogs[id], true
}

// needsDiscover reports whether a request must run the connector: when the cache
// is bypassed or holds nothing for the source's current config. Callers hold e.mu.
func (e *Emulator) needsDiscover(s *sourceRec, disableCache bool) bool {
	if disableCache {
		return true
	}
	_, ok := e.cachedCatalog(s)
	return !ok
}

// runDiscover performs the slow part of a discover without holding e.mu and
// reports whether the connector failed. It sleeps DiscoverLatency.
func (e *Emulator) runDiscover(r *http.Request) (failed bool, ok bool) {
	if e.cfg.DiscoverLatency > 0 && !e.sleep(r.Context(), e.cfg.DiscoverLatency) {
		return false, false
	}
	return e.faults.takeDiscoverFailure(), true
}

// defaultConfig is Airbyte's default configuration for a freshly discovered stream
// (CatalogConverter#generateDefaultConfiguration, configureDefaultSyncModesForNewStream).
// Its cursor and primary key share the stream's (immutable) slices.
func defaultConfig(def *SourceDefinition, s Stream, catalogSize int) StreamConfig {
	suggested := catalogSize == 1 || (def != nil && slices.Contains(def.SuggestedStreams, s.Name))
	cfg := StreamConfig{
		CursorField: orEmpty(s.DefaultCursorField),
		PrimaryKey:  orEmpty(s.SourceDefinedPrimaryKey),
		AliasName:   aliasName(s.Name),
		Selected:    suggested,
		Suggested:   suggested,
	}
	hasPK := len(s.SourceDefinedPrimaryKey) > 0
	fullRefresh := slices.Contains(s.SupportedSyncModes, "full_refresh")
	switch {
	case s.SourceDefinedCursor && hasPK && slices.Contains(s.SupportedSyncModes, "incremental"):
		cfg.SyncMode, cfg.DestinationSyncMode = "incremental", "append_dedup"
	case s.SourceDefinedCursor && fullRefresh:
		cfg.SyncMode, cfg.DestinationSyncMode = "full_refresh", "overwrite"
	case s.SourceDefinedCursor:
		cfg.SyncMode, cfg.DestinationSyncMode = "incremental", "append"
	default:
		cfg.SyncMode, cfg.DestinationSyncMode = "full_refresh", "overwrite"
	}
	return cfg
}

func discoveredCatalogJSON(def *SourceDefinition, streams []Stream) map[string]any {
	out := make([]StreamAndConfig, len(streams))
	for i, s := range streams {
		out[i] = StreamAndConfig{Stream: s, Config: defaultConfig(def, s, len(streams))}
	}
	return map[string]any{"streams": out}
}

// syncJobRead renders a SynchronousJobRead for a discover.
func (e *Emulator) syncJobRead(configID string, start, end time.Time, failure map[string]any) map[string]any {
	out := map[string]any{
		"id":                            e.newID(),
		"configType":                    "discover_schema",
		"configId":                      configID,
		"createdAt":                     epoch(start),
		"endedAt":                       epoch(end),
		"succeeded":                     failure == nil,
		"connectorConfigurationUpdated": false,
		"logType":                       "formatted",
		"logs":                          map[string]any{"logLines": []string{}},
	}
	if failure != nil {
		out["failureReason"] = failure
	}
	if start.IsZero() {
		// Cached discover: SchedulerHandler fakes the job read.
		out["configId"] = "NoConfiguration"
		out["createdAt"], out["endedAt"] = int64(0), int64(0)
	}
	return out
}

// discoverFailure is the connector failure a failed discover reports.
func discoverFailure(at time.Time) map[string]any {
	return map[string]any{
		"failureOrigin":    "source",
		"failureType":      "config_error",
		"externalMessage":  "The authentication to SalesForce has expired. Re-authenticate to restore access to SalesForce.",
		"internalMessage":  "400 Client Error: Bad Request for url: https://login.salesforce.com/services/oauth2/token (invalid_grant: expired access/refresh token)",
		"retryable":        false,
		"timestamp":        at.UnixMilli(),
		"fromTraceMessage": true,
	}
}

type discoverRequest struct {
	SourceID     string `json:"sourceId"`
	ConnectionID string `json:"connectionId"`
	DisableCache bool   `json:"disable_cache"`
}

// configDiscover serves POST /api/v1/sources/discover_schema
// (SchedulerHandler.discover / runDiscoverJobDiffAndConditionallyDisable).
func (e *Emulator) configDiscover(r *http.Request) (int, any, error) {
	var req discoverRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	s, err := e.lookupSource(req.SourceID, false)
	if err != nil {
		e.mu.Unlock()
		return 0, nil, err
	}
	if req.ConnectionID != "" {
		if c, ok := e.st.connections[req.ConnectionID]; !ok || c.SourceID != s.ID {
			e.mu.Unlock()
			return 0, nil, notFound(resConnection, req.ConnectionID)
		}
	}
	def := e.st.sourceDefs[s.DefinitionID]
	if !e.needsDiscover(s, req.DisableCache) {
		c, _ := e.cachedCatalog(s)
		out := map[string]any{
			"catalog":   discoveredCatalogJSON(def, c.Streams),
			"catalogId": c.ID,
			"jobInfo":   e.syncJobRead("", time.Time{}, time.Time{}, nil),
		}
		e.mu.Unlock()
		return http.StatusOK, out, nil
	}
	start := e.clock.Now()
	e.mu.Unlock()

	failed, ok := e.runDiscover(r)
	if !ok {
		return 0, nil, problem(probUnexpected, "discover interrupted")
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	end := e.clock.Now()
	if s.Deleted {
		return 0, nil, notFound(resSource, s.ID)
	}
	if failed {
		return http.StatusOK, map[string]any{"jobInfo": e.syncJobRead(s.ID, start, end, discoverFailure(end))}, nil
	}
	c := e.freshDiscover(s, end)
	if req.ConnectionID != "" {
		conn := e.st.connections[req.ConnectionID]
		diff, breaking := e.diffAndConditionallyDisable(conn, c)
		return http.StatusOK, map[string]any{
			"catalog":          discoveredCatalogJSON(def, c.Streams),
			"catalogId":        c.ID,
			"catalogDiff":      diff,
			"breakingChange":   breaking,
			"connectionStatus": conn.Status,
		}, nil
	}
	return http.StatusOK, map[string]any{
		"catalog":   discoveredCatalogJSON(def, c.Streams),
		"catalogId": c.ID,
		"jobInfo":   e.syncJobRead(s.ID, start, end, nil),
	}, nil
}

// discoverForPublic returns the catalog the public API works from (cached unless
// ignoreCache), running the slow part unlocked. On return e.mu is held.
func (e *Emulator) discoverForPublic(r *http.Request, sourceID string, ignoreCache bool) (*sourceRec, *actorCatalog, error) {
	e.mu.Lock()
	s, err := e.lookupSource(sourceID, false)
	if err != nil {
		return nil, nil, err
	}
	if !e.needsDiscover(s, ignoreCache) {
		c, _ := e.cachedCatalog(s)
		return s, c, nil
	}
	e.mu.Unlock()
	failed, ok := e.runDiscover(r)
	e.mu.Lock()
	if !ok {
		return nil, nil, problem(probUnexpected, "discover interrupted")
	}
	if failed {
		return nil, nil, problem(probUnexpected, "Something went wrong in the connector. logs:"+
			discoverFailure(e.clock.Now())["externalMessage"].(string))
	}
	if s.Deleted {
		return nil, nil, notFound(resSource, s.ID)
	}
	return s, e.freshDiscover(s, e.clock.Now()), nil
}

// connectionSyncModeOrder is StreamsController#getValidSyncModes' order.
var connectionSyncModeOrder = []struct{ public, sync, dest string }{
	{"full_refresh_append", "full_refresh", "append"},
	{"full_refresh_overwrite", "full_refresh", "overwrite"},
	{"full_refresh_update", "full_refresh", "update"},
	{"full_refresh_soft_delete", "full_refresh", "soft_delete"},
	{"incremental_append", "incremental", "append"},
	{"incremental_deduped_history", "incremental", "append_dedup"},
	{"incremental_update", "incremental", "update"},
	{"incremental_soft_delete", "incremental", "soft_delete"},
}

func validSyncModes(s Stream, destModes []string) []string {
	var out []string
	for _, m := range connectionSyncModeOrder {
		if slices.Contains(s.SupportedSyncModes, m.sync) && slices.Contains(destModes, m.dest) {
			out = append(out, m.public)
		}
	}
	return out
}

// propertyFields lists every property path of a JSON schema, nested objects
// expanded, depth first (properties in name order).
func propertyFields(schema map[string]any) [][]string {
	var out [][]string
	var walk func(prefix []string, node map[string]any)
	walk = func(prefix []string, node map[string]any) {
		props, _ := node["properties"].(map[string]any)
		names := make([]string, 0, len(props))
		for n := range props {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := append(slices.Clone(prefix), n)
			out = append(out, p)
			if child, ok := props[n].(map[string]any); ok {
				walk(p, child)
			}
		}
	}
	walk(nil, schema)
	return out
}

// getStreams serves GET /api/public/v1/streams.
func (e *Emulator) getStreams(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	sourceID := q.Get("sourceId")
	if sourceID == "" {
		return 0, nil, problem(probBadRequest, "Required parameter sourceId is missing")
	}
	ignoreCache, err := boolQuery(q, "ignoreCache")
	if err != nil {
		return 0, nil, err
	}
	destID := q.Get("destinationId")
	_, c, err := e.discoverForPublic(r, sourceID, ignoreCache)
	defer e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	var destModes []string
	if destID != "" {
		d, ok := e.st.destinations[destID]
		if !ok {
			return 0, nil, notFound(resDestination, destID)
		}
		destModes = d.SyncModes
	}
	out := make([]map[string]any, 0, len(c.Streams))
	for _, st := range c.Streams {
		m := map[string]any{
			"streamName":               st.Name,
			"defaultCursorField":       cloneStrings(st.DefaultCursorField),
			"sourceDefinedCursorField": st.SourceDefinedCursor,
			"sourceDefinedPrimaryKey":  clonePK(st.SourceDefinedPrimaryKey),
			"propertyFields":           propertyFields(st.JSONSchema),
		}
		if st.Namespace != "" {
			m["streamnamespace"] = st.Namespace
		}
		if destModes != nil {
			m["syncModes"] = validSyncModes(st, destModes)
		}
		out = append(out, m)
	}
	return http.StatusOK, out, nil
}
