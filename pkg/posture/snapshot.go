// Package posture evaluates an Okta org's security configuration against a
// catalogue of checks (see docs/posture.md). It imports nothing else of
// oktaguard: the Snapshot is plain data that pkg/okta fills from the
// Management API and pkg/oktasim/orgsim serves in tests.
package posture

import (
	"encoding/json"
	"strings"
	"time"
)

// Policy types.
const (
	PolicySignOn        = "OKTA_SIGN_ON"
	PolicyAccess        = "ACCESS_POLICY"
	PolicyPassword      = "PASSWORD"
	PolicyMFAEnroll     = "MFA_ENROLL"
	PolicyUserLifecycle = "USER_LIFECYCLE"
)

// PolicyTypes lists the policy types the snapshot reads.
var PolicyTypes = []string{PolicySignOn, PolicyAccess, PolicyPassword, PolicyMFAEnroll, PolicyUserLifecycle}

// Snapshot is the org configuration the checks read. Each resource keeps
// its raw JSON as evidence. A nil/empty slice with no entry in Errors means
// "read, and empty".
type Snapshot struct {
	OrgURL    string    `json:"orgUrl,omitempty"`
	FetchedAt time.Time `json:"fetchedAt"`
	// Pipeline is "idx" (Okta Identity Engine) or "v1" (Classic), from
	// /.well-known/okta-organization; empty when unknown.
	Pipeline string `json:"pipeline,omitempty"`
	// Engine is the org's engine, detected once per snapshot (EngineOIE,
	// EngineClassic or EngineUnknown); EngineSource says how.
	Engine       string `json:"engine"`
	EngineSource string `json:"engineSource,omitempty"`
	// Partial marks a snapshot published before every input was read
	// (the first evaluation's deadline): unread inputs are errors naming
	// them as still being read.
	Partial bool `json:"partial,omitempty"`

	Policies             map[string][]Policy   `json:"policies"` // by type
	Authenticators       []Authenticator       `json:"authenticators"`
	Zones                []NetworkZone         `json:"zones"`
	Apps                 []App                 `json:"apps"`
	AdminConsoleSettings *AdminConsoleSettings `json:"adminConsoleSettings,omitempty"`
	APITokens            []APIToken            `json:"apiTokens"`
	Admins               []Admin               `json:"admins"`
	Users                []User                `json:"users"` // ACTIVE users (Factors filled when fetched)
	IdPs                 []IdP                 `json:"idps"`
	LogStreams           []LogStream           `json:"logStreams"`
	ThreatInsight        *ThreatInsight        `json:"threatInsight,omitempty"`
	Behaviors            []Behavior            `json:"behaviors"`
	DeviceAssurances     []DeviceAssurance     `json:"deviceAssurances"`
	Brands               []Brand               `json:"brands"`
	TrustedOrigins       []TrustedOrigin       `json:"trustedOrigins"`
	OktaSupport          *OktaSupport          `json:"oktaSupport,omitempty"`

	// Filled by the pipeline, not the Management API.
	Ingestion  *IngestionStatus `json:"ingestion,omitempty"`
	LogSignals *LogSignals      `json:"logSignals,omitempty"`

	// Inputs records every input's read: state, requests, time.
	Inputs []InputStatus `json:"inputs,omitempty"`
	// Errors are inputs (Item empty) and per-resource sub-reads (Item set)
	// that could not be read.
	Errors []FetchError `json:"errors,omitempty"`
	// Absent are inputs the org does not have (unsupported policy type or
	// feature, Classic Engine): the checks that need them are not
	// applicable.
	Absent []Absence `json:"absent,omitempty"`
}

// ActivePolicies returns the ACTIVE policies of a type, highest priority first
// (as Okta lists them).
func (s *Snapshot) ActivePolicies(typ string) []Policy {
	var out []Policy
	for _, p := range s.Policies[typ] {
		if strings.EqualFold(p.Status, "ACTIVE") {
			out = append(out, p)
		}
	}
	return out
}

