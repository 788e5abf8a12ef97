package traffic

import (
	"time"
)

// The extended scenarios: attacks just above and just below each
// detector's default threshold, and the evasions of issue 11. A "!" label
// (Dataset.NearMisses) marks a case the detector must stay silent on.

// victimIn reserves a plain user living in one of the cities (any plain
// user when none is left).
func (g *gen) victimIn(bl span, cities ...string) *user {
	for _, u := range g.o.plainUsers() {
		if u.reserved {
			continue
		}
		for _, c := range cities {
			if u.home.Name == c {
				u.reserved = true
				u.blackout = append(u.blackout, bl)
				return u
			}
		}
	}
	return g.victim(bl)
}

// travel: the victim signs in at home, then gap later the attacker signs in
// from n (with SSOs). It returns both tracks and the attacker's context.
func (g *gen) travel(r *rnd, sc *scenCtx, v *user, n *Network, ua *UA, gapMin, gapMax time.Duration, b *beh) (home, att track, aw *where) {
	hw := homeWhere(v)
	sess, t := g.signIn(r, v, hw, sc.at(v, 9+r.Float64()*3), signInOpts{forced: &beh{}}, &home)
	g.sso(r, v, hw, sess, t.Add(2*time.Minute), &appCatalog[v.apps[0]], &home)
	aw = attackerWhere(r, n, ua)
	g.attackSignIn(r, v, aw, home.end.Add(r.dur(gapMin, gapMax)), b, false, &att)
	return home, att, aw
}

func inCountry() *beh {
	return &beh{newGeo: true, newDevice: true, newIP: true, newState: true, newCity: true, velocity: true}
}

// scTravelDomestic: New York, then 80-95 minutes later Los Angeles from a
// cloud (datacenter) address: ~3 900 km inside one country.
func scTravelDomestic(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victimIn(blackoutAround(sc.mid()), "New York", "Boston")
	n := g.w.net(NetHosting, "Los Angeles")[sc.n%2] // Linode or Google Cloud
	home, att, aw := g.travel(r, sc, v, n, uaWinChrome, 80*time.Minute, 95*time.Minute, inCountry())
	home.merge(&att)
	g.label("impossible_travel", v.login, aw.ip.String(), &home, sc, false)
	return nil
}

// scTravelNeighbour: between bordering countries, fast enough: Germany ->
// Paris (OVH) in 35-50 min, or New York -> Toronto (DigitalOcean) in 25-35.
func scTravelNeighbour(g *gen, r *rnd, sc *scenCtx) error {
	var v *user
	var n *Network
	lo, hi := 35*time.Minute, 50*time.Minute
	if sc.n%2 == 1 {
		v = g.victimIn(blackoutAround(sc.mid()), "Berlin", "Munich")
		n = g.w.net(NetHosting, "Paris")[0]
	} else {
		v = g.victimIn(blackoutAround(sc.mid()), "New York", "Boston")
		n = g.w.net(NetHosting, "Toronto")[0]
		lo, hi = 25*time.Minute, 35*time.Minute
	}
	b := inCountry()
	b.newCountry = n.City.Country != v.home.Country
	home, att, aw := g.travel(r, sc, v, n, uaHeadless, lo, hi, b)
	home.merge(&att)
	g.label("impossible_travel", v.login, aw.ip.String(), &home, sc, false)
	g.label("infrequent_country", v.login, aw.ip.String(), &att, sc, true)
	return nil
}

