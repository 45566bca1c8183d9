package emulator

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Public sync mode ↔ (syncMode, destinationSyncMode) (ConnectionReadMapper).
var publicSyncModes = map[string][2]string{
	"full_refresh_overwrite":         {"full_refresh", "overwrite"},
	"full_refresh_append":            {"full_refresh", "append"},
	"full_refresh_overwrite_deduped": {"full_refresh", "overwrite_dedup"},
	"full_refresh_update":            {"full_refresh", "update"},
	"full_refresh_soft_delete":       {"full_refresh", "soft_delete"},
	"incremental_append":             {"incremental", "append"},
	"incremental_deduped_history":    {"incremental", "append_dedup"},
	"incremental_update":             {"incremental", "update"},
	"incremental_soft_delete":        {"incremental", "soft_delete"},
}

func toPublicSyncMode(syncMode, destMode string) string {
	for k, v := range publicSyncModes {
		if v[0] == syncMode && v[1] == destMode {
			return k
		}
	}
	return "full_refresh_overwrite"
}

// nonBreaking preference: public ↔ config vocabulary (ConnectionHelper.kt).
var publicToConfigPreference = map[string]string{
	"ignore": "ignore", "disable_connection": "disable", "propagate_columns": "propagate_columns", "propagate_fully": "propagate_fully",
}

func toPublicPreference(p string) string {
	for k, v := range publicToConfigPreference {
		if v == p {
			return k
		}
	}
	return "ignore"
}

func toPublicNamespace(n string) string {
	if n == "customformat" {
		return "custom_format"
	}
	return n
}

func toConfigNamespace(n string) string {
	if n == "custom_format" {
		return "customformat"
	}
	return n
}

// storedConfig normalises a stream configuration the way Airbyte persists it: only
// selected streams, and field-level lists present (empty) rather than absent.
// Connections keep their configurations as configured; this is applied when one
// is read (it is idempotent and allocates only the empty lists it adds).
func storedConfig(c StreamConfig) StreamConfig {
	c.Selected = true
	c.CursorField = orEmpty(c.CursorField)
	if c.PrimaryKey == nil {
		c.PrimaryKey = [][]string{}
	}
	if c.FieldSelectionEnabled == nil {
		f := false
		c.FieldSelectionEnabled = &f
	}
	if c.SelectedFields == nil || !*c.FieldSelectionEnabled {
		empty := []SelectedField{}
		if c.SelectedFields == nil || len(*c.SelectedFields) == 0 {
			c.SelectedFields = &empty
		}
	}
	if c.HashedFields == nil {
		empty := []SelectedField{}
		c.HashedFields = &empty
	}
	if c.Mappers == nil {
		empty := []any{}
		c.Mappers = &empty
	}
	return c
}

// renderedConfig is what connections/get shows for a stored stream: selected
// true, suggested false (CatalogConverter.toApi on the configured catalog).
func renderedConfig(c StreamConfig) StreamConfig {
	c = storedConfig(c)
	c.Suggested = false
	return c
}

type scheduleRequest struct {
	ScheduleType   string  `json:"scheduleType"`
	CronExpression *string `json:"cronExpression"`
}

type streamConfigurationRequest struct {
	Name           string           `json:"name"`
	Namespace      string           `json:"namespace"`
	SyncMode       string           `json:"syncMode"`
	CursorField    []string         `json:"cursorField"`
	PrimaryKey     [][]string       `json:"primaryKey"`
	SelectedFields *[]SelectedField `json:"selectedFields"`
	Mappers        *[]any           `json:"mappers"`
}

type connectionRequest struct {
	Name           *string `json:"name"`
	SourceID       string  `json:"sourceId"`
	DestinationID  string  `json:"destinationId"`
	Configurations *struct {
		Streams []streamConfigurationRequest `json:"streams"`
	} `json:"configurations"`
	Schedule                         *scheduleRequest `json:"schedule"`
	NamespaceDefinition              *string          `json:"namespaceDefinition"`
	NamespaceFormat                  *string          `json:"namespaceFormat"`
	Prefix                           *string          `json:"prefix"`
	NonBreakingSchemaUpdatesBehavior *string          `json:"nonBreakingSchemaUpdatesBehavior"`
	Status                           *string          `json:"status"`
	Tags                             []any            `json:"tags"`
}

