package okta

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8PEM(t *testing.T, k any) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
}

func TestToPKCS1PEM(t *testing.T) {
	k := testRSAKey(t)
	want := pkcs1PEM(k)
	for name, in := range map[string][]byte{
		"pkcs1":         want,
		"pkcs8":         pkcs8PEM(t, k),
		"escaped lines": []byte(strings.ReplaceAll(string(pkcs8PEM(t, k)), "\n", `\n`)),
	} {
		got, err := ToPKCS1PEM(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: converted key differs", name)
		}
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	bad := map[string]struct {
		in      []byte
		mention string
	}{
		"ec pkcs8":  {pkcs8PEM(t, ec), "EC keys are not supported"},
		"ec sec1":   {pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), "EC keys are not supported"},
		"not pem":   {[]byte("hello"), "no PEM block"},
		"public":    {pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), "not a private key"},
		"encrypted": {pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), "encrypted"},
		"garbage":   {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "not valid PKCS#1"},
		"1024 bits": {pkcs1PEM(small), "at least 2048"},
	}
	for name, c := range bad {
		_, err := ToPKCS1PEM(c.in)
		if !errors.Is(err, ErrPrivateKey) || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: err = %v, want %q", name, err, c.mention)
		}
	}
}

// fakeOAuth is an org with a token endpoint that verifies RS256 client
// assertions, and a logs endpoint that wants the issued bearer token.
type fakeOAuth struct {
	srv       *httptest.Server
	pub       *rsa.PublicKey
	clientID  string
	mu        sync.Mutex
	tokenHits int
	logHits   int
	scopes    []string
	tokenErr  string // OAuth error to answer on the token endpoint
	revoked   bool
	issued    int
}

func newFakeOAuth(t *testing.T, pub *rsa.PublicKey) *fakeOAuth {
	f := &fakeOAuth{pub: pub, clientID: "0oaCLIENT"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOAuth) verify(assertion string) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errors.New("not a JWS")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(f.pub, crypto.SHA256, h[:], sig); err != nil {
		return err
	}
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss, Sub, Aud string
		Exp           int64
	}
	if err := json.Unmarshal(cb, &claims); err != nil {
		return err
	}
	if claims.Iss != f.clientID || claims.Sub != f.clientID || claims.Aud != f.srv.URL+"/oauth2/v1/token" || claims.Exp < time.Now().Unix() {
		return fmt.Errorf("bad claims %+v", claims)
	}
	return nil
}

