package oktasim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	keyOnce           sync.Once
	testKey, testKey2 *rsa.PrivateKey
)

func rsaKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if testKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if testKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return testKey, testKey2
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func signJWT(t *testing.T, key any, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	in := b64(hb) + "." + b64(cb)
	h := sha256.Sum256([]byte(in))
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
	case *ecdsa.PrivateKey:
		r, s, e := ecdsa.Sign(rand.Reader, k, h[:])
		err = e
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

type tokenResp struct {
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
	Desc        string `json:"error_description"`
}

func (e *simEnv) token(t *testing.T, params url.Values, inBody bool, dpop string) (int, tokenResp) {
	t.Helper()
	u := e.ts.URL + tokenPath
	var body io.Reader
	if inBody {
		body = strings.NewReader(params.Encode())
	} else {
		u += "?" + params.Encode()
	}
	req, _ := http.NewRequest(http.MethodPost, u, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if dpop != "" {
		req.Header.Set("DPoP", dpop)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tr tokenResp
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("token response not JSON: %s", b)
	}
	if res.Header.Get("X-Okta-Request-Id") == "" || res.Header.Get("X-Rate-Limit-Limit") == "" {
		t.Fatalf("token endpoint without common headers: %v", res.Header)
	}
	return res.StatusCode, tr
}

func TestTokenEndpoint(t *testing.T) {
	k1, k2 := rsaKeys(t)
	e := newEnv(t, Options{})
	e.sim.RegisterOAuthClient("0oa1", &k1.PublicKey, "kid1", []string{"okta.logs.read", "okta.users.read"})
	aud := e.ts.URL + tokenPath
	now := t0
	claims := func(mod func(c map[string]any)) map[string]any {
		c := map[string]any{"iss": "0oa1", "sub": "0oa1", "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	hdr := map[string]any{"alg": "RS256", "kid": "kid1"}
	params := func(assertion string, mod func(v url.Values)) url.Values {
		v := url.Values{
			"grant_type":            {"client_credentials"},
			"scope":                 {"okta.logs.read"},
			"client_assertion_type": {jwtBearer},
			"client_assertion":      {assertion},
		}
		if mod != nil {
			mod(v)
		}
		return v
	}
	good := signJWT(t, k1, hdr, claims(nil))

	cases := []struct {
		name   string
		params url.Values
		inBody bool
		status int
		err    string
	}{
		{"query string (SDK v2)", params(good, nil), false, 200, ""},
		{"form body", params(signJWT(t, k1, hdr, claims(nil)), nil), true, 200, ""},
		{"aud as array", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { c["aud"] = []string{aud} })), nil), true, 200, ""},
		{"no kid header", params(signJWT(t, k1, map[string]any{"alg": "RS256"}, claims(nil)), nil), true, 200, ""},
		{"two scopes", params(good, func(v url.Values) { v.Set("scope", "okta.logs.read okta.users.read") }), true, 200, ""},
		{"jti once", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { c["jti"] = "j-1" })), nil), true, 200, ""},
		{"jti replay", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { c["jti"] = "j-1" })), nil), true, 401, "invalid_client"},
		{"missing grant_type", params(good, func(v url.Values) { v.Del("grant_type") }), true, 400, "invalid_request"},
		{"wrong grant_type", params(good, func(v url.Values) { v.Set("grant_type", "password") }), true, 400, "unsupported_grant_type"},
		{"client_secret", params(good, func(v url.Values) { v.Set("client_secret", "s3cr3t") }), true, 401, "invalid_client"},
		{"wrong assertion type", params(good, func(v url.Values) { v.Set("client_assertion_type", "x") }), true, 400, "invalid_request"},
		{"no assertion", params("", nil), true, 400, "invalid_request"},
		{"garbage assertion", params("a.b", nil), true, 401, "invalid_client"},
		{"HS256", params(signJWT(t, k1, map[string]any{"alg": "HS256", "kid": "kid1"}, claims(nil)), nil), true, 401, "invalid_client"},
		{"unknown client", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { c["iss"], c["sub"] = "0oaX", "0oaX" })), nil), true, 401, "invalid_client"},
		{"iss != sub", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { c["sub"] = "someone" })), nil), true, 401, "invalid_client"},
		{"client_id mismatch", params(good, func(v url.Values) { v.Set("client_id", "0oaOther") }), true, 401, "invalid_client"},
		{"unknown kid", params(signJWT(t, k1, map[string]any{"alg": "RS256", "kid": "nope"}, claims(nil)), nil), true, 401, "invalid_client"},
		{"wrong key", params(signJWT(t, k2, hdr, claims(nil)), nil), true, 401, "invalid_client"},
		{"wrong aud", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { c["aud"] = "https://other.okta.com/oauth2/v1/token" })), nil), true, 401, "invalid_client"},
		{"no exp", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { delete(c, "exp") })), nil), true, 401, "invalid_client"},
		{"expired", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), nil), true, 401, "invalid_client"},
		{"lifetime > 1h", params(signJWT(t, k1, hdr, claims(func(c map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() })), nil), true, 401, "invalid_client"},
		{"no scope", params(good, func(v url.Values) { v.Del("scope") }), true, 400, "invalid_scope"},
		{"ungranted scope", params(good, func(v url.Values) { v.Set("scope", "okta.logs.read okta.apps.read") }), true, 400, "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, tr := e.token(t, tc.params, tc.inBody, "")
			if status != tc.status || tr.Error != tc.err {
				t.Fatalf("got %d %q (%s) want %d %q", status, tr.Error, tr.Desc, tc.status, tc.err)
			}
			if status == 200 {
				if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || !strings.HasPrefix(tr.AccessToken, "sim.AT.") || tr.Scope == "" {
					t.Fatalf("token response %+v", tr)
				}
			}
			if strings.Contains(tr.Desc, good) || strings.Contains(tr.Desc, "s3cr3t") {
				t.Fatal("secret echoed in error")
			}
		})
	}
	// GET is refused.
	r := e.do(t, http.MethodGet, tokenPath, "")
	if r.status != 405 {
		t.Fatalf("GET token: %d", r.status)
	}
}