func (req connectionRequest) streams() []streamConfigurationRequest {
	if req.Configurations == nil {
		return nil
	}
	return req.Configurations.Streams
}

// validateCron mirrors AirbyteCatalogHelper.validateCronConfiguration.
func validateCron(s *scheduleRequest) (expr string, err error) {
	if s == nil || s.ScheduleType != "cron" {
		return "", nil
	}
	if s.CronExpression == nil {
		return "", problem(probBadRequest, "Missing cron expression in the schedule.")
	}
	orig := *s.CronExpression
	expr = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(orig), "UTC"))
	fields := strings.Fields(expr)
	if len(fields) < 6 || len(fields) > 7 {
		return "", problem(probBadRequest, fmt.Sprintf("The cron expression %s is not valid. Error: Cron expression contains %d parts but we expect one of [6, 7]. Please check the cron expression format at https://www.quartz-scheduler.org/documentation/quartz-2.3.0/tutorials/crontrigger.html", orig, len(fields)))
	}
	_, err1 := strconv.Atoi(fields[0])
	var err2 error
	if len(fields) == 7 {
		_, err2 = strconv.Atoi(fields[1])
	}
	if err1 != nil || err2 != nil {
		return "", problem(probBadRequest, "The cron expression "+orig+" is not valid or is less than the one hour minimum. The seconds and minutes values cannot be `*`.")
	}
	return expr, nil
}

