package airbyte

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func pathID(id string) string { return url.PathEscape(id) }

// getPublic runs an idempotent GET on the public API.
func (c *Client) getPublic(ctx context.Context, op, path string, q url.Values, out any) error {
	return c.do(ctx, &request{api: APIPublic, op: op, method: http.MethodGet, path: path, query: q, idempotent: true}, out)
}

func listPage[T any](ctx context.Context, c *Client, op, path string, q url.Values) (*Page[T], error) {
	var page Page[T]
	if err := c.getPublic(ctx, op, path, q, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// ---- Workspaces ----

// GetWorkspace returns a workspace (GET /workspaces/{id}).
func (c *Client) GetWorkspace(ctx context.Context, workspaceID string) (*Workspace, error) {
	var w Workspace
	if err := c.getPublic(ctx, "getWorkspace", "/workspaces/"+pathID(workspaceID), nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// ListWorkspaces returns one page of workspaces (GET /workspaces).
func (c *Client) ListWorkspaces(ctx context.Context, p ListParams) (*Page[Workspace], error) {
	return listPage[Workspace](ctx, c, "listWorkspaces", "/workspaces", p.query(p.Limit, p.Offset))
}

// Workspaces iterates every workspace from p.Offset on.
func (c *Client) Workspaces(ctx context.Context, p ListParams) iter.Seq2[Workspace, error] {
	return paginate(ctx, p.Limit, p.Offset, func(ctx context.Context, limit, offset int) (*Page[Workspace], error) {
		return listPage[Workspace](ctx, c, "listWorkspaces", "/workspaces", p.query(limit, offset))
	})
}

// ---- Source definitions ----

// ListSourceDefinitions returns the source definitions available in a
// workspace (GET /workspaces/{id}/definitions/sources).
func (c *Client) ListSourceDefinitions(ctx context.Context, workspaceID string) ([]Definition, error) {
	var page Page[Definition]
	if err := c.getPublic(ctx, "listSourceDefinitions", "/workspaces/"+pathID(workspaceID)+"/definitions/sources", nil, &page); err != nil {
		return nil, err
	}
	return page.Data, nil
}

// GetSourceDefinition returns one source definition of a workspace.
func (c *Client) GetSourceDefinition(ctx context.Context, workspaceID, definitionID string) (*Definition, error) {
	var d Definition
	path := "/workspaces/" + pathID(workspaceID) + "/definitions/sources/" + pathID(definitionID)
	if err := c.getPublic(ctx, "getSourceDefinition", path, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// FindSourceDefinition returns the workspace's source definition for a
// source type such as "Salesforce" or "salesforce": the one whose name
// equals sourceType case-insensitively, else the one whose docker
// repository is airbyte/source-<sourceType> (spaces as dashes). It returns
// an error matching ErrNotFound when there is none.
func (c *Client) FindSourceDefinition(ctx context.Context, workspaceID, sourceType string) (*Definition, error) {
	defs, err := c.ListSourceDefinitions(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	want := strings.TrimSpace(sourceType)
	for i := range defs {
		if strings.EqualFold(defs[i].Name, want) {
			return &defs[i], nil
		}
	}
	repo := "airbyte/source-" + strings.ReplaceAll(strings.ToLower(want), " ", "-")
	for i := range defs {
		if strings.EqualFold(defs[i].DockerRepository, repo) {
			return &defs[i], nil
		}
	}
	return nil, fmt.Errorf("%w: source definition %q in workspace %s", ErrNotFound, sourceType, workspaceID)
}

// ---- Sources ----

// CreateSource creates a source (POST /sources). Airbyte does not enforce
// unique names and the call is not retried once it may have reached
// Airbyte; use a deterministic name and FindSourceByName before creating
// again. Error messages never contain the configuration's values.
func (c *Client) CreateSource(ctx context.Context, req SourceCreateRequest) (*Source, error) {
	var s Source
	r := &request{api: APIPublic, op: "createSource", method: http.MethodPost, path: "/sources", mask: newMasker(req.Configuration)}
	if err := c.call(ctx, r, req, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// GetSource returns a source (GET /sources/{id}).
func (c *Client) GetSource(ctx context.Context, sourceID string) (*Source, error) {
	var s Source
	if err := c.getPublic(ctx, "getSource", "/sources/"+pathID(sourceID), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListSources returns one page of sources (GET /sources).
func (c *Client) ListSources(ctx context.Context, p ListParams) (*Page[Source], error) {
	return listPage[Source](ctx, c, "listSources", "/sources", p.query(p.Limit, p.Offset))
}

// Sources iterates every source from p.Offset on, p.Limit (default 100) a page.
func (c *Client) Sources(ctx context.Context, p ListParams) iter.Seq2[Source, error] {
	return paginate(ctx, p.Limit, p.Offset, func(ctx context.Context, limit, offset int) (*Page[Source], error) {
		return listPage[Source](ctx, c, "listSources", "/sources", p.query(limit, offset))
	})
}

// ListAllSources returns every source from p.Offset on.
func (c *Client) ListAllSources(ctx context.Context, p ListParams) ([]Source, error) {
	return collect(c.Sources(ctx, p))
}

// FindSourceByName returns the workspace's source named exactly name. When
// earlier attempts left duplicates it returns the oldest (then the smallest
// id), so every caller settles on the same one. It returns an error
// matching ErrNotFound when there is none.
func (c *Client) FindSourceByName(ctx context.Context, workspaceID, name string) (*Source, error) {
	var found []Source
	for s, err := range c.Sources(ctx, ListParams{WorkspaceIDs: []string{workspaceID}}) {
		if err != nil {
			return nil, err
		}
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: source named %q in workspace %s", ErrNotFound, name, workspaceID)
	}
	s := slices.MinFunc(found, func(a, b Source) int {
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.SourceID, b.SourceID))
	})
	return &s, nil
}

// PatchSource updates a source (PATCH /sources/{id}); the configuration is
// merged into the stored one.
func (c *Client) PatchSource(ctx context.Context, sourceID string, req SourcePatchRequest) (*Source, error) {
	var s Source
	r := &request{api: APIPublic, op: "patchSource", method: http.MethodPatch, path: "/sources/" + pathID(sourceID),
		idempotent: true, mask: newMasker(req.Configuration)}
	if err := c.call(ctx, r, req, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DeleteSource soft-deletes a source and deprecates its connections
// (DELETE /sources/{id}).
func (c *Client) DeleteSource(ctx context.Context, sourceID string) error {
	return c.do(ctx, &request{api: APIPublic, op: "deleteSource", method: http.MethodDelete,
		path: "/sources/" + pathID(sourceID), idempotent: true}, nil)
}

// ---- Destinations ----

// GetDestination returns a destination (GET /destinations/{id}).
func (c *Client) GetDestination(ctx context.Context, destinationID string) (*Destination, error) {
	var d Destination
	if err := c.getPublic(ctx, "getDestination", "/destinations/"+pathID(destinationID), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListDestinations returns one page of destinations (GET /destinations).
func (c *Client) ListDestinations(ctx context.Context, p ListParams) (*Page[Destination], error) {
	return listPage[Destination](ctx, c, "listDestinations", "/destinations", p.query(p.Limit, p.Offset))
}

// Destinations iterates every destination from p.Offset on.
func (c *Client) Destinations(ctx context.Context, p ListParams) iter.Seq2[Destination, error] {
	return paginate(ctx, p.Limit, p.Offset, func(ctx context.Context, limit, offset int) (*Page[Destination], error) {
		return listPage[Destination](ctx, c, "listDestinations", "/destinations", p.query(limit, offset))
	})
}

// ListAllDestinations returns every destination from p.Offset on.
func (c *Client) ListAllDestinations(ctx context.Context, p ListParams) ([]Destination, error) {
	return collect(c.Destinations(ctx, p))
}

// ---- Connections ----

// CreateConnection creates a connection (POST /connections). Airbyte runs
// a (cached) discover to build the catalog, so the call runs under
// DiscoverTimeout. Like CreateSource it is not retried once it may have
// reached Airbyte; use FindConnectionByName before creating again.
func (c *Client) CreateConnection(ctx context.Context, req ConnectionCreateRequest) (*Connection, error) {
	var conn Connection
	r := &request{api: APIPublic, op: "createConnection", method: http.MethodPost, path: "/connections", discover: true}
	if err := c.call(ctx, r, req, &conn); err != nil {
		return nil, err
	}
	return &conn, nil
}

// GetConnection returns a connection (GET /connections/{id}).
func (c *Client) GetConnection(ctx context.Context, connectionID string) (*Connection, error) {
	var conn Connection
	if err := c.getPublic(ctx, "getConnection", "/connections/"+pathID(connectionID), nil, &conn); err != nil {
		return nil, err
	}
	return &conn, nil
}

// ListConnections returns one page of connections (GET /connections).
func (c *Client) ListConnections(ctx context.Context, p ListParams) (*Page[Connection], error) {
	return listPage[Connection](ctx, c, "listConnections", "/connections", p.query(p.Limit, p.Offset))
}

// Connections iterates every connection from p.Offset on.
func (c *Client) Connections(ctx context.Context, p ListParams) iter.Seq2[Connection, error] {
	return paginate(ctx, p.Limit, p.Offset, func(ctx context.Context, limit, offset int) (*Page[Connection], error) {
		return listPage[Connection](ctx, c, "listConnections", "/connections", p.query(limit, offset))
	})
}

// ListAllConnections returns every connection from p.Offset on.
func (c *Client) ListAllConnections(ctx context.Context, p ListParams) ([]Connection, error) {
	return collect(c.Connections(ctx, p))
}

// FindConnectionByName returns the workspace's connection named exactly
// name (deleted ones excluded), the oldest if there are several. It returns
// an error matching ErrNotFound when there is none.
func (c *Client) FindConnectionByName(ctx context.Context, workspaceID, name string) (*Connection, error) {
	var found []Connection
	for conn, err := range c.Connections(ctx, ListParams{WorkspaceIDs: []string{workspaceID}}) {
		if err != nil {
			return nil, err
		}
		if conn.Name == name && conn.Status != ConnectionDeprecated {
			found = append(found, conn)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: connection named %q in workspace %s", ErrNotFound, name, workspaceID)
	}
	conn := slices.MinFunc(found, func(a, b Connection) int {
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ConnectionID, b.ConnectionID))
	})
	return &conn, nil
}

// PatchConnection updates a connection (PATCH /connections/{id}). A
// non-empty Configurations replaces the whole stream set and makes Airbyte
// run a cached discover, so the call runs under DiscoverTimeout.
func (c *Client) PatchConnection(ctx context.Context, connectionID string, req ConnectionPatchRequest) (*Connection, error) {
	var conn Connection
	r := &request{api: APIPublic, op: "patchConnection", method: http.MethodPatch,
		path: "/connections/" + pathID(connectionID), idempotent: true, discover: true}
	if err := c.call(ctx, r, req, &conn); err != nil {
		return nil, err
	}
	return &conn, nil
}

// DeleteConnection deletes a connection; Airbyte keeps it as deprecated
// (DELETE /connections/{id}).
func (c *Client) DeleteConnection(ctx context.Context, connectionID string) error {
	return c.do(ctx, &request{api: APIPublic, op: "deleteConnection", method: http.MethodDelete,
		path: "/connections/" + pathID(connectionID), idempotent: true}, nil)
}

// ---- Streams ----

// GetStreamProperties returns the streams a source offers (GET /streams),
// running a discover when Airbyte has no cached catalog or IgnoreCache is
// set; it runs under DiscoverTimeout. A failed discover is a 500 whose
// message starts "Something went wrong in the connector."
func (c *Client) GetStreamProperties(ctx context.Context, p StreamPropertiesParams) ([]StreamProperties, error) {
	q := url.Values{"sourceId": {p.SourceID}}
	if p.DestinationID != "" {
		q.Set("destinationId", p.DestinationID)
	}
	if p.IgnoreCache {
		q.Set("ignoreCache", strconv.FormatBool(true))
	}
	var out []StreamProperties
	r := &request{api: APIPublic, op: "getStreamProperties", method: http.MethodGet, path: "/streams", query: q,
		idempotent: true, discover: true}
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return out, nil
}
