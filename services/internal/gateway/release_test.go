package gateway_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway"
)

// TestReleaseConnection releases a quarantined connection over HTTP: the
// request is published with the connection from the path, the answer is
// the connection.released data, and a connection that is not quarantined
// is rejected with the reason.
func TestReleaseConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	c := b.mesh.AddConnection("", "quarantined")
	b.mesh.SetHealth(c.ID, 5, true, "quarantined after 5 consecutive failed syncs")
	path := "/v1/connections/" + c.ID + "/release"

	// Bounds and shape are checked before anything is published.
	b.requireReasonChecked(http.MethodPost, path, "/v1/connections/"+registry.NewID()+"/release")
	r := b.do(http.MethodPost, path, `{"reason":"renewed","force":true}`)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)

	// With a reason, waiting for the answer.
	r = b.do(http.MethodPost, path+"?wait=10s", `{"reason":"credentials renewed"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, events.TypeReleased, r.header.Get("Aam-Event-Type"))
	var got events.ConnectionReleased
	r.json(t, &got)
	require.Equal(t, events.ConnectionReleased{ConnectionID: c.ID, Status: "ACTIVE", PreviousStatus: "QUARANTINED",
		ConsecutiveFailures: 5, Reason: "credentials renewed"}, got)
	msg := b.lastRequest()
	require.Equal(t, events.SubjectReleaseRequest, msg.Subject)
	h, err := b.mesh.Store.HealthGet(b.mesh.Ctx, c.ID)
	require.NoError(t, err)
	require.Zero(t, h.ConsecutiveFailures)
	r = b.do(http.MethodGet, "/v1/connections/"+c.ID, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var conn gateway.Connection
	r.json(t, &conn)
	require.Equal(t, "ACTIVE", conn.Status)

	// Without a body, as a 202 to follow: the connection is not
	// quarantined any more, so the request is rejected.
	r = b.do(http.MethodPost, path, "")
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	var acc gateway.Accepted
	r.json(t, &acc)
	require.Equal(t, events.TypeReleaseRequested, acc.Type)
	r = b.do(http.MethodGet, acc.StatusURL+"?wait=10s", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var st gateway.RequestStatus
	r.json(t, &st)
	require.Equal(t, gateway.RequestRejected, st.Status)
	require.Contains(t, st.Reason, "is ACTIVE, not QUARANTINED")
}
