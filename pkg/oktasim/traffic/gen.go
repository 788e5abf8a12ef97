package traffic

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// rec is one rendered event.
type rec struct {
	t     int64 // published, unix nanos
	seq   uint64
	raw   json.RawMessage
	delay time.Duration
}

// track collects the events of one attack for its labels.
type track struct {
	ids        []string
	start, end time.Time
}

func (k *track) add(id string, t time.Time) {
	if len(k.ids) == 0 || t.Before(k.start) {
		k.start = t
	}
	if len(k.ids) == 0 || t.After(k.end) {
		k.end = t
	}
	k.ids = append(k.ids, id)
}

func (k *track) merge(o *track) {
	for i, id := range o.ids {
		_ = i
		k.ids = append(k.ids, id)
	}
	if len(o.ids) > 0 {
		if k.start.IsZero() || o.start.Before(k.start) {
			k.start = o.start
		}
		if o.end.After(k.end) {
			k.end = o.end
		}
	}
}

// gen is the generator state.
type gen struct {
	cfg    Config
	w      *world
	o      *org
	start  time.Time
	chunk  []byte
	recs   []rec
	labels []Label
	near   []Label
	traps  []Trap
	seq    uint64
	// drop events published before this time (Stream fast-forward)
	emitFrom time.Time
	// lateRnd decides late delivery
	lateRnd *rnd
	// lateNoted records the first late routine admin action per admin and type
	lateNoted map[string]bool
	// victimNext cycles through victims when the pool is exhausted
	victimNext int
}

func newGen(cfg Config) (*gen, error) {
	w, err := buildWorld()
	if err != nil {
		return nil, err
	}
	o, err := buildOrg(cfg, w)
	if err != nil {
		return nil, err
	}
	return &gen{cfg: cfg, w: w, o: o, start: cfg.Start, lateRnd: newRnd(uint64(cfg.Seed), 0x1a7e)}, nil // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
}

// emit renders e (assigning its uuid from r) and returns the uuid.
func (g *gen) emit(r *rnd, e *ev) string {
	e.t = e.t.UTC().Truncate(time.Millisecond)
	e.uuid = r.uuid()
	if e.txID == "" {
		e.txID = r.reqID()
	}
	if !g.emitFrom.IsZero() && e.t.Before(g.emitFrom) {
		return e.uuid
	}
	if cap(g.chunk)-len(g.chunk) < 8192 {
		g.chunk = make([]byte, 0, 1<<20)
	}
	s := len(g.chunk)
	g.chunk = e.render(g.chunk)
	raw := g.chunk[s:len(g.chunk):len(g.chunk)]
	var delay time.Duration
	if g.cfg.Late > 0 && g.lateRnd.chance(g.cfg.Late) {
		delay = g.lateRnd.dur(90*time.Second, 30*time.Minute)
	}
	g.recs = append(g.recs, rec{t: e.t.UnixNano(), seq: g.seq, raw: raw, delay: delay})
	g.seq++
	return e.uuid
}

func (g *gen) emitT(k *track, r *rnd, e *ev) string {
	id := g.emit(r, e)
	if k != nil {
		k.add(id, e.t)
	}
	return id
}

func (g *gen) sortRecs() {
	sort.Slice(g.recs, func(i, j int) bool {
		a, b := &g.recs[i], &g.recs[j]
		if a.t != b.t {
			return a.t < b.t
		}
		return a.seq < b.seq
	})
}

// evType is the static part of an event type.
type evType struct {
	legacy, msg, uri string
}

