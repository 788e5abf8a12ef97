package traffic

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// scenario is one attack kind. Most kinds are one of two shapes, written
// as data: signInAttack (a plain victim signs in from an attacker's
// network) and adminAction (an admin's session does something); the rest
// have their own builder.
type scenario struct {
	kind      string
	detectors []string // required labels; used by the AttackKinds filter and Detectors()
	instances int
	// extended marks the near-threshold and evasion cases: they need a
	// month (Days >= 21) and are not started live by a Stream.
	extended bool
	run      func(g *gen, r *rnd, s *scenCtx) error
}

type scenCtx struct {
	id  string    // kind#n
	n   int       // instance number (1-based)
	day time.Time // UTC midnight of the attack day
	// fixed, when set (live attacks), is the start of the attack.
	fixed time.Time
}

// kind is the scenario kind (the id without "#n").
func (s *scenCtx) kind() string { return strings.SplitN(s.id, "#", 2)[0] }

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

// scenarioTable lists every attack kind. The first block is the classic set
// (one attack per detector, well above its threshold); the extended block
// places attacks just above and just below each detector's default
// threshold (a "!" label: that detector must not alert) and the evasions of
// issue 11.
var scenarioTable = []scenario{
	{"impossible_travel", []string{"impossible_travel"}, 2, false, scImpossibleTravel},
	{"infrequent_country", []string{"infrequent_country"}, 2, false, signInAttack{
		net: farResidential(1), labels: []string{"infrequent_country"}}.run},
	{"anonymous_ip", []string{"anonymous_ip"}, 2, false, signInAttack{
		countries: []string{"United States", "United Kingdom"}, hour: 10, net: anonymousNet, ua: uaFirefoxLx, sameCountry: true,
		labels: []string{"anonymous_ip", "?risky_ip_logon", "~infrequent_country"}}.run},
	{"suspicious_ip", []string{"suspicious_ip"}, 1, false, signInAttack{
		countries: []string{"United States", "United Kingdom"}, hour: 10, net: threatIntelNet, ua: uaHeadless, sameCountry: true,
		labels: []string{"suspicious_ip", "?risky_ip_logon"}}.run},
	{"threat_then_signin", []string{"suspicious_ip", "security_threat_detected"}, 1, false, scThreatThenSignIn},
	{"failed_logins", []string{"failed_logins"}, 2, false, scFailedLogins},
	{"password_spray", []string{"password_spray"}, 1, false, scPasswordSpray},
	{"spray_then_success", []string{"password_spray", "suspicious_ip"}, 1, false, scSprayThenSuccess},
	{"mfa_fatigue", []string{"mfa_fatigue"}, 2, false, scMFAFatigue},
	{"session_hijack", []string{"session_hijack"}, 2, false, scSessionHijack},
	{"unusual_admin_new_types", []string{"unusual_admin"}, 1, false, adminAction{admin: 0, hour: 13, emit: emitAppCreate,
		labels: []string{"unusual_admin", "?app_lifecycle"}}.run},
	{"unusual_admin_untrusted_ip", []string{"unusual_admin"}, 1, false, scAdminUntrustedIP},
	{"unusual_admin_volume", []string{"unusual_admin"}, 1, false, scAdminVolume},
	{"mass_destructive", []string{"mass_destructive"}, 1, false, adminAction{admin: 0, hour: 16, emit: emitMassDeactivate(30),
		labels: []string{"mass_destructive", "?unusual_admin"}}.run},
	{"mass_destructive_log_stream", []string{"mass_destructive", "log_stream_tampering"}, 1, false, scMassWithLogStream},
	{"mass_destructive_new_token", []string{"mass_destructive", "api_token_created"}, 1, false, scMassNewToken},
	{"risky_ip_logon", []string{"risky_ip_logon"}, 2, false, signInAttack{
		countries: []string{"United States", "United Kingdom"}, hour: 10, net: riskyNet, ua: uaWinChrome, sameCountry: true,
		labels: []string{"risky_ip_logon"}}.run},
	{"admin_role_granted", []string{"admin_role_granted"}, 2, false, adminAction{admin: 0, hour: 14, emit: emitRoleGrant,
		labels: []string{"admin_role_granted", "?unusual_admin"}}.run},
	{"api_token_created", []string{"api_token_created"}, 1, false, adminAction{admin: 1, hour: 10, emit: emitTokenCreate,
		labels: []string{"api_token_created", "?unusual_admin"}}.run},
	{"idp_lifecycle", []string{"idp_lifecycle"}, 1, false, adminAction{admin: 0, hour: 15, emit: emitIdPCreate,
		labels: []string{"idp_lifecycle", "?unusual_admin"}}.run},
	{"policy_weakened", []string{"policy_weakened"}, 2, false, adminAction{admin: 0, hour: 17, emit: emitPolicyWeakened,
		labels: []string{"policy_weakened", "?unusual_admin", "?policy_modified"}}.run},
	{"log_stream_tampering", []string{"log_stream_tampering"}, 1, false, adminAction{admin: 2, hour: 18, emit: emitLogStream,
		labels: []string{"log_stream_tampering", "?unusual_admin"}}.run},
	{"support_impersonation", []string{"support_impersonation"}, 1, false, scSupportImpersonation},
	{"helpdesk_chain", []string{"helpdesk_chain", "mfa_factor_reset_by_other"}, 1, false, scHelpdeskChain},
	{"dormant_account_activity", []string{"dormant_account_activity"}, 1, false, scDormant},
	{"security_threat_detected", []string{"security_threat_detected"}, 1, false, scThreatDetected},
	{"org_under_attack", []string{"org_under_attack", "password_spray"}, 1, false, scOrgUnderAttack},
	{"fastpass_phishing", []string{"fastpass_phishing"}, 1, false, scFastPassPhishing},
	{"user_reported_suspicious", []string{"user_reported_suspicious"}, 1, false, scUserReported},
	{"mfa_factor_reset_by_other", []string{"mfa_factor_reset_by_other"}, 1, false, adminAction{helpdesk: true, hour: 10, emit: emitFactorReset,
		labels: []string{"mfa_factor_reset_by_other", "?unusual_admin"}}.run},

	// ---- extended: near-threshold cases and evasions (issue 11) ----
	{"travel_domestic_datacenter", []string{"impossible_travel"}, 1, true, scTravelDomestic},
	{"travel_neighbour", []string{"impossible_travel"}, 2, true, scTravelNeighbour},
	{"travel_below", nil, 2, true, scTravelBelow},
	{"infrequent_country_rare", []string{"infrequent_country"}, 1, true, signInAttack{
		net: farResidential(3), labels: []string{"infrequent_country"}}.run},
	{"anonymous_ip_tor", []string{"anonymous_ip"}, 1, true, signInAttack{
		countries: []string{"Germany", "United Kingdom"}, hour: 20, net: anonymousNet, ua: uaFirefoxLx, sameCountry: true,
		labels: []string{"anonymous_ip", "?risky_ip_logon", "~infrequent_country"}}.run},
	{"suspicious_ip_feed", []string{"suspicious_ip"}, 1, true, signInAttack{
		countries: []string{"United States", "United Kingdom"}, hour: 15, net: threatIntelNet, ua: uaHeadless, sameCountry: true,
		labels: []string{"suspicious_ip", "?risky_ip_logon"}}.run},
	{"failed_logins_threshold", []string{"failed_logins"}, 1, true, scFailedThreshold},
	{"failed_logins_below", nil, 1, true, scFailedBelow},
	{"failed_logins_paced", []string{"failed_logins"}, 2, true, scFailedPaced},
	{"failed_logins_low_and_slow", []string{"failed_logins"}, 1, true, scFailedLowAndSlow},
	{"password_spray_threshold", []string{"password_spray"}, 1, true, scSprayThreshold},
	{"password_spray_below", nil, 1, true, scSprayBelow},
	{"password_spray_distributed", []string{"password_spray"}, 1, true, scSprayDistributed},
	{"mfa_fatigue_threshold", []string{"mfa_fatigue"}, 1, true, scFatigueThreshold},
	{"mfa_fatigue_below", nil, 1, true, scFatigueBelow},
	{"session_hijack_datacenter", []string{"session_hijack"}, 1, true, scSessionHijack},
	{"unusual_admin_high_impact", []string{"unusual_admin"}, 2, true, adminAction{admin: 3, hour: 11, emit: emitHighImpactFirst,
		labels: []string{"unusual_admin", "?network_zone_changed", "?mfa_factor_reset_by_other"}}.run},
	{"unusual_admin_admin_console", []string{"unusual_admin"}, 1, true, scAdminConsoleNewDevice},
	{"unusual_admin_volume_below", nil, 1, true, adminAction{admin: 3, hour: 15, emit: emitGroupRemovals(9),
		labels: []string{"!unusual_admin"}}.run},
	{"mass_destructive_threshold", []string{"mass_destructive"}, 1, true, adminAction{admin: 4, hour: 16, emit: emitMassDeactivate(20),
		labels: []string{"mass_destructive", "?unusual_admin"}}.run},
	{"mass_destructive_below", nil, 1, true, adminAction{admin: 5, hour: 15, emit: emitMassDeactivate(19),
		labels: []string{"!mass_destructive", "?unusual_admin"}}.run},
	{"risky_ip_logon_uk", []string{"risky_ip_logon"}, 1, true, signInAttack{
		countries: []string{"United Kingdom"}, hour: 14, net: riskyNet, ua: uaWinChrome, sameCountry: true,
		labels: []string{"risky_ip_logon"}}.run},
	{"okta_support_reset", []string{"okta_support_reset"}, 2, true, scSupportReset},
	{"mfa_last_factor_removed", []string{"mfa_last_factor_removed"}, 2, true, scLastFactorRemoved},
	{"admin_lockout", []string{"account_lockouts"}, 2, true, scAdminLockout},
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

// extended reports whether the near-threshold and evasion scenarios run:
// a month of traffic (Days >= 21) unless Config.NoExtended.
func (g *gen) extended() bool { return !g.cfg.NoExtended && g.cfg.Days >= 21 }

// instances is how many times s runs: in an extended month every kind runs
// at least twice, so three seeds give at least 5 cases per detector.
func (g *gen) instances(s *scenario) int {
	if s.extended && !g.extended() {
		return 0
	}
	if g.extended() {
		return max(2, s.instances)
	}
	return s.instances
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
		maxN = max(maxN, g.instances(&scenarioTable[i]))
	}
	for n := 1; n <= maxN; n++ {
		for i := range scenarioTable {
			s := &scenarioTable[i]
			if n <= g.instances(s) && g.wantScenario(s) {
				all = append(all, inst{s, n})
			}
		}
	}
	first, last := 8, g.cfg.Days-2
	span := last - first + 1
	for i, in := range all {
		day := first + i*span/max(1, len(all))
		sc := &scenCtx{id: fmt.Sprintf("%s#%d", in.s.kind, in.n), n: in.n, day: g.start.AddDate(0, 0, day)}
		r := newRnd(uint64(g.cfg.Seed), 0x5ce0_0000+uint64(i)) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
		if err := in.s.run(g, r, sc); err != nil {
			return fmt.Errorf("traffic: scenario %s: %w", sc.id, err)
		}
	}
	return nil
}

