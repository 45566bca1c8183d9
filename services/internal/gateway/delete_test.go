package gateway_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway"
)

// TestDeleteConnection deletes a connection over HTTP: the request is
// published with the connection from the path, the answer is the
// connection.deleted data, the registry row stays with status DELETED, and
// a sync for it then fails with the reason.
func TestDeleteConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	c := b.mesh.AddConnection("", "to delete")
	path := "/v1/connections/" + c.ID

	// Bounds and shape are checked before anything is published.
	b.requireReasonChecked(http.MethodDelete, path, "/v1/connections/7b0e0a3c-0000-4000-8000-000000000000")

	// Without a body, and waiting for the answer.
	r := b.do(http.MethodDelete, path+"?wait=10s", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got events.ConnectionDeleted
	r.json(t, &got)
	require.Equal(t, c.ID, got.ConnectionID)
	require.Equal(t, "DELETED", got.Status)
	require.Equal(t, "ACTIVE", got.PreviousStatus)
	msg := b.lastRequest()
	require.Equal(t, events.SubjectDeleteRequest, msg.Subject)

	// The history stays readable.
	r = b.do(http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var conn registry.Connection
	r.json(t, &conn)
	require.Equal(t, registry.StatusDeleted, conn.Status)
	require.Equal(t, "deleted on request", conn.StatusReason)
	r = b.do(http.MethodGet, "/v1/connections?status=deleted", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Contains(t, string(r.body), c.ID)

	// With a reason, as a 202 to follow.
	r = b.do(http.MethodDelete, path, `{"reason":"duplicate"}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)

	r = b.do(http.MethodPost, path+"/sync?wait=10s", "", "Content-Type", "application/json")
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	require.Contains(t, string(r.body), "DELETED")
}