func (e *simEnv) issue(t *testing.T, key *rsa.PrivateKey, clientID, scope string) string {
	t.Helper()
	a := signJWT(t, key, map[string]any{"alg": "RS256", "kid": "kid1"}, map[string]any{
		"iss": clientID, "sub": clientID, "aud": e.ts.URL + tokenPath,
		"iat": e.clock.Now().Unix(), "exp": e.clock.Now().Add(time.Hour).Unix(),
	})
	status, tr := e.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {jwtBearer}, "client_assertion": {a}}, false, "")
	if status != 200 {
		t.Fatalf("token: %d %+v", status, tr)
	}
	return tr.AccessToken
}

func TestBearerTokens(t *testing.T) {
	k1, _ := rsaKeys(t)
	e := newEnv(t, Options{AccessTokenTTL: 10 * time.Minute, OAuthClients: []OAuthClient{
		{ClientID: "0oa1", PublicKey: &k1.PublicKey, KeyID: "kid1", Scopes: []string{"okta.logs.read", "okta.users.read"}}}})
	logs := e.issue(t, k1, "0oa1", "okta.logs.read")
	users := e.issue(t, k1, "0oa1", "okta.users.read")

	if r := e.do(t, http.MethodGet, "/api/v1/logs", "Bearer "+logs); r.status != 200 {
		t.Fatalf("bearer logs: %d %s", r.status, r.body)
	}
	r := e.do(t, http.MethodGet, "/api/v1/logs", "Bearer "+users)
	if r.status != 403 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(r.header.Get("WWW-Authenticate"), `scope="okta.logs.read"`) {
		t.Fatalf("insufficient scope: %d %v", r.status, r.header)
	}
	if r.oktaError(t).ErrorCode != CodeAccessDenied {
		t.Fatalf("403 body %s", r.body)
	}
	// SSWS as Bearer or garbage bearer.
	for _, a := range []string{"Bearer " + testToken, "Bearer sim.AT.nope"} {
		r := e.do(t, http.MethodGet, "/api/v1/logs", a)
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%s: %d %v", a[:10], r.status, r.header)
		}
	}
	// Expiry follows the simulator clock.
	e.clock.Advance(10 * time.Minute)
	if r := e.do(t, http.MethodGet, "/api/v1/logs", "Bearer "+logs); r.status != 401 {
		t.Fatalf("expired token: %d", r.status)
	}
	fresh := e.issue(t, k1, "0oa1", "okta.logs.read")
	e.sim.RevokeToken(fresh)
	if r := e.do(t, http.MethodGet, "/api/v1/logs", "Bearer "+fresh); r.status != 401 || r.oktaError(t).ErrorCode != CodeInvalidToken {
		t.Fatalf("revoked token: %d", r.status)
	}
	// Scopes can be changed; the client re-authenticates to get them.
	e.sim.GrantScopes("0oa1", []string{"okta.logs.read"})
	a := signJWT(t, k1, map[string]any{"alg": "RS256", "kid": "kid1"}, map[string]any{
		"iss": "0oa1", "sub": "0oa1", "aud": e.ts.URL + tokenPath, "exp": e.clock.Now().Add(time.Hour).Unix()})
	if status, tr := e.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"okta.users.read"},
		"client_assertion_type": {jwtBearer}, "client_assertion": {a}}, false, ""); status != 400 || tr.Error != "invalid_scope" {
		t.Fatalf("revoked grant: %d %+v", status, tr)
	}
}

