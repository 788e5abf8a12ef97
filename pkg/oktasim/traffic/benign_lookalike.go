package traffic

import (
	"fmt"
	"net/netip"
	"time"
)

// The benign look-alikes of issue 11: what real orgs do that resembles an
// attack. Nothing here is labelled, so an alert on it is a false positive;
// Dataset.Traps names the notable instances.
//
//   - admins work from home and the phone as well as the office (their own
//     residential /24s, ASNs, countries; not in Lists.Trusted);
//   - some established admins first use a routine action (activate a user,
//     add a group member) after the learning week;
//   - the identity team rotates an IdP certificate, creates API tokens,
//     grants admin roles and tightens policy, in the learning week and again
//     later;
//   - the help desk resets lost phones (factor reset by another user, then
//     the user enrols a new Okta Verify from home) and passwords;
//   - users reset their own password, replace their phone, lock themselves
//     out;
//   - two employees are suspended for a leave and unsuspended, then sign
//     in again; incident response reactivates 25 accounts in minutes;
//   - service accounts run from AWS, Google Cloud and Azure (hosting ASNs,
//     two AWS regions 3 400 km apart within the hour) and hit rate limits.

// lateRoutine: every other routine admin first uses these routine types
// after the learning week.
func lateRoutine(u *user, typ string) bool {
	return u.p.has(pAdmin) && u.idx%2 == 0 && (typ == "user.lifecycle.activate" || typ == "group.user_membership.add")
}

func (g *gen) noteLateRoutine(u *user, typ string, t time.Time) {
	if !lateRoutine(u, typ) {
		return
	}
	key := u.login + " " + typ
	if g.lateNoted == nil {
		g.lateNoted = map[string]bool{}
	}
	if g.lateNoted[key] {
		return
	}
	g.lateNoted[key] = true
	g.traps = append(g.traps, Trap{Kind: "admin_first_routine_after_learning", Actor: u.login, Start: t, End: t,
		Note: "an established admin's first " + typ + " after the learning week (routine: info at most)"})
}

// identityTeam: the security admin's planned changes (weekdays of the
// first and later weeks).
func (g *gen) identityTeam(r *rnd, u *user, w *where, sess string, t time.Time, d int) time.Time {
	step := func() { t = t.Add(r.dur(2*time.Minute, 15*time.Minute)) }
	note := func(kind, what string) {
		g.traps = append(g.traps, Trap{Kind: kind, Actor: u.login, Start: t, End: t, Note: what})
	}
	switch d {
	case 1, 15:
		step()
		idp := targetRef{ID: "0oa1workforceidp000", Type: "IdentityProvider", AltID: "unknown", Name: "Azure AD (Workforce)", Detail: [][2]string{{"idpType", "SAML2"}}}
		g.emit(r, adminEv(t, u.actor(), w, sess, "system.idp.lifecycle.update", idp))
		note("idp_certificate_rotation", "system.idp.lifecycle.update: the identity team rotates the workforce IdP's signing certificate")
	case 3, 17:
		step()
		e := tokenCreate(t, u.actor(), w, sess, g.o.syncToken, "directory-sync")
		if d == 17 {
			e = tokenCreate(t, u.actor(), w, sess, "00T"+shortHash(g.o.syncToken), "directory-sync-rotated")
		}
		e.extra = [][2]string{{"tokenNetworkCondition", "ZONE"}}
		g.emit(r, e)
		note("api_token_for_integration", "system.api_token.create for the directory-sync integration (used from Google Cloud)")
	case 4, 11, 22:
		step()
		roles := []string{"Help Desk Administrator", "Read-only Administrator", "Group administrator"}
		v := g.o.helpdesk[d%len(g.o.helpdesk)]
		if d != 4 {
			v = g.o.admins[d%len(g.o.admins)]
		}
		tg := v.target()
		tg.Detail = [][2]string{{"privilegeGranted", roles[d%len(roles)]}}
		g.emit(r, adminEv(t, u.actor(), w, sess, "user.account.privilege.grant", tg))
		note("admin_role_granted_by_identity_team", "user.account.privilege.grant "+roles[d%len(roles)]+" to a colleague")
	}
	return t
}

