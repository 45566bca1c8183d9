// Command aam-schema-observer reports schema drift of ACTIVE connections
// and heals non-breaking drift by policy (package observer), configured by
// app.Common, airbyte.Config and observer.Config (OBSERVER_*) from the
// environment. Its NATS user may not manage streams: they are provisioned
// by the workers or `aam migrate up`.
package main

import (
	"context"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/observer"
)

func main() {
	app.Main("aam-schema-observer", func(ctx context.Context, cfg app.AirbyteRole[observer.Config]) error {
		return app.RunAirbyteRole(ctx, "schema-observer", cfg, app.OpenOptions{},
			func(d *app.Deps, ab *airbyte.Client, c observer.Config) (app.Runner, error) {
				o, err := observer.New(d, ab, c)
				if err != nil {
					return nil, err
				}
				return o.Run, nil
			})
	})
}
