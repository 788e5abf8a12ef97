package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// tenant: ten users signing in daily from New York for ten days, plus
// three who also use Berlin (Germany is common in the tenant).
func tenantBase() []event.Event {
	var out []event.Event
	for i := 0; i < 10; i++ {
		out = append(out, warmup(userN(i), "New York", "203.0.113."+itoa(10+i), 10)...)
	}
	for i := 0; i < 3; i++ {
		out = append(out, signIn(userN(i), t0.Add(time.Duration(100+i)*time.Hour), at("Berlin"), ip("91.0.0."+itoa(i))))
	}
	return out
}

func userN(i int) string { return "user" + itoa(i) + "@example.com" }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestInfrequentCountry(t *testing.T) {
	const u = "user9@example.com"
	lagos := func(h int, o ...evOpt) event.Event {
		return signIn(u, day10.Add(time.Duration(h)*time.Hour), append([]evOpt{at("Lagos"), ip("105.112.1.1")}, o...)...)
	}
	runCases(t, "infrequent_country", []detCase{
		{name: "country new to user and rare in tenant", events: concat(tenantBase(), []event.Event{lagos(0)}), want: 1, wantSev: SeverityMedium,
			check: func(t *testing.T, as []Alert) {
				if as[0].Country != "Nigeria" || as[0].Evidence["tenantUsers30d"].(int) != 0 || as[0].Evidence["userSignIns30d"].(int) != 0 {
					t.Fatalf("%+v", as[0])
				}
			}},
		{name: "repeat within 30 days alerts once", events: concat(tenantBase(), []event.Event{lagos(0), lagos(5), lagos(48)}), want: 1},
		{name: "traveller: country in user's 30-day history", events: concat(tenantBase(),
			[]event.Event{signIn(u, t0.Add(30*time.Hour), at("Lagos"), ip("105.112.1.2")), lagos(0)}), want: 0},
		{name: "country common in the tenant", events: concat(tenantBase(), []event.Event{signIn(u, day10, at("Berlin"), ip("91.0.0.99"))}), want: 0},
		{name: "org-new-only mode ignores countries others used", cfg: DetectorConfig{Params: map[string]any{"orgNewOnly": true, "minTenantUsers": 5}},
			events: concat(tenantBase(), []event.Event{signIn(u, day10, at("Berlin"), ip("91.0.0.99"))}), want: 0},
		{name: "rare threshold is configurable", cfg: DetectorConfig{Params: map[string]any{"minTenantUsers": 5}},
			events: concat(tenantBase(), []event.Event{signIn(u, day10, at("Berlin"), ip("91.0.0.99"))}), want: 1},
		{name: "VPN / corporate range", events: concat(tenantBase(), []event.Event{lagos(0, cats(event.CatTrusted))}), want: 0},
		{name: "anonymous IP is left to anonymous_ip", events: concat(tenantBase(), []event.Event{lagos(0, proxy())}), want: 0},
		{name: "Apple Private Relay", events: concat(tenantBase(), []event.Event{lagos(0, relay())}), want: 0},
		{name: "failed sign-in", events: concat(tenantBase(), []event.Event{lagos(0, failed("INVALID_CREDENTIALS"))}), want: 0},
		{name: "frequent traveller scoped out", cfg: DetectorConfig{Exclude: []string{u}}, events: concat(tenantBase(), []event.Event{lagos(0)}), want: 0},
		{name: "user learning period", events: concat(tenantBase(), []event.Event{
			signIn("newbie@example.com", day10, at("New York")), signIn("newbie@example.com", day10.Add(2*time.Hour), at("Lagos"))}), want: 0},
		{name: "tenant learning period", events: []event.Event{signIn(u, t0, at("New York")), signIn(u, t0.Add(48*time.Hour), at("Lagos"))},
			want: 0},
		{name: "Okta New Country raises", events: concat(tenantBase(), []event.Event{lagos(0, behaviors("New Country"))}), want: 1, wantSev: SeverityHigh},
	})
}

// The user's country baseline is the last 30 days to the day
// (docs/detectors.md), as the tenant's: the day of the event (UTC) and the
// 29 before. A country used on day 0 is known until the end of day 29
// and forgotten from day 30 on. The first use (day 2, in the user's
// learning period) alerts nothing; only the gap decides. The 5-day buckets
// of the history made the window 25 to 30 days depending on the day: a
// country used 26 to 29 days before was forgotten at four of the five
// offsets below (fails on the old code).
func TestInfrequentCountryWindowIsThirtyDays(t *testing.T) {
	const u = "user9@example.com"
	for _, off := range []time.Duration{0, 26 * time.Hour, 50 * time.Hour, 75 * time.Hour, 99 * time.Hour} {
		first := t0.Add(48*time.Hour + off)
		day0 := first.Truncate(24 * time.Hour)
		for _, c := range []struct {
			again time.Time
			want  int
		}{
			{first.Add(29 * 24 * time.Hour), 0},
			{day0.Add(30*24*time.Hour - time.Minute), 0}, // day 29, 23:59
			{day0.Add(30 * 24 * time.Hour), 1},           // day 30, 00:00
			{first.Add(31 * 24 * time.Hour), 1},
		} {
			events := concat(tenantBase(), []event.Event{
				signIn(u, first, at("Lagos"), ip("105.112.1.1")),
				signIn(u, c.again, at("Lagos"), ip("105.112.1.1")),
			})
			if as := runEvents(t, only("infrequent_country", DetectorConfig{}), events); len(as) != c.want {
				t.Errorf("first use %s, again %s: %d alerts, want %d", first.Format(time.DateTime), c.again.Format(time.DateTime), len(as), c.want)
			}
		}
	}
}
