package oktasim_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
)

// TestWithOrgsim mounts E7's management-API simulator behind the server's
// auth, scope, rate-limit and fault layers.
func TestWithOrgsim(t *testing.T) {
	org, err := orgsim.New("weak")
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sim := oktasim.New(oktasim.Options{Token: "tok", Mgmt: org, OAuthClients: []oktasim.OAuthClient{
		{ClientID: "0oa1", PublicKey: &key.PublicKey, KeyID: "k", Scopes: []string{"okta.logs.read", "okta.policies.read"}}}})
	ts := httptest.NewServer(sim.Handler())
	defer ts.Close()
	get := func(path, authz string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("Authorization", authz)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := get("/api/v1/policies?type=PASSWORD", "SSWS tok")
	var policies []map[string]any
	if res.StatusCode != 200 || json.Unmarshal(body, &policies) != nil || len(policies) == 0 {
		t.Fatalf("policies via SSWS: %d %s", res.StatusCode, body)
	}
	if res.Header.Get("X-Rate-Limit-Limit") == "" || res.Header.Get("X-Okta-Request-Id") == "" {
		t.Fatalf("common headers missing: %v", res.Header)
	}
	if res, _ := get("/api/v1/policies?type=PASSWORD", "SSWS nope"); res.StatusCode != 401 {
		t.Fatalf("bad token reached orgsim: %d", res.StatusCode)
	}

	// OAuth: a token with okta.policies.read reads policies but not authenticators.
	b64 := base64.RawURLEncoding.EncodeToString
	hb, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "k"})
	cb, _ := json.Marshal(map[string]any{"iss": "0oa1", "sub": "0oa1", "aud": ts.URL + "/oauth2/v1/token", "exp": time.Now().Add(time.Hour).Unix()})
	in := b64(hb) + "." + b64(cb)
	h := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"okta.policies.read"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {in + "." + b64(sig)}}
	tr, err := http.Post(ts.URL+"/oauth2/v1/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(tr.Body).Decode(&tok)
	tr.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("no access token: %d", tr.StatusCode)
	}
	if res, body := get("/api/v1/policies?type=PASSWORD", "Bearer "+tok.AccessToken); res.StatusCode != 200 {
		t.Fatalf("policies via OAuth: %d %s", res.StatusCode, body)
	}
	res, _ = get("/api/v1/authenticators", "Bearer "+tok.AccessToken)
	if res.StatusCode != 403 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `scope="okta.authenticators.read"`) {
		t.Fatalf("authenticators without scope: %d %v", res.StatusCode, res.Header)
	}
	if org.Hits("/api/v1/authenticators") != 0 {
		t.Fatal("a 403 request reached orgsim")
	}
	// Faults apply to management paths too.
	if err := sim.Inject(oktasim.Fault{Kind: oktasim.FaultServerError, Path: "/api/v1/policies"}); err != nil {
		t.Fatal(err)
	}
	if res, _ := get("/api/v1/policies?type=PASSWORD", "SSWS tok"); res.StatusCode != 500 {
		t.Fatalf("fault on mgmt path: %d", res.StatusCode)
	}
}
