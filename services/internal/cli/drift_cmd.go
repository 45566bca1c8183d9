package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/gateway"
)

func driftCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "drift", Short: "Check connections for schema drift and list the drifts found"}
	var lf, sf, cf clientFlags
	var args []string
	keep := func(_ *cobra.Command, a []string) { args = a }

	ls := &cobra.Command{
		Use: "ls CONNECTION_ID", Aliases: []string{"list"}, Short: "List a connection's drifts, oldest first, with the decision taken",
		Long: registryHelp, Args: cobra.ExactArgs(1), PreRun: keep,
		RunE: readCmd(&lf, func(ctx context.Context, r registryReader, out io.Writer) error {
			ds, err := r.Drifts(ctx, args[0])
			if err != nil {
				return err
			}
			if lf.output == outputJSON {
				if ds == nil {
					ds = []gateway.Drift{}
				}
				return writeJSON(out, ds)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DRIFT\tCATALOG\tDETECTED\tSTATUS\tACTION\tRULE\tCHANGES")
			for _, d := range ds {
				changes := decodeChanges(d.Changes)
				fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\t%s\t%s\t%s\n", shortID(d.DriftID), d.CatalogVersion, d.DetectedAt.Format(time.RFC3339),
					dash(d.Status), dash(d.Action), dash(d.RuleID), kindsOf(changes))
			}
			return tw.Flush()
		}),
	}
	lf.addRegistryFlags(ls)

	show := &cobra.Command{
		Use: "show CONNECTION_ID DRIFT_ID", Short: "Show one drift: every change, its classification and the decision taken",
		Long: registryHelp + "\nDRIFT_ID may be shortened to a unique prefix.", Args: cobra.ExactArgs(2), PreRun: keep,
		RunE: readCmd(&sf, func(ctx context.Context, r registryReader, out io.Writer) error {
			ds, err := r.Drifts(ctx, args[0])
			if err != nil {
				return err
			}
			var found []gateway.Drift
			for _, d := range ds {
				if strings.HasPrefix(d.DriftID, args[1]) {
					found = append(found, d)
				}
			}
			switch len(found) {
			case 0:
				return fmt.Errorf("%w: drift %s of connection %s", errNotFound, args[1], args[0])
			case 1:
			default:
				return fmt.Errorf("drift id %s is ambiguous: %d drifts start with it", args[1], len(found))
			}
			d := found[0]
			if sf.output == outputJSON {
				return writeJSON(out, d)
			}
			fmt.Fprintf(out, "drift %s of connection %s, catalog v%d, detected %s\n", d.DriftID, d.ConnectionID, d.CatalogVersion,
				d.DetectedAt.Format(time.RFC3339))
			if d.Action != "" {
				fmt.Fprintf(out, "decision: %s by rule %s (policy v%d), %s\n", d.Action, dash(d.RuleID), d.PolicyVersion, dash(d.Status))
			}
			var decisions []drift.Decision
			_ = json.Unmarshal(d.Decisions, &decisions)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STREAM\tFIELD\tKIND\tOLD\tNEW\tBREAKING\tAIRBYTE\tRISK\tACTION\tRULE")
			for i, c := range decodeChanges(d.Changes) {
				action, rule := "-", "-"
				if i < len(decisions) {
					action, rule = string(decisions[i].Action), dash(decisions[i].RuleID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Stream, dash(c.FieldPath()), c.Kind, dash(c.OldType), dash(c.NewType),
					yesNo(c.Breaking), yesNo(c.AirbyteBreaking), c.Risk, action, rule)
			}
			return tw.Flush()
		}),
	}
	sf.addRegistryFlags(show)

	var wait time.Duration
	check := &cobra.Command{
		Use: "check CONNECTION_ID", Short: "Have the schema observer check a connection now and print what it found",
		Long: `Asks the gateway (--gateway, AAM_GATEWAY_URL, or the local one) to have the schema observer
discover the connection's source now. A drift found is decided by the connection's policy.`,
		Args: cobra.ExactArgs(1), PreRun: keep,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validateOutput(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait+10*time.Second)
			defer cancel()
			r, err := cf.reader(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			g, ok := r.(*gatewayReader)
			if !ok {
				return errors.New("drift check goes through the gateway: set --gateway or AAM_GATEWAY_URL, or unset DATABASE_URL")
			}
			reply, err := g.CheckDrift(ctx, args[0], wait)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.output == outputJSON {
				return writeJSON(out, reply)
			}
			for _, res := range reply.Results {
				switch {
				case res.Error != "":
					fmt.Fprintf(out, "%s: check failed: %s\n", res.ConnectionID, res.Error)
				case res.Skipped != "":
					fmt.Fprintf(out, "%s: skipped: %s\n", res.ConnectionID, res.Skipped)
				case !res.Drift:
					fmt.Fprintf(out, "%s: no drift from catalog v%d\n", res.ConnectionID, res.CatalogVersion)
				default:
					seen := "new"
					if !res.New {
						seen = "seen before"
					}
					fmt.Fprintf(out, "%s: drift %s (%s) from catalog v%d: %s\n", res.ConnectionID, shortID(res.DriftID), seen,
						res.CatalogVersion, res.Summary)
					if res.Decision != nil {
						fmt.Fprintf(out, "decision: %s by rule %s (policy v%d)\n", res.Decision.Action, dash(res.Decision.RuleID),
							res.Decision.PolicyVersion)
					}
					if res.RepairRequestID != "" {
						repairOutcome(ctx, g, out, res.RepairRequestID)
					}
				}
			}
			return nil
		},
	}
	cf.addRegistryFlags(check)
	check.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for the observer")
	cmd.AddCommand(ls, show, check, resolveCommand(events.ResolveApprove), resolveCommand(events.ResolveReject))
	return cmd
}

