package orgsim

import (
	"encoding/json"
	"time"
)

// The types below mirror the JSON shapes of Okta's Management API for the
// resources the posture checks read. Fields tagged json:"-" are served by
// their own endpoints.

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
	Rules       []*PolicyRule     `json:"-"`
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
	MinLength    int        `json:"minLength"`
	MinLowerCase int        `json:"minLowerCase"`
	MinUpperCase int        `json:"minUpperCase"`
	MinNumber    int        `json:"minNumber"`
	MinSymbol    int        `json:"minSymbol"`
	Dictionary   Dictionary `json:"dictionary"`
}

// Dictionary is complexity.dictionary.
type Dictionary struct {
	Common struct {
		Exclude bool `json:"exclude"`
	} `json:"common"`
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
	Factors map[string]StatusOnly `json:"factors,omitempty"`
}

// StatusOnly is {status}.
type StatusOnly struct {
	Status string `json:"status"`
}

// EnrollSetting is a Classic MFA_ENROLL factor setting.
type EnrollSetting struct {
	Consent *struct {
		Type string `json:"type"`
	} `json:"consent,omitempty"`
	Enroll Enroll `json:"enroll"`
}

// Enroll is {self: REQUIRED | OPTIONAL | NOT_ALLOWED}.
type Enroll struct {
	Self string `json:"self"`
}

// AuthenticatorEnrollSetting is an OIE MFA_ENROLL authenticator setting.
type AuthenticatorEnrollSetting struct {
	Key    string `json:"key"`
	Enroll Enroll `json:"enroll"`
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
}

// RuleConditions holds the rule conditions the checks read.
type RuleConditions struct {
	Network   *NetworkCondition   `json:"network,omitempty"`
	People    *PeopleCondition    `json:"people,omitempty"`
	RiskScore *RiskScoreCondition `json:"riskScore,omitempty"`
	Risk      *RiskCondition      `json:"risk,omitempty"`
	Device    *DeviceCondition    `json:"device,omitempty"`
}

// RiskScoreCondition is conditions.riskScore.
type RiskScoreCondition struct {
	Level string `json:"level"` // ANY | LOW | MEDIUM | HIGH
}

// RiskCondition is conditions.risk (behaviors) of a sign-on rule.
type RiskCondition struct {
	Behaviors []string `json:"behaviors,omitempty"`
}

// DeviceCondition is conditions.device of an authentication policy rule.
type DeviceCondition struct {
	Registered bool            `json:"registered,omitempty"`
	Managed    bool            `json:"managed,omitempty"`
	Assurance  *IncludeExclude `json:"assurance,omitempty"`
}

// RuleActions holds rule actions of every policy type the checks read.
type RuleActions struct {
	Signon                   *SignonAction    `json:"signon,omitempty"`
	AppSignOn                *AppSignOnAction `json:"appSignOn,omitempty"`
	SelfServicePasswordReset *AccessAction    `json:"selfServicePasswordReset,omitempty"`
	PasswordChange           *AccessAction    `json:"passwordChange,omitempty"`
	SelfServiceUnlock        *AccessAction    `json:"selfServiceUnlock,omitempty"`
	// USER_LIFECYCLE automation rules.
	Lifecycle *LifecycleAction `json:"lifecycle,omitempty"`
}

// LifecycleAction is actions.lifecycle of a USER_LIFECYCLE rule.
type LifecycleAction struct {
	Action string `json:"action,omitempty"` // SUSPENDED | DEACTIVATED | DELETED
}

// AccessAction is {access: ALLOW|DENY}.
type AccessAction struct {
	Access string `json:"access"`
}

// SignonAction is actions.signon of an OKTA_SIGN_ON rule.
type SignonAction struct {
	Access           string           `json:"access"`
	RequireFactor    bool             `json:"requireFactor"`
	FactorPromptMode string           `json:"factorPromptMode,omitempty"`
	FactorLifetime   int              `json:"factorLifetime,omitempty"`
	PrimaryFactor    string           `json:"primaryFactor,omitempty"`
	Session          *SessionSettings `json:"session,omitempty"`
}

// SessionSettings is actions.signon.session.
type SessionSettings struct {
	MaxSessionIdleMinutes     int  `json:"maxSessionIdleMinutes"`
	MaxSessionLifetimeMinutes int  `json:"maxSessionLifetimeMinutes"`
	UsePersistentCookie       bool `json:"usePersistentCookie"`
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
	ID       string                 `json:"id"`
	Key      string                 `json:"key"`
	Name     string                 `json:"name"`
	Type     string                 `json:"type"`
	Status   string                 `json:"status"`
	Settings *AuthenticatorSettings `json:"settings,omitempty"`
}

// AuthenticatorSettings is an authenticator's settings (compliance.fips).
type AuthenticatorSettings struct {
	Compliance *Compliance `json:"compliance,omitempty"`
}

// Compliance is settings.compliance of Okta Verify.
type Compliance struct {
	Fips string `json:"fips,omitempty"` // REQUIRED | OPTIONAL
}

