package emulator

import (
	"net/http"
	"net/url"
	"slices"
)

func (e *Emulator) workspaceJSON() map[string]any {
	return map[string]any{
		"workspaceId":   e.st.workspace.ID,
		"name":          e.st.workspace.Name,
		"dataResidency": "auto",
		"notifications": map[string]any{
			"failure": map[string]any{"email": map[string]any{"enabled": true}, "webhook": map[string]any{"enabled": false}},
			"success": map[string]any{"email": map[string]any{"enabled": false}, "webhook": map[string]any{"enabled": false}},
		},
	}
}

func (e *Emulator) listWorkspaces(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var items []map[string]any
	ids := multiQuery(q, "workspaceIds")
	if len(ids) == 0 || slices.Contains(ids, e.st.workspace.ID) {
		items = append(items, e.workspaceJSON())
	}
	filters := [][2]string{{"includeDeleted", q.Get("includeDeleted")}}
	if filters[0][1] == "" {
		filters[0][1] = "false"
	}
	return http.StatusOK, paginate(e, r, "workspaces", items, p, filters), nil
}

func (e *Emulator) getWorkspace(r *http.Request) (int, any, error) {
	id := r.PathValue("workspaceId")
	e.mu.Lock()
	defer e.mu.Unlock()
	if id != e.st.workspace.ID {
		return 0, nil, notFound(resWorkspace, id)
	}
	return http.StatusOK, e.workspaceJSON(), nil
}

func definitionJSON(d *SourceDefinition) map[string]any {
	return map[string]any{
		"id":               d.ID,
		"name":             d.Name,
		"dockerRepository": d.DockerRepository,
		"dockerImageTag":   d.DockerImageTag,
		"documentationUrl": d.DocumentationURL,
	}
}

func (e *Emulator) listSourceDefinitions(r *http.Request) (int, any, error) {
	ws := r.PathValue("workspaceId")
	e.mu.Lock()
	defer e.mu.Unlock()
	if ws != e.st.workspace.ID {
		return 0, nil, notFound(resWorkspace, ws)
	}
	data := make([]map[string]any, 0, len(e.st.sourceDefOrder))
	for _, id := range e.st.sourceDefOrder {
		data = append(data, definitionJSON(e.st.sourceDefs[id]))
	}
	return http.StatusOK, map[string]any{"data": data}, nil
}

func (e *Emulator) getSourceDefinition(r *http.Request) (int, any, error) {
	ws, id := r.PathValue("workspaceId"), r.PathValue("definitionId")
	e.mu.Lock()
	defer e.mu.Unlock()
	if ws != e.st.workspace.ID {
		return 0, nil, notFound(resWorkspace, ws)
	}
	d, ok := e.st.sourceDefs[id]
	if !ok {
		return 0, nil, notFound(resSourceDef, id)
	}
	return http.StatusOK, definitionJSON(d), nil
}

