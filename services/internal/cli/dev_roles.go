package cli

import "github.com/aam-mesh/aam/services/internal/app"

// roles returns the runners of the workers and the gateway.
func (p devParts) roles() ([]app.Runner, error) {
	return nil, nil
}
