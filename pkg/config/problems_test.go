package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadText(t *testing.T, text string) error {
	t.Helper()
	p := filepath.Join(t.TempDir(), "oktaguard.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	return err
}

// A file with many problems reports every one of them, each with its key
// path, in one pass: parse problems, explicit out-of-range values and
// validation problems together.
func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	err := loadText(t, `
okta:
  orgUrl: https://example.okta.com
  apiToken: abcdefghijklmnopqrstuvwxyz0123456789ABCD
  pageLimit: 0
  rateLimitShare: 0
  pollInterval: 0s
  maxAttempts: -3
  requestTimeout: soon
  backfill: 100000h
detectors:
  impossible_travel:
    rearm: forever
    sensitivity: extreme
  password_spray:
    params:
      nope: 3
  no_such_detector: {}
storage:
  retention: -1h
`)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		`okta.pageLimit (line 5): "0" is out of range: want 1..1000 (default 1000); remove the key to use the default`,
		`okta.rateLimitShare (line 6): "0" is out of range: want a fraction in (0, 1]`,
		`okta.pollInterval (line 7): "0s" is out of range: want a positive duration`,
		`okta.maxAttempts -3 must be at least 1`,
		`okta.requestTimeout (line 9): "soon" is not a Go duration`,
		`okta.backfill 100000h0m0s is more than 90 days`,
		`detectors.impossible_travel.rearm (line 13): `,
		`detectors.impossible_travel.sensitivity: "extreme" is not one of low, medium, high`,
		`detectors.password_spray.params.nope: unknown parameter`,
		`detectors.no_such_detector (line 18): unknown detector`,
		`storage.retention -1h0m0s is negative`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != 11 {
		t.Errorf("%d problems reported, want 11:\n%s", n, msg)
	}
}

// Explicit zero tuning values are refused one by one; absent keys and
// null values mean the default.
func TestExplicitZeroRefused(t *testing.T) {
	base := "okta:\n  orgUrl: https://example.okta.com\n  apiToken: abcdefghijklmnopqrstuvwxyz0123456789ABCD\n"
	for _, kv := range []string{"pageLimit: 0", "rateLimitShare: 0", "pollInterval: 0s", "maxAttempts: 0", "requestTimeout: 0s", "backfill: 0h", "overlap: 0m", "rateLimitReserve: 0"} {
		err := loadText(t, base+"  "+kv+"\n")
		key := "okta." + strings.SplitN(kv, ":", 2)[0]
		if err == nil || !strings.Contains(err.Error(), key+" (line 4): ") || !strings.Contains(err.Error(), "is out of range") {
			t.Errorf("%s: %v", kv, err)
		}
	}
	if err := loadText(t, base+"  pageLimit:\n  maxAttempts: 3\n"); err != nil {
		t.Errorf("null or valid values: %v", err)
	}
	if err := loadText(t, base+"  maxAttempts: -1\n"); err == nil || !strings.Contains(err.Error(), "okta.maxAttempts -1 must be at least 1") {
		t.Errorf("negative maxAttempts: %v", err)
	}
}

// An inline private key is reported under its own setting.
func TestInlineKeyProblemNamesItsSetting(t *testing.T) {
	err := loadText(t, `
okta:
  orgUrl: https://example.okta.com
  oauth:
    clientId: 0oa123
    privateKey: "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
`)
	if err == nil || !strings.Contains(err.Error(), "okta.oauth.privateKey: ") || strings.Contains(err.Error(), "privateKeyFile") {
		t.Fatalf("%v", err)
	}
}

