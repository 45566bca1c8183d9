package e2e_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// refusingTransport answers 401 to every Airbyte call but the token's while
// on, as Airbyte does when it no longer accepts AAM's client credentials.
type refusingTransport struct {
	next http.RoundTripper
	on   atomic.Bool
}

func (t *refusingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.on.Load() || strings.HasSuffix(r.URL.Path, "/applications/token") {
		return t.next.RoundTrip(r)
	}
	if r.Body != nil {
		_ = r.Body.Close()
	}
	body := `{"status":401,"type":"https://reference.airbyte.com/reference/errors","title":"unauthorized","detail":"Unauthorized"}`
	return &http.Response{StatusCode: http.StatusUnauthorized, Status: "401 Unauthorized", Request: r,
		Header:     http.Header{"Content-Type": {"application/problem+json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		ProtoMajor: 1, ProtoMinor: 1}, nil
}

// TestEveryWorkerRetriesAnAirbyte401 shows that onboarding, sync and repair
// handle Airbyte refusing AAM's credentials the same way: each request is
// retried, none fails or is dead-lettered while the refusal lasts, and each
// completes once Airbyte accepts the credentials again.
func TestEveryWorkerRetriesAnAirbyte401(t *testing.T) {
	t.Parallel()
	refuse := &refusingTransport{}
	m := newMeshWith(t, meshOptions{
		Transport: func(next http.RoundTripper) http.RoundTripper { refuse.next = next; return refuse },
		// Enough deliveries to outlast the refusal, quickly redelivered.
		Redelivery: bus.Redelivery{MaxDeliver: 1000, Backoff: func(uint64) time.Duration { return 20 * time.Millisecond }},
	})

	// Two connections, so that the repair (HEALING) and the sync (ACTIVE
	// only) do not meet on one.
	onboard := func(name string) string {
		reqID := m.Publish(events.TypeOnboardRequested, events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: name, CredentialID: testenv.SalesforceCredentialID})
		connID := onboarding.ConnectionID("/test/"+t.Name(), reqID)
		m.answer(t, reqID, events.TypeOnboarded, onboarding.Source, connID)
		return connID
	}
	toSync, toRepair := onboard("To sync"), onboard("To repair")

	refuse.on.Store(true)
	requests := map[string]string{ // request id → the fact that completes it
		m.Publish(events.TypeOnboardRequested, events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: "During the refusal", CredentialID: testenv.SalesforceCredentialID}): events.TypeOnboarded,
		m.Publish(events.TypeSyncRequested, events.SyncRequested{ConnectionID: toSync}): events.TypeSyncSucceeded,
		m.Publish(events.TypeRepairRequested, events.RepairRequested{ConnectionID: toRepair, NewSyncCatalog: []byte(`{"streams": [
			{"stream": {"name": "Account", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
			 "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}`)}): events.TypeCatalogVersioned,
	}
	retried := func(reqID string) int {
		n := 0
		for _, e := range m.Logs.FilterMessage("request will be retried").FilterField(zap.String("ce_id", reqID)).All() {
			if err, _ := e.ContextMap()["error"].(string); strings.Contains(err, "401") {
				n++
			}
		}
		return n
	}
	for reqID := range requests {
		require.Eventually(t, func() bool { return retried(reqID) >= 2 }, 30*time.Second, 10*time.Millisecond,
			"request %s is retried after a 401", reqID)
	}
	for reqID := range requests {
		require.Empty(t, m.Facts(reqID), "request %s has no answer while Airbyte refuses the credentials", reqID)
	}

	refuse.on.Store(false)
	for reqID, fact := range requests {
		m.WaitFact(reqID, fact, 30*time.Second)
	}
	for _, f := range m.Facts("") {
		require.NotContains(t, []string{events.TypeOnboardFailed, events.TypeSyncFailed, events.TypeRepairFailed}, f.Type(),
			"no request failed: %s", f.Data())
	}
}