func (e *Emulator) listConnectorDefinitions(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	typ := q.Get("type")
	if typ != "source" && typ != "destination" {
		return 0, nil, problem(probBadRequest, "Query parameter type must be one of [source, destination]")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	data := []map[string]any{}
	if typ == "source" {
		for _, id := range e.st.sourceDefOrder {
			d := e.st.sourceDefs[id]
			data = append(data, map[string]any{"id": d.ID, "name": d.Name, "connectorDefinitionType": "source", "version": d.DockerImageTag})
		}
	} else {
		data = append(data, map[string]any{"id": PostgresDestinationDefinitionID, "name": "Postgres", "connectorDefinitionType": "destination", "version": "2.4.0"})
	}
	return http.StatusOK, map[string]any{"data": data}, nil
}

func (e *Emulator) configListSourceDefinitions(r *http.Request) (int, any, error) {
	var req struct {
		WorkspaceID string `json:"workspaceId"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if req.WorkspaceID != e.st.workspace.ID {
		return 0, nil, notFound(resWorkspace, req.WorkspaceID)
	}
	defs := make([]map[string]any, 0, len(e.st.sourceDefOrder))
	for _, id := range e.st.sourceDefOrder {
		d := e.st.sourceDefs[id]
		defs = append(defs, map[string]any{
			"sourceDefinitionId":        d.ID,
			"name":                      d.Name,
			"dockerRepository":          d.DockerRepository,
			"dockerImageTag":            d.DockerImageTag,
			"documentationUrl":          d.DocumentationURL,
			"protocolVersion":           "0.2.0",
			"custom":                    false,
			"supportLevel":              "certified",
			"releaseStage":              "generally_available",
			"sourceType":                "api",
			"maxSecondsBetweenMessages": 86400,
		})
	}
	return http.StatusOK, map[string]any{"sourceDefinitions": defs}, nil
}

func (e *Emulator) destinationJSON(d *destinationRec) map[string]any {
	return map[string]any{
		"destinationId":   d.ID,
		"name":            d.Name,
		"destinationType": d.DestinationType,
		"definitionId":    d.DefinitionID,
		"workspaceId":     d.WorkspaceID,
		"configuration":   d.Config,
		"createdAt":       epoch(d.CreatedAt),
	}
}

func (e *Emulator) listDestinations(r *http.Request) (int, any, error) {
	return listInWorkspaces(e, r, "destinations", false,
		func() ([]string, map[string]*destinationRec) { return e.st.destOrder, e.st.destinations },
		func(d *destinationRec) (string, bool) { return d.WorkspaceID, false }, e.destinationJSON)
}

func (e *Emulator) getDestination(r *http.Request) (int, any, error) {
	id := r.PathValue("destinationId")
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.st.destinations[id]
	if !ok {
		return 0, nil, notFound(resDestination, id)
	}
	return http.StatusOK, e.destinationJSON(d), nil
}

// workspaceList is the query of the source, destination and connection lists:
// a page, the workspaces (workspaceIds, all when empty) and, where the list has
// deleted objects, includeDeleted.
type workspaceList struct {
	page           page
	workspaces     []string
	includeDeleted bool
	// filters are copied into the page links.
	filters [][2]string
}

// parseWorkspaceList reads a list query. withDeleted says the list reads
// includeDeleted (the destination list does not).
func parseWorkspaceList(q url.Values, withDeleted bool) (workspaceList, error) {
	p, err := parsePage(q)
	if err != nil {
		return workspaceList{}, err
	}
	l := workspaceList{page: p, workspaces: multiQuery(q, "workspaceIds"), filters: listFilters(q)}
	if withDeleted {
		if l.includeDeleted, err = boolQuery(q, "includeDeleted"); err != nil {
			return workspaceList{}, err
		}
	}
	return l, nil
}

// listInWorkspaces answers the source, destination or connection list: under
// e.mu, records gives the records in creation order, the query keeps those of
// its workspaces that place reports (deleted ones only with includeDeleted
// where withDeleted), and one page of their views is the answer.
func listInWorkspaces[R any](e *Emulator, r *http.Request, resource string, withDeleted bool,
	records func() (order []string, byID map[string]R), place func(R) (workspaceID string, deleted bool),
	view func(R) map[string]any) (int, any, error) {
	l, err := parseWorkspaceList(r.URL.Query(), withDeleted)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	order, byID := records()
	var items []map[string]any
	for _, id := range order {
		if rec := byID[id]; l.keeps(place(rec)) {
			items = append(items, view(rec))
		}
	}
	return http.StatusOK, paginate(e, r, resource, items, l.page, l.filters), nil
}

// keeps reports whether the list shows an object of the workspace, deleted or
// not.
func (l workspaceList) keeps(workspace string, deleted bool) bool {
	return (!deleted || l.includeDeleted) && (len(l.workspaces) == 0 || slices.Contains(l.workspaces, workspace))
}

// listFilters are the filters Airbyte copies into source/destination/connection
// list links: workspaceIds (comma-joined) and includeDeleted.
func listFilters(q map[string][]string) [][2]string {
	var f [][2]string
	if ws := multiQuery(q, "workspaceIds"); len(ws) > 0 {
		f = append(f, [2]string{"workspaceIds", joinComma(ws)})
	}
	inc := "false"
	if v := q["includeDeleted"]; len(v) > 0 && v[0] != "" {
		inc = v[0]
	}
	return append(f, [2]string{"includeDeleted", inc})
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
