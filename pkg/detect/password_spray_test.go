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
		// one campaign, one alert: a second source spraying while the
		// first source's incident is open joins it
		{name: "two sources at once are one campaign", events: concat(sprayFrom(src, t0, 12, 1), sprayFrom("185.156.8.1", t0.Add(5*time.Minute), 12, 1)),
			want: 1, check: func(t *testing.T, as []Alert) {
				ips, _ := as[0].Evidence["sourceIPs"].([]any)
				if len(ips) != 2 || ips[0] != src || ips[1] != "185.156.8.1" || as[0].Evidence["sourceIPsTotal"] != 2 {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "a spray from another source 3 hours later is a new incident", events: concat(sprayFrom(src, t0, 12, 1), sprayFrom("185.156.8.1", t0.Add(3*time.Hour), 12, 1)),
			want: 2},
		{name: "just inside the campaign: the second source's first spray match 29 minutes after the first's latest", events: concat(sprayFrom(src, t0, 12, 1),
			sprayFrom("185.156.8.1", t0.Add(11*20*time.Second+29*time.Minute-9*20*time.Second), 12, 1)), want: 1},
		{name: "just outside: 31 minutes after the first's latest match", events: concat(sprayFrom(src, t0, 12, 1),
			sprayFrom("185.156.8.1", t0.Add(11*20*time.Second+31*time.Minute-9*20*time.Second), 12, 1)), want: 2},
	})
}

// asnSpray: users failures from n addresses of one hosting ASN (M247, AS
// 9009), each address with its own client and device token, 40 s apart;
// ok adds a success from the same addresses after each failure.
func asnSpray(users, n int, ok bool) []event.Event {
	var out []event.Event
	tt := day10
	for i := 0; i < users; i++ {
		src := []evOpt{ip("185.156.7." + itoa(10+i%n)), asn(9009), ua("python-requests/2."+itoa(i%n), "Linux"), dt("dt" + itoa(i%n))}
		out = append(out, signIn(userN(i), tt, append(src, failed("INVALID_CREDENTIALS"))...))
		if ok {
			out = append(out, signIn(userN(i), tt.Add(5*time.Second), src...))
		}
		tt = tt.Add(40 * time.Second)
	}
	return out
}

func TestPasswordSprayOverOneHostingASN(t *testing.T) {
	runCases(t, "password_spray", []detCase{
		{name: "six addresses of one hosting ASN, 4 users each (24 users in 16 min)", events: asnSpray(24, 6, false), want: 1, wantSev: SeverityMedium,
			check: func(t *testing.T, as []Alert) {
				ev := as[0].Evidence
				if ev["kind"] != "distributed_asn" || ev["asn"] != 9009 || ev["distinctIPs"].(int) != 6 || ev["distinctUsers"].(int) < 20 {
					t.Fatalf("%v", ev)
				}
			}},
		{name: "exactly 20 users over 3 addresses alerts", events: asnSpray(20, 3, false), want: 1},
		{name: "just below: 19 users", events: asnSpray(19, 6, false), want: 0},
		{name: "just below: two addresses (single-source threshold raised out of the way)", events: asnSpray(24, 2, false), cfg: DetectorConfig{Params: map[string]any{"minUsers": 30}}, want: 0},
		{name: "benign: corporate egress in a cloud, users fail once and then sign in", events: asnSpray(24, 6, true), want: 0},
		{name: "off with asnMinIPs 0", events: asnSpray(24, 6, false), cfg: DetectorConfig{Params: map[string]any{"asnMinIPs": 0}}, want: 0},
	})
}