// PolicyByID finds a policy of any type.
func (s *Snapshot) PolicyByID(id string) (Policy, bool) {
	for _, ps := range s.Policies {
		for _, p := range ps {
			if p.ID == id {
				return p, true
			}
		}
	}
	return Policy{}, false
}

// AppByName returns the first app with the given Okta app name (e.g.
// "saasure" for the Admin Console, "okta_enduser" for the Dashboard).
func (s *Snapshot) AppByName(name string) (App, bool) {
	for _, a := range s.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return App{}, false
}

// ZoneByID returns a network zone.
func (s *Snapshot) ZoneByID(id string) (NetworkZone, bool) {
	for _, z := range s.Zones {
		if z.ID == id {
			return z, true
		}
	}
	return NetworkZone{}, false
}

// AdminByID returns the admin entry of a user id.
func (s *Snapshot) AdminByID(id string) (Admin, bool) {
	for _, a := range s.Admins {
		if a.User.ID == id {
			return a, true
		}
	}
	return Admin{}, false
}

// Policy is one Okta policy (any type) with its rules.
type Policy struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Status      string            `json:"status"`
	Priority    int               `json:"priority"`
	System      bool              `json:"system"`
	Description string            `json:"description,omitempty"`
	Conditions  *PolicyConditions `json:"conditions,omitempty"`
	Settings    *PolicySettings   `json:"settings,omitempty"`
	Rules       []PolicyRule      `json:"-"`
	Raw         json.RawMessage   `json:"-"`
}

// IsDefault reports whether this is the system ("Default Policy") policy.
func (p Policy) IsDefault() bool { return p.System || p.Name == "Default Policy" }

// ActiveRules returns ACTIVE rules in priority order.
func (p Policy) ActiveRules() []PolicyRule {
	var out []PolicyRule
	for _, r := range p.Rules {
		if strings.EqualFold(r.Status, "ACTIVE") {
			out = append(out, r)
		}
	}
	sortRules(out)
	return out
}

// PolicyConditions holds the policy-level conditions the checks read.
type PolicyConditions struct {
	People  *PeopleCondition  `json:"people,omitempty"`
	Network *NetworkCondition `json:"network,omitempty"`
}

// PeopleCondition is conditions.people.
type PeopleCondition struct {
	Users  *UserCondition  `json:"users,omitempty"`
	Groups *IncludeExclude `json:"groups,omitempty"`
}

// UserCondition is conditions.people.users (inactivity for USER_LIFECYCLE).
type UserCondition struct {
	Include    []string             `json:"include,omitempty"`
	Exclude    []string             `json:"exclude,omitempty"`
	Inactivity *InactivityCondition `json:"inactivity,omitempty"`
}

// InactivityCondition is conditions.people.users.inactivity.
type InactivityCondition struct {
	Number int    `json:"number"`
	Unit   string `json:"unit"` // DAYS, WEEKS, MONTHS
}

// Days converts the inactivity window to days.
func (c InactivityCondition) Days() int {
	switch strings.ToUpper(c.Unit) {
	case "WEEKS":
		return c.Number * 7
	case "MONTHS":
		return c.Number * 30
	default:
		return c.Number
	}
}

// IncludeExclude is a generic include/exclude list.
type IncludeExclude struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// NetworkCondition is conditions.network (policy, rule or API token).
type NetworkCondition struct {
	Connection string   `json:"connection,omitempty"` // ANYWHERE | ZONE
	Include    []string `json:"include,omitempty"`
	Exclude    []string `json:"exclude,omitempty"`
}

// Zoned reports whether the condition limits by zone.
func (n *NetworkCondition) Zoned() bool {
	return n != nil && strings.EqualFold(n.Connection, "ZONE") && len(n.Include)+len(n.Exclude) > 0
}

