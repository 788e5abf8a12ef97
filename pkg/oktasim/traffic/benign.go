package traffic

import (
	"fmt"
	"sort"
	"time"
)

// planTrips gives travellers a first trip inside the learning week (so the
// destination is in their history) and later trips to the same place.
func (g *gen) planTrips() {
	days := g.cfg.Days
	for _, u := range g.o.users {
		if !u.p.has(pTraveller) {
			continue
		}
		r := newRnd(uint64(g.cfg.Seed), 0x7419+uint64(u.idx)) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
		dests := travelDest[u.home.Country]
		dc := cities[dests[r.IntN(len(dests))]]
		res := g.w.net(NetResidential, dc.Name)
		if len(res) == 0 {
			continue
		}
		starts := []int{1 + r.IntN(2)}
		for d := starts[0] + 9 + r.IntN(4); d < days-3; d += 9 + r.IntN(6) {
			starts = append(starts, d)
		}
		for _, sd := range starts {
			dist := distanceKm(u.home.Lat, u.home.Lon, dc.Lat, dc.Lon)
			flight := time.Duration((dist/800 + 0.75) * float64(time.Hour))
			dayLocal := time.Date(g.start.Year(), g.start.Month(), g.start.Day()+sd, 0, 0, 0, 0, u.tz)
			depart := dayLocal.Add(time.Duration(10+r.IntN(6)) * time.Hour)
			arrive := depart.Add(flight)
			stay := 2 + r.IntN(3)
			destTZ := time.FixedZone(dc.Name, int(dc.UTCOffset*3600))
			al := arrive.In(destTZ)
			leave := time.Date(al.Year(), al.Month(), al.Day()+stay, 14+r.IntN(5), 0, 0, 0, destTZ)
			back := leave.Add(flight)
			n := res[r.IntN(len(res))]
			u.trips = append(u.trips, trip{dest: dc, net: n, ip: hostAt(n, r.Uint64()), depart: depart, arrive: arrive, leave: leave, back: back})
			g.traps = append(g.traps, Trap{Kind: "traveller", Actor: u.login, Start: depart, End: back,
				Note: fmt.Sprintf("flight %s -> %s (%.0f km, %.1f h) and back; destination first visited in the learning week", u.home.Name, dc.Name, dist, flight.Hours())})
		}
	}
}

// tripAt reports where the user is at t: the trip (nil at home) and whether
// the user is in the air or at an airport (no sign-ins).
func (u *user) tripAt(t time.Time) (*trip, bool) {
	for i := range u.trips {
		tr := &u.trips[i]
		if t.After(tr.depart.Add(-90*time.Minute)) && t.Before(tr.arrive.Add(2*time.Hour)) {
			return tr, true
		}
		if t.After(tr.leave.Add(-90*time.Minute)) && t.Before(tr.back.Add(2*time.Hour)) {
			return tr, true
		}
		if !t.Before(tr.arrive) && t.Before(tr.leave) {
			return tr, false
		}
	}
	return nil, false
}

// session is one planned interactive session.
type session struct {
	start  time.Time
	length time.Duration
	mobile bool
	kind   string // "work", "short", "evening"
	admin  bool
}

