package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func adminEv(actor, typ string, at time.Time, o ...evOpt) event.Event {
	return mkEv(typ, actor, at, append([]evOpt{ip("212.36.0.10"), cats(event.CatTrusted), target("User", "00utarget", "target@example.com")}, o...)...)
}

// routineAdmin: an admin with 3-4 membership changes a day from the office for 10 days.
func routineAdmin(a string) []event.Event {
	var out []event.Event
	for d := 0; d < 10; d++ {
		day := t0.Add(time.Duration(d) * 24 * time.Hour)
		out = append(out, signIn(a, day, ip("212.36.0.10"), cats(event.CatTrusted), session("s"+itoa(d))))
		for i := 0; i < 3+d%2; i++ {
			typ := "group.user_membership.add"
			if i%2 == 1 {
				typ = "group.user_membership.remove"
			}
			out = append(out, adminEv(a, typ, day.Add(time.Duration(i+1)*time.Minute), session("s"+itoa(d))))
		}
	}
	return out
}

func TestUnusualAdmin(t *testing.T) {
	const a = "admin@example.com"
	base := routineAdmin(a)
	at := func(m int) time.Time { return day10.Add(time.Duration(m) * time.Minute) }
	var spike []event.Event
	for i := 0; i < 15; i++ {
		spike = append(spike, adminEv(a, "group.user_membership.remove", at(i), session("spike")))
	}
	grantedByOther := adminEv("boss@example.com", "user.account.privilege.grant", day10.Add(-48*time.Hour), func(e *event.Event) {
		e.Targets = []event.Target{{Type: "User", ID: "id-" + a, AlternateID: a}}
	})
	runCases(t, "unusual_admin", []detCase{
		{name: "routine admin work", events: concat(base, []event.Event{adminEv(a, "group.user_membership.add", at(0), session("x"))}), want: 0},
		{name: "new sensitive admin type", events: concat(base, []event.Event{adminEv(a, "policy.rule.update", at(0))}), want: 1, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["condition"] != "new_event_type" || len(as[0].Evidence["knownTypes30d"].([]string)) != 2 {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "first use of a routine type by an established admin is info", events: concat(base, []event.Event{adminEv(a, "user.lifecycle.create", at(0))}), want: 1, wantSev: SeverityInfo},
		{name: "routine first use silenced with routineInfo: false", cfg: DetectorConfig{Params: map[string]any{"routineInfo": false}},
			events: concat(base, []event.Event{adminEv(a, "group.user_membership.add", at(0))}), want: 0},
		{name: "first use of another admin type is medium", events: concat(base, []event.Event{adminEv(a, "application.lifecycle.create", at(0))}), want: 1, wantSev: SeverityMedium},
		{name: "first use of a high-impact type is high: API token", events: concat(base, []event.Event{adminEv(a, "system.api_token.create", at(0))}), want: 1, wantSev: SeverityHigh},
		{name: "first use of a high-impact type is high: zone", events: concat(base, []event.Event{adminEv(a, "zone.update", at(0))}), want: 1, wantSev: SeverityHigh},
		{name: "routine then high-impact: one incident raised to high with both types", events: concat(base, []event.Event{
			adminEv(a, "user.lifecycle.activate", at(0)), adminEv(a, "system.idp.lifecycle.create", at(5))}), want: 1, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				if as[0].Count != 2 || strings.Join(as[0].Targets, ",") != "user.lifecycle.activate,system.idp.lifecycle.create" {
					t.Fatalf("count %d targets %v", as[0].Count, as[0].Targets)
				}
			}},
		// the incident window counts from the first match: conditions that
		// keep matching every 12 hours do not chain one alert for days
		{name: "a new high-impact type 25 h after the incident opened is a new alert, though the last match was 13 h before", events: concat(base, []event.Event{
			adminEv(a, "policy.rule.update", at(0)), adminEv(a, "zone.update", at(12*60)), adminEv(a, "system.api_token.create", at(25*60))}),
			want: 2, wantSev: SeverityHigh},
		{name: "new type inside a change window", cfg: DetectorConfig{Params: map[string]any{"changeWindows": []any{"2025-03-13T07:00:00Z/2025-03-13T12:00:00Z"}}},
			events: concat(base, []event.Event{adminEv(a, "policy.rule.update", at(0))}), want: 0},
		{name: "volume spike in one session", events: concat(base, spike), want: 1,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["condition"] != "session_volume" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "newly granted admin: volume only learns", events: concat(base, []event.Event{grantedByOther}, spike), want: 0},
		{name: "just below the absolute minimum: 9 admin events in a session (z far above 3) do not alert", events: concat(base, spike[:9]), want: 0},
		{name: "at the absolute minimum: 10 admin events alert", events: concat(base, spike[:10]), want: 1, check: func(t *testing.T, as []Alert) {
			if as[0].Evidence["condition"] != "session_volume" || as[0].Evidence["z"].(float64) <= 3 {
				t.Fatalf("%v", as[0].Evidence)
			}
		}},
		{name: "self-granted role alerts", events: concat(base, []event.Event{adminEv(a, "user.account.privilege.grant", at(0), func(e *event.Event) {
			e.Targets = []event.Target{{Type: "User", ID: "id-" + a, AlternateID: a}}
		})}), want: 1, check: func(t *testing.T, as []Alert) {
			// one alert per admin and window: the self-grant, with the
			// other condition the same event met (a new action type)
			conds, _ := as[0].Evidence["conditions"].([]any)
			if as[0].Evidence["condition"] != "self_grant" || as[0].Severity != SeverityHigh || len(conds) != 2 {
				t.Fatalf("%+v", as[0])
			}
		}},
		{name: "untrusted-IP template off by default", events: concat(base, []event.Event{
			mkEv("group.user_membership.add", a, at(0), ip("159.203.1.1"), target("User", "x", "x@example.com"))}), want: 0},
		{name: "admin work from outside the usual trusted ranges (template on)", cfg: DetectorConfig{Params: map[string]any{"checkUntrustedIP": true}}, events: concat(base, []event.Event{
			mkEv("group.user_membership.add", a, at(0), ip("159.203.1.1"), target("User", "x", "x@example.com"))}), want: 1,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["condition"] != "untrusted_ip" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "admin who never used trusted ranges", events: concat(func() []event.Event {
			var out []event.Event
			for _, e := range base {
				e.IP.Categories = 0
				out = append(out, e)
			}
			return out
		}(), []event.Event{mkEv("group.user_membership.add", a, at(0), ip("159.203.1.1"), target("User", "x", "x@example.com"))}), want: 0},
		{name: "session flagged new device and new IP", events: concat(base, []event.Event{adminEv(a, "group.user_membership.add", at(0), behaviors("New Device", "New IP"))}), want: 1, wantSev: SeverityHigh},
		{name: "actor in learning", events: []event.Event{signIn(a, t0), adminEv(a, "policy.rule.update", t0.Add(24*time.Hour))}, want: 0},
		{name: "automation actor has its own baseline", events: concat(base, func() []event.Event {
			var out []event.Event
			for d := 0; d < 11; d++ {
				out = append(out, adminEv("svc@example.com", "group.user_membership.add", t0.Add(time.Duration(d)*24*time.Hour), token("00Tsvc"), func(e *event.Event) { e.IP.Categories = 0 }))
			}
			return out
		}()), want: 0},
		{name: "a member change on oneself is not admin work", events: concat(base, []event.Event{mkEv("user.lifecycle.deactivate", a, at(0), func(e *event.Event) {
			e.Targets = []event.Target{{Type: "User", ID: "id-" + a, AlternateID: a}}
		})}), want: 0},
	})
}