func (f *fakeOAuth) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	switch r.URL.Path {
	case "/oauth2/v1/token":
		f.tokenHits++
		if f.tokenErr != "" {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":%q,"error_description":"denied by test"}`, f.tokenErr)
			return
		}
		if err := f.verify(r.URL.Query().Get("client_assertion")); err != nil {
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":%q}`, err.Error())
			return
		}
		f.scopes = strings.Fields(r.URL.Query().Get("scope"))
		f.issued++
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"AT-%d","scope":%q}`, f.issued, r.URL.Query().Get("scope"))
	case "/api/v1/logs":
		f.logHits++
		w.Header().Set("X-Rate-Limit-Limit", "6000")
		w.Header().Set("X-Rate-Limit-Remaining", "5999")
		w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(time.Now().Unix()+60))
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer AT-") || (f.revoked && r.Header.Get("Authorization") == "Bearer AT-1") {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)
			return
		}
		w.Header().Add("Link", "<"+f.srv.URL+`/api/v1/logs?after=1>; rel="next"`)
		fmt.Fprint(w, `[{"uuid":"o-1","published":"2025-01-01T00:00:00.000Z"}]`)
	default:
		w.WriteHeader(404)
	}
}

func oauthClient(t *testing.T, url string, key []byte, logs *bytes.Buffer) (*Client, error) {
	cfg := Config{OrgURL: url, OAuth: &OAuthConfig{ClientID: "0oaCLIENT", PrivateKeyPEM: key, KeyID: "kid1"}, RequestTimeout: time.Second, MaxAttempts: 3}
	return NewClient(t.Context(), cfg, WithRetryBackoff(time.Millisecond, 5*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
}

func TestOAuthPrivateKeyJWT(t *testing.T) {
	k := testRSAKey(t)
	for name, key := range map[string][]byte{"pkcs1": pkcs1PEM(k), "pkcs8": pkcs8PEM(t, k)} {
		t.Run(name, func(t *testing.T) {
			f := newFakeOAuth(t, &k.PublicKey)
			var logs bytes.Buffer
			c, err := oauthClient(t, f.srv.URL, key, &logs)
			if err != nil {
				t.Fatal(err)
			}
			p := NewLogPoller(c)
			pg, err := p.Poll(t.Context(), Cursor{Since: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Events) != 1 {
				t.Fatalf("events %d", len(pg.Events))
			}
			if _, err := p.Poll(t.Context(), Cursor{Next: pg.Next}); err != nil {
				t.Fatal(err)
			}
			if f.tokenHits != 1 || f.logHits != 2 {
				t.Fatalf("token hits %d (want 1, cached), log hits %d", f.tokenHits, f.logHits)
			}
			if !slices.Equal(f.scopes, DefaultScopes()) {
				t.Fatalf("scopes requested %v", f.scopes)
			}
			// A revoked access token is replaced once.
			f.revoked = true
			if _, err := p.Poll(t.Context(), Cursor{Next: pg.Next}); err != nil {
				t.Fatalf("after revocation of the access token: %v", err)
			}
			if f.tokenHits != 2 {
				t.Fatalf("token hits %d, want a refresh", f.tokenHits)
			}
			assertNoKey(t, logs.String(), key)
		})
	}
}

func assertNoKey(t *testing.T, s string, key []byte) {
	t.Helper()
	for _, line := range strings.Split(string(key), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(s, line) {
			t.Fatalf("key material leaked: %q", s)
		}
	}
	if strings.Contains(s, "client_assertion=") || strings.Contains(s, "eyJ") {
		t.Fatalf("client assertion leaked: %q", s)
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	k := testRSAKey(t)
	cases := []struct {
		oauthErr string
		is       error
		mention  string
	}{
		{"invalid_dpop_proof", ErrDPoP, "untick"},
		{"invalid_scope", ErrInsufficientScope, "Okta API Scopes"},
		{"invalid_client", ErrUnauthorized, "OAuth client authentication failed"},
	}
	for _, c := range cases {
		f := newFakeOAuth(t, &k.PublicKey)
		f.tokenErr = c.oauthErr
		var logs bytes.Buffer
		cl, err := oauthClient(t, f.srv.URL, pkcs8PEM(t, k), &logs)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewLogPoller(cl).Poll(t.Context(), Cursor{Since: time.Now()})
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: err = %v", c.oauthErr, err)
			continue
		}
		if f.tokenHits != 1 {
			t.Errorf("%s: token endpoint hit %d times (not retryable)", c.oauthErr, f.tokenHits)
		}
		assertNoKey(t, err.Error()+logs.String(), pkcs8PEM(t, k))
	}
	// A key that does not match the registered one.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	f := newFakeOAuth(t, &k.PublicKey)
	cl, err := oauthClient(t, f.srv.URL, pkcs1PEM(other), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewLogPoller(cl).Poll(t.Context(), Cursor{Since: time.Now()})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong key: %v", err)
	}
	assertNoKey(t, err.Error(), pkcs1PEM(other))
}

func TestOAuthTokenEndpointDownNoLeak(t *testing.T) {
	k := testRSAKey(t)
	f := newFakeOAuth(t, &k.PublicKey)
	url := f.srv.URL
	f.srv.Close()
	var logs bytes.Buffer
	cl, err := oauthClient(t, url, pkcs1PEM(k), &logs)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewLogPoller(cl).Poll(t.Context(), Cursor{Since: time.Now()})
	if !errors.Is(err, ErrRetriesExhausted) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "/oauth2/v1/token") {
		t.Fatalf("error should name the token endpoint: %v", err)
	}
	assertNoKey(t, err.Error()+logs.String(), pkcs1PEM(k))
}

func TestNewClientRejectsECKeyClearly(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := pkcs8PEM(t, ec)
	_, err := oauthClient(t, "https://x.okta.com", key, &bytes.Buffer{})
	if !errors.Is(err, ErrPrivateKey) || !strings.Contains(err.Error(), "EC keys are not supported") {
		t.Fatalf("err = %v", err)
	}
	assertNoKey(t, err.Error(), key)
}
