package emulator_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// streamOf returns the named stream of a snapshot's upstream schema.
func streamOf(t *testing.T, streams []emulator.Stream, name string) emulator.Stream {
	t.Helper()
	for _, s := range streams {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stream %s", name)
	return emulator.Stream{}
}

func props(s emulator.Stream) map[string]any { return s.JSONSchema["properties"].(map[string]any) }

// sourceByID returns the snapshot of one source.
func sourceByID(t *testing.T, emu *emulator.Emulator, id string) emulator.SourceSnapshot {
	t.Helper()
	for _, s := range emu.Sources() {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no source %s", id)
	return emulator.SourceSnapshot{}
}

// TestMutateSchemaIsPerSource: sources of one definition share its schema until
// one is mutated; the mutation changes that source only, never the definition or
// its siblings, and a failed mutation changes nothing.
func TestMutateSchemaIsPerSource(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	a, sibling := b.createSource(t), b.createSource(t)
	discover := func(src string) string {
		return b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema",
			map[string]any{"sourceId": src, "disable_cache": true})["catalogId"].(string)
	}
	shared := discover(a)
	require.Equal(t, shared, discover(sibling), "identical schemas are one actor catalog")
	original := streamOf(t, sourceByID(t, b.emu, a).Streams, "Contact")

	require.NoError(t, b.emu.MutateSchema(a,
		emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"},
		emulator.SchemaOp{Op: "change_type", Stream: "Contact", Path: []string{"MailingAddress", "city"}, Type: "number"},
		emulator.SchemaOp{Op: "remove_field", Stream: "Lead", Field: "Rating"},
		emulator.SchemaOp{Op: "change_primary_key", Stream: "Task", PrimaryKey: [][]string{{"WhoId"}}},
	))
	mutated := sourceByID(t, b.emu, a).Streams
	require.Contains(t, props(streamOf(t, mutated, "Account")), "Region__c")
	require.Equal(t, map[string]any{"type": []any{"number", "null"}},
		props(streamOf(t, mutated, "Contact"))["MailingAddress"].(map[string]any)["properties"].(map[string]any)["city"])
	require.NotContains(t, props(streamOf(t, mutated, "Lead")), "Rating")
	require.Equal(t, [][]string{{"WhoId"}}, streamOf(t, mutated, "Task").SourceDefinedPrimaryKey)

	later := b.createSource(t)
	for _, id := range []string{sibling, later} {
		streams := sourceByID(t, b.emu, id).Streams
		require.NotContains(t, props(streamOf(t, streams, "Account")), "Region__c", "source %s", id)
		require.Equal(t, original, streamOf(t, streams, "Contact"), "source %s", id)
		require.Contains(t, props(streamOf(t, streams, "Lead")), "Rating", "source %s", id)
		require.Equal(t, [][]string{{"Id"}}, streamOf(t, streams, "Task").SourceDefinedPrimaryKey, "source %s", id)
	}
	require.Equal(t, shared, discover(sibling), "the sibling still discovers the shared catalog")
	require.Equal(t, shared, discover(later))
	require.NotEqual(t, shared, discover(a))

	// Atomic: the second op fails, so the first one is not applied either.
	err := b.emu.MutateSchema(sibling,
		emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Partial__c"},
		emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "Nope"})
	require.ErrorIs(t, err, emulator.ErrInvalidOp)
	require.NotContains(t, props(streamOf(t, sourceByID(t, b.emu, sibling).Streams, "Account")), "Partial__c")
	require.Equal(t, shared, discover(sibling))
}

