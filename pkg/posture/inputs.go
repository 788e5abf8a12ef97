package posture

import (
	"context"
	"sort"
	"strings"
	"time"
)

// Input names: each is read, timed and failed on its own (see
// Snapshot.Inputs). Every policy type is its own input; the rules of each
// policy are a per-resource sub-read of "policy_rules:<TYPE>".
const (
	ResEngine           = "engine" // /.well-known/okta-organization
	ResPolicySignOn     = "policies:" + PolicySignOn
	ResPolicyAccess     = "policies:" + PolicyAccess
	ResPolicyPassword   = "policies:" + PolicyPassword
	ResPolicyMFAEnroll  = "policies:" + PolicyMFAEnroll
	ResPolicyLifecycle  = "policies:" + PolicyUserLifecycle
	ResRulesSignOn      = "policy_rules:" + PolicySignOn
	ResRulesAccess      = "policy_rules:" + PolicyAccess
	ResRulesPassword    = "policy_rules:" + PolicyPassword
	ResRulesLifecycle   = "policy_rules:" + PolicyUserLifecycle
	ResAuthenticators   = "authenticators"    // /api/v1/authenticators
	ResZones            = "zones"             // /api/v1/zones
	ResApps             = "apps"              // /api/v1/apps
	ResAdminConsole     = "admin_console"     // /api/v1/first-party-app-settings/admin-console
	ResAPITokens        = "api_tokens"        // /api/v1/api-tokens
	ResAdmins           = "admins"            // /api/v1/iam/assignees/users + /api/v1/users/{id}/roles
	ResUsers            = "users"             // /api/v1/users (ACTIVE) and /api/v1/users/{id}
	ResUserFactors      = "user_factors"      // /api/v1/users/{id}/factors
	ResIdPs             = "idps"              // /api/v1/idps
	ResLogStreams       = "log_streams"       // /api/v1/logStreams
	ResThreatInsight    = "threat_insight"    // /api/v1/threats/configuration
	ResBehaviors        = "behaviors"         // /api/v1/behaviors
	ResDeviceAssurances = "device_assurances" // /api/v1/device-assurances
	ResBrands           = "brands"            // /api/v1/brands
	ResEmailSettings    = "email_settings"    // /api/v1/brands/{id}/templates/email/{name}/settings
	ResSignInPage       = "sign_in_page"      // /api/v1/brands/{id}/pages/sign-in/customized
	ResTrustedOrigins   = "trusted_origins"   // /api/v1/trustedOrigins
	ResOktaSupport      = "okta_support"      // /api/v1/org/privacy/oktaSupport
	ResIngestion        = "log_ingestion"     // this plugin's own System Log ingestion (pipeline)
	ResLogSignals       = "log_signals"       // System Log evidence (pipeline)
)

// PolicyResource is the input name of a policy type's list.
func PolicyResource(typ string) string { return "policies:" + typ }

// RulesResource is the input name of the rules of a policy type's policies.
func RulesResource(typ string) string { return "policy_rules:" + typ }

// ResourceScopes maps each input to the OAuth 2.0 scope that reads it.
var ResourceScopes = map[string]string{ // #nosec G101 -- OAuth scope names per resource, not credentials
	ResPolicySignOn:     "okta.policies.read",
	ResPolicyAccess:     "okta.policies.read",
	ResPolicyPassword:   "okta.policies.read",
	ResPolicyMFAEnroll:  "okta.policies.read",
	ResPolicyLifecycle:  "okta.policies.read",
	ResRulesSignOn:      "okta.policies.read",
	ResRulesAccess:      "okta.policies.read",
	ResRulesPassword:    "okta.policies.read",
	ResRulesLifecycle:   "okta.policies.read",
	ResAuthenticators:   "okta.authenticators.read",
	ResZones:            "okta.networkZones.read",
	ResApps:             "okta.apps.read",
	ResAdminConsole:     "okta.apps.read",
	ResAPITokens:        "okta.apiTokens.read",
	ResAdmins:           "okta.roles.read",
	ResUsers:            "okta.users.read",
	ResUserFactors:      "okta.users.read",
	ResIdPs:             "okta.idps.read",
	ResLogStreams:       "okta.logStreams.read",
	ResThreatInsight:    "okta.threatInsights.read",
	ResBehaviors:        "okta.behaviors.read",
	ResDeviceAssurances: "okta.deviceAssurance.read",
	ResBrands:           "okta.brands.read",
	ResEmailSettings:    "okta.templates.read",
	ResSignInPage:       "okta.brands.read",
	ResTrustedOrigins:   "okta.trustedOrigins.read",
	ResOktaSupport:      "okta.orgs.read",
	ResIngestion:        "okta.logs.read",
	ResLogSignals:       "okta.logs.read",
}

