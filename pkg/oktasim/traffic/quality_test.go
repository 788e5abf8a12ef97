package traffic_test

import (
	"math"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// corpus is one generated month, decoded once with pkg/event.
type corpus struct {
	ds       *traffic.Dataset
	evs      []event.Event
	byID     map[string]*event.Event
	labelled map[string]bool // event ids in any label (required or optional) or near miss
	trusted  []netip.Prefix
	users    map[string]traffic.User
}

var (
	corpusOnce sync.Once
	corpusVal  *corpus
	corpusErr  error
)

func loadCorpus(t *testing.T) *corpus {
	t.Helper()
	corpusOnce.Do(func() {
		ds, err := traffic.Generate(traffic.Config{Seed: 20250303, Attacks: true})
		if err != nil {
			corpusErr = err
			return
		}
		c := &corpus{ds: ds, byID: map[string]*event.Event{}, labelled: map[string]bool{}, users: map[string]traffic.User{}}
		c.evs = make([]event.Event, len(ds.Events))
		for i, raw := range ds.Events {
			ev, err := event.Decode(raw)
			if err != nil {
				corpusErr = err
				return
			}
			c.evs[i] = ev
		}
		for i := range c.evs {
			c.byID[c.evs[i].UUID] = &c.evs[i]
		}
		for _, l := range append(append([]traffic.Label(nil), ds.Labels...), ds.NearMisses...) {
			for _, id := range l.EventIDs {
				c.labelled[id] = true
			}
		}
		for _, s := range ds.Lists.Trusted {
			c.trusted = append(c.trusted, netip.MustParsePrefix(s))
		}
		for _, u := range ds.Users {
			c.users[u.Login] = u
		}
		corpusVal = c
	})
	if corpusErr != nil {
		t.Fatalf("corpus: %v", corpusErr)
	}
	return corpusVal
}

func (c *corpus) isTrusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// benign reports an event that is neither labelled nor the pen-test account's.
func (c *corpus) benign(e *event.Event) bool {
	return !c.labelled[e.UUID] && e.Actor.AlternateID != c.ds.PenTester
}

func anonymous(e *event.Event) bool {
	if e.Security.IsProxy {
		return true
	}
	for _, t := range e.Debug.Tunnels {
		if t.Anonymous {
			return true
		}
	}
	return false
}

func km(a, b *event.Event) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	la1, lo1, _ := a.GeoPoint()
	la2, lo2, _ := b.GeoPoint()
	dl := (la2 - la1) * rad
	dn := (lo2 - lo1) * rad
	h := math.Sin(dl/2)*math.Sin(dl/2) + math.Cos(la1*rad)*math.Cos(la2*rad)*math.Sin(dn/2)*math.Sin(dn/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

func TestEveryEventDecodesWithPkgEvent(t *testing.T) {
	c := loadCorpus(t)
	for i := range c.evs {
		e := &c.evs[i]
		if e.UUID == "" || e.EventType == "" || e.Published.IsZero() || e.Version != "0" || e.Severity == "" {
			t.Fatalf("event %d missing core fields: %+v", i, e)
		}
		if e.Transaction.Type == "WEB" && e.Client.IPAddress != "" && (e.Client.Geo.Country == "" || !e.Client.Geo.HasLatLon) {
			t.Fatalf("WEB event %s without geo", e.UUID)
		}
		if e.Transaction.Type == "JOB" && e.Client.IPAddress != "" {
			t.Fatalf("JOB event %s has a client IP", e.UUID)
		}
		if e.Client.IPAddress != "" && e.Security.ASNumber == 0 {
			t.Fatalf("event %s has an IP but no ASN", e.UUID)
		}
	}
}

func TestVolumePerUserDay(t *testing.T) {
	c := loadCorpus(t)
	perDay := float64(len(c.evs)) / float64(len(c.ds.Users)*c.ds.Config.Days)
	t.Logf("%d events, %.1f per user-day", len(c.evs), perDay)
	if perDay < 10 || perDay > 50 {
		t.Fatalf("events per user-day = %.1f, want 10..50", perDay)
	}
	// weekends are quieter than weekdays
	var wk, we int
	for i := range c.evs {
		switch c.evs[i].Published.Weekday() {
		case time.Saturday, time.Sunday:
			we++
		default:
			wk++
		}
	}
	if float64(we)/2 > float64(wk)/5*0.5 {
		t.Fatalf("weekend days not quieter: %d weekend vs %d weekday events", we, wk)
	}
}

// TestEveryDetectorHasALabel holds the scenarios to pkg/detect's registry,
// with no list of ids to edit: every detector (not the rules of the pack,
// for which a scenario is optional) has a required label, every scenario's
// detector has a required label, and labelled ids that are not registered
// (yet) are logged.
func TestEveryDetectorHasALabel(t *testing.T) {
	c := loadCorpus(t)
	got := map[string]int{}
	for _, l := range c.ds.Labels {
		if !l.Optional {
			got[l.Detector]++
		}
	}
	rules := map[string]bool{}
	for _, r := range detect.Rules() {
		rules[r.ID] = true
	}
	registered := map[string]bool{}
	for _, d := range detect.Detectors() {
		registered[d.ID] = true
		if !rules[d.ID] && got[d.ID] == 0 {
			t.Errorf("detector %s has no required label in any scenario", d.ID)
		}
	}
	ds := traffic.Detectors()
	if len(ds) < len(registered)-len(rules) {
		t.Fatalf("Detectors() = %v: fewer ids than the %d detectors", ds, len(registered)-len(rules))
	}
	for _, d := range ds {
		if !registered[d] {
			// a detection gap on purpose (a scenario waiting for its rule):
			// the scenario test scores it at recall 0
			t.Logf("a scenario labels %q, which is not a registered detector or rule yet", d)
		}
		if got[d] == 0 {
			t.Errorf("no required label for %s", d)
		}
	}
}

func TestLabelsPointAtRealEventsAfterLearning(t *testing.T) {
	c := loadCorpus(t)
	learnEnd := c.ds.Start.Add(traffic.LearningPeriod)
	for _, l := range c.ds.Labels {
		if len(l.EventIDs) == 0 {
			t.Fatalf("label %s/%s has no events", l.Scenario, l.Detector)
		}
		if l.Start.Before(learnEnd) {
			t.Errorf("label %s/%s starts %v, inside the learning period (ends %v)", l.Scenario, l.Detector, l.Start, learnEnd)
		}
		for _, id := range l.EventIDs {
			e, ok := c.byID[id]
			if !ok {
				t.Fatalf("label %s/%s: event %s not in Events", l.Scenario, l.Detector, id)
			}
			if e.Published.Before(l.Start) || e.Published.After(l.End) {
				t.Fatalf("label %s/%s: event %s at %v outside [%v, %v]", l.Scenario, l.Detector, id, e.Published, l.Start, l.End)
			}
		}
		if l.Scenario == "" || !strings.Contains(l.Scenario, "#") {
			t.Errorf("label without scenario instance id: %+v", l)
		}
	}
}

func TestFilterAttackKinds(t *testing.T) {
	ds, err := traffic.Generate(traffic.Config{Seed: 3, Users: 80, Days: 12, Attacks: true, AttackKinds: []string{"mfa_fatigue"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range ds.Labels {
		if !strings.HasPrefix(l.Scenario, "mfa_fatigue#") {
			t.Fatalf("unexpected label %+v", l)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no mfa_fatigue label")
	}
	if _, err := traffic.Generate(traffic.Config{AttackKinds: []string{"nope"}, Attacks: true}); err == nil {
		t.Fatal("unknown attack kind accepted")
	}
	if _, err := traffic.Generate(traffic.Config{Days: 5, Attacks: true}); err == nil {
		t.Fatal("attacks in a 5-day dataset accepted")
	}
	none, err := traffic.Generate(traffic.Config{Seed: 3, Users: 80, Days: 12})
	if err != nil {
		t.Fatal(err)
	}
	if len(none.Labels) != 0 {
		t.Fatalf("Attacks=false produced %d labels", len(none.Labels))
	}
}

// ---- benign traffic must not look like the attacks (per detections.md) ----

func signInsByUser(c *corpus) map[string][]*event.Event {
	m := map[string][]*event.Event{}
	for i := range c.evs {
		e := &c.evs[i]
		if e.IsInteractiveSignIn() && c.benign(e) {
			m[e.Actor.AlternateID] = append(m[e.Actor.AlternateID], e)
		}
	}
	return m
}

func TestBenignTravelRespectsPlaneSpeed(t *testing.T) {
	c := loadCorpus(t)
	checked := 0
	for login, evs := range signInsByUser(c) {
		var prev *event.Event
		for _, e := range evs {
			if anonymous(e) {
				continue // anonymous sign-ins never become anchors
			}
			if prev != nil && e.Published.Sub(prev.Published) <= 24*time.Hour {
				d := km(prev, e)
				h := math.Max(e.Published.Sub(prev.Published).Hours(), 1.0/60)
				if prev.Country() != e.Country() {
					checked++
					if d > 500 && d/h > 900 {
						t.Errorf("%s: %s (%s) -> %s (%s): %.0f km in %.2f h = %.0f km/h",
							login, prev.Client.Geo.City, prev.Published.Format(time.RFC3339), e.Client.Geo.City, e.Published.Format(time.RFC3339), d, h, d/h)
					}
				}
			}
			prev = e
		}
	}
	if checked == 0 {
		t.Fatal("no cross-country benign travel checked: travellers missing")
	}
	t.Logf("%d cross-country benign transitions, all below plane speed", checked)
}

func TestBenignCountriesAreKnownOrCommon(t *testing.T) {
	c := loadCorpus(t)
	firstSeen := map[string]time.Time{}
	userCountries := map[string]map[string]bool{}
	tenant := map[string]map[string]bool{}
	var alerts []string
	idx := make([]int, 0, len(c.evs))
	for i := range c.evs {
		if c.evs[i].IsInteractiveSignIn() {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		e := &c.evs[i]
		u := e.Actor.AlternateID
		if _, ok := firstSeen[u]; !ok {
			firstSeen[u] = e.Published
			userCountries[u] = map[string]bool{}
		}
		cty := e.Country()
		if c.benign(e) && !anonymous(e) && !c.isTrusted(e.Client.IPAddress) &&
			e.Published.Sub(firstSeen[u]) > traffic.LearningPeriod && !userCountries[u][cty] {
			rare := len(tenant[cty]) < max(2, len(c.ds.Users)/100)
			if rare {
				alerts = append(alerts, u+" "+cty+" "+e.Published.Format(time.RFC3339))
			}
		}
		userCountries[u][cty] = true
		if tenant[cty] == nil {
			tenant[cty] = map[string]bool{}
		}
		tenant[cty][u] = true
	}
	if len(alerts) > 0 {
		t.Fatalf("benign sign-ins from a country new to the user and rare in the tenant:\n%s", strings.Join(alerts, "\n"))
	}
}

func TestBenignSessionsDoNotRoam(t *testing.T) {
	c := loadCorpus(t)
	type key struct {
		asn     int
		country string
		ua      string
	}
	sess := map[string]map[key]bool{}
	for i := range c.evs {
		e := &c.evs[i]
		sid := e.SessionID()
		if sid == "" || !c.benign(e) || e.Client.IPAddress == "" {
			continue
		}
		if sess[sid] == nil {
			sess[sid] = map[key]bool{}
		}
		sess[sid][key{e.Security.ASNumber, e.Country(), e.Client.UserAgent.Raw}] = true
	}
	jitter := 0
	for sid, ks := range sess {
		if len(ks) > 1 {
			t.Errorf("benign session %s seen from %d network/UA contexts: %v", sid, len(ks), ks)
		}
	}
	// mobile jitter exists: one session, several IPs of one carrier
	ips := map[string]map[string]bool{}
	for i := range c.evs {
		e := &c.evs[i]
		if sid := e.SessionID(); sid != "" && c.benign(e) && e.Client.Device == "Mobile" {
			if ips[sid] == nil {
				ips[sid] = map[string]bool{}
			}
			ips[sid][e.Client.IPAddress] = true
		}
	}
	for _, s := range ips {
		if len(s) > 1 {
			jitter++
		}
	}
	if jitter == 0 {
		t.Fatal("no mobile-carrier IP jitter inside a session")
	}
}

// windowMax returns the largest number of times within w of each other.
func windowMax(ts []time.Time, w time.Duration) int {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) > w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func failure(e *event.Event) bool {
	switch e.EventType {
	case "user.session.start", "user.authentication.verify", "user.authentication.auth_via_mfa":
		return e.Outcome.Result == "FAILURE"
	case "user.account.lock":
		return true
	}
	return false
}

func TestBenignFailuresStayLow(t *testing.T) {
	c := loadCorpus(t)
	inTrap := func(e *event.Event) bool {
		for _, tr := range c.ds.Traps {
			if tr.Kind == "stale_client_after_password_change" && tr.Actor == e.Actor.AlternateID &&
				!e.Published.Before(tr.Start) && !e.Published.After(tr.End) {
				return true
			}
		}
		return false
	}
	byUser := map[string][]time.Time{}
	byIP := map[string][]*event.Event{}
	stale := 0
	for i := range c.evs {
		e := &c.evs[i]
		if !failure(e) || !c.benign(e) {
			continue
		}
		if inTrap(e) {
			stale++
			continue
		}
		byUser[e.Actor.AlternateID] = append(byUser[e.Actor.AlternateID], e.Published)
		byIP[e.Client.IPAddress] = append(byIP[e.Client.IPAddress], e)
	}
	if stale == 0 {
		t.Error("no stale-client trap generated")
	}
	for u, ts := range byUser {
		if n := windowMax(ts, 5*time.Minute); n >= 10 {
			t.Errorf("benign user %s has %d failures in 5 min", u, n)
		}
	}
	// no benign IP fails against >=10 distinct users within 30 min
	for ip, evs := range byIP {
		for i := range evs {
			users := map[string]bool{}
			for j := i; j < len(evs) && evs[j].Published.Sub(evs[i].Published) <= 30*time.Minute; j++ {
				users[evs[j].Actor.AlternateID] = true
			}
			if len(users) >= 10 {
				t.Fatalf("benign IP %s failed against %d users within 30 min", ip, len(users))
			}
		}
	}
	// no benign push bombing
	pushFail := map[string][]time.Time{}
	for i := range c.evs {
		e := &c.evs[i]
		if c.benign(e) && (e.EventType == "user.mfa.okta_verify.deny_push" || (e.EventType == "user.authentication.auth_via_mfa" && e.IsFailure())) {
			pushFail[e.Actor.AlternateID] = append(pushFail[e.Actor.AlternateID], e.Published)
		}
	}
	for u, ts := range pushFail {
		if n := windowMax(ts, 15*time.Minute); n >= 5 {
			t.Errorf("benign user %s has %d denied pushes in 15 min", u, n)
		}
	}
}

// TestBenignAdminsWorkFromTheirOwnNetworks: benign admin work happens from
// the office, the corporate VPN, the admin's own home IPs or the admin's
// mobile carrier — and a good share of it from untrusted home and mobile
// networks, as in real orgs. High-impact types are all used in the learning
// week; only routine types may be first used later.
func TestBenignAdminsWorkFromTheirOwnNetworks(t *testing.T) {
	c := loadCorpus(t)
	auto := map[string]bool{}
	for _, a := range c.ds.Automation {
		auto[a] = true
	}
	netOf := func(ip string) *traffic.Network {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil
		}
		for i := range c.ds.Networks {
			if netip.MustParsePrefix(c.ds.Networks[i].CIDR).Contains(a) {
				return &c.ds.Networks[i]
			}
		}
		return nil
	}
	routine := func(typ string) bool {
		return strings.HasPrefix(typ, "user.lifecycle.") || strings.HasPrefix(typ, "group.user_membership.") ||
			typ == "user.account.unlock" || typ == "user.account.reset_password" || typ == "application.user_membership.add"
	}
	admin, untrusted, mobile := 0, 0, 0
	types := map[string]map[string]bool{}
	for i := range c.evs {
		e := &c.evs[i]
		if !e.IsAdminAction() || !c.benign(e) || auto[e.Actor.AlternateID] || e.Actor.Type != "User" || e.IsAPITokenRequest() {
			continue
		}
		admin++
		if !c.isTrusted(e.Client.IPAddress) {
			untrusted++
			u, n := c.users[e.Actor.AlternateID], netOf(e.Client.IPAddress)
			switch {
			case n == nil:
				t.Errorf("benign admin event %s by %s from unknown network %s", e.EventType, u.Login, e.Client.IPAddress)
			case n.Kind == traffic.NetMobile && n.City.Country == u.Country:
				mobile++
			case n.Kind == traffic.NetResidential && containsStr(u.HomeIPs, e.Client.IPAddress):
			default:
				t.Errorf("benign admin event %s by %s from %s (%s, %s): not the admin's own network", e.EventType, u.Login, e.Client.IPAddress, n.Kind, n.City.Name)
			}
		}
		if types[e.Actor.AlternateID] == nil {
			types[e.Actor.AlternateID] = map[string]bool{}
		}
		if e.Published.Sub(c.ds.Start) > traffic.LearningPeriod && !types[e.Actor.AlternateID][e.EventType] && !routine(e.EventType) {
			t.Errorf("benign admin %s uses high-impact %s for the first time after the learning week", e.Actor.AlternateID, e.EventType)
		}
		types[e.Actor.AlternateID][e.EventType] = true
	}
	if admin < 100 || untrusted < admin/10 || mobile == 0 {
		t.Fatalf("%d benign admin events, %d from untrusted networks, %d from mobile: admins at home and on the phone missing", admin, untrusted, mobile)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestBenignLookAlikesPresent: the benign traffic carries what real orgs do
// and what issue 11 found detectors paging on.
func TestBenignLookAlikesPresent(t *testing.T) {
	c := loadCorpus(t)
	kinds := map[string]int{}
	for _, tr := range c.ds.Traps {
		kinds[tr.Kind]++
	}
	for _, k := range []string{"admin_first_routine_after_learning", "idp_certificate_rotation", "api_token_for_integration",
		"admin_role_granted_by_identity_team", "helpdesk_factor_reset", "leave_suspend_unsuspend", "incident_response_reactivation",
		"rate_limit", "admin_on_mobile_network", "phone_replaced", "traveller", "policy_tightened"} {
		if kinds[k] == 0 {
			t.Errorf("no %s look-alike in the benign traffic (traps: %v)", k, kinds)
		}
	}
	// service accounts sign in from public-cloud (hosting) ASNs, in two
	// AWS regions within the hour
	hosting := 0
	for i := range c.evs {
		e := &c.evs[i]
		if e.EventType == "user.session.start" && e.IsSuccess() && strings.HasPrefix(e.Actor.AlternateID, "svc-ci@") {
			switch e.Security.ASNumber {
			case 16509:
				hosting++
			}
		}
	}
	if hosting < 100 {
		t.Errorf("%d CI sign-ins from AWS", hosting)
	}
}

func TestBenignHasNoRulePackTriggers(t *testing.T) {
	c := loadCorpus(t)
	// (admin role grants, API tokens, IdP updates and factor resets are
	// benign look-alikes now: TestBenignLookAlikesPresent)
	never := []string{"group.privilege.grant", "system.idp.lifecycle.create", "system.idp.lifecycle.activate",
		"system.log_stream.", "user.session.impersonation.", "security.threat.detected", "security.attack.",
		"user.account.report_suspicious_activity_by_enduser", "policy.lifecycle.deactivate",
		"security.session.detect_client_roaming"}
	for i := range c.evs {
		e := &c.evs[i]
		if !c.benign(e) {
			continue
		}
		for _, p := range never {
			if strings.HasPrefix(e.EventType, p) {
				t.Fatalf("benign event %s %s by %s", e.EventType, e.UUID, e.Actor.AlternateID)
			}
		}
		if e.Debug.ThreatSuspected {
			t.Fatalf("benign event %s has threatSuspected", e.UUID)
		}
		if strings.Contains(e.Outcome.Reason, "FastPass") {
			t.Fatalf("benign FastPass failure %s", e.UUID)
		}
	}
}

func TestBenignMassActionsOnlyFromJobs(t *testing.T) {
	c := loadCorpus(t)
	destructive := map[string]bool{"user.lifecycle.deactivate": true, "user.lifecycle.suspend": true, "user.lifecycle.delete": true,
		"user.mfa.factor.reset_all": true, "user.account.reset_password": true}
	type hit struct {
		t      time.Time
		target string
	}
	byActor := map[string][]hit{}
	jobBulk := false
	for i := range c.evs {
		e := &c.evs[i]
		if !destructive[e.EventType] || !c.benign(e) || len(e.Targets) == 0 {
			continue
		}
		if e.Transaction.Type == "JOB" {
			jobBulk = true
			continue
		}
		byActor[e.Actor.AlternateID] = append(byActor[e.Actor.AlternateID], hit{e.Published, e.Targets[0].AlternateID})
	}
	if !jobBulk {
		t.Error("no provisioning JOB deactivations (the mass_destructive trap)")
	}
	for a, hs := range byActor {
		for i := range hs {
			seen := map[string]bool{}
			for j := i; j < len(hs) && hs[j].t.Sub(hs[i].t) <= 10*time.Minute; j++ {
				seen[hs[j].target] = true
			}
			if len(seen) >= 20 {
				t.Fatalf("benign actor %s touched %d targets in 10 min", a, len(seen))
			}
		}
	}
}

func TestBenignNoActivityAfterSuspension(t *testing.T) {
	c := loadCorpus(t)
	gone := map[string]time.Time{}
	for i := range c.evs {
		e := &c.evs[i]
		if (e.EventType == "user.lifecycle.unsuspend" || e.EventType == "user.lifecycle.reactivate") && len(e.Targets) > 0 {
			delete(gone, e.Targets[0].AlternateID)
			continue
		}
		if (e.EventType == "user.lifecycle.suspend" || e.EventType == "user.lifecycle.deactivate") && len(e.Targets) > 0 {
			if _, ok := gone[e.Targets[0].AlternateID]; !ok {
				gone[e.Targets[0].AlternateID] = e.Published
			}
			continue
		}
		if at, ok := gone[e.Actor.AlternateID]; ok && c.benign(e) && e.Published.After(at) {
			t.Fatalf("benign activity %s by %s after its suspension at %v", e.EventType, e.Actor.AlternateID, at)
		}
	}
}

// ---- the attacks really have the shape their labels claim ----

func TestAttackShapes(t *testing.T) {
	c := loadCorpus(t)
	for _, l := range c.ds.Labels {
		if l.Optional {
			continue
		}
		var evs []*event.Event
		for _, id := range l.EventIDs {
			evs = append(evs, c.byID[id])
		}
		switch l.Detector {
		case "impossible_travel":
			var a, b *event.Event
			for _, e := range evs {
				if e.EventType == "user.session.start" && e.IsSuccess() {
					if a == nil {
						a = e
					} else if b == nil {
						b = e
					}
				}
			}
			if a == nil || b == nil {
				t.Fatalf("%s: need two sign-ins", l.Scenario)
			}
			h := math.Max(b.Published.Sub(a.Published).Hours(), 1.0/60)
			if d := km(a, b); d < 500 || d/h < 900 {
				t.Errorf("%s: %.0f km at %.0f km/h (%s -> %s) is not impossible", l.Scenario, d, d/h, a.Country(), b.Country())
			}
		case "password_spray":
			users, ips := map[string]int{}, map[string]bool{}
			for _, e := range evs {
				if e.IsFailure() && (e.Client.IPAddress == l.IP || containsStr(l.IPs, e.Client.IPAddress)) {
					users[e.Actor.AlternateID]++
					ips[e.Client.IPAddress] = true
				}
			}
			if len(users) < 10 || len(ips) > 1 && (len(ips) < 5 || len(users) < 20) {
				t.Errorf("%s: spray hits %d users from %d IPs", l.Scenario, len(users), len(ips))
			}
			for u, n := range users {
				if n > 3 {
					t.Errorf("%s: %d attempts against %s", l.Scenario, n, u)
				}
			}
		case "mfa_fatigue":
			var ts []time.Time
			var success *event.Event
			for _, e := range evs {
				if e.EventType == "user.mfa.okta_verify.deny_push" || (e.EventType == "user.authentication.auth_via_mfa" && e.IsFailure()) {
					ts = append(ts, e.Published)
				}
				if e.EventType == "user.authentication.auth_via_mfa" && e.IsSuccess() {
					success = e
				}
			}
			if windowMax(ts, 15*time.Minute) < 5 || success == nil {
				t.Errorf("%s: %d denied pushes within 15 min, success=%v", l.Scenario, windowMax(ts, 15*time.Minute), success != nil)
			}
		case "mass_destructive":
			var ts []time.Time
			targets := map[string]bool{}
			for _, e := range evs {
				if strings.HasPrefix(e.EventType, "user.lifecycle.") {
					ts = append(ts, e.Published)
					targets[e.Targets[0].AlternateID] = true
				}
			}
			if windowMax(ts, 10*time.Minute) < 20 || len(targets) < 20 {
				t.Errorf("%s: %d lifecycle changes in 10 min, %d targets", l.Scenario, windowMax(ts, 10*time.Minute), len(targets))
			}
		case "failed_logins":
			var ts []time.Time
			for _, e := range evs {
				if failure(e) {
					ts = append(ts, e.Published)
				}
			}
			// failed_logins' default bands: 10 in 5 min, 20 in 1 h, 30 in 6 h
			if windowMax(ts, 5*time.Minute) < 10 && windowMax(ts, time.Hour) < 20 && windowMax(ts, 6*time.Hour) < 30 {
				t.Errorf("%s: only %d failures in 5 min, %d in 1 h, %d in 6 h", l.Scenario,
					windowMax(ts, 5*time.Minute), windowMax(ts, time.Hour), windowMax(ts, 6*time.Hour))
			}
		case "session_hijack":
			ips, uas, asns := map[string]bool{}, map[string]bool{}, map[int]bool{}
			sid := ""
			for _, e := range evs {
				if e.SessionID() != "" {
					if sid == "" {
						sid = e.SessionID()
					} else if sid != e.SessionID() {
						t.Errorf("%s: several sessions", l.Scenario)
					}
				}
				ips[e.Client.IPAddress] = true
				uas[e.Client.UserAgent.Raw] = true
				asns[e.Security.ASNumber] = true
			}
			if len(ips) < 2 || len(uas) < 2 && len(asns) < 2 {
				t.Errorf("%s: %d IPs, %d UAs", l.Scenario, len(ips), len(uas))
			}
		case "anonymous_ip":
			if !anonymous(evs[0]) {
				t.Errorf("%s: first event not anonymous", l.Scenario)
			}
		case "suspicious_ip", "risky_ip_logon", "infrequent_country":
			ok := false
			for _, e := range evs {
				ok = ok || (e.IsInteractiveSignIn() && e.Client.IPAddress == l.IP)
			}
			if !ok {
				t.Errorf("%s: no successful sign-in from %s", l.Scenario, l.IP)
			}
		}
	}
}

func TestListsCoverScenarioIPs(t *testing.T) {
	c := loadCorpus(t)
	in := func(list []string, ip string) bool {
		a := netip.MustParseAddr(ip)
		for _, s := range list {
			if p, err := netip.ParsePrefix(s); err == nil && p.Contains(a) {
				return true
			}
			if b, err := netip.ParseAddr(s); err == nil && b == a {
				return true
			}
		}
		return false
	}
	for _, l := range c.ds.Labels {
		switch {
		case l.Detector == "risky_ip_logon" && !l.Optional:
			if !in(c.ds.Lists.Risky, l.IP) {
				t.Errorf("%s: %s not in the risky list", l.Scenario, l.IP)
			}
		case l.Detector == "suspicious_ip" && l.Scenario == "suspicious_ip#1":
			if !in(c.ds.Lists.Suspicious, l.IP) {
				t.Errorf("%s: %s not in the suspicious list", l.Scenario, l.IP)
			}
		case l.Detector == "anonymous_ip":
			if !in(c.ds.Lists.Anonymous, l.IP) {
				t.Errorf("%s: %s not in the anonymous list", l.Scenario, l.IP)
			}
		}
		if l.IP != "" && in(c.ds.Lists.Trusted, l.IP) && (l.Detector == "impossible_travel" || l.Detector == "anonymous_ip") {
			t.Errorf("%s: attack IP %s is trusted", l.Scenario, l.IP)
		}
	}
	// every network in the table parses and none overlap
	var ps []netip.Prefix
	for _, n := range c.ds.Networks {
		p, err := netip.ParsePrefix(n.CIDR)
		if err != nil {
			t.Fatalf("network %q: %v", n.CIDR, err)
		}
		for _, q := range ps {
			if p.Overlaps(q) {
				t.Fatalf("networks %s and %s overlap", p, q)
			}
		}
		ps = append(ps, p)
	}
}

// TestNearMissShapes: the below-threshold cases really sit under each
// detector's default threshold (and so must not alert).
func TestNearMissShapes(t *testing.T) {
	c := loadCorpus(t)
	if len(c.ds.NearMisses) < 8 {
		t.Fatalf("%d near misses", len(c.ds.NearMisses))
	}
	for _, l := range c.ds.NearMisses {
		var evs []*event.Event
		for _, id := range l.EventIDs {
			evs = append(evs, c.byID[id])
		}
		var ts []time.Time
		switch l.Detector {
		case "failed_logins":
			for _, e := range evs {
				if failure(e) {
					ts = append(ts, e.Published)
				}
			}
			if windowMax(ts, 5*time.Minute) >= 10 || windowMax(ts, time.Hour) >= 20 {
				t.Errorf("%s: %d failures in 5 min is not below", l.Scenario, windowMax(ts, 5*time.Minute))
			}
		case "password_spray":
			users := map[string]bool{}
			for _, e := range evs {
				if e.IsFailure() {
					users[e.Actor.AlternateID] = true
				}
			}
			if len(users) != 9 {
				t.Errorf("%s: %d sprayed users, want 9", l.Scenario, len(users))
			}
		case "mfa_fatigue":
			for _, e := range evs {
				if e.EventType == "user.mfa.okta_verify.deny_push" {
					ts = append(ts, e.Published)
				}
				if e.EventType == "user.authentication.auth_via_mfa" && e.IsSuccess() {
					t.Errorf("%s: the push bombing succeeded", l.Scenario)
				}
			}
			if windowMax(ts, 15*time.Minute) != 4 {
				t.Errorf("%s: %d denies in 15 min, want 4", l.Scenario, windowMax(ts, 15*time.Minute))
			}
		case "mass_destructive":
			targets := map[string]bool{}
			for _, e := range evs {
				targets[e.Targets[0].AlternateID] = true
			}
			if len(targets) != 19 {
				t.Errorf("%s: %d targets, want 19", l.Scenario, len(targets))
			}
		case "unusual_admin":
			if len(evs) >= 10 {
				t.Errorf("%s: %d admin events, want under 10", l.Scenario, len(evs))
			}
		case "impossible_travel":
			var ss []*event.Event
			for _, e := range evs {
				if e.EventType == "user.session.start" && e.IsSuccess() {
					ss = append(ss, e)
				}
			}
			if len(ss) != 2 {
				t.Fatalf("%s: %d sign-ins", l.Scenario, len(ss))
			}
			h := ss[1].Published.Sub(ss[0].Published).Hours()
			if d := km(ss[0], ss[1]); d >= 500 && d/h >= 900 {
				t.Errorf("%s: %.0f km at %.0f km/h is not below", l.Scenario, d, d/h)
			}
		}
	}
}