// userDay generates one local day of a human user's benign traffic.
func (g *gen) userDay(u *user, d int) {
	r := newRnd(uint64(g.cfg.Seed), uint64(u.idx+1)<<16|uint64(d)) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	// the day is in the timezone of where the user is at local noon
	noon := time.Date(g.start.Year(), g.start.Month(), g.start.Day()+d, 12, 0, 0, 0, u.tz)
	tz := u.tz
	if tr, _ := u.tripAt(noon); tr != nil {
		tz = time.FixedZone(tr.dest.Name, int(tr.dest.UTCOffset*3600))
	}
	midnight := time.Date(noon.Year(), noon.Month(), noon.Day(), 0, 0, 0, 0, tz)
	wd := midnight.Weekday()
	weekend := wd == time.Saturday || wd == time.Sunday
	at := func(h float64) time.Time { return midnight.Add(time.Duration(h * float64(time.Hour))) }

	var ss []session
	if !weekend {
		if r.chance(0.94) || u.p.has(pAdmin) || u.p.has(pSecAdmin) {
			st := u.workStart + r.NormFloat64()*0.3
			ss = append(ss, session{start: at(st), length: time.Duration((u.workLen*0.55 + r.Float64()) * float64(time.Hour)), kind: "work", admin: true})
			if r.chance(0.55) {
				ss = append(ss, session{start: at(st + u.workLen*0.55 + 0.6 + r.Float64()*0.5), length: time.Duration((u.workLen*0.4 + r.Float64()*0.5) * float64(time.Hour)), kind: "work"})
			}
		}
		if u.p.has(pMobile) && r.chance(0.3) {
			ss = append(ss, session{start: at(19 + r.Float64()*3), length: time.Duration(10+r.IntN(40)) * time.Minute, mobile: true, kind: "evening"})
		}
	} else if r.chance(0.3) {
		ss = append(ss, session{start: at(10 + r.Float64()*9), length: time.Duration(10+r.IntN(50)) * time.Minute, mobile: u.p.has(pMobile) && r.chance(0.6), kind: "short"})
	}
	// travellers check their mail soon after landing (and after flying home)
	dayUTC := g.start.AddDate(0, 0, d)
	for i := range u.trips {
		tr := &u.trips[i]
		for _, land := range []time.Time{tr.arrive, tr.back} {
			if !land.Before(dayUTC) && land.Before(dayUTC.Add(24*time.Hour)) {
				ss = append(ss, session{start: land.Add(2*time.Hour + r.dur(5*time.Minute, time.Hour)), length: time.Duration(10+r.IntN(30)) * time.Minute, kind: "short"})
			}
		}
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].start.Before(ss[j].start) })
	// everyone with an office desk works there Tuesday to Thursday and from
	// home (or the corporate VPN) on Monday and Friday, admins included
	officeDay := u.p.has(pOffice) && !weekend && (wd == time.Tuesday || wd == time.Wednesday || wd == time.Thursday)
	vpnDay := u.p.has(pVPN) && !weekend && r.chance(0.75)
	pwDone := false
	for si, s := range ss {
		end := s.start.Add(s.length)
		if u.blocked(s.start) || u.blocked(end) {
			continue
		}
		tr, inAir := u.tripAt(s.start)
		if inAir {
			continue
		}
		if tr2, air2 := u.tripAt(end); air2 || tr2 != tr {
			continue
		}
		w := g.pickWhere(r, u, s, tr, officeDay, vpnDay)
		typos := 0
		if x := r.Float64(); x < 0.012 {
			typos = 2
		} else if x < 0.06 {
			typos = 1
		}
		factor := "push"
		if x := r.Float64(); x < 0.12 {
			factor = "totp"
		} else if x < 0.2 {
			factor = "webauthn"
		}
		sess, t := g.signIn(r, u, &w, s.start, signInOpts{typos: typos, factor: factor}, nil)
		// password change early in the first work session of the day
		if u.pwChange == d && !pwDone && !s.mobile {
			pwDone = true
			t = t.Add(r.dur(time.Minute, 5*time.Minute))
			e := baseEv(t, u.actor(), &w, sess, "user.account.update_password")
			e.legacy = "core.user.config.password_update.success"
			e.targets = []targetRef{u.target()}
			g.emit(r, e)
			if !u.reserved && u.idx%5 == 0 {
				g.staleClient(r, u, &w, t)
			}
		}
		// admin work inside the first work session, from wherever the admin
		// works that day: the office, the corporate VPN or home
		if s.admin && u.p&(pAdmin|pSecAdmin|pHelpdesk) != 0 {
			t = g.adminWork(r, u, &w, sess, t, end, d)
		}
		// the help desk answers an evening call from the phone (carrier network)
		if s.mobile && u.p.has(pHelpdesk) && r.chance(0.7) {
			t = g.mobileUnlock(r, u, &w, sess, t)
		}
		g.selfService(r, u, &w, sess, t, d)
		// SSO over the session
		n := 4 + r.IntN(7)
		if s.kind != "work" {
			n = 1 + r.IntN(2)
		}
		step := s.length / time.Duration(n+1)
		for i := 0; i < n; i++ {
			ts := t.Add(step*time.Duration(i) + r.dur(0, step))
			if ts.After(end) {
				break
			}
			ww := w
			if w.mobile && len(u.mobNet) > 0 && r.chance(0.35) {
				// mobile jitter: a new IP of the same carrier (same ASN/country, same UA)
				ww.net = u.mobNet[0]
				if len(u.mobNet) > 1 && r.chance(0.2) {
					ww.net = u.mobNet[1+r.IntN(len(u.mobNet)-1)]
				}
				ww.ip = hostAt(ww.net, r.Uint64())
				u.observe(&ww, ts)
			}
			ap := &appCatalog[u.apps[r.IntN(len(u.apps))]]
			if (ap.name == "aws" || ap.name == "github" || ap.name == "salesforce") && r.chance(0.5) {
				// app sign-on policy step-up: Okta Verify again before the SSO
				v := baseEv(ts, u.actor(), &ww, sess, "user.authentication.verify")
				v.authProv, v.credProv = "FACTOR_PROVIDER", "OKTA_CREDENTIAL_PROVIDER"
				v.extra = [][2]string{{"factor", "OKTA_VERIFY_PUSH"}}
				g.emit(r, v)
				ts = ts.Add(r.dur(3*time.Second, 15*time.Second))
			}
			g.sso(r, u, &ww, sess, ts, ap, nil)
		}
		if r.chance(0.4) {
			e := baseEv(end, u.actor(), &w, sess, "user.session.end")
			g.emit(r, e)
		}
		_ = si
	}
}

