package posture

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Check is one registry entry: metadata plus the evaluation function.
type Check struct {
	ID       string
	Title    string
	Category string
	Severity Severity
	// Needs lists the snapshot resources the check reads; a fetch error on
	// any of them makes the check's status error (naming the scope).
	Needs []string
	// Inputs are further resources read without gating (documented scopes).
	Inputs []string
	// DoDOnly checks are not_applicable outside a DoD profile.
	DoDOnly     bool
	Remediation string
	References  References
	// Expected describes the pass criterion under a profile (docs, table).
	Expected func(p Profile) string
	eval     func(e env) outcome
}

// CheckInfo is the exported, data-only description of a check.
type CheckInfo struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Category    string     `json:"category"`
	Severity    Severity   `json:"severity"`
	DoDOnly     bool       `json:"dodOnly"`
	Scopes      []string   `json:"scopes"`
	Remediation string     `json:"remediation"`
	References  References `json:"references"`
	// Expected maps a profile name to the pass criterion under it.
	Expected map[string]string `json:"expected"`
}

// Categories in catalogue order.
const (
	CatSession       = "global_session"
	CatAppPolicies   = "app_policies"
	CatAuthenticator = "authenticators"
	CatPassword      = "password"
	CatPrivileged    = "lifecycle_privileged"
	CatAPITokens     = "api_tokens"
	CatNetwork       = "network_threat"
	CatMonitoring    = "monitoring_notifications"
	CatApps          = "apps_org"
)

var registry []Check

func register(c Check) {
	registry = append(registry, c)
}

func init() {
	for _, group := range [][]Check{sessionChecks(), appPolicyChecks(), authenticatorChecks(), passwordChecks(),
		privilegedChecks(), apiTokenChecks(), networkChecks(), monitoringChecks(), appOrgChecks()} {
		for _, c := range group {
			register(c)
		}
	}
	seen := map[string]bool{}
	for _, c := range registry {
		if seen[c.ID] {
			panic("posture: duplicate check id " + c.ID)
		}
		seen[c.ID] = true
	}
}

// Checks describes every registered check in catalogue order.
func Checks() []CheckInfo {
	out := make([]CheckInfo, 0, len(registry))
	for _, c := range registry {
		ci := CheckInfo{ID: c.ID, Title: c.Title, Category: c.Category, Severity: c.Severity, DoDOnly: c.DoDOnly,
			Scopes: scopesOf([]Check{c}), Remediation: c.Remediation, References: c.References, Expected: map[string]string{}}
		for _, p := range Profiles() {
			if c.Expected != nil {
				ci.Expected[p.Name] = c.Expected(p)
			}
		}
		out = append(out, ci)
	}
	return out
}

// Scopes lists, sorted, every OAuth 2.0 scope the registered checks read
// (okta.logs.read included, for the System Log evidence): what a service
// app must be granted for no check to report error for a missing scope.
func Scopes() []string { return scopesOf(registry) }

// scopesOf returns the sorted, distinct scopes of the resources checks
// need or read.
func scopesOf(checks []Check) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range checks {
		for _, res := range [][]string{c.Needs, c.Inputs} {
			for _, n := range res {
				if sc := ResourceScopes[n]; sc != "" && !seen[sc] {
					seen[sc] = true
					out = append(out, sc)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// CheckIDs returns the registered ids.
func CheckIDs() []string {
	ids := make([]string, len(registry))
	for i, c := range registry {
		ids[i] = c.ID
	}
	return ids
}

// ---- helpers shared by the check files ----

func fixed(s string) func(Profile) string { return func(Profile) string { return s } }

func evidence(v any) json.RawMessage {
	switch x := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		if len(x) == 0 {
			return nil
		}
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func finding(res string, ok bool, observed any, expected string, ev any) Finding {
	st := Fail
	if ok {
		st = Pass
	}
	return Finding{Resource: res, Status: st, Observed: observed, Expected: expected, Evidence: evidence(ev)}
}

func policyRes(p Policy) string {
	return fmt.Sprintf("%s policy %q [%s]", p.Type, p.Name, p.ID)
}

func ruleRes(p Policy, r PolicyRule) string {
	return fmt.Sprintf("%s policy %q rule %q [%s/%s]", p.Type, p.Name, r.Name, p.ID, r.ID)
}

func appRes(a App) string { return fmt.Sprintf("app %q (%s) [%s]", a.Label, a.Name, a.ID) }

func userRes(kind string, u User) string { return fmt.Sprintf("%s %s [%s]", kind, u.Login(), u.ID) }

func active(status string) bool { return strings.EqualFold(status, "ACTIVE") }

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func orgFinding(ok bool, observed any, expected string, ev any) outcome {
	return outcome{findings: []Finding{finding("org", ok, observed, expected, ev)}}
}

func naOutcome(observed, expected string) outcome {
	return outcome{findings: []Finding{{Resource: "org", Status: NotApplicable, Observed: observed, Expected: expected}}}
}

func errFinding(res, observed, expected string) Finding {
	return Finding{Resource: res, Status: Error, Observed: observed, Expected: expected}
}
