package gateway_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

// BenchmarkAccept measures POST /v1/connections/{id}/sync answered 202:
// validation, the registry look-up of the connection, and the JetStream
// publish acknowledgement.
func BenchmarkAccept(b *testing.B) {
	benchSync(b, gatewaytest.Start(b, gatewaytest.Options{NoWorkers: true}), "", http.StatusAccepted)
}

// BenchmarkWait measures a sync answered within the request: publish, the
// simulated worker's transaction, the outbox relay and the fact's return.
func BenchmarkWait(b *testing.B) {
	benchSync(b, gatewaytest.Start(b), "?wait=10s", http.StatusOK)
}

// benchSync posts sync requests for one connection of mesh, each expected
// to be answered with want.
func benchSync(b *testing.B, mesh *gatewaytest.Mesh, query string, want int) {
	_, ts := mesh.Gateway(gateway.Config{})
	conn := mesh.AddConnection("", "bench")
	url := ts.URL + "/v1/connections/" + conn.ID + "/sync" + query
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(url, "application/json", nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("status %d, want %d", resp.StatusCode, want)
		}
	}
}
