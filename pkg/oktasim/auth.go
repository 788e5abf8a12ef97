package oktasim

import (
	"crypto/rsa"
	"net/http"
	"strings"
	"sync"
	"time"
)

// identity is an authenticated caller.
type identity struct {
	principal string
	clientID  string
	scopes    map[string]bool // nil for SSWS tokens (admin: every scope)
}

// hasScope reports whether the granted scopes cover need; a `.manage` scope
// covers the matching `.read` scope, as in Okta.
func (id identity) hasScope(need string) bool {
	if id.scopes == nil || id.scopes[need] {
		return true
	}
	if base, ok := strings.CutSuffix(need, ".read"); ok && id.scopes[base+".manage"] {
		return true
	}
	return false
}

type oauthClient struct {
	id     string
	keys   map[string]*rsa.PublicKey // kid → key ("" = registered without kid)
	scopes map[string]bool
}

type accessToken struct {
	clientID string
	scopes   map[string]bool
	expires  time.Time
	revoked  bool
	jkt      string // DPoP key thumbprint for DPoP-bound tokens
}

type authState struct {
	mu      sync.RWMutex
	primary string
	ssws    map[string]bool // token → revoked
	clients map[string]*oauthClient
	access  map[string]*accessToken
	jtis    map[string]time.Time // client assertion jti → exp (replay protection)
	dpop    map[string]time.Time // DPoP proof jti → expiry
}

func newAuthState(token string) *authState {
	return &authState{
		primary: token,
		ssws:    map[string]bool{token: false},
		clients: map[string]*oauthClient{},
		access:  map[string]*accessToken{},
		jtis:    map[string]time.Time{},
		dpop:    map[string]time.Time{},
	}
}

// AddToken makes another SSWS token valid (a second principal, or a
// rotated token after RevokeToken).
func (s *Server) AddToken(token string) {
	s.auth.mu.Lock()
	s.auth.ssws[token] = false
	s.auth.mu.Unlock()
}

// RevokeToken revokes credentials. With no argument it revokes the primary
// SSWS token (Options.Token) and every issued OAuth access token; otherwise
// it revokes the given SSWS tokens or access tokens. A revoked credential
// gets 401 E0000011 "Invalid token provided".
func (s *Server) RevokeToken(tokens ...string) {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(tokens) == 0 {
		a.ssws[a.primary] = true
		for _, t := range a.access {
			t.revoked = true
		}
		return
	}
	for _, tok := range tokens {
		if _, ok := a.ssws[tok]; ok {
			a.ssws[tok] = true
		}
		if t, ok := a.access[tok]; ok {
			t.revoked = true
		}
	}
}

// RegisterOAuthClient registers an OAuth 2.0 service app using
// private_key_jwt: its client id, the RSA public key (with its kid; "" if
// the key has none) that verifies its RS256 client assertions, and the
// okta.* scopes granted to it. Calling it again for the same client adds a
// key and replaces the granted scopes.
func (s *Server) RegisterOAuthClient(clientID string, pub *rsa.PublicKey, kid string, scopes []string) {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[clientID]
	if c == nil {
		c = &oauthClient{id: clientID, keys: map[string]*rsa.PublicKey{}}
		a.clients[clientID] = c
	}
	if pub != nil {
		c.keys[kid] = pub
	}
	c.scopes = map[string]bool{}
	for _, sc := range scopes {
		c.scopes[sc] = true
	}
}

// GrantScopes replaces the scopes granted to a registered client. Access
// tokens already issued keep the scopes they were issued with.
func (s *Server) GrantScopes(clientID string, scopes []string) {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.clients[clientID]; c != nil {
		c.scopes = map[string]bool{}
		for _, sc := range scopes {
			c.scopes[sc] = true
		}
	}
}

type authFailure func(rep *reply, base, path string)

func splitAuth(h string) (scheme, cred string) {
	scheme, cred, _ = strings.Cut(strings.TrimSpace(h), " ")
	return strings.ToLower(scheme), strings.TrimSpace(cred)
}

func (s *Server) authenticate(r *http.Request, now time.Time) (identity, authFailure) {
	authz := r.Header.Get("Authorization")
	scheme, cred := splitAuth(authz)
	fail := func(rep *reply, base, path string) { invalidToken(rep, base, path, authz) }
	if cred == "" {
		return identity{}, fail
	}
	a := s.auth
	a.mu.RLock()
	defer a.mu.RUnlock()
	switch scheme {
	case "ssws":
		if revoked, ok := a.ssws[cred]; ok && !revoked {
			return identity{principal: PrincipalForToken(cred)}, nil
		}
	case "bearer", "dpop":
		t, ok := a.access[cred]
		if !ok || t.revoked || !now.Before(t.expires) {
			return identity{}, fail
		}
		if t.jkt != "" || scheme == "dpop" {
			if scheme != "dpop" || t.jkt == "" {
				return identity{}, fail
			}
			if err := s.verifyResourceDPoP(r, cred, t.jkt, now); err != nil {
				return identity{}, func(rep *reply, base, path string) {
					rep.header.Set("WWW-Authenticate", `DPoP error="invalid_dpop_proof", error_description="`+err.Error()+`"`)
					rep.oktaError(http.StatusUnauthorized, oktaErr(CodeInvalidToken, "Invalid token provided"))
				}
			}
		}
		return identity{principal: PrincipalForClient(t.clientID), clientID: t.clientID, scopes: t.scopes}, nil
	}
	return identity{}, fail
}

