package detect

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Expired entries held by the spread prune (prune_slots.go). The hourly
// scan queues a key whose entry has expired in the key's slot, and the
// slot prunes it when event time passes the slot's minute; an entry that
// expires just after a scan waits for the next one. So an entry past its
// window can be in memory (up to ~2 hours of event time, 3 across a
// restart) when an event reads its key, and every reader must ignore it:
// the threshold's `x.T >= cut` (concurrent_sessions), a sequence's
// `now-prev.Steps[0].T > win` and its cancel's `now-c <= win`
// (admin_console_weak_mfa's no_mfa_session), session_hijack's
// `now-o.T > lifetime`.
//
// Each case below builds a timeline whose scans and slots leave the
// expired entry in memory at the deciding event, proves it (the entry is
// in the saved state, and a whole prune at the deciding event's time
// changes it), then asserts the decision: the one the engine makes with
// the entry pruned (checked too, on the whole-pruned state loaded into a
// new engine), and the same after a restart (the state the deltas stored,
// loaded into a new engine, whose prune queues are empty). Ticks (events
// no enabled detector reads) move event time so that the scans and slots
// run when the case says.
//
// Every threshold and every sequence of the rule pack is pruned by slot
// and read by the same code (threshold, sequence in rules_eval.go), so
// concurrent_sessions and no_mfa_session stand for them all. Removing or
// widening one of the four filters above makes its case fail, in memory
// and after the restart; the edge cases of rules_session_test.go (four
// IPs over 61 minutes) do not, their expired sign-in being pruned before
// the fourth.

// heldCase is one timeline.
type heldCase struct {
	name  string
	cfg   Config
	owner string // the detector's id
	// before: the events up to the decision, in time order; the last one
	// (a tick) is at the deciding events' time, so the decision's own
	// handling prunes nothing more (its scan and slots ran with the tick)
	before []event.Event
	// entry: the state entry (the owner's entry name, as in
	// "detect.<owner>/<entry>") that holds the expired entry at the
	// decision; "" for a control with nothing expired
	entry  string
	decide []event.Event // at one time
	want   int           // the owner's alerts from the deciding events
}

// keyInSlot returns the first fmt.Sprintf(format, i) whose prune key
// (key of it) falls in prune slot slot.
func keyInSlot(t *testing.T, slot int, format string, key func(string) string) string {
	t.Helper()
	for i := 0; i < 10000; i++ {
		s := fmt.Sprintf(format, i)
		if slotOfKey(key(s)) == slot {
			return s
		}
	}
	t.Fatalf("no %q in slot %d", format, slot)
	return ""
}

// byLegacyKey is a saved state by its keys' legacy form
// ("detect.<owner>/<entry>").
func byLegacyKey(t *testing.T, m map[string][]byte) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		l, err := LegacyStateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out[l] = v
	}
	return out
}

// heldExpired fails unless e holds entry of owner with something expired
// at now in it: the entry is in e's saved state and a whole prune at now
// changes or removes it.
func heldExpired(t *testing.T, what string, cfg Config, e *Engine, now time.Time, owner, entry string) {
	t.Helper()
	st, err := e.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	key := StateKeyPrefix + owner + "/" + entry
	got := byLegacyKey(t, st)[key]
	if got == nil {
		t.Fatalf("%s: no %s in the state: the expired entry was pruned before the deciding event (the case no longer tests the reader)", what, key)
	}
	pruned := byLegacyKey(t, wholePruned(t, cfg, e, now))[key]
	if bytes.Equal(got, pruned) {
		t.Fatalf("%s: %s = %s, unchanged by a whole prune at %s: nothing in it has expired", what, key, got, now.Format(time.RFC3339))
	}
	t.Logf("%s: held at %s: %s (whole prune: %s)", what, now.Format(time.RFC3339), got, pruned)
}

// decideOn processes the deciding events in e and counts owner's alerts.
func decideOn(e *Engine, c *heldCase) int {
	var out []Alert
	for i := range c.decide {
		ev := c.decide[i]
		out = append(out, e.Process(&ev)...)
	}
	n := 0
	for _, a := range Final(append(out, e.Flush()...)) {
		if a.Detector == c.owner {
			n++
		}
	}
	return n
}

