package cli

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReaderDefaultsToLocalGateway: with no gateway and no database named,
// the registry commands read through the gateway where `make run` serves it,
// and an error says so and how to choose another.
func TestReaderDefaultsToLocalGateway(t *testing.T) {
	t.Setenv("AAM_GATEWAY_URL", "")
	t.Setenv("DATABASE_URL", "")
	var f clientFlags
	r, err := f.reader(context.Background())
	require.NoError(t, err)
	defer r.Close()
	g, ok := r.(*gatewayReader)
	require.True(t, ok, "reader is %T, want the gateway reader", r)
	require.Equal(t, DefaultGatewayURL, g.base)
	require.True(t, g.defaulted)

	// A database named chooses PostgreSQL; a gateway named is no default.
	t.Setenv("AAM_GATEWAY_URL", "http://127.0.0.1:1")
	r, err = f.reader(context.Background())
	require.NoError(t, err)
	require.False(t, r.(*gatewayReader).defaulted)

	// Nothing listening at the default: the error names the address and
	// the ways out.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	g = &gatewayReader{base: "http://" + addr, client: &http.Client{Timeout: 5 * time.Second}, defaulted: true}
	_, err = g.Connections(context.Background(), "")
	require.Error(t, err)
	require.Contains(t, err.Error(), "no gateway answers at http://"+addr)
	require.Contains(t, err.Error(), "AAM_GATEWAY_URL")
	require.Contains(t, err.Error(), "DATABASE_URL")
}