// pickWhere chooses the network context of a session.
func (g *gen) pickWhere(r *rnd, u *user, s session, tr *trip, officeDay, vpnDay bool) where {
	w := where{ua: u.desk, dt: u.deskDT, fp: u.deskFP}
	switch {
	case tr != nil:
		w.net, w.ip = tr.net, tr.ip
	case s.mobile:
		w.ua, w.dt, w.fp, w.mobile = u.mob, u.mobDT, "", true
		if r.chance(0.5) || u.p.has(pRelay) {
			w.net, w.ip = u.homeNet, u.homeIPs[0]
			if u.p.has(pRelay) && r.chance(0.7) {
				w.net = u.relayNet
				w.ip = hostAt(u.relayNet, r.Uint64())
			}
			w.mobile = false
		} else {
			w.net = u.mobNet[0]
			w.ip = hostAt(w.net, r.Uint64())
		}
	case officeDay && s.kind == "work":
		w.net = u.officeNet
		ips := g.o.corpIPs[u.officeNet.CIDR]
		w.ip = ips[r.IntN(len(ips))]
	case vpnDay && s.kind == "work":
		w.net = u.vpnNet
		ips := g.o.corpIPs[u.vpnNet.CIDR]
		w.ip = ips[r.IntN(len(ips))]
	case u.p.has(pRelay) && r.chance(0.7):
		w.net = u.relayNet
		w.ip = hostAt(u.relayNet, r.Uint64())
	default:
		w.net = u.homeNet
		w.ip = u.homeIPs[r.IntN(len(u.homeIPs))]
	}
	if w.net.Anonymous {
		w.fp = ""
	}
	return w
}

func tunnelsFor(n *Network) string {
	if !n.Anonymous {
		return ""
	}
	typ := "VPN"
	switch n.Kind {
	case NetTor:
		typ = "TOR"
	case NetPrivateRelay:
		typ = "PROXY"
	}
	return `[{"anonymous":true,"operator":"` + n.Operator + `","type":"` + typ + `"}]`
}

// staleClient is the benign trap of a mail client retrying an old password.
func (g *gen) staleClient(r *rnd, u *user, w *where, t time.Time) {
	ua := &UA{"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)", "Windows 10", "UNKNOWN", "Computer"}
	ww := *w
	ww.ua, ww.dt, ww.fp = ua, "", ""
	t0 := t.Add(3 * time.Minute)
	for i := 0; i < 12; i++ {
		e := baseEv(t0.Add(time.Duration(i)*25*time.Second), u.actor(), &ww, "", "user.session.start")
		e.result, e.reason, e.sev, e.legacy = "FAILURE", "INVALID_CREDENTIALS", "WARN", "core.user_auth.login_failed"
		e.reqURI, e.url = "/api/v1/authn", "/api/v1/authn?"
		g.emit(r, e)
	}
	g.traps = append(g.traps, Trap{Kind: "stale_client_after_password_change", Actor: u.login, Start: t0, End: t0.Add(11 * 25 * time.Second),
		Note: "12 failures, same IP and UA every 25 s, minutes after a password change (failed_logins suppression)"})
}

// routine admin event types, per persona
var (
	adminTypes    = []string{"group.user_membership.add", "group.user_membership.remove", "user.lifecycle.create", "user.lifecycle.activate", "application.user_membership.add", "user.lifecycle.suspend"}
	helpdeskTypes = []string{"user.account.unlock", "user.account.reset_password", "group.user_membership.add"}
)

// synthetic accounts targeted by lifecycle changes (never sign in).
func (g *gen) synthTarget(r *rnd, prefix string) targetRef {
	n := r.IntN(9000) + 1000
	login := fmt.Sprintf("%s.%d@%s", prefix, n, g.o.domain)
	return targetRef{ID: "00u" + shortHash(login), Type: "User", AltID: login, Name: fmt.Sprintf("%s %d", prefix, n)}
}