// ---- helpers ----

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

// sameCountryNet returns a network of kind in u's home country (home city
// first); for hosting, any hosting network when the country has none.
func (g *gen) sameCountryNet(kind NetKind, u *user) *Network {
	if n := g.netIn(kind, u.home.Name); n != nil {
		return n
	}
	for _, n := range g.w.byKind[kind] {
		if n.City.Country == u.home.Country {
			return n
		}
	}
	if kind == NetHosting { // no hosting in the country: the nearest big one
		return g.w.byKind[kind][0]
	}
	return nil
}

func attackIP(r *rnd, n *Network) netip.Addr { return hostAt(n, uint64(1000+r.IntN(3000))) } // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)

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

// ---- the two table-driven shapes ----

// signInAttack: a plain victim (preferring countries) signs in from an
// attacker's network with a couple of SSOs; labels as in applyLabels.
type signInAttack struct {
	countries   []string
	hour        float64 // local start hour (plus up to 5 h); 0 means 11
	net         func(g *gen, r *rnd, v *user, sc *scenCtx) (*Network, netip.Addr)
	ua          *UA // default uaWinChrome
	sameCountry bool
	labels      []string
}

func (s signInAttack) run(g *gen, r *rnd, sc *scenCtx) error {
	v := g.victim(blackoutAround(sc.mid()), s.countries...)
	n, ip := s.net(g, r, v, sc)
	if n == nil {
		return fmt.Errorf("no attacker network for a victim in %s", v.home.Name)
	}
	ua := s.ua
	if ua == nil {
		ua = uaWinChrome
	}
	aw := &where{net: n, ip: ip, ua: ua, dt: r.hex(64)}
	b := allNew()
	if s.sameCountry {
		b.newCountry, b.newState = false, false
	}
	h := s.hour
	if h == 0 {
		h = 11
	}
	var k track
	g.attackSignIn(r, v, aw, sc.at(v, h+r.Float64()*5), b, false, &k)
	g.applyLabels(s.labels, v.login, aw.ip.String(), &k, sc, n.City.Country != v.home.Country)
	return nil
}

