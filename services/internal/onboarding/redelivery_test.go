package onboarding

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// TestOnboardRedeliveredWhileRunning: a request delivered again while its
// first delivery is still onboarding (its acknowledgement wait ran out under
// load: the same message, so the registry lease lets it in) is put back for
// later instead of creating a second Airbyte source and connection beside
// the first.
func TestOnboardRedeliveredWhileRunning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.Emulator.SetFaults(emulator.Faults{Latency: 150 * time.Millisecond})
	w, err := New(b.env.Deps, b.env.Airbyte, credentials.NewClient(b.env.Deps.NC, credentials.ClientOptions{Timeout: 5 * time.Second}), b.config())
	require.NoError(t, err)

	const name = "Redelivered"
	ev := bus.Event[events.OnboardRequested]{ID: uuid.NewString(), Source: b.requestSource(), Type: events.TypeOnboardRequested,
		Data: events.OnboardRequested{SourceType: "Salesforce", ConnectionName: name, CredentialID: testenv.SalesforceCredentialID},
		Msg:  bus.MsgInfo{Stream: bus.StreamRequests, Consumer: Consumer, Sequence: 7, NumDelivered: 1}}
	again := ev
	again.Msg.NumDelivered = 2

	var wg sync.WaitGroup
	var first error
	wg.Add(1)
	go func() { defer wg.Done(); first = w.handle(context.Background(), ev) }()
	// The second delivery arrives while the first is at work.
	require.Eventually(t, func() bool {
		_, busy := w.running.Load(ConnectionID(ev.Source, ev.ID))
		return busy
	}, 5*time.Second, time.Millisecond)
	err = w.handle(context.Background(), again)
	var ra *bus.RetryAfterError
	require.True(t, errors.As(err, &ra), "second delivery: %v, want a delayed retry", err)
	require.Equal(t, busyRetry, ra.Delay)
	wg.Wait()
	require.NoError(t, first)

	// Retried after the first answered, it finds the work done.
	require.NoError(t, w.handle(context.Background(), again))
	objectName := ObjectName(name, ConnectionID(ev.Source, ev.ID))
	require.Len(t, b.sourcesNamed(objectName), 1, "Airbyte sources")
	require.Len(t, b.connectionsNamed(objectName), 1, "Airbyte connections")
}
