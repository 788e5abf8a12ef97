package config

import (
	"strings"
	"testing"
)

// TestDecoderMessagesNameTheirKey: an empty key (written "" or bare after a tag,
// as the fuzzer found with `!0000000 :`) is reported under the key path
// the file gives it, and so is a plain scalar over several lines where a
// section belongs: never the decoder's raw message with a Go type name.
func TestDecoderMessagesNameTheirKey(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	for _, tc := range []struct{ file, want string }{
		{"!0000000 :\n", `"" (line 1): unknown key (known keys here: detectors, geoip, ipLists, listen, okta, posture, storage, webConfigFile)`},
		{"okta:\n  orgUrl: https://example.okta.com\n  apiToken: t\n  \"\": 1\n", `okta."" (line 4): unknown key (known keys here: `},
		// a plain scalar over several lines where a section belongs (the
		// decoder's message then spans lines too)
		{"okta: 0\n\n 0", `okta (line 1): must be a mapping of `},
	} {
		_, perr := Parse([]byte(tc.file), "/etc/oktaguard", lookup)
		if perr == nil {
			t.Fatalf("%q: accepted", tc.file)
		}
		msg := perr.Error()
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "config.") {
			t.Errorf("%q:\n%s\nwant a line with %q and no Go type name", tc.file, msg, tc.want)
		}
	}
}

// TestKeysThatAreNotNames: a mapping, list, alias or null written as a key
// (YAML allows all four; the fuzzer found "? ?") is one problem naming the
// mapping it sits in and its line — never the decoder's "cannot unmarshal
// !!map into string" with an empty path, and a null key is never ignored.
func TestKeysThatAreNotNames(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	for _, tc := range []struct{ file, want string }{
		{"? ?", "top level (line 1): a key must be a name, not a mapping"},
		{"[a]: 1", "top level (line 1): a key must be a name, not a list"},
		{"~: 1\n", "top level (line 1): a key must be a name, not null"},
		{"a: &x b\n*x : 1\n", "top level (line 2): a key must be a name, not an alias (*x)"},
		{"okta:\n  ? {a: 1}\n  : x\n", "okta (line 2): a key must be a name, not a mapping"},
		{"okta:\n  ~: 1\n", "okta (line 2): a key must be a name, not null"},
		{"detectors:\n  impossible_travel:\n    params:\n      ? {x: 1}\n      : 3\n", "detectors.impossible_travel.params (line 4): a key must be a name, not a mapping"},
	} {
		_, perr := Parse([]byte(tc.file), "/etc/oktaguard", lookup)
		if perr == nil {
			t.Fatalf("%q: accepted", tc.file)
		}
		msg := perr.Error()
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "unmarshal") || strings.HasPrefix(msg, " ") {
			t.Errorf("%q:\n%s\nwant a line with %q and no decoder message", tc.file, msg, tc.want)
		}
	}
	for _, tc := range []struct{ json, want string }{
		{"? [a]\n: 1\n", "detectors (line 1): a key must be a name, not a list"},
		{"impossible_travel:\n  params:\n    ? [a]\n    : 1\n", "detectors.impossible_travel.params (line 3): a key must be a name, not a list"},
	} {
		_, err := ParseDetectors([]byte(tc.json))
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseDetectors(%q) = %v, want exactly %q", tc.json, err, tc.want)
		}
	}
}

// TestProblemsAreOneLineEach: a key, detector id or file path with a
// newline or another control character in it (YAML's "z\nq") is quoted
// escaped, so every problem stays on its own line naming its key, and
// nothing from the file writes control sequences to a terminal.
func TestProblemsAreOneLineEach(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	for _, tc := range []struct{ file, want string }{
		{"\"z\\nq\": 1\n", `z\nq (line 1): unknown key (known keys here: `},
		{"okta:\n  \"a\\nb\": 1\n", `okta.a\nb (line 2): unknown key (known keys here: apiToken, `},
		{"okta:\n  a: 1\n  \"a\\nb\": 2\n  \"a\\nb\": 3\n", `okta.a\nb (line 4): duplicate key (first at line 3)`},
		{"detectors:\n  \"x\\ny\": {}\n", `detectors.x\ny (line 2): unknown detector`},
		{"ipLists:\n  \"bad\\x1b[2J\": [1.2.3.4]\n", `ipLists.bad\x1b[2J (line 2): unknown key (known keys here: anonymous, `},
		{"geoip:\n  cityDB: \"/no/such\\ndir.mmdb\"\n", `geoip.cityDB: `},
	} {
		s, perr := Parse([]byte(tc.file), "/etc/oktaguard", lookup)
		err := Problems(perr, s.Validate)
		if err == nil {
			t.Fatalf("%q: accepted", tc.file)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%q:\n%s\nwant a line with %q", tc.file, msg, tc.want)
		}
		for _, line := range strings.Split(msg, "\n") {
			if !namesKey(line) || strings.ContainsRune(line, 0x1b) {
				t.Errorf("%q: problem line %q does not name its key or holds a control character", tc.file, line)
			}
		}
	}
	_, err := ParseDetectors([]byte("{\"x\\ny\": {}}"))
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), `detectors.x\ny (line 1): unknown detector`) {
		t.Errorf("ParseDetectors: %v", err)
	}
}