func dpopProof(t *testing.T, k *ecdsa.PrivateKey, htm, htu, token string, iat time.Time, jti string) string {
	t.Helper()
	pub := k.PublicKey
	x := make([]byte, 32)
	y := make([]byte, 32)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	claims := map[string]any{"htm": htm, "htu": htu, "iat": iat.Unix(), "jti": jti}
	if token != "" {
		h := sha256.Sum256([]byte(token))
		claims["ath"] = b64(h[:])
	}
	return signJWT(t, k, map[string]any{"typ": "dpop+jwt", "alg": "ES256",
		"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}}, claims)
}

func TestDPoP(t *testing.T) {
	k1, _ := rsaKeys(t)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ek2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e := newEnv(t, Options{RequireDPoP: true})
	e.sim.RegisterOAuthClient("0oa1", &k1.PublicKey, "kid1", []string{"okta.logs.read"})
	tokURL := e.ts.URL + tokenPath
	params := func() url.Values {
		a := signJWT(t, k1, map[string]any{"alg": "RS256", "kid": "kid1"}, map[string]any{
			"iss": "0oa1", "sub": "0oa1", "aud": tokURL, "exp": t0.Add(time.Hour).Unix()})
		return url.Values{"grant_type": {"client_credentials"}, "scope": {"okta.logs.read"},
			"client_assertion_type": {jwtBearer}, "client_assertion": {a}}
	}
	status, tr := e.token(t, params(), true, "")
	if status != 400 || tr.Error != "invalid_dpop_proof" {
		t.Fatalf("no proof: %d %+v", status, tr)
	}
	for name, proof := range map[string]string{
		"wrong htm": dpopProof(t, ek, "GET", tokURL, "", t0, "p1"),
		"wrong htu": dpopProof(t, ek, "POST", "http://elsewhere/oauth2/v1/token", "", t0, "p2"),
		"stale iat": dpopProof(t, ek, "POST", tokURL, "", t0.Add(-time.Hour), "p3"),
		"no jti":    dpopProof(t, ek, "POST", tokURL, "", t0, ""),
		"garbage":   "x.y.z",
	} {
		if status, tr := e.token(t, params(), true, proof); status != 400 || tr.Error != "invalid_dpop_proof" {
			t.Fatalf("%s: %d %+v", name, status, tr)
		}
	}
	status, tr = e.token(t, params(), true, dpopProof(t, ek, "POST", tokURL, "", t0, "ok-1"))
	if status != 200 || tr.TokenType != "DPoP" {
		t.Fatalf("valid proof: %d %+v", status, tr)
	}
	at := tr.AccessToken
	call := func(scheme, proof string) int {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/v1/logs", nil)
		req.Header.Set("Authorization", scheme+" "+at)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	logsURL := e.ts.URL + "/api/v1/logs"
	if got := call("DPoP", dpopProof(t, ek, "GET", logsURL, at, t0, "r-1")); got != 200 {
		t.Fatalf("DPoP resource call: %d", got)
	}
	if got := call("DPoP", dpopProof(t, ek, "GET", logsURL, at, t0, "r-1")); got != 401 {
		t.Fatalf("replayed proof: %d", got)
	}
	if got := call("DPoP", dpopProof(t, ek2, "GET", logsURL, at, t0, "r-2")); got != 401 {
		t.Fatalf("other key: %d", got)
	}
	if got := call("DPoP", dpopProof(t, ek, "GET", logsURL, "other-token", t0, "r-3")); got != 401 {
		t.Fatalf("wrong ath: %d", got)
	}
	if got := call("Bearer", ""); got != 401 {
		t.Fatalf("DPoP-bound token used as Bearer: %d", got)
	}
	if got := call("DPoP", ""); got != 401 {
		t.Fatalf("DPoP without proof: %d", got)
	}
}

func TestTokenEndpointFaultsAndLimits(t *testing.T) {
	k1, _ := rsaKeys(t)
	e := newEnv(t, Options{EndpointLimits: map[string]int{tokenPath: 4}})
	e.sim.RegisterOAuthClient("0oa1", &k1.PublicKey, "kid1", []string{"okta.logs.read"})
	if err := e.sim.Inject(Fault{Kind: FaultSlow, Path: tokenPath, Delay: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	tok := e.issue(t, k1, "0oa1", "okta.logs.read") // slow, then served with headers (checked in token())
	if tok == "" {
		t.Fatal("no token")
	}
	e.issue(t, k1, "0oa1", "okta.logs.read")
	// Ceiling 2 of a bucket of 4: the third token request is limited.
	a := signJWT(t, k1, map[string]any{"alg": "RS256", "kid": "kid1"}, map[string]any{
		"iss": "0oa1", "sub": "0oa1", "aud": e.ts.URL + tokenPath, "exp": t0.Add(time.Hour).Unix()})
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+tokenPath+"?"+url.Values{"grant_type": {"client_credentials"},
		"scope": {"okta.logs.read"}, "client_assertion_type": {jwtBearer}, "client_assertion": {a}}.Encode(), nil)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 || res.Header.Get("X-Rate-Limit-Remaining") != "0" {
		t.Fatalf("token bucket: %d %v", res.StatusCode, res.Header)
	}
	if st := e.sim.Stats(); st.Faults[FaultSlow] != 1 || st.TokensIssued != 2 {
		t.Fatalf("stats %+v", st)
	}
}