var groups = []targetRef{
	{ID: "00g1engineering0000", Type: "UserGroup", AltID: "unknown", Name: "Engineering"},
	{ID: "00g1sales0000000000", Type: "UserGroup", AltID: "unknown", Name: "Sales"},
	{ID: "00g1finance00000000", Type: "UserGroup", AltID: "unknown", Name: "Finance"},
	{ID: "00g1contractors0000", Type: "UserGroup", AltID: "unknown", Name: "Contractors"},
	{ID: "00g1vpnusers0000000", Type: "UserGroup", AltID: "unknown", Name: "VPN Users"},
}

// adminWork emits routine admin activity in a trusted session.
func (g *gen) adminWork(r *rnd, u *user, w *where, sess string, t, end time.Time, d int) time.Time {
	t = t.Add(r.dur(time.Minute, 10*time.Minute))
	g.emit(r, baseEv(t, u.actor(), w, sess, "user.session.access_admin_app"))
	var types []string
	n := 0
	switch {
	case u.p.has(pSecAdmin):
		t = g.identityTeam(r, u, w, sess, t, d)
		// a policy tightening on day 2 and day 16: the policy_weakened trap
		if d == 2 || d == 16 {
			t = t.Add(r.dur(2*time.Minute, 20*time.Minute))
			e := adminEv(t, u.actor(), w, sess, "policy.rule.update", targetRef{ID: g.o.ruleID, Type: "PolicyRule", AltID: g.o.policyID, Name: "Default Rule",
				Change: `{"from":{"maxSessionIdleMinutes":120,"maxSessionLifetimeMinutes":720,"factorMode":"2FA"},"to":{"maxSessionIdleMinutes":60,"maxSessionLifetimeMinutes":480,"factorMode":"2FA"}}`})
			g.emit(r, e)
			g.traps = append(g.traps, Trap{Kind: "policy_tightened", Actor: u.login, Start: t, End: t, Note: "policy.rule.update that shortens session lifetime (not a weakening)"})
		}
		return t
	case u.p.has(pHelpdesk):
		types, n = helpdeskTypes, 2+r.IntN(4)
		t = g.helpdeskFactorReset(r, u, w, sess, t, d)
	default:
		types, n = adminTypes, 2+r.IntN(6)
	}
	first := d < 7
	for i := 0; i < n || (first && i < len(types)); i++ {
		typ := types[r.IntN(len(types))]
		if first && i < len(types) {
			typ = types[i] // every routine type appears in the learning week ...
		}
		if d < 9 && lateRoutine(u, typ) {
			continue // ... except for the admins who first use them later
		}
		g.noteLateRoutine(u, typ, t)
		t = t.Add(r.dur(20*time.Second, 6*time.Minute))
		if t.After(end) {
			break
		}
		var tg []targetRef
		switch typ {
		case "user.lifecycle.create", "user.lifecycle.activate":
			tg = []targetRef{g.synthTarget(r, "newhire")}
		case "user.lifecycle.suspend":
			tg = []targetRef{g.synthTarget(r, "contractor")}
		case "group.user_membership.add", "group.user_membership.remove":
			v := g.o.users[r.IntN(len(g.o.users))]
			tg = []targetRef{v.target(), groups[r.IntN(len(groups))]}
		case "application.user_membership.add":
			v := g.o.users[r.IntN(len(g.o.users))]
			ap := appCatalog[r.IntN(len(appCatalog)-1)]
			tg = []targetRef{{ID: "0ua" + shortHash(v.id+ap.id), Type: "AppUser", AltID: v.login, Name: v.name}, {ID: ap.id, Type: "AppInstance", AltID: ap.label, Name: ap.label}, v.target()}
		default:
			v := g.o.users[r.IntN(len(g.o.users))]
			tg = []targetRef{v.target()}
		}
		g.emit(r, adminEv(t, u.actor(), w, sess, typ, tg...))
	}
	return t
}