func pkString(pk [][]string) string {
	parts := make([]string, len(pk))
	for i, k := range pk {
		parts[i] = "[" + strings.Join(k, ", ") + "]"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func listString(s []string) string { return "[" + strings.Join(s, ", ") + "]" }

// buildCatalog turns public stream configurations into a stored catalog against
// the discovered streams (shared, not copied), with AirbyteCatalogHelper's
// validations and messages. Without configurations every discovered stream keeps
// its default selection and is set to full_refresh/overwrite. Callers hold e.mu.
func (e *Emulator) buildCatalog(def *SourceDefinition, discovered []Stream, destModes []string, confs []streamConfigurationRequest) ([]catalogStream, error) {
	var out []catalogStream
	if len(confs) == 0 {
		for i := range discovered {
			s := &discovered[i]
			cfg := defaultConfig(def, *s, len(discovered))
			if !cfg.Selected {
				continue
			}
			cfg.SyncMode, cfg.DestinationSyncMode = "full_refresh", "overwrite"
			out = append(out, catalogStream{stream: s, config: cfg})
		}
		return out, nil
	}
	byName := make(map[string]*Stream, len(discovered))
	for i := range discovered {
		byName[discovered[i].Name] = &discovered[i]
	}
	seen := map[string]bool{}
	for _, sc := range confs {
		s, ok := byName[sc.Name]
		if !ok {
			return nil, problem(probBadRequest, "No streams found with name ["+sc.Name+"] and namespace [null]. Please call the https://reference.airbyte.com/reference/getstreamproperties endpoint to see the valid streams for this source.")
		}
		if seen[sc.Name] {
			return nil, problem(probBadRequest, "Duplicate stream found in configuration for stream name ["+sc.Name+"] in namespace [null].")
		}
		seen[sc.Name] = true
		cfg, err := configureStream(def, *s, destModes, sc, len(discovered))
		if err != nil {
			return nil, err
		}
		out = append(out, catalogStream{stream: s, config: cfg})
	}
	return out, nil
}

// configureStream validates one stream configuration (validateStreamConfig) and
// converts it (updateAirbyteStreamConfiguration).
func configureStream(def *SourceDefinition, s Stream, destModes []string, sc streamConfigurationRequest, catalogSize int) (StreamConfig, error) {
	base := defaultConfig(def, s, catalogSize)
	// 1. field selection
	if sc.SelectedFields != nil {
		top := topLevelFields(s.JSONSchema)
		if len(*sc.SelectedFields) == 0 {
			return StreamConfig{}, problem(probBadRequest, "No fields selected for stream "+s.Name+". The list of valid field names includes: "+listString(top)+".")
		}
		var sel []string
		for _, f := range *sc.SelectedFields {
			if len(f.FieldPath) == 0 {
				return StreamConfig{}, problem(probBadRequest, "Selected field path cannot be empty for stream:  "+s.Name+".")
			}
			if len(f.FieldPath) > 1 {
				return StreamConfig{}, problem(probBadRequest, "Nested field selection not supported for stream "+s.Name+".")
			}
			if slices.Contains(sel, f.FieldPath[0]) {
				return StreamConfig{}, problem(probBadRequest, "Duplicate fields selected in configuration for stream: "+s.Name+".")
			}
			sel = append(sel, f.FieldPath[0])
		}
		for _, f := range sel {
			if !slices.Contains(top, f) {
				return StreamConfig{}, problem(probBadRequest, "Invalid fields selected for stream "+s.Name+". The list of valid field names includes: "+listString(top)+".")
			}
		}
		if sc.SyncMode == "incremental_deduped_history" || sc.SyncMode == "full_refresh_overwrite_deduped" {
			pk := s.SourceDefinedPrimaryKey
			if len(pk) == 0 {
				pk = sc.PrimaryKey
			}
			for _, k := range pk {
				if len(k) > 0 && !slices.Contains(sel, k[0]) {
					return StreamConfig{}, problem(probBadRequest, "Primary key fields are not selected properly for stream: "+s.Name+". Please include primary key(s) in the configuration for this stream.")
				}
			}
		}
		if sc.SyncMode == "incremental_deduped_history" || sc.SyncMode == "incremental_append" {
			cursor := selectCursor(s, sc)
			if len(cursor) > 0 && !slices.Contains(sel, cursor[0]) {
				return StreamConfig{}, problem(probBadRequest, "Cursor field is not selected properly for stream: "+s.Name+". Please include the cursor field in selected fields for this stream.")
			}
		}
	}
	// 2. sync mode
	if sc.SyncMode != "" {
		valid := validSyncModes(s, destModes)
		if !slices.Contains(valid, sc.SyncMode) {
			return StreamConfig{}, problem(probBadRequest, "Cannot set sync mode to "+sc.SyncMode+" for stream "+sc.Name+". Valid sync modes are: "+listString(valid))
		}
		switch sc.SyncMode {
		case "incremental_append":
			if err := validateCursor(s, sc.CursorField); err != nil {
				return StreamConfig{}, err
			}
		case "incremental_deduped_history":
			if err := validateCursor(s, sc.CursorField); err != nil {
				return StreamConfig{}, err
			}
			if err := validatePK(s, sc.PrimaryKey); err != nil {
				return StreamConfig{}, err
			}
		}
	}
	// conversion
	cfg := StreamConfig{Selected: true, AliasName: base.AliasName, Suggested: base.Suggested}
	if sc.SelectedFields != nil {
		t := true
		cfg.FieldSelectionEnabled = &t
		sel := slices.Clone(*sc.SelectedFields)
		cfg.SelectedFields = &sel
	}
	cfg.Mappers = sc.Mappers
	switch sc.SyncMode {
	case "":
		cfg.SyncMode, cfg.DestinationSyncMode = "full_refresh", "overwrite"
		cfg.CursorField, cfg.PrimaryKey = base.CursorField, base.PrimaryKey
	case "incremental_append", "incremental_deduped_history":
		m := publicSyncModes[sc.SyncMode]
		cfg.SyncMode, cfg.DestinationSyncMode = m[0], m[1]
		cfg.CursorField = selectCursor(s, sc)
		cfg.PrimaryKey = selectPK(s, sc)
	case "full_refresh_overwrite_deduped":
		cfg.SyncMode, cfg.DestinationSyncMode = "full_refresh", "overwrite_dedup"
		cfg.CursorField, cfg.PrimaryKey = base.CursorField, selectPK(s, sc)
	default:
		m := publicSyncModes[sc.SyncMode]
		cfg.SyncMode, cfg.DestinationSyncMode = m[0], m[1]
		cfg.CursorField, cfg.PrimaryKey = base.CursorField, base.PrimaryKey
	}
	return cfg, nil
}

func selectCursor(s Stream, sc streamConfigurationRequest) []string {
	if s.SourceDefinedCursor {
		return cloneStrings(s.DefaultCursorField)
	}
	if len(sc.CursorField) > 0 {
		return slices.Clone(sc.CursorField)
	}
	return cloneStrings(s.DefaultCursorField)
}

func selectPK(s Stream, sc streamConfigurationRequest) [][]string {
	if len(s.SourceDefinedPrimaryKey) > 0 {
		return clonePK(s.SourceDefinedPrimaryKey)
	}
	return clonePK(sc.PrimaryKey)
}

func validateCursor(s Stream, cursor []string) error {
	if s.SourceDefinedCursor {
		if len(cursor) > 0 && !sameSet(cursor, s.DefaultCursorField) {
			return problem(probBadRequest, "Cursor Field "+listString(cursor)+" is already defined by source for stream: "+s.Name+". Do not include a cursor field configuration for this stream.")
		}
		return nil
	}
	if len(cursor) > 0 {
		valid := propertyFields(s.JSONSchema)
		if !slices.ContainsFunc(valid, func(p []string) bool { return slices.Equal(p, cursor) }) {
			return problem(probBadRequest, "Invalid cursor field for stream: "+s.Name+". The list of valid cursor fields include: "+pkString(valid)+".")
		}
		return nil
	}
	if len(s.DefaultCursorField) == 0 {
		return problem(probBadRequest, "No default cursor field for stream: "+s.Name+". Please include a cursor field configuration for this stream.")
	}
	return nil
}

func validatePK(s Stream, pk [][]string) error {
	sourcePK, confPK := len(s.SourceDefinedPrimaryKey) > 0, len(pk) > 0
	if sourcePK && confPK && !samePK(s.SourceDefinedPrimaryKey, pk) {
		return problem(probBadRequest, "Primary key for stream: "+s.Name+" is already pre-defined. Please remove the primaryKey or provide the value as "+pkString(s.SourceDefinedPrimaryKey)+".")
	}
	if !sourcePK && !confPK {
		return problem(probBadRequest, "No default primary key for stream: "+s.Name+". Please include a primary key configuration for this stream.")
	}
	valid := propertyFields(s.JSONSchema)
	for _, k := range pk {
		if !slices.ContainsFunc(valid, func(p []string) bool { return slices.Equal(p, k) }) {
			return problem(probBadRequest, "Invalid cursor field for stream: "+s.Name+". The list of valid primary keys fields: "+pkString(valid)+".")
		}
		if len(slices.Compact(slices.Sorted(slices.Values(k)))) != len(k) {
			return problem(probBadRequest, "Duplicate primary key detected for stream: "+s.Name+", please don't provide the same column more than once. Key: "+pkString(pk))
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func (e *Emulator) publicConnectionJSON(c *connectionRec) map[string]any {
	streams := make([]map[string]any, 0, len(c.Catalog))
	for _, sc := range c.Catalog {
		cfg := storedConfig(sc.config)
		m := map[string]any{
			"name":           sc.stream.Name,
			"syncMode":       toPublicSyncMode(cfg.SyncMode, cfg.DestinationSyncMode),
			"cursorField":    cfg.CursorField,
			"primaryKey":     cfg.PrimaryKey,
			"selectedFields": *cfg.SelectedFields,
			"mappers":        *cfg.Mappers,
		}
		if sc.stream.Namespace != "" {
			m["namespace"] = sc.stream.Namespace
		}
		streams = append(streams, m)
	}
	sched := map[string]any{"scheduleType": c.ScheduleType}
	switch c.ScheduleType {
	case "cron":
		sched["cronExpression"] = c.CronExpression + " " + c.CronTimeZone
	case "basic":
		sched["basicTiming"] = fmt.Sprintf("Every %d %s", c.BasicUnits, strings.ToUpper(c.BasicTimeUnit))
	}
	out := map[string]any{
		"connectionId":                     c.ID,
		"name":                             c.Name,
		"sourceId":                         c.SourceID,
		"destinationId":                    c.DestinationID,
		"workspaceId":                      c.WorkspaceID,
		"status":                           c.Status,
		"schedule":                         sched,
		"nonBreakingSchemaUpdatesBehavior": toPublicPreference(c.NonBreakingPreference),
		"namespaceDefinition":              toPublicNamespace(c.NamespaceDefinition),
		"configurations":                   map[string]any{"streams": streams},
		"createdAt":                        epoch(c.CreatedAt),
		"tags":                             nonNilAny(c.Tags),
		// ConnectionCreateRequest.prefix defaults to "": Airbyte stores and answers it.
		"prefix": c.Prefix,
	}
	if c.NamespaceFormat != "" {
		out["namespaceFormat"] = c.NamespaceFormat
	}
	if c.StatusReason != "" {
		out["statusReason"] = c.StatusReason
	}
	return out
}

func nonNilAny(s []any) []any {
	if s == nil {
		return []any{}
	}
	return s
}

func (e *Emulator) createConnection(r *http.Request) (int, any, error) {
	var req connectionRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.SourceID == "" || req.DestinationID == "" {
		return 0, nil, problem(probBadRequest, "sourceId and destinationId are required")
	}
	cron, err := validateCron(req.Schedule)
	if err != nil {
		return 0, nil, err
	}
	s, ac, err := e.discoverForPublic(r, req.SourceID, false)
	defer e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	d, ok := e.st.destinations[req.DestinationID]
	if !ok {
		return 0, nil, notFound(resDestination, req.DestinationID)
	}
	def := e.st.sourceDefs[s.DefinitionID]
	catalog, err := e.buildCatalog(def, ac.Streams, d.SyncModes, req.streams())
	if err != nil {
		return 0, nil, err
	}
	c := &connectionRec{
		ID:                    e.newID(),
		Name:                  s.Name + " → " + d.Name,
		SourceID:              s.ID,
		DestinationID:         d.ID,
		WorkspaceID:           s.WorkspaceID,
		Status:                "active",
		ScheduleType:          "manual",
		NamespaceDefinition:   "destination",
		NonBreakingPreference: "ignore",
		BackfillPreference:    "disabled",
		NotifySchemaChanges:   true,
		Catalog:               catalog,
		SourceCatalogID:       ac.ID,
		CreatedAt:             e.clock.Now(),
		Tags:                  req.Tags,
	}
	if err := e.applyConnectionPatch(c, req, cron); err != nil {
		return 0, nil, err
	}
	c.ord = len(e.st.connOrder)
	e.st.connections[c.ID] = c
	e.st.connOrder = append(e.st.connOrder, c.ID)
	e.touchConnection(c)
	return http.StatusOK, e.publicConnectionJSON(c), nil
}

// applyConnectionPatch applies the scalar fields of a public create/patch.
func (e *Emulator) applyConnectionPatch(c *connectionRec, req connectionRequest, cron string) error {
	e.touchConnection(c)
	setIfSent(&c.Name, req.Name)
	if req.Schedule != nil {
		switch req.Schedule.ScheduleType {
		case "cron":
			c.ScheduleType, c.CronExpression, c.CronTimeZone = "cron", cron, "UTC"
		case "manual":
			c.ScheduleType, c.CronExpression = "manual", ""
		default:
			return problem(probBadRequest, "Invalid scheduleType: "+req.Schedule.ScheduleType)
		}
	}
	if req.NamespaceDefinition != nil {
		c.NamespaceDefinition = toConfigNamespace(*req.NamespaceDefinition)
	}
	setIfSent(&c.NamespaceFormat, req.NamespaceFormat)
	setIfSent(&c.Prefix, req.Prefix)
	if req.NonBreakingSchemaUpdatesBehavior != nil {
		p, ok := publicToConfigPreference[*req.NonBreakingSchemaUpdatesBehavior]
		if !ok {
			return problem(probBadRequest, "Invalid nonBreakingSchemaUpdatesBehavior: "+*req.NonBreakingSchemaUpdatesBehavior)
		}
		c.NonBreakingPreference = p
	}
	if req.Status != nil {
		switch *req.Status {
		case "active", "inactive", "deprecated":
			c.Status = *req.Status
			if c.Status == "active" {
				c.StatusReason = ""
			}
		default:
			return problem(probBadRequest, "Invalid status: "+*req.Status)
		}
	}
	if req.Tags != nil {
		c.Tags = req.Tags
	}
	return nil
}

func (e *Emulator) lookupConnection(id string) (*connectionRec, error) {
	c, ok := e.st.connections[id]
	if !ok {
		return nil, notFound(resConnection, id)
	}
	return c, nil
}

func (e *Emulator) getConnection(r *http.Request) (int, any, error) {
	return answerOne(e, func() (*connectionRec, error) { return e.lookupConnection(r.PathValue("connectionId")) }, nil, e.publicConnectionJSON)
}

func (e *Emulator) listConnections(r *http.Request) (int, any, error) {
	return listInWorkspaces(e, r, "connections", true,
		func() ([]string, map[string]*connectionRec) { return e.st.connOrder, e.st.connections },
		func(c *connectionRec) (string, bool) { return c.WorkspaceID, c.Status == "deprecated" }, e.publicConnectionJSON)
}

func (e *Emulator) patchConnection(r *http.Request) (int, any, error) {
	var req connectionRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	cron, err := validateCron(req.Schedule)
	if err != nil {
		return 0, nil, err
	}
	id := r.PathValue("connectionId")
	e.mu.Lock()
	c, err := e.lookupConnection(id)
	if err != nil {
		e.mu.Unlock()
		return 0, nil, err
	}
	if c.Status == "locked" {
		e.mu.Unlock()
		return 0, nil, &apiError{kind: probLocked, data: map[string]any{"connectionId": c.ID, "statusReason": c.StatusReason}}
	}
	sourceID := c.SourceID
	e.mu.Unlock()

	var catalog []catalogStream
	var catalogID string
	if len(req.streams()) > 0 {
		s, ac, err := e.discoverForPublic(r, sourceID, false)
		if err != nil {
			e.mu.Unlock()
			return 0, nil, err
		}
		d := e.st.destinations[c.DestinationID]
		catalog, err = e.buildCatalog(e.st.sourceDefs[s.DefinitionID], ac.Streams, d.SyncModes, req.streams())
		if err != nil {
			e.mu.Unlock()
			return 0, nil, err
		}
		catalogID = ac.ID
	} else {
		e.mu.Lock()
	}
	defer e.mu.Unlock()
	if err := e.applyConnectionPatch(c, req, cron); err != nil {
		return 0, nil, err
	}
	if catalog != nil {
		c.Catalog, c.SourceCatalogID = catalog, catalogID
	}
	return http.StatusOK, e.publicConnectionJSON(c), nil
}

// deprecateConnection marks c deprecated and cancels its running job. Callers hold e.mu.
func (e *Emulator) deprecateConnection(c *connectionRec) {
	c.Status = "deprecated"
	e.touchConnection(c)
	if j, ok := e.st.active[c.ID]; ok {
		e.cancelLocked(j, e.clock.Now())
	}
}

func (e *Emulator) deleteConnection(r *http.Request) (int, any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.lookupConnection(r.PathValue("connectionId"))
	if err != nil {
		return 0, nil, err
	}
	e.deprecateConnection(c)
	return http.StatusNoContent, nil, nil
}

// Configuration API: connections/get, connections/update, connections/status.

func (e *Emulator) configConnectionJSON(c *connectionRec) map[string]any {
	streams := make([]StreamAndConfig, len(c.Catalog))
	for i, sc := range c.Catalog {
		streams[i] = StreamAndConfig{Stream: *sc.stream, Config: renderedConfig(sc.config)}
	}
	out := map[string]any{
		"connectionId":                 c.ID,
		"name":                         c.Name,
		"namespaceDefinition":          c.NamespaceDefinition,
		"prefix":                       c.Prefix,
		"sourceId":                     c.SourceID,
		"destinationId":                c.DestinationID,
		"operationIds":                 []string{},
		"syncCatalog":                  map[string]any{"streams": streams},
		"scheduleType":                 c.ScheduleType,
		"status":                       c.Status,
		"sourceCatalogId":              c.SourceCatalogID,
		"breakingChange":               c.BreakingChange,
		"notifySchemaChanges":          c.NotifySchemaChanges,
		"notifySchemaChangesByEmail":   false,
		"nonBreakingChangesPreference": c.NonBreakingPreference,
		"backfillPreference":           c.BackfillPreference,
		"created_at":                   epoch(c.CreatedAt),
		"workspaceId":                  c.WorkspaceID,
		"tags":                         nonNilAny(c.Tags),
	}
	if c.NamespaceFormat != "" {
		out["namespaceFormat"] = c.NamespaceFormat
	}
	if c.StatusReason != "" {
		out["statusReason"] = c.StatusReason
	}
	switch c.ScheduleType {
	case "cron":
		out["scheduleData"] = map[string]any{"cron": map[string]any{"cronExpression": c.CronExpression, "cronTimeZone": c.CronTimeZone}}
	case "basic":
		out["scheduleData"] = map[string]any{"basicSchedule": map[string]any{"timeUnit": c.BasicTimeUnit, "units": c.BasicUnits}}
	}
	return out
}

func (e *Emulator) configGetConnection(r *http.Request) (int, any, error) {
	var req struct {
		ConnectionID string `json:"connectionId"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	return answerOne(e, func() (*connectionRec, error) { return e.lookupConnection(req.ConnectionID) }, nil, e.configConnectionJSON)
}

type connectionUpdate struct {
	ConnectionID        string  `json:"connectionId"`
	Name                *string `json:"name"`
	NamespaceDefinition *string `json:"namespaceDefinition"`
	NamespaceFormat     *string `json:"namespaceFormat"`
	Prefix              *string `json:"prefix"`
	SyncCatalog         *struct {
		Streams []StreamAndConfig `json:"streams"`
	} `json:"syncCatalog"`
	ScheduleType *string `json:"scheduleType"`
	ScheduleData *struct {
		Cron *struct {
			CronExpression string `json:"cronExpression"`
			CronTimeZone   string `json:"cronTimeZone"`
		} `json:"cron"`
		BasicSchedule *struct {
			TimeUnit string `json:"timeUnit"`
			Units    int64  `json:"units"`
		} `json:"basicSchedule"`
	} `json:"scheduleData"`
	Status                       *string `json:"status"`
	SourceCatalogID              *string `json:"sourceCatalogId"`
	BreakingChange               *bool   `json:"breakingChange"`
	NotifySchemaChanges          *bool   `json:"notifySchemaChanges"`
	NonBreakingChangesPreference *string `json:"nonBreakingChangesPreference"`
	BackfillPreference           *string `json:"backfillPreference"`
	Tags                         []any   `json:"tags"`
}

// configUpdateConnection serves connections/update: patch semantics, a present
// syncCatalog replaces the whole catalog (unselected streams dropped), and
// breakingChange changes only when sent.
func (e *Emulator) configUpdateConnection(r *http.Request) (int, any, error) {
	var req connectionUpdate
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.lookupConnection(req.ConnectionID)
	if err != nil {
		return 0, nil, err
	}
	if c.Status == "locked" {
		return 0, nil, &apiError{kind: probLocked, message: "Connection is locked and cannot be modified.", configStatus: 409}
	}
	e.touchConnection(c)
	if req.SyncCatalog != nil {
		var catalog []catalogStream
		for i := range req.SyncCatalog.Streams {
			sc := &req.SyncCatalog.Streams[i]
			if !sc.Config.Selected {
				continue
			}
			if sc.Stream.Name == "" || sc.Config.SyncMode == "" || sc.Config.DestinationSyncMode == "" {
				return 0, nil, &apiError{kind: probUnprocessable, message: "syncCatalog streams need stream.name, config.syncMode and config.destinationSyncMode"}
			}
			catalog = append(catalog, catalogStream{stream: e.internStream(c, req.SourceCatalogID, &sc.Stream), config: sc.Config})
		}
		c.Catalog = catalog
	}
	if req.SourceCatalogID != nil {
		if _, ok := e.st.catalogs[*req.SourceCatalogID]; !ok {
			return 0, nil, notFound("ACTOR_CATALOG", *req.SourceCatalogID)
		}
		c.SourceCatalogID = *req.SourceCatalogID
	}
	setIfSent(&c.Name, req.Name)
	setIfSent(&c.NamespaceDefinition, req.NamespaceDefinition)
	setIfSent(&c.NamespaceFormat, req.NamespaceFormat)
	setIfSent(&c.Prefix, req.Prefix)
	setIfSent(&c.ScheduleType, req.ScheduleType)
	if req.ScheduleData != nil {
		if cr := req.ScheduleData.Cron; cr != nil {
			c.CronExpression, c.CronTimeZone = cr.CronExpression, cmpOr(cr.CronTimeZone, "UTC")
		}
		if b := req.ScheduleData.BasicSchedule; b != nil {
			c.BasicTimeUnit, c.BasicUnits = b.TimeUnit, b.Units
		}
	}
	if req.Status != nil {
		c.Status = *req.Status
		if c.Status == "active" {
			c.StatusReason = ""
		}
	}
	setIfSent(&c.BreakingChange, req.BreakingChange)
	setIfSent(&c.NotifySchemaChanges, req.NotifySchemaChanges)
	setIfSent(&c.NonBreakingPreference, req.NonBreakingChangesPreference)
	setIfSent(&c.BackfillPreference, req.BackfillPreference)
	if req.Tags != nil {
		c.Tags = req.Tags
	}
	return http.StatusOK, e.configConnectionJSON(c), nil
}

// setIfSent stores *v in dst when the request sent v: the patch semantics of
// the update calls.
func setIfSent[T any](dst, v *T) {
	if v != nil {
		*dst = *v
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// internStream returns the stored stream for a stream sent in a connections/update
// catalog: the equal stream of the connection's catalogs when there is one (the
// usual case: clients send back what they discovered), else st itself, normalised
// as a stored stream. st was decoded from the request, so nothing else holds it.
// Callers hold e.mu.
func (e *Emulator) internStream(c *connectionRec, sourceCatalogID *string, st *Stream) *Stream {
	// Decoded streams normalise like copies of stored ones: an absent schema is an
	// empty object, an absent cursor or primary key an empty list.
	if st.JSONSchema == nil {
		st.JSONSchema = map[string]any{}
	}
	st.DefaultCursorField = orEmpty(st.DefaultCursorField)
	if st.SourceDefinedPrimaryKey == nil {
		st.SourceDefinedPrimaryKey = [][]string{}
	}
	equal := func(s *Stream) bool { return s.Name == st.Name && reflect.DeepEqual(*s, *st) }
	for _, cs := range c.Catalog {
		if equal(cs.stream) {
			return cs.stream
		}
	}
	for _, id := range []string{c.SourceCatalogID, deref(sourceCatalogID)} {
		if ac, ok := e.st.catalogs[id]; ok {
			for i := range ac.Streams {
				if equal(&ac.Streams[i]) {
					return &ac.Streams[i]
				}
			}
		}
	}
	return st
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
