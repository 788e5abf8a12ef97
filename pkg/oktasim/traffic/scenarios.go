package traffic

import (
	"fmt"
	"net/netip"
	"time"
)

// scenario is one attack kind.
type scenario struct {
	kind      string
	detectors []string // required labels; used by the AttackKinds filter and Detectors()
	instances int
	run       func(g *gen, r *rnd, s *scenCtx) error
}

// scenCtx is the context of one scenario instance.
type scenCtx struct {
	id  string    // kind#n
	n   int       // instance number (1-based)
	day time.Time // UTC midnight of the attack day
	// fixed, when set (live attacks), is the start of the attack.
	fixed time.Time
}

// at returns a time on the attack day at local hour h of u (or the fixed
// start of a live attack).
func (s *scenCtx) at(u *user, h float64) time.Time {
	if !s.fixed.IsZero() {
		return s.fixed
	}
	return time.Date(s.day.Year(), s.day.Month(), s.day.Day(), 0, 0, 0, 0, u.tz).Add(time.Duration(h * float64(time.Hour)))
}

// utc returns the attack day at UTC hour h (or the fixed start).
func (s *scenCtx) utc(h float64) time.Time {
	if !s.fixed.IsZero() {
		return s.fixed
	}
	return s.day.Add(time.Duration(h * float64(time.Hour)))
}

// mid is the centre of the victim's blackout.
func (s *scenCtx) mid() time.Time {
	if !s.fixed.IsZero() {
		return s.fixed
	}
	return s.day.Add(12 * time.Hour)
}

var scenarioTable = []scenario{
	{"impossible_travel", []string{"impossible_travel"}, 2, scImpossibleTravel},
	{"infrequent_country", []string{"infrequent_country"}, 2, scInfrequentCountry},
	{"anonymous_ip", []string{"anonymous_ip"}, 2, scAnonymousIP},
	{"suspicious_ip", []string{"suspicious_ip"}, 1, scSuspiciousIPList},
	{"threat_then_signin", []string{"suspicious_ip", "security_threat_detected"}, 1, scThreatThenSignIn},
	{"failed_logins", []string{"failed_logins"}, 2, scFailedLogins},
	{"password_spray", []string{"password_spray"}, 1, scPasswordSpray},
	{"spray_then_success", []string{"password_spray", "suspicious_ip"}, 1, scSprayThenSuccess},
	{"mfa_fatigue", []string{"mfa_fatigue"}, 2, scMFAFatigue},
	{"session_hijack", []string{"session_hijack"}, 2, scSessionHijack},
	{"unusual_admin_new_types", []string{"unusual_admin"}, 1, scAdminNewTypes},
	{"unusual_admin_untrusted_ip", []string{"unusual_admin"}, 1, scAdminUntrustedIP},
	{"unusual_admin_volume", []string{"unusual_admin"}, 1, scAdminVolume},
	{"mass_destructive", []string{"mass_destructive"}, 1, scMassDeactivate},
	{"mass_destructive_log_stream", []string{"mass_destructive", "log_stream_tampering"}, 1, scMassWithLogStream},
	{"mass_destructive_new_token", []string{"mass_destructive", "api_token_created"}, 1, scMassNewToken},
	{"risky_ip_logon", []string{"risky_ip_logon"}, 2, scRiskyIP},
	{"admin_role_granted", []string{"admin_role_granted"}, 2, scAdminRoleGranted},
	{"api_token_created", []string{"api_token_created"}, 1, scAPITokenCreated},
	{"idp_lifecycle", []string{"idp_lifecycle"}, 1, scIdPLifecycle},
	{"policy_weakened", []string{"policy_weakened"}, 2, scPolicyWeakened},
	{"log_stream_tampering", []string{"log_stream_tampering"}, 1, scLogStreamTampering},
	{"support_impersonation", []string{"support_impersonation"}, 1, scSupportImpersonation},
	{"helpdesk_chain", []string{"helpdesk_chain", "mfa_factor_reset_by_other"}, 1, scHelpdeskChain},
	{"dormant_account_activity", []string{"dormant_account_activity"}, 1, scDormant},
	{"security_threat_detected", []string{"security_threat_detected"}, 1, scThreatDetected},
	{"org_under_attack", []string{"org_under_attack", "password_spray"}, 1, scOrgUnderAttack},
	{"fastpass_phishing", []string{"fastpass_phishing"}, 1, scFastPassPhishing},
	{"user_reported_suspicious", []string{"user_reported_suspicious"}, 1, scUserReported},
	{"mfa_factor_reset_by_other", []string{"mfa_factor_reset_by_other"}, 1, scFactorReset},
}

func (g *gen) wantScenario(s *scenario) bool {
	if len(g.cfg.AttackKinds) == 0 {
		return true
	}
	for _, k := range g.cfg.AttackKinds {
		if k == s.kind {
			return true
		}
		for _, d := range s.detectors {
			if k == d {
				return true
			}
		}
	}
	return false
}

// runScenarios spreads every selected scenario instance over the days after
// the learning period (day 8 .. Days-2), interleaving kinds.
func (g *gen) runScenarios() error {
	type inst struct {
		s *scenario
		n int
	}
	var all []inst
	maxN := 0
	for i := range scenarioTable {
		maxN = max(maxN, scenarioTable[i].instances)
	}
	for n := 1; n <= maxN; n++ {
		for i := range scenarioTable {
			s := &scenarioTable[i]
			if n <= s.instances && g.wantScenario(s) {
				all = append(all, inst{s, n})
			}
		}
	}
	first, last := 8, g.cfg.Days-2
	span := last - first + 1
	for i, in := range all {
		day := first + i*span/max(1, len(all))
		sc := &scenCtx{id: fmt.Sprintf("%s#%d", in.s.kind, in.n), n: in.n, day: g.start.AddDate(0, 0, day)}
		r := newRnd(uint64(g.cfg.Seed), 0x5ce0_0000+uint64(i))
		if err := in.s.run(g, r, sc); err != nil {
			return fmt.Errorf("traffic: scenario %s: %w", sc.id, err)
		}
	}
	return nil
}

