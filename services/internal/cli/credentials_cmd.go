package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/pkg/credentials"
)

const credentialsHelp = `Talks to the credential broker (NATS micro service aam-credentials) over NATS:
NATS_URL, NATS_USER/NATS_PASSWORD or NATS_CREDS. Secret values are never printed.`

func credentialsCommand(root *cobra.Command) {
	cmd := &cobra.Command{Use: "credentials", Aliases: []string{"credential", "creds"}, Short: "Manage the credential broker's secrets", Long: credentialsHelp}

	var af, lf, rf, df clientFlags
	var addKind, addFile, rotKind, rotFile, listKind string
	var addFields, rotFields []string
	var addAnyKind, rotAnyKind bool
	var args []string
	keep := func(_ *cobra.Command, a []string) { args = a }

	add := &cobra.Command{
		Use:   "add ID --kind KIND (--field NAME=VALUE... | --from-file FILE)",
		Short: "Store a new credential (version 1)",
		Long: credentialsHelp + `

A field value of @PATH reads the value from a file, so that secrets stay out of
the shell history; --from-file reads a JSON object of fields ("-": standard input).`,
		Example: `  aam credentials add salesforce-prod --kind salesforce \
    --field client_id=3MVG9... --field client_secret=@sf-secret.txt --field refresh_token=@sf-token.txt
  aam credentials add salesforce-prod --kind salesforce --from-file salesforce.json`,
		Args: cobra.ExactArgs(1), PreRun: keep,
		RunE: credCmd(&af, func(ctx context.Context, c *credentials.Client, cmd *cobra.Command) error {
			if err := checkKind(addKind, addAnyKind); err != nil {
				return err
			}
			fields, err := credentialFields(cmd.InOrStdin(), addFields, addFile)
			if err != nil {
				return err
			}
			md, err := c.Put(ctx, credentials.Credential{ID: args[0], Kind: addKind, Fields: fields})
			if err != nil {
				return credError(err, args[0])
			}
			return printMetadata(cmd.OutOrStdout(), af.output, "stored", md)
		}),
	}
	af.addNATSFlags(add)
	add.Flags().StringVar(&addKind, "kind", "", "kind of credential, e.g. salesforce (required)")
	add.Flags().StringArrayVar(&addFields, "field", nil, "NAME=VALUE or NAME=@FILE (repeatable)")
	add.Flags().StringVar(&addFile, "from-file", "", `JSON object of fields, or "-" for standard input`)
	add.Flags().BoolVar(&addAnyKind, "any-kind", false, "accept a kind AAM does not know (the fields are stored as given, for another Airbyte source type)")
	_ = add.MarkFlagRequired("kind")

	ls := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List credentials (ids, kinds, versions and field names; no values)", Long: credentialsHelp,
		Args: cobra.NoArgs,
		RunE: credCmd(&lf, func(ctx context.Context, c *credentials.Client, cmd *cobra.Command) error {
			list, err := c.List(ctx, listKind)
			if err != nil {
				return credError(err, "")
			}
			out := cmd.OutOrStdout()
			if lf.output == outputJSON {
				if list == nil {
					list = []credentials.Metadata{}
				}
				return writeJSON(out, list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tVERSION\tFIELDS\tREADABLE\tUPDATED")
			for _, m := range list {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%t\t%s\n", m.ID, m.Kind, m.Version, strings.Join(m.FieldNames, ","), m.Readable,
					m.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	lf.addNATSFlags(ls)
	ls.Flags().StringVar(&listKind, "kind", "", "only credentials of this kind")

	rotate := &cobra.Command{
		Use:   "rotate ID (--field NAME=VALUE... | --from-file FILE)",
		Short: "Replace a credential's fields (version + 1)",
		Long:  credentialsHelp + "\n\nThe new fields replace the whole document.",
		Args:  cobra.ExactArgs(1), PreRun: keep,
		RunE: credCmd(&rf, func(ctx context.Context, c *credentials.Client, cmd *cobra.Command) error {
			if rotKind != "" {
				if err := checkKind(rotKind, rotAnyKind); err != nil {
					return err
				}
			}
			fields, err := credentialFields(cmd.InOrStdin(), rotFields, rotFile)
			if err != nil {
				return err
			}
			md, err := c.Rotate(ctx, credentials.Credential{ID: args[0], Kind: rotKind, Fields: fields})
			if err != nil {
				return credError(err, args[0])
			}
			return printMetadata(cmd.OutOrStdout(), rf.output, "rotated", md)
		}),
	}
	rf.addNATSFlags(rotate)
	rotate.Flags().StringVar(&rotKind, "kind", "", "new kind (default: keep the stored kind)")
	rotate.Flags().BoolVar(&rotAnyKind, "any-kind", false, "accept a kind AAM does not know")
	rotate.Flags().StringArrayVar(&rotFields, "field", nil, "NAME=VALUE or NAME=@FILE (repeatable)")
	rotate.Flags().StringVar(&rotFile, "from-file", "", `JSON object of fields, or "-" for standard input`)

	rm := &cobra.Command{
		Use: "rm ID", Aliases: []string{"delete"}, Short: "Delete a credential", Long: credentialsHelp,
		Args: cobra.ExactArgs(1), PreRun: keep,
		RunE: credCmd(&df, func(ctx context.Context, c *credentials.Client, cmd *cobra.Command) error {
			if err := c.Delete(ctx, args[0]); err != nil {
				return credError(err, args[0])
			}
			if df.output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"credential_id": args[0], "deleted": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted credential %s\n", args[0])
			return nil
		}),
	}
	df.addNATSFlags(rm)

	cmd.AddCommand(add, ls, rotate, rm)
	root.AddCommand(cmd)
}

func credCmd(f *clientFlags, fn func(ctx context.Context, c *credentials.Client, cmd *cobra.Command) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := f.validateOutput(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		nc, _, err := f.connectNATS()
		if err != nil {
			return err
		}
		defer nc.Close()
		return fn(ctx, credentials.NewClient(nc, credentials.ClientOptions{}), cmd)
	}
}

// credentialFields builds a credential document from --field flags or a
// JSON file.
// checkKind refuses a kind AAM does not know, most often a typo, unless
// the caller says it is meant (--any-kind).
func checkKind(kind string, anyKind bool) error {
	if anyKind || credentials.IsKnownKind(kind) {
		return nil
	}
	return &ExitCodeError{Code: ExitRejected, Err: fmt.Errorf("--kind %q is not a kind AAM knows (%s); pass --any-kind to store the fields as given for another Airbyte source type",
		kind, strings.Join(credentials.KnownKinds(), ", "))}
}

func credentialFields(stdin io.Reader, pairs []string, file string) (map[string]any, error) {
	if file != "" && len(pairs) > 0 {
		return nil, errors.New("give --field or --from-file, not both")
	}
	if file != "" {
		var b []byte
		var err error
		if file == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, credentials.MaxDocumentSize+1))
		} else {
			b, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		fields := map[string]any{}
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, fmt.Errorf("%s is not a JSON object of fields", file) // never quote the input
		}
		return fields, nil
	}
	if len(pairs) == 0 {
		return nil, errors.New("give the credential's fields with --field NAME=VALUE or --from-file FILE")
	}
	fields := map[string]any{}
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--field %q: want NAME=VALUE", strings.SplitN(p, "=", 2)[0])
		}
		if path, isFile := strings.CutPrefix(value, "@"); isFile {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--field %s: %w", name, err)
			}
			value = strings.TrimRight(string(b), "\r\n")
		}
		fields[name] = value
	}
	return fields, nil
}

// credError words the broker's errors for the command line.
func credError(err error, id string) error {
	var ve *credentials.ValidationError
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		return fmt.Errorf("credential %s does not exist", id)
	case errors.Is(err, credentials.ErrExists):
		return fmt.Errorf("credential %s already exists; rotate it instead", id)
	case errors.As(err, &ve):
		return &ExitCodeError{Code: ExitRejected, Err: err}
	case errors.Is(err, credentials.ErrUnavailable):
		return fmt.Errorf("%w (is the credential broker running? nats micro ls)", err)
	}
	return err
}

func printMetadata(w io.Writer, output, what string, md credentials.Metadata) error {
	if output == outputJSON {
		return writeJSON(w, md)
	}
	fmt.Fprintf(w, "%s credential %s (kind %s, version %d, fields %s)\n", what, md.ID, md.Kind, md.Version, strings.Join(md.FieldNames, ", "))
	return nil
}