// revokeCredential revokes whatever credential r carries.
func (a *authState) revokeCredential(r *http.Request) {
	scheme, cred := splitAuth(r.Header.Get("Authorization"))
	a.mu.Lock()
	defer a.mu.Unlock()
	switch scheme {
	case "ssws":
		if _, ok := a.ssws[cred]; ok {
			a.ssws[cred] = true
		}
	case "bearer", "dpop":
		if t, ok := a.access[cred]; ok {
			t.revoked = true
		}
	}
}

func invalidToken(rep *reply, base, path, authz string) {
	scheme, _ := splitAuth(authz)
	if scheme == "bearer" || scheme == "dpop" {
		rep.header.Set("WWW-Authenticate", `Bearer authorization_uri="`+base+`/oauth2/v1/authorize", realm="`+base+
			`", scope="", error="invalid_token", error_description="The access token is invalid.", resource="`+path+`"`)
	}
	rep.oktaError(http.StatusUnauthorized, oktaErr(CodeInvalidToken, "Invalid token provided"))
}

func insufficientScope(rep *reply, base, path, need string) {
	rep.header.Set("WWW-Authenticate", `Bearer authorization_uri="`+base+`/oauth2/v1/authorize", realm="`+base+
		`", scope="`+need+`", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="`+path+`"`)
	rep.oktaError(http.StatusForbidden, oktaErr(CodeAccessDenied, "You do not have permission to perform the requested action",
		"The access token provided does not contain the required scope: "+need))
}

// scopeTable maps management path prefixes to the scope resource name;
// GET/HEAD need okta.<name>.read, other methods okta.<name>.manage.
var scopeTable = []struct{ prefix, name string }{
	{"/api/v1/iam", "roles"},
	{"/api/v1/roles", "roles"},
	{"/api/v1/users", "users"},
	{"/api/v1/groups", "groups"},
	{"/api/v1/apps", "apps"},
	{"/api/v1/policies", "policies"},
	{"/api/v1/authenticators", "authenticators"},
	{"/api/v1/authorizationServers", "authorizationServers"},
	{"/api/v1/idps", "idps"},
	{"/api/v1/zones", "networkZones"},
	{"/api/v1/trustedOrigins", "trustedOrigins"},
	{"/api/v1/api-tokens", "apiTokens"},
	{"/api/v1/eventHooks", "eventHooks"},
	{"/api/v1/inlineHooks", "inlineHooks"},
	{"/api/v1/logStreams", "logStreams"},
	{"/api/v1/behaviors", "behaviors"},
	{"/api/v1/threats", "threatInsights"},
	{"/api/v1/org", "orgs"},
	{"/api/v1/domains", "domains"},
	{"/api/v1/brands", "brands"},
	{"/api/v1/device-assurances", "deviceAssurance"},
	{"/api/v1/devices", "devices"},
	{"/api/v1/features", "features"},
	{"/api/v1/sessions", "sessions"},
	{"/api/v1/mappings", "profileMappings"},
	{"/api/v1/meta/schemas", "schemas"},
	{"/api/v1/principal-rate-limits", "principalRateLimits"},
	{"/api/v1/rate-limit-settings", "rateLimitSettings"},
	{"/api/v1/templates", "templates"},
	{"/api/v1/captchas", "captchas"},
	{"/attack-protection/api/v1", "userRisk"},
}

// requiredScope returns the OAuth scope a request needs ("" = none).
func (s *Server) requiredScope(r *http.Request) string {
	if r.URL.Path == logsPath {
		return "okta.logs.read"
	}
	if d, ok := s.opts.Mgmt.(ScopeDeclarer); ok {
		if sc := d.RequiredScope(r); sc != "" {
			return sc
		}
	}
	return RequiredScopeFor(r.Method, r.URL.Path)
}

// RequiredScopeFor is the simulator's built-in scope table for management
// paths: GET/HEAD need okta.<resource>.read, other methods
// okta.<resource>.manage; unknown paths need no scope. /api/v1/logs needs
// okta.logs.read.
func RequiredScopeFor(method, path string) string {
	if path == logsPath {
		return "okta.logs.read"
	}
	for _, e := range scopeTable {
		if path == e.prefix || strings.HasPrefix(path, e.prefix+"/") {
			name := e.name
			// /api/v1/users/{id}/roles and /api/v1/groups/{id}/roles are role reads.
			if (e.name == "users" || e.name == "groups") && strings.Contains(path, "/roles") {
				name = "roles"
			}
			if method == http.MethodGet || method == http.MethodHead {
				return "okta." + name + ".read"
			}
			return "okta." + name + ".manage"
		}
	}
	return ""
}