// ---- helpers ----

// victim reserves the next plain user (preferring the given countries) and
// blacks out its benign traffic around [from, to].
func (g *gen) victim(bl span, countries ...string) *user {
	pool := g.o.plainUsers()
	pick := func(ok func(*user) bool) *user {
		for _, u := range pool {
			if !u.reserved && ok(u) {
				return u
			}
		}
		return nil
	}
	var u *user
	if len(countries) > 0 {
		u = pick(func(u *user) bool {
			for _, c := range countries {
				if u.home.Country == c {
					return true
				}
			}
			return false
		})
	}
	if u == nil {
		u = pick(func(*user) bool { return true })
	}
	if u == nil { // pool exhausted (small orgs): reuse round-robin
		u = pool[g.victimNext%len(pool)]
		g.victimNext++
	}
	u.reserved = true
	u.blackout = append(u.blackout, bl)
	return u
}

// blackoutAround reserves u's calendar 30 h either side of t (no benign sign-in
// can pair with the attack for travel or country rules).
func blackoutAround(t time.Time) span {
	return span{t.Add(-30 * time.Hour), t.Add(30 * time.Hour)}
}

func (g *gen) netIn(kind NetKind, city string) *Network {
	if ns := g.w.net(kind, city); len(ns) > 0 {
		return ns[0]
	}
	return nil
}

// sameCountryNet returns a network of kind in u's home country (home city first).
func (g *gen) sameCountryNet(kind NetKind, u *user) *Network {
	if n := g.netIn(kind, u.home.Name); n != nil {
		return n
	}
	for _, n := range g.w.byKind[kind] {
		if n.City.Country == u.home.Country {
			return n
		}
	}
	return nil
}

func attackIP(r *rnd, n *Network) netip.Addr { return hostAt(n, uint64(1000+r.IntN(3000))) }

func allNew() *beh {
	return &beh{newGeo: true, newDevice: true, newIP: true, newState: true, newCountry: true, newCity: true}
}

func (g *gen) label(det string, actor, ip string, k *track, sc *scenCtx, optional bool) {
	g.labels = append(g.labels, Label{Detector: det, Actor: actor, IP: ip, Start: k.start, End: k.end,
		EventIDs: append([]string(nil), k.ids...), Scenario: sc.id, Optional: optional})
}

// homeWhere is u's usual desktop context.
func homeWhere(u *user) *where {
	return &where{net: u.homeNet, ip: u.homeIPs[0], ua: u.desk, dt: u.deskDT, fp: u.deskFP}
}

// attackerWhere is a fresh attacker context on n.
func attackerWhere(r *rnd, n *Network, ua *UA) *where {
	return &where{net: n, ip: attackIP(r, n), ua: ua, dt: r.hex(64)}
}

// attackSignIn: an attacker's successful sign-in and a couple of SSOs.
func (g *gen) attackSignIn(r *rnd, u *user, w *where, t time.Time, b *beh, threat bool, k *track) (string, time.Time) {
	sess, t := g.signIn(r, u, w, t, signInOpts{forced: b, threat: threat, tunnels: tunnelsFor(w.net)}, k)
	for i := 0; i < 2; i++ {
		t = t.Add(r.dur(20*time.Second, 3*time.Minute))
		ap := &appCatalog[u.apps[1+r.IntN(len(u.apps)-1)]]
		e := g.sso(r, u, w, sess, t, ap, k)
		_ = e
	}
	return sess, t
}

// adminSession: a routine admin's trusted office session with admin console access.
func (g *gen) adminSession(r *rnd, u *user, t time.Time, k *track) (*where, string, time.Time) {
	n := u.officeNet
	if n == nil {
		n = g.w.byKind[NetCorporate][0]
	}
	ips := g.o.corpIPs[n.CIDR]
	w := &where{net: n, ip: ips[r.IntN(len(ips))], ua: u.desk, dt: u.deskDT, fp: u.deskFP}
	sess, t := g.signIn(r, u, w, t, signInOpts{forced: &beh{}}, nil)
	t = t.Add(r.dur(time.Minute, 4*time.Minute))
	g.emitT(k, r, baseEv(t, u.actor(), w, sess, "user.session.access_admin_app"))
	return w, sess, t
}

func (g *gen) admin(i int) *user { return g.o.admins[i%len(g.o.admins)] }

// ---- scenarios ----

var farCities = []string{"Bucharest", "Lagos", "Sao Paulo", "Hanoi", "Moscow", "Jakarta"}

func scImpossibleTravel(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()))
	t0 := sc.at(v, 9+r.Float64()*3)
	var home, att track
	hw := homeWhere(v)
	sess, t := g.signIn(r, v, hw, t0, signInOpts{forced: &beh{}}, &home)
	g.sso(r, v, hw, sess, t.Add(2*time.Minute), &appCatalog[v.apps[0]], &home)
	city := farCities[(sc.n*2)%len(farCities)]
	n := g.netIn(NetResidential, city)
	aw := attackerWhere(r, n, uaWinChrome)
	b := allNew()
	b.velocity = true
	g.attackSignIn(r, v, aw, t.Add(r.dur(35*time.Minute, 70*time.Minute)), b, false, &att)
	both := track{}
	both.merge(&home)
	both.merge(&att)
	g.label("impossible_travel", v.login, aw.ip.String(), &both, sc, false)
	g.label("infrequent_country", v.login, aw.ip.String(), &att, sc, true)
	return nil
}

