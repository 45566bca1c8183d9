package emulator

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// maskConfig returns a copy of cfg with the definition's secret fields masked.
func maskConfig(def *SourceDefinition, cfg map[string]any) map[string]any {
	out := deepCopy(cfg).(map[string]any)
	if def == nil {
		return out
	}
	for _, s := range def.SecretFields {
		if _, ok := out[s]; ok {
			out[s] = secretMask
		}
	}
	return out
}

// validateConfig checks cfg against the definition's connector spec. Failures are
// 422 (JsonValidationException → unprocessable-entity).
func validateConfig(def *SourceDefinition, cfg map[string]any) error {
	var missing []string
	for _, f := range def.RequiredFields {
		v, ok := cfg[f]
		if !ok || v == nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		msgs := make([]string, len(missing))
		for i, m := range missing {
			msgs[i] = "$." + m + ": is missing but it is required"
		}
		return problem(probUnprocessable, "The provided configuration does not fulfill the specification. Errors: json schema validation failed when comparing the data to the json schema. \nErrors: "+strings.Join(msgs, ", "))
	}
	var errs []string
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := cfg[k]
		if want, ok := def.spec.Types[k]; ok && !jsonTypeIs(v, want) {
			errs = append(errs, fmt.Sprintf("$.%s: %s found, %s expected", k, jsonTypeOf(v), want))
			continue
		}
		if c, ok := def.spec.Consts[k]; ok && v != c {
			errs = append(errs, fmt.Sprintf("$.%s: must be the constant value '%s'", k, c))
		}
		if p, ok := def.spec.Patterns[k]; ok {
			if s, _ := v.(string); s != "" && !regexp.MustCompile(p).MatchString(s) {
				errs = append(errs, fmt.Sprintf("$.%s: does not match the regex pattern %s", k, p))
			}
		}
	}
	if len(errs) > 0 {
		return problem(probUnprocessable, "The provided configuration does not fulfill the specification. Errors: json schema validation failed when comparing the data to the json schema. \nErrors: "+strings.Join(errs, ", "))
	}
	return nil
}

func jsonTypeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "unknown"
}

func jsonTypeIs(v any, want string) bool {
	got := jsonTypeOf(v)
	return got == want || (want == "integer" && got == "number")
}

func (e *Emulator) sourceJSON(s *sourceRec) map[string]any {
	def := e.st.sourceDefs[s.DefinitionID]
	return map[string]any{
		"sourceId":      s.ID,
		"name":          s.Name,
		"sourceType":    sourceTypeOf(def, s.DefinitionID),
		"definitionId":  s.DefinitionID,
		"workspaceId":   s.WorkspaceID,
		"configuration": maskConfig(def, s.Config),
		"createdAt":     epoch(s.CreatedAt),
	}
}

// sourceTypeOf is the reverse sourceType lookup, "" when unknown.
func sourceTypeOf(def *SourceDefinition, id string) string {
	if def != nil && def.SourceType != "" {
		return def.SourceType
	}
	for name, did := range sourceNameToDefinitionID {
		if did == id {
			return name
		}
	}
	return ""
}

type sourceCreateRequest struct {
	Name          string         `json:"name"`
	WorkspaceID   string         `json:"workspaceId"`
	DefinitionID  string         `json:"definitionId"`
	Configuration map[string]any `json:"configuration"`
	SecretID      string         `json:"secretId"`
}

// resolveDefinition picks the definition from definitionId or
// configuration.sourceType (SourcesController). Callers hold e.mu.
func (e *Emulator) resolveDefinition(definitionID string, cfg map[string]any) (*SourceDefinition, error) {
	if definitionID == "" {
		st, _ := cfg["sourceType"].(string)
		if st == "" {
			return nil, problem(probUnprocessable, "Either definitionId or configuration.sourceType must be provided.")
		}
		for _, id := range e.st.sourceDefOrder {
			if d := e.st.sourceDefs[id]; d.SourceType == st {
				return d, nil
			}
		}
		id, ok := sourceNameToDefinitionID[st]
		if !ok {
			return nil, &apiError{kind: probUnknownValue, data: map[string]any{"value": st}}
		}
		definitionID = id
	}
	d, ok := e.st.sourceDefs[definitionID]
	if !ok {
		return nil, notFound(resSourceDef, definitionID)
	}
	return d, nil
}

// addSource stores a new source. Callers hold e.mu.
func (e *Emulator) addSource(name, workspaceID string, def *SourceDefinition, cfg map[string]any) (*sourceRec, error) {
	if workspaceID != e.st.workspace.ID {
		return nil, notFound(resWorkspace, workspaceID)
	}
	cfg = deepCopy(cfg).(map[string]any)
	delete(cfg, "sourceType")
	if err := validateConfig(def, cfg); err != nil {
		return nil, err
	}
	s := &sourceRec{
		ord:          len(e.st.sourceOrder),
		ID:           e.newID(),
		Name:         name,
		WorkspaceID:  workspaceID,
		DefinitionID: def.ID,
		Config:       cfg,
		CreatedAt:    e.clock.Now(),
		upstream:     def.schemaOf(),
	}
	e.st.sources[s.ID] = s
	e.st.sourceOrder = append(e.st.sourceOrder, s.ID)
	e.touchSource(s)
	return s, nil
}

