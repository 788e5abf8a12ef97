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
