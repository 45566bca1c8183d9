package onboarding

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// suggested are the Salesforce connector's suggested streams, which a
// connection created without a stream list syncs.
var suggested = []string{"Account", "Contact", "Lead", "Opportunity", "OpportunityStage", "Stage", "Task", "User"}

func TestOnboardHappyPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	ctx := context.Background()

	reqID, _ := b.request("Salesforce Production")
	fact := b.env.WaitFact(reqID, events.TypeOnboarded)
	id := ConnectionID(b.requestSource(), reqID)
	name := ObjectName("Salesforce Production", id)

	// Registry: ACTIVE at catalog version 1.
	conn := b.env.Connection(id)
	require.Equal(t, registry.StatusActive, conn.Status)
	require.Equal(t, 1, conn.CatalogVersion)
	require.Equal(t, StepCreateConnection, conn.OnboardStep)
	require.Equal(t, testenv.SalesforceCredentialID, conn.CredentialID)
	require.Equal(t, b.env.Emulator.DestinationID(), conn.AirbyteDestinationID)
	require.Empty(t, conn.DiscoveredCatalog)
	versions, err := b.env.Store.CatalogVersionList(ctx, id)
	require.NoError(t, err)
	require.Len(t, versions, 1)
	v := versions[0]
	require.Equal(t, 1, v.VersionNumber)
	require.Equal(t, "onboarded", v.Reason)
	require.Equal(t, reqID, v.RequestID)
	require.Equal(t, b.requestSource(), v.RequestSource)
	require.Equal(t, conn.AirbyteSourceCatalogID, v.SourceCatalogID)
	hash, err := registry.CatalogHash(v.SyncCatalog)
	require.NoError(t, err)
	require.Equal(t, hash, v.ContentHash)
	require.True(t, strings.HasPrefix(v.ContentHash, "sha256:"))

	// Emulator: one source with masked secrets, one connection with the
	// connector's suggested streams.
	srcs := b.sourcesNamed(name)
	require.Len(t, srcs, 1)
	src := srcs[0]
	require.Equal(t, conn.AirbyteSourceID, src.ID)
	require.Equal(t, emulator.SalesforceDefinitionID, src.DefinitionID)
	require.Equal(t, "**********", src.Configuration["client_secret"])
	require.Equal(t, "**********", src.Configuration["refresh_token"])
	require.Equal(t, testenv.TestSalesforce.ClientID, src.Configuration["client_id"])
	conns := b.connectionsNamed(name)
	require.Len(t, conns, 1)
	ac := conns[0]
	require.Equal(t, conn.AirbyteConnectionID, ac.ID)
	require.Equal(t, src.ID, ac.SourceID)
	require.Equal(t, b.env.Emulator.DestinationID(), ac.DestinationID)
	require.Equal(t, conn.AirbyteSourceCatalogID, ac.SourceCatalogID)
	var streams []string
	for _, s := range ac.Streams {
		streams = append(streams, s.Stream.Name)
	}
	require.ElementsMatch(t, suggested, streams)

	// The fact: exactly the seed's response, answering the request.
	require.Equal(t, events.TypeOnboarded, fact.Type())
	require.Equal(t, Source, fact.Source())
	require.Equal(t, id, fact.Subject())
	require.Equal(t, reqID, events.CorrelationID(fact))
	require.Equal(t, events.DeterministicID(b.requestSource(), reqID, events.TypeOnboarded), fact.ID())
	require.NoError(t, schemas.Validate(events.TypeOnboarded, fact.Data()))
	got := testenv.Data[events.ConnectionOnboarded](t, fact)
	want := events.ConnectionOnboarded{
		ID: id, Name: "Salesforce Production", SourceType: "Salesforce", Status: events.StatusActive,
		AirbyteSourceID: src.ID, AirbyteConnectionID: ac.ID, CreatedAt: conn.CreatedAt.UTC(),
		CatalogVersion: 1, Streams: streams,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("onboarded fact (-want +got):\n%s", diff)
	}

	// The stored catalog is what Airbyte holds.
	var stored struct {
		Streams []struct {
			Stream struct{ Name string } `json:"stream"`
		} `json:"streams"`
	}
	require.NoError(t, json.Unmarshal(v.SyncCatalog, &stored))
	require.Len(t, stored.Streams, len(suggested))

	// Exactly one fact and one inbox entry.
	require.Equal(t, map[string]int{events.TypeOnboarded: 1}, b.env.OutboxTypes(reqID))
	in, err := b.env.Store.InboxGet(ctx, b.requestSource(), reqID)
	require.NoError(t, err)
	require.Equal(t, registry.OutcomeDone, in.Outcome)

	// A first delivery creates without looking up by name.
	require.Zero(t, b.calls.Count(http.MethodGet, "/v1/sources"))
	require.Zero(t, b.calls.Count(http.MethodGet, "/v1/connections"))
}

