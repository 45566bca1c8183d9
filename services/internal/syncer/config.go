package syncer

import (
	"errors"
	"time"

	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Defaults of Config.
const (
	DefaultConcurrency       = 64
	DefaultHandlerTimeout    = time.Minute
	DefaultPollInterval      = 2 * time.Second
	DefaultMaxPollInterval   = time.Minute
	DefaultFollowTimeout     = 24 * time.Hour
	DefaultFollowBatch       = 100
	DefaultFollowConcurrency = 16
	DefaultFollowLease       = time.Minute
	DefaultClockSkew         = 5 * time.Second
	DefaultStreamClockSkew   = time.Second
	DefaultFollowWindow      = 10 * time.Minute
)

// Config tunes the sync worker. Fields carry env tags for the sync role's
// configuration; a zero field takes its default (SetDefaults), whether the
// Config was parsed or built in code.
type Config struct {
	// Delivery is SYNC_CONCURRENCY, the sync requests one process handles
	// at once (default 64), SYNC_MAX_DELIVER (default 8; not 1: a crash
	// needs a second delivery), SYNC_ACK_WAIT (default 30s) and the
	// redelivery backoff.
	app.Delivery `envPrefix:"SYNC_"`
	// HandlerTimeout bounds one delivery: wait for the connection's start
	// turn, start the job, read it once, record it; a start turn is held
	// for as long at most (SYNC_HANDLER_TIMEOUT, default 1 min).
	HandlerTimeout time.Duration `env:"SYNC_HANDLER_TIMEOUT"`

	// PollInterval is how often a followed job is checked
	// (SYNC_POLL_INTERVAL, default 2 s); one job list answers for every job
	// checked in a round. A job the list cannot answer for is read on its
	// own, at about a tenth of its age, up to MaxPollInterval.
	PollInterval time.Duration `env:"SYNC_POLL_INTERVAL"`
	// MaxPollInterval caps the poll interval of jobs read on their own
	// (SYNC_MAX_POLL_INTERVAL, default 1 min).
	MaxPollInterval time.Duration `env:"SYNC_MAX_POLL_INTERVAL"`
	// FollowTimeout is how long a job is followed; after it the job is
	// cancelled in Airbyte and reported as cancelled with the reason
	// (SYNC_FOLLOW_TIMEOUT, default 24 h).
	FollowTimeout time.Duration `env:"SYNC_FOLLOW_TIMEOUT"`
	// FollowBatch is the number of due jobs one follower claims at a time
	// (SYNC_FOLLOW_BATCH, default 100).
	FollowBatch int `env:"SYNC_FOLLOW_BATCH"`
	// FollowConcurrency bounds the jobs one follower checks at once
	// (SYNC_FOLLOW_CONCURRENCY, default 16).
	FollowConcurrency int `env:"SYNC_FOLLOW_CONCURRENCY"`
	// FollowLease is how long a claimed job is hidden from other followers;
	// a follower that dies holding claims delays those jobs by at most this
	// much (SYNC_FOLLOW_LEASE, default 1 min).
	FollowLease time.Duration `env:"SYNC_FOLLOW_LEASE"`
	// ClockSkew is the tolerance between the registry's clock and
	// Airbyte's when a redelivered request looks for the job an earlier
	// delivery started (SYNC_CLOCK_SKEW, default 5 s).
	ClockSkew time.Duration `env:"SYNC_CLOCK_SKEW"`
	// StreamClockSkew is the tolerance between the NATS server's clock and
	// the registry's: a request that waited in the stream counts as first
	// seen at its arrival plus this much, when that is before a worker took
	// it, so a job started while it waited answers it
	// (SYNC_STREAM_CLOCK_SKEW, default 1 s; a value longer than any wait,
	// such as 1h, counts every request from when a worker took it).
	StreamClockSkew time.Duration `env:"SYNC_STREAM_CLOCK_SKEW"`
	// FollowWindow is how far back (Airbyte's clock, from the newest
	// instant seen) Airbyte's job list is asked for changes; a followed job
	// last seen before that is read on its own (SYNC_FOLLOW_WINDOW,
	// default 10 min).
	FollowWindow time.Duration `env:"SYNC_FOLLOW_WINDOW"`
	// WorkspaceID limits the followers' job lists to AAM's Airbyte
	// workspace (AIRBYTE_WORKSPACE_ID; empty: every workspace the
	// credentials may see).
	WorkspaceID string `env:"AIRBYTE_WORKSPACE_ID"`
}

// SetDefaults gives every zero field its default.
func (c *Config) SetDefaults() {
	c.Delivery.SetDefaults(DefaultConcurrency)
	config.FillZero(c, Config{HandlerTimeout: DefaultHandlerTimeout,
		PollInterval: DefaultPollInterval, MaxPollInterval: DefaultMaxPollInterval, FollowTimeout: DefaultFollowTimeout,
		FollowBatch: DefaultFollowBatch, FollowConcurrency: DefaultFollowConcurrency, FollowLease: DefaultFollowLease,
		ClockSkew: DefaultClockSkew, StreamClockSkew: DefaultStreamClockSkew, FollowWindow: DefaultFollowWindow})
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	errs := []error{config.NonNegative(c), c.Delivery.Validate("SYNC_")}
	if c.MaxDeliver == 1 {
		errs = append(errs, errors.New("SYNC_MAX_DELIVER: 1 leaves no delivery to recover a crash; use 2 or more"))
	}
	return errors.Join(errs...)
}

// nextPoll is the delay before a job of the given age is polled again: the
// poll interval at first, then about a tenth of the job's age, capped (by
// the poll interval when it is the longer).
func (c Config) nextPoll(age time.Duration) time.Duration {
	return min(max(c.PollInterval, age/10), max(c.MaxPollInterval, c.PollInterval))
}
