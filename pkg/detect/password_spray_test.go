package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func TestPasswordSpray(t *testing.T) {
	const src = "159.203.1.66"
	var distributed []event.Event
	tt := t0
	for i := 0; i < 24; i++ {
		distributed = append(distributed, signIn(userN(i), tt, ip("45.90.0."+itoa(i%6)), ua("Mozilla/5.0 sprayer/1.0", "Linux"), dt("attackerdt"), failed("INVALID_CREDENTIALS")))
		tt = tt.Add(30 * time.Second)
	}
	var commonUA []event.Event
	tt = t0
	for i := 0; i < 24; i++ {
		commonUA = append(commonUA, signIn(userN(i), tt, ip("73.0.0."+itoa(i%6))))
		commonUA = append(commonUA, signIn(userN(i), tt.Add(time.Second), ip("73.0.0."+itoa(i%6)), failed("INVALID_CREDENTIALS")))
		tt = tt.Add(30 * time.Second)
	}
	runCases(t, "password_spray", []detCase{
		{name: "single source against 12 users", events: sprayFrom(src, t0, 12, 2), want: 1, wantSev: SeverityMedium,
			check: func(t *testing.T, as []Alert) {
				a := as[0]
				if a.IP != src || a.Actor != "" || a.Evidence["distinctUsers"].(int) < 10 || len(a.Evidence["userSample"].([]string)) == 0 {
					t.Fatalf("%+v", a)
				}
			}},
		{name: "eight users", events: sprayFrom(src, t0, 8, 2), want: 0},
		{name: "brute force (many attempts per user) is not a spray", events: sprayFrom(src, t0, 12, 4), want: 0},
		{name: "spread over hours", events: func() []event.Event {
			var out []event.Event
			for i := 0; i < 12; i++ {
				out = append(out, sprayFrom(src, t0.Add(time.Duration(i)*10*time.Minute), 1, 1)...)
				out[len(out)-1].Actor.AlternateID = userN(i)
			}
			return out
		}(), want: 0},
		{name: "corporate egress", events: sprayFrom(src, t0, 12, 1), cfg: DetectorConfig{Exclude: []string{"159.203.1.0/24"}}, want: 0},
		{name: "success after spray escalates", events: concat(sprayFrom(src, t0, 12, 1), []event.Event{signIn(userN(3), t0.Add(time.Hour), ip(src))}), want: 2, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				if as[1].Actor != userN(3) {
					t.Fatalf("%+v", as[1])
				}
			}},
		{name: "success by an untargeted user does not", events: concat(sprayFrom(src, t0, 12, 1), []event.Event{signIn("other@example.com", t0.Add(time.Hour), ip(src))}), want: 1},
		{name: "distributed: one client across six IPs", events: distributed, want: 1,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["kind"] != "distributed" || as[0].Evidence["distinctIPs"].(int) != 6 {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "a common browser with many successes is not a spray", events: commonUA, want: 0},
	})
}