// PolicySettings is the settings object of PASSWORD and MFA_ENROLL policies.
type PolicySettings struct {
	Type           string                       `json:"type,omitempty"`
	Password       *PasswordSettings            `json:"password,omitempty"`
	Recovery       *RecoverySettings            `json:"recovery,omitempty"`
	Factors        map[string]EnrollSetting     `json:"factors,omitempty"`        // Classic MFA_ENROLL
	Authenticators []AuthenticatorEnrollSetting `json:"authenticators,omitempty"` // OIE MFA_ENROLL
}

// PasswordSettings is settings.password.
type PasswordSettings struct {
	Complexity PasswordComplexity `json:"complexity"`
	Age        PasswordAge        `json:"age"`
	Lockout    PasswordLockout    `json:"lockout"`
}

// PasswordComplexity is settings.password.complexity.
type PasswordComplexity struct {
	MinLength    int `json:"minLength"`
	MinLowerCase int `json:"minLowerCase"`
	MinUpperCase int `json:"minUpperCase"`
	MinNumber    int `json:"minNumber"`
	MinSymbol    int `json:"minSymbol"`
	Dictionary   struct {
		Common struct {
			Exclude bool `json:"exclude"`
		} `json:"common"`
	} `json:"dictionary"`
}

// PasswordAge is settings.password.age.
type PasswordAge struct {
	MaxAgeDays     int `json:"maxAgeDays"`
	ExpireWarnDays int `json:"expireWarnDays"`
	MinAgeMinutes  int `json:"minAgeMinutes"`
	HistoryCount   int `json:"historyCount"`
}

// PasswordLockout is settings.password.lockout.
type PasswordLockout struct {
	MaxAttempts       int `json:"maxAttempts"`
	AutoUnlockMinutes int `json:"autoUnlockMinutes"`
}

// RecoverySettings is settings.recovery.
type RecoverySettings struct {
	Factors map[string]struct {
		Status string `json:"status"`
	} `json:"factors,omitempty"`
}

// EnrollSetting is a Classic MFA_ENROLL factor setting.
type EnrollSetting struct {
	Consent *struct {
		Type string `json:"type"`
	} `json:"consent,omitempty"`
	Enroll struct {
		Self string `json:"self"` // REQUIRED | OPTIONAL | NOT_ALLOWED
	} `json:"enroll"`
}

// AuthenticatorEnrollSetting is an OIE MFA_ENROLL authenticator setting.
type AuthenticatorEnrollSetting struct {
	Key    string `json:"key"`
	Enroll struct {
		Self string `json:"self"`
	} `json:"enroll"`
}

