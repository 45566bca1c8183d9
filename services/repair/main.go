// Command aam-repair is AAM's drift repair worker (package repair),
// configured by app.Common, airbyte.Config and repair.Config (REPAIR_*)
// from the environment.
package main

import (
	"context"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/repair"
)

func main() {
	app.Main("aam-repair", func(ctx context.Context, cfg app.AirbyteRole[repair.Config]) error {
		return app.RunAirbyteRole(ctx, repair.Consumer, cfg, app.OpenOptions{Provision: true},
			func(d *app.Deps, ab *airbyte.Client, c repair.Config) (app.Runner, error) {
				w, err := repair.New(d, ab, c)
				if err != nil {
					return nil, err
				}
				return w.Run, nil
			})
	})
}