func scInfrequentCountry(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()))
	city := farCities[(sc.n*2+1)%len(farCities)]
	n := g.netIn(NetResidential, city)
	aw := attackerWhere(r, n, uaWinChrome)
	var k track
	g.attackSignIn(r, v, aw, sc.at(v, 11+r.Float64()*4), allNew(), false, &k)
	g.label("infrequent_country", v.login, aw.ip.String(), &k, sc, false)
	return nil
}

func scAnonymousIP(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	kind := NetAnonVPN
	if sc.n == 2 {
		kind = NetTor
	}
	n := g.sameCountryNet(kind, v)
	if n == nil {
		n = g.w.byKind[kind][0]
	}
	aw := attackerWhere(r, n, uaFirefoxLx)
	b := allNew()
	b.newCountry, b.newState = false, false
	var k track
	g.attackSignIn(r, v, aw, sc.at(v, 10+r.Float64()*6), b, false, &k)
	g.label("anonymous_ip", v.login, aw.ip.String(), &k, sc, false)
	g.label("risky_ip_logon", v.login, aw.ip.String(), &k, sc, true) // anonymous is a built-in Risky tag
	if n.City.Country != v.home.Country {
		g.label("infrequent_country", v.login, aw.ip.String(), &k, sc, true)
	}
	return nil
}

func scSuspiciousIPList(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	city := "New York"
	if v.home.Country == "United Kingdom" {
		city = "London"
	}
	n, ip := g.threatIP(city)
	aw := &where{net: n, ip: ip, ua: uaHeadless, dt: r.hex(64)}
	b := allNew()
	b.newCountry, b.newState = false, false
	var k track
	g.attackSignIn(r, v, aw, sc.at(v, 10+r.Float64()*6), b, false, &k)
	g.label("suspicious_ip", v.login, ip.String(), &k, sc, false)
	g.label("risky_ip_logon", v.login, ip.String(), &k, sc, true) // when "suspicious" is included in Risky
	return nil
}

// threatEv is a ThreatInsight verdict for an IP (no user).
func threatEv(t time.Time, w *where, result, reason string) *ev {
	e := baseEv(t, actorRef{ID: "unknown", Type: "User", AltID: "unknown", Name: "Unknown"}, w, "", "security.threat.detected")
	e.result, e.reason, e.sev, e.threat = result, reason, "WARN", "true"
	e.extra = [][2]string{{"threatDetections", `{"Login failures with high unknown users count against an org":"HIGH"}`}}
	return e
}

func scThreatThenSignIn(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	n := g.sameCountryNet(NetHosting, v)
	aw := attackerWhere(r, n, uaHeadless)
	t0 := sc.at(v, 9+r.Float64()*6)
	var th, k track
	for i := 0; i < 3; i++ {
		g.emitT(&th, r, threatEv(t0.Add(time.Duration(i)*4*time.Minute), aw, "DENY", "Password Spray"))
	}
	b := allNew()
	b.newCountry, b.newState = false, false
	g.attackSignIn(r, v, aw, t0.Add(r.dur(15*time.Minute, 40*time.Minute)), b, true, &k)
	g.label("security_threat_detected", "", aw.ip.String(), &th, sc, false)
	g.label("suspicious_ip", v.login, aw.ip.String(), &k, sc, false)
	return nil
}

func failEv(t time.Time, u actorRef, w *where, typ string) *ev {
	e := baseEv(t, u, w, "", typ)
	e.result, e.reason, e.sev = "FAILURE", "INVALID_CREDENTIALS", "WARN"
	if typ == "user.session.start" {
		e.legacy = "core.user_auth.login_failed"
		e.authProv, e.credType = "OKTA_AUTHENTICATION_PROVIDER", "PASSWORD"
	} else {
		e.legacy = ""
	}
	return e
}

func scFailedLogins(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(30 * time.Hour)})
	city := "Bucharest"
	typ, n := "user.session.start", 30
	if sc.n == 2 {
		city, typ, n = "Paris", "user.authentication.verify", 16
	}
	net := g.netIn(NetHosting, city)
	aw := attackerWhere(r, net, uaPython)
	t := sc.at(v, 3+r.Float64()*3)
	var k track
	for i := 0; i < n; i++ {
		g.emitT(&k, r, failEv(t, v.actor(), aw, typ))
		t = t.Add(r.dur(4*time.Second, 12*time.Second))
	}
	if sc.n == 1 {
		e := baseEv(t, v.actor(), aw, "", "user.account.lock")
		e.result, e.reason, e.sev = "FAILURE", "LOCKED_OUT", "DEBUG"
		e.targets = []targetRef{v.target()}
		g.emitT(&k, r, e)
	}
	g.label("failed_logins", v.login, aw.ip.String(), &k, sc, false)
	return nil
}

