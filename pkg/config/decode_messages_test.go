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