// Engines (Snapshot.Engine, Report.Engine).
const (
	EngineOIE     = "identity_engine"
	EngineClassic = "classic"
	EngineUnknown = "unknown"
)

// FetchError records an input, or one per-resource sub-read of it (Item
// set: a policy's rules, a user's factors, an admin's roles, a brand's
// template), that could not be read. A check needing the input reports
// status error with this message (and the scope, when the cause was a
// missing OAuth scope); a failed sub-read is an error finding of that
// resource only.
type FetchError struct {
	Resource string `json:"resource"`
	Item     string `json:"item,omitempty"`   // the sub-read's resource (policy id, user id, ...)
	Scope    string `json:"scope,omitempty"`  // OAuth scope missing (403) or needed
	Status   int    `json:"status,omitempty"` // HTTP status, 0 for transport errors
	Code     string `json:"code,omitempty"`   // Okta error code (E0000006, insufficient_scope, ...)
	Message  string `json:"message"`          // never carries a secret
	Path     string `json:"path,omitempty"`   // API path that failed
	// Denied is true when the principal may not read the input (403: a
	// missing OAuth scope or an admin role that cannot read it).
	Denied bool `json:"denied,omitempty"`
}

func (e FetchError) String() string {
	s := e.Resource
	if e.Item != "" {
		s += " " + e.Item
	}
	s += ": " + e.Message
	if e.Scope != "" && !strings.Contains(e.Message, e.Scope) {
		s += " (scope " + e.Scope + ")"
	}
	return s
}

// Absence is an input the org does not have.
type Absence struct {
	Resource string `json:"resource"`
	Reason   string `json:"reason"`
	Status   int    `json:"status,omitempty"` // HTTP status that said so (0 when known from the engine)
	Code     string `json:"code,omitempty"`
	Path     string `json:"path,omitempty"`
}

// Input states.
const (
	InputOK      = "ok"
	InputError   = "error"
	InputAbsent  = "absent"
	InputPending = "pending" // still being read when a partial snapshot was taken
)