func TestOnboardRequestedStreamsAndDestination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)

	data := events.OnboardRequested{SourceType: "salesforce", ConnectionName: "Sales",
		CredentialID: testenv.SalesforceCredentialID, DestinationID: b.env.Emulator.DestinationID(),
		Streams: []string{"Opportunity", "Account"}}
	reqID := b.env.Publish(events.TypeOnboardRequested, data)
	fact := b.env.WaitFact(reqID, events.TypeOnboarded)
	got := testenv.Data[events.ConnectionOnboarded](t, fact)
	require.ElementsMatch(t, []string{"Account", "Opportunity"}, got.Streams)
	require.Equal(t, "salesforce", got.SourceType)

	conns := b.connectionsNamed(ObjectName("Sales", got.ID))
	require.Len(t, conns, 1)
	var names []string
	for _, s := range conns[0].Streams {
		names = append(names, s.Stream.Name)
	}
	require.ElementsMatch(t, []string{"Account", "Opportunity"}, names)
	require.Equal(t, []string{"Opportunity", "Account"}, b.env.Connection(got.ID).RequestedStreams)
}

func TestOnboardDuplicateRequestIsOneConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)

	data := events.OnboardRequested{SourceType: "Salesforce", ConnectionName: "Twice", CredentialID: testenv.SalesforceCredentialID}
	reqID := b.env.Publish(events.TypeOnboardRequested, data)
	b.env.WaitFact(reqID, events.TypeOnboarded)
	// The same request id again, after JetStream's duplicate window would
	// have let it through: the inbox answers it.
	ev, err := events.New(events.TypeOnboardRequested, b.requestSource(), data, events.WithID(reqID))
	require.NoError(t, err)
	msg, err := events.ToMsg(events.SubjectOnboardRequest, ev, events.Binary)
	require.NoError(t, err)
	msg.Header.Del(events.HeaderMsgID)
	_, err = b.env.JS.PublishMsg(context.Background(), msg)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := b.env.JS.Consumer(context.Background(), "AAM_REQUESTS", Consumer)
		if err != nil {
			return false
		}
		ci, err := info.Info(context.Background())
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0
	}, 10*time.Second, 20*time.Millisecond)
	id := ConnectionID(b.requestSource(), reqID)
	require.Len(t, b.sourcesNamed(ObjectName("Twice", id)), 1)
	require.Len(t, b.connectionsNamed(ObjectName("Twice", id)), 1)
	require.Equal(t, map[string]int{events.TypeOnboarded: 1}, b.env.OutboxTypes(reqID))
}

func TestOnboardFailsPermanently(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		data       events.OnboardRequested
		wantStep   string
		wantReason string
	}{
		{
			name:       "unknown source type",
			data:       events.OnboardRequested{SourceType: "Hubspotty", ConnectionName: "Nope", CredentialID: testenv.SalesforceCredentialID},
			wantStep:   StepSourceDefinition,
			wantReason: "source definition not found for source_type Hubspotty",
		},
		{
			name:       "unknown credential",
			data:       events.OnboardRequested{SourceType: "Salesforce", ConnectionName: "Nope", CredentialID: "no-such-credential"},
			wantStep:   StepCredentials,
			wantReason: `credential "no-such-credential" not found in the credential broker`,
		},
		{
			name: "unknown stream",
			data: events.OnboardRequested{SourceType: "Salesforce", ConnectionName: "Nope", CredentialID: testenv.SalesforceCredentialID,
				Streams: []string{"Invoice__c"}},
			wantStep:   StepCreateConnection,
			wantReason: "No streams found with name [Invoice__c]",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.start(t)
			reqID := b.env.Publish(events.TypeOnboardRequested, tc.data)
			fact := b.env.WaitFact(reqID, events.TypeOnboardFailed)
			require.NoError(t, schemas.Validate(events.TypeOnboardFailed, fact.Data()))
			got := testenv.Data[events.OnboardFailed](t, fact)
			id := ConnectionID(b.requestSource(), reqID)
			require.Equal(t, id, got.ID)
			require.Equal(t, id, fact.Subject())
			require.Equal(t, reqID, events.CorrelationID(fact))
			require.Equal(t, events.StatusFailed, got.Status)
			require.Equal(t, tc.wantStep, got.Step)
			require.Contains(t, got.Reason, tc.wantReason)
			require.Equal(t, tc.data.ConnectionName, got.Name)
			require.Equal(t, tc.data.SourceType, got.SourceType)

			conn := b.env.Connection(id)
			require.Equal(t, registry.StatusFailed, conn.Status)
			require.Contains(t, conn.StatusReason, tc.wantStep+": ")
			in, err := b.env.Store.InboxGet(context.Background(), b.requestSource(), reqID)
			require.NoError(t, err)
			require.Equal(t, registry.OutcomeFailed, in.Outcome)
			// Permanent: one delivery, no retries; a dead-letter copy.
			require.Equal(t, map[string]int{events.TypeOnboardFailed: 1}, b.env.OutboxTypes(reqID))
			require.Empty(t, b.connectionsNamed(ObjectName("Nope", id)))
			if tc.wantStep != StepCreateConnection {
				require.Empty(t, b.sourcesNamed(ObjectName("Nope", id)))
				require.Zero(t, b.calls.Count(http.MethodPost, "/v1/sources"))
			}
			requireDeadLetter(t, b, reqID)
		})
	}
}

