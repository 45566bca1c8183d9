package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/services/internal/cli"
	"github.com/aam-mesh/aam/services/internal/gateway"
)

// TestDevDriftStory runs the README's drift story in `aam dev`, its schema
// observer on a short interval and nobody asking for a check: a field added
// in the emulator is found by the schedule and propagated by the default
// policy (a new version whose reason names the rule); a field narrowed
// pauses the connection; approving it over HTTP applies the change and
// resumes; a rollback's dry run and the rollback itself go through the
// CLI. `aam drift ls` lists the drifts with their decisions, and the event
// stream holds the facts of each step.
func TestDevDriftStory(t *testing.T) {
	t.Parallel()
	const interval = 2 * time.Second
	p := startDev(t, t.TempDir(), "--observer-interval", interval.String())
	id := p.onboard("Drift story")
	get := func(path string, v any) {
		t.Helper()
		code, body := p.call(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, code, "%s", body)
		require.NoError(t, json.Unmarshal(body, v), "%s", body)
	}
	connection := func() gateway.Connection {
		var c gateway.Connection
		get("/v1/connections/"+id, &c)
		return c
	}
	versions := func() []gateway.CatalogVersion {
		var l gateway.CatalogVersionList
		get("/v1/connections/"+id+"/catalog/versions", &l)
		return l.Versions
	}
	waitVersion := func(n int) gateway.CatalogVersion {
		t.Helper()
		require.Eventually(t, func() bool { return len(versions()) >= n }, 30*interval, 100*time.Millisecond,
			"no catalog version %d; aam dev said:\n%s", n, p.out.String())
		return versions()[n-1]
	}
	mutate := func(op string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, p.emulator+"/_emulator/sources/"+connection().AirbyteSourceID+"/schema",
			strings.NewReader(op))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, op)
	}
	aam := func(args ...string) string {
		t.Helper()
		var out, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := cli.Execute(ctx, append(args, "--gateway", p.gateway), &out, &stderr)
		require.Equal(t, cli.ExitOK, code, "aam %s: %s", strings.Join(args, " "), stderr.String())
		return out.String()
	}

	// 1. A field added upstream: found by the schedule, propagated as
	// version 2 by the default policy, the rule in the reason.
	mutate(`{"op":"add_field","stream":"Account","field":"Region__c"}`)
	added := time.Now()
	v2 := waitVersion(2)
	t.Logf("field added → catalog version 2 in %s (observer interval %s)", time.Since(added).Round(100*time.Millisecond), interval)
	require.Contains(t, v2.Reason, "Region__c")
	require.Contains(t, v2.Reason, "(policy v0, rule propagate-columns)")
	require.Equal(t, "ACTIVE", connection().Status)

	// 2. A number narrowed to an integer: the connection is paused.
	mutate(`{"op":"change_type","stream":"Account","field":"AnnualRevenue","type":"integer"}`)
	require.Eventually(t, func() bool { return connection().Status == "PAUSED" }, 30*interval, 100*time.Millisecond,
		"not paused; aam dev said:\n%s", p.out.String())
	require.Contains(t, connection().StatusReason, "rule pause-breaking")

	// aam drift ls shows both drifts and what was decided.
	ls := aam("drift", "ls", id)
	require.Contains(t, ls, "propagate-columns")
	require.Contains(t, ls, "pause-breaking")
	require.Contains(t, ls, "type_narrowed")
	var drifts []gateway.Drift
	require.NoError(t, json.Unmarshal([]byte(aam("drift", "ls", id, "-o", "json")), &drifts))
	require.Len(t, drifts, 2)
	require.Equal(t, "propagated", drifts[0].Status)
	require.Equal(t, "paused", drifts[1].Status)

	// 3. Approved over HTTP: applied as version 3, the connection resumes.
	code, body := p.call(http.MethodPost, "/v1/connections/"+id+"/drifts/"+drifts[1].DriftID+"/approve?wait=30s",
		`{"reason":"finance checked"}`)
	require.Equal(t, http.StatusOK, code, "%s", body)
	var resolved events.DriftResolved
	require.NoError(t, json.Unmarshal(body, &resolved))
	require.True(t, resolved.Resumed)
	v3 := waitVersion(3)
	require.Contains(t, v3.Reason, "approved: finance checked")
	require.Eventually(t, func() bool { return connection().Status == "ACTIVE" }, 30*interval, 100*time.Millisecond)

	// 4. A rollback to version 2: first what it would change, then done.
	plan := aam("catalog", "rollback", id, "--to", "2", "--dry-run", "--wait")
	require.Contains(t, plan, "a rollback from catalog version 3 to 2 applies")
	require.Contains(t, plan, "AnnualRevenue")
	require.Len(t, versions(), 3, "a dry run changes nothing")
	done := aam("catalog", "rollback", id, "--to", "2", "--reason", "wait for the report", "--wait")
	require.Contains(t, done, "catalog version 3 → 4")
	require.Equal(t, "rollback to 2: wait for the report", waitVersion(4).Reason)

	// The event stream tells the story.
	nc, err := nats.Connect(p.nats)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	seen := map[string]int{}
	for {
		m, err := c.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			break
		}
		if e, _, err := events.FromMsg(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}); err == nil && e.Subject() == id {
			seen[e.Type()]++
		}
	}
	for typ, n := range map[string]int{events.TypeOnboarded: 1, events.TypeDriftResolved: 1, events.TypeRollbackPlanned: 1,
		events.TypeCatalogVersioned: 3} {
		require.Equal(t, n, seen[typ], "%s in %v", typ, seen)
	}
	// Version 2 measured against the source is a drift again (the
	// narrowed field), decided by the policy at the observer's next round.
	require.GreaterOrEqual(t, seen[events.TypeDriftDetected], 2, "%v", seen)
	require.GreaterOrEqual(t, seen[events.TypeConnectionPaused], 1, "%v", seen)
}