func loadedEngine(t *testing.T, cfg Config, st map[string][]byte) *Engine {
	t.Helper()
	e, err := NewEngine(cfg, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.LoadState(st); err != nil {
		t.Fatal(err)
	}
	return e
}

func runHeld(t *testing.T, c heldCase) {
	now := c.decide[0].Published
	for _, ev := range c.decide {
		if !ev.Published.Equal(now) {
			t.Fatalf("deciding events at %s and %s: want one time", now, ev.Published)
		}
	}
	if last := c.before[len(c.before)-1].Published; !last.Equal(now) {
		t.Fatalf("last event before the decision at %s, want the decision's time %s", last, now)
	}
	e, err := NewEngine(c.cfg, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]byte{} // what a store holds: the deltas applied
	save := func() {
		d, err := e.SaveStateDelta()
		if err != nil {
			t.Fatal(err)
		}
		d.ApplyTo(stored)
	}
	save()
	for i := range c.before {
		ev := c.before[i]
		for _, a := range e.Process(&ev) {
			if a.Detector == c.owner {
				t.Fatalf("alert before the decision: %s", a.Summary)
			}
		}
		save()
	}
	if c.entry != "" {
		heldExpired(t, "in memory", c.cfg, e, now, c.owner, c.entry)
	}
	pruned := wholePruned(t, c.cfg, e, now)

	// each decision is checked on its own (Errorf): one that counts the
	// expired entry fails whether it is in memory or loaded
	if n := decideOn(e, &c); n != c.want {
		t.Errorf("in memory: %d alerts, want %d", n, c.want)
	}
	if n := decideOn(loadedEngine(t, c.cfg, pruned), &c); n != c.want {
		t.Errorf("with the expired entries pruned: %d alerts, want %d", n, c.want)
	}
	r := loadedEngine(t, c.cfg, stored) // a restart: the stored state, empty queues
	if c.entry != "" {
		heldExpired(t, "after a restart", c.cfg, r, now, c.owner, c.entry)
	}
	if n := decideOn(r, &c); n != c.want {
		t.Errorf("after a restart: %d alerts, want %d", n, c.want)
	}
}

// runHeldCases runs the cases of one detector (owner), enabled alone.
func runHeldCases(t *testing.T, owner string, cfg Config, cases []heldCase) {
	for _, c := range cases {
		c.cfg, c.owner = cfg, owner
		t.Run(c.name, func(t *testing.T) { runHeld(t, c) })
	}
}

// ruleTick is an event at rt0+d that no rule reads: it moves event time.
func ruleTick(t testing.TB, d time.Duration) event.Event {
	return jev(t, "system.tick", "tick@example.com", rt0.Add(d))
}

// TestPruneHeldThreshold: concurrent_sessions (4 IPs of one user within
// an hour) with the first sign-in past the hour but in memory.
func TestPruneHeldThreshold(t *testing.T) {
	const id = "concurrent_sessions"
	cfg := ruleOnly(id, DetectorConfig{})
	// a user whose key is pruned at minute 40 of the hour
	u := keyInSlot(t, 40, "user%d@example.com", normLogin)
	entry := "ips/" + url.PathEscape(normLogin(u))
	tick := func(d time.Duration) event.Event { return ruleTick(t, d) }
	in := func(d time.Duration, n int) event.Event {
		return jev(t, "user.session.start", u, rt0.Add(d), jIP(fmt.Sprintf("81.2.69.%d", 10+n), 20712), jSess(fmt.Sprintf("s%d", n)))
	}
	sec := time.Second
	runHeldCases(t, id, cfg, []heldCase{
		{
			// the scan at 10:01 finds the 09:00:30 sign-in expired and
			// queues its key in slot 40; the slots of minutes 46 to 05
			// pass by 10:05, not 40
			name: "expired sign-in queued, its slot not passed: three IPs in the hour raise nothing",
			before: evs(tick(0), in(30*sec, 1), in(mins(30), 2), in(mins(45), 3),
				tick(mins(61)), tick(mins(65))),
			entry: entry, decide: evs(in(mins(65), 4)), want: 0,
		},
		{
			// the scan at 10:00:10 finds it not yet expired (it expires at
			// 10:00:30) and queues nothing; the next scan is at 11:00:10
			name: "expired sign-in not queued, the scan came before it expired: three IPs in the hour raise nothing",
			before: evs(tick(0), in(30*sec, 1), in(mins(30), 2), in(mins(45), 3),
				tick(mins(60)+10*sec), tick(mins(61))),
			entry: entry, decide: evs(in(mins(61), 4)), want: 0,
		},
		{
			name: "control: the first sign-in just inside the hour, four IPs",
			before: evs(tick(0), in(mins(5)+30*sec, 1), in(mins(30), 2), in(mins(45), 3),
				tick(mins(61)), tick(mins(65))),
			decide: evs(in(mins(65), 4)), want: 1,
		},
	})
}

// TestPruneHeldSequence: admin_console_weak_mfa's no_mfa_session (a
// password session start, then the Admin Console within 12 hours, no MFA
// in the session within 12 hours before or after the start) with an
// expired session start, or an expired MFA (the cancel), in memory.
func TestPruneHeldSequence(t *testing.T) {
	const id = "admin_console_weak_mfa"
	cfg := ruleOnly(id, DetectorConfig{})
	const admin = "ada.admin@example.com"
	// a session whose key is pruned at minute 40 of the hour
	sess := keyInSlot(t, 40, "102s%d", func(s string) string { return s })
	entry := "no_mfa_session/" + url.PathEscape(sess)
	tick := func(d time.Duration) event.Event { return ruleTick(t, d) }
	start := func(d time.Duration) event.Event {
		return jev(t, "user.session.start", admin, rt0.Add(d), jSess(sess), jCred("PASSWORD"))
	}
	console := func(d time.Duration) event.Event {
		return jev(t, "user.session.access_admin_app", admin, rt0.Add(d), jSess(sess))
	}
	mfa := func(d time.Duration) event.Event {
		return jev(t, "user.authentication.auth_via_mfa", admin, rt0.Add(d), jSess(sess), jDbg("factor", "OKTA_VERIFY_PUSH"))
	}
	// scans at 20:30 (nothing expired yet) and 21:31 (the 09:00:30 entry
	// expired at 21:00:30: its key queued in slot 40); the slots of
	// minutes 31 to 00 pass at 21:00, 01 to 31 at 21:31, 32 to 35 at 21:35
	ticks := func() []event.Event {
		return evs(tick(mins(11*60+30)), tick(mins(12*60)), tick(mins(12*60+31)), tick(mins(12*60+35)))
	}
	dec := mins(12*60 + 35)
	sec := time.Second
	runHeldCases(t, id, cfg, []heldCase{
		{
			name:   "expired password session queued, its slot not passed: the console 12 h 35 min later raises nothing",
			before: append(evs(tick(0), start(30*sec)), ticks()...),
			entry:  entry, decide: evs(console(dec)), want: 0,
		},
		{
			name:   "control: the session start just inside 12 hours",
			before: append(evs(tick(0), start(mins(40))), ticks()...),
			decide: evs(console(dec)), want: 1,
		},
		{
			name:   "expired MFA queued, its slot not passed: a password session then the console raise an alert",
			before: append(evs(tick(0), mfa(30*sec)), ticks()...),
			entry:  entry, decide: evs(start(dec), console(dec)), want: 1,
		},
		{
			name:   "control: the MFA just inside 12 hours before the session start",
			before: append(evs(tick(0), mfa(mins(40))), ticks()...),
			decide: evs(start(dec), console(dec)), want: 0,
		},
	})
}

// TestPruneHeldSession: session_hijack (a session used from another
// network and client within its 24-hour lifetime) with the session's
// origin past the lifetime but in memory.
func TestPruneHeldSession(t *testing.T) {
	const id = "session_hijack"
	cfg := only(id, DetectorConfig{})
	const u = "alice@example.com"
	// a session whose key is pruned at minute 40 of the hour
	sess := keyInSlot(t, 40, "102abc%d", func(s string) string { return "s:" + s })
	entry := strconv.FormatUint(hash64("s:"+sess), 16)
	tick := func(d time.Duration) event.Event {
		return mkEv("system.tick", "tick@example.com", t0.Add(d), session(""))
	}
	origin := func(d time.Duration) event.Event {
		return signIn(u, t0.Add(d), ip("73.1.1.1"), asn(7922), session(sess), at("New York"))
	}
	dec := mins(24*60 + 35)
	replay := mkEv("user.authentication.sso", u, t0.Add(dec), session(sess), ip("105.112.1.1"), asn(29465), at("Lagos"),
		ua("Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0", "Linux"))
	// scans at 07:30 the next day (nothing expired) and 08:31 (the
	// 08:00:30 origin expired at 08:00:30: queued in slot 40); the slots
	// of minutes 31 to 00 pass at 08:00, 01 to 31 at 08:31, 32 to 35 at
	// 08:35
	ticks := evs(tick(mins(23*60+30)), tick(mins(24*60)), tick(mins(24*60+31)), tick(dec))
	runHeldCases(t, id, cfg, []heldCase{
		{
			name:   "expired origin queued, its slot not passed: a use from another network 24 h 35 min later raises nothing",
			before: append(evs(tick(0), origin(30*time.Second)), ticks...),
			entry:  entry, decide: evs(replay), want: 0,
		},
		{
			name:   "control: the origin just inside the lifetime",
			before: append(evs(tick(0), origin(mins(40))), ticks...),
			decide: evs(replay), want: 1,
		},
	})
}