// spray emits a single-source spray against targets (1–2 attempts each) plus
// a few unknown usernames; returns the time after.
func (g *gen) spray(r *rnd, aw *where, t time.Time, targets []*user, k *track) time.Time {
	for i, u := range targets {
		for a := 0; a < 1+r.IntN(2); a++ {
			g.emitT(k, r, failEv(t, u.actor(), aw, "user.session.start"))
			t = t.Add(r.dur(5*time.Second, 40*time.Second))
		}
		if i%8 == 3 {
			login := fmt.Sprintf("%s.%s@%s", firstNames[r.IntN(len(firstNames))], "admin", g.o.domain)
			e := failEv(t, actorRef{ID: "unknown", Type: "User", AltID: login, Name: "unknown"}, aw, "user.session.start")
			e.reason = "VERIFICATION_ERROR"
			g.emitT(k, r, e)
			t = t.Add(r.dur(5*time.Second, 40*time.Second))
		}
	}
	return t
}

// sprayTargets picks n distinct users (not the excluded ones), deterministic for r.
func (g *gen) sprayTargets(r *rnd, n int, exclude ...*user) []*user {
	perm := r.Perm(len(g.o.users))
	var out []*user
	for _, i := range perm {
		u := g.o.users[i]
		skip := u.p.has(pPentest)
		for _, x := range exclude {
			skip = skip || x == u
		}
		if !skip {
			out = append(out, u)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

func scPasswordSpray(g *gen, r *rnd, sc *scenCtx) error {
	net := g.netIn(NetHosting, "Amsterdam")
	aw := attackerWhere(r, net, uaPython)
	t := sc.utc(float64(1 + r.IntN(4)))
	var k track
	g.spray(r, aw, t, g.sprayTargets(r, 25), &k)
	g.label("password_spray", "", aw.ip.String(), &k, sc, false)
	return nil
}

func scSprayThenSuccess(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States")
	net := g.sameCountryNet(NetHosting, v)
	aw := attackerWhere(r, net, uaPython)
	t := sc.at(v, 6+r.Float64()*2)
	var k, s track
	targets := append(g.sprayTargets(r, 13, v), v)
	t = g.spray(r, aw, t, targets, &k)
	aw2 := *aw
	aw2.ua = uaHeadless
	b := allNew()
	b.newCountry, b.newState = false, false
	g.attackSignIn(r, v, &aw2, t.Add(r.dur(20*time.Minute, 60*time.Minute)), b, false, &s)
	all := track{}
	all.merge(&k)
	all.merge(&s)
	g.label("password_spray", "", aw.ip.String(), &all, sc, false)
	g.label("suspicious_ip", v.login, aw.ip.String(), &s, sc, false)
	return nil
}

func scMFAFatigue(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	net := g.sameCountryNet(NetHosting, v)
	aw := attackerWhere(r, net, uaWinChrome)
	// the victim's phone answers from home
	pw := &where{net: v.homeNet, ip: v.homeIPs[0], ua: uaVerifyIOS, dt: v.mobDT}
	t := sc.at(v, 22+r.Float64()) // late evening: the classic push-bombing hour
	var k track
	sess := r.sessID()
	e := baseEv(t, v.actor(), aw, sess, "user.authentication.verify")
	e.authProv, e.credType = "OKTA_AUTHENTICATION_PROVIDER", "PASSWORD"
	e.behaviors, e.risk = (&beh{newIP: true, newDevice: true}).String(), "{reasons=Anomalous Device, level=MEDIUM}"
	g.emitT(&k, r, e)
	pushes := 7
	for i := 0; i < pushes; i++ {
		t = t.Add(r.dur(40*time.Second, 100*time.Second))
		p := baseEv(t, v.actor(), aw, sess, "system.push.send_factor_verify_push")
		p.targets = []targetRef{v.target()}
		g.emitT(&k, r, p)
		t = t.Add(r.dur(8*time.Second, 40*time.Second))
		if i%3 != 2 {
			d := baseEv(t, v.actor(), pw, sess, "user.mfa.okta_verify.deny_push")
			d.result, d.reason, d.sev = "FAILURE", "User rejected Okta Verify push", "WARN"
			dev := v.verify
			d.device = &dev
			d.targets = []targetRef{v.target()}
			g.emitT(&k, r, d)
		}
		f := baseEv(t.Add(200*time.Millisecond), v.actor(), aw, sess, "user.authentication.auth_via_mfa")
		f.result, f.sev, f.legacy = "FAILURE", "WARN", "core.user.factor.attempt_fail"
		f.reason = "INVALID_CREDENTIALS"
		if i%3 == 2 {
			f.reason = "VERIFICATION_ERROR" // unanswered: push timed out
		}
		f.authProv, f.credProv = "FACTOR_PROVIDER", "OKTA_CREDENTIAL_PROVIDER"
		f.extra = [][2]string{{"factor", "OKTA_VERIFY_PUSH"}}
		g.emitT(&k, r, f)
	}
	// the worn-down victim approves
	t = t.Add(r.dur(30*time.Second, 2*time.Minute))
	p := baseEv(t, v.actor(), aw, sess, "system.push.send_factor_verify_push")
	p.targets = []targetRef{v.target()}
	g.emitT(&k, r, p)
	t = t.Add(r.dur(5*time.Second, 15*time.Second))
	m := baseEv(t, v.actor(), aw, sess, "user.authentication.auth_via_mfa")
	m.authProv, m.credProv = "FACTOR_PROVIDER", "OKTA_CREDENTIAL_PROVIDER"
	m.extra = [][2]string{{"factor", "OKTA_VERIFY_PUSH"}}
	dev := v.verify
	m.device = &dev
	g.emitT(&k, r, m)
	s := baseEv(t.Add(300*time.Millisecond), v.actor(), aw, sess, "user.session.start")
	s.authProv, s.credType = "OKTA_AUTHENTICATION_PROVIDER", "PASSWORD"
	s.behaviors, s.risk = (&beh{newIP: true, newDevice: true}).String(), "{reasons=Anomalous Device, level=MEDIUM}"
	g.emitT(&k, r, s)
	g.sso(r, v, aw, sess, t.Add(r.dur(time.Minute, 5*time.Minute)), &appCatalog[v.apps[1]], &k)
	g.label("mfa_fatigue", v.login, aw.ip.String(), &k, sc, false)
	if sc.n == 2 {
		// next morning the victim reports it
		var rep track
		rt := t.Add(9 * time.Hour)
		e := baseEv(rt, v.actor(), homeWhere(v), r.sessID(), "user.account.report_suspicious_activity_by_enduser")
		e.targets = []targetRef{v.target()}
		e.extra = [][2]string{{"suspiciousActivityEventType", "system.push.send_factor_verify_push"}, {"suspiciousActivityEventId", k.ids[1]}}
		g.emitT(&rep, r, e)
		g.label("user_reported_suspicious", v.login, homeWhere(v).ip.String(), &rep, sc, false)
	}
	return nil
}

func scSessionHijack(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	hw := homeWhere(v)
	var own, k track
	sess, t := g.signIn(r, v, hw, sc.at(v, 9+r.Float64()*2), signInOpts{forced: &beh{}}, &own)
	g.sso(r, v, hw, sess, t.Add(time.Minute), &appCatalog[v.apps[1]], &own)
	var aw *where
	if sc.n == 1 {
		aw = attackerWhere(r, g.netIn(NetResidential, "Lagos"), uaFirefoxLx)
	} else {
		aw = attackerWhere(r, g.sameCountryNet(NetHosting, v), uaPython)
	}
	t = t.Add(r.dur(40*time.Minute, 90*time.Minute))
	// the stolen cookie is replayed: SSOs in the victim's session from elsewhere
	first := true
	for i := 0; i < 3; i++ {
		ap := &appCatalog[v.apps[(i+1)%len(v.apps)]]
		g.sso(r, v, aw, sess, t, ap, &k)
		if first {
			e := baseEv(t.Add(150*time.Millisecond), v.actor(), aw, sess, "security.session.detect_client_roaming")
			e.result, e.sev = "SUCCESS", "WARN"
			e.extra = [][2]string{{"sessionRoaming", "true"}, {"originalIp", hw.ip.String()}}
			g.emitT(&k, r, e)
			first = false
		}
		t = t.Add(r.dur(time.Minute, 6*time.Minute))
	}
	all := track{}
	all.merge(&own)
	all.merge(&k)
	g.label("session_hijack", v.login, aw.ip.String(), &all, sc, false)
	if aw.net.City.Country != v.home.Country {
		g.label("impossible_travel", v.login, aw.ip.String(), &k, sc, true)
		g.label("infrequent_country", v.login, aw.ip.String(), &k, sc, true)
	}
	return nil
}

func scAdminNewTypes(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(0)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 13+r.Float64()*2), nil)
	ap := targetRef{ID: "0oa" + r.base62(17), Type: "AppInstance", AltID: "Legacy FTP Bridge", Name: "Legacy FTP Bridge"}
	for _, typ := range []string{"application.lifecycle.create", "application.lifecycle.update", "application.lifecycle.update"} {
		t = t.Add(r.dur(30*time.Second, 3*time.Minute))
		g.emitT(&k, r, adminEv(t, a.actor(), w, sess, typ, ap))
	}
	g.label("unusual_admin", a.login, w.ip.String(), &k, sc, false)
	return nil
}

func scAdminUntrustedIP(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(1)
	a.blackout = append(a.blackout, span{sc.day.Add(-6 * time.Hour), sc.day.Add(30 * time.Hour)})
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, a), uaWinChrome)
	var k track
	b := &beh{newIP: true, newDevice: true}
	sess, t := g.signIn(r, a, aw, sc.at(a, 20+r.Float64()*2), signInOpts{forced: b}, &k)
	t = t.Add(r.dur(time.Minute, 3*time.Minute))
	g.emitT(&k, r, baseEv(t, a.actor(), aw, sess, "user.session.access_admin_app"))
	for i := 0; i < 3; i++ {
		t = t.Add(r.dur(30*time.Second, 2*time.Minute))
		v := g.o.users[r.IntN(len(g.o.users))]
		g.emitT(&k, r, adminEv(t, a.actor(), aw, sess, "group.user_membership.add", v.target(), groups[4]))
	}
	g.label("unusual_admin", a.login, aw.ip.String(), &k, sc, false)
	return nil
}

