package cxone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TokenInfo describes the current token without revealing it.
type TokenInfo struct {
	Scopes  []string  // as granted by the token endpoint's "scope"
	Expiry  time.Time // zero when the server did not say
	Fetched bool      // false when a cached token was still valid
}

// Token makes sure a token is held (fetching one if needed) and describes it.
func (c *Client) Token(ctx context.Context) (TokenInfo, error) {
	c.tokens.mu.Lock()
	fresh := c.tokens.tok == nil || !c.tokens.tok.Valid()
	c.tokens.mu.Unlock()
	tok, err := c.tokens.get(ctx)
	if err != nil {
		return TokenInfo{}, err
	}
	info := TokenInfo{Expiry: tok.Expiry, Fetched: fresh}
	if s, ok := tok.Extra("scope").(string); ok {
		info.Scopes = strings.Fields(s)
	}
	return info, nil
}

// Endpoints returns the API base URL and the token endpoint, running discovery where they
// were not configured.
func (c *Client) Endpoints(ctx context.Context) (apiBase, tokenURL string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	disc := strings.TrimRight(c.opts.DiscoveryURL, "/")
	if disc == "" {
		disc = DefaultDiscoveryURL
	}
	if c.tokenURL == "" {
		var doc struct {
			TokenEndpoint string `json:"token_endpoint"`
		}
		if err := c.discover(ctx, disc+"/.well-known/openid-configuration", &doc); err != nil {
			return "", "", err
		}
		if err := checkURL(doc.TokenEndpoint); err != nil {
			return "", "", &APIError{Op: "discovery", Kind: ErrMalformed, Msg: "openid-configuration token_endpoint: " + scrub(err.Error())}
		}
		c.tokenURL = doc.TokenEndpoint
	}
	if c.apiBase == "" {
		var doc struct {
			APIEndpoint string `json:"api_endpoint"`
		}
		if err := c.discover(ctx, disc+"/.well-known/cxone-configuration?tenantId="+url.QueryEscape(c.opts.TenantID), &doc); err != nil {
			return "", "", err
		}
		if err := checkURL(doc.APIEndpoint); err != nil {
			return "", "", &APIError{Op: "discovery", Kind: ErrMalformed, Msg: "cxone-configuration api_endpoint: " + scrub(err.Error())}
		}
		c.apiBase = strings.TrimRight(doc.APIEndpoint, "/")
	}
	return c.apiBase, c.tokenURL, nil
}

func (c *Client) discover(ctx context.Context, u string, v any) error {
	res, err := c.send(ctx, "discovery", "", http.MethodGet, u, nil, "")
	if err != nil {
		return err
	}
	if res.status != http.StatusOK {
		// A discovery failure says nothing about any target: it must not read as a 404
		// (recording ended) or a 400 (drop the request), so it is transient and retried.
		e := c.apiError("discovery", "", res)
		if e.Kind != ErrRateLimited {
			e.Kind = ErrTransient
			e.Msg = strings.TrimSpace("check discovery_url and tenant_id " + e.Msg)
		}
		return e
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		return &APIError{Op: "discovery", StatusCode: res.status, Kind: ErrMalformed, RequestID: res.requestID, Msg: "document does not decode: " + scrub(err.Error())}
	}
	return nil
}

// fetchToken gets a new token: client credentials for wem-v1, the password grant with the
// access key for cxone-mask.
func (c *Client) fetchToken(ctx context.Context) (*oauth2.Token, error) {
	_, tokenURL, err := c.Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	id := newRequestID()
	hctx, cancel := context.WithTimeout(context.WithValue(context.WithValue(ctx, ctxKey{}, id), oauth2.HTTPClient, c.hc), c.timeout)
	defer cancel()
	var tok *oauth2.Token
	switch c.opts.Backend {
	case BackendMask:
		oc := oauth2.Config{ClientID: c.opts.ClientID, ClientSecret: c.opts.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}}
		tok, err = oc.PasswordCredentialsToken(hctx, c.opts.AccessKeyID, c.opts.AccessKeySecret)
	default:
		scopes := c.opts.Scopes
		if len(scopes) == 0 {
			scopes = DefaultScopes
		}
		cc := clientcredentials.Config{ClientID: c.opts.ClientID, ClientSecret: c.opts.ClientSecret,
			TokenURL: tokenURL, Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
		tok, err = cc.Token(hctx)
	}
	if err != nil {
		terr := c.tokenError(ctx, err, id)
		c.log.Warn("token request failed", "request_id", id, "err", terr)
		return nil, terr
	}
	scope, _ := tok.Extra("scope").(string)
	c.log.Info("token obtained", "request_id", id, "expires_in", time.Until(tok.Expiry).Round(time.Second), "scope", scope)
	return tok, nil
}

// tokenError maps a token endpoint failure to *APIError. RetrieveError.Body is never used: it
// is the server's raw answer and might echo what we sent.
func (c *Client) tokenError(ctx context.Context, err error, id string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("cxone token: %w", ctx.Err())
	}
	e := &APIError{Op: "token", RequestID: id}
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		e.StatusCode = re.Response.StatusCode
		e.Msg = scrub(strings.TrimSpace(re.ErrorCode + ": " + re.ErrorDescription))
		switch code, s := re.ErrorCode, e.StatusCode; {
		case s >= 200 && s < 300 && code == "":
			e.Kind = ErrMalformed
		case code == "invalid_scope":
			e.Kind = ErrForbidden
			e.Scope = strings.Join(c.opts.Scopes, " ")
			if e.Scope == "" && c.opts.Backend == BackendWEMv1 {
				e.Scope = strings.Join(DefaultScopes, " ")
			}
		case s == http.StatusUnauthorized || code == "invalid_client" || code == "unauthorized_client":
			e.Kind = ErrUnauthorized
			e.Msg += " (check client_id and the client secret)"
		case code == "invalid_grant":
			e.Kind = ErrUnauthorized
			e.Msg += " (check access_key_id and the access key secret)"
		case s == http.StatusForbidden:
			e.Kind = ErrForbidden
		case s == http.StatusTooManyRequests:
			e.Kind = ErrRateLimited
			e.RetryAfter = ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
		case s >= 500:
			e.Kind = ErrTransient
		default:
			e.Kind = ErrBadRequest
		}
	case errors.As(err, &ue):
		e.Kind = ErrTransient
		e.Msg = transportMsg(err)
	default:
		e.Kind = ErrMalformed
		e.Msg = scrub(err.Error())
	}
	return e
}
