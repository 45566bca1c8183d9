package observer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// defaultPolicy decides for connections that have no policy of their own
// (version 0).
var defaultPolicy = drift.MustCompile(drift.DefaultPolicy(), 0)

// DriftID is the id of a connection's drift: the catalog version it was
// measured against and the hash of the discovered catalog.
func DriftID(version int, hash string) string {
	return strconv.Itoa(version) + "-" + strings.TrimPrefix(hash, "sha256:")
}

// ParseDriftID splits a DriftID into its catalog version and hash.
func ParseDriftID(id string) (version int, hash string, err error) {
	v, h, ok := strings.Cut(id, "-")
	n, convErr := strconv.Atoi(v)
	if !ok || convErr != nil || n < 1 || h == "" {
		return 0, "", fmt.Errorf("%q is not a drift id (<catalog version>-<hash>)", id)
	}
	return n, "sha256:" + h, nil
}

// ConnectionPolicy returns the connection's drift policy in force, compiled:
// its latest stored version, or the default policy (version 0).
func ConnectionPolicy(ctx context.Context, q *registry.Queries, connectionID string) (*drift.Compiled, error) {
	p, err := q.PolicyLatest(ctx, connectionID)
	if registry.IsNotFound(err) {
		return defaultPolicy, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the drift policy: %w", err)
	}
	var doc drift.Policy
	if err := json.Unmarshal(p.Policy, &doc); err != nil {
		return nil, fmt.Errorf("drift policy v%d: %w", p.Version, err)
	}
	return drift.Compile(doc, p.Version)
}

// decide decides a drift's changes by the connection's policy.
func (o *Observer) decide(ctx context.Context, c registry.Connection, changes []drift.Change) (drift.Outcome, error) {
	p, err := ConnectionPolicy(ctx, o.store.Queries, c.ID)
	if err != nil {
		return drift.Outcome{}, err
	}
	conn := drift.Connection{ID: c.ID, Name: c.Name, SourceType: c.SourceType, Labels: p.Policy.Labels}
	return p.DecideAll(conn, changes), nil
}

// propagatesStreams reports whether the policy propagates a stream the
// source added (the heal then selects the new streams).
func propagatesStreams(oc drift.Outcome) bool {
	for _, d := range oc.Decisions {
		if d.Inputs.Change.Kind == drift.StreamAdded && d.Action == drift.ActionPropagate {
			return true
		}
	}
	return false
}

// driftStatus is where a new drift's decision stands once recorded.
func driftStatus(a drift.Action, repair bool) string {
	switch a {
	case drift.ActionPause:
		return registry.DriftPaused
	case drift.ActionRequireApproval:
		return registry.DriftApprovalRequested
	case drift.ActionPropagate:
		if repair {
			return registry.DriftPropagated
		}
	}
	return registry.DriftIgnored
}

// finishPause makes the Airbyte connection of a paused connection inactive,
// once: a paused drift records when it was done. A check of a PAUSED
// connection whose pause did not reach Airbyte (a crash, Airbyte down)
// finishes it. The call is made under the connection's status lock
// (registry.Queries.StatusLock), once the registry still has the pause
// pending: a resumption decided before the lock was taken is not undone,
// and one asked for meanwhile waits for the call to land.
func (o *Observer) finishPause(ctx context.Context, c registry.Connection) error {
	return o.store.InTx(ctx, func(q *registry.Queries) error {
		cur, err := q.StatusLock(ctx, c.ID)
		if err != nil {
			return err
		}
		d, err := q.DriftPausePending(ctx, c.ID)
		if registry.IsNotFound(err) {
			return nil // none, or resumed meanwhile
		}
		if err != nil {
			return err
		}
		if cur.AirbyteConnectionID == "" {
			return errors.New("the connection has no Airbyte connection")
		}
		if _, err := o.ab.PatchConnection(ctx, cur.AirbyteConnectionID, airbyte.ConnectionPatchRequest{Status: airbyte.ConnectionInactive}); err != nil {
			return err
		}
		return q.DriftAirbytePaused(ctx, c.ID, d.CatalogVersion, d.DiscoveredHash, time.Now())
	})
}

// changesSummary describes changes Airbyte's diff does not report.
func changesSummary(cs []drift.Change) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		what := string(c.Kind)
		if c.OldType != "" || c.NewType != "" {
			what += " " + c.OldType + " → " + c.NewType
		}
		parts = append(parts, c.Stream+": "+what)
	}
	return strings.Join(parts, "; ")
}

// maxReason is the longest reason a repair request or a pause carries
// (the request schemas bound free text to 1000 characters).
const maxReason = schemas.MaxReasonLength

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