func scAdminVolume(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(2)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 15+r.Float64()), nil)
	perm := r.Perm(len(g.o.users))
	for i := 0; i < 60; i++ {
		t = t.Add(r.dur(5*time.Second, 25*time.Second))
		v := g.o.users[perm[i%len(perm)]]
		g.emitT(&k, r, adminEv(t, a.actor(), w, sess, "group.user_membership.remove", v.target(), groups[0]))
	}
	g.label("unusual_admin", a.login, w.ip.String(), &k, sc, false)
	return nil
}

func (g *gen) massLifecycle(r *rnd, a actorRef, w *where, sess string, t time.Time, typ string, n int, token string, k *track) time.Time {
	for i := 0; i < n; i++ {
		t = t.Add(r.dur(6*time.Second, 18*time.Second))
		e := adminEv(t, a, w, sess, typ, g.synthTarget(r, "employee"))
		e.apiToken = token
		g.emitT(k, r, e)
	}
	return t
}

func scMassDeactivate(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(0)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 16+r.Float64()), nil)
	g.massLifecycle(r, a.actor(), w, sess, t, "user.lifecycle.deactivate", 30, "", &k)
	g.label("mass_destructive", a.login, w.ip.String(), &k, sc, false)
	g.label("unusual_admin", a.login, w.ip.String(), &k, sc, true)
	return nil
}