var catalog = map[string]evType{
	"user.session.start":                                 {"core.user_auth.login_success", "User login to Okta", "/idp/idx/identify"},
	"policy.evaluate_sign_on":                            {"", "Evaluation of sign-on policy", "/idp/idx/identify"},
	"system.push.send_factor_verify_push":                {"", "A push was sent to a user for verification", "/idp/idx/challenge"},
	"user.authentication.auth_via_mfa":                   {"core.user.factor.attempt_success", "Authentication of user via MFA", "/idp/idx/challenge/answer"},
	"user.authentication.verify":                         {"", "Verify user identity", "/idp/idx/challenge/answer"},
	"user.authentication.sso":                            {"app.auth.sso", "User single sign on to app", "/app/%s/sso/saml"},
	"user.session.end":                                   {"core.user_auth.logout_success", "User logout from Okta", "/login/signout"},
	"user.session.access_admin_app":                      {"app.admin.sso", "User accessing Okta admin app", "/admin/sso/callback"},
	"user.account.update_password":                       {"core.user.config.password_update.success", "User update password for Okta", "/idp/myaccount/password"},
	"user.account.lock":                                  {"core.user_auth.account_locked", "Max sign in attempts exceeded", "/idp/idx/identify"},
	"user.mfa.okta_verify.deny_push":                     {"core.user.factor.attempt_fail", "User rejected Okta push verify", "/idp/idx/authenticators/poll"},
	"user.mfa.factor.activate":                           {"core.user.factor.activate", "Activate factor for user", "/idp/idx/credential/enroll"},
	"user.mfa.factor.reset_all":                          {"core.user.factor.reset_all", "Reset all factors for user", "/api/v1/users/%s/lifecycle/reset_factors"},
	"user.account.report_suspicious_activity_by_enduser": {"", "User report suspicious activity", "/api/v1/users/me/report-suspicious-activity"},
	"group.user_membership.add":                          {"core.user_group_member.user_add", "Add user to group membership", "/api/v1/groups/%s/users"},
	"group.user_membership.remove":                       {"core.user_group_member.user_remove", "Remove user from group membership", "/api/v1/groups/%s/users"},
	"user.lifecycle.create":                              {"core.user.config.user_creation.success", "Create Okta user", "/api/v1/users"},
	"user.lifecycle.activate":                            {"core.user.config.user_activated", "Activate Okta user", "/api/v1/users/%s/lifecycle/activate"},
	"user.lifecycle.deactivate":                          {"core.user.config.user_deactivated", "Deactivate Okta user", "/api/v1/users/%s/lifecycle/deactivate"},
	"user.lifecycle.suspend":                             {"core.user.config.user_status.suspended", "Suspend Okta user", "/api/v1/users/%s/lifecycle/suspend"},
	"user.account.update_profile":                        {"core.user.config.profile_update.success", "Update user profile for Okta", "/api/v1/users/%s"},
	"user.account.unlock":                                {"core.user.config.user_status.unlocked", "Unlock Okta user", "/api/v1/users/%s/lifecycle/unlock"},
	"user.account.reset_password":                        {"core.user.config.password_reset", "Fired when the user's Okta password is reset", "/api/v1/users/%s/lifecycle/reset_password"},
	"application.user_membership.add":                    {"app.generic.provision.assign_user_to_app", "Add user to application membership", "/api/v1/apps/%s/users"},
	"application.lifecycle.create":                       {"app.generic.config.app_created", "Create application", "/api/v1/apps"},
	"application.lifecycle.update":                       {"app.generic.config.app_updated", "Update application", "/api/v1/apps/%s"},
	"user.account.privilege.grant":                       {"core.user.admin_privilege.granted", "Grant user privilege", "/api/v1/users/%s/roles"},
	"group.privilege.grant":                              {"core.group.admin_privilege.granted", "Grant group privilege", "/api/v1/groups/%s/roles"},
	"system.api_token.create":                            {"api.token.create", "Create API token", "/api/internal/tokens"},
	"system.idp.lifecycle.create":                        {"", "Create IdP", "/api/v1/idps"},
	"system.idp.lifecycle.activate":                      {"", "Activate IdP", "/api/v1/idps/%s/lifecycle/activate"},
	"policy.rule.update":                                 {"", "Update policy rule", "/api/v1/policies/%s/rules"},
	"policy.lifecycle.deactivate":                        {"", "Deactivate policy", "/api/v1/policies/%s/lifecycle/deactivate"},
	"system.log_stream.lifecycle.deactivate":             {"", "Deactivate log stream", "/api/v1/logStreams/%s/lifecycle/deactivate"},
	"user.session.impersonation.grant":                   {"core.user.impersonation.grant.enabled", "Enable impersonation grant", "/api/internal/impersonation/grant"},
	"user.session.impersonation.initiate":                {"core.user.impersonation.session.initiated", "Initiate impersonation session", "/api/internal/impersonation/session"},
	"security.threat.detected":                           {"security.threat.detected", "Request from suspicious actor", "/api/v1/authn"},
	"security.attack.start":                              {"", "Org under attack: credential-based attack in progress", ""},
	"security.attack.end":                                {"", "Org under attack: credential-based attack ended", ""},
	"security.session.detect_client_roaming":             {"", "Roaming session detected", "/app/%s/sso/saml"},
	"user.mfa.factor.deactivate":                         {"core.user.factor.deactivate", "Reset factor for user", "/idp/myaccount/authenticators/%s"},
	"zone.update":                                        {"", "Update network zone", "/api/v1/zones/%s"},
	"system.idp.lifecycle.update":                        {"", "Update IdP", "/api/v1/idps/%s"},
	"user.account.privilege.revoke":                      {"core.user.admin_privilege.revoked", "Revoke user privilege", "/api/v1/users/%s/roles"},
	"user.lifecycle.reactivate":                          {"core.user.config.user_reactivated", "Reactivate Okta user", "/api/v1/users/%s/lifecycle/reactivate"},
	"user.lifecycle.unsuspend":                           {"core.user.config.user_status.unsuspended", "Unsuspend Okta user", "/api/v1/users/%s/lifecycle/unsuspend"},
	"system.org.rate_limit.warning":                      {"core.framework.ratelimit.warning", "Rate limit warning", "/api/v1/groups/%s/users"},
	"system.org.rate_limit.violation":                    {"core.framework.ratelimit.exceeded", "Rate limit violation", "/api/v1/groups/%s/users"},
}

