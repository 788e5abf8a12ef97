// Package orgsim simulates the Okta Management API endpoints that the
// posture checks read (policies and rules, authenticators, network zones,
// apps, API tokens, admin roles, users and factors, IdPs, log streams, event
// hooks, ThreatInsight, behaviors, device assurance, brands and email
// settings, trusted origins, org settings) in Okta's JSON shapes, with
// Link-header pagination where Okta pages.
//
// An *Org is an http.Handler for the simulator server (pkg/oktasim
// Options.Mgmt), which adds authentication, rate limits and faults, or it can
// be mounted directly on an httptest.Server. It imports nothing else of
// oktaguard.
package orgsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// State is the whole simulated org. Tests change it through Org.Mutate.
type State struct {
	OrgName string
	// Pipeline is "idx" (Identity Engine) or "v1" (Classic), served at
	// /.well-known/okta-organization when the org is mounted directly.
	Pipeline string
	// PageSize is the default and maximum page size of paged lists (a
	// larger ?limit= is capped, as Okta caps at each endpoint's maximum; a
	// small value exercises pagination). Default 200.
	PageSize int

	Policies         []*Policy
	Authenticators   []*Authenticator
	Zones            []*NetworkZone
	Apps             []*App
	AdminConsole     *AdminConsoleSettings // nil → 404 (Classic org)
	APITokens        []*APIToken
	Users            []*User
	IdPs             []*IdP
	LogStreams       []*LogStream
	EventHooks       []*EventHook
	ThreatInsight    ThreatInsight
	Behaviors        []*Behavior
	DeviceAssurances []*DeviceAssurance
	Brands           []*Brand
	TrustedOrigins   []*TrustedOrigin
	OktaSupport      OktaSupport

	// What the org or the principal lacks (the real-org profiles):
	// UnsupportedPolicyTypes answer /api/v1/policies?type=T with 400
	// E0000001 (ACCESS_POLICY on a Classic Engine org);
	// DisabledPolicyTypes and DisabledFeatures (path prefixes) answer 403
	// E0000015 "feature not enabled" (lifecycle automation without its
	// SKU, Identity Engine-only endpoints on Classic); ForbiddenScopes
	// answer every request needing the scope with 403 E0000006 (an API
	// token whose admin role cannot read it); DeniedScopes with 403
	// insufficient_scope (an OAuth app without the grant).
	UnsupportedPolicyTypes []string
	DisabledPolicyTypes    []string
	DisabledFeatures       []string
	ForbiddenScopes        []string
	DeniedScopes           []string
}

// Org is a simulated org, safe for concurrent use.
type Org struct {
	mu      sync.RWMutex
	st      *State
	profile string
	denied  map[string]bool // scopes answered with 403 insufficient_scope
	fail    map[string]int  // path prefix → forced HTTP status
	hits    map[string]int  // request counts per path (no query)
}

// Profiles lists the org profiles New accepts.
func Profiles() []string {
	return []string{"weak", "strong", "stig", "mixed", "classic", "no-lifecycle", "readonly-admin", "oauth-logs-policies"}
}

// New builds an org of a profile: "strong" (passes the baseline profile),
// "stig" (STIG-compliant, DoD checks included), "weak" (fails the three
// Secure Score recommendations: MFA, web session timeout, password
// requirements), "mixed" (strong defaults with weak custom policies at
// higher priority), or one of the real-org profiles (see realorgs.go):
// "classic" (a Classic Engine org), "no-lifecycle" (Identity Engine
// without lifecycle automation), "readonly-admin" (an API token whose
// admin role cannot read users, roles, API tokens or log streams) and
// "oauth-logs-policies" (an OAuth app granted only okta.logs.read and
// okta.policies.read). Times are relative to now.
func New(profile string) (*Org, error) { return NewAt(profile, time.Now().UTC()) }

// NewAt is New with an explicit reference time.
func NewAt(profile string, now time.Time) (*Org, error) {
	st, err := build(profile, now)
	if err != nil {
		return nil, err
	}
	o := &Org{st: st, profile: profile, denied: map[string]bool{}, fail: map[string]int{}, hits: map[string]int{}}
	for _, sc := range st.DeniedScopes {
		o.denied[sc] = true
	}
	return o, nil
}