// adminAction: an admin's trusted office session (Admin Console access)
// followed by what emit does; labels are on the admin.
type adminAction struct {
	admin    int  // routine admin index (plus the instance number - 1)
	helpdesk bool // the help-desk persona instead
	hour     float64
	emit     func(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track)
	labels   []string
}

func (s adminAction) run(g *gen, r *rnd, sc *scenCtx) error {
	a := g.admin(s.admin + sc.n - 1)
	if s.helpdesk {
		a = g.o.helpdesk[(sc.n-1)%len(g.o.helpdesk)]
	}
	var k track
	w, sess, t := g.adminSession(r, a, sc.at(a, s.hour+r.Float64()*2), nil)
	s.emit(g, r, sc, a, w, sess, t.Add(r.dur(time.Minute, 4*time.Minute)), &k)
	g.applyLabels(s.labels, a.login, w.ip.String(), &k, sc, false)
	return nil
}

// applyLabels labels k for each spec: "det" required, "?det" optional,
// "~det" optional when the attacker is abroad (foreign), "!det" a near
// miss (that detector must not alert).
func (g *gen) applyLabels(specs []string, actor, ip string, k *track, sc *scenCtx, foreign bool) {
	for _, s := range specs {
		switch {
		case strings.HasPrefix(s, "?"):
			g.label(s[1:], actor, ip, k, sc, true)
		case strings.HasPrefix(s, "~"):
			if foreign {
				g.label(s[1:], actor, ip, k, sc, true)
			}
		case strings.HasPrefix(s, "!"):
			g.nearMiss(s[1:], actor, ip, k, sc)
		default:
			g.label(s, actor, ip, k, sc, false)
		}
	}
}