func (e *Emulator) createSource(r *http.Request) (int, any, error) {
	var req sourceCreateRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Name == "" || req.WorkspaceID == "" || req.Configuration == nil {
		return 0, nil, problem(probBadRequest, "name, workspaceId and configuration are required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	def, err := e.resolveDefinition(req.DefinitionID, req.Configuration)
	if err != nil {
		return 0, nil, err
	}
	s, err := e.addSource(req.Name, req.WorkspaceID, def, req.Configuration)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, e.sourceJSON(s), nil
}

func (e *Emulator) lookupSource(id string, includeDeleted bool) (*sourceRec, error) {
	s, ok := e.st.sources[id]
	if !ok || (s.Deleted && !includeDeleted) {
		return nil, notFound(resSource, id)
	}
	e.touchSource(s) // a caller may change it
	return s, nil
}

// pathSource finds the source of the request path's sourceId (under e.mu,
// as answerOne calls it).
func (e *Emulator) pathSource(r *http.Request) func() (*sourceRec, error) {
	return func() (*sourceRec, error) { return e.lookupSource(r.PathValue("sourceId"), false) }
}

func (e *Emulator) getSource(r *http.Request) (int, any, error) {
	return answerOne(e, e.pathSource(r), nil, e.sourceJSON)
}

func (e *Emulator) listSources(r *http.Request) (int, any, error) {
	return listInWorkspaces(e, r, "sources", true,
		func() ([]string, map[string]*sourceRec) { return e.st.sourceOrder, e.st.sources },
		func(s *sourceRec) (string, bool) { return s.WorkspaceID, s.Deleted }, e.sourceJSON)
}

// mergeSecrets keeps stored secrets where the update echoes the mask back.
func mergeSecrets(def *SourceDefinition, old, upd map[string]any) {
	for _, s := range def.SecretFields {
		if upd[s] == secretMask {
			upd[s] = old[s]
		}
	}
}

// checkNewConfig readies cfg, a configuration a request gives s, as Airbyte
// does on an update: without sourceType, with the stored secrets where the
// request echoes their mask, and valid for the source's definition. Callers
// hold e.mu.
func (e *Emulator) checkNewConfig(s *sourceRec, cfg map[string]any) error {
	def := e.st.sourceDefs[s.DefinitionID]
	delete(cfg, "sourceType")
	mergeSecrets(def, s.Config, cfg)
	return validateConfig(def, cfg)
}

func (e *Emulator) patchSource(r *http.Request) (int, any, error) {
	var req struct {
		Name          *string        `json:"name"`
		WorkspaceID   *string        `json:"workspaceId"`
		Configuration map[string]any `json:"configuration"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	return answerOne(e, e.pathSource(r), func(s *sourceRec) error {
		cfg := s.Config
		if req.Configuration != nil {
			cfg = deepCopy(s.Config).(map[string]any)
			for k, v := range req.Configuration {
				cfg[k] = v
			}
			if err := e.checkNewConfig(s, cfg); err != nil {
				return err
			}
		}
		s.Config = cfg
		setIfSent(&s.Name, req.Name)
		return nil
	}, e.sourceJSON)
}

func (e *Emulator) putSource(r *http.Request) (int, any, error) {
	var req struct {
		Name          string         `json:"name"`
		Configuration map[string]any `json:"configuration"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Name == "" || req.Configuration == nil {
		return 0, nil, problem(probBadRequest, "name and configuration are required")
	}
	return answerOne(e, e.pathSource(r), func(s *sourceRec) error {
		cfg := deepCopy(req.Configuration).(map[string]any)
		if err := e.checkNewConfig(s, cfg); err != nil {
			return err
		}
		s.Name, s.Config = req.Name, cfg
		return nil
	}, e.sourceJSON)
}

// deleteSource tombstones the source after deprecating every connection using it
// (SourceHandler#deleteSource).
func (e *Emulator) deleteSource(r *http.Request) (int, any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.lookupSource(r.PathValue("sourceId"), false)
	if err != nil {
		return 0, nil, err
	}
	for _, cid := range e.st.connOrder {
		if c := e.st.connections[cid]; c.SourceID == s.ID && c.Status != "deprecated" {
			e.deprecateConnection(c)
		}
	}
	s.Deleted = true
	return http.StatusNoContent, nil, nil
}

// Configuration API: sources/create and sources/get.

func (e *Emulator) configSourceJSON(s *sourceRec) map[string]any {
	def := e.st.sourceDefs[s.DefinitionID]
	name := ""
	if def != nil {
		name = def.Name
	}
	return map[string]any{
		"sourceDefinitionId":       s.DefinitionID,
		"sourceId":                 s.ID,
		"workspaceId":              s.WorkspaceID,
		"connectionConfiguration":  maskConfig(def, s.Config),
		"name":                     s.Name,
		"sourceName":               name,
		"createdAt":                epoch(s.CreatedAt),
		"isVersionOverrideApplied": false,
		"supportState":             "supported",
	}
}

func (e *Emulator) configCreateSource(r *http.Request) (int, any, error) {
	var req struct {
		SourceDefinitionID      string         `json:"sourceDefinitionId"`
		ConnectionConfiguration map[string]any `json:"connectionConfiguration"`
		WorkspaceID             string         `json:"workspaceId"`
		Name                    string         `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.SourceDefinitionID == "" || req.WorkspaceID == "" || req.Name == "" || req.ConnectionConfiguration == nil {
		return 0, nil, &apiError{kind: probBadRequest, message: "sourceDefinitionId, connectionConfiguration, workspaceId and name are required"}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	def, ok := e.st.sourceDefs[req.SourceDefinitionID]
	if !ok {
		return 0, nil, notFound(resSourceDef, req.SourceDefinitionID)
	}
	s, err := e.addSource(req.Name, req.WorkspaceID, def, req.ConnectionConfiguration)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, e.configSourceJSON(s), nil
}

func (e *Emulator) configGetSource(r *http.Request) (int, any, error) {
	var req struct {
		SourceID string `json:"sourceId"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	return answerOne(e, func() (*sourceRec, error) { return e.lookupSource(req.SourceID, false) }, nil, e.configSourceJSON)
}
