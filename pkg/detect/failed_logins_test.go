package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func failures(actor string, from time.Time, n int, step func(i int) time.Duration, o ...evOpt) []event.Event {
	var out []event.Event
	tt := from
	for i := 0; i < n; i++ {
		out = append(out, signIn(actor, tt, append([]evOpt{ip("159.203.1.9"), ua("python-requests/2.31", "Linux"), session("unknown"), failed("INVALID_CREDENTIALS")}, o...)...))
		tt = tt.Add(step(i))
	}
	return out
}

func TestFailedLogins(t *testing.T) {
	const u = "alice@example.com"
	home := warmup(u, "New York", "203.0.113.5", 10)
	fast := func(i int) time.Duration { return time.Duration(5+i%7) * time.Second }
	periodic := func(int) time.Duration { return 40 * time.Second }
	irregular := func(i int) time.Duration { return time.Duration(10+(i*37)%90) * time.Second }
	pwd := mkEv("user.account.update_password", u, day10.Add(-time.Hour))
	lock := mkEv("user.account.lock", u, day10.Add(2*time.Minute), failed("LOCKED_OUT"))
	runCases(t, "failed_logins", []detCase{
		{name: "brute force: 12 failures in a minute", events: concat(home, failures(u, day10, 12, fast)), want: 1, wantSev: SeverityMedium,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["failuresInWindow"].(int) < 10 || len(as[0].EventIDs) < 10 {
					t.Fatalf("%+v", as[0])
				}
			}},
		{name: "nine failures", events: concat(home, failures(u, day10, 9, fast)), want: 0},
		{name: "lockout raises severity", events: concat(home, failures(u, day10, 10, fast), []event.Event{lock}), want: 1},
		{name: "lock event at threshold is high", events: concat(home, failures(u, day10, 9, fast), []event.Event{lock}), want: 1, wantSev: SeverityHigh},
		{name: "MFA and verify failures count", events: concat(home, failures(u, day10, 6, fast), func() []event.Event {
			var out []event.Event
			for i := 0; i < 5; i++ {
				out = append(out, mkEv("user.authentication.verify", u, day10.Add(time.Duration(60+i)*time.Second), failed("INVALID_CREDENTIALS")))
			}
			return out
		}()), want: 1},
		{name: "alert once while it continues", events: concat(home, failures(u, day10, 40, fast)), want: 1},
		{name: "stale client after a password change", events: concat(home, []event.Event{pwd}, failures(u, day10, 12, fast)), want: 0},
		{name: "password change long before does not suppress", events: concat(home, []event.Event{mkEv("user.account.update_password", u, day10.Add(-30*time.Hour))}, failures(u, day10, 12, fast)), want: 1},
		{name: "benign: fixed-period retries from the user's own network (stale client)", events: concat(home, failures(u, day10, 14, periodic, ip("203.0.113.77"))), want: 0},
		{name: "paced brute force: exactly every 40 s from a hosting ASN alerts", events: concat(home, failures(u, day10, 14, periodic, asn(14061))), want: 1,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["pattern"] != "paced_unfamiliar_client" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "paced every 40 s from a hosting ASN: 9 failures stay below the threshold", events: concat(home, failures(u, day10, 9, periodic, asn(14061))), want: 0},
		{name: "paced from a known cloud /24 still alerts (hosting ASN)", events: concat(warmup(u, "New York", "159.203.1.20", 10, asn(14061)), failures(u, day10, 14, periodic, asn(14061))), want: 1},
		{name: "irregular slow failures in one session", events: concat(home, failures(u, day10, 14, irregular)), want: 1},
		{name: "system@okta.com", events: concat(home, failures("system@okta.com", day10, 12, fast)), want: 0},
		{name: "unknown login stays in learning (spray covers it)", events: concat(home, failures("ghost@example.com", day10, 12, fast)), want: 0},
		{name: "user in learning", events: failures(u, t0.Add(time.Hour), 12, fast, func(e *event.Event) {}), want: 0},
		{name: "pen-test user scoped out", cfg: DetectorConfig{Exclude: []string{"alice@example.com"}}, events: concat(home, failures(u, day10, 12, fast)), want: 0},
		{name: "threshold is configurable", cfg: DetectorConfig{Params: map[string]any{"minFailures": 20}}, events: concat(home, failures(u, day10, 12, fast)), want: 0},
	})
}