// scTravelBelow: just below impossible_travel's defaults: London -> Paris
// in 20-30 min (344 km, under minDistanceKm 500), or New York -> Chicago in
// 100-110 min (1 145 km at ~650 km/h, under speedKmh 900).
func scTravelBelow(g *gen, r *rnd, sc *scenCtx) error {
	var v *user
	var n *Network
	lo, hi := 20*time.Minute, 30*time.Minute
	if sc.n%2 == 1 {
		v = g.victimIn(blackoutAround(sc.mid()), "London")
		n = g.w.net(NetResidential, "Paris")[0]
	} else {
		v = g.victimIn(blackoutAround(sc.mid()), "New York")
		n = g.w.net(NetResidential, "Chicago")[1]
		lo, hi = 100*time.Minute, 110*time.Minute
	}
	b := inCountry()
	b.velocity = false
	b.newCountry = n.City.Country != v.home.Country
	home, att, aw := g.travel(r, sc, v, n, uaWinChrome, lo, hi, b)
	home.merge(&att)
	g.nearMiss("impossible_travel", v.login, aw.ip.String(), &home, sc)
	return nil
}

// failSeries emits n failed sign-ins of v from w, gap(i) apart.
func (g *gen) failSeries(r *rnd, v *user, w *where, t time.Time, n int, gap func(int) time.Duration, k *track) time.Time {
	for i := 0; i < n; i++ {
		g.emitT(k, r, failEv(t, v.actor(), w, "user.session.start"))
		t = t.Add(gap(i))
	}
	return t
}

func jitter(r *rnd, lo, hi time.Duration) func(int) time.Duration {
	return func(int) time.Duration { return r.dur(lo, hi) }
}

func every(d time.Duration) func(int) time.Duration { return func(int) time.Duration { return d } }

// scFailedThreshold: exactly minFailures (10) failures in under 4 minutes
// from a hosting provider in the victim's country.
func scFailedThreshold(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(30 * time.Hour)})
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, v), uaPython)
	var k track
	g.failSeries(r, v, aw, sc.at(v, 2+r.Float64()*4), 10, jitter(r, 15*time.Second, 25*time.Second), &k)
	g.label("failed_logins", v.login, aw.ip.String(), &k, sc, false)
	return nil
}

// scFailedBelow: 9 failures (one under minFailures), then the attacker stops.
func scFailedBelow(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(30 * time.Hour)})
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, v), uaPython)
	var k track
	g.failSeries(r, v, aw, sc.at(v, 2+r.Float64()*4), 9, jitter(r, 15*time.Second, 25*time.Second), &k)
	g.nearMiss("failed_logins", v.login, aw.ip.String(), &k, sc)
	return nil
}

// scFailedPaced: a brute force paced at exactly 30 s (24 tries) or 60 s
// (45 tries) from a hosting provider: the shape of a misconfigured client,
// but from a source that never signed the user in.
func scFailedPaced(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(30 * time.Hour)})
	n, period, tries, ua := g.netIn(NetHosting, "Amsterdam"), 30*time.Second, 24, uaPython
	if sc.n%2 == 0 {
		n, period, tries, ua = g.sameCountryNet(NetHosting, v), 60*time.Second, 45, uaHeadless
	}
	aw := attackerWhere(r, n, ua)
	var k track
	g.failSeries(r, v, aw, sc.at(v, 1+r.Float64()*3), tries, every(period), &k)
	g.label("failed_logins", v.login, aw.ip.String(), &k, sc, false)
	return nil
}

// scFailedLowAndSlow: 10 bursts of 3 failures, 33-38 min apart (about 5.5
// hours, 30 failures), each burst from another hosting address: no 5-minute
// window and no 30-minute session ever holds more than 3.
func scFailedLowAndSlow(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(36 * time.Hour)})
	hosts := g.w.byKind[NetHosting]
	t := sc.at(v, 0.5+r.Float64()*2)
	var k track
	var ips []string
	for b := 0; b < 10; b++ {
		aw := attackerWhere(r, hosts[(b*5+sc.n)%len(hosts)], uaFirefoxLx)
		ips = append(ips, aw.ip.String())
		g.failSeries(r, v, aw, t, 3, jitter(r, 8*time.Second, 20*time.Second), &k)
		t = t.Add(r.dur(33*time.Minute, 38*time.Minute))
	}
	g.labels = append(g.labels, Label{Detector: "failed_logins", Actor: v.login, IP: ips[0], IPs: ips[1:], Start: k.start, End: k.end,
		EventIDs: append([]string(nil), k.ids...), Scenario: sc.id})
	return nil
}