// helpdeskFactorReset: some weekdays the help desk resets a user's factors
// (lost or replaced phone); the user enrols a new Okta Verify from home
// within the hour.
func (g *gen) helpdeskFactorReset(r *rnd, hd *user, w *where, sess string, t time.Time, d int) time.Time {
	if !r.chance(0.2) && d != 2 { // once in the learning week, then some weekdays
		return t
	}
	pool := g.o.plainUsers()
	v := pool[r.IntN(len(pool))]
	t = t.Add(r.dur(2*time.Minute, 20*time.Minute))
	if v.reserved || v.p.has(pPentest) || v.blocked(t) || v.blocked(t.Add(2*time.Hour)) {
		return t
	}
	g.emit(r, adminEv(t, hd.actor(), w, sess, "user.mfa.factor.reset_all", v.target()))
	// the user enrols the new phone from home
	hw := homeWhere(v)
	s2, t2 := g.signIn(r, v, hw, t.Add(r.dur(10*time.Minute, 50*time.Minute)), signInOpts{factor: "none"}, nil)
	fa := adminEv(t2.Add(r.dur(30*time.Second, 3*time.Minute)), v.actor(), hw, s2, "user.mfa.factor.activate", v.target(),
		targetRef{ID: "pfd" + r.base62(17), Type: "AuthenticatorEnrollment", AltID: "unknown", Name: "Okta Verify", Detail: [][2]string{{"methodTypeUsed", "Okta Verify"}}})
	fa.device = &verifyDevice{ID: "guo" + r.base62(17), Name: "New phone", Platform: v.verify.Platform, Version: v.verify.Version}
	g.emit(r, fa)
	g.traps = append(g.traps, Trap{Kind: "helpdesk_factor_reset", Actor: hd.login, Start: t, End: fa.t,
		Note: "help desk resets " + v.login + "'s factors (lost phone); the user enrols a new Okta Verify from home"})
	return t
}

// mobileUnlock: the help desk unlocks an account and adds it to the VPN
// group from the phone, on the carrier's network.
func (g *gen) mobileUnlock(r *rnd, hd *user, home *where, sess string, t time.Time) time.Time {
	if !home.mobile {
		return t // on the home wifi: not the carrier case
	}
	w := *home
	v := g.o.users[r.IntN(len(g.o.users))]
	t = t.Add(r.dur(time.Minute, 5*time.Minute))
	g.emit(r, baseEv(t, hd.actor(), &w, sess, "user.session.access_admin_app"))
	t = t.Add(r.dur(20*time.Second, 2*time.Minute))
	g.emit(r, adminEv(t, hd.actor(), &w, sess, "user.account.unlock", v.target()))
	t = t.Add(r.dur(20*time.Second, 2*time.Minute))
	g.emit(r, adminEv(t, hd.actor(), &w, sess, "group.user_membership.add", v.target(), groups[4]))
	g.traps = append(g.traps, Trap{Kind: "admin_on_mobile_network", Actor: hd.login, Start: t, End: t,
		Note: "help desk unlocks an account from the phone on the carrier's network"})
	return t
}

// selfService: rare self-service actions in a user's session: a forgotten
// password reset by the user, a replaced phone, a lockout (an admin's too).
func (g *gen) selfService(r *rnd, u *user, w *where, sess string, t time.Time, d int) {
	if u.reserved || u.p&(pPentest|pService) != 0 {
		return
	}
	x := r.Float64()
	switch {
	case x < 0.0012: // forgot the password: reset by email link
		e := adminEv(t.Add(-r.dur(2*time.Minute, 5*time.Minute)), u.actor(), w, "", "user.account.reset_password", u.target())
		g.emit(r, e)
		g.traps = append(g.traps, Trap{Kind: "self_service_password_reset", Actor: u.login, Start: e.t, End: e.t, Note: "the user resets a forgotten password"})
	case x < 0.0020: // new phone: old Okta Verify out, new one in
		t1 := t.Add(r.dur(time.Minute, 10*time.Minute))
		e := adminEv(t1, u.actor(), w, sess, "user.mfa.factor.deactivate", u.target(),
			targetRef{ID: "opf" + shortHash(u.id+"ov"), Type: "AuthenticatorEnrollment", AltID: "unknown", Name: "Okta Verify", Detail: [][2]string{{"methodTypeUsed", "Okta Verify"}}})
		g.emit(r, e)
		fa := adminEv(t1.Add(r.dur(time.Minute, 6*time.Minute)), u.actor(), w, sess, "user.mfa.factor.activate", u.target(),
			targetRef{ID: "pfd" + r.base62(17), Type: "AuthenticatorEnrollment", AltID: "unknown", Name: "Okta Verify", Detail: [][2]string{{"methodTypeUsed", "Okta Verify"}}})
		fa.device = &verifyDevice{ID: "guo" + r.base62(17), Name: "New phone", Platform: u.verify.Platform, Version: u.verify.Version}
		g.emit(r, fa)
		g.traps = append(g.traps, Trap{Kind: "phone_replaced", Actor: u.login, Start: t1, End: fa.t, Note: "the user removes the old Okta Verify and enrols the new phone"})
	case x < 0.0026 && !u.p.has(pAdmin|pSecAdmin|pHelpdesk): // locked out: six wrong passwords in a minute, later unlocked by email
		g.selfLockout(r, u, w, t, 6, "user_lockout", "a user locks themselves out and unlocks by email")
	case x < 0.0060 && u.p.has(pAdmin|pSecAdmin|pHelpdesk) && d >= 8: // an admin mistypes where they usually work
		g.selfLockout(r, u, w, t, 5, "admin_lockout_own_network",
			"an admin locks themselves out where they usually work and unlocks by email (account_lockouts' admin pattern must stay quiet)")
	}
}