func logStreamEv(t time.Time, a actorRef, w *where, sess string) *ev {
	return adminEv(t, a, w, sess, "system.log_stream.lifecycle.deactivate",
		targetRef{ID: "0Oxsplunk0000000001", Type: "LogStream", AltID: "Splunk Cloud", Name: "Splunk Cloud"})
}

func scMassWithLogStream(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(1)
	a.blackout = append(a.blackout, span{sc.day.Add(-6 * time.Hour), sc.day.Add(30 * time.Hour)})
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, a), uaFirefoxLx)
	var k, ls track
	sess, t := g.signIn(r, a, aw, sc.at(a, 2+r.Float64()), signInOpts{forced: &beh{newIP: true, newDevice: true}}, &k)
	t = t.Add(r.dur(time.Minute, 2*time.Minute))
	g.emitT(&k, r, baseEv(t, a.actor(), aw, sess, "user.session.access_admin_app"))
	t = t.Add(r.dur(30*time.Second, 2*time.Minute))
	g.emitT(&ls, r, logStreamEv(t, a.actor(), aw, sess))
	k.merge(&ls)
	g.massLifecycle(r, a.actor(), aw, sess, t, "user.lifecycle.suspend", 25, "", &k)
	g.label("mass_destructive", a.login, aw.ip.String(), &k, sc, false)
	g.label("log_stream_tampering", a.login, aw.ip.String(), &ls, sc, false)
	g.label("unusual_admin", a.login, aw.ip.String(), &k, sc, true)
	return nil
}

func tokenCreate(t time.Time, a actorRef, w *where, sess, tokenID, name string) *ev {
	e := adminEv(t, a, w, sess, "system.api_token.create", targetRef{ID: tokenID, Type: "Token", AltID: "unknown", Name: name})
	e.extra = [][2]string{{"tokenNetworkCondition", "ANYWHERE"}}
	return e
}

func scMassNewToken(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(2)
	var tk, k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 11+r.Float64()*2), nil)
	tok := "00T" + r.base62(17)
	t = t.Add(r.dur(time.Minute, 3*time.Minute))
	g.emitT(&tk, r, tokenCreate(t, a.actor(), w, sess, tok, "migration-script"))
	// the token is used 20-50 min later from a VPS with a script
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, a), uaPython)
	g.massLifecycle(r, a.actor(), aw, "", t.Add(r.dur(20*time.Minute, 50*time.Minute)), "user.lifecycle.deactivate", 24, tok, &k)
	all := track{}
	all.merge(&tk)
	all.merge(&k)
	g.label("api_token_created", a.login, w.ip.String(), &tk, sc, false)
	g.label("mass_destructive", a.login, aw.ip.String(), &all, sc, false)
	g.label("unusual_admin", a.login, aw.ip.String(), &all, sc, true)
	return nil
}

func scRiskyIP(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	cidr := "198.51.100.0/24"
	if v.home.Country == "United Kingdom" {
		cidr = "192.0.2.0/24"
	}
	var n *Network
	for _, x := range g.w.nets {
		if x.CIDR == cidr {
			n = x
		}
	}
	aw := &where{net: n, ip: hostAt(n, uint64(10+r.IntN(200))), ua: uaWinChrome, dt: r.hex(64)}
	b := allNew()
	b.newCountry, b.newState = false, false
	var k track
	g.attackSignIn(r, v, aw, sc.at(v, 10+r.Float64()*6), b, false, &k)
	g.label("risky_ip_logon", v.login, aw.ip.String(), &k, sc, false)
	return nil
}

func scAdminRoleGranted(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(sc.n)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 14+r.Float64()*2), nil)
	t = t.Add(r.dur(time.Minute, 5*time.Minute))
	if sc.n == 1 {
		v := g.o.plainUsers()[len(g.o.plainUsers())-1]
		tg := v.target()
		tg.Detail = [][2]string{{"privilegeGranted", "Super administrator"}}
		g.emitT(&k, r, adminEv(t, a.actor(), w, sess, "user.account.privilege.grant", tg))
	} else {
		tg := targetRef{ID: "00g1itops0000000000", Type: "UserGroup", AltID: "unknown", Name: "IT Ops", Detail: [][2]string{{"privilegeGranted", "Organization administrator"}}}
		g.emitT(&k, r, adminEv(t, a.actor(), w, sess, "group.privilege.grant", tg))
	}
	g.label("admin_role_granted", a.login, w.ip.String(), &k, sc, false)
	g.label("unusual_admin", a.login, w.ip.String(), &k, sc, true)
	return nil
}

func scAPITokenCreated(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(1)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 10+r.Float64()*4), nil)
	g.emitT(&k, r, tokenCreate(t.Add(r.dur(time.Minute, 4*time.Minute)), a.actor(), w, sess, "00T"+r.base62(17), "backup-export"))
	g.label("api_token_created", a.login, w.ip.String(), &k, sc, false)
	g.label("unusual_admin", a.login, w.ip.String(), &k, sc, true)
	return nil
}

