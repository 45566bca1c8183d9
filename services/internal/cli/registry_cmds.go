package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/events"
	reg "github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/gateway"
)

func registryCommands(root *cobra.Command) {
	root.AddCommand(connectionsCommand(), versionsCommand(), jobsCommand())
}

// readCmd runs fn with a registry reader and maps a missing row to exit 1
// with a clear message.
func readCmd(f *clientFlags, fn func(ctx context.Context, r registryReader, out io.Writer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := f.validateOutput(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		r, err := f.reader(ctx)
		if err != nil {
			return err
		}
		defer r.Close()
		return fn(ctx, r, cmd.OutOrStdout())
	}
}

const registryHelp = `Reads the registry through the gateway when --gateway or AAM_GATEWAY_URL is set
(with --token or AAM_GATEWAY_TOKEN), otherwise from PostgreSQL at DATABASE_URL.`

func connectionsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "connections", Aliases: []string{"connection", "conn"}, Short: "List and show registered connections"}
	var lf, gf clientFlags
	var healthFilter string
	ls := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List connections", Long: registryHelp + `

--health quarantined keeps the QUARANTINED connections; --health warning keeps those whose
current run of failed syncs was warned about (connection.health_warning) and that are not
QUARANTINED.`,
		Example: `  aam connections ls --health warning`,
		Args:    cobra.NoArgs,
		RunE: readCmd(&lf, func(ctx context.Context, r registryReader, out io.Writer) error {
			var filter reg.HealthFilter
			if healthFilter != "" {
				f, err := gateway.ParseHealthFilter(healthFilter)
				if err != nil {
					return err
				}
				filter = f
			}
			cs, err := r.Connections(ctx, filter)
			tw, err := listOut(out, lf.output, cs, err, "ID	NAME	SOURCE TYPE	STATUS	CATALOG	CREATED")
			if tw == nil {
				return err
			}
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tv%d\t%s\n", c.ID, c.Name, c.SourceType, c.Status, c.CatalogVersion, c.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	lf.addRegistryFlags(ls)
	ls.Flags().StringVar(&healthFilter, "health", "", "keep connections by health: quarantined or warning")
	var id string
	get := &cobra.Command{
		Use: "get CONNECTION_ID", Aliases: []string{"show"}, Short: "Show a connection", Long: registryHelp, Args: cobra.ExactArgs(1),
		PreRun: func(_ *cobra.Command, args []string) { id = args[0] },
		RunE: readCmd(&gf, func(ctx context.Context, r registryReader, out io.Writer) error {
			c, err := r.Connection(ctx, id)
			if err != nil {
				return err
			}
			if gf.output == outputJSON {
				return writeJSON(out, c)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
			row("id", c.ID)
			row("name", c.Name)
			row("source type", c.SourceType)
			row("status", withReason(c.Status, c.StatusReason))
			row("catalog version", strconv.Itoa(c.CatalogVersion))
			row("credential", c.CredentialID)
			if len(c.RequestedStreams) > 0 {
				row("requested streams", strings.Join(c.RequestedStreams, ", "))
			}
			row("airbyte source", c.AirbyteSourceID)
			row("airbyte connection", c.AirbyteConnectionID)
			row("airbyte destination", c.AirbyteDestinationID)
			row("onboarded by request", c.RequestID)
			row("created", c.CreatedAt.Format(time.RFC3339))
			row("updated", c.UpdatedAt.Format(time.RFC3339))
			return tw.Flush()
		}),
	}
	gf.addRegistryFlags(get)
	var hf clientFlags
	health := &cobra.Command{
		Use: "health CONNECTION_ID", Short: "Show a connection's health: failures in a row, last success, recent failure classes, quarantine",
		Long: registryHelp, Args: cobra.ExactArgs(1),
		PreRun: func(_ *cobra.Command, args []string) { id = args[0] },
		RunE: readCmd(&hf, func(ctx context.Context, r registryReader, out io.Writer) error {
			h, err := r.Health(ctx, id)
			if err != nil {
				return err
			}
			if hf.output == outputJSON {
				return writeJSON(out, h)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
			row("status", withReason(h.Status, h.StatusReason))
			row("quarantined", strconv.FormatBool(h.Quarantined))
			failures := strconv.Itoa(h.ConsecutiveFailures)
			if h.Warned {
				failures += " (warned)"
			}
			row("failures in a row", failures)
			row("last success", timeOrDash(h.LastSuccessAt))
			row("last failure", timeOrDash(h.LastFailureAt))
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(h.RecentJobs) == 0 {
				return nil
			}
			fmt.Fprintln(out, "recent jobs:")
			tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  JOB\tSTATUS\tCLASS\tCREATED")
			for _, j := range h.RecentJobs {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", j.AirbyteJobID, j.Status, dash(j.FailureClass), j.CreatedAt.Format(time.RFC3339))
			}
			if err := tw.Flush(); err != nil || len(h.OpenAnomalies) == 0 {
				return err
			}
			fmt.Fprintln(out, "open anomalies:")
			tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  JOB\tSTREAM\tKIND\tOBSERVED\tEXPECTED\tMEDIAN\tDETECTED")
			for _, a := range h.OpenAnomalies {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%d %s\t%d-%d\t%g\t%s\n", a.JobID, dash(a.Stream), a.Kind, a.Observed, a.Metric,
					a.Expected.Min, a.Expected.Max, a.Median, a.DetectedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	hf.addRegistryFlags(health)
	cmd.AddCommand(ls, get, health, connectionStatsCommand(), connectionsRmCommand(), connectionsReleaseCommand())
	return cmd
}

func connectionStatsCommand() *cobra.Command {
	var (
		f     clientFlags
		limit int
		id    string
	)
	cmd := &cobra.Command{Use: "stats CONNECTION_ID", Args: cobra.ExactArgs(1), Long: registryHelp,
		Short:  "Show the volume of a connection's successful jobs: duration, and records and bytes per stream",
		PreRun: func(_ *cobra.Command, args []string) { id = args[0] },
		RunE: readCmd(&f, func(ctx context.Context, r registryReader, out io.Writer) error {
			jobs, err := r.Stats(ctx, id, limit)
			tw, err := listOut(out, f.output, jobs, err, "AIRBYTE JOB\tCOMPLETED\tDURATION\tSTREAM\tRECORDS\tBYTES")
			if tw == nil {
				return err
			}
			for _, j := range jobs {
				job := fmt.Sprintf("%s\t%s\t%s", j.AirbyteJobID, timeOrDash(j.CompletedAt),
					(time.Duration(j.DurationMS) * time.Millisecond).String())
				if len(j.Streams) == 0 {
					fmt.Fprintf(tw, "%s\t-\t%d\t%s\n", job, j.RowsSynced, byteSize(j.BytesSynced))
				}
				for _, s := range j.Streams {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", job, s.Stream, s.Records, byteSize(s.Bytes))
				}
			}
			return tw.Flush()
		}),
	}
	f.addRegistryFlags(cmd)
	cmd.Flags().IntVar(&limit, "limit", gateway.DefaultStatsJobs, "how many jobs")
	return cmd
}

func connectionsReleaseCommand() *cobra.Command {
	return reasonRequestCommand(&cobra.Command{
		Use:   "release CONNECTION_ID",
		Short: "Release a quarantined connection (io.aam.connection.release.requested.v1)",
		Long: `Release a QUARANTINED connection: the sync worker makes its Airbyte connection