// TestSnapshotsAreCopies: what Sources and Connections return belongs to the
// caller; changing it changes neither the emulator nor what it serves.
func TestSnapshotsAreCopies(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src, other := b.createSource(t), b.createSource(t)
	conn := b.createConnection(t, src, nil)
	b.createConnection(t, other, nil)
	getConn := func() []byte {
		return b.c.cfg("/connections/get", map[string]any{"connectionId": conn}).body
	}
	getPublic := func() []byte { return b.c.pub(http.MethodGet, "/connections/"+conn, nil).body }
	discover := func() []byte { // the catalog; jobInfo has a fresh id every time
		var d struct{ Catalog json.RawMessage }
		b.c.cfg("/sources/discover_schema", map[string]any{"sourceId": other}).json(t, &d)
		return d.Catalog
	}
	upstream := func() []byte { return b.c.do(http.MethodGet, "/_emulator/sources/"+src+"/schema", nil).body }
	beforeConn, beforePublic, beforeDiscover, beforeUpstream := getConn(), getPublic(), discover(), upstream()
	beforeSources, beforeConns := b.emu.Sources(), b.emu.Connections()

	for _, s := range b.emu.Sources() {
		for _, st := range s.Streams {
			delete(props(st), "Id")
			st.JSONSchema["type"] = "changed"
			st.DefaultCursorField[0] = "changed"
			st.SourceDefinedPrimaryKey[0][0] = "changed"
			st.SupportedSyncModes[0] = "changed"
		}
		s.Configuration["client_id"] = "changed"
	}
	for _, c := range b.emu.Connections() {
		for _, sc := range c.Streams {
			delete(props(sc.Stream), "Id")
			sc.Stream.DefaultCursorField[0] = "changed"
			sc.Config.CursorField[0] = "changed"
			sc.Config.PrimaryKey[0][0] = "changed"
			*sc.Config.SelectedFields = append(*sc.Config.SelectedFields, emulator.SelectedField{FieldPath: []string{"changed"}})
			*sc.Config.FieldSelectionEnabled = true
		}
	}

	require.JSONEq(t, string(beforeConn), string(getConn()))
	require.JSONEq(t, string(beforePublic), string(getPublic()))
	require.JSONEq(t, string(beforeDiscover), string(discover()))
	require.JSONEq(t, string(beforeUpstream), string(upstream()))
	require.Equal(t, beforeSources, b.emu.Sources())
	require.Equal(t, beforeConns, b.emu.Connections())
}

// TestConcurrentReadsDuringSchemaChanges serves catalogs (shared with the
// emulator's state) while schema changes propagate to connections; run with
// -race, it fails if a shared stream or configuration is changed in place.
func TestConcurrentReadsDuringSchemaChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{DiscoverWindow: -1})
	src, other := b.createSource(t), b.createSource(t)
	conn := b.createConnection(t, src, map[string]any{
		"nonBreakingSchemaUpdatesBehavior": "propagate_fully",
		"configurations": map[string]any{"streams": []any{map[string]any{
			"name": "Account", "syncMode": "incremental_deduped_history",
			"selectedFields": []any{map[string]any{"fieldPath": []any{"Id"}}, map[string]any{"fieldPath": []any{"SystemModstamp"}}},
		}}},
	})
	b.createConnection(t, other, nil)

	const changes = 20
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, read := range []func(c *client){
		func(c *client) { c.cfg("/connections/get", map[string]any{"connectionId": conn}) },
		func(c *client) { c.pub(http.MethodGet, "/connections/"+conn, nil) },
		func(c *client) { c.cfg("/sources/discover_schema", map[string]any{"sourceId": other}) },
		func(c *client) { c.do(http.MethodGet, "/_emulator/sources/"+other+"/schema", nil) },
		func(c *client) { c.pub(http.MethodGet, "/streams?sourceId="+src, nil) },
	} {
		wg.Go(func() {
			c := &client{t: t, base: b.srv.URL, http: b.srv.Client(), token: b.c.token}
			for {
				select {
				case <-done:
					return
				default:
					read(c)
				}
			}
		})
	}
	for i := range changes {
		field := "Custom" + itoa(int64(i)) + "__c"
		require.NoError(t, b.emu.MutateSchema(src,
			emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: field},
			emulator.SchemaOp{Op: "add_stream", Stream: "Object" + itoa(int64(i)) + "__c"}))
		b.clock.Advance(time.Second) // a new instant: the pre-sync check discovers again
		require.Equal(t, "succeeded", b.job(t, b.startSync(t, conn))["status"])
	}
	close(done)
	wg.Wait()

	c := b.emu.Connections()[0]
	require.Len(t, c.Streams, 1+changes, "every added stream was propagated")
	require.Len(t, *c.Streams[0].Config.SelectedFields, 2+changes, "every added field was selected")
	require.NotContains(t, props(streamOf(t, sourceByID(t, b.emu, other).Streams, "Account")), "Custom0__c")
}
