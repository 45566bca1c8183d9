package chaos

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
)

// outsideOf is a healthy run's outside: one onboarding (its source and
// connection in Airbyte), one sync answered once, one repair with its
// catalog version, one bad request rejected by its stream sequence.
func outsideOf(t *testing.T) ([]Request, Outside) {
	t.Helper()
	t0 := time.Now()
	sent := []Request{
		{ID: "on-1", Kind: kindOnboard, Name: "chaos-on-1", Terminal: terminals[kindOnboard], SentAt: t0},
		{ID: "sy-1", Kind: kindSync, Terminal: terminals[kindSync], SentAt: t0},
		{ID: "re-1", Kind: kindRepair, Terminal: terminals[kindRepair], SentAt: t0},
		{Kind: "bad: not a CloudEvent", Bad: true, Seq: 9, Terminal: []string{events.TypeRequestRejected}, SentAt: t0},
		{ID: "big", Kind: "bad: over-limit body", Bad: true, Refused: true},
	}
	rejected, err := json.Marshal(events.RequestRejected{Subject: events.SubjectSyncRequest, Reason: "not a CloudEvent", StreamSequence: 9})
	require.NoError(t, err)
	job := []byte(`{"connection_id":"c1","job_id":"17","status":"succeeded"}`)
	at := t0.Add(time.Second)
	out := Outside{
		Facts: []Fact{
			{Seq: 1, Type: events.TypeOnboarded, Correlation: "on-1", Subject: "c1", Data: []byte(`{}`), Time: at},
			{Seq: 2, Type: events.TypeSyncStarted, Correlation: "sy-1", Data: job, Time: at},
			{Seq: 3, Type: events.TypeSyncSucceeded, Correlation: "sy-1", Data: job, Time: at},
			{Seq: 4, Type: events.TypeCatalogVersioned, Correlation: "re-1", Data: []byte(`{}`), Time: at},
			{Seq: 5, Type: events.TypeRequestRejected, Data: rejected, Time: at},
		},
		Sources:        []EmuSource{{ID: "s1", Name: "chaos-on-1 [aam:c1]"}},
		Connections:    []EmuConnection{{ID: "a1", Name: "chaos-on-1 [aam:c1]", SourceID: "s1"}},
		EmulatorJobs:   1,
		CatalogVersion: []CatalogVersion{{ConnectionID: "c1", Version: 2, RequestID: "re-1"}},
		Rows:           map[string][]string{"connections": {`{"id":"c1","name":"chaos-on-1"}`}},
	}
	return sent, out
}

const secret = "sfs-0123456789abcdef"

func TestCheckPassesAHealthyRun(t *testing.T) {
	sent, out := outsideOf(t)
	r := Check(sent, out, []string{secret}, time.Now())
	require.Empty(t, r.Broken)
	require.Equal(t, 4, r.One)
	require.Equal(t, 1, r.Refused)
	require.Equal(t, 1, r.Onboarded)
	require.Equal(t, 1, r.MaxSources)
	require.Equal(t, 1, r.MaxConnections)
	require.Equal(t, time.Second, r.MaxLatency)
}

func TestCheckFindsADuplicateOrAMissingFact(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(o *Outside)
		none   int
		more   int
		broken string
	}{
		"duplicate": {func(o *Outside) {
			o.Facts = append(o.Facts, Fact{Seq: 6, Type: events.TypeSyncFailed, Correlation: "sy-1", Data: []byte(`{"job_id":"17"}`)})
		}, 0, 1, "more than one terminal fact: sync sy-1"},
		// The rejection of the bad request is gone.
		"missing": {func(o *Outside) { o.Facts = o.Facts[:4] }, 1, 0, "without a terminal fact (lost): bad: not a CloudEvent seq 9"},
	} {
		t.Run(name, func(t *testing.T) {
			sent, out := outsideOf(t)
			tc.change(&out)
			r := Check(sent, out, nil, time.Time{})
			require.Equal(t, tc.none, r.None)
			require.Equal(t, tc.more, r.More)
			require.Len(t, r.Broken, 1)
			require.Contains(t, r.Broken[0], tc.broken)
		})
	}
}

func TestCheckFindsDuplicateEffects(t *testing.T) {
	sent, out := outsideOf(t)
	out.Connections = append(out.Connections, EmuConnection{ID: "a2", Name: "chaos-on-1 [aam:c2]", SourceID: "s1"})
	out.EmulatorJobs = 2
	out.CatalogVersion = append(out.CatalogVersion, CatalogVersion{ConnectionID: "c1", Version: 3, RequestID: "re-1"})
	out.Facts = append(out.Facts, Fact{Seq: 7, Type: events.TypeSyncStarted, Correlation: "sy-1", Data: []byte(`{"job_id":"18"}`)})
	r := Check(sent, out, nil, time.Time{})
	require.Equal(t, 2, r.MaxConnections)
	require.Equal(t, 1, r.ExtraOnboards)
	require.Equal(t, 1, r.MultiJobSyncs)
	require.Equal(t, 1, r.MultiVersionRepairs)
	require.Len(t, r.Broken, 3)
}

func TestCheckFindsALeakedSecret(t *testing.T) {
	for name, leak := range map[string]func(o *Outside, log string){
		"event": func(o *Outside, _ string) {
			o.Facts[0].Data = []byte(`{"config":"` + secret + `"}`)
		},
		"dlq": func(o *Outside, _ string) {
			o.DLQ = append(o.DLQ, DLQEntry{Subject: "aam.dlq.connection.sync", Reason: "x", Data: []byte(secret)})
		},
		"table": func(o *Outside, _ string) {
			o.Rows["inbox"] = []string{`{"error":"refresh token ` + secret + ` refused"}`}
		},
		"log": func(o *Outside, log string) {
			require.NoError(t, os.WriteFile(log, []byte("line one\n{\"msg\":\"call\",\"body\":\""+secret+"\"}\n"), 0o644))
		},
	} {
		t.Run(name, func(t *testing.T) {
			sent, out := outsideOf(t)
			log := filepath.Join(t.TempDir(), "sync-1.log")
			require.NoError(t, os.WriteFile(log, []byte("nothing here\n"), 0o644))
			out.Logs = []string{log}
			require.Empty(t, Check(sent, out, []string{secret}, time.Time{}).Broken)
			leak(&out, log)
			r := Check(sent, out, []string{secret}, time.Time{})
			require.Len(t, r.Leaks, 1)
			require.Len(t, r.Broken, 1)
			require.Contains(t, r.Broken[0], "credential plaintext")
			require.NotContains(t, strings.Join(r.Broken, " "), secret)
		})
	}
}

func TestReportPrintsTheVerdict(t *testing.T) {
	sent, out := outsideOf(t)
	var b strings.Builder
	Check(sent, out, nil, time.Time{}).Print(&b)
	require.Contains(t, b.String(), "PASS: every invariant holds")
	out.Facts = nil
	b.Reset()
	Check(sent, out, nil, time.Time{}).Print(&b)
	require.Contains(t, b.String(), "FAIL: 2 invariants broken")
}

func TestScheduleIsTheSeeds(t *testing.T) {
	cfg := Short()
	cfg.Seed = 42
	a, b := schedule(cfg), schedule(cfg)
	require.Equal(t, a, b)
	require.Len(t, a, cfg.Kills+cfg.NATSRestarts+cfg.PostgresRestarts+cfg.EmulatorFaults)
	cfg.Seed = 43
	require.NotEqual(t, a, schedule(cfg))
}