// scSprayThreshold: one source, exactly minUsers (10) users, 1-2 tries each.
func scSprayThreshold(g *gen, r *rnd, sc *scenCtx) error {
	aw := attackerWhere(r, g.netIn(NetHosting, "Frankfurt"), uaPython)
	var k track
	g.sprayN(r, aw, sc.utc(float64(1+r.IntN(5))), g.sprayTargets(r, 10), false, &k)
	g.label("password_spray", "", aw.ip.String(), &k, sc, false)
	return nil
}

// scSprayBelow: one source, 9 users (one under minUsers), then one of them
// signs in from it: neither password_spray nor the self-derived spray IP of
// suspicious_ip may fire.
func scSprayBelow(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States")
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, v), uaPython)
	var k, s track
	t := g.sprayN(r, aw, sc.at(v, 5+r.Float64()*2), append(g.sprayTargets(r, 8, v), v), false, &k)
	b := allNew()
	b.newCountry, b.newState = false, false
	g.attackSignIn(r, v, aw, t.Add(r.dur(20*time.Minute, 40*time.Minute)), b, false, &s)
	g.nearMiss("password_spray", "", aw.ip.String(), &k, sc)
	g.nearMiss("suspicious_ip", v.login, aw.ip.String(), &s, sc)
	return nil
}

// scSprayDistributed: six addresses of one hosting ASN with one user agent,
// four users each (24 users) in about 25 minutes: no single source reaches
// minUsers.
func scSprayDistributed(g *gen, r *rnd, sc *scenCtx) error {
	var nets []*Network
	for _, n := range g.w.byKind[NetHosting] {
		if n.ASN == 9009 { // M247
			nets = append(nets, n)
		}
	}
	targets := g.sprayTargets(r, 24)
	t0 := sc.utc(float64(2 + r.IntN(4)))
	var k track
	var ips []string
	for i := 0; i < 6; i++ {
		aw := attackerWhere(r, nets[i%len(nets)], uaPython)
		ips = append(ips, aw.ip.String())
		t := t0.Add(time.Duration(i) * 40 * time.Second)
		for _, u := range targets[i*4 : i*4+4] {
			g.emitT(&k, r, failEv(t, u.actor(), aw, "user.session.start"))
			t = t.Add(r.dur(3*time.Minute, 6*time.Minute))
		}
	}
	g.labels = append(g.labels, Label{Detector: "password_spray", IP: ips[0], IPs: ips[1:], Start: k.start, End: k.end,
		EventIDs: append([]string(nil), k.ids...), Scenario: sc.id})
	return nil
}

// scFatigueThreshold: exactly minBad (5) denied pushes, then approval.
func scFatigueThreshold(g *gen, r *rnd, sc *scenCtx) error {
	g.pushBombing(r, sc, 5, func(int) bool { return true }, true, "mfa_fatigue")
	return nil
}

// scFatigueBelow: 4 denied pushes, then the attacker gives up.
func scFatigueBelow(g *gen, r *rnd, sc *scenCtx) error {
	g.pushBombing(r, sc, 4, func(int) bool { return true }, false, "!mfa_fatigue", "?mfa_abandonment")
	return nil
}