// repairOutcome waits, while the check's context lasts, for the answer to
// the repair request a check published, and prints it.
func repairOutcome(ctx context.Context, g *gatewayReader, out io.Writer, id string) {
	wait := time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = max(time.Until(d)-time.Second, time.Second)
	}
	st, err := g.Request(ctx, id, wait.Round(time.Second))
	var outcome event.Event
	switch {
	case err != nil:
		fmt.Fprintf(out, "repair %s: not answered yet (%v)\n", id, err)
	case st.Status == gateway.RequestPending || st.Status == gateway.RequestRunning || len(st.Outcome) == 0:
		fmt.Fprintf(out, "repair %s: %s\n", id, st.Status)
	case json.Unmarshal(st.Outcome, &outcome) != nil:
		fmt.Fprintf(out, "repair %s: %s %s\n", id, st.Status, st.Reason)
	default:
		fmt.Fprintf(out, "repair: %s\n", describe(outcome))
	}
}

// resolveCommand is aam drift approve or aam drift reject.
func resolveCommand(decision string) *cobra.Command {
	var f requestFlags
	var reason string
	var resume bool
	long := `Approve a drift that awaits a person (its policy decided require_approval or pause): the
source's current schema is applied as a new catalog version, and a paused connection resumes.`
	if decision == events.ResolveReject {
		long = `Reject a drift that awaits a person: the catalog stays as it is; --resume also resumes a
paused connection.`
	}
	cmd := &cobra.Command{
		Use:   decision + " CONNECTION_ID DRIFT_ID",
		Short: strings.ToUpper(decision[:1]) + decision[1:] + " a drift (io.aam.drift.resolve.requested.v1)",
		Long:  long,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.submit(cmd, events.TypeResolveRequested, events.ResolveRequested{ConnectionID: args[0], DriftID: args[1],
				Decision: decision, Resume: resume, Reason: reason}, args[0], false)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the decision and the new version)")
	if decision == events.ResolveReject {
		cmd.Flags().BoolVar(&resume, "resume", false, "resume the connection if the drift paused it")
	}
	return cmd
}

func decodeChanges(raw json.RawMessage) []drift.Change {
	var cs []drift.Change
	_ = json.Unmarshal(raw, &cs)
	return cs
}

// kindsOf counts changes by kind: "field_added, type_narrowed×2".
func kindsOf(cs []drift.Change) string {
	if len(cs) == 0 {
		return "-"
	}
	var order []drift.Kind
	n := map[drift.Kind]int{}
	for _, c := range cs {
		if n[c.Kind] == 0 {
			order = append(order, c.Kind)
		}
		n[c.Kind]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = string(k)
		if n[k] > 1 {
			parts[i] += fmt.Sprintf("×%d", n[k])
		}
	}
	return strings.Join(parts, ", ")
}

// shortID shortens a drift id to its version and 12 hash digits.
func shortID(id string) string {
	if v, h, ok := strings.Cut(id, "-"); ok && len(h) > 12 {
		return v + "-" + h[:12]
	}
	return id
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