// automationDay emits the provisioning app's JOB runs and the API-token service user.
func (g *gen) automationDay(d int) {
	r := newRnd(uint64(g.cfg.Seed), 0xa070_0000|uint64(d)) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	day := g.start.AddDate(0, 0, d)
	app := g.o.provApp
	job := func(t time.Time, typ string, tg targetRef, tx string) {
		e := adminEv(t, app, nil, "", typ, tg)
		e.job, e.txType, e.txID, e.clientID = true, "JOB", tx, app.ID
		e.reqURI, e.url, e.threat = "", "", ""
		g.emit(r, e)
	}
	// nightly HR sync at 06:00 UTC
	t := day.Add(6*time.Hour + r.dur(0, 10*time.Minute))
	tx := r.reqID()
	for i, n := 0, 3+r.IntN(10); i < n; i++ {
		t = t.Add(r.dur(2*time.Second, 20*time.Second))
		job(t, "user.account.update_profile", g.o.users[r.IntN(len(g.o.users))].target(), tx)
	}
	if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
		for i, n := 0, r.IntN(3); i < n; i++ {
			nh := g.synthTarget(r, "newhire")
			t = t.Add(r.dur(2*time.Second, 20*time.Second))
			job(t, "user.lifecycle.create", nh, tx)
			t = t.Add(r.dur(time.Second, 5*time.Second))
			job(t, "user.lifecycle.activate", nh, tx)
		}
	}
	// weekly contractor off-boarding: a bulk deactivation, Sunday 05:00 UTC (mass_destructive trap)
	if day.Weekday() == time.Sunday {
		t := day.Add(5*time.Hour + r.dur(0, 5*time.Minute))
		t0 := t
		tx := r.reqID()
		n := 22 + r.IntN(14)
		for i := 0; i < n; i++ {
			t = t.Add(r.dur(3*time.Second, 9*time.Second))
			job(t, "user.lifecycle.deactivate", g.synthTarget(r, "contractor"), tx)
		}
		g.traps = append(g.traps, Trap{Kind: "provisioning_bulk_deactivation", Actor: app.AltID, Start: t0, End: t,
			Note: fmt.Sprintf("%d user.lifecycle.deactivate in one JOB transaction by the HR provisioning app", n)})
	}
	// SCIM service user with an API token, weekdays hourly from the datacenter
	if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
		svc := g.o.svcUser
		w := &where{net: g.w.byKind[NetDatacenter][0], ip: g.o.dcIP, ua: uaOktaSDK}
		for h := 8; h <= 18; h++ {
			t := day.Add(time.Duration(h)*time.Hour + r.dur(0, 50*time.Minute))
			for i, n := 0, 1+r.IntN(3); i < n; i++ {
				typ := "group.user_membership.add"
				if r.chance(0.3) {
					typ = "group.user_membership.remove"
				}
				v := g.o.users[r.IntN(len(g.o.users))]
				e := adminEv(t, svc.actor(), w, "", typ, v.target(), groups[r.IntN(len(groups))])
				e.apiToken = g.o.svcToken
				e.reqURI = "/api/v1/groups/" + groups[0].ID + "/users/" + v.id
				e.url = e.reqURI
				g.emit(r, e)
				t = t.Add(r.dur(time.Second, 30*time.Second))
			}
		}
	}
}

// pentestDay: the authorised red team's account does noisy things weekly.
func (g *gen) pentestDay(d int) {
	u := g.o.pentest
	if d < 8 || (d-8)%7 != 1 || d >= g.cfg.Days {
		return
	}
	r := newRnd(uint64(g.cfg.Seed), 0x9e47_0000|uint64(d)) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	t := time.Date(g.start.Year(), g.start.Month(), g.start.Day()+d, 14, 0, 0, 0, u.tz)
	t0 := t
	pick := func(kind NetKind, city string) *Network {
		ns := g.w.net(kind, city)
		if len(ns) == 0 {
			return g.w.byKind[kind][0]
		}
		return ns[0]
	}
	tor := pick(NetTor, "New York")
	vpn := pick(NetAnonVPN, "New York")
	host := pick(NetHosting, "New York")
	for _, n := range []*Network{tor, vpn} {
		w := &where{net: n, ip: hostAt(n, r.Uint64()), ua: uaFirefoxLx, dt: r.hex(64)}
		sess, tt := g.signIn(r, u, w, t, signInOpts{tunnels: tunnelsFor(n)}, nil)
		g.sso(r, u, w, sess, tt.Add(time.Minute), &appCatalog[3], nil)
		t = t.Add(r.dur(20*time.Minute, 40*time.Minute))
	}
	w := &where{net: host, ip: hostAt(host, r.Uint64()), ua: uaPython}
	for i := 0; i < 14; i++ {
		e := baseEv(t.Add(time.Duration(i)*12*time.Second), u.actor(), w, "", "user.session.start")
		e.result, e.reason, e.sev, e.legacy = "FAILURE", "INVALID_CREDENTIALS", "WARN", "core.user_auth.login_failed"
		g.emit(r, e)
	}
	g.traps = append(g.traps, Trap{Kind: "pentest", Actor: u.login, Start: t0, End: t.Add(14 * 12 * time.Second),
		Note: "authorised red-team account: Tor and commercial-VPN sign-ins and a 14-failure burst; scope it out of detectors"})
}