// PolicyRule is one rule of a policy.
type PolicyRule struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type,omitempty"`
	Status     string          `json:"status"`
	Priority   int             `json:"priority"`
	System     bool            `json:"system"`
	Conditions *RuleConditions `json:"conditions,omitempty"`
	Actions    *RuleActions    `json:"actions,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

// RuleConditions holds the rule conditions the checks read.
type RuleConditions struct {
	Network   *NetworkCondition `json:"network,omitempty"`
	People    *PeopleCondition  `json:"people,omitempty"`
	RiskScore *struct {
		Level string `json:"level"` // ANY | LOW | MEDIUM | HIGH
	} `json:"riskScore,omitempty"`
	Risk *struct {
		Behaviors []string `json:"behaviors,omitempty"`
	} `json:"risk,omitempty"`
	Device *struct {
		Registered bool `json:"registered,omitempty"`
		Managed    bool `json:"managed,omitempty"`
		Assurance  *struct {
			Include []string `json:"include,omitempty"`
		} `json:"assurance,omitempty"`
	} `json:"device,omitempty"`
}

// RuleActions holds rule actions of every policy type the checks read.
type RuleActions struct {
	Signon                   *SignonAction    `json:"signon,omitempty"`
	AppSignOn                *AppSignOnAction `json:"appSignOn,omitempty"`
	SelfServicePasswordReset *AccessAction    `json:"selfServicePasswordReset,omitempty"`
	PasswordChange           *AccessAction    `json:"passwordChange,omitempty"`
	SelfServiceUnlock        *AccessAction    `json:"selfServiceUnlock,omitempty"`
	// USER_LIFECYCLE automation rules.
	Lifecycle *struct {
		Action string `json:"action,omitempty"` // SUSPENDED | DEACTIVATED | DELETED
	} `json:"lifecycle,omitempty"`
}

// AccessAction is {access: ALLOW|DENY}.
type AccessAction struct {
	Access string `json:"access"`
}

// SignonAction is actions.signon of an OKTA_SIGN_ON rule.
type SignonAction struct {
	Access           string `json:"access"`
	RequireFactor    bool   `json:"requireFactor"`
	FactorPromptMode string `json:"factorPromptMode,omitempty"`
	FactorLifetime   int    `json:"factorLifetime,omitempty"`
	PrimaryFactor    string `json:"primaryFactor,omitempty"`
	Session          *struct {
		MaxSessionIdleMinutes     int  `json:"maxSessionIdleMinutes"`
		MaxSessionLifetimeMinutes int  `json:"maxSessionLifetimeMinutes"`
		UsePersistentCookie       bool `json:"usePersistentCookie"`
	} `json:"session,omitempty"`
}

// AppSignOnAction is actions.appSignOn of an ACCESS_POLICY rule.
type AppSignOnAction struct {
	Access             string              `json:"access"`
	VerificationMethod *VerificationMethod `json:"verificationMethod,omitempty"`
}

// VerificationMethod is actions.appSignOn.verificationMethod.
type VerificationMethod struct {
	Type             string            `json:"type"`                 // ASSURANCE | AUTH_METHOD_CHAIN
	FactorMode       string            `json:"factorMode,omitempty"` // 1FA | 2FA
	ReauthenticateIn string            `json:"reauthenticateIn,omitempty"`
	Constraints      []AuthConstraint  `json:"constraints,omitempty"`
	Chains           []json.RawMessage `json:"chains,omitempty"`
}

// AuthConstraint is one entry of verificationMethod.constraints.
type AuthConstraint struct {
	Knowledge  *FactorConstraint `json:"knowledge,omitempty"`
	Possession *FactorConstraint `json:"possession,omitempty"`
}

// FactorConstraint is a knowledge/possession constraint.
type FactorConstraint struct {
	Types              []string `json:"types,omitempty"`
	PhishingResistant  string   `json:"phishingResistant,omitempty"`
	HardwareProtection string   `json:"hardwareProtection,omitempty"`
	UserPresence       string   `json:"userPresence,omitempty"`
}

// Authenticator is one /api/v1/authenticators entry.
type Authenticator struct {
	ID       string `json:"id"`
	Key      string `json:"key"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Status   string `json:"status"`
	Settings *struct {
		Compliance *struct {
			Fips string `json:"fips,omitempty"`
		} `json:"compliance,omitempty"`
	} `json:"settings,omitempty"`
	Raw json.RawMessage `json:"-"`
}

// NetworkZone is one /api/v1/zones entry.
type NetworkZone struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Type      string        `json:"type"` // IP | DYNAMIC | DYNAMIC_V2
	Status    string        `json:"status"`
	Usage     string        `json:"usage"` // POLICY | BLOCKLIST
	System    bool          `json:"system"`
	Gateways  []ZoneAddress `json:"gateways,omitempty"`
	Proxies   []ZoneAddress `json:"proxies,omitempty"`
	Locations []struct {
		Country string `json:"country"`
		Region  string `json:"region,omitempty"`
	} `json:"locations,omitempty"`
	ASNs                []string        `json:"asns,omitempty"`
	ProxyType           string          `json:"proxyType,omitempty"`
	IPServiceCategories *IncludeExclude `json:"ipServiceCategories,omitempty"`
	Raw                 json.RawMessage `json:"-"`
}

// ZoneAddress is a gateway/proxy entry.
type ZoneAddress struct {
	Type  string `json:"type"` // CIDR | RANGE
	Value string `json:"value"`
}

