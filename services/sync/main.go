// Command aam-sync is AAM's sync worker and job follower (package syncer),
// configured by app.Common, airbyte.Config and syncer.Config (SYNC_*) from
// the environment.
package main

import (
	"context"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/syncer"
)

func main() {
	app.Main("aam-sync", func(ctx context.Context, cfg app.AirbyteRole[syncer.Config]) error {
		return app.RunAirbyteRole(ctx, syncer.Consumer, cfg, app.OpenOptions{Provision: true},
			func(d *app.Deps, ab *airbyte.Client, c syncer.Config) (app.Runner, error) {
				w, err := syncer.New(d, ab, c)
				if err != nil {
					return nil, err
				}
				return w.Run, nil
			})
	})
}