func scIdPLifecycle(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(0)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 15+r.Float64()*2), nil)
	idp := targetRef{ID: "0oa" + r.base62(17), Type: "IdentityProvider", AltID: "unknown", Name: "Partner SAML IdP", Detail: [][2]string{{"idpType", "SAML2"}}}
	t = t.Add(r.dur(time.Minute, 4*time.Minute))
	g.emitT(&k, r, adminEv(t, a.actor(), w, sess, "system.idp.lifecycle.create", idp))
	g.emitT(&k, r, adminEv(t.Add(r.dur(30*time.Second, 3*time.Minute)), a.actor(), w, sess, "system.idp.lifecycle.activate", idp))
	g.label("idp_lifecycle", a.login, w.ip.String(), &k, sc, false)
	g.label("unusual_admin", a.login, w.ip.String(), &k, sc, true)
	return nil
}

func scPolicyWeakened(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(sc.n)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 17+r.Float64()), nil)
	t = t.Add(r.dur(time.Minute, 4*time.Minute))
	if sc.n == 1 {
		e := adminEv(t, a.actor(), w, sess, "policy.rule.update", targetRef{ID: g.o.ruleID, Type: "PolicyRule", AltID: g.o.policyID, Name: "Default Rule",
			Change: `{"from":{"maxSessionIdleMinutes":60,"maxSessionLifetimeMinutes":480,"factorMode":"2FA"},"to":{"maxSessionIdleMinutes":1440,"maxSessionLifetimeMinutes":10080,"factorMode":"1FA"}}`})
		g.emitT(&k, r, e)
	} else {
		e := adminEv(t, a.actor(), w, sess, "policy.lifecycle.deactivate", targetRef{ID: "00p" + r.base62(17), Type: "PolicyEntity", AltID: "unknown", Name: "Require MFA for all apps",
			Detail: [][2]string{{"policyType", "ACCESS_POLICY"}}})
		g.emitT(&k, r, e)
	}
	g.label("policy_weakened", a.login, w.ip.String(), &k, sc, false)
	g.label("unusual_admin", a.login, w.ip.String(), &k, sc, true)
	return nil
}

func scLogStreamTampering(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(2)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 18+r.Float64()), nil)
	g.emitT(&k, r, logStreamEv(t.Add(r.dur(time.Minute, 4*time.Minute)), a.actor(), w, sess))
	g.label("log_stream_tampering", a.login, w.ip.String(), &k, sc, false)
	g.label("unusual_admin", a.login, w.ip.String(), &k, sc, true)
	return nil
}

func scSupportImpersonation(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(0)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 10+r.Float64()*3), nil)
	t = t.Add(r.dur(time.Minute, 4*time.Minute))
	e := adminEv(t, a.actor(), w, sess, "user.session.impersonation.grant", a.target())
	e.extra = [][2]string{{"grantDurationHours", "8"}}
	g.emitT(&k, r, e)
	// Okta Support starts a session as the admin
	sw := &where{net: g.netIn(NetHosting, "San Francisco"), ua: uaMacChrome}
	if sw.net == nil {
		sw.net = g.w.byKind[NetDatacenter][0]
	}
	sw.ip = hostAt(sw.net, uint64(3000+r.IntN(50)))
	i := adminEv(t.Add(r.dur(20*time.Minute, 2*time.Hour)), a.actor(), sw, r.sessID(), "user.session.impersonation.initiate", a.target())
	i.extra = [][2]string{{"originalPrincipal", `{"id":"00u0support000000000","type":"User","alternateId":"support.engineer@okta.com","displayName":"Okta Support"}`}}
	g.emitT(&k, r, i)
	g.label("support_impersonation", a.login, sw.ip.String(), &k, sc, false)
	return nil
}

func scHelpdeskChain(g *gen, r *rnd, sc *scenCtx) error {
	hd := g.o.helpdesk[0]
	v := g.o.secAdmin
	v.blackout = append(v.blackout, span{sc.day.Add(-30 * time.Hour), sc.day.Add(54 * time.Hour)})
	var reset, chain track
	w, sess, t := g.adminSession(r, hd, sc.at(hd, 11+r.Float64()*3), nil)
	t = t.Add(r.dur(time.Minute, 5*time.Minute))
	g.emitT(&reset, r, adminEv(t, hd.actor(), w, sess, "user.account.reset_password", v.target()))
	t = t.Add(r.dur(20*time.Second, 2*time.Minute))
	g.emitT(&reset, r, adminEv(t, hd.actor(), w, sess, "user.mfa.factor.reset_all", v.target()))
	// the caller who social-engineered the help desk enrols a new factor from elsewhere
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, v), uaWinChrome)
	t = t.Add(r.dur(15*time.Minute, 30*time.Minute))
	b := &beh{newIP: true, newDevice: true, newGeo: true, newCity: true}
	s2, t := g.signIn(r, v, aw, t, signInOpts{forced: b, factor: "none"}, &chain)
	t = t.Add(r.dur(time.Minute, 3*time.Minute))
	fa := adminEv(t, v.actor(), aw, s2, "user.mfa.factor.activate", v.target(),
		targetRef{ID: "pfd" + r.base62(17), Type: "AuthenticatorEnrollment", AltID: "unknown", Name: "Okta Verify", Detail: [][2]string{{"methodTypeUsed", "Okta Verify"}}})
	fa.device = &verifyDevice{ID: "guo" + r.base62(17), Name: "Pixel 7", Platform: "ANDROID", Version: "13"}
	g.emitT(&chain, r, fa)
	t = t.Add(r.dur(10*time.Minute, 25*time.Minute))
	g.emitT(&chain, r, baseEv(t, v.actor(), aw, s2, "user.session.access_admin_app"))
	all := track{}
	all.merge(&reset)
	all.merge(&chain)
	g.label("helpdesk_chain", v.login, aw.ip.String(), &all, sc, false)
	g.label("mfa_factor_reset_by_other", hd.login, w.ip.String(), &reset, sc, false)
	g.label("unusual_admin", hd.login, w.ip.String(), &reset, sc, true)
	g.label("unusual_admin", v.login, aw.ip.String(), &chain, sc, true)
	return nil
}

