package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aam-mesh/aam/events"
)

// Stream names.
const (
	StreamRequests = "AAM_REQUESTS"
	StreamEvents   = "AAM_EVENTS"
	StreamDLQ      = "AAM_DLQ"
)

// StreamsConfig configures Provision. Zero values take the defaults.
type StreamsConfig struct {
	// Replicas of every stream (default 1; 3 in a cluster).
	Replicas int
	// Storage of every stream (default file).
	Storage jetstream.StorageType
	// RequestsMaxAge keeps requests for audit and replay (default 7 days).
	RequestsMaxAge time.Duration
	// EventsMaxAge keeps facts replayable (default 14 days).
	EventsMaxAge time.Duration
	// DLQMaxAge keeps dead letters (default 30 days).
	DLQMaxAge time.Duration
	// Duplicates is the Nats-Msg-Id de-duplication window (default 10 min).
	Duplicates time.Duration
	// RequestsMaxBytes, EventsMaxBytes and DLQMaxBytes cap each stream's
	// storage (defaults 512 MiB, 1 GiB, 256 MiB). A full requests stream
	// refuses new requests (publishers get an error; nothing accepted is
	// dropped); full events and DLQ streams drop their oldest messages
	// (the registry keeps every outcome).
	RequestsMaxBytes int64
	EventsMaxBytes   int64
	DLQMaxBytes      int64
}

func (c StreamsConfig) withDefaults() StreamsConfig {
	c.Replicas = cmp.Or(c.Replicas, 1)
	c.RequestsMaxAge = cmp.Or(c.RequestsMaxAge, 7*24*time.Hour)
	c.EventsMaxAge = cmp.Or(c.EventsMaxAge, 14*24*time.Hour)
	c.DLQMaxAge = cmp.Or(c.DLQMaxAge, 30*24*time.Hour)
	c.Duplicates = cmp.Or(c.Duplicates, 10*time.Minute)
	c.RequestsMaxBytes = cmp.Or(c.RequestsMaxBytes, 512<<20)
	c.EventsMaxBytes = cmp.Or(c.EventsMaxBytes, 1<<30)
	c.DLQMaxBytes = cmp.Or(c.DLQMaxBytes, 256<<20)
	return c
}

// StreamConfigs returns the configurations Provision applies.
func StreamConfigs(c StreamsConfig) []jetstream.StreamConfig {
	c = c.withDefaults()
	mk := func(name string, subjects []string, desc string, age time.Duration, maxBytes int64, discard jetstream.DiscardPolicy) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Retention:   jetstream.LimitsPolicy,
			Discard:     discard,
			MaxAge:      age,
			MaxBytes:    maxBytes,
			Duplicates:  min(c.Duplicates, age),
			Storage:     c.Storage,
			Replicas:    c.Replicas,
			AllowDirect: true,
		}
	}
	return []jetstream.StreamConfig{
		// Only the subjects a route handles: a publish to another subject
		// under aam.requests. finds no stream and is refused, rather than
		// stored and never answered.
		mk(StreamRequests, events.RequestSubjects(), "AAM requests (onboard, sync, repair)", c.RequestsMaxAge,
			c.RequestsMaxBytes, jetstream.DiscardNew),
		mk(StreamEvents, []string{events.SubjectEventsAll}, "AAM facts (completion events), replayable", c.EventsMaxAge,
			c.EventsMaxBytes, jetstream.DiscardOld),
		mk(StreamDLQ, []string{events.SubjectDLQAll}, "AAM dead letters: requests that could not be processed, with the reason", c.DLQMaxAge,
			c.DLQMaxBytes, jetstream.DiscardOld),
	}
}

// Provision creates or updates AAM's streams. It is idempotent and safe to
// call from every process at start-up.
func Provision(ctx context.Context, js jetstream.JetStream, c StreamsConfig) error {
	for _, sc := range StreamConfigs(c) {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			// A user allowed to read but not to change streams can still
			// start when the streams are there.
			if _, infoErr := js.Stream(ctx, sc.Name); infoErr == nil && isPermission(err) {
				continue
			}
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

func isPermission(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 403
	}
	return false
}
