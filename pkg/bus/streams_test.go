package bus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
)

// TestUnhandledRequestSubjectRefused: the requests stream stores only the
// subjects a route handles, so a request on any other aam.requests. subject
// is refused at publish instead of stored and never answered; a stream
// provisioned by an older release on aam.requests.> is narrowed in place.
func TestUnhandledRequestSubjectRefused(t *testing.T) {
	t.Parallel()
	ns := bustest.NewServer(t)
	_, js := bustest.Connect(t, ns)
	ctx := context.Background()

	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: bus.StreamRequests, Subjects: []string{events.SubjectRequestsAll}})
	require.NoError(t, err)
	require.NoError(t, bus.Provision(ctx, js, bus.StreamsConfig{}))
	s, err := js.Stream(ctx, bus.StreamRequests)
	require.NoError(t, err)
	require.Equal(t, events.RequestSubjects(), s.CachedInfo().Config.Subjects)
	require.Contains(t, events.RequestSubjects(), events.SubjectSyncRequest)

	_, err = js.Publish(ctx, "aam.requests.connection.nosuch", []byte(`{}`))
	require.True(t, errors.Is(err, jetstream.ErrNoStreamResponse), "publish to an unhandled subject: %v", err)
	for _, subject := range events.RequestSubjects() {
		_, err := js.Publish(ctx, subject, []byte(`{}`))
		require.NoError(t, err, subject)
	}
}
