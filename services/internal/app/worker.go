package app

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/config"
)

// CheckWorker is what every worker's constructor checks, the same way: deps
// with a registry store and JetStream, an Airbyte client, and cfg (a
// pointer to the worker's configuration) given its defaults and then
// validated, as config.Prepare does for a parsed configuration. It returns
// the worker's logger, named name. Its errors start with name.
func CheckWorker(name string, deps *Deps, ab *airbyte.Client, cfg config.Validator) (*zap.Logger, error) {
	if deps == nil || deps.Store == nil || deps.JS == nil {
		return nil, fmt.Errorf("%s: deps need Store and JS", name)
	}
	if ab == nil {
		return nil, fmt.Errorf("%s: an Airbyte client is required", name)
	}
	if err := config.Prepare(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	log := deps.Log
	if log == nil {
		log = zap.NewNop()
	}
	return log.Named(name), nil
}
