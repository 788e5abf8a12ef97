package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const fullYAML = `
okta:
  orgUrl: https://example.okta.com/
  apiToken: ${OKTA_API_TOKEN}
  backfill: 72h
  pollInterval: 45s
  overlap: 10m
  rateLimitShare: 0.4
storage:
  path: data/og.db
  retention: 240h
geoip:
  cityDB: geo/city.mmdb
ipLists:
  anonymous: [tor.txt, 198.51.100.7, "203.0.113.0/24", AS13335]
  trusted: 192.0.2.0/24
detectors:
  impossible_travel:
    enabled: false
posture:
  profile: stig
  interval: 2h
listen: 127.0.0.1:9999
`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseFull(t *testing.T) {
	dir := t.TempDir()
	s, err := Parse([]byte(fullYAML), dir, env(map[string]string{"OKTA_API_TOKEN": "00tok-SECRET"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Okta.OrgURL != "https://example.okta.com/" || s.Okta.APIToken != "00tok-SECRET" {
		t.Fatalf("okta: %+v", s.Okta)
	}
	if s.Okta.Backfill != 72*time.Hour || s.Okta.PollInterval != 45*time.Second || s.Okta.Overlap != 10*time.Minute || s.Okta.RateLimitShare != 0.4 {
		t.Fatalf("okta durations: %+v", s.Okta)
	}
	if s.Okta.PageLimit != 1000 {
		t.Fatalf("default page limit not applied: %d", s.Okta.PageLimit)
	}
	if s.Storage.Path != filepath.Join(dir, "data/og.db") || s.Storage.Retention != 240*time.Hour {
		t.Fatalf("storage: %+v", s.Storage)
	}
	if s.GeoIP.CityDB != filepath.Join(dir, "geo/city.mmdb") {
		t.Fatalf("geoip: %+v", s.GeoIP)
	}
	want := []string{filepath.Join(dir, "tor.txt"), "198.51.100.7", "203.0.113.0/24", "AS13335"}
	if strings.Join(s.IPLists["anonymous"], "|") != strings.Join(want, "|") {
		t.Fatalf("ipLists.anonymous = %v", s.IPLists["anonymous"])
	}
	if len(s.IPLists["trusted"]) != 1 {
		t.Fatalf("scalar list: %v", s.IPLists["trusted"])
	}
	if dc, ok := s.Detectors["impossible_travel"]; !ok || dc.Enabled == nil || *dc.Enabled {
		t.Fatalf("detectors: %+v", s.Detectors)
	}
	if s.Posture.Profile != "stig" || s.Posture.Interval != 2*time.Hour || !s.Posture.Enabled {
		t.Fatalf("posture: %+v", s.Posture)
	}
	if s.Listen != "127.0.0.1:9999" || s.BaseDir != dir {
		t.Fatalf("listen/base: %q %q", s.Listen, s.BaseDir)
	}
	if strings.Contains(s.String(), "00tok-SECRET") {
		t.Fatal("String() leaks the token")
	}
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	s, err := Parse([]byte("okta:\n  orgUrl: example.okta.com\n  apiToken: x\n"), dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Okta.Backfill != 168*time.Hour || s.Okta.PollInterval != 30*time.Second || s.Okta.Overlap != 15*time.Minute || s.Okta.RateLimitShare != 0.5 {
		t.Fatalf("okta defaults %+v", s.Okta)
	}
	if s.Storage.Path != filepath.Join(dir, DefaultStoragePath) || s.Storage.Retention != 30*24*time.Hour {
		t.Fatalf("storage defaults %+v", s.Storage)
	}
	if s.Posture.Profile != "baseline" || s.Posture.Interval != time.Hour || s.Listen != ":9842" {
		t.Fatalf("defaults %+v", s)
	}
}

func TestParseErrorsNameKeyPath(t *testing.T) {
	cases := []struct {
		name, yaml, mention string
	}{
		{"unknown top", "okta: {}\nstorgae: {}\n", "storgae (line 2): unknown key"},
		{"unknown nested", "okta:\n  orgURL: x\n", "okta.orgURL (line 2): unknown key"},
		{"unknown oauth", "okta:\n  oauth:\n    clientID: x\n", "okta.oauth.clientID"},
		{"unknown detector field", "detectors:\n  impossible_travel:\n    enable: true\n", "detectors"},
		{"bad duration", "okta:\n  backfill: 7 days\n", `okta.backfill (line 2): "7 days" is not a Go duration`},
		{"bad number", "okta:\n  rateLimitShare: half\n", "okta.rateLimitShare (line 2)"},
		{"unset env", "okta:\n  apiToken: ${NOPE_NOT_SET}\n", "okta.apiToken (line 2): environment variable NOPE_NOT_SET is not set"},
		{"bad category", "ipLists:\n  tor: [1.2.3.4]\n", "ipLists.tor (line 2): unknown key"},
		{"not mapping", "okta: [1, 2]\n", "okta (line 1): must be a mapping"},
		{"dup", "listen: :1\nlisten: :2\n", "listen (line 2): duplicate key"},
		{"bad yaml", "okta: [\n", "not valid YAML"},
		{"empty", "", "empty"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), t.TempDir(), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.mention)
		}
	}
}

func TestSecretsNeverEchoed(t *testing.T) {
	secret := "00SuperSecretTokenValue123"
	for _, y := range []string{
		"okta:\n  apiToken: [" + secret + "]\n",
		"okta:\n  apiToken: " + secret + "\n  orgUrl: http://evil.example.com\n",
		"okta:\n  apiToken: " + secret + "\n  oauth:\n    clientId: x\n    privateKey: " + secret + "\n",
	} {
		s, err := Parse([]byte(y), t.TempDir(), env(nil))
		if err == nil {
			err = s.Validate()
		}
		if err == nil {
			t.Fatalf("no error for %q", y)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error echoes the secret: %v", err)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	tor := writeFile(t, dir, "tor.txt", "# tor\n198.51.100.1\n")
	good := Defaults()
	good.Okta.OrgURL, good.Okta.APIToken = "https://x.okta.com", "tok"
	good.IPLists = map[string][]string{"anonymous": {tor, "1.2.3.4"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid: %v", err)
	}
	cases := []struct {
		name    string
		mut     func(*Settings)
		mention string
	}{
		{"missing list file", func(s *Settings) { s.IPLists["risky"] = []string{filepath.Join(dir, "nope.txt")} }, "ipLists.risky[0]"},
		{"missing geoip", func(s *Settings) { s.GeoIP.ASNDB = filepath.Join(dir, "asn.mmdb") }, "geoip.asnDB"},
		{"storage", func(s *Settings) { s.Storage.Path = "" }, "storage.path"},
		{"retention", func(s *Settings) { s.Storage.Retention = -time.Hour }, "storage.retention"},
		{"posture profile", func(s *Settings) { s.Posture.Profile = "nist" }, "posture.profile"},
		{"posture interval", func(s *Settings) { s.Posture.Interval = time.Second }, "posture.interval"},
		{"listen", func(s *Settings) { s.Listen = "9842" }, "listen"},
		{"backfill", func(s *Settings) { s.Okta.Backfill = 100 * 24 * time.Hour }, "90 days"},
		{"no creds", func(s *Settings) { s.Okta.APIToken = "" }, "no credentials"},
		{"http", func(s *Settings) { s.Okta.OrgURL = "http://x.okta.com" }, "https is required"},
	}
	for _, c := range cases {
		s := good
		s.IPLists = map[string][]string{"anonymous": {tor}}
		c.mut(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.mention)
		}
	}
}

func TestLoadOAuthKeyFileRelative(t *testing.T) {
	dir := t.TempDir()
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	writeFile(t, dir, "keys/app.pem", string(keyPEM))
	cfg := writeFile(t, dir, "oktaguard.yaml", `
okta:
  orgUrl: https://example.okta.com
  oauth:
    clientId: 0oa123
    privateKeyFile: keys/app.pem
    scopes: [okta.logs.read]
`)
	s, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Okta.OAuth == nil || s.Okta.OAuth.ClientID != "0oa123" || string(s.Okta.OAuth.PrivateKeyPEM) != string(keyPEM) {
		t.Fatalf("oauth not loaded: %v", s.Okta.OAuth)
	}
	if s.OAuthPrivateKeyFile != filepath.Join(dir, "keys/app.pem") {
		t.Fatalf("key file %q", s.OAuthPrivateKeyFile)
	}
	if strings.Contains(s.String(), "PRIVATE KEY") || strings.Contains(s.String(), strings.Split(string(keyPEM), "\n")[1]) {
		t.Fatal("String() leaks the key")
	}
	// Missing key file: precise error.
	cfg2 := writeFile(t, dir, "b.yaml", "okta:\n  orgUrl: https://example.okta.com\n  oauth:\n    clientId: x\n    privateKeyFile: missing.pem\n")
	if _, err := Load(cfg2); err == nil || !strings.Contains(err.Error(), "okta.oauth.privateKeyFile") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnvDefaultSyntax(t *testing.T) {
	s, err := Parse([]byte("listen: ${LISTEN:-:7000}\nokta:\n  orgUrl: https://${ORG}.okta.com\n"), t.TempDir(), env(map[string]string{"ORG": "acme"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Listen != ":7000" || s.Okta.OrgURL != "https://acme.okta.com" {
		t.Fatalf("%q %q", s.Listen, s.Okta.OrgURL)
	}
}

func TestIsInlineListEntry(t *testing.T) {
	for _, e := range []string{"1.2.3.4", "2001:db8::1", "10.0.0.0/8", "1.1.1.1-1.1.1.9", "AS13335", "as64500", "13335"} {
		if !IsInlineListEntry(e) {
			t.Errorf("%q should be inline", e)
		}
	}
	for _, e := range []string{"tor.txt", "/etc/lists/x.netset", "lists/AS.txt"} {
		if IsInlineListEntry(e) {
			t.Errorf("%q should be a file", e)
		}
	}
}

// The complete example of docs/configuration.md must parse (every key in
// it is a real key with a valid value).
func TestDocsExampleParses(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatalf("docs/configuration.md must exist: %v", err)
	}
	doc := string(b)
	i := strings.Index(doc, "## Complete example")
	start := strings.Index(doc[i:], "```yaml\n") + i + len("```yaml\n")
	end := strings.Index(doc[start:], "```") + start
	s, err := Parse([]byte(doc[start:end]), t.TempDir(), env(map[string]string{"OKTA_API_TOKEN": "x"}))
	if err != nil {
		t.Fatalf("docs example: %v", err)
	}
	if s.Okta.RateLimitShare != 0.5 || s.Posture.Profile != "baseline" || len(s.IPLists["trusted"]) != 3 {
		t.Fatalf("docs example parsed wrongly: %v", s)
	}
	if err := s.Detectors.Validate(); err != nil {
		t.Fatalf("docs example detectors: %v", err)
	}
}
