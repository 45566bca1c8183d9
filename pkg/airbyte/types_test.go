package airbyte

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestUnknownEnumValuesDecode(t *testing.T) {
	t.Parallel()
	var j Job
	require.NoError(t, json.Unmarshal([]byte(`{"jobId":9007199254740993,"status":"paused_for_capacity","jobType":"backfill","connectionId":"c","startTime":"x"}`), &j))
	require.EqualValues(t, int64(9007199254740993), j.JobID, "int64 job ids keep full precision")
	require.False(t, j.Status.Known())
	require.False(t, j.Status.IsTerminal(), "an unknown status keeps pollers polling")
	require.False(t, j.JobType.Known())

	for _, s := range []JobStatus{"pending", "queued", "running", "incomplete", "failed", "succeeded", "cancelled"} {
		require.True(t, s.Known(), s)
	}
	for s, terminal := range map[JobStatus]bool{"pending": false, "queued": false, "running": false, "incomplete": false,
		"failed": true, "succeeded": true, "cancelled": true} {
		require.Equal(t, terminal, s.IsTerminal(), s)
	}

	var info JobInfoRead
	require.NoError(t, json.Unmarshal([]byte(`{"job":{"id":1,"configType":"replicate_v2","configId":"c","createdAt":1,"updatedAt":2,"status":"queued"},
		"attempts":[{"attempt":{"id":0,"status":"paused","createdAt":1,"updatedAt":2,"failureSummary":{"failures":[{"failureOrigin":"orchestrator","failureType":"oom","timestamp":5}]}}}]}`), &info))
	require.False(t, info.Job.ConfigType.Known())
	require.False(t, info.Attempts[0].Attempt.Status.Known())
	require.Equal(t, FailureOrigin("orchestrator"), info.Attempts[0].Attempt.FailureSummary.Failures[0].FailureOrigin)

	var conn Connection
	require.NoError(t, json.Unmarshal([]byte(`{"connectionId":"c","status":"archived","schedule":{"scheduleType":"event"},"configurations":{"streams":[{"name":"A","syncMode":"magic"}]}}`), &conn))
	require.False(t, conn.Status.Known())
	require.False(t, conn.Configurations.Streams[0].SyncMode.Known())
}

func TestSyncModeMapping(t *testing.T) {
	t.Parallel()
	s, d, ok := SyncModeIncrementalDedupedHistory.Split()
	require.True(t, ok)
	require.Equal(t, SyncModeIncremental, s)
	require.Equal(t, DestinationSyncAppendDedup, d)
	require.True(t, d.IsDedup())
	m, ok := JoinSyncMode(SyncModeFullRefresh, DestinationSyncOverwrite)
	require.True(t, ok)
	require.Equal(t, SyncModeFullRefreshOverwrite, m)
	_, ok = JoinSyncMode(SyncModeIncremental, "overwrite_dedup")
	require.False(t, ok)
	for mode := range connectionSyncModes {
		s, d, _ := mode.Split()
		back, ok := JoinSyncMode(s, d)
		require.True(t, ok)
		require.Equal(t, mode, back)
	}
}

func TestISOTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   ISOTime
		want time.Time
		err  bool
	}{
		{in: "2025-09-16T20:13:24Z", want: time.Date(2025, 9, 16, 20, 13, 24, 0, time.UTC)},
		{in: "2025-09-16T20:13Z", want: time.Date(2025, 9, 16, 20, 13, 0, 0, time.UTC)},
		{in: "2025-09-16T22:13:24.5+02:00", want: time.Date(2025, 9, 16, 20, 13, 24, 5e8, time.UTC)},
		{in: "", want: time.Time{}},
		{in: "yesterday", err: true},
	}
	for _, tt := range tests {
		got, err := tt.in.Time()
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.True(t, tt.want.Equal(got), "%s: got %s", tt.in, got)
	}
}

func TestISODuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   ISODuration
		want time.Duration
		err  bool
	}{
		{in: "PT8H6M12S", want: 8*time.Hour + 6*time.Minute + 12*time.Second},
		{in: "PT1M36S", want: 96 * time.Second},
		{in: "PT0.345S", want: 345 * time.Millisecond},
		{in: "PT-1.5S", want: -1500 * time.Millisecond},
		{in: "P1DT2H", want: 26 * time.Hour},
		{in: "P2W", want: 14 * 24 * time.Hour},
		{in: "-PT5M", want: -5 * time.Minute},
		{in: "PT0S", want: 0},
		{in: "", want: 0},
		{in: "P1M", err: true}, // months have no fixed length
		{in: "PT", want: 0},
		{in: "8h", err: true},
		{in: "PTxS", err: true},
		{in: "P", err: true},
	}
	for _, tt := range tests {
		got, err := tt.in.Duration()
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func FuzzISODuration(f *testing.F) {
	for _, s := range []string{"PT8H6M12S", "P1DT2H", "PT-1.5S", "", "P", "PT1,5S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ISODuration(s).Duration() // must not panic
	})
}

