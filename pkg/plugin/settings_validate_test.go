package plugin

import (
	"strings"
	"testing"
)

// The plugin's settings follow the config file's rules: every problem at
// once, explicit out-of-range values refused, and a bad rearm does not
// hide a bad sensitivity; each detector problem names its key path.
func TestLoadSettingsReportsEveryProblem(t *testing.T) {
	_, err := LoadSettings(dsSettings(`{"orgUrl":"https://a.okta.com","pollInterval":"0s","rateLimitShare":0,"backfill":"0h",
		"detectors":{"impossible_travel":{"rearm":"forever","sensitivity":"extreme"},"failed_logins":{"params":{"nope":1}},"bogus":{}}}`,
		map[string]string{"apiToken": secretToken}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"pollInterval 0s is out of range [5s, 1h]",
		"rateLimitShare 0 is out of range (0, 1]",
		"backfill 0h is out of range",
		`detectors.impossible_travel.rearm (line 1): invalid duration "forever"`,
		`detectors.impossible_travel.sensitivity: "extreme" is not one of low, medium, high`,
		"detectors.failed_logins.params.nope: unknown parameter",
		"detectors.bogus (line 1): unknown detector",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// The settings the plugin shares with the CLI's config file are checked by
// the config file's rules (config.Settings.ValidateOffline), every problem
// at once, under the data source's field names.
func TestLoadSettingsSharesConfigRules(t *testing.T) {
	_, err := LoadSettings(dsSettings(`{"orgUrl":"https://a.okta.com","storageDriver":"postgres","geoipCityDB":"/nonexistent/city.mmdb",
		"ipLists":{"risky":["203.0.113.0/24","/nonexistent/list.txt"],"tor":["1.2.3.4"]},"postureProfile":"nist"}`,
		map[string]string{"apiToken": secretToken}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"storageDsn is empty (driver postgres needs a PostgreSQL connection string or URL)",
		"geoipCityDB: open /nonexistent/city.mmdb: no such file or directory",
		"ipLists.risky[1]: not an IP, CIDR, range or ASN, and not a readable file",
		"ipLists.tor: unknown category",
		`postureProfile: posture: unknown profile "nist"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("%d problems, want 5:\n%v", n, err)
	}
}
