package config

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// fuzzSecret is what every ${VAR} of a fuzzed file resolves to, used only
// in a secret field (apiToken, password): it must never be echoed.
const fuzzSecret = "fz-s3cret-00aBcD"

// FuzzParse: a config file from outside never panics the reader; what is
// accepted (Parse and Validate both pass) is in the documented ranges —
// an out-of-range value is refused, never turned into a default; every
// problem is reported on its own line, each naming its key (a path under
// a top-level section) or the file's YAML syntax; and a secret from the
// environment is never echoed in the problems.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\n",
		"okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\n  pageLimit: 0\n  rateLimitShare: 0\n  pollInterval: 0s\n  maxAttempts: -3\n",
		"okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\n  backfill: 100000h\nstorage:\n  retention: -1h\n",
		"okta:\n  orgUrl: https://example.okta.com\n  oauth:\n    clientId: x\n    privateKey: ${TOKEN}\n",
		"okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\nstorage:\n  driver: postgres\n  dsn: postgres://u@h/db\n  password: ${TOKEN}\n",
		"okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\nstorage:\n  driver: postgres\n  dsn: postgres://u:${PW}@h/db\n  retention: -1h\n",
		"okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\ndetectors:\n  impossible_travel:\n    rearm: forever\n    sensitivity: extreme\n",
		"okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${TOKEN}\nipLists:\n  suspicious:\n    - 198.51.100.0/24\n    - ${TOKEN}\n",
		"okta: [1, 2\n",
		"okta:\n  orgUrl: a\n  orgUrl: b\n",
		"{}",
		"? ?", "~: 1\n", "\"z\\nq\": 1\n", "okta:\n  a: 1\n  \"a\\nb\": 2\n  \"a\\nb\": 3\n", "a: &x b\n*x : 1\n", "okta:\n  ? [a]\n  : 1\n",
	} {
		f.Add([]byte(s))
	}
	lookup := func(string) (string, bool) { return fuzzSecret, true }
	f.Fuzz(func(t *testing.T, data []byte) {
		s, perr := Parse(data, "/etc/oktaguard", lookup)
		err := Problems(perr, s.Validate)
		if err == nil {
			checkAccepted(t, data, s)
			return
		}
		msg := err.Error()
		if strings.TrimSpace(msg) == "" {
			t.Fatalf("empty problem for %q", data)
		}
		if !errors.Is(perr, errNotYAML) {
			for _, line := range strings.Split(msg, "\n") {
				if !namesKey(line) {
					t.Fatalf("problem line without its key path: %q\nin:\n%s\nfor %q", line, msg, data)
				}
			}
		}
		if !strings.Contains(string(data), fuzzSecret) && strings.Contains(string(data), "${") &&
			strings.Contains(msg, fuzzSecret) && !secretMayShow(data) {
			t.Fatalf("a secret from the environment is echoed:\n%s\nfor %q", msg, data)
		}
	})
}

// secretMayShow reports whether data puts a ${VAR} where its value is not
// a secret (an org URL, a path, a list entry...): only apiToken, password,
// privateKey and the DSN are held to never echoing it. Where a ${VAR}
// lands is read from the parsed YAML, not from its line: a line such as
// "   apiToken:${A}" under an empty "orgUrl:" is the continuation of the
// org URL's value, not a token.
func secretMayShow(data []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return true // not YAML: nothing is expanded, the problem is the syntax
	}
	return varOutsideSecret(&doc, "")
}

// varOutsideSecret walks n (the value of key) and reports whether a
// scalar holding "${" sits anywhere but under a secret key.
func varOutsideSecret(n *yaml.Node, key string) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return false
		}
		switch key {
		case "apiToken", "password", "privateKey", "dsn":
			return false
		}
		return true
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if varOutsideSecret(n.Content[i], "") || varOutsideSecret(n.Content[i+1], n.Content[i].Value) {
				return true
			}
		}
		return false
	case yaml.AliasNode:
		return n.Alias != nil && varOutsideSecret(n.Alias, key)
	default: // documents and sequences: their items are not a secret key's value
		for _, c := range n.Content {
			if varOutsideSecret(c, "") {
				return true
			}
		}
		return false
	}
}

// sections are the config file's top-level keys.
var sections = []string{"okta", "storage", "geoip", "ipLists", "detectors", "posture", "listen", "webConfigFile"}

// located is a problem at a key the file has, not one of the sections
// (an unknown top-level key): its path and line.
var located = regexp.MustCompile(`^[^\n]+ \(line [0-9]+\): `)

// namesKey reports whether a problem line starts with a key path: a
// section then ".", " ", "(", ":" or "[", or any key with its line.
func namesKey(line string) bool {
	if located.MatchString(line) {
		return true
	}
	for _, s := range sections {
		if rest, ok := strings.CutPrefix(line, s); ok && (rest == "" || strings.ContainsAny(rest[:1], ". (:[")) {
			return true
		}
	}
	return false
}

func checkAccepted(t *testing.T, data []byte, s Settings) {
	t.Helper()
	o := s.Okta
	bad := func(what string, v any) {
		t.Fatalf("accepted %s = %v from %q", what, v, data)
	}
	if o.PageLimit < 1 || o.PageLimit > 1000 {
		bad("okta.pageLimit", o.PageLimit)
	}
	if !(o.RateLimitShare > 0 && o.RateLimitShare <= 1) {
		bad("okta.rateLimitShare", o.RateLimitShare)
	}
	if o.PollInterval <= 0 {
		bad("okta.pollInterval", o.PollInterval)
	}
	if o.MaxAttempts < 1 {
		bad("okta.maxAttempts", o.MaxAttempts)
	}
	if o.RequestTimeout <= 0 {
		bad("okta.requestTimeout", o.RequestTimeout)
	}
	if o.Backfill <= 0 || o.Backfill > 90*24*time.Hour {
		bad("okta.backfill", o.Backfill)
	}
	if o.Overlap <= 0 {
		bad("okta.overlap", o.Overlap)
	}
	if !(o.RateLimitReserve > 0 && o.RateLimitReserve < 1) {
		bad("okta.rateLimitReserve", o.RateLimitReserve)
	}
	if s.Storage.Retention < 0 {
		bad("storage.retention", s.Storage.Retention)
	}
	if o.APIToken == "" && o.OAuth == nil {
		bad("no credentials", "")
	}
}

// FuzzParseDetectors: the plugin's jsonData.detectors (JSON or YAML from
// the data source form) never panics the reader, and each problem names
// its key under "detectors".
func FuzzParseDetectors(f *testing.F) {
	for _, s := range []string{
		`{"impossible_travel":{"rearm":"forever","sensitivity":"extreme"}}`,
		`{"password_spray":{"params":{"nope":3}},"no_such_detector":{}}`,
		`{"impossible_travel":{"enabled":false}}`,
		`[1,2]`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseDetectors(data)
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "detectors") {
				t.Fatalf("problem line without its key path: %q (input %q)", line, data)
			}
		}
	})
}