// Profile returns the profile the org was built from.
func (o *Org) Profile() string { return o.profile }

// Mutate changes the org's state under its lock.
func (o *Org) Mutate(f func(*State)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(o.st)
}

// SetPasswordMinLength sets complexity.minLength of every PASSWORD policy.
func (o *Org) SetPasswordMinLength(n int) {
	o.Mutate(func(s *State) {
		for _, p := range s.PoliciesOfType("PASSWORD") {
			p.Settings.Password.Complexity.MinLength = n
		}
	})
}

// DenyScope makes every request needing scope answer 403
// insufficient_scope (as Okta does for an OAuth app lacking the grant) —
// for tests that mount the org without the simulator server.
func (o *Org) DenyScope(scope string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.denied[scope] = true
}

// FailPath makes requests whose path starts with prefix answer status with
// an Okta error body.
func (o *Org) FailPath(prefix string, status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fail[prefix] = status
}

// Hits returns how many requests a path (without query) received.
func (o *Org) Hits(path string) int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.hits[path]
}

// Handler returns the org as an http.Handler.
func (o *Org) Handler() http.Handler { return o }

// PoliciesOfType returns the policies of a type in priority order.
func (s *State) PoliciesOfType(typ string) []*Policy {
	var out []*Policy
	for _, p := range s.Policies {
		if p.Type == typ {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority < out[j].Priority })
	return out
}

// Policy returns the policy of a type with a name (nil if none).
func (s *State) Policy(typ, name string) *Policy {
	for _, p := range s.Policies {
		if p.Type == typ && p.Name == name {
			return p
		}
	}
	return nil
}