// homeAdmin: an admin who signs in and administers from a home ISP (no
// trusted list) for 10 days.
func homeAdmin(a string, o ...evOpt) []event.Event {
	var out []event.Event
	home := append([]evOpt{ip("73.10.20.5"), asn(7922), at("New York")}, o...)
	for d := 0; d < 10; d++ {
		day := t0.Add(time.Duration(d) * 24 * time.Hour)
		out = append(out, signIn(a, day, append(home, session("h"+itoa(d)))...))
		for i := 0; i < 3; i++ {
			out = append(out, mkEv("group.user_membership.add", a, day.Add(time.Duration(i+1)*time.Minute),
				append(home, session("h"+itoa(d)), target("User", "00ut", "t@example.com"))...))
		}
	}
	return out
}

// oktaBehaviors sets Okta's New Device and New Geo-Location behaviours
// (New IP is POSITIVE).
func oktaBehaviors(newDevice, newGeo string) evOpt {
	return func(e *event.Event) {
		e.Debug.Behaviors = map[string]string{"New Device": newDevice, "New Geo-Location": newGeo, "New IP": "POSITIVE"}
	}
}

func TestUnusualAdminNetworks(t *testing.T) {
	const a = "home.admin@example.com"
	base := homeAdmin(a)
	when := func(m int) time.Time { return day10.Add(time.Duration(m) * time.Minute) }
	act := func(m int, o ...evOpt) event.Event {
		return mkEv("group.user_membership.add", a, when(m), append([]evOpt{target("User", "00ut", "t@example.com")}, o...)...)
	}
	cond := func(want string) func(*testing.T, []Alert) {
		return func(t *testing.T, as []Alert) {
			if as[0].Evidence["condition"] != want {
				t.Fatalf("%v", as[0].Evidence)
			}
		}
	}
	runCases(t, "unusual_admin", []detCase{
		{name: "benign: admin on the home network", events: concat(base, []event.Event{act(0, ip("73.10.20.5"), asn(7922), at("New York"))}), want: 0},
		{name: "benign: new home address from the same ISP and country", events: concat(base, []event.Event{act(0, ip("73.99.1.1"), asn(7922), at("New York"))}), want: 0},
		{name: "benign: phone on a known mobile network", events: concat(homeAdmin(a, func(e *event.Event) {
			if e.Published.Hour()%2 == 0 {
				e.Client.IPAddress, e.IP.ASN, e.Security.ASNumber = "172.58.1.1", 21928, 21928
			}
		}), []event.Event{act(0, ip("172.58.200.9"), asn(21928), at("New York"))}), want: 0},
		{name: "network new to the admin", events: concat(base, []event.Event{act(0, ip("84.1.1.1"), asn(3320), at("Berlin"))}), want: 1, wantSev: SeverityMedium, check: cond("new_network")},
		{name: "attacker signs in from a new VPS then administers: the fresh network is not the admin's own", events: concat(base, []event.Event{
			signIn(a, when(0), ip("159.203.1.1"), asn(14061), at("New York")), act(2, ip("159.203.1.1"), asn(14061), at("New York"))}), want: 1, check: cond("new_network")},
		// one incident per admin: the new network, then a new high-impact
		// action type an hour later, is one alert listing both conditions,
		// raised to high by the second
		{name: "new network then a new high-impact type: one alert, both conditions", events: concat(base, []event.Event{
			act(0, ip("84.1.1.1"), asn(3320), at("Berlin")),
			mkEv("policy.rule.update", a, when(60), ip("73.10.20.5"), asn(7922), at("New York"), target("PolicyRule", "0pr", "MFA rule"))}),
			want: 1, wantSev: SeverityHigh, check: func(t *testing.T, as []Alert) {
				conds, _ := as[0].Evidence["conditions"].([]any)
				if len(conds) != 2 || conds[0] != "new_network" || conds[1] != "new_event_type" || as[0].Evidence["firstSummary"] == nil {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "hostile address even on a known ISP is high", events: concat(base, []event.Event{act(0, ip("73.10.20.5"), asn(7922), at("New York"), tor())}), want: 1, wantSev: SeverityHigh},
		{name: "a datacenter ASN is not familiar by ISP: new /24 of a known cloud alerts", events: concat(homeAdmin(a, ip("52.1.1.1"), asn(16509)),
			[]event.Event{act(0, ip("52.9.9.9"), asn(16509), at("New York"))}), want: 1, check: cond("new_network")},
		{name: "benign: same /24 of a known cloud (VDI)", events: concat(homeAdmin(a, ip("52.1.1.1"), asn(16509)),
			[]event.Event{act(0, ip("52.1.1.77"), asn(16509), at("New York"))}), want: 0},
		{name: "trusted ranges never alert", events: concat(base, []event.Event{act(0, ip("84.1.1.1"), asn(3320), cats(event.CatTrusted))}), want: 0},
		{name: "learning: a new admin's networks are all new", events: []event.Event{signIn("new.admin@example.com", day10, ip("84.1.1.1")),
			mkEv("group.user_membership.add", "new.admin@example.com", day10.Add(time.Minute), ip("84.1.1.1"), target("User", "00ut", "t@example.com"))}, want: 0},
		{name: "switched off with checkNewNetwork: false", cfg: DetectorConfig{Params: map[string]any{"checkNewNetwork": false}},
			events: concat(base, []event.Event{act(0, ip("84.1.1.1"), asn(3320), at("Berlin"))}), want: 0},
		{name: "known device: a new home network in a session Okta signed in from a known device and place is info", events: concat(base, []event.Event{
			signIn(a, when(0), ip("66.188.3.130"), asn(20115), at("New York"), session("kd"), oktaBehaviors("NEGATIVE", "NEGATIVE")),
			act(2, ip("66.188.3.130"), asn(20115), at("New York"), session("kd"))}), want: 1, wantSev: SeverityInfo, check: func(t *testing.T, as []Alert) {
			if as[0].Evidence["knownDevice"] != true {
				t.Fatalf("%v", as[0].Evidence)
			}
		}},
		{name: "a new device on the same network is medium", events: concat(base, []event.Event{
			signIn(a, when(0), ip("66.188.3.130"), asn(20115), at("New York"), session("nd"), oktaBehaviors("POSITIVE", "NEGATIVE")),
			act(2, ip("66.188.3.130"), asn(20115), at("New York"), session("nd"))}), want: 1, wantSev: SeverityMedium},
		{name: "a known device in another session does not count", events: concat(base, []event.Event{
			signIn(a, when(0), ip("66.188.3.130"), asn(20115), at("New York"), session("kd"), oktaBehaviors("NEGATIVE", "NEGATIVE")),
			act(2, ip("66.188.3.130"), asn(20115), at("New York"), session("other"))}), want: 1, wantSev: SeverityMedium},
		{name: "knownDevice: false keeps it medium", cfg: DetectorConfig{Params: map[string]any{"knownDevice": false}}, events: concat(base, []event.Event{
			signIn(a, when(0), ip("66.188.3.130"), asn(20115), at("New York"), session("kd"), oktaBehaviors("NEGATIVE", "NEGATIVE")),
			act(2, ip("66.188.3.130"), asn(20115), at("New York"), session("kd"))}), want: 1, wantSev: SeverityMedium},
	})
}

func TestUnusualAdminConsoleRisk(t *testing.T) {
	const a = "admin@example.com"
	base := routineAdmin(a)
	at := func(m int) time.Time { return day10.Add(time.Duration(m) * time.Minute) }
	newISP := []evOpt{ip("98.1.2.3"), asn(701), session("evil")}
	risky := func(m int, b ...string) event.Event {
		return signIn(a, at(m), append(newISP, behaviors(b...))...)
	}
	console := func(m int, o ...evOpt) event.Event {
		return mkEv("user.session.access_admin_app", a, at(m), append(newISP, o...)...)
	}
	consoleSignOn := mkEv("policy.evaluate_sign_on", a, at(0), append(newISP, behaviors("New Device", "New Geo-Location"),
		target("AppInstance", "0oaADMIN", "saasure"))...)
	runCases(t, "unusual_admin", []detCase{
		{name: "Admin Console after a sign-in Okta flags New Device + New IP", events: concat(base, []event.Event{risky(0, "New Device", "New IP"), console(2)}), want: 1, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["condition"] != "admin_console_okta_risk" || as[0].IP != "98.1.2.3" || len(as[0].EventIDs) != 2 {
					t.Fatalf("%+v", as[0])
				}
			}},
		{name: "the Admin Console sign-on itself flagged New Device + New Geo-Location", events: concat(base, []event.Event{consoleSignOn}), want: 1, wantSev: SeverityHigh},
		{name: "benign: new laptop at a known address (New Device only)", events: concat(base, []event.Event{risky(0, "New Device"), console(2)}), want: 0},
		{name: "benign: flagged sign-in that never reaches the Admin Console", events: concat(base, []event.Event{risky(0, "New Device", "New IP"),
			mkEv("user.authentication.sso", a, at(3), newISP...)}), want: 0},
		{name: "just outside the window: console 12 h 1 min later", events: concat(base, []event.Event{risky(0, "New Device", "New IP"), console(12*60 + 1)}), want: 0},
		{name: "console from another session and address (the office)", events: concat(base, []event.Event{risky(0, "New Device", "New IP"),
			console(30, ip("212.36.0.10"), session("s-office"), cats(event.CatTrusted))}), want: 0},
		{name: "off with consoleRiskWindow 0", cfg: DetectorConfig{Params: map[string]any{"consoleRiskWindow": "0s"}},
			events: concat(base, []event.Event{risky(0, "New Device", "New IP"), console(2)}), want: 0},
		{name: "user still in learning", events: []event.Event{signIn(a, t0, append(newISP, behaviors("New Device", "New IP"))...),
			mkEv("user.session.access_admin_app", a, t0.Add(time.Minute), newISP...)}, want: 0},
	})
}