// where is the network context of one request.
type where struct {
	net    *Network
	ip     netip.Addr
	ua     *UA
	dt     string
	fp     string
	mobile bool
}

// baseEv builds an event with the common fields filled.
func baseEv(t time.Time, a actorRef, w *where, sess, typ string) *ev {
	c := catalog[typ]
	e := &ev{t: t, typ: typ, legacy: c.legacy, msg: c.msg, sev: "INFO", actor: a,
		sess: sess, result: "SUCCESS", txType: "WEB", threat: "false"}
	if w != nil {
		e.net, e.ip, e.ua, e.dtHash, e.fingerprint = w.net, w.ip, w.ua, w.dt, w.fp
	}
	if sess != "" {
		e.root = sess
	}
	if c.uri != "" {
		uri := c.uri
		if strings.Contains(uri, "%s") {
			uri = strings.Replace(uri, "%s", "0oa"+shortHash(a.ID+typ), 1)
		}
		e.reqURI = uri
		e.url = uri + "?"
	}
	return e
}

// shortHash is a tiny deterministic id fragment (no randomness consumed).
func shortHash(s string) string {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	b := make([]byte, 17)
	for i := range b {
		b[i] = b62[h%62]
		h = h/62 ^ (h << 7)
	}
	return string(b)
}

// behaviour flags for a sign-in
type beh struct {
	newGeo, newDevice, newIP, newState, newCountry, velocity, newCity bool
}

func pn(b bool) string {
	if b {
		return "POSITIVE"
	}
	return "NEGATIVE"
}

func (b beh) String() string {
	return "{New Geo-Location=" + pn(b.newGeo) + ", New Device=" + pn(b.newDevice) + ", New IP=" + pn(b.newIP) +
		", New State=" + pn(b.newState) + ", New Country=" + pn(b.newCountry) + ", Velocity=" + pn(b.velocity) +
		", New City=" + pn(b.newCity) + "}"
}

func (b beh) risk() (level, reasons string) {
	switch {
	case b.newCountry && (b.velocity || b.newDevice):
		return "HIGH", "Anomalous Location, Anomalous Device"
	case b.newDevice && b.newIP:
		return "MEDIUM", "Anomalous Device"
	case b.newCountry || b.newCity:
		return "MEDIUM", "Anomalous Location"
	}
	return "LOW", ""
}