// NetworkZone is one /api/v1/zones entry.
type NetworkZone struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Type                string          `json:"type"` // IP | DYNAMIC | DYNAMIC_V2
	Status              string          `json:"status"`
	Usage               string          `json:"usage"` // POLICY | BLOCKLIST
	System              bool            `json:"system"`
	Gateways            []ZoneAddress   `json:"gateways,omitempty"`
	Proxies             []ZoneAddress   `json:"proxies,omitempty"`
	Locations           []Location      `json:"locations,omitempty"`
	ASNs                []string        `json:"asns,omitempty"`
	ProxyType           string          `json:"proxyType,omitempty"`
	IPServiceCategories *IncludeExclude `json:"ipServiceCategories,omitempty"`
}

// Location is a zone location entry.
type Location struct {
	Country string `json:"country"`
	Region  string `json:"region,omitempty"`
}

// ZoneAddress is a gateway/proxy entry.
type ZoneAddress struct {
	Type  string `json:"type"` // CIDR | RANGE
	Value string `json:"value"`
}

// App is one /api/v1/apps entry.
type App struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	Label      string       `json:"label"`
	Status     string       `json:"status"`
	SignOnMode string       `json:"signOnMode"`
	Settings   *AppSettings `json:"settings,omitempty"`
	// AccessPolicyID links the app to its authentication policy; served as
	// _links.accessPolicy.href.
	AccessPolicyID string `json:"-"`
}

// AppSettings is an app's settings (oauthClient for OIDC apps).
type AppSettings struct {
	OauthClient *OAuthClient `json:"oauthClient,omitempty"`
}

// OAuthClient is settings.oauthClient of an OIDC app.
type OAuthClient struct {
	GrantTypes []string `json:"grant_types,omitempty"`
}

// AdminConsoleSettings is /api/v1/first-party-app-settings/admin-console.
type AdminConsoleSettings struct {
	SessionIdleTimeoutMinutes int `json:"sessionIdleTimeoutMinutes"`
	SessionMaxLifetimeMinutes int `json:"sessionMaxLifetimeMinutes"`
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
	Credentials *Credentials `json:"credentials,omitempty"`
	// Factors are the user's enrolled factors, Roles their admin role
	// assignments (served at /factors and /roles).
	Factors []Factor `json:"-"`
	Roles   []Role   `json:"-"`
}

// Credentials is a user's credentials (provider only).
type Credentials struct {
	Provider *struct {
		Type string `json:"type"` // OKTA | ACTIVE_DIRECTORY | LDAP | FEDERATION | SOCIAL
		Name string `json:"name"`
	} `json:"provider,omitempty"`
}

// Factor is one enrolled factor of a user.
type Factor struct {
	ID         string `json:"id"`
	FactorType string `json:"factorType"`
	Provider   string `json:"provider"`
	Status     string `json:"status"`
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
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Type     string       `json:"type"` // X509, SAML2, OIDC, ...
	Status   string       `json:"status"`
	Protocol *IdPProtocol `json:"protocol,omitempty"`
}

// IdPProtocol is an IdP's protocol with its trust settings.
type IdPProtocol struct {
	Type        string          `json:"type"`
	Credentials *IdPCredentials `json:"credentials,omitempty"`
}

// IdPCredentials is protocol.credentials.
type IdPCredentials struct {
	Trust *IdPTrust `json:"trust,omitempty"`
}

// IdPTrust is protocol.credentials.trust.
type IdPTrust struct {
	Issuer   string `json:"issuer,omitempty"`
	Audience string `json:"audience,omitempty"`
	Kid      string `json:"kid,omitempty"`
}

// LogStream is one /api/v1/logStreams entry.
type LogStream struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

// ThreatInsight is /api/v1/threats/configuration.
type ThreatInsight struct {
	Action       string   `json:"action"` // none | audit | block
	ExcludeZones []string `json:"excludeZones,omitempty"`
}

// Behavior is one /api/v1/behaviors entry.
type Behavior struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

// DeviceAssurance is one /api/v1/device-assurances entry.
type DeviceAssurance struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Platform string `json:"platform"`
}

// Brand is one /api/v1/brands entry with the settings the checks read.
type Brand struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// EmailRecipients maps a template name to its settings.recipients
	// (ALL_USERS | ADMINS_ONLY | NO_USERS).
	EmailRecipients map[string]string `json:"-"`
	// SignInPageContent is the customized sign-in page HTML; "" serves 404
	// on /customized and a default page on /default.
	SignInPageContent string `json:"-"`
}

// TrustedOrigin is one /api/v1/trustedOrigins entry.
type TrustedOrigin struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Origin string        `json:"origin"`
	Status string        `json:"status"`
	Scopes []OriginScope `json:"scopes,omitempty"`
}

// OriginScope is a trusted-origin scope {type: CORS | REDIRECT | IFRAME_EMBED}.
type OriginScope struct {
	Type string `json:"type"`
}

// OktaSupport is /api/v1/org/privacy/oktaSupport.
type OktaSupport struct {
	Support    string     `json:"support"` // ENABLED | DISABLED
	Expiration *time.Time `json:"expiration,omitempty"`
}

// EventHook is one /api/v1/eventHooks entry.
type EventHook struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Events struct {
		Type  string   `json:"type"`
		Items []string `json:"items"`
	} `json:"events"`
}