// selfLockout: typos wrong passwords from w in about a minute before t,
// user.account.lock, then an unlock by email minutes later (a trap).
func (g *gen) selfLockout(r *rnd, u *user, w *where, t time.Time, typos int, kind, note string) {
	t0 := t.Add(-r.dur(10*time.Minute, 30*time.Minute))
	for i := 0; i < typos; i++ {
		g.emit(r, failEv(t0, u.actor(), w, "user.session.start"))
		t0 = t0.Add(r.dur(4*time.Second, 12*time.Second))
	}
	g.emit(r, lockEv(t0, u, w))
	ul := adminEv(t0.Add(r.dur(3*time.Minute, 8*time.Minute)), u.actor(), w, "", "user.account.unlock", u.target())
	g.emit(r, ul)
	g.traps = append(g.traps, Trap{Kind: kind, Actor: u.login, Start: t0, End: ul.t, Note: note})
}

// leaveAndIncidentResponse plans, before the benign days are generated:
// two employees suspended for a leave and unsuspended days later (they sign
// in again), and an incident-response afternoon reactivating 25 accounts.
func (g *gen) leaveAndIncidentResponse() {
	days := g.cfg.Days
	if days < 21 {
		return
	}
	r := newRnd(uint64(g.cfg.Seed), 0x1ea7e) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	n := 0
	for _, u := range g.o.plainUsers() {
		if n == 2 {
			break
		}
		if u.reserved || u.p.has(pPentest) {
			continue
		}
		n++
		u.reserved = true
		a := g.admin(n)
		from := 9 + n*3
		susp := time.Date(g.start.Year(), g.start.Month(), g.start.Day()+from, 17, 30, 0, 0, a.tz).Add(r.dur(0, time.Hour))
		back := time.Date(g.start.Year(), g.start.Month(), g.start.Day()+from+5, 8, 0, 0, 0, u.tz).Add(r.dur(0, 30*time.Minute))
		u.blackout = append(u.blackout, span{susp.Add(-time.Hour), back.Add(time.Hour)})
		w, sess, t := g.adminSession(r, a, susp, nil)
		g.emit(r, adminEv(t.Add(r.dur(time.Minute, 4*time.Minute)), a.actor(), w, sess, "user.lifecycle.suspend", u.target()))
		w2, sess2, t2 := g.adminSession(r, g.o.helpdesk[0], back.Add(-30*time.Minute), nil)
		g.emit(r, adminEv(t2.Add(r.dur(time.Minute, 3*time.Minute)), g.o.helpdesk[0].actor(), w2, sess2, "user.lifecycle.unsuspend", u.target()))
		g.signIn(r, u, homeWhere(u), back.Add(r.dur(20*time.Minute, 50*time.Minute)), signInOpts{}, nil)
		g.traps = append(g.traps, Trap{Kind: "leave_suspend_unsuspend", Actor: u.login, Start: susp, End: back,
			Note: "suspended for a leave, unsuspended by the help desk, signs in again (not a dormant account)"})
	}
	// incident response: an admin reactivates 25 contractor accounts the HR
	// sync deactivated by mistake, in about 8 minutes
	a := g.admin(2)
	t0 := time.Date(g.start.Year(), g.start.Month(), g.start.Day()+days-9, 15, 0, 0, 0, a.tz)
	w, sess, t := g.adminSession(r, a, t0, nil)
	start := t
	for i := 0; i < 25; i++ {
		t = t.Add(r.dur(10*time.Second, 30*time.Second))
		g.emit(r, adminEv(t, a.actor(), w, sess, "user.lifecycle.reactivate", g.synthTarget(r, "contractor")))
	}
	g.traps = append(g.traps, Trap{Kind: "incident_response_reactivation", Actor: a.login, Start: start, End: t,
		Note: fmt.Sprintf("25 user.lifecycle.reactivate in %s by an admin undoing a wrong HR-sync batch", t.Sub(start).Round(time.Minute))})
}

