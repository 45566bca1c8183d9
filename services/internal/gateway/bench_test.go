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
	mesh := gatewaytest.Start(b, gatewaytest.Options{NoWorkers: true})
	_, ts := mesh.Gateway(gateway.Config{})
	conn := mesh.AddConnection("", "bench")
	url := ts.URL + "/v1/connections/" + conn.ID + "/sync"
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(url, "application/json", nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkWait measures a sync answered within the request: publish, the
// simulated worker's transaction, the outbox relay and the fact's return.
func BenchmarkWait(b *testing.B) {
	mesh := gatewaytest.Start(b)
	_, ts := mesh.Gateway(gateway.Config{})
	conn := mesh.AddConnection("", "bench")
	url := ts.URL + "/v1/connections/" + conn.ID + "/sync?wait=10s"
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(url, "application/json", nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