func (b beh) riskString() string {
	l, r := b.risk()
	if r == "" {
		return "{level=" + l + "}"
	}
	return "{reasons=" + r + ", level=" + l + "}"
}

func (b beh) logOnly() string {
	l, r := b.risk()
	s := `{"risk":{"level":"` + l + `"`
	if r != "" {
		s += `,"reasons":"` + r + `"`
	}
	return s + `},"behaviors":{"New Geo-Location":"` + pn(b.newGeo) + `","New Device":"` + pn(b.newDevice) +
		`","New IP":"` + pn(b.newIP) + `","New State":"` + pn(b.newState) + `","New Country":"` + pn(b.newCountry) +
		`","Velocity":"` + pn(b.velocity) + `","New City":"` + pn(b.newCity) + `"}}`
}

// observe computes Okta's behaviours for a sign-in of u from w at t and records it.
func (u *user) observe(w *where, t time.Time) beh {
	c := &w.net.City
	b := beh{
		newIP:      !u.seenIP[w.ip],
		newCity:    !u.seenCity[c.Name],
		newState:   !u.seenCity[c.Name] && !u.seenCity["state:"+c.State],
		newCountry: !u.seenCountry[c.Country],
		newDevice:  w.dt != "" && !u.seenDT[w.dt],
	}
	b.newGeo = b.newCity
	if !u.lastT.IsZero() {
		h := t.Sub(u.lastT).Hours()
		if h < 1.0/60 {
			h = 1.0 / 60
		}
		if distanceKm(u.lastLat, u.lastLon, c.Lat, c.Lon)/h > 805 {
			b.velocity = true
		}
	}
	if len(u.seenIP) == 0 { // very first sign-in: Okta has no profile yet
		b = beh{}
	}
	u.seenIP[w.ip] = true
	u.seenCity[c.Name] = true
	u.seenCity["state:"+c.State] = true
	u.seenCountry[c.Country] = true
	if w.dt != "" {
		u.seenDT[w.dt] = true
	}
	u.lastLat, u.lastLon, u.lastT = c.Lat, c.Lon, t
	return b
}

// signInOpts tunes one interactive sign-in.
type signInOpts struct {
	typos   int    // failed password attempts before success
	factor  string // "push" (default), "totp", "webauthn", "none"
	threat  bool   // threatSuspected
	forced  *beh   // behaviours to report instead of computing them
	tunnels string
	noMFA   bool
}

