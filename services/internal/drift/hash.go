package drift

import (
	"encoding/json"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
)

// SchemaHash hashes a discovered catalog's stream definitions (not the
// default configurations Airbyte adds to them): two discovers of a source
// hash alike exactly when the source offers the same streams with the same
// schemas, keys and cursors. A drift is identified by the hash of the
// schema it was found in, and a repair decided on a drift carries it, so
// that a schema that moved again in between is not applied undecided.
func SchemaHash(c *airbyte.AirbyteCatalog) (string, error) {
	defs := []*airbyte.AirbyteStream{}
	if c != nil {
		for _, s := range c.Streams {
			if s.Stream != nil {
				defs = append(defs, s.Stream)
			}
		}
	}
	b, err := json.Marshal(defs)
	if err != nil {
		return "", err
	}
	return registry.CatalogHash(b)
}