// App is one /api/v1/apps entry.
type App struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Label      string `json:"label"`
	Status     string `json:"status"`
	SignOnMode string `json:"signOnMode"`
	Settings   *struct {
		OauthClient *struct {
			GrantTypes []string `json:"grant_types,omitempty"`
		} `json:"oauthClient,omitempty"`
	} `json:"settings,omitempty"`
	Links *struct {
		AccessPolicy *struct {
			Href string `json:"href"`
		} `json:"accessPolicy,omitempty"`
	} `json:"_links,omitempty"`
	// LastSSO is when a user last signed in to the app, from the System Log
	// (filled by the pipeline; zero when unknown).
	LastSSO time.Time       `json:"-"`
	Raw     json.RawMessage `json:"-"`
}

// AccessPolicyID returns the authentication policy id from
// _links.accessPolicy.href.
func (a App) AccessPolicyID() string {
	if a.Links == nil || a.Links.AccessPolicy == nil {
		return ""
	}
	h := strings.TrimRight(a.Links.AccessPolicy.Href, "/")
	if i := strings.LastIndexByte(h, '/'); i >= 0 {
		return h[i+1:]
	}
	return h
}

// AdminConsoleSettings is /api/v1/first-party-app-settings/admin-console.
type AdminConsoleSettings struct {
	SessionIdleTimeoutMinutes int             `json:"sessionIdleTimeoutMinutes"`
	SessionMaxLifetimeMinutes int             `json:"sessionMaxLifetimeMinutes"`
	Raw                       json.RawMessage `json:"-"`
}

// APIToken is one /api/v1/api-tokens entry (the token value is never part
// of the API's response).
type APIToken struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	UserID      string            `json:"userId"`
	ClientName  string            `json:"clientName,omitempty"`
	Created     time.Time         `json:"created"`
	ExpiresAt   *time.Time        `json:"expiresAt,omitempty"`
	LastUpdated time.Time         `json:"lastUpdated"`
	TokenWindow string            `json:"tokenWindow,omitempty"` // ISO-8601 duration
	Network     *NetworkCondition `json:"network,omitempty"`
	// Owner is the token owner's user record (fetched by id); nil when it
	// could not be read.
	Owner *User           `json:"-"`
	Raw   json.RawMessage `json:"-"`
}

// User is one Okta user.
type User struct {
	ID              string     `json:"id"`
	Status          string     `json:"status"`
	Created         time.Time  `json:"created"`
	Activated       *time.Time `json:"activated,omitempty"`
	LastLogin       *time.Time `json:"lastLogin,omitempty"`
	PasswordChanged *time.Time `json:"passwordChanged,omitempty"`
	Profile         struct {
		Login string `json:"login"`
		Email string `json:"email,omitempty"`
	} `json:"profile"`
	Credentials *struct {
		Provider *struct {
			Type string `json:"type"` // OKTA | ACTIVE_DIRECTORY | LDAP | FEDERATION | SOCIAL
			Name string `json:"name"`
		} `json:"provider,omitempty"`
	} `json:"credentials,omitempty"`
	// Factors are the user's enrolled factors; FactorsRead says they were
	// fetched (an empty list then means "none enrolled").
	Factors     []Factor        `json:"-"`
	FactorsRead bool            `json:"-"`
	Raw         json.RawMessage `json:"-"`
}

// Login returns the profile login (or the id).
func (u User) Login() string {
	if u.Profile.Login != "" {
		return u.Profile.Login
	}
	return u.ID
}

// Factor is one enrolled factor of a user.
type Factor struct {
	ID         string `json:"id"`
	FactorType string `json:"factorType"`
	Provider   string `json:"provider"`
	Status     string `json:"status"`
}

// Admin is a user holding at least one admin role.
type Admin struct {
	User  User   `json:"user"`
	Roles []Role `json:"roles"`
}

