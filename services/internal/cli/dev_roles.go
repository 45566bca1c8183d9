package cli

import (
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/syncer"
)

// roles returns the runners of the workers and the gateway. Each worker
// reads its own settings (ONBOARDING_*, SYNC_*, REPAIR_*) as it would as a
// process of its own.
func (p devParts) roles() ([]app.Runner, error) {
	env := map[string]string{
		"AIRBYTE_WORKSPACE_ID":   p.cfg.WorkspaceID,
		"AIRBYTE_DESTINATION_ID": p.cfg.DestinationID,
	}
	ocfg, err := config.ParseFrom[onboarding.Config](mergeEnv(env))
	if err != nil {
		return nil, err
	}
	ow, err := onboarding.New(p.deps, p.airbyte, p.creds, ocfg)
	if err != nil {
		return nil, err
	}
	scfg, err := config.ParseFrom[syncer.Config](mergeEnv(nil))
	if err != nil {
		return nil, err
	}
	sw, err := syncer.New(p.deps, p.airbyte, scfg)
	if err != nil {
		return nil, err
	}
	rcfg, err := config.ParseFrom[repair.Config](mergeEnv(nil))
	if err != nil {
		return nil, err
	}
	rw, err := repair.New(p.deps, p.airbyte, rcfg)
	if err != nil {
		return nil, err
	}
	gcfg, err := config.ParseFrom[gateway.Config](mergeEnv(map[string]string{
		"GATEWAY_ADDR": p.flags.gatewayAddr, "GATEWAY_TOKENS": p.cfg.GatewayTokens.Value(),
	}))
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(gcfg, p.deps)
	if err != nil {
		return nil, err
	}
	return []app.Runner{ow.Run, sw.Run, rw.Run, gw.Run}, nil
}