// adminTakeover are the rules that may rightly alert when an admin's
// account is used from an attacker's network (optional labels).
var adminTakeover = []string{"?admin_activity_untrusted_ip", "?admin_console_weak_mfa", "?api_token_new_source", "?new_user_created"}

// nearMiss records an attack just below det's threshold: det must not alert.
func (g *gen) nearMiss(det string, actor, ip string, k *track, sc *scenCtx) {
	g.near = append(g.near, Label{Detector: det, Actor: actor, IP: ip, Start: k.start, End: k.end,
		EventIDs: append([]string(nil), k.ids...), Scenario: sc.id})
}

// ---- attacker networks for signInAttack ----

func farResidential(offset int) func(g *gen, r *rnd, v *user, sc *scenCtx) (*Network, netip.Addr) {
	return func(g *gen, r *rnd, v *user, sc *scenCtx) (*Network, netip.Addr) {
		n := g.netIn(NetResidential, farCities[(sc.n*2+offset)%len(farCities)])
		return n, attackIP(r, n)
	}
}

// anonymousNet: a commercial VPN exit (odd instances) or a Tor exit in the
// victim's country (a Tor exit for the "_tor" kinds).
func anonymousNet(g *gen, r *rnd, v *user, sc *scenCtx) (*Network, netip.Addr) {
	kind := NetAnonVPN
	if sc.n%2 == 0 || strings.Contains(sc.id, "_tor#") {
		kind = NetTor
	}
	n := g.sameCountryNet(kind, v)
	if n == nil {
		n = g.w.byKind[kind][0]
	}
	return n, attackIP(r, n)
}

func threatIntelNet(g *gen, r *rnd, v *user, sc *scenCtx) (*Network, netip.Addr) {
	city := "New York"
	if v.home.Country == "United Kingdom" {
		city = "London"
	}
	return g.threatIP(city)
}

func riskyNet(g *gen, r *rnd, v *user, sc *scenCtx) (*Network, netip.Addr) {
	cidr := "198.51.100.0/24"
	if v.home.Country == "United Kingdom" {
		cidr = "192.0.2.0/24"
	}
	for _, x := range g.w.nets {
		if x.CIDR == cidr {
			return x, hostAt(x, uint64(10+r.IntN(200))) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
		}
	}
	return nil, netip.Addr{}
}

// ---- admin actions for adminAction ----