func TestEpochTimes(t *testing.T) {
	t.Parallel()
	require.Equal(t, time.Date(2025, 9, 16, 20, 13, 24, 0, time.UTC), EpochSeconds(1758053604).Time())
	require.Equal(t, time.Date(2025, 9, 16, 20, 19, 59, 0, time.UTC), EpochMillis(1758053999000).Time())
	require.True(t, EpochSeconds(0).Time().IsZero())
	require.True(t, EpochMillis(0).Time().IsZero())
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := NewSecret("hunter2-secret")
	type holder struct {
		Name   string
		Secret Secret
	}
	h := holder{Name: "x", Secret: s}
	outs := []string{s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintf("%s %v %+v %#v %q %x %d", s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", h, h, h), fmt.Sprint(&s)}
	b, err := json.Marshal(h)
	require.NoError(t, err)
	outs = append(outs, string(b))
	txt, err := s.MarshalText()
	require.NoError(t, err)
	outs = append(outs, string(txt))

	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("cfg", zap.Object("secret", s), zap.Any("any", s), zap.Stringer("str", s),
		zap.Object("config", Config{ClientID: "id", ClientSecret: s}))
	for _, e := range logs.All() {
		outs = append(outs, fmt.Sprint(e.ContextMap()))
	}
	for _, o := range outs {
		require.NotContains(t, o, "hunter2", o)
	}
	require.Equal(t, "hunter2-secret", s.Reveal())
	require.Equal(t, "", Secret{}.String())
	require.Equal(t, `"[REDACTED]"`, string(b[strings.Index(string(b), `"Secret":`)+len(`"Secret":`):len(b)-1]))
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{
		"AIRBYTE_API_URL":       "https://airbyte.example.com/api/public/v1/",
		"AIRBYTE_CLIENT_ID":     "id",
		"AIRBYTE_CLIENT_SECRET": "from-env-secret",
		"AIRBYTE_TIMEOUT":       "10s",
		"AIRBYTE_RATE_LIMIT":    "-1",
	}})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, "from-env-secret", cfg.ClientSecret.Reveal())
	d := cfg.withDefaults()
	require.Equal(t, "https://airbyte.example.com/api/public/v1", d.BaseURL)
	require.Equal(t, "https://airbyte.example.com/api/v1", d.ConfigAPIURL)
	require.Equal(t, 10*time.Second, d.Timeout)
	require.Equal(t, -1.0, d.RateLimit)
	require.Equal(t, DefaultDiscoverTimeout, d.DiscoverTimeout)
}

func TestConfigDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	d := Config{}.withDefaults()
	require.Equal(t, DefaultBaseURL, d.BaseURL)
	require.Equal(t, "http://localhost:8000/api/v1", d.ConfigAPIURL)
	require.Equal(t, DefaultMaxAttempts, d.MaxAttempts)
	require.NoError(t, Config{}.Validate())

	require.Equal(t, "https://api.airbyte.com/api/v1", Config{BaseURL: "https://api.airbyte.com/v1"}.withDefaults().ConfigAPIURL)
	require.Equal(t, "https://cloud.airbyte.com/api/v1",
		Config{BaseURL: "https://api.airbyte.com/v1", ConfigAPIURL: "https://cloud.airbyte.com/api/v1/"}.withDefaults().ConfigAPIURL)

	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad scheme", Config{BaseURL: "ftp://x/api/public/v1"}, "scheme must be http or https"},
		{"no host", Config{BaseURL: "http:///api/public/v1"}, "missing host"},
		{"query", Config{BaseURL: "http://x/api/public/v1?a=b"}, "query"},
		{"id without secret", Config{ClientID: "id"}, "set together"},
		{"secret without id", Config{ClientSecret: NewSecret("s")}, "set together"},
		{"negative attempts", Config{MaxAttempts: -2}, "MaxAttempts"},
		{"zero rate", Config{RateLimit: -3}, "RateLimit"},
		{"in-flight bound", Config{MaxInFlight: -2}, "MaxInFlight"},
		{"config API in-flight bound", Config{ConfigAPIMaxInFlight: -3}, "ConfigAPIMaxInFlight"},
		{"breaker", Config{BreakerFailures: -5}, "BreakerFailures"},
		{"backoff", Config{BackoffBase: time.Minute, BackoffMax: time.Second}, "BackoffBase"},
		{"timeout", Config{Timeout: -time.Second}, "Timeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		require.ErrorContains(t, err, tt.want, tt.name)
		_, err = New(tt.cfg)
		require.Error(t, err, tt.name)
	}
	err := Config{ClientID: "id", BaseURL: "ftp://x"}.Validate()
	require.ErrorContains(t, err, "scheme")
	require.ErrorContains(t, err, "set together", "Validate reports every problem")
}

func TestStreamVolumes(t *testing.T) {
	t.Parallel()
	decode := func(s string) []StreamVolume {
		var info JobInfoRead
		require.NoError(t, json.Unmarshal([]byte(s), &info))
		return info.StreamVolumes()
	}
	// The job's aggregated stats win; an enabled stream without stats moved
	// nothing.
	require.Equal(t, []StreamVolume{{"Account", 990, 51000}, {"crm.Contact", 7, 700}, {"Lead", 0, 0}}, decode(`{"job":{"id":1,
		"streamAggregatedStats":[{"streamName":"Account","recordsEmitted":1000,"bytesEmitted":52000,"recordsCommitted":990,"bytesCommitted":51000},
			{"streamName":"Contact","streamNamespace":"crm","recordsEmitted":7,"bytesEmitted":700}],
		"enabledStreams":[{"name":"Account"},{"name":"Contact","namespace":"crm"},{"name":"Lead"}]},
		"attempts":[{"attempt":{"id":0,"streamStats":[{"streamName":"Account","stats":{"recordsCommitted":1}}]}}]}`))
	// Without them, the attempts' stream stats add up.
	require.Equal(t, []StreamVolume{{"Account", 15, 1500}}, decode(`{"job":{"id":1},"attempts":[
		{"attempt":{"id":0,"streamStats":[{"streamName":"Account","stats":{"recordsCommitted":5,"bytesCommitted":500}}]}},
		{"attempt":{"id":1,"streamStats":[{"streamName":"Account","stats":{"recordsEmitted":10,"bytesEmitted":1000}}]}}]}`))
	require.Nil(t, decode(`{"job":{"id":1},"attempts":[]}`))
}
