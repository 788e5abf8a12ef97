package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// TestSubsumedAlertFoldsIntoTheSpecificOne: a session created in New York
// and replayed from Lagos 40 minutes later is both a session hijack and an
// impossible journey; the analyst gets one alert (session_hijack) that
// records the travel finding. Without session_hijack, or on a fresh
// sign-in (no replayed session), impossible_travel alerts as before.
func TestSubsumedAlertFoldsIntoTheSpecificOne(t *testing.T) {
	const u = "alice@example.com"
	home := warmup(u, "New York", "73.1.1.1", 10)
	at0 := func(m int) time.Time { return day10.Add(time.Duration(m) * time.Minute) }
	start := signIn(u, at0(0), ip("73.1.1.1"), session("102abc"), at("New York"))
	replay := func(m int, o ...evOpt) event.Event {
		return mkEv("user.authentication.sso", u, at0(m), append([]evOpt{session("102abc"), ip("105.112.1.1"), asn(29465), at("Lagos"),
			ua("Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0", "Linux")}, o...)...)
	}
	both := func(cfg Config) Config {
		for _, id := range []string{"impossible_travel", "session_hijack"} {
			cfg[id] = DetectorConfig{}
		}
		return cfg
	}
	off := false
	cfgBoth := both(only("session_hijack", DetectorConfig{}))
	cfgTravel := only("impossible_travel", DetectorConfig{})
	cfgTravelNoHijack := both(only("impossible_travel", DetectorConfig{}))
	cfgTravelNoHijack["session_hijack"] = DetectorConfig{Enabled: &off}

	t.Run("replayed session far away: one session_hijack alert carrying the travel", func(t *testing.T) {
		as := runEvents(t, cfgBoth, concat(home, []event.Event{start, replay(40), replay(50)}))
		if len(as) != 1 || as[0].Detector != "session_hijack" {
			t.Fatalf("alerts: %s", ids(as))
		}
		sub, _ := as[0].Evidence["subsumed"].([]any)
		if len(sub) != 1 || sub[0].(map[string]any)["detector"] != "impossible_travel" {
			t.Fatalf("evidence.subsumed %v", as[0].Evidence["subsumed"])
		}
	})
	t.Run("without session_hijack, impossible_travel alerts", func(t *testing.T) {
		as := runEvents(t, cfgTravelNoHijack, concat(home, []event.Event{start, replay(40)}))
		if len(as) != 1 || as[0].Detector != "impossible_travel" {
			t.Fatalf("alerts: %s", ids(as))
		}
		if as2 := runEvents(t, cfgTravel, concat(home, []event.Event{start, replay(40)})); len(as2) != 1 {
			t.Fatalf("impossible_travel alone: %s", ids(as2))
		}
	})
	t.Run("a fresh sign-in far away (no replay) still raises impossible_travel", func(t *testing.T) {
		fresh := signIn(u, at0(40), session("102new"), ip("105.112.1.1"), asn(29465), at("Lagos"))
		as := runEvents(t, cfgBoth, concat(home, []event.Event{start, fresh}))
		if len(as) != 1 || as[0].Detector != "impossible_travel" {
			t.Fatalf("alerts: %s", ids(as))
		}
	})
	t.Run("another user's hijack does not subsume", func(t *testing.T) {
		const v = "bob@example.com"
		other := []event.Event{
			signIn(v, at0(1), ip("73.2.2.2"), session("bob1"), at("New York")),
			mkEv("user.authentication.sso", v, at0(30), session("bob1"), ip("105.112.9.9"), asn(29465), at("Lagos"), ua("curl/8", "Linux")),
		}
		fresh := signIn(u, at0(40), session("102new"), ip("105.112.1.1"), asn(29465), at("Lagos"))
		as := runEvents(t, cfgBoth, concat(home, warmup(v, "New York", "73.2.2.2", 10), []event.Event{start}, other, []event.Event{fresh}))
		got := map[string]int{}
		for _, a := range as {
			got[a.Detector+"/"+a.Actor]++
		}
		if got["impossible_travel/"+u] != 1 || got["session_hijack/"+v] != 1 {
			t.Fatalf("alerts: %s", ids(as))
		}
	})
}

