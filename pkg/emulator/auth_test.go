package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestTokenRequestBodies(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	post := func(ct, body string) response {
		req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/api/public/v1/applications/token", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		resp, err := b.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var raw json.RawMessage
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
		return response{status: resp.StatusCode, header: resp.Header, body: raw}
	}
	for name, tc := range map[string][2]string{
		"json grant-type": {"application/json", `{"client_id":"aam-local","client_secret":"aam-local-secret","grant-type":"client_credentials"}`},
		"json grant_type": {"application/json", `{"client_id":"aam-local","client_secret":"aam-local-secret","grant_type":"client_credentials"}`},
		"json no grant":   {"application/json", `{"client_id":"aam-local","client_secret":"aam-local-secret"}`},
		"form":            {"application/x-www-form-urlencoded", url.Values{"grant_type": {"client_credentials"}, "client_id": {"aam-local"}, "client_secret": {"aam-local-secret"}}.Encode()},
	} {
		r := post(tc[0], tc[1])
		require.Equal(t, http.StatusOK, r.status, name)
		m := r.obj(t)
		require.Equal(t, "Bearer", m["token_type"], name)
		require.EqualValues(t, 900, m["expires_in"], name)
	}
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	bad := map[string]any{"client_id": "aam-local", "client_secret": "wrong"}

	oss := setup(t, emulator.Config{})
	r := oss.c.pub(http.MethodPost, "/applications/token", bad)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "Invalid client id or token", r.obj(t)["message"])

	cloud := setup(t, emulator.Config{CloudAuthErrors: true})
	r = cloud.c.pub(http.MethodPost, "/applications/token", bad)
	require.Equal(t, http.StatusUnauthorized, r.status)
	m := r.obj(t)
	require.Len(t, m, 1)
	require.Len(t, m["errorId"], 36)
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{TokenTTL: 180 * time.Second})
	b.c.noRefresh = true
	require.Equal(t, http.StatusOK, b.c.pub(http.MethodGet, "/workspaces", nil).status)
	b.clock.Advance(179 * time.Second)
	require.Equal(t, http.StatusOK, b.c.pub(http.MethodGet, "/workspaces", nil).status)
	b.clock.Advance(time.Second)
	r := b.c.pub(http.MethodGet, "/workspaces", nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "invalid-api-key", r.obj(t)["title"])
	require.Equal(t, http.StatusUnauthorized, b.c.cfg("/connections/get", map[string]any{"connectionId": "x"}).status)

	b.c.token = b.c.getToken()
	require.Equal(t, http.StatusOK, b.c.pub(http.MethodGet, "/workspaces", nil).status)
	require.Equal(t, 1, b.emu.ExpireTokens())
	require.Equal(t, http.StatusUnauthorized, b.c.pub(http.MethodGet, "/workspaces", nil).status)

	b.c.token = b.c.getToken()
	expired := b.c.ok(http.StatusOK, http.MethodPost, "/_emulator/tokens/expire", nil)
	require.EqualValues(t, 1, expired["expired"])
	require.Equal(t, http.StatusUnauthorized, b.c.pub(http.MethodGet, "/workspaces", nil).status)
}

func TestMissingAndGarbageTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	b.c.noRefresh = true
	for _, tok := range []string{"", "garbage", b.c.token + "x"} {
		b.c.token = tok
		require.Equal(t, http.StatusUnauthorized, b.c.pub(http.MethodGet, "/workspaces", nil).status, "token %q", tok)
	}
}

// TestTokenLifetimeShorterThanExpiresIn reproduces airbyte-api-python-sdk#118:
// expires_in says 900 s but the token (and its JWT exp) lapses after 180 s.
func TestTokenLifetimeShorterThanExpiresIn(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{TokenLifetime: 180 * time.Second})
	b.c.noRefresh = true
	tok := b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/applications/token",
		map[string]any{"client_id": emulator.DefaultClientID, "client_secret": emulator.DefaultClientSecret})
	require.EqualValues(t, 900, tok["expires_in"])

	parts := strings.Split(tok["access_token"].(string), ".")
	require.Len(t, parts, 3, "JWT-shaped token")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Exp int64  `json:"exp"`
		Aud string `json:"aud"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.Equal(t, t0.Add(180*time.Second).Unix(), claims.Exp)
	require.Equal(t, "airbyte-server", claims.Aud)

	b.c.token = tok["access_token"].(string)
	b.clock.Advance(181 * time.Second)
	require.Equal(t, http.StatusUnauthorized, b.c.pub(http.MethodGet, "/workspaces", nil).status)
}
