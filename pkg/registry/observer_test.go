package registry_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/registry"
)

func TestObservationClaimsAndBaseline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := activeConnection(t, b, "obs")
	o, claimed, err := b.store.ObservationClaim(b.ctx, c.ID, 1, time.Now().Add(-time.Minute))
	require.NoError(t, err)
	require.True(t, claimed, "a connection never checked is claimed")
	require.Nil(t, o.Baseline)

	_, claimed, err = b.store.ObservationClaim(b.ctx, c.ID, 1, time.Now().Add(-time.Minute))
	require.NoError(t, err)
	require.False(t, claimed, "checked within the window")

	base := []registry.StreamName{{Name: "Account"}, {Name: "Lead", Namespace: "x"}}
	require.NoError(t, b.store.ObservationRecord(b.ctx, c.ID, 1, base, "cat-1", "h1"))
	require.NoError(t, b.store.ObservationRecord(b.ctx, c.ID, 1, []registry.StreamName{{Name: "Other"}}, "cat-2", "h2"))
	o, claimed, err = b.store.ObservationClaim(b.ctx, c.ID, 1, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.True(t, claimed)
	require.Equal(t, base, o.Baseline, "a known baseline stays")
	require.Equal(t, "cat-1", o.BaselineCatalogID)
	require.Equal(t, "h2", o.LastHash)

	o, claimed, err = b.store.ObservationClaim(b.ctx, c.ID, 2, time.Now().Add(-time.Minute))
	require.NoError(t, err)
	require.True(t, claimed, "a new version is claimed at once")
	require.Nil(t, o.Baseline, "and needs a new baseline")
	require.NoError(t, b.store.ObservationRecord(b.ctx, c.ID, 1, base, "stale", "h"))
	o, _, err = b.store.ObservationClaim(b.ctx, c.ID, 2, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Nil(t, o.Baseline, "a record for an old version is ignored")
}

func TestDriftsOncePerVersionAndCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := activeConnection(t, b, "drift")
	d := registry.Drift{ConnectionID: c.ID, CatalogVersion: 1, DiscoveredHash: "h1", Breaking: true,
		Diff: json.RawMessage(`{"transforms":[]}`), RepairRequestID: "r1"}
	ok, err := b.store.DriftInsert(b.ctx, d)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.store.DriftInsert(b.ctx, d)
	require.NoError(t, err)
	require.False(t, ok)
	d.CatalogVersion = 2
	ok, err = b.store.DriftInsert(b.ctx, d)
	require.NoError(t, err)
	require.True(t, ok)
	list, err := b.store.DriftList(b.ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.True(t, list[0].Breaking)
	require.Equal(t, "r1", list[0].RepairRequestID)
	require.JSONEq(t, `{"transforms":[]}`, string(list[0].Diff))
	require.Nil(t, list[0].RepairPublishedAt)

	at := time.Now().Truncate(time.Microsecond)
	require.NoError(t, b.store.DriftRepairPublished(b.ctx, c.ID, 1, "h1", at))
	got, err := b.store.DriftGet(b.ctx, c.ID, 1, "h1")
	require.NoError(t, err)
	require.True(t, got.RepairPublishedAt.Equal(at))
	_, err = b.store.DriftGet(b.ctx, c.ID, 3, "h1")
	require.ErrorIs(t, err, registry.ErrNotFound)
}
