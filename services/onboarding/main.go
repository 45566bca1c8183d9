// Command aam-onboarding is AAM's onboarding worker (package onboarding),
// configured by app.Common, airbyte.Config and onboarding.Config
// (AIRBYTE_WORKSPACE_ID, AIRBYTE_DESTINATION_ID, ONBOARDING_*) from the
// environment. It asks the credential broker for credentials over NATS.
package main

import (
	"context"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/onboarding"
)

func main() {
	app.Main("aam-onboarding", func(ctx context.Context, cfg app.AirbyteRole[onboarding.Config]) error {
		return app.RunAirbyteRole(ctx, onboarding.Consumer, cfg, app.OpenOptions{Provision: true},
			func(d *app.Deps, ab *airbyte.Client, c onboarding.Config) (app.Runner, error) {
				w, err := onboarding.New(d, ab, credentials.NewClient(d.NC, credentials.ClientOptions{}), c)
				if err != nil {
					return nil, err
				}
				return w.Run, nil
			})
	})
}
