package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func burst(actor, typ string, from time.Time, n int, step time.Duration, o ...evOpt) []event.Event {
	var out []event.Event
	for i := 0; i < n; i++ {
		out = append(out, mkEv(typ, actor, from.Add(time.Duration(i)*step), append([]evOpt{target("User", "00u"+itoa(i), "victim"+itoa(i)+"@example.com")}, o...)...))
	}
	return out
}

func TestMassDestructive(t *testing.T) {
	const a = "admin@example.com"
	logStream := mkEv("system.log_stream.lifecycle.deactivate", a, t0.Add(-2*time.Minute), target("LogStream", "0Ox1", "Splunk"))
	tokenCreate := mkEv("system.api_token.create", a, t0.Add(-time.Hour), target("Token", "00Tnew", "script"))
	runCases(t, "mass_destructive", []detCase{
		{name: "25 deactivations in 5 minutes", events: burst(a, "user.lifecycle.deactivate", t0, 25, 12*time.Second), want: 1, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				// one incident: the burst's first 20 events raised it, the
				// 5 that followed joined it
				if as[0].Evidence["distinctTargets"].(int) != 20 || len(as[0].EventIDs) != 25 || as[0].Count != 25 || as[0].LastTime.Sub(as[0].Time) != 5*12*time.Second {
					t.Fatalf("%v %d", as[0].Evidence, len(as[0].EventIDs))
				}
			}},
		{name: "15 deactivations", events: burst(a, "user.lifecycle.deactivate", t0, 15, 12*time.Second), want: 0},
		{name: "mixed destructive types count together", events: concat(burst(a, "user.lifecycle.suspend", t0, 10, 10*time.Second),
			burst(a, "user.mfa.factor.reset_all", t0.Add(2*time.Minute), 12, 10*time.Second, func(e *event.Event) { e.Targets[0].ID += "x" })), want: 1},
		{name: "same target repeated is one target", events: burst(a, "user.session.clear", t0, 30, 5*time.Second, func(e *event.Event) { e.Targets[0].ID = "same" }), want: 0},
		{name: "spread beyond the window", events: burst(a, "user.lifecycle.deactivate", t0, 25, time.Minute), want: 0},
		{name: "provisioning JOB (HR sync)", events: burst(a, "user.lifecycle.deactivate", t0, 30, 5*time.Second, txJob()), want: 0},
		{name: "app actor (HR sync app)", events: burst("workday", "user.lifecycle.deactivate", t0, 30, 5*time.Second, actorType("PublicClientApp")), want: 0},
		{name: "configured automation actor", cfg: DetectorConfig{Params: map[string]any{"automationActors": []any{"svc-*"}}},
			events: burst("svc-deprov@example.com", "user.lifecycle.deactivate", t0, 30, 5*time.Second), want: 0},
		{name: "log stream disabled in the window is critical", events: concat([]event.Event{logStream}, burst(a, "user.lifecycle.suspend", t0, 25, 10*time.Second)), want: 1, wantSev: SeverityCritical},
		{name: "burst through a token created an hour ago is critical", events: concat([]event.Event{tokenCreate}, burst(a, "user.lifecycle.deactivate", t0, 25, 10*time.Second, token("00Tnew"))), want: 1, wantSev: SeverityCritical},
		{name: "actor's usual bursts raise the bar", events: concat(
			burst(a, "user.lifecycle.deactivate", t0.Add(-72*time.Hour), 30, 5*time.Second, func(e *event.Event) { e.Targets[0].ID += "a" }),
			burst(a, "user.lifecycle.deactivate", t0.Add(-48*time.Hour), 30, 5*time.Second, func(e *event.Event) { e.Targets[0].ID += "b" }),
			burst(a, "user.lifecycle.deactivate", t0, 28, 5*time.Second)), want: 2, // after two bursts of 30 a third of 28 is the actor's routine
			check: func(t *testing.T, as []Alert) {
				if !as[1].Time.Before(t0) {
					t.Fatalf("routine burst alerted: %v", as[1].Time)
				}
			}},
		{name: "failed actions do not count", events: burst(a, "user.lifecycle.deactivate", t0, 25, 5*time.Second, failed("E0000001")), want: 0},
	})
}