// TestSubsumedAdminTakeover: a help-desk reset of an admin, an enrolment
// from a VPS and the Admin Console reached in a password-only session is
// one incident: helpdesk_chain's alert, recording the generic findings on
// the same access (admin_console_weak_mfa, the new network). Without
// helpdesk_chain the generic detectors alert as before; unusual_admin,
// when it runs, carries the new-network finding of
// admin_activity_untrusted_ip.
func TestSubsumedAdminTakeover(t *testing.T) {
	hd, sec := "hd.desk@example.com", "sam.secadmin@example.com"
	vps := jIP("159.203.17.4", 14061)
	office := jTrusted()
	chain := concat(homeHistory(t, sec), evs(
		jev(t, "user.mfa.factor.reset_all", hd, rt0, office, jUser(sec)),
		jev(t, "user.session.start", sec, rt0.Add(mins(20)), vps, jSess("s1"), jCred("PASSWORD")),
		jev(t, "user.mfa.factor.activate", sec, rt0.Add(mins(22)), vps, jSess("s1"), jUser(sec), jDevice("guoPIXEL")),
		jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(40)), vps, jSess("s1"))))
	off := false
	cfg := func(disabled ...string) Config {
		c := only("helpdesk_chain", DetectorConfig{})
		for _, id := range []string{"admin_console_weak_mfa", "admin_activity_untrusted_ip"} {
			c[id] = DetectorConfig{}
		}
		for _, id := range disabled {
			c[id] = DetectorConfig{Enabled: &off}
		}
		return c
	}
	onSec := func(as []Alert) map[string]Alert {
		out := map[string]Alert{}
		for _, a := range as {
			if a.Actor == sec && a.Severity != SeverityInfo {
				out[a.Detector] = a
			}
		}
		return out
	}
	t.Run("the chain's one alert records the generic findings", func(t *testing.T) {
		got := onSec(runEvents(t, cfg(), chain, WithReorderWindow(0)))
		a, ok := got["helpdesk_chain"]
		if len(got) != 1 || !ok {
			t.Fatalf("alerts on %s: %v", sec, got)
		}
		sub, _ := a.Evidence["subsumed"].([]any)
		dets := map[any]bool{}
		for _, s := range sub {
			dets[s.(map[string]any)["detector"]] = true
		}
		if !dets["admin_console_weak_mfa"] || !dets["admin_activity_untrusted_ip"] {
			t.Fatalf("evidence.subsumed %v", a.Evidence["subsumed"])
		}
	})
	t.Run("without helpdesk_chain the generic detectors alert", func(t *testing.T) {
		got := onSec(runEvents(t, cfg("helpdesk_chain"), chain, WithReorderWindow(0)))
		if _, ok := got["admin_console_weak_mfa"]; !ok {
			t.Fatalf("alerts on %s: %v", sec, got)
		}
		if _, ok := got["admin_activity_untrusted_ip"]; !ok {
			t.Fatalf("alerts on %s: %v", sec, got)
		}
	})
}

// subsumedPair checks one subsumption pair on evs: with both detectors on,
// one alert of by carrying sub's finding in evidence.subsumed; with sub
// alone, sub alerts.
func subsumedPair(t *testing.T, by, sub string, evs []event.Event) {
	t.Helper()
	both := only(by, DetectorConfig{})
	both[sub] = DetectorConfig{}
	as := runEvents(t, both, evs)
	if len(as) != 1 || as[0].Detector != by {
		t.Fatalf("alerts: %s", ids(as))
	}
	notes, _ := as[0].Evidence["subsumed"].([]any)
	if len(notes) != 1 || notes[0].(map[string]any)["detector"] != sub {
		t.Fatalf("evidence.subsumed %v", as[0].Evidence["subsumed"])
	}
	alone := runEvents(t, only(sub, DetectorConfig{}), evs)
	if len(alone) != 1 || alone[0].Detector != sub {
		t.Fatalf("%s alone: %s", sub, ids(alone))
	}
}

// TestSubsumedNetworkFindingJoinsUnusualAdmin: an established admin
// working from a hosting provider is one unusual_admin incident carrying
// admin_activity_untrusted_ip's finding; with unusual_admin off the rule
// alerts on its own.
func TestSubsumedNetworkFindingJoinsUnusualAdmin(t *testing.T) {
	const a = "home.admin@example.com"
	subsumedPair(t, "unusual_admin", "admin_activity_untrusted_ip", concat(homeAdmin(a), []event.Event{
		signIn(a, day10, ip("159.203.1.1"), asn(14061), at("New York")),
		mkEv("group.user_membership.add", a, day10.Add(2*time.Minute), ip("159.203.1.1"), asn(14061), at("New York"), target("User", "00ut", "t@example.com")),
	}))
}

// TestSubsumedCountryOfADormantReturn: a user back after 91 days, on the
// same address in the same country, has no 30-day country baseline; the
// return is dormant_account_activity's one alert, carrying the
// infrequent_country finding (public Sekoia sample, replayed). Without
// dormant_account_activity, infrequent_country alerts as before.
func TestSubsumedCountryOfADormantReturn(t *testing.T) {
	const u = "jean.dupont@example.org"
	subsumedPair(t, "dormant_account_activity", "infrequent_country", []event.Event{
		signIn(u, t0, ip("90.1.2.3"), at("Paris")),
		signIn(u, t0.Add(91*24*time.Hour), ip("90.1.2.3"), at("Paris")),
	})
}
