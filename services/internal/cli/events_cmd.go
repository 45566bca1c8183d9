package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
)

func eventsCommand(root *cobra.Command) {
	cmd := &cobra.Command{Use: "events", Short: "Follow AAM's completion events (facts)"}
	var f clientFlags
	var connection, since string
	var types []string
	var all bool
	var count int
	tail := &cobra.Command{
		Use:   "tail",
		Short: "Print facts as they are stored in AAM_EVENTS",
		Long: `Print the facts of the AAM_EVENTS stream, newest as they arrive (Ctrl-C stops).
--since replays from a duration ago (1h) or an RFC 3339 time, --all from the
start of the stream. -o json prints one structured CloudEvent per line.`,
		Example: `  aam events tail
  aam events tail --connection a1b2c3d4-e5f6-7890-abcd-ef1234567890 --since 24h
  aam events tail --type io.aam.sync.failed.v1 -o json | jq .data.error_message`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validateOutput(); err != nil {
				return err
			}
			cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
			for _, t := range types {
				d, ok := events.Lookup(t)
				if !ok || d.Kind != events.KindFact {
					return fmt.Errorf("--type %q is not a fact type", t)
				}
				cfg.FilterSubjects = append(cfg.FilterSubjects, d.Subject)
			}
			switch {
			case all:
				cfg.DeliverPolicy = jetstream.DeliverAllPolicy
			case since != "":
				t, err := parseSinceFlag(since, time.Now())
				if err != nil {
					return err
				}
				cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
			}
			ctx := cmd.Context()
			nc, js, err := f.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			cons, err := js.OrderedConsumer(ctx, bus.StreamEvents, cfg)
			if err != nil {
				return fmt.Errorf("follow %s: %w", bus.StreamEvents, err)
			}
			it, err := cons.Messages()
			if err != nil {
				return fmt.Errorf("follow %s: %w", bus.StreamEvents, err)
			}
			stop := context.AfterFunc(ctx, it.Stop)
			defer stop()
			defer it.Stop()
			out := cmd.OutOrStdout()
			printed := 0
			for count <= 0 || printed < count {
				m, err := it.Next()
				if err != nil {
					if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
						return nil
					}
					continue
				}
				ev, _, err := events.Decode(m.Headers(), m.Data())
				if err != nil || (connection != "" && ev.Subject() != connection) {
					continue
				}
				seq := uint64(0)
				if meta, err := m.Metadata(); err == nil {
					seq = meta.Sequence.Stream
				}
				if f.output == outputJSON {
					b, err := ev.MarshalJSON()
					if err != nil {
						continue
					}
					fmt.Fprintf(out, "%s\n", compactJSON(b))
				} else {
					fmt.Fprintf(out, "%s  #%d  %s  %s\n", ev.Time().UTC().Format(time.RFC3339), seq, ev.Type(), summarize(ev))
				}
				printed++
			}
			return nil
		},
	}
	f.addNATSFlags(tail)
	fl := tail.Flags()
	fl.StringVar(&connection, "connection", "", "only facts about this connection")
	fl.StringArrayVar(&types, "type", nil, "only facts of this type (repeatable)")
	fl.StringVar(&since, "since", "", "replay from a duration ago (1h) or an RFC 3339 time")
	fl.BoolVar(&all, "all", false, "replay the whole stream")
	fl.IntVar(&count, "count", 0, "stop after this many facts (0: never)")
	cmd.AddCommand(tail)
	root.AddCommand(cmd)
}

func parseSinceFlag(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return now.Add(-time.Duration(n) * time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration such as 1h nor an RFC 3339 time", v)
}
