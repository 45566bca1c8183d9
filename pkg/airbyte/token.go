package airbyte

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	opCreateAccessToken = "createAccessToken"

	// tokenRefreshMargin is the most a token is refreshed ahead of expiry;
	// shorter lifetimes refresh 10% of the lifetime ahead.
	tokenRefreshMargin = 60 * time.Second
	// tokenLifetimeUnknown is assumed when the server sends no expires_in
	// (Airbyte's old fixed application-token lifetime).
	tokenLifetimeUnknown = 180 * time.Second
)

// accessToken is POST /applications/token's PublicAccessTokenResponse.
type accessToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"` // seconds
}

// tokenSource caches the access token and refreshes it single-flight.
type tokenSource struct {
	c *Client

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	inflight  *tokenCall
}

type tokenCall struct {
	done  chan struct{}
	token string
	err   error
}

// get returns a valid token, fetching one if the cached token is missing or
// due for refresh. Concurrent callers share one fetch; a caller whose ctx
// ends stops waiting without cancelling the fetch for the others.
func (ts *tokenSource) get(ctx context.Context) (string, error) {
	ts.mu.Lock()
	if ts.token != "" && ts.c.now().Before(ts.refreshAt) {
		t := ts.token
		ts.mu.Unlock()
		return t, nil
	}
	call := ts.inflight
	if call == nil {
		call = &tokenCall{done: make(chan struct{})}
		ts.inflight = call
		go ts.fetch(context.WithoutCancel(ctx), call)
	}
	ts.mu.Unlock()

	select {
	case <-call.done:
		return call.token, call.err
	case <-ctx.Done():
		return "", fmt.Errorf("airbyte: get access token: %w", ctx.Err())
	}
}

func (ts *tokenSource) fetch(ctx context.Context, call *tokenCall) {
	// Bound the shared fetch: every attempt has its own timeout, and the
	// whole fetch may not outlast them all.
	ctx, cancel := context.WithTimeout(ctx, ts.c.cfg.Timeout*time.Duration(ts.c.cfg.MaxAttempts)+ts.c.cfg.BackoffMax)
	defer cancel()

	issued := ts.c.now()
	tok, lifetime, err := ts.c.requestToken(ctx)

	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err == nil {
		margin := min(tokenRefreshMargin, lifetime/10)
		ts.token = tok
		ts.refreshAt = issued.Add(lifetime - margin)
	}
	ts.inflight = nil
	call.token, call.err = tok, err
	close(call.done)
}

// invalidate drops tok if it is still the cached token, so that the next
// get fetches a new one. A token already replaced by a concurrent refresh is
// left alone: one refresh answers many concurrent 401s.
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == tok {
		ts.token = ""
	}
}

// requestToken calls POST /applications/token with the client credentials,
// form-encoded as Airbyte's SDKs send them.
func (c *Client) requestToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret.Reveal()},
	}
	r := &request{
		api:         APIPublic,
		op:          opCreateAccessToken,
		method:      http.MethodPost,
		path:        "/applications/token",
		body:        []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded",
		idempotent:  true, // issuing a token has no side effect worth guarding
		noAuth:      true,
		mask:        &masker{values: []string{c.cfg.ClientSecret.Reveal()}},
	}
	var tok accessToken
	if err := c.do(ctx, r, &tok); err != nil {
		return "", 0, fmt.Errorf("airbyte: get access token: %w", err)
	}
	if tok.AccessToken == "" {
		return "", 0, fmt.Errorf("airbyte: get access token: %w: no access_token", ErrInvalidResponse)
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "Bearer") {
		return "", 0, fmt.Errorf("airbyte: get access token: %w: token_type %q, want Bearer", ErrInvalidResponse, tok.TokenType)
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = tokenLifetimeUnknown
	}
	return tok.AccessToken, lifetime, nil
}