func emitAppCreate(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	ap := targetRef{ID: "0oa" + r.base62(17), Type: "AppInstance", AltID: "Legacy FTP Bridge", Name: "Legacy FTP Bridge"}
	for _, typ := range []string{"application.lifecycle.create", "application.lifecycle.update", "application.lifecycle.update"} {
		g.emitT(k, r, adminEv(t, a.actor(), w, sess, typ, ap))
		t = t.Add(r.dur(30*time.Second, 3*time.Minute))
	}
}

func emitMassDeactivate(n int) func(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	return func(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
		g.massLifecycle(r, a.actor(), w, sess, t, "user.lifecycle.deactivate", n, "", k)
	}
}

func emitGroupRemovals(n int) func(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	return func(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
		perm := r.Perm(len(g.o.users))
		for i := 0; i < n; i++ {
			v := g.o.users[perm[i%len(perm)]]
			g.emitT(k, r, adminEv(t, a.actor(), w, sess, "group.user_membership.remove", v.target(), groups[1]))
			t = t.Add(r.dur(20*time.Second, 60*time.Second))
		}
	}
}

func emitRoleGrant(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	if sc.n%2 == 1 {
		v := g.o.plainUsers()[len(g.o.plainUsers())-sc.n]
		tg := v.target()
		tg.Detail = [][2]string{{"privilegeGranted", "Super administrator"}}
		g.emitT(k, r, adminEv(t, a.actor(), w, sess, "user.account.privilege.grant", tg))
		return
	}
	tg := targetRef{ID: "00g1itops0000000000", Type: "UserGroup", AltID: "unknown", Name: "IT Ops", Detail: [][2]string{{"privilegeGranted", "Organization administrator"}}}
	g.emitT(k, r, adminEv(t, a.actor(), w, sess, "group.privilege.grant", tg))
}

func emitTokenCreate(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	g.emitT(k, r, tokenCreate(t, a.actor(), w, sess, "00T"+r.base62(17), "backup-export"))
}

func emitIdPCreate(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	idp := targetRef{ID: "0oa" + r.base62(17), Type: "IdentityProvider", AltID: "unknown", Name: "Partner SAML IdP", Detail: [][2]string{{"idpType", "SAML2"}}}
	g.emitT(k, r, adminEv(t, a.actor(), w, sess, "system.idp.lifecycle.create", idp))
	g.emitT(k, r, adminEv(t.Add(r.dur(30*time.Second, 3*time.Minute)), a.actor(), w, sess, "system.idp.lifecycle.activate", idp))
}

func emitPolicyWeakened(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	if sc.n%2 == 1 {
		g.emitT(k, r, adminEv(t, a.actor(), w, sess, "policy.rule.update", targetRef{ID: g.o.ruleID, Type: "PolicyRule", AltID: g.o.policyID, Name: "Default Rule",
			Change: `{"from":{"maxSessionIdleMinutes":60,"maxSessionLifetimeMinutes":480,"factorMode":"2FA"},"to":{"maxSessionIdleMinutes":1440,"maxSessionLifetimeMinutes":10080,"factorMode":"1FA"}}`}))
		return
	}
	g.emitT(k, r, adminEv(t, a.actor(), w, sess, "policy.lifecycle.deactivate", targetRef{ID: "00p" + r.base62(17), Type: "PolicyEntity", AltID: "unknown", Name: "Require MFA for all apps",
		Detail: [][2]string{{"policyType", "ACCESS_POLICY"}}}))
}

func emitLogStream(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	g.emitT(k, r, logStreamEv(t, a.actor(), w, sess))
}

func emitFactorReset(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	v := g.victim(span{sc.day.Add(-2 * time.Hour), sc.day.Add(26 * time.Hour)})
	g.emitT(k, r, adminEv(t, a.actor(), w, sess, "user.mfa.factor.reset_all", v.target()))
}

// emitHighImpactFirst: an established routine admin's first use of a
// high-impact action: a network-zone change (odd instances) or a reset of
// another user's factors (even).
func emitHighImpactFirst(g *gen, r *rnd, sc *scenCtx, a *user, w *where, sess string, t time.Time, k *track) {
	if sc.n%2 == 1 {
		g.emitT(k, r, adminEv(t, a.actor(), w, sess, "zone.update", targetRef{ID: "nzo" + r.base62(17), Type: "Zone", AltID: "unknown", Name: "Corporate Network",
			Change: `{"from":{"gateways":["64.125.0.0/20","212.36.0.0/20"]},"to":{"gateways":["64.125.0.0/20","212.36.0.0/20","45.83.220.0/22"]}}`}))
		return
	}
	emitFactorReset(g, r, sc, a, w, sess, t, k)
}
