package pipeline

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
)

func TestOAuthIngestAgainstSimulator(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	sim, url := startSim(t, oktasim.Options{})
	sim.RegisterOAuthClient("0oaPIPELINE", &key.PublicKey, "k1", []string{"okta.logs.read"})
	sim.Add(genEvents(12, 300, time.Now().Add(-time.Hour), time.Now())...)
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	s.Okta.APIToken = ""
	s.Okta.OAuth = &okta.OAuthConfig{ClientID: "0oaPIPELINE", PrivateKeyPEM: keyPEM, KeyID: "k1", Scopes: []string{"okta.logs.read"}}
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	if err := runUntil(t, p, 20*time.Second, func(st Status) bool { return st.EventsIngested >= 150 }); err != nil {
		t.Fatal(err)
	}
	// The access token is revoked mid-run: one new token is fetched. New
	// events arrive after the revocation, so the pipeline must poll with the
	// revoked token whether or not the backfill was already stored (a
	// backfill committed in one batch can cross 150 events with all 300).
	if err := sim.Inject(oktasim.Fault{Kind: oktasim.FaultTokenRevoked}); err != nil {
		t.Fatal(err)
	}
	sim.Add(genEvents(13, 40, time.Now().Add(-time.Minute), time.Now())...)
	if err := runUntil(t, p, 20*time.Second, storeHasAll(p, sim)); err != nil {
		t.Fatal(err)
	}
	if n := sim.Stats().TokensIssued; n < 2 {
		t.Fatalf("tokens issued %d, want a refresh after the revocation", n)
	}
	p.Close()
	assertExactlyOnce(t, sim, s.Storage.Path)
	assertNoKeyMaterial(t, logs.String(), keyPEM)

	// Scope missing: a clear error naming it, no key text.
	sim.GrantScopes("0oaPIPELINE", []string{"okta.users.read"})
	s2 := s
	s2.Storage.Path = dir + "/other.db"
	p2 := newTestPipeline(t, s2, logs)
	defer p2.Close()
	err = runUntil(t, p2, 20*time.Second, func(Status) bool { return false })
	if !errors.Is(err, okta.ErrInsufficientScope) {
		t.Fatalf("err = %v", err)
	}
	assertNoKeyMaterial(t, err.Error()+logs.String(), keyPEM)
}

func assertNoKeyMaterial(t *testing.T, s string, keyPEM []byte) {
	t.Helper()
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(s, line) {
			t.Fatal("private key material in logs or errors")
		}
	}
	if strings.Contains(s, "client_assertion=") {
		t.Fatal("client assertion in logs or errors")
	}
}
