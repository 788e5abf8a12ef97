package detect

import (
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
		{name: "new ordinary admin type is medium", events: concat(base, []event.Event{adminEv(a, "user.lifecycle.create", at(0))}), want: 1, wantSev: SeverityMedium},
		{name: "new type inside a change window", cfg: DetectorConfig{Params: map[string]any{"changeWindows": []any{"2025-03-13T07:00:00Z/2025-03-13T12:00:00Z"}}},
			events: concat(base, []event.Event{adminEv(a, "policy.rule.update", at(0))}), want: 0},
		{name: "volume spike in one session", events: concat(base, spike), want: 1,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["condition"] != "session_volume" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "newly granted admin: volume only learns", events: concat(base, []event.Event{grantedByOther}, spike), want: 0},
		{name: "self-granted role alerts", events: concat(base, []event.Event{adminEv(a, "user.account.privilege.grant", at(0), func(e *event.Event) {
			e.Targets = []event.Target{{Type: "User", ID: "id-" + a, AlternateID: a}}
		})}), want: 2, check: func(t *testing.T, as []Alert) {
			if as[0].Evidence["condition"] != "self_grant" || as[0].Severity != SeverityHigh {
				t.Fatalf("%+v", as[0])
			}
		}},
		{name: "admin work from outside the usual trusted ranges", events: concat(base, []event.Event{
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
