package traffic

import (
	"fmt"
	"strings"
	"time"
)

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

// lockEv is Okta locking u out after too many failures from w.
func lockEv(t time.Time, u *user, w *where) *ev {
	e := baseEv(t, u.actor(), w, "", "user.account.lock")
	e.result, e.reason, e.sev = "FAILURE", "LOCKED_OUT", "DEBUG"
	e.targets = []targetRef{u.target()}
	return e
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
		g.emitT(&k, r, lockEv(t, v, aw))
	}
	g.label("failed_logins", v.login, aw.ip.String(), &k, sc, false)
	return nil
}

// spray emits a single-source spray against targets (1–2 attempts each) plus
// a few unknown usernames; returns the time after.
func (g *gen) spray(r *rnd, aw *where, t time.Time, targets []*user, k *track) time.Time {
	return g.sprayN(r, aw, t, targets, true, k)
}

// sprayN is spray with or without the unknown usernames (exact target counts).
func (g *gen) sprayN(r *rnd, aw *where, t time.Time, targets []*user, unknown bool, k *track) time.Time {
	for i, u := range targets {
		for a := 0; a < 1+r.IntN(2); a++ {
			g.emitT(k, r, failEv(t, u.actor(), aw, "user.session.start"))
			t = t.Add(r.dur(5*time.Second, 40*time.Second))
		}
		if unknown && i%8 == 3 {
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
	// 7 pushes: two denied, one left unanswered, and so on; then approval
	g.pushBombing(r, sc, 7, func(i int) bool { return i%3 != 2 }, true, "mfa_fatigue")
	return nil
}

// pushBombing: a password verified from a VPS, then pushes (denied from the
// victim's phone at home when deny(i), else left unanswered) every minute or
// two, then, when approve, the worn-down victim approves and the attacker
// signs in and SSOs. The label spec (e.g. "mfa_fatigue" or "!mfa_fatigue")
// is applied to the whole attack.
func (g *gen) pushBombing(r *rnd, sc *scenCtx, pushes int, deny func(int) bool, approve bool, labels ...string) {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	net := g.sameCountryNet(NetHosting, v)
	aw := attackerWhere(r, net, uaWinChrome)
	// the victim's phone answers from home
	pw := &where{net: v.homeNet, ip: v.homeIPs[0], ua: uaVerifyIOS, dt: v.mobDT}
	if v.mob != uaIPhone {
		pw.ua = uaVerifyAndroid
	}
	t := sc.at(v, 22+r.Float64()) // late evening: the classic push-bombing hour
	var k track
	sess := r.sessID()
	e := baseEv(t, v.actor(), aw, sess, "user.authentication.verify")
	e.authProv, e.credType = "OKTA_AUTHENTICATION_PROVIDER", "PASSWORD"
	e.behaviors, e.risk = (&beh{newIP: true, newDevice: true}).String(), "{reasons=Anomalous Device, level=MEDIUM}"
	g.emitT(&k, r, e)
	for i := 0; i < pushes; i++ {
		t = t.Add(r.dur(40*time.Second, 100*time.Second))
		p := baseEv(t, v.actor(), aw, sess, "system.push.send_factor_verify_push")
		p.targets = []targetRef{v.target()}
		g.emitT(&k, r, p)
		t = t.Add(r.dur(8*time.Second, 40*time.Second))
		if deny(i) {
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
		if !deny(i) {
			f.reason = "VERIFICATION_ERROR" // unanswered: push timed out
		}
		f.authProv, f.credProv = "FACTOR_PROVIDER", "OKTA_CREDENTIAL_PROVIDER"
		f.extra = [][2]string{{"factor", "OKTA_VERIFY_PUSH"}}
		g.emitT(&k, r, f)
	}
	if approve {
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
	}
	g.applyLabels(labels, v.login, aw.ip.String(), &k, sc, false)
	if sc.kind() == "mfa_fatigue" && sc.n == 2 {
		// next morning the victim reports it
		var rep track
		rt := t.Add(9 * time.Hour)
		e := baseEv(rt, v.actor(), homeWhere(v), r.sessID(), "user.account.report_suspicious_activity_by_enduser")
		e.targets = []targetRef{v.target()}
		e.extra = [][2]string{{"suspiciousActivityEventType", "system.push.send_factor_verify_push"}, {"suspiciousActivityEventId", k.ids[1]}}
		g.emitT(&rep, r, e)
		g.label("user_reported_suspicious", v.login, homeWhere(v).ip.String(), &rep, sc, false)
	}
}

func scSessionHijack(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	hw := homeWhere(v)
	var own, k track
	sess, t := g.signIn(r, v, hw, sc.at(v, 9+r.Float64()*2), signInOpts{forced: &beh{}}, &own)
	g.sso(r, v, hw, sess, t.Add(time.Minute), &appCatalog[v.apps[1]], &own)
	var aw *where
	switch {
	case strings.HasPrefix(sc.id, "session_hijack_datacenter"):
		// the stolen cookie in the victim's own browser build, from a cloud
		// region of the victim's country: only the network differs
		n := g.w.net(NetHosting, "Ashburn")[0] // AWS us-east-1
		if v.home.Country != "United States" {
			n = g.sameCountryNet(NetHosting, v)
		}
		aw = attackerWhere(r, n, v.desk)
	case sc.n == 1:
		aw = attackerWhere(r, g.netIn(NetResidential, "Lagos"), uaFirefoxLx)
	default:
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
	g.applyLabels(adminTakeover, a.login, aw.ip.String(), &k, sc, false)
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
	g.applyLabels(adminTakeover, a.login, aw.ip.String(), &k, sc, false)
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
	g.label("api_token_created", a.login, w.ip.String(), &all, sc, false)
	g.applyLabels(adminTakeover, a.login, aw.ip.String(), &all, sc, false)
	g.label("mass_destructive", a.login, aw.ip.String(), &all, sc, false)
	g.label("unusual_admin", a.login, aw.ip.String(), &all, sc, true)
	return nil
}

func scSupportImpersonation(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(sc.n - 1)
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
	sw.ip = hostAt(sw.net, uint64(3000+r.IntN(50))) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	i := adminEv(t.Add(r.dur(20*time.Minute, 2*time.Hour)), a.actor(), sw, r.sessID(), "user.session.impersonation.initiate", a.target())
	i.extra = [][2]string{{"originalPrincipal", `{"id":"00u0support000000000","type":"User","alternateId":"support.engineer@okta.com","displayName":"Okta Support"}`}}
	g.emitT(&k, r, i)
	g.label("support_impersonation", a.login, sw.ip.String(), &k, sc, false)
	return nil
}

func scHelpdeskChain(g *gen, r *rnd, sc *scenCtx) error {
	hd := g.o.helpdesk[(sc.n-1)%len(g.o.helpdesk)]
	v := g.o.secAdmin
	if sc.n > 1 {
		v = g.victim(span{sc.day.Add(-30 * time.Hour), sc.day.Add(54 * time.Hour)}, "United States", "United Kingdom")
	} else {
		v.blackout = append(v.blackout, span{sc.day.Add(-30 * time.Hour), sc.day.Add(54 * time.Hour)})
	}
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
	g.applyLabels(adminTakeover, v.login, aw.ip.String(), &chain, sc, false)
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