func scDormant(g *gen, r *rnd, sc *scenCtx) error {
	end := g.start.AddDate(0, 0, g.cfg.Days+1)
	v := g.victim(span{sc.day.Add(-6 * time.Hour), end})
	a := g.admin(1)
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, 12+r.Float64()*3), nil)
	susp := adminEv(t.Add(r.dur(time.Minute, 4*time.Minute)), a.actor(), w, sess, "user.lifecycle.suspend", v.target())
	g.emitT(&k, r, susp)
	// a day and a half later the suspended account is used again
	hw := homeWhere(v)
	at := susp.t.Add(r.dur(30*time.Hour, 40*time.Hour))
	g.attackSignIn(r, v, hw, at, &beh{}, false, &k)
	g.label("dormant_account_activity", v.login, hw.ip.String(), &k, sc, false)
	return nil
}

func scThreatDetected(g *gen, r *rnd, sc *scenCtx) error {
	aw := attackerWhere(r, g.netIn(NetHosting, "Frankfurt"), uaPython)
	t := sc.utc(float64(2 + r.IntN(6)))
	var k track
	for i := 0; i < 4; i++ {
		g.emitT(&k, r, threatEv(t, aw, "DENY", "Credential Stuffing"))
		t = t.Add(r.dur(time.Minute, 5*time.Minute))
	}
	g.label("security_threat_detected", "", aw.ip.String(), &k, sc, false)
	return nil
}

func scOrgUnderAttack(g *gen, r *rnd, sc *scenCtx) error {
	t0 := sc.utc(float64(3 + r.IntN(4)))
	sys := actorRef{ID: "spr" + r.base62(17), Type: "SystemPrincipal", AltID: "system@okta.com", Name: "Okta System"}
	var k track
	st := baseEv(t0, sys, nil, "", "security.attack.start")
	st.job, st.threat, st.sev = true, "", "WARN"
	st.extra = [][2]string{{"attackType", "PASSWORD_SPRAY"}}
	g.emitT(&k, r, st)
	t := t0.Add(time.Minute)
	cities := []string{"Bucharest", "Amsterdam", "Frankfurt"}
	var sprayLabels []struct {
		ip string
		k  track
	}
	last := t
	for i, c := range cities {
		n := g.netIn(NetHosting, c)
		aw := attackerWhere(r, n, uaPython)
		var sk track
		e := g.spray(r, aw, t.Add(time.Duration(i)*90*time.Second), g.sprayTargets(r, 12), &sk)
		if e.After(last) {
			last = e
		}
		sprayLabels = append(sprayLabels, struct {
			ip string
			k  track
		}{aw.ip.String(), sk})
	}
	en := baseEv(last.Add(r.dur(10*time.Minute, 20*time.Minute)), sys, nil, "", "security.attack.end")
	en.job, en.threat = true, ""
	en.extra = [][2]string{{"attackType", "PASSWORD_SPRAY"}}
	g.emitT(&k, r, en)
	for _, s := range sprayLabels {
		sk := s.k
		g.label("password_spray", "", s.ip, &sk, sc, false)
	}
	all := track{}
	all.merge(&k)
	g.label("org_under_attack", sys.AltID, "", &all, sc, false)
	return nil
}

func scFastPassPhishing(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(26 * time.Hour)})
	hw := homeWhere(v)
	var k track
	e := baseEv(sc.at(v, 10+r.Float64()*5), v.actor(), hw, r.sessID(), "user.authentication.auth_via_mfa")
	e.result, e.reason, e.sev, e.legacy = "FAILURE", "FastPass declined phishing attempt", "WARN", "core.user.factor.attempt_fail"
	e.authProv, e.credProv = "FACTOR_PROVIDER", "OKTA_CREDENTIAL_PROVIDER"
	e.extra = [][2]string{{"factor", "SIGNED_NONCE"}, {"origin", "https://okta-sso-login.example.net"}}
	dev := v.verify
	e.device = &dev
	g.emitT(&k, r, e)
	g.label("fastpass_phishing", v.login, hw.ip.String(), &k, sc, false)
	return nil
}

func scUserReported(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(26 * time.Hour)})
	hw := homeWhere(v)
	var k track
	e := baseEv(sc.at(v, 9+r.Float64()*8), v.actor(), hw, r.sessID(), "user.account.report_suspicious_activity_by_enduser")
	e.targets = []targetRef{v.target()}
	e.extra = [][2]string{{"suspiciousActivityEventType", "user.session.start"}}
	g.emitT(&k, r, e)
	g.label("user_reported_suspicious", v.login, hw.ip.String(), &k, sc, false)
	return nil
}

func scFactorReset(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(26 * time.Hour)})
	hd := g.o.helpdesk[0]
	var k track
	w, sess, t := g.adminSession(r, hd, sc.at(hd, 10+r.Float64()*5), nil)
	g.emitT(&k, r, adminEv(t.Add(r.dur(time.Minute, 4*time.Minute)), hd.actor(), w, sess, "user.mfa.factor.reset_all", v.target()))
	g.label("mfa_factor_reset_by_other", hd.login, w.ip.String(), &k, sc, false)
	g.label("unusual_admin", hd.login, w.ip.String(), &k, sc, true)
	return nil
}