// serviceDay: the service accounts' traffic from public clouds.
func (g *gen) serviceDay(d int) {
	day := g.start.AddDate(0, 0, d)
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return
	}
	r := newRnd(uint64(g.cfg.Seed), 0x5e7c_0000|uint64(d)) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	// CI runners in two AWS regions (Oregon and Virginia) sign in with a
	// password (no MFA by policy for the service account) and SSO to GitHub
	ci := g.o.ciUser
	aws := []*Network{g.w.net(NetHosting, "Boardman")[0], g.w.net(NetHosting, "Ashburn")[0]}
	for h := 7; h <= 20; h += 1 + r.IntN(2) {
		n := aws[r.IntN(2)]
		w := &where{net: n, ip: hostAt(n, uint64(40+r.IntN(8))), ua: uaCI} // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
		sess, t := g.signIn(r, ci, w, day.Add(time.Duration(h)*time.Hour+r.dur(0, 50*time.Minute)), signInOpts{factor: "none"}, nil)
		g.sso(r, ci, w, sess, t.Add(r.dur(time.Second, 10*time.Second)), &appCatalog[6], nil)
	}
	// directory sync from Google Cloud with the identity team's API token
	if d < 3 {
		return
	}
	sync := g.o.syncUser
	gcp := g.w.net(NetHosting, "Council Bluffs")[0]
	w := &where{net: gcp, ip: hostAt(gcp, 77), ua: uaOktaSDK}
	tok := g.o.syncToken
	if d > 17 {
		tok = "00T" + shortHash(g.o.syncToken)
	}
	for h := 9; h <= 19; h += 2 {
		t := day.Add(time.Duration(h)*time.Hour + r.dur(0, 40*time.Minute))
		if d == 3 && h < 14 {
			continue
		}
		for i, n := 0, 2+r.IntN(4); i < n; i++ {
			v := g.o.users[r.IntN(len(g.o.users))]
			e := adminEv(t, sync.actor(), w, "", "group.user_membership.add", v.target(), groups[r.IntN(len(groups))])
			e.apiToken = tok
			g.emit(r, e)
			t = t.Add(r.dur(time.Second, 20*time.Second))
		}
		// the sync bursts into the org rate limit twice a week (warning) and
		// exceeds it on the second and fourth Thursday
		if h == 11 && (day.Weekday() == time.Tuesday || day.Weekday() == time.Thursday) {
			typ := "system.org.rate_limit.warning"
			if day.Weekday() == time.Thursday && (d/7)%2 == 1 {
				typ = "system.org.rate_limit.violation"
			}
			e := adminEv(t, sync.actor(), w, "", typ)
			e.sev = "WARN"
			e.apiToken = tok
			e.extra = [][2]string{{"rateLimitBucketUri", "/api/v1/groups/{groupId}/users"}, {"rateLimitScopeType", "ORG"}, {"rateLimitSecondsToReset", "41"}, {"threshold", "80"}}
			g.emit(r, e)
			g.traps = append(g.traps, Trap{Kind: "rate_limit", Actor: sync.login, Start: t, End: t, Note: typ + " from the directory sync"})
		}
	}
}

var uaCI = &UA{"Apache-HttpClient/4.5.14 (Java/17.0.9)", "Linux", "UNKNOWN", "Unknown"}

// newServiceUser builds a non-human account (not in Dataset.Users).
func newServiceUser(r *rnd, login, name, city string) *user {
	c := cities[city]
	return &user{idx: -1, id: "00u" + r.base62(17), login: login, name: name, home: c, p: pService,
		tz: time.FixedZone(c.Name, int(c.UTCOffset*3600)), verify: verifyDevice{ID: "guo" + r.base62(17), Name: name, Platform: "IOS", Version: "17"},
		seenIP: map[netip.Addr]bool{}, seenCity: map[string]bool{}, seenCountry: map[string]bool{}, seenDT: map[string]bool{}}
}