// requireDeadLetter waits for the request's copy on the DLQ.
func requireDeadLetter(t *testing.T, b *bundle, reqID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		s, err := b.env.JS.Stream(context.Background(), "AAM_DLQ")
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs >= 1
	}, 10*time.Second, 20*time.Millisecond, "no dead letter for %s", reqID)
}

func TestOnboardRidesOutAirbyteFaults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.Emulator.SetFaults(emulator.Faults{ErrorRate: 0.35, ErrorStatus: http.StatusInternalServerError, RateLimitRate: 0.25})
	b.start(t, workerOpts{maxDeliver: 50})
	reqIDs := make([]string, 3)
	names := []string{"Faulty A", "Faulty B", "Faulty C"}
	for i, n := range names {
		reqIDs[i], _ = b.request(n)
	}
	for i, reqID := range reqIDs {
		fact := b.env.WaitFact(reqID, events.TypeOnboarded, 60*time.Second)
		got := testenv.Data[events.ConnectionOnboarded](t, fact)
		require.Len(t, b.sourcesNamed(ObjectName(names[i], got.ID)), 1, "sources for %s", names[i])
		require.Len(t, b.connectionsNamed(ObjectName(names[i], got.ID)), 1, "connections for %s", names[i])
		require.Equal(t, map[string]int{events.TypeOnboarded: 1}, b.env.OutboxTypes(reqID))
	}
	require.Positive(t, b.calls.Status(http.StatusInternalServerError), "500s were injected")
	require.Positive(t, b.calls.Status(http.StatusTooManyRequests), "429s were injected")
}

func TestOnboardGivesUpAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{airbyte: airbyteNoRetry()})
	b.env.Emulator.SetFaults(emulator.Faults{Path: "/api/v1/sources/discover_schema", ErrorRate: 1, ErrorStatus: http.StatusBadGateway})
	b.start(t, workerOpts{maxDeliver: 3})
	reqID, _ := b.request("Unlucky")
	fact := b.env.WaitFact(reqID, events.TypeOnboardFailed)
	got := testenv.Data[events.OnboardFailed](t, fact)
	require.Equal(t, StepDiscover, got.Step)
	require.Contains(t, got.Reason, "502")
	require.Contains(t, got.Reason, "gave up after 3 deliveries")
	require.NotEmpty(t, got.AirbyteSourceID, "the source created before the failure is named")
	require.Equal(t, registry.StatusFailed, b.env.Connection(got.ID).Status)
}

func TestOnboardWaitsForTheCredentialBroker(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noBroker: true})
	b.start(t, workerOpts{maxDeliver: 100})
	reqID, _ := b.request("Patient")
	require.Eventually(t, func() bool {
		return b.env.Logs.FilterMessage("request will be retried").FilterFieldKey("error").Len() >= 2
	}, 10*time.Second, 10*time.Millisecond)
	require.Empty(t, b.env.Facts(reqID))
	retried := b.env.Logs.FilterMessage("request will be retried").All()[0]
	require.Contains(t, retried.ContextMap()["error"], "credentials: broker unavailable")
	require.Zero(t, b.calls.Count(http.MethodPost, "/v1/sources"))

	b.broker = b.env.StartBroker()
	got := testenv.Data[events.ConnectionOnboarded](t, b.env.WaitFact(reqID, events.TypeOnboarded))
	require.Len(t, b.sourcesNamed(ObjectName("Patient", got.ID)), 1)
}

func TestOnboardSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	ok, _ := b.request("Secretive")
	b.env.WaitFact(ok, events.TypeOnboarded)
	// A failing onboarding too: its errors travel into facts and logs.
	b.env.Emulator.SetFaults(emulator.Faults{Path: "/api/public/v1/sources", ErrorRate: 1})
	bad, _ := b.request("Secretive too")
	b.env.WaitFact(bad, events.TypeOnboardFailed, 30*time.Second)

	var haystack []string
	for _, e := range b.env.Logs.All() {
		fields, err := json.Marshal(e.ContextMap())
		require.NoError(t, err)
		haystack = append(haystack, "log: "+e.Message+" "+string(fields))
	}
	for _, f := range b.env.Facts("") {
		haystack = append(haystack, "fact: "+string(f.Data())+" "+f.String())
	}
	rows, err := b.env.Store.Pool().Query(context.Background(),
		`SELECT row_to_json(c)::text FROM connections c UNION ALL SELECT row_to_json(v)::text FROM sync_catalog_versions v
		 UNION ALL SELECT row_to_json(i)::text FROM inbox i UNION ALL SELECT convert_from(data, 'UTF8') || headers::text FROM outbox`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		haystack = append(haystack, "registry: "+s)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, haystack)
	for _, secret := range b.broker.Secrets {
		for _, h := range haystack {
			require.NotContains(t, h, secret)
		}
	}
	require.True(t, slices.ContainsFunc(haystack, func(h string) bool { return strings.Contains(h, "onboard") }))
}
