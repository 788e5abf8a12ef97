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
	// Needs lists the inputs the check cannot be decided without: a fetch
	// error on any of them makes the check's status error (naming the
	// input and the scope); an input the org does not have makes it
	// not_applicable (with the reason).
	Needs []string
	// Optional inputs are read when the org has them (absent = empty). A
	// fetch error adds an error finding: the check is still decided when
	// what was read fails it (or, with AnySuffices, passes it).
	Optional []string
	// AnySuffices: one passing resource decides the check (an org-wide
	// "at least one" criterion), even when an optional input failed.
	AnySuffices bool
	// Inputs are further inputs the check weighs itself (no gating).
	Inputs []string
	// Engine, when set, is the only engine the check applies to
	// (EngineOIE or EngineClassic); on the other it is not_applicable.
	Engine string
	// NAWhen documents the check's own not-applicable cases (besides the
	// engine, the profile and absent inputs).
	NAWhen string
	// OwnItemErrors: the check reports failed sub-reads of its inputs
	// itself (only those of the resources it evaluates).
	OwnItemErrors bool
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
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Category string   `json:"category"`
	Severity Severity `json:"severity"`
	DoDOnly  bool     `json:"dodOnly"`
	Engine   string   `json:"engine,omitempty"`
	Needs    []string `json:"needs"`
	Optional []string `json:"optional,omitempty"`
	Inputs   []string `json:"inputs,omitempty"`
	Scopes   []string `json:"scopes"`
	// NotApplicableWhen lists what makes the check not_applicable.
	NotApplicableWhen []string   `json:"notApplicableWhen"`
	Remediation       string     `json:"remediation"`
	References        References `json:"references"`
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
			Engine: c.Engine, Needs: c.Needs, Optional: c.Optional, Inputs: c.Inputs,
			Scopes: scopesOf([]Check{c}), NotApplicableWhen: naWhen(c),
			Remediation: c.Remediation, References: c.References, Expected: map[string]string{}}
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
		for _, res := range [][]string{c.Needs, c.Optional, c.Inputs} {
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

// naWhen lists what makes a check not applicable, for docs/posture.md.
func naWhen(c Check) []string {
	var out []string
	if c.DoDOnly {
		out = append(out, "a profile other than a DoD one (stig)")
	}
	switch c.Engine {
	case EngineOIE:
		out = append(out, "a Classic Engine org (Identity Engine only)")
	case EngineClassic:
		out = append(out, "an Identity Engine org (Classic Engine only)")
	}
	for _, n := range c.Needs {
		if absentable[n] {
			out = append(out, "the org does not have `"+n+"` (HTTP 400/404 or E0000015 \"feature not enabled\")")
		}
	}
	if c.NAWhen != "" {
		out = append(out, c.NAWhen)
	}
	if len(out) == 0 {
		out = append(out, "never")
	}
	return out
}

// absentable are the inputs an org may not have: an Identity Engine-only
// type or endpoint, or a feature behind a SKU. Their 400/404 or E0000015
// answers mean "absent"; for any other input they are errors.
var absentable = map[string]bool{
	ResPolicyAccess: true, ResPolicyLifecycle: true, ResPolicyMFAEnroll: true, ResAdminConsole: true,
	ResAuthenticators: true, ResDeviceAssurances: true, ResBehaviors: true, ResLogStreams: true,
}

// Absentable reports whether an org may lack the input (see absentable).
func Absentable(resource string) bool { return absentable[resource] }

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