// Unknown keys at every level, values of the wrong shape, bad values and
// unset variables, in one file: every problem is reported once, with its
// key path and line, and unknown keys list the keys allowed there.
func TestParseReportsEveryKindOfProblemAtOnce(t *testing.T) {
	_, err := Parse([]byte(`okta:
  orgURL: https://example.okta.com
  backfill: 7 days
  oauth:
    clientID: y
    scopes: {a: 1}
  pageLimit: [1]
storgae: {}
ipLists:
  tor: [1.2.3.4]
  risky: {x: 1}
posture: [1]
listen: ${NOPE_NOT_SET}
geoip: {cityDB: a.mmdb, asnDb: b.mmdb}
storage: {retention: soon, driver: [x]}
`), t.TempDir(), env(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		"okta.orgURL (line 2): unknown key (known keys here: apiToken, backfill, maxAttempts, oauth, orgUrl, overlap, pageLimit, pollInterval, rateLimitReserve, rateLimitShare, rateLimitWindow, requestTimeout)",
		`okta.backfill (line 3): "7 days" is not a Go duration (examples: 90s, 15m, 168h)`,
		"okta.oauth.clientID (line 5): unknown key (known keys here: clientId, keyId, privateKey, privateKeyFile, scopes)",
		"okta.oauth.scopes (line 6): must be a list",
		"okta.pageLimit (line 7): must be a single value",
		"storgae (line 8): unknown key (known keys here: detectors, geoip, ipLists, listen, okta, posture, storage, webConfigFile)",
		"ipLists.tor (line 10): unknown key (known keys here: anonymous, risky, suspicious, trusted)",
		"ipLists.risky (line 11): must be a list",
		"posture (line 12): must be a mapping of enabled, interval, profile, not !!seq",
		"listen (line 13): environment variable NOPE_NOT_SET is not set",
		"geoip.asnDb (line 14): unknown key (known keys here: anonymousDB, asnDB, cityDB)",
		`storage.retention (line 15): "soon" is not a Go duration`,
		"storage.driver (line 15): must be a single value",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != len(want) {
		t.Errorf("%d problems reported, want %d:\n%s", n, len(want), msg)
	}
}

// A duplicate key is reported with both lines. The yaml decoder then skips
// the mapping that holds it, so the other problems of that mapping show
// once the duplicate is removed (docs/configuration.md says so).
func TestDuplicateKeyNamesBothLines(t *testing.T) {
	_, err := Parse([]byte("okta:\n  orgUrl: a\n  orgUrl: b\nlisten: :1\n"), t.TempDir(), env(nil))
	if err == nil || err.Error() != "okta.orgUrl (line 3): duplicate key (first at line 2)" {
		t.Fatalf("%v", err)
	}
}

// The ipLists keys of the file are exactly IPListCategories, in order.
func TestIPListKeysAreTheCategories(t *testing.T) {
	var f ipListsFile
	vals := f.byCategory()
	if len(vals) != len(IPListCategories) {
		t.Fatalf("%d values for %d categories", len(vals), len(IPListCategories))
	}
	for _, cat := range IPListCategories {
		s, err := Parse([]byte("ipLists:\n  "+cat+": [192.0.2.1]\n"), t.TempDir(), env(nil))
		if err != nil || len(s.IPLists) != 1 || len(s.IPLists[cat]) != 1 {
			t.Errorf("%s: %v %v", cat, s.IPLists, err)
		}
	}
}

// A section given a local YAML tag (`storage: !x`) is a wrong shape like a
// scalar: reported under its key path, not as the decoder's Go type name
// (found by FuzzParse: "line 6: cannot unmarshal !x into config.storageFile").
func TestTaggedSectionNamesItsKey(t *testing.T) {
	_, err := Parse([]byte("okta:\n  orgUrl: https://example.okta.com\n  apiToken: abcdefghijklmnopqrstuvwxyz0123456789ABCD\nstorage: !x\n"), "/etc", func(string) (string, bool) { return "", false })
	want := "storage (line 4): must be a mapping of driver, dsn, password, passwordFile, path, retention, not !x"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %q", err, want)
	}
}

// ParseOffline (export, replay, alerts) leaves an Okta credential whose
// variable is unset empty, and still reports any other unset variable.
func TestParseOfflineNeedsNoOktaCredentials(t *testing.T) {
	env := func(string) (string, bool) { return "", false }
	data := []byte("okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\nstorage:\n  path: ${DATA}/og.db\n")
	_, err := ParseOffline(data, "/etc", env)
	if err == nil || err.Error() != "storage.path (line 5): environment variable DATA is not set" {
		t.Fatalf("error %v, want only storage.path's unset variable", err)
	}
	s, err := ParseOffline([]byte("okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\n"), "/etc", env)
	if err != nil || s.Okta.APIToken != "" {
		t.Fatalf("token %q, error %v", s.Okta.APIToken, err)
	}
	if _, err := Parse(data, "/etc", env); err == nil || !strings.Contains(err.Error(), "okta.apiToken (line 3): environment variable TOKEN is not set") {
		t.Fatalf("Parse (serve): %v", err)
	}
}
