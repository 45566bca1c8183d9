package outbox_test

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

func TestEncodeBuildsTheRowThatPublishesTheEvent(t *testing.T) {
	t.Parallel()
	e, err := events.New(events.TypeSyncStarted, "/aam/sync", events.SyncStarted{ConnectionID: "c", JobID: "1"},
		events.WithSubject("c"), events.WithCorrelationID("req-1"),
		events.WithTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
	require.NoError(t, err)
	row, err := outbox.Encode(events.SubjectSyncStarted, e)
	require.NoError(t, err)
	require.Equal(t, e.ID(), row.EventID)
	require.Equal(t, events.TypeSyncStarted, row.EventType)
	require.Equal(t, events.SubjectSyncStarted, row.Subject)
	require.Equal(t, "c", row.ConnectionID, "ordered by the connection the event is about")
	require.Equal(t, "req-1", row.CorrelationID)

	msg := outbox.Msg(row)
	require.Equal(t, events.SubjectSyncStarted, msg.Subject)
	require.Equal(t, e.ID(), msg.Header.Get(events.HeaderMsgID))
	require.Equal(t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", msg.Header.Get(events.HeaderTraceParent))
	msg.Header.Set(events.HeaderMsgID, "changed")
	require.Equal(t, e.ID(), outbox.Msg(row).Header.Get(events.HeaderMsgID), "a message does not share the row's headers")

	got, err := outbox.Decode(row)
	require.NoError(t, err)
	require.Equal(t, e.ID(), got.ID())
	require.Equal(t, e.Type(), got.Type())
	require.Equal(t, "c", got.Subject())
	require.JSONEq(t, string(e.Data()), string(got.Data()))
}

func TestEncodeRefusesAnInvalidEvent(t *testing.T) {
	t.Parallel()
	_, err := outbox.Encode(events.SubjectSyncStarted, event.New()) // no id, source or type
	require.ErrorIs(t, err, registry.ErrInvalid)
}