// InputStatus is the outcome of reading one input.
type InputStatus struct {
	Resource string  `json:"resource"`
	State    string  `json:"state"`
	Scope    string  `json:"scope,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	Items    int     `json:"items"`
	Requests int     `json:"requests"`
	Millis   float64 `json:"ms"`
	// SubErrors counts failed per-resource sub-reads.
	SubErrors int `json:"subErrors,omitempty"`
}

// AddError records a fetch failure of an input or a sub-read.
func (s *Snapshot) AddError(e FetchError) {
	if e.Scope == "" {
		e.Scope = ResourceScopes[e.Resource]
	}
	s.Errors = append(s.Errors, e)
}

// AddAbsent records an input the org does not have.
func (s *Snapshot) AddAbsent(a Absence) { s.Absent = append(s.Absent, a) }

// Err returns the fetch error of an input (not of a sub-read), or nil.
func (s *Snapshot) Err(resource string) *FetchError {
	for i := range s.Errors {
		if s.Errors[i].Resource == resource && s.Errors[i].Item == "" {
			return &s.Errors[i]
		}
	}
	return nil
}

// ItemErrs returns the failed sub-reads of an input.
func (s *Snapshot) ItemErrs(resource string) []FetchError {
	var out []FetchError
	for _, e := range s.Errors {
		if e.Resource == resource && e.Item != "" {
			out = append(out, e)
		}
	}
	return out
}

// ItemErr returns the failed sub-read of one item, or nil.
func (s *Snapshot) ItemErr(resource, item string) *FetchError {
	for i := range s.Errors {
		if s.Errors[i].Resource == resource && s.Errors[i].Item == item {
			return &s.Errors[i]
		}
	}
	return nil
}

// AbsentReason says why the org does not have an input ("" when it has).
func (s *Snapshot) AbsentReason(resource string) string {
	for _, a := range s.Absent {
		if a.Resource == resource {
			return a.Reason
		}
	}
	return ""
}

// IsOIE reports whether the org runs Okta Identity Engine.
func (s *Snapshot) IsOIE() bool {
	switch s.Engine {
	case EngineOIE:
		return true
	case EngineClassic:
		return false
	}
	switch s.Pipeline {
	case "idx":
		return true
	case "v1":
		return false
	}
	return len(s.Policies[PolicyAccess]) > 0
}

// IsClassic reports whether the org is known to run Classic Engine.
func (s *Snapshot) IsClassic() bool {
	return s.Engine == EngineClassic || (s.Engine == "" && s.Pipeline == "v1")
}

// Clone copies the snapshot's bookkeeping (inputs, errors, absences,
// the policy map) so that a copy can be completed or evaluated while the
// original is still being written to. Resource slices are shared: they
// are never modified after being stored.
func (s *Snapshot) Clone() Snapshot {
	c := *s
	c.Inputs = append([]InputStatus(nil), s.Inputs...)
	c.Errors = append([]FetchError(nil), s.Errors...)
	c.Absent = append([]Absence(nil), s.Absent...)
	c.Policies = make(map[string][]Policy, len(s.Policies))
	for k, v := range s.Policies {
		c.Policies[k] = v
	}
	return c
}

// FetchOptions tune a snapshot fetch.
type FetchOptions struct {
	// Workers is how many inputs are read at once (default 3). Requests
	// still pass the client's per-endpoint pacing and its in-flight limit,
	// where the System Log poller's requests queue with them in turn.
	Workers int
	// PartialAfter, with OnPartial, publishes a partial snapshot when the
	// fetch is still running after this long: inputs not yet read are
	// errors "still being read". The fetch goes on to completion.
	PartialAfter time.Duration
	OnPartial    func(Snapshot)
}

// Fetcher reads a Snapshot of an org's configuration. pkg/okta
// implements it over the Management API; tests may implement it over
// anything. The returned error is non-nil only when no snapshot can be
// trusted at all (rejected credentials, the context ended); every other
// failure is recorded per input in the snapshot.
type Fetcher interface {
	FetchSnapshot(ctx context.Context, opts FetchOptions) (Snapshot, error)
}

// Gap is one missing permission and what it costs: the OAuth scope (or
// admin role) the principal lacks, the inputs refused and the checks that
// error because of it.
type Gap struct {
	Scope  string   `json:"scope"`
	Inputs []string `json:"inputs"`
	Checks []string `json:"checks"`
}

// gaps derives the missing permissions of an evaluated snapshot.
func gaps(s *Snapshot, checks []CheckResult) []Gap {
	byScope := map[string]*Gap{}
	var order []string
	for _, e := range s.Errors {
		if !e.Denied {
			continue
		}
		sc := e.Scope
		if sc == "" {
			sc = ResourceScopes[e.Resource]
		}
		g, ok := byScope[sc]
		if !ok {
			g = &Gap{Scope: sc}
			byScope[sc] = g
			order = append(order, sc)
		}
		if !contains(g.Inputs, e.Resource) {
			g.Inputs = append(g.Inputs, e.Resource)
		}
	}
	if len(order) == 0 {
		return nil
	}
	needs := map[string][]string{}
	for _, c := range registry {
		needs[c.ID] = append(append(append([]string(nil), c.Needs...), c.Optional...), c.Inputs...)
	}
	sort.Strings(order)
	out := make([]Gap, 0, len(order))
	for _, sc := range order {
		g := byScope[sc]
		for _, c := range checks {
			if c.Status != Error {
				continue
			}
			for _, in := range g.Inputs {
				if contains(needs[c.ID], in) {
					g.Checks = append(g.Checks, c.ID)
					break
				}
			}
		}
		sort.Strings(g.Inputs)
		out = append(out, *g)
	}
	return out
}
