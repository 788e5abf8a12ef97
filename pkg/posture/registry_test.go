package posture

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/testsamples"
)

// The check ids are contract: the registry must hold exactly the ids of the
// catalogue in ../shared/posture-checks.md (or the copy named by
// POSTURE_CHECKS_MD).
func TestRegistryMatchesCatalogue(t *testing.T) {
	path := os.Getenv("POSTURE_CHECKS_MD")
	if path == "" {
		path = testsamples.Shared(t, "posture-checks.md") // ../shared beside the repository
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("catalogue not readable: %v", err)
	}
	re := regexp.MustCompile(`(?m)^\| (okta\.[a-z0-9_.]+) \|`)
	var want []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		want = append(want, m[1])
	}
	if len(want) != 62 {
		t.Fatalf("parsed %d ids from the catalogue, want 62", len(want))
	}
	got := CheckIDs()
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("registry ids differ from catalogue\n got: %v\nwant: %v", got, want)
	}
}

func TestCheckMetadataComplete(t *testing.T) {
	sevs := map[Severity]bool{Critical: true, High: true, Medium: true, Low: true, Info: true}
	for _, c := range Checks() {
		if c.Title == "" || c.Category == "" || c.Remediation == "" || !sevs[c.Severity] {
			t.Errorf("%s: incomplete metadata %+v", c.ID, c)
		}
		if len(c.References) == 0 {
			t.Errorf("%s: no references", c.ID)
		}
		for _, p := range Profiles() {
			if c.Expected[p.Name] == "" {
				t.Errorf("%s: no expected text for profile %s", c.ID, p.Name)
			}
		}
	}
}

func TestProfileByName(t *testing.T) {
	p, err := ProfileByName("")
	if err != nil || p.Name != "baseline" || p.DoD {
		t.Fatalf("default profile = %+v, %v", p, err)
	}
	s, err := ProfileByName("STIG")
	if err != nil || !s.DoD || s.Params.PasswordMinLength != 15 || s.Params.LockoutMaxAttempts != 3 {
		t.Fatalf("stig profile = %+v, %v", s, err)
	}
	if _, err := ProfileByName("nist"); err == nil || !strings.Contains(err.Error(), "baseline, stig") {
		t.Fatalf("unknown profile error = %v", err)
	}
}

func TestRelevantEventType(t *testing.T) {
	for _, et := range []string{"policy.lifecycle.update", "policy.rule.update", "zone.update", "system.api_token.create",
		"user.account.privilege.grant", "group.privilege.grant", "system.idp.lifecycle.create", "system.log_stream.lifecycle.create",
		"security.authenticator.lifecycle.deactivate", "security.threat.configuration.update"} {
		if !RelevantEventType(et) {
			t.Errorf("%s should be relevant", et)
		}
	}
	for _, et := range []string{"user.session.start", "user.authentication.sso", "app.oauth2.token.grant", ""} {
		if RelevantEventType(et) {
			t.Errorf("%s should not be relevant", et)
		}
	}
}

func TestParseISODuration(t *testing.T) {
	for in, want := range map[string]float64{"P30D": 720, "PT720H": 720, "P1W": 168, "PT30M": 0.5, "P1DT12H": 36} {
		d, err := ParseISODuration(in)
		if err != nil || d.Hours() != want {
			t.Errorf("%s = %v, %v; want %vh", in, d, err, want)
		}
	}
	for _, bad := range []string{"", "P", "30D", "PT", "P1X"} {
		if _, err := ParseISODuration(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

// Every snapshot resource is read by a check, so Scopes (the default OAuth
// scopes) names every scope the snapshot fetch needs.
func TestRegistryScopesCoverEveryResource(t *testing.T) {
	got := Scopes()
	for res, sc := range ResourceScopes {
		if _, found := slices.BinarySearch(got, sc); !found {
			t.Errorf("resource %s: scope %s is read by no check, so Scopes lacks it", res, sc)
		}
	}
}