func TestFailedLoginsAdaptiveThreshold(t *testing.T) {
	u := &failUser{}
	for d := uint16(100); d < 110; d++ {
		u.addHour(d, 30) // a noisy user: 30 failures in one hour every day
	}
	mean, sd := u.hourlyStats(110)
	thr := int(mean + 3*sd)
	if thr < 10 || thr > 40 {
		t.Fatalf("mean %.2f sd %.2f threshold %d", mean, sd, thr)
	}
	for i := 0; i < 20; i++ {
		u.Sess = append(u.Sess, uint16(i%5+1))
	}
	u.Sess = append(u.Sess, 25)
	if p := u.sessionP99(); p != 25 {
		t.Fatalf("p99 %d", p)
	}
}

// lowAndSlow: bursts of 3 failures, gap apart, each burst from another
// hosting address (159.203.<b>.9, DigitalOcean) unless o says otherwise.
func lowAndSlow(u string, from time.Time, bursts int, gap time.Duration, o ...evOpt) []event.Event {
	var out []event.Event
	for b := 0; b < bursts; b++ {
		src := append([]evOpt{ip(fmt.Sprintf("159.203.%d.9", b+1)), asn(14061)}, o...)
		out = append(out, failures(u, from.Add(time.Duration(b)*gap), 3, func(int) time.Duration { return 12 * time.Second }, src...)...)
	}
	return out
}

func TestFailedLoginsLowAndSlow(t *testing.T) {
	const u = "alice@example.com"
	home := warmup(u, "New York", "203.0.113.5", 10)
	runCases(t, "failed_logins", []detCase{
		{name: "10 bursts of 3, 35 min apart, rotating hosting addresses (30 failures in 5.3 h)", events: concat(home, lowAndSlow(u, day10, 10, 35*time.Minute)), want: 1, wantSev: SeverityMedium,
			check: func(t *testing.T, as []Alert) {
				ev := as[0].Evidence
				if ev["pattern"] != "low_and_slow" || ev["failuresFromNewNets"].(int) < 20 || ev["distinctSourceIPs"].(int) < 7 || len(as[0].EventIDs) < 20 {
					t.Fatalf("%v %d ids", ev, len(as[0].EventIDs))
				}
			}},
		{name: "exactly 20 failures from new networks within 12 h alert", events: concat(home, lowAndSlow(u, day10, 7, 100*time.Minute)[:20]), want: 1},
		{name: "just below: 19 failures from new networks within 12 h", events: concat(home, lowAndSlow(u, day10, 7, 100*time.Minute)[:19]), want: 0},
		{name: "spread wider than the window: 3 every 2 h for 20 h", events: concat(home, lowAndSlow(u, day10, 10, 2*time.Hour)), want: 0},
		{name: "benign: 30 typos over a day from the user's own network", events: concat(home, lowAndSlow(u, day10, 10, 35*time.Minute, ip("203.0.113.77"), asn(7922))), want: 0},
		{name: "after a password change (stale clients) stays quiet", events: concat(home, []event.Event{mkEv("user.account.update_password", u, day10.Add(-time.Hour))}, lowAndSlow(u, day10, 10, 35*time.Minute)), want: 0},
		{name: "off with slowMinFailures 0", cfg: DetectorConfig{Params: map[string]any{"slowMinFailures": 0}}, events: concat(home, lowAndSlow(u, day10, 10, 35*time.Minute)), want: 0},
	})
	if _, err := NewEngine(Config{"failed_logins": {Params: map[string]any{"slowMinFailures": 65}}}); err == nil {
		t.Fatal("slowMinFailures above the ring size accepted")
	}
}