// signIn emits an interactive sign-in and returns the session id and the time after it.
func (g *gen) signIn(r *rnd, u *user, w *where, t time.Time, o signInOpts, k *track) (string, time.Time) {
	a := u.actor()
	sess := r.sessID()
	for i := 0; i < o.typos; i++ {
		e := baseEv(t, a, w, "", "user.session.start")
		e.result, e.reason, e.sev = "FAILURE", "INVALID_CREDENTIALS", "WARN"
		e.legacy = "core.user_auth.login_failed"
		e.authProv, e.credType = "OKTA_AUTHENTICATION_PROVIDER", "PASSWORD"
		e.tunnels = o.tunnels
		if o.threat {
			e.threat = "true"
		}
		g.emitT(k, r, e)
		t = t.Add(r.dur(4*time.Second, 25*time.Second))
	}
	var b beh
	if o.forced != nil {
		b = *o.forced
		u.observe(w, t)
	} else {
		b = u.observe(w, t)
	}
	bs, rs := b.String(), b.riskString()
	e := baseEv(t, a, w, sess, "user.session.start")
	e.authProv, e.credType = "OKTA_AUTHENTICATION_PROVIDER", "PASSWORD"
	e.behaviors, e.risk, e.tunnels = bs, rs, o.tunnels
	if o.threat {
		e.threat = "true"
	}
	tx := r.reqID()
	e.txID = tx
	g.emitT(k, r, e)
	t = t.Add(r.dur(30*time.Millisecond, 400*time.Millisecond))
	p := baseEv(t, a, w, sess, "policy.evaluate_sign_on")
	p.result, p.reason = "ALLOW", "Sign-on policy evaluation resulted in ALLOW"
	p.behaviors, p.risk, p.logOnly, p.tunnels = bs, rs, b.logOnly(), o.tunnels
	p.txID = tx
	p.targets = []targetRef{
		{ID: g.o.policyID, Type: "PolicyEntity", AltID: "unknown", Name: "Default Policy", Detail: [][2]string{{"policyType", "OktaSignOn"}}},
		{ID: g.o.ruleID, Type: "PolicyRule", AltID: g.o.policyID, Name: "Default Rule"},
	}
	if o.threat {
		p.threat = "true"
	}
	g.emitT(k, r, p)
	if o.noMFA || o.factor == "none" {
		return sess, t.Add(r.dur(time.Second, 5*time.Second))
	}
	t = t.Add(r.dur(500*time.Millisecond, 3*time.Second))
	factor := o.factor
	if factor == "" {
		factor = "push"
	}
	if factor == "push" {
		ps := baseEv(t, a, w, sess, "system.push.send_factor_verify_push")
		ps.legacy = ""
		ps.targets = []targetRef{u.target()}
		g.emitT(k, r, ps)
		t = t.Add(r.dur(3*time.Second, 20*time.Second))
	}
	m := baseEv(t, a, w, sess, "user.authentication.auth_via_mfa")
	m.authProv, m.credProv = "FACTOR_PROVIDER", "OKTA_CREDENTIAL_PROVIDER"
	m.behaviors, m.risk, m.tunnels = bs, rs, o.tunnels
	if o.threat {
		m.threat = "true"
	}
	method := "Okta Verify"
	switch factor {
	case "push":
		m.extra = [][2]string{{"factor", "OKTA_VERIFY_PUSH"}}
		dev := u.verify
		m.device = &dev
	case "totp":
		m.extra = [][2]string{{"factor", "GOOGLE_AUTHENTICATOR"}}
		method = "Google Authenticator"
	case "webauthn":
		m.extra = [][2]string{{"factor", "WEBAUTHN"}}
		method = "Security Key or Biometric"
	}
	m.targets = []targetRef{u.target(), {ID: "pfd" + shortHash(u.id+factor), Type: "AuthenticatorEnrollment", AltID: "unknown", Name: method,
		Detail: [][2]string{{"methodTypeUsed", method}, {"methodUsedVerifiedProperties", "[USER_PRESENCE, POSSESSION]"}}}}
	g.emitT(k, r, m)
	return sess, t.Add(r.dur(time.Second, 8*time.Second))
}

// sso emits one SSO to an app.
func (g *gen) sso(r *rnd, u *user, w *where, sess string, t time.Time, a *app, k *track) string {
	e := baseEv(t, u.actor(), w, sess, "user.authentication.sso")
	e.reqURI = "/app/" + a.name + "/" + a.id + "/sso/saml"
	e.url = e.reqURI + "?"
	e.extra = [][2]string{{"initiationType", "IDP_INITIATED"}, {"signOnMode", modeName(a.mode)}}
	e.targets = []targetRef{
		{ID: a.id, Type: "AppInstance", AltID: a.label, Name: a.label, Detail: [][2]string{{"signOnModeType", a.mode}}},
		{ID: "0ua" + shortHash(u.id+a.id), Type: "AppUser", AltID: u.login, Name: u.name},
	}
	return g.emitT(k, r, e)
}

func modeName(m string) string {
	switch m {
	case "SAML_2_0":
		return "SAML 2.0"
	case "OPENID_CONNECT":
		return "OpenID Connect"
	case "WS_FEDERATION":
		return "WS-Federation"
	}
	return m
}

// adminEv builds an admin action by actor a on target tg.
func adminEv(t time.Time, a actorRef, w *where, sess, typ string, tg ...targetRef) *ev {
	e := baseEv(t, a, w, sess, typ)
	if len(tg) > 0 {
		e.targets = tg
	}
	return e
}