active and the connection ACTIVE again with its failure count reset, and answers
connection.released. A connection that is not QUARANTINED is refused with the reason.`,
		Example: `  aam connections release a1b2c3d4-e5f6-7890-abcd-ef1234567890 --reason "credentials renewed" --wait`,
	}, "why the connection is released (kept in connection.released)", events.TypeReleaseRequested,
		func(id, reason string) any { return events.ReleaseRequested{ConnectionID: id, Reason: reason} })
}

func connectionsRmCommand() *cobra.Command {
	return reasonRequestCommand(&cobra.Command{
		Use:     "rm CONNECTION_ID",
		Aliases: []string{"delete"},
		Short:   "Delete a connection (io.aam.connection.delete.requested.v1)",
		Long: `Delete a connection: the onboarding worker deletes the Airbyte connection and
source recorded for it and keeps its registry row, catalog versions and jobs with
status DELETED; syncs and repairs of it then fail at once. A connection being
onboarded (PENDING) or repaired (HEALING) is refused with the reason.`,
		Example: `  aam connections rm a1b2c3d4-e5f6-7890-abcd-ef1234567890 --reason "replaced by the EU connection" --wait`,
	}, "why the connection is deleted (kept as its status reason)", events.TypeDeleteRequested,
		func(id, reason string) any { return events.DeleteRequested{ConnectionID: id, Reason: reason} })
}

// reasonRequestCommand makes cmd a request about the connection its one
// argument names, with the request flags and --reason (reasonHelp): data
// builds the request's eventType data.
func reasonRequestCommand(cmd *cobra.Command, reasonHelp, eventType string, data func(id, reason string) any) *cobra.Command {
	var f requestFlags
	var reason string
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return f.submit(cmd, eventType, data(args[0], reason), args[0], false)
	}
	f.add(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", reasonHelp)
	return cmd
}

func versionsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "versions", Aliases: []string{"version", "catalog"}, Short: "List, show and compare a connection's catalog versions"}
	var lf, sf, df clientFlags
	var args []string
	keep := func(_ *cobra.Command, a []string) { args = a }
	ls := &cobra.Command{
		Use: "ls CONNECTION_ID", Aliases: []string{"list"}, Short: "List catalog versions", Long: registryHelp, Args: cobra.ExactArgs(1), PreRun: keep,
		RunE: readCmd(&lf, func(ctx context.Context, r registryReader, out io.Writer) error {
			vs, err := r.Versions(ctx, args[0])
			if err != nil {
				return err
			}
			if lf.output == outputJSON {
				if vs == nil {
					vs = []gateway.CatalogVersion{}
				}
				return writeJSON(out, vs)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tCREATED\tSTREAMS\tHASH\tREASON")
			for _, v := range vs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.VersionNumber, v.CreatedAt.Format(time.RFC3339),
					strings.Join(v.Streams, ","), shortHash(v.ContentHash), v.Reason)
			}
			return tw.Flush()
		}),
	}
	lf.addRegistryFlags(ls)
	show := &cobra.Command{
		Use: "show CONNECTION_ID N", Short: "Show one catalog version, catalog included", Long: registryHelp, Args: cobra.ExactArgs(2), PreRun: keep,
		RunE: readCmd(&sf, func(ctx context.Context, r registryReader, out io.Writer) error {
			n, err := versionArg(args[1])
			if err != nil {
				return err
			}
			v, err := r.Version(ctx, args[0], n)
			if err != nil {
				return err
			}
			if sf.output == outputJSON {
				return writeJSON(out, v)
			}
			fmt.Fprintf(out, "connection %s, catalog version %d\n", v.ConnectionID, v.VersionNumber)
			fmt.Fprintf(out, "created %s by request %s (%s)\n", v.CreatedAt.Format(time.RFC3339), v.RequestID, v.RequestSource)
			if v.Reason != "" {
				fmt.Fprintf(out, "reason: %s\n", v.Reason)
			}
			fmt.Fprintf(out, "hash: %s\n\n", v.ContentHash)
			for _, s := range normalizeCatalog(v.SyncCatalog) {
				fmt.Fprintf(out, "stream %s (%s)\n", s.Name, s.mode())
				for _, f := range s.fieldNames() {
					fmt.Fprintf(out, "    %s %s\n", f, s.Fields[f])
				}
			}
			return nil
		}),
	}
	sf.addRegistryFlags(show)
	diff := &cobra.Command{
		Use: "diff CONNECTION_ID N M", Short: "Compare two catalog versions: streams, sync modes, keys and fields", Long: registryHelp,
		Args: cobra.ExactArgs(3), PreRun: keep,
		RunE: readCmd(&df, func(ctx context.Context, r registryReader, out io.Writer) error {
			n, err := versionArg(args[1])
			if err != nil {
				return err
			}
			m, err := versionArg(args[2])
			if err != nil {
				return err
			}
			a, err := r.Version(ctx, args[0], n)
			if err != nil {
				return err
			}
			b, err := r.Version(ctx, args[0], m)
			if err != nil {
				return err
			}
			d := diffCatalogs(a.SyncCatalog, b.SyncCatalog)
			d.ConnectionID, d.From, d.To = args[0], n, m
			if df.output == outputJSON {
				return writeJSON(out, d)
			}
			d.print(out)
			return nil
		}),
	}
	df.addRegistryFlags(diff)
	cmd.AddCommand(ls, show, diff, rollbackCommand())
	return cmd
}

// rollbackCommand is aam catalog rollback.
func rollbackCommand() *cobra.Command {
	var f requestFlags
	var d events.RollbackRequested
	cmd := &cobra.Command{
		Use:   "rollback CONNECTION_ID --to N",
		Short: "Roll the catalog back to version N as the next version (io.aam.connection.rollback.requested.v1)",
		Long: `Roll a connection's catalog back to an earlier version: the repair worker discovers the