// scAdminConsoleNewDevice: an admin's password and push used from a new
// device on a new residential address of the admin's own country (another
// ISP), reaching the Admin Console: Okta's New Device and New IP behaviours
// are POSITIVE; nothing else is unusual.
func scAdminConsoleNewDevice(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(5 + sc.n)
	a.blackout = append(a.blackout, span{sc.day.Add(-6 * time.Hour), sc.day.Add(30 * time.Hour)})
	var n *Network
	for _, x := range g.w.byKind[NetResidential] {
		if x.City.Country == a.home.Country && x.ASN != a.homeNet.ASN {
			n = x
			break
		}
	}
	aw := attackerWhere(r, n, uaWinEdge)
	var k track
	sess, t := g.signIn(r, a, aw, sc.at(a, 20+r.Float64()*2), signInOpts{forced: &beh{newIP: true, newDevice: true}}, &k)
	t = t.Add(r.dur(time.Minute, 3*time.Minute))
	g.emitT(&k, r, baseEv(t, a.actor(), aw, sess, "user.session.access_admin_app"))
	g.label("unusual_admin", a.login, aw.ip.String(), &k, sc, false)
	g.applyLabels(adminTakeover, a.login, aw.ip.String(), &k, sc, false)
	return nil
}

// scSupportReset: a password reset performed as Okta Support
// (system@okta.com, no client, transaction "unknown"), then a sign-in with
// the new password from a hosting address.
func scSupportReset(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), "United States", "United Kingdom")
	sys := actorRef{ID: "00u0oktasystem00000", Type: "SystemPrincipal", AltID: "system@okta.com", Name: "Okta System"}
	var k track
	t := sc.at(v, 13+r.Float64()*4)
	e := adminEv(t, sys, nil, "", "user.account.reset_password", v.target())
	e.job, e.txID, e.threat = true, "unknown", ""
	e.reqURI, e.url = "", ""
	g.emitT(&k, r, e)
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, v), uaWinChrome)
	b := allNew()
	b.newCountry, b.newState = false, false
	g.attackSignIn(r, v, aw, t.Add(r.dur(15*time.Minute, 40*time.Minute)), b, false, &k)
	g.labels = append(g.labels, Label{Detector: "okta_support_reset", Actor: sys.AltID, Target: v.login, Start: k.start, End: k.end,
		EventIDs: append([]string(nil), k.ids[:1]...), Scenario: sc.id})
	return nil
}

// scLastFactorRemoved: a user's own session deactivates Okta Verify and
// then the TOTP factor, leaving none: from a hosting address after a
// new-device sign-in (odd), or from the user's home (even).
func scLastFactorRemoved(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()))
	w := homeWhere(v)
	b := &beh{}
	if sc.n%2 == 1 {
		w = attackerWhere(r, g.sameCountryNet(NetHosting, v), uaWinChrome)
		b = &beh{newIP: true, newDevice: true}
	}
	var k track
	sess, t := g.signIn(r, v, w, sc.at(v, 14+r.Float64()*5), signInOpts{forced: b}, &k)
	for _, f := range []struct{ id, name, typ string }{{"opf", "Okta Verify", "OKTA_VERIFY"}, {"uft", "Google Authenticator", "GOOGLE_AUTHENTICATOR"}} {
		t = t.Add(r.dur(time.Minute, 5*time.Minute))
		e := adminEv(t, v.actor(), w, sess, "user.mfa.factor.deactivate", v.target(),
			targetRef{ID: f.id + shortHash(v.id+f.typ), Type: "AuthenticatorEnrollment", AltID: "unknown", Name: f.name, Detail: [][2]string{{"methodTypeUsed", f.name}}})
		e.extra = [][2]string{{"factor", f.typ}}
		g.emitT(&k, r, e)
	}
	g.label("mfa_last_factor_removed", v.login, w.ip.String(), &k, sc, false)
	return nil
}

// scAdminLockout: a lone lockout of an admin: four wrong passwords from a
// hosting address, then user.account.lock (far under failed_logins).
func scAdminLockout(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(3 + sc.n)
	aw := attackerWhere(r, g.sameCountryNet(NetHosting, a), uaPython)
	var k track
	t := g.failSeries(r, a, aw, sc.at(a, 3+r.Float64()*2), 4, jitter(r, 10*time.Second, 30*time.Second), &k)
	g.emitT(&k, r, lockEv(t, a, aw))
	g.label("account_lockouts", a.login, aw.ip.String(), &k, sc, false)
	return nil
}