// HasRole reports whether the admin holds a role type.
func (a Admin) HasRole(typ string) bool {
	for _, r := range a.Roles {
		if strings.EqualFold(r.Type, typ) {
			return true
		}
	}
	return false
}

// Role is one role assignment (direct USER or via GROUP).
type Role struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	Label          string `json:"label"`
	Status         string `json:"status"`
	AssignmentType string `json:"assignmentType"` // USER | GROUP
}

// IdP is one /api/v1/idps entry.
type IdP struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"` // X509, SAML2, OIDC, ...
	Status   string `json:"status"`
	Protocol *struct {
		Type        string `json:"type"`
		Credentials *struct {
			Trust *struct {
				Issuer   string `json:"issuer,omitempty"`
				Audience string `json:"audience,omitempty"`
				Kid      string `json:"kid,omitempty"`
			} `json:"trust,omitempty"`
		} `json:"credentials,omitempty"`
	} `json:"protocol,omitempty"`
	Raw json.RawMessage `json:"-"`
}

// LogStream is one /api/v1/logStreams entry.
type LogStream struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Status string          `json:"status"`
	Raw    json.RawMessage `json:"-"`
}

// ThreatInsight is /api/v1/threats/configuration.
type ThreatInsight struct {
	Action       string          `json:"action"` // none | audit | block
	ExcludeZones []string        `json:"excludeZones,omitempty"`
	Raw          json.RawMessage `json:"-"`
}

// Behavior is one /api/v1/behaviors entry.
type Behavior struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Status string          `json:"status"`
	Raw    json.RawMessage `json:"-"`
}

// DeviceAssurance is one /api/v1/device-assurances entry.
type DeviceAssurance struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Platform string          `json:"platform"`
	Raw      json.RawMessage `json:"-"`
}

// Email template names of the end-user security notifications.
const (
	TemplateNewSignOn             = "NewSignOnNotification"
	TemplatePasswordChanged       = "PasswordChanged"
	TemplateAuthenticatorEnrolled = "AuthenticatorEnrolled"
	TemplateAuthenticatorReset    = "AuthenticatorReset"
)

// NotificationTemplates lists the templates the notify checks read.
var NotificationTemplates = []string{TemplateNewSignOn, TemplatePasswordChanged, TemplateAuthenticatorEnrolled, TemplateAuthenticatorReset}

// Brand is one /api/v1/brands entry with the settings the checks read.
type Brand struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// EmailRecipients maps a template name to its settings.recipients
	// (ALL_USERS | ADMINS_ONLY | NO_USERS).
	EmailRecipients map[string]string `json:"emailRecipients,omitempty"`
	// SignInPageContent is the customized (else default) sign-in page HTML.
	SignInPageContent string          `json:"signInPageContent,omitempty"`
	Raw               json.RawMessage `json:"-"`
}

// TrustedOrigin is one /api/v1/trustedOrigins entry.
type TrustedOrigin struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Origin string `json:"origin"`
	Status string `json:"status"`
	Scopes []struct {
		Type string `json:"type"` // CORS | REDIRECT | IFRAME_EMBED
	} `json:"scopes,omitempty"`
	Raw json.RawMessage `json:"-"`
}

// OktaSupport is /api/v1/org/privacy/oktaSupport.
type OktaSupport struct {
	Support    string          `json:"support"` // ENABLED | DISABLED
	Expiration *time.Time      `json:"expiration,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

// IngestionStatus is this plugin's own System Log ingestion health.
type IngestionStatus struct {
	LastPollSuccess time.Time     `json:"lastPollSuccess"`
	Lag             time.Duration `json:"lag"`
}

// LogSignals is System Log evidence the pipeline attaches.
type LogSignals struct {
	// ReportSuspiciousEvents counts user.account.report_suspicious_activity_by_enduser
	// events seen in the retention window.
	ReportSuspiciousEvents int `json:"reportSuspiciousEvents"`
	// Window is how far back the counts look.
	Window time.Duration `json:"window"`
}
