package airbyte

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// ConfigAPIClient calls Airbyte's configuration API (/api/v1, every method a
// POST with a JSON body). Airbyte does not promise this API's stability;
// the client uses it only where the public API has no equivalent. Get one
// with [Client.ConfigAPI]; it shares the Client's token, limiter and
// breakers.
type ConfigAPIClient struct {
	c *Client
}

// ConfigAPI returns the configuration API view of c.
func (c *Client) ConfigAPI() *ConfigAPIClient { return &ConfigAPIClient{c: c} }

// post runs an RPC. Every method used here converges when repeated, so all
// are idempotent for the retry rule.
func (a *ConfigAPIClient) post(ctx context.Context, op, path string, discover bool, in, out any) error {
	r := &request{api: APIConfig, op: op, method: http.MethodPost, path: path, idempotent: true, discover: discover}
	return a.c.call(ctx, r, in, out)
}

// DiscoverSchema discovers a source's catalog (sources/discover_schema),
// under DiscoverTimeout. A discover that ran and failed (HTTP 200 with
// jobInfo.succeeded false) returns a *DiscoverError.
//
// Without ConnectionID the call only reads: the answer is {catalog,
// catalogId, jobInfo}. With ConnectionID and a fresh discover Airbyte also
// diffs against the connection's catalog and persists the outcome (the
// connection's breakingChange flag, and it may disable the connection), and
// answers with catalogDiff, breakingChange and connectionStatus.
func (a *ConfigAPIClient) DiscoverSchema(ctx context.Context, req DiscoverSchemaRequest) (*SourceDiscoverSchemaRead, error) {
	var out SourceDiscoverSchemaRead
	if err := a.post(ctx, "discoverSchemaForSource", "/sources/discover_schema", true, req, &out); err != nil {
		return nil, err
	}
	if out.JobInfo != nil && !out.JobInfo.Succeeded {
		return nil, &DiscoverError{SourceID: req.SourceID, JobInfo: *out.JobInfo}
	}
	if out.Catalog == nil {
		return nil, fmt.Errorf("airbyte: discover schema of source %s: %w: no catalog", req.SourceID, ErrInvalidResponse)
	}
	return &out, nil
}

// GetConnection returns a connection with its sync catalog, sourceCatalogId
// and breakingChange flag (connections/get).
func (a *ConfigAPIClient) GetConnection(ctx context.Context, connectionID string) (*ConnectionRead, error) {
	var out ConnectionRead
	in := struct {
		ConnectionID string `json:"connectionId"`
	}{connectionID}
	if err := a.post(ctx, "getConnection", "/connections/get", false, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateConnection patches a connection (connections/update) and returns it.
// A SyncCatalog replaces the whole catalog; see ConnectionUpdate.
func (a *ConfigAPIClient) UpdateConnection(ctx context.Context, upd ConnectionUpdate) (*ConnectionRead, error) {
	var out ConnectionRead
	if err := a.post(ctx, "updateConnection", "/connections/update", false, upd, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetJob returns a job with its attempts and their failure summaries
// (jobs/get). JobInfoRead.FailureMessage gives the reason of a failed job.
func (a *ConfigAPIClient) GetJob(ctx context.Context, jobID int64) (*JobInfoRead, error) {
	var out JobInfoRead
	in := struct {
		ID int64 `json:"id"`
	}{jobID}
	if err := a.post(ctx, "getJobInfo", "/jobs/get", false, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// JobListForWorkspacesRequest asks jobs/list_for_workspaces for the jobs of
// some workspaces' connections. Unlike the public GET /jobs (a façade over
// the same call that passes one status), it takes any number of statuses.
// Airbyte lists nothing for no workspaces.
type JobListForWorkspacesRequest struct {
	ConfigTypes    []JobConfigType `json:"configTypes"`
	WorkspaceIDs   []string        `json:"workspaceIds"`
	Statuses       []JobStatus     `json:"statuses,omitempty"`
	UpdatedAtStart *time.Time      `json:"updatedAtStart,omitempty"`
	// OrderByField is createdAt or updatedAt; OrderByMethod ASC or DESC.
	OrderByField  string      `json:"orderByField,omitempty"`
	OrderByMethod string      `json:"orderByMethod,omitempty"`
	Pagination    *Pagination `json:"pagination,omitempty"`
}

// Pagination is a configuration API page: PageSize jobs from RowOffset.
type Pagination struct {
	PageSize  int `json:"pageSize"`
	RowOffset int `json:"rowOffset"`
}

// JobReadList is a configuration API job list. The jobs of
// jobs/list_for_workspaces are light: without attempts.
type JobReadList struct {
	Jobs []struct {
		Job JobRead `json:"job"`
	} `json:"jobs"`
	TotalJobCount int64 `json:"totalJobCount"`
}

// ListJobsForWorkspaces lists jobs (jobs/list_for_workspaces), a job
// read for admission's priorities.
func (a *ConfigAPIClient) ListJobsForWorkspaces(ctx context.Context, req JobListForWorkspacesRequest) (*JobReadList, error) {
	var out JobReadList
	if req.UpdatedAtStart != nil {
		t := req.UpdatedAtStart.UTC().Truncate(time.Second)
		req.UpdatedAtStart = &t
	}
	if err := a.post(ctx, "listJobsForWorkspaces", "/jobs/list_for_workspaces", false, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