source, validates version N's streams and configuration against it like any repair (a stream
or field the source no longer has is refused, exit 3), applies them and records the next
version with reason "rollback to N". With --dry-run nothing changes: the answer lists the
changes from the current version, the streams Airbyte would need to refresh or clear, and
whether the rollback applies.`,
		Example: `  aam catalog rollback a1b2c3d4-e5f6-7890-abcd-ef1234567890 --to 1 --dry-run --wait
  aam catalog rollback a1b2c3d4-e5f6-7890-abcd-ef1234567890 --to 1 --reason "the new column broke the report" --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d.ConnectionID = args[0]
			return f.submit(cmd, events.TypeRollbackRequested, d, args[0], false)
		},
	}
	f.add(cmd)
	cmd.Flags().IntVar(&d.ToVersion, "to", 0, "the catalog version to roll back to (required)")
	cmd.Flags().BoolVar(&d.DryRun, "dry-run", false, "only say what the rollback would change")
	cmd.Flags().StringVar(&d.Reason, "reason", "", "why (added to the new version's reason)")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func versionArg(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("version %q is not a positive number", s)
	}
	return n, nil
}

func shortHash(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func jobsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "jobs", Aliases: []string{"job"}, Short: "List a connection's sync jobs"}
	var f clientFlags
	var limit int
	var args []string
	ls := &cobra.Command{
		Use: "ls CONNECTION_ID", Aliases: []string{"list"}, Short: "List sync jobs, newest first", Long: registryHelp, Args: cobra.ExactArgs(1),
		PreRun: func(_ *cobra.Command, a []string) { args = a },
		RunE: readCmd(&f, func(ctx context.Context, r registryReader, out io.Writer) error {
			jobs, err := r.Jobs(ctx, args[0], limit)
			tw, err := listOut(out, f.output, jobs, err, "AIRBYTE JOB\tSTATUS\tCATALOG\tSTARTED\tDURATION\tROWS\tBYTES\tERROR")
			if tw == nil {
				return err
			}
			for _, j := range jobs {
				started, dur := "-", "-"
				if j.StartedAt != nil {
					started = j.StartedAt.Format(time.RFC3339)
					if j.CompletedAt != nil {
						dur = j.CompletedAt.Sub(*j.StartedAt).Round(time.Millisecond).String()
					}
				}
				fmt.Fprintf(tw, "%s\t%s\tv%d\t%s\t%s\t%d\t%s\t%s\n", j.AirbyteJobID, j.Status, j.CatalogVersion, started, dur,
					j.RowsSynced, byteSize(j.BytesSynced), j.ErrorMessage)
			}
			return tw.Flush()
		}),
	}
	f.addRegistryFlags(ls)
	ls.Flags().IntVar(&limit, "limit", 20, "how many jobs")
	cmd.AddCommand(ls)
	return cmd
}

// withReason is a status followed by its reason in parentheses, if any.
func withReason(status, reason string) string {
	if reason == "" {
		return status
	}
	return status + " (" + reason + ")"
}

// listOut writes a list command's rows: as JSON (an empty list for none)
// when output asks for it, and otherwise returns a table with its header
// written, for the caller to fill and flush. It returns a nil table when
// there is nothing more to do: err (the rows' read failed) or the JSON's
// write error.
func listOut[T any](out io.Writer, output string, rows []T, err error, header string) (*tabwriter.Writer, error) {
	if err != nil {
		return nil, err
	}
	if output == outputJSON {
		if rows == nil {
			rows = []T{}
		}
		return nil, writeJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw, nil
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
