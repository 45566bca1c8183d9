package gateway_test

import (
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

// TestOpenAPIDocumentsEveryRoute keeps the document true: every registered
// route is in it, and it documents no route the gateway does not serve.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	mesh := gatewaytest.Start(t, gatewaytest.Options{NoWorkers: true})
	srv, ts := mesh.Gateway(gateway.Config{})

	cfg := datamodel.NewDocumentConfiguration()
	cfg.Logger = slog.New(slog.DiscardHandler)
	doc, err := libopenapi.NewDocumentWithConfiguration(gateway.OpenAPI, cfg)
	require.NoError(t, err)
	model, err := doc.BuildV3Model()
	require.NoError(t, err)
	require.Equal(t, "3.1.0", model.Model.Version)

	var documented []string
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	routes := srv.Routes()
	sort.Strings(documented)
	sort.Strings(routes)
	require.Equal(t, routes, documented, "routes registered (want) and routes documented (got) differ")

	// The document is served as embedded, and validates as OpenAPI 3.1.
	resp, err := http.Get(ts.URL + "/openapi.yaml")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	valid, errs := openAPIValidator(t).ValidateDocument()
	require.True(t, valid, "document errors: %v", errs)
}
