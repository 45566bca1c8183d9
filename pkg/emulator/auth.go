package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// authState issues and checks bearer tokens. Tokens are JWT-shaped (HS256 over a
// per-emulator random key) with Airbyte's claims, so a client that peeks at `exp`
// sees the truth; the emulator itself only trusts its own table.
type authState struct {
	cfg   Config
	clock Clock
	key   []byte

	mu     sync.RWMutex
	tokens map[string]time.Time // token -> expiry
	issued int
}

func newAuthState(cfg Config, clock Clock) *authState {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &authState{cfg: cfg, clock: clock, key: key, tokens: map[string]time.Time{}}
}

// lifetime is how long a token is really accepted.
func (a *authState) lifetime() time.Duration {
	if a.cfg.TokenLifetime > 0 && a.cfg.TokenLifetime < a.cfg.TokenTTL {
		return a.cfg.TokenLifetime
	}
	return a.cfg.TokenTTL
}

func (a *authState) issue() (string, time.Duration) {
	now := a.clock.Now()
	exp := now.Add(a.lifetime())
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	header := b64(`{"alg":"HS256","typ":"JWT"}`)
	claims, _ := json.Marshal(map[string]any{
		"iss":   "http://localhost:8000",
		"aud":   "airbyte-server",
		"sub":   "00000000-0000-0000-0000-000000000000",
		"roles": []string{"ADMIN", "EDITOR", "READER"},
		"typ":   "io.airbyte.auth.internal_service_account",
		"iat":   now.Unix(),
		"exp":   exp.Unix(),
		"jti":   base64.RawURLEncoding.EncodeToString(jti[:]),
	})
	signing := header + "." + b64(string(claims))
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte(signing))
	token := signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	a.mu.Lock()
	a.tokens[token] = exp
	a.issued++
	if a.issued%1024 == 0 { // drop expired tokens now and then
		for t, e := range a.tokens {
			if !now.Before(e) {
				delete(a.tokens, t)
			}
		}
	}
	a.mu.Unlock()
	return token, a.cfg.TokenTTL
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// valid reports whether the request carries a live bearer token.
func (a *authState) valid(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(h, "bearer ")
	}
	if !ok || token == "" {
		return false
	}
	a.mu.RLock()
	exp, found := a.tokens[token]
	a.mu.RUnlock()
	return found && a.clock.Now().Before(exp)
}

// expireAll invalidates every token issued so far and returns how many were live.
func (a *authState) expireAll() int {
	now := a.clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, exp := range a.tokens {
		if now.Before(exp) {
			n++
		}
	}
	a.tokens = map[string]time.Time{}
	return n
}

func (a *authState) count() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	now := a.clock.Now()
	n := 0
	for _, e := range a.tokens {
		if now.Before(e) {
			n++
		}
	}
	return n
}

// readTokenRequest accepts JSON or form bodies with client_id/client_secret; the
// grant type (grant_type or grant-type) is ignored, as Airbyte does.
func readTokenRequest(r *http.Request) (id, secret string) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, _ := readBody(r)
	if ct == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return "", ""
		}
		return v.Get("client_id"), v.Get("client_secret")
	}
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	_ = json.Unmarshal(body, &req)
	return req.ClientID, req.ClientSecret
}

// handleToken serves POST /api/public/v1/applications/token.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	token, ttl, ok := e.issueToken(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"token_type":   "Bearer",
		"expires_in":   int64(ttl / time.Second),
	})
}

// handleConfigToken serves POST /api/v1/applications/token: {access_token} only.
func (e *Emulator) handleConfigToken(w http.ResponseWriter, r *http.Request) {
	if token, _, ok := e.issueToken(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"access_token": token})
	}
}

// issueToken issues an access token and its lifetime for a token request
// whose client credentials are the configured ones; otherwise it answers the
// refusal and ok is false.
func (e *Emulator) issueToken(w http.ResponseWriter, r *http.Request) (token string, ttl time.Duration, ok bool) {
	id, secret := readTokenRequest(r)
	if !e.credentialsOK(id, secret) {
		e.writeBadCredentials(w)
		return "", 0, false
	}
	token, ttl = e.auth.issue()
	return token, ttl, true
}

func (e *Emulator) credentialsOK(id, secret string) bool {
	return hmac.Equal([]byte(id), []byte(e.cfg.ClientID)) && hmac.Equal([]byte(secret), []byte(e.cfg.ClientSecret))
}

// writeBadCredentials answers like OSS simple auth (400, KnownExceptionHandler) or,
// with CloudAuthErrors, like Keycloak-backed auth (401 {"errorId"}).
func (e *Emulator) writeBadCredentials(w http.ResponseWriter) {
	if e.cfg.CloudAuthErrors {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errorId": e.errorID()})
		return
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"message":            "Invalid client id or token",
		"exceptionClassName": "io.airbyte.commons.server.errors.BadRequestException",
		"exceptionStack":     []string{},
		"errorId":            e.errorID(),
	})
}

// errorID returns a fresh UUID for error bodies.
func (e *Emulator) errorID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.newID()
}

// requireAuth rejects requests without a live bearer token with 401.
func (e *Emulator) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.auth.valid(r) {
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, publicPrefix) {
			writePublicProblem(w, problem(probInvalidAPIKey, ""))
			return
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized", "errorId": e.errorID()})
	})
}