// App returns the app with an Okta app name (nil if none).
func (s *State) App(name string) *App {
	for _, a := range s.Apps {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Authenticator returns the authenticator of a key (nil if none).
func (s *State) Authenticator(key string) *Authenticator {
	for _, a := range s.Authenticators {
		if a.Key == key {
			return a
		}
	}
	return nil
}

// User returns the user with a login (nil if none).
func (s *State) User(login string) *User {
	for _, u := range s.Users {
		if u.Profile.Login == login {
			return u
		}
	}
	return nil
}

// Zone returns the zone with a name (nil if none).
func (s *State) Zone(name string) *NetworkZone {
	for _, z := range s.Zones {
		if z.Name == name {
			return z
		}
	}
	return nil
}

// RequiredScope names the OAuth scope a request needs (Okta's management
// scope names); "" for public endpoints. The simulator server uses it to
// answer 403 insufficient_scope.
func (o *Org) RequiredScope(r *http.Request) string {
	p := r.URL.Path
	suffix := ".read"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		suffix = ".manage"
	}
	has := func(prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	switch {
	case strings.HasPrefix(p, "/.well-known/"):
		return ""
	case has("/api/v1/users") && strings.Contains(p, "/roles"), has("/api/v1/groups") && strings.Contains(p, "/roles"), has("/api/v1/iam"):
		return "okta.roles" + suffix
	case has("/api/v1/users"):
		return "okta.users" + suffix
	case has("/api/v1/groups"):
		return "okta.groups" + suffix
	case has("/api/v1/policies"):
		return "okta.policies" + suffix
	case has("/api/v1/authenticators"):
		return "okta.authenticators" + suffix
	case has("/api/v1/zones"):
		return "okta.networkZones" + suffix
	case has("/api/v1/apps"), has("/api/v1/first-party-app-settings"):
		return "okta.apps" + suffix
	case has("/api/v1/api-tokens"):
		return "okta.apiTokens" + suffix
	case has("/api/v1/idps"):
		return "okta.idps" + suffix
	case has("/api/v1/logStreams"):
		return "okta.logStreams" + suffix
	case has("/api/v1/eventHooks"):
		return "okta.eventHooks" + suffix
	case has("/api/v1/threats"):
		return "okta.threatInsights" + suffix
	case has("/api/v1/behaviors"):
		return "okta.behaviors" + suffix
	case has("/api/v1/device-assurances"):
		return "okta.deviceAssurance" + suffix
	case has("/api/v1/brands") && strings.Contains(p, "/templates"):
		return "okta.templates" + suffix
	case has("/api/v1/brands"):
		return "okta.brands" + suffix
	case has("/api/v1/trustedOrigins"):
		return "okta.trustedOrigins" + suffix
	case has("/api/v1/org"):
		return "okta.orgs" + suffix
	}
	return ""
}

type oktaError struct {
	ErrorCode    string              `json:"errorCode"`
	ErrorSummary string              `json:"errorSummary"`
	ErrorLink    string              `json:"errorLink"`
	ErrorID      string              `json:"errorId"`
	ErrorCauses  []map[string]string `json:"errorCauses"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorLink":"E0000009","errorId":"oaeorgsim","errorCauses":[]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeErr(w http.ResponseWriter, status int, code, summary string) {
	writeJSON(w, status, oktaError{ErrorCode: code, ErrorSummary: summary, ErrorLink: code, ErrorID: "oaeorgsim" + strconv.Itoa(status), ErrorCauses: []map[string]string{}})
}

// featureDisabled is Okta's answer for a feature the org does not have.
func featureDisabled(w http.ResponseWriter) {
	writeErr(w, http.StatusForbidden, "E0000015", "You do not have permission to access the feature you are requesting")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeErr(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.URL.Path+" (Path)")
}

// baseURL is the scheme://host the client used.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if fp := r.Header.Get("X-Forwarded-Proto"); fp != "" {
		scheme = fp
	}
	return scheme + "://" + r.Host
}

// ServeHTTP implements http.Handler.
func (o *Org) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.URL.Path]++
	o.mu.Unlock()
	o.mu.RLock()
	defer o.mu.RUnlock()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeErr(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	if sc := o.RequiredScope(r); sc != "" && o.denied[sc] {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+baseURL(r)+`/oauth2/v1/authorize", realm="`+baseURL(r)+
			`", scope="`+sc+`", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="`+r.URL.Path+`"`)
		writeErr(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
		return
	}
	if sc := o.RequiredScope(r); sc != "" && contains(o.st.ForbiddenScopes, sc) {
		writeErr(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
		return
	}
	for _, prefix := range o.st.DisabledFeatures {
		if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
			featureDisabled(w)
			return
		}
	}
	for prefix, status := range o.fail {
		if strings.HasPrefix(r.URL.Path, prefix) {
			code := "E0000009"
			if status == http.StatusForbidden {
				code = "E0000006"
			} else if status == http.StatusNotFound {
				code = "E0000007"
			}
			writeErr(w, status, code, fmt.Sprintf("simulated failure (HTTP %d)", status))
			return
		}
	}
	o.route(w, r)
}

func (o *Org) route(w http.ResponseWriter, r *http.Request) {
	st := o.st
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	base := baseURL(r)
	if r.URL.Path == "/.well-known/okta-organization" {
		writeJSON(w, 200, map[string]any{"id": "00o" + st.OrgName, "pipeline": st.Pipeline,
			"_links": map[string]any{"organization": map[string]string{"href": base}}})
		return
	}
	if len(parts) < 3 || parts[0] != "api" || parts[1] != "v1" {
		notFound(w, r)
		return
	}
	rest := parts[2:]
	n := len(rest)
	switch rest[0] {
	case "policies":
		o.policies(w, r, rest, base)
	case "authenticators":
		if n == 1 {
			writeJSON(w, 200, st.Authenticators)
			return
		}
		notFound(w, r)
	case "zones":
		if n == 1 {
			page(w, r, base, st.PageSize, st.Zones, func(z *NetworkZone) string { return z.ID })
			return
		}
		notFound(w, r)
	case "apps":
		if n == 1 {
			o.apps(w, r, base)
			return
		}
		for _, a := range st.Apps {
			if n == 2 && a.ID == rest[1] {
				writeJSON(w, 200, appJSON(a, base))
				return
			}
		}
		notFound(w, r)
	case "first-party-app-settings":
		if n == 2 && rest[1] == "admin-console" && st.AdminConsole != nil {
			writeJSON(w, 200, st.AdminConsole)
			return
		}
		notFound(w, r)
	case "api-tokens":
		if n == 1 {
			page(w, r, base, st.PageSize, st.APITokens, func(t *APIToken) string { return t.ID })
			return
		}
		notFound(w, r)
	case "iam":
		if n == 3 && rest[1] == "assignees" && rest[2] == "users" {
			o.assignees(w, r, base)
			return
		}
		notFound(w, r)
	case "users":
		o.users(w, r, rest, base)
	case "idps":
		if n == 1 {
			page(w, r, base, st.PageSize, st.IdPs, func(i *IdP) string { return i.ID })
			return
		}
		notFound(w, r)
	case "logStreams":
		if n == 1 {
			page(w, r, base, st.PageSize, st.LogStreams, func(l *LogStream) string { return l.ID })
			return
		}
		notFound(w, r)
	case "eventHooks":
		if n == 1 {
			writeJSON(w, 200, st.EventHooks)
			return
		}
		notFound(w, r)
	case "threats":
		if n == 2 && rest[1] == "configuration" {
			writeJSON(w, 200, withLinks(st.ThreatInsight, map[string]any{"self": map[string]string{"href": base + "/api/v1/threats/configuration"}}))
			return
		}
		notFound(w, r)
	case "behaviors":
		if n == 1 {
			writeJSON(w, 200, st.Behaviors)
			return
		}
		notFound(w, r)
	case "device-assurances":
		if n == 1 {
			writeJSON(w, 200, st.DeviceAssurances)
			return
		}
		notFound(w, r)
	case "brands":
		o.brands(w, r, rest)
	case "trustedOrigins":
		if n == 1 {
			page(w, r, base, st.PageSize, st.TrustedOrigins, func(t *TrustedOrigin) string { return t.ID })
			return
		}
		notFound(w, r)
	case "org":
		if n == 3 && rest[1] == "privacy" && rest[2] == "oktaSupport" {
			writeJSON(w, 200, st.OktaSupport)
			return
		}
		notFound(w, r)
	default:
		notFound(w, r)
	}
}

// page serves a slice with Okta's cursor pagination: ?limit=N&after=<id>,
// a Link rel="self" and, when more remain, rel="next".
func page[T any](w http.ResponseWriter, r *http.Request, base string, defSize int, items []T, id func(T) string) {
	pageMapped(w, r, base, defSize, items, id, func(t T) any { return t })
}

func pageMapped[T any](w http.ResponseWriter, r *http.Request, base string, defSize int, items []T, id func(T) string, conv func(T) any) {
	q := r.URL.Query()
	limit := defSize
	if limit <= 0 {
		limit = 200
	}
	if l := q.Get("limit"); l != "" {
		v, err := strconv.Atoi(l)
		if err != nil || v < 1 {
			writeErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: limit")
			return
		}
		if v < limit {
			limit = v
		}
	}
	start := 0
	if after := q.Get("after"); after != "" {
		start = -1
		for i, it := range items {
			if id(it) == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			writeErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: after")
			return
		}
	}
	end := start + limit
	if end > len(items) {
		end = len(items)
	}
	out := make([]any, 0, end-start)
	for _, it := range items[start:end] {
		out = append(out, conv(it))
	}
	self := base + r.URL.Path
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	w.Header().Add("Link", "<"+self+">; rel=\"self\"")
	if end < len(items) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("limit", strconv.Itoa(limit))
		nq.Set("after", id(items[end-1]))
		w.Header().Add("Link", "<"+base+r.URL.Path+"?"+nq.Encode()+">; rel=\"next\"")
	}
	writeJSON(w, 200, out)
}

// withLinks marshals v and adds an _links object.
func withLinks(v any, links map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	m["_links"] = links
	return m
}

func href(u string) map[string]string { return map[string]string{"href": u} }

func policyJSON(p *Policy, base string) map[string]any {
	self := base + "/api/v1/policies/" + p.ID
	links := map[string]any{"self": href(self), "rules": href(self + "/rules")}
	if p.Status == "ACTIVE" {
		links["deactivate"] = href(self + "/lifecycle/deactivate")
	} else {
		links["activate"] = href(self + "/lifecycle/activate")
	}
	if p.Type == "ACCESS_POLICY" {
		links["applications"] = href(self + "/app")
	}
	return withLinks(p, links)
}

func ruleJSON(p *Policy, r *PolicyRule, base string) map[string]any {
	self := base + "/api/v1/policies/" + p.ID + "/rules/" + r.ID
	return withLinks(r, map[string]any{"self": href(self)})
}

func appJSON(a *App, base string) map[string]any {
	self := base + "/api/v1/apps/" + a.ID
	links := map[string]any{"self": href(self), "users": href(self + "/users"), "groups": href(self + "/groups")}
	if a.AccessPolicyID != "" {
		links["accessPolicy"] = href(base + "/api/v1/policies/" + a.AccessPolicyID)
	}
	return withLinks(a, links)
}

func (o *Org) policies(w http.ResponseWriter, r *http.Request, rest []string, base string) {
	st := o.st
	switch len(rest) {
	case 1:
		typ := r.URL.Query().Get("type")
		if typ == "" {
			writeErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: type")
			return
		}
		if contains(st.UnsupportedPolicyTypes, typ) {
			writeErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: type")
			return
		}
		if contains(st.DisabledPolicyTypes, typ) {
			featureDisabled(w)
			return
		}
		ps := st.PoliciesOfType(typ)
		pageMapped(w, r, base, st.PageSize, ps, func(p *Policy) string { return p.ID }, func(p *Policy) any { return policyJSON(p, base) })
		return
	case 2, 3:
		for _, p := range st.Policies {
			if p.ID != rest[1] {
				continue
			}
			if len(rest) == 2 {
				writeJSON(w, 200, policyJSON(p, base))
				return
			}
			if rest[2] == "rules" {
				rules := append([]*PolicyRule(nil), p.Rules...)
				sort.SliceStable(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
				out := make([]any, 0, len(rules))
				for _, ru := range rules {
					out = append(out, ruleJSON(p, ru, base))
				}
				writeJSON(w, 200, out)
				return
			}
		}
	}
	notFound(w, r)
}

// filterEq parses a simple `field eq "value"` filter.
func filterEq(f string) (field, value string, ok bool) {
	f = strings.TrimSpace(f)
	i := strings.Index(f, " eq ")
	if i < 0 {
		return "", "", false
	}
	field = strings.TrimSpace(f[:i])
	value = strings.Trim(strings.TrimSpace(f[i+4:]), `"`)
	return field, value, true
}

func (o *Org) apps(w http.ResponseWriter, r *http.Request, base string) {
	apps := o.st.Apps
	if f := r.URL.Query().Get("filter"); f != "" {
		field, value, ok := filterEq(f)
		if !ok || (field != "status" && field != "name") {
			writeErr(w, http.StatusBadRequest, "E0000053", "Invalid filter")
			return
		}
		var sel []*App
		for _, a := range apps {
			if (field == "status" && a.Status == value) || (field == "name" && a.Name == value) {
				sel = append(sel, a)
			}
		}
		apps = sel
	}
	pageMapped(w, r, base, o.st.PageSize, apps, func(a *App) string { return a.ID }, func(a *App) any { return appJSON(a, base) })
}

func userJSON(u *User, base string) map[string]any {
	return withLinks(u, map[string]any{"self": href(base + "/api/v1/users/" + u.ID)})
}

func (o *Org) users(w http.ResponseWriter, r *http.Request, rest []string, base string) {
	st := o.st
	if len(rest) == 1 {
		users := st.Users
		if f := r.URL.Query().Get("filter"); f != "" {
			field, value, ok := filterEq(f)
			if !ok || field != "status" {
				writeErr(w, http.StatusBadRequest, "E0000053", "Invalid filter")
				return
			}
			var sel []*User
			for _, u := range users {
				if u.Status == value {
					sel = append(sel, u)
				}
			}
			users = sel
		}
		pageMapped(w, r, base, st.PageSize, users, func(u *User) string { return u.ID }, func(u *User) any { return userJSON(u, base) })
		return
	}
	var u *User
	for _, x := range st.Users {
		if x.ID == rest[1] || x.Profile.Login == rest[1] {
			u = x
		}
	}
	if u == nil {
		notFound(w, r)
		return
	}
	switch {
	case len(rest) == 2:
		writeJSON(w, 200, userJSON(u, base))
	case len(rest) == 3 && rest[2] == "factors":
		f := u.Factors
		if f == nil {
			f = []Factor{}
		}
		writeJSON(w, 200, f)
	case len(rest) == 3 && rest[2] == "roles":
		rs := u.Roles
		if rs == nil {
			rs = []Role{}
		}
		writeJSON(w, 200, rs)
	default:
		notFound(w, r)
	}
}

// assignees serves /api/v1/iam/assignees/users: {value: [...], _links}
// with _links.next for more.
func (o *Org) assignees(w http.ResponseWriter, r *http.Request, base string) {
	var admins []*User
	for _, u := range o.st.Users {
		if len(u.Roles) > 0 {
			admins = append(admins, u)
		}
	}
	limit := o.st.PageSize
	if limit <= 0 {
		limit = 200
	}
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l < limit {
		limit = l
	}
	start := 0
	if after := r.URL.Query().Get("after"); after != "" {
		for i, u := range admins {
			if u.ID == after {
				start = i + 1
			}
		}
	}
	end := start + limit
	if end > len(admins) {
		end = len(admins)
	}
	vals := []any{}
	for _, u := range admins[start:end] {
		vals = append(vals, map[string]any{"id": u.ID, "orn": "orn:okta:directory:" + o.st.OrgName + ":users:" + u.ID,
			"_links": map[string]any{"user": href(base + "/api/v1/users/" + u.ID), "roles": href(base + "/api/v1/users/" + u.ID + "/roles")}})
	}
	links := map[string]any{"self": href(base + r.URL.RequestURI())}
	if end < len(admins) {
		links["next"] = href(fmt.Sprintf("%s/api/v1/iam/assignees/users?limit=%d&after=%s", base, limit, admins[end-1].ID))
	}
	writeJSON(w, 200, map[string]any{"value": vals, "_links": links})
}

func (o *Org) brands(w http.ResponseWriter, r *http.Request, rest []string) {
	st := o.st
	if len(rest) == 1 {
		writeJSON(w, 200, st.Brands)
		return
	}
	var b *Brand
	for _, x := range st.Brands {
		if x.ID == rest[1] {
			b = x
		}
	}
	if b == nil {
		notFound(w, r)
		return
	}
	switch {
	case len(rest) == 6 && rest[2] == "templates" && rest[3] == "email" && rest[5] == "settings":
		v, ok := b.EmailRecipients[rest[4]]
		if !ok {
			notFound(w, r)
			return
		}
		writeJSON(w, 200, map[string]any{"recipients": v})
	case len(rest) == 5 && rest[2] == "pages" && rest[3] == "sign-in" && rest[4] == "customized":
		if b.SignInPageContent == "" {
			notFound(w, r)
			return
		}
		writeJSON(w, 200, map[string]any{"pageContent": b.SignInPageContent, "widgetVersion": "7"})
	case len(rest) == 5 && rest[2] == "pages" && rest[3] == "sign-in" && rest[4] == "default":
		writeJSON(w, 200, map[string]any{"pageContent": defaultSignInPage, "widgetVersion": "7"})
	default:
		notFound(w, r)
	}
}

const defaultSignInPage = `<!DOCTYPE html><html><head><title>{{orgName}} - Sign In</title></head><body><div id="okta-login-container"></div>{{{SignInWidgetResources}}}</body></html>`
