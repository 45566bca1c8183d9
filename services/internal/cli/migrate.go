package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/migrations"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/services/internal/app"
)

type migrateConfig struct {
	config.Log
	config.Postgres
	config.NATS
	// ProvisionStreams also creates AAM's JetStream streams
	// (MIGRATE_PROVISION_STREAMS, default true).
	ProvisionStreams bool `env:"MIGRATE_PROVISION_STREAMS" envDefault:"true"`
}

func migrateCommand(root *cobra.Command) {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Prepare the registry database (and the JetStream streams)",
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply pending migrations and provision the streams (DATABASE_URL, NATS_URL)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Parse[migrateConfig]()
			if err != nil {
				return err
			}
			log, err := observability.NewLogger(cfg.Log, "migrate")
			if err != nil {
				return err
			}
			return onRegistry(cmd, cfg.Postgres, func(ctx context.Context, pool *pgxpool.Pool) error {
				v, err := app.Migrate(ctx, pool)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "registry at migration version %d\n", v)
				if !cfg.ProvisionStreams {
					return nil
				}
				nc, js, err := app.ConnectNATS(ctx, cfg.NATS, "aam-migrate", log)
				if err != nil {
					return err
				}
				defer nc.Close()
				if err := bus.Provision(ctx, js, bus.StreamsConfig{Replicas: cfg.StreamReplicas}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "streams %s, %s, %s ready (replicas %d)\n",
					bus.StreamRequests, bus.StreamEvents, bus.StreamDLQ, cfg.StreamReplicas)
				return nil
			})
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Roll every registry migration back (destroys the registry)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Parse[struct{ config.Postgres }]()
			if err != nil {
				return err
			}
			return onRegistry(cmd, cfg.Postgres, func(ctx context.Context, pool *pgxpool.Pool) error {
				db := stdlib.OpenDBFromPool(pool)
				defer db.Close()
				if err := migrations.Down(ctx, db, ""); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "registry migrations rolled back")
				return nil
			})
		},
	}
	cmd.AddCommand(up, down)
	root.AddCommand(cmd)
}

// onRegistry runs fn on a pool of the registry database, all within two
// minutes.
func onRegistry(cmd *cobra.Command, pg config.Postgres, fn func(context.Context, *pgxpool.Pool) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
	defer cancel()
	pool, err := app.OpenPostgres(ctx, pg, "migrate")
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(ctx, pool)
}
