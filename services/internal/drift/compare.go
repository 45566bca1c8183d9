package drift

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aam-mesh/aam/pkg/airbyte"
)

// StreamRefresh is a stream Airbyte must refresh or clear after a catalog
// change.
type StreamRefresh struct {
	Stream    string `json:"stream"`
	Namespace string `json:"namespace,omitempty"`
	// Action is NeedRefresh or NeedClear.
	Action string `json:"action"`
	// Reasons name the configuration that changed: "sync mode
	// incremental → full_refresh", "cursor A → B", "primary key Id →
	// Id+Name", "destination sync mode append_dedup → overwrite".
	Reasons []string `json:"reasons"`
}

// Delta is what changes from one catalog to another (two versions of a
// connection's catalog): the streams' definitions in Airbyte's CatalogDiff
// form and classified, and the streams whose configuration changes enough
// for Airbyte to need a refresh or a clear.
type Delta struct {
	// Summary describes the delta in one line for people.
	Summary string              `json:"summary"`
	Diff    airbyte.CatalogDiff `json:"diff"`
	Changes []Change            `json:"changes"`
	// Breaking is AAM's verdict on the changes, AirbyteBreaking Airbyte's.
	Breaking        bool            `json:"breaking"`
	AirbyteBreaking bool            `json:"airbyte_breaking"`
	Refresh         []StreamRefresh `json:"refresh"`
}

// Compare measures catalog to against catalog from, as the observer
// measures a discovered catalog against a version: every stream of from
// is a configured one. A stream both catalogs sync needs a clear when its
// destination sync mode changes (the rows already written follow another
// mode), otherwise a refresh when its sync mode changes, its cursor
// changes while it syncs incrementally, or its primary key changes while
// it deduplicates.
func Compare(from, to *airbyte.AirbyteCatalog) Delta {
	d := Diff(nil, from, to)
	changes := Classify(d, from, to)
	out := Delta{Diff: d, Changes: changes, Breaking: Breaking(changes), AirbyteBreaking: AirbyteBreaking(changes),
		Refresh: []StreamRefresh{}}
	parts := []string{}
	if s := Summary(d); s != "" {
		parts = append(parts, s)
	}
	for _, t := range Streams(to) {
		f, ok := from.Stream(t.Stream.Name, t.Stream.Namespace)
		if !ok || f.Stream == nil || f.Config == nil || t.Config == nil {
			continue
		}
		r := refreshOf(f.Config, t.Config)
		if r.Action == "" {
			continue
		}
		r.Stream, r.Namespace = t.Stream.Name, t.Stream.Namespace
		out.Refresh = append(out.Refresh, r)
		name := r.Stream
		if r.Namespace != "" {
			name = r.Namespace + "." + name
		}
		parts = append(parts, name+": "+strings.Join(r.Reasons, ", "))
	}
	out.Summary = strings.Join(parts, "; ")
	return out
}

// What Airbyte needs for a stream whose configuration a catalog change
// alters: NeedRefresh is Airbyte's refresh (connections/refresh: the
// cursor goes back to the start and every record is read again, the data
// kept until it succeeds), NeedClear its clear (connections/clear/stream:
// the stream's data in the destination deleted, its cursor reset).
const (
	NeedRefresh = "refresh"
	NeedClear   = "clear"
)

// refreshOf compares one stream's configurations.
func refreshOf(from, to *airbyte.AirbyteStreamConfiguration) StreamRefresh {
	var r StreamRefresh
	if from.SyncMode != to.SyncMode {
		r.Action = NeedRefresh
		r.Reasons = append(r.Reasons, fmt.Sprintf("sync mode %s → %s", from.SyncMode, to.SyncMode))
	}
	if to.SyncMode == airbyte.SyncModeIncremental && !slices.Equal(from.CursorField, to.CursorField) {
		r.Action = NeedRefresh
		r.Reasons = append(r.Reasons, fmt.Sprintf("cursor %s → %s", fieldList(from.CursorField), fieldList(to.CursorField)))
	}
	if to.DestinationSyncMode.IsDedup() && !samePK(from.PrimaryKey, to.PrimaryKey) {
		r.Action = NeedRefresh
		r.Reasons = append(r.Reasons, fmt.Sprintf("primary key %s → %s", pkString(from.PrimaryKey), pkString(to.PrimaryKey)))
	}
	if from.DestinationSyncMode != to.DestinationSyncMode {
		r.Action = NeedClear
		r.Reasons = append(r.Reasons, fmt.Sprintf("destination sync mode %s → %s", from.DestinationSyncMode, to.DestinationSyncMode))
	}
	return r
}

func fieldList(f []string) string {
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, ".")
}
