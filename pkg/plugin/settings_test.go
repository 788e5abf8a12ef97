package plugin

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/oktaguard/oktaguard/pkg/okta"
)

const secretToken = "00SECRET-token-value-must-never-leak"

func dsSettings(jsonData string, secure map[string]string) backend.DataSourceInstanceSettings {
	return backend.DataSourceInstanceSettings{UID: "ds-1", Name: "okta", JSONData: []byte(jsonData), DecryptedSecureJSONData: secure}
}

func TestLoadSettingsDefaults(t *testing.T) {
	s, err := LoadSettings(dsSettings(`{"orgUrl":"https://example.okta.com"}`, map[string]string{"apiToken": secretToken}))
	if err != nil {
		t.Fatal(err)
	}
	if s.AuthType != "apiToken" || s.Backfill != 168*time.Hour || s.PollInterval != 30*time.Second || s.RateLimitShare != 0.5 || s.PostureProfile != "baseline" {
		t.Fatalf("defaults not applied: %+v", s)
	}
	if s.StoragePath == "" || !strings.HasSuffix(s.DBPath(), "oktaguard-ds-1.db") {
		t.Fatalf("db path %q", s.DBPath())
	}
}

func TestLoadSettingsFull(t *testing.T) {
	s, err := LoadSettings(dsSettings(`{"orgUrl":"https://example.okta.com","authType":"oauth","clientId":"0oa1",
		"keyId":" k2 ","scopes":"okta.logs.read okta.policies.read","backfill":"24h","pollInterval":"1m","rateLimitShare":"0.25",
		"ipLists":{"trusted":["10.0.0.0/8"]},"postureProfile":"stig","storagePath":"/tmp/x"}`,
		map[string]string{"privateKey": "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.AuthType != "oauth" || s.KeyID != "k2" || len(s.Scopes) != 2 || s.Backfill != 24*time.Hour || s.PollInterval != time.Minute ||
		s.RateLimitShare != 0.25 || s.PostureProfile != "stig" || s.IPLists["trusted"][0] != "10.0.0.0/8" {
		t.Fatalf("parsed wrong: %+v", s)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	cases := []struct {
		name, json string
		secure     map[string]string
		want       string
	}{
		{"bad json", `{"orgUrl":`, nil, "jsonData is not valid"},
		{"no org", `{}`, map[string]string{"apiToken": secretToken}, "orgUrl is required"},
		{"no token", `{"orgUrl":"https://a.okta.com"}`, nil, "needs an API token"},
		{"oauth no client", `{"orgUrl":"https://a.okta.com","authType":"oauth"}`, map[string]string{"privateKey": "k"}, "needs clientId"},
		{"oauth no key", `{"orgUrl":"https://a.okta.com","authType":"oauth","clientId":"c"}`, nil, "needs a private key"},
		{"oauth key id", `{"orgUrl":"https://a.okta.com","authType":"oauth","clientId":"c","keyId":"k 2"}`, map[string]string{"privateKey": "k"}, `keyId "k 2" contains whitespace`},
		{"auth type", `{"orgUrl":"https://a.okta.com","authType":"basic"}`, nil, `authType "basic" is unknown`},
		{"backfill syntax", `{"orgUrl":"https://a.okta.com","backfill":"7 days"}`, map[string]string{"apiToken": secretToken}, "is not a duration"},
		{"backfill range", `{"orgUrl":"https://a.okta.com","backfill":"2200h"}`, map[string]string{"apiToken": secretToken}, "out of range"},
		{"poll range", `{"orgUrl":"https://a.okta.com","pollInterval":"1s"}`, map[string]string{"apiToken": secretToken}, "pollInterval 1s is out of range"},
		{"share", `{"orgUrl":"https://a.okta.com","rateLimitShare":1.5}`, map[string]string{"apiToken": secretToken}, "rateLimitShare 1.5"},
		{"share string", `{"orgUrl":"https://a.okta.com","rateLimitShare":"lots"}`, map[string]string{"apiToken": secretToken}, "must be a number"},
		{"list category", `{"orgUrl":"https://a.okta.com","ipLists":{"evil":["1.2.3.4"]}}`, map[string]string{"apiToken": secretToken}, `ipLists.evil: unknown category (use anonymous, suspicious, risky, trusted)`},
		{"profile", `{"orgUrl":"https://a.okta.com","postureProfile":"nist"}`, map[string]string{"apiToken": secretToken}, `postureProfile: posture: unknown profile "nist" (known: baseline, stig)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadSettings(dsSettings(c.json, c.secure))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Fatal("error leaks the token")
			}
		})
	}
}

func TestLoadSettingsDemoNeedsNoOrg(t *testing.T) {
	s, err := LoadSettings(dsSettings(`{"demo":true}`, nil))
	if err != nil || !s.Demo {
		t.Fatalf("demo settings: %v %+v", err, s)
	}
}

func TestLoadSettingsBadUID(t *testing.T) {
	st := dsSettings(`{"demo":true}`, nil)
	st.UID = "../../etc"
	if _, err := LoadSettings(st); err == nil || !strings.Contains(err.Error(), "storage key") {
		t.Fatalf("a uid with path characters must be refused, got %v", err)
	}
}

// The OAuth settings reach the okta config the pipeline uses: the key id
// as given, and without scopes in jsonData the shared default list.
func TestSettingsOAuthToConfig(t *testing.T) {
	s, err := LoadSettings(dsSettings(`{"orgUrl":"https://example.okta.com","authType":"oauth","clientId":"0oa1","keyId":"k2"}`,
		map[string]string{"privateKey": "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----"}))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.toConfig()
	if err != nil {
		t.Fatal(err)
	}
	o := cs.Okta.WithDefaults().OAuth
	if o.ClientID != "0oa1" || o.KeyID != "k2" || !slices.Equal(o.Scopes, okta.DefaultScopes()) {
		t.Fatalf("okta OAuth config %v", o)
	}
}

// The editor pre-fills the scopes the back end requests by default.
func TestDefaultScopesMatchFrontend(t *testing.T) {
	b, err := os.ReadFile("../../src/constants.ts")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)export const DEFAULT_OAUTH_SCOPES = \[(.*?)\];`).FindSubmatch(b)
	if m == nil {
		t.Fatal("src/constants.ts: DEFAULT_OAUTH_SCOPES not found")
	}
	var got []string
	for _, q := range regexp.MustCompile(`'([^']*)'`).FindAllSubmatch(m[1], -1) {
		got = append(got, string(q[1]))
	}
	if want := okta.DefaultScopes(); !slices.Equal(got, want) {
		t.Fatalf("src/constants.ts DEFAULT_OAUTH_SCOPES = %v,\nwant okta.DefaultScopes() %v", got, want)
	}
}
