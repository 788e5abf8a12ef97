package detect

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// TestExpirySkipExact: impossibleTravel and suspiciousIP skip the hourly
// prune of a map none of whose entries can have expired (expiry.go), and
// the baselines a same-day prune when nothing older than the day was
// recorded since the last; an engine doing so must keep exactly the
// state, changed keys and alerts of one whose every prune walks every
// entry and every user's baseline — over 40
// days (30-day windows expire), with late events (out of time order, as
// a reorder window lets through), and both engines reloaded midway from
// their saved state (a load makes the bounds unknown).
func TestExpirySkipExact(t *testing.T) {
	evs := lateOrg(t, traffic.Config{Seed: 17, Users: 40, Days: 40, Attacks: true}, 3)
	skip, full := trackedEngine(t), trackedEngine(t)
	type dets struct {
		it *impossibleTravel
		si *suspiciousIP
	}
	find := func(e *Engine) dets {
		var d dets
		for _, x := range e.all {
			switch v := x.det.(type) {
			case *impossibleTravel:
				d.it = v
			case *suspiciousIP:
				d.si = v
			}
		}
		if d.it == nil || d.si == nil {
			t.Fatal("a detector is missing from the default engine")
		}
		return d
	}
	// skips counts, per map, the prunes of the skipping engine whose
	// bound was known and at or after its cut (the walk skipped)
	skips := map[string]int{}
	prunes := 0
	reloaded := false
	for i := range evs {
		ev := evs[i]
		sec := ev.Published.Unix()
		if skip.lastPrune != 0 && sec-skip.lastPrune >= int64(pruneEvery.Seconds()) {
			prunes++
			d := find(skip)
			now := time.Unix(sec, 0)
			first := int64(day(sec)) - windowDays + 1
			count := func(name string, e expiry, cut int64) {
				if e.from(cut) {
					skips[name]++
				}
			}
			count("anchors", d.it.anchorsExp, min(now.Add(-d.it.window).Unix(), sec-30*secondsPerDay))
			count("places", d.it.placesExp, first)
			count("routes", d.it.routesExp, first)
			count("threats", d.si.threatsExp, sec-int64(d.si.window/time.Second))
			count("fails", d.si.failsExp, sec-int64(d.si.window/time.Second))
			count("okUsers", d.si.okExp, first)
		}
		f := find(full) // every prune walks every entry
		f.it.forgetExpiry()
		f.si.forgetExpiry()
		full.base.pruned = false // and every user's baseline
		if skip.base.pruned && day(sec) == skip.base.prunedDay && skip.lastPrune != 0 && sec-skip.lastPrune >= int64(pruneEvery.Seconds()) {
			if skip.base.recordedMin >= day(sec) {
				skips["baselines"]++
			} else {
				skips["baselines walked"]++
			}
		}
		outSkip := skip.Process(&ev)
		ev2 := evs[i]
		outFull := full.Process(&ev2)
		x, _ := json.Marshal(outSkip)
		y, _ := json.Marshal(outFull)
		if string(x) != string(y) {
			t.Fatalf("event %d: alerts differ", i)
		}
		if i%997 == 0 || i == len(evs)-1 {
			sameDeltas(t, i, skip, full)
		}
		if !reloaded && i > len(evs)/2 {
			// both engines reloaded from their saved state into new ones:
			// a load must make the bounds unknown
			reloaded = true
			reload := func(e *Engine, wrong bool) *Engine {
				st, err := e.SaveState()
				if err != nil {
					t.Fatal(err)
				}
				n, err := NewEngine(Config{}, WithReorderWindow(0))
				if err != nil {
					t.Fatal(err)
				}
				if wrong { // known bounds no entry can be below: a load must forget them
					d := find(n)
					far := expiry{min: 1 << 62, known: true}
					d.it.anchorsExp, d.it.placesExp, d.it.routesExp = far, far, far
					d.si.threatsExp, d.si.failsExp, d.si.okExp = far, far, far
				}
				if err := n.LoadState(st); err != nil {
					t.Fatal(err)
				}
				if _, err := n.SaveStateDelta(); err != nil {
					t.Fatal(err)
				}
				return n
			}
			skip, full = reload(skip, true), reload(full, false)
		}
	}
	for _, name := range []string{"anchors", "places", "routes", "threats", "okUsers", "baselines", "baselines walked"} {
		if skips[name] == 0 || skips[name] == prunes {
			t.Errorf("test too weak: %s skipped in %d of %d prunes", name, skips[name], prunes)
		}
	}
	t.Logf("%d events, %d prunes, skipped: %v", len(evs), prunes, skips)
}

// TestExpiryAfterEmptyPrune: an entry written after a prune that found a
// map empty (its bound: nothing can expire) still expires: writes lower
// the bound. Each map gets its entries after the engine's first prune and
// must be empty after a prune 40 days later.
func TestExpiryAfterEmptyPrune(t *testing.T) {
	e, err := NewEngine(Config{}, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	var it *impossibleTravel
	var si *suspiciousIP
	for _, x := range e.all {
		switch v := x.det.(type) {
		case *impossibleTravel:
			it = v
		case *suspiciousIP:
			si = v
		}
	}
	const addr = "203.0.113.9"
	threat := mkEv("security.threat.detected", "unknown", t0.Add(2*time.Hour), ip(addr))
	threat.Actor = event.Actor{ID: "unknown", Type: "User", AlternateID: "unknown"}
	evs := []event.Event{
		mkEv("user.session.end", "bob@example.com", t0),                     // the first event: no prune
		mkEv("user.session.end", "bob@example.com", t0.Add(90*time.Minute)), // prunes the empty maps
		threat,
		signIn("alice@example.com", t0.Add(3*time.Hour), ip(addr), failed("INVALID_CREDENTIALS")),
		signIn("alice@example.com", t0.Add(4*time.Hour), ip(addr), at("Berlin")),
		signIn("alice@example.com", t0.Add(5*time.Hour), ip("198.51.100.7"), at("Sydney")), // a route
	}
	for i := range evs {
		e.Process(&evs[i])
	}
	sizes := func() []int {
		routeUsers := 0
		for _, m := range it.routes {
			routeUsers += len(m)
		}
		return []int{it.anchors.len(), it.places.len(), routeUsers, len(si.threats), len(si.fails), len(si.okUsers)}
	}
	for i, n := range sizes() {
		if n == 0 {
			t.Fatalf("map %d got no entry (anchors, places, routes, threats, fails, okUsers): %v", i, sizes())
		}
	}
	late := mkEv("user.session.end", "bob@example.com", t0.Add(40*24*time.Hour))
	e.Process(&late)
	for i, n := range sizes() {
		if n != 0 {
			t.Errorf("map %d kept entries 40 days on (anchors, places, routes, threats, fails, okUsers): %v", i, sizes())
		}
	}
}

// TestBaselineSameDayLateRecord: a same-day prune still drops what a late
// event recorded out of the 30-day window (the baselines skip a same-day
// prune only when nothing older than the day was recorded since).
func TestBaselineSameDayLateRecord(t *testing.T) {
	var b baselines
	b.init()
	now := t0.Add(40 * 24 * time.Hour)
	sec := now.Unix()
	ev := signIn("alice@example.com", now, ip("203.0.113.9"), at("Berlin"))
	b.record(&ev, b.touchUser(&ev, sec), sec)
	b.prune(sec) // the day's first prune: every user
	size := baselineSize(&b)
	late := signIn("alice@example.com", t0, ip("198.51.100.7"), at("Sydney")) // 40 days before
	b.record(&late, b.touchUser(&late, t0.Unix()), t0.Unix())
	if baselineSize(&b) <= size {
		t.Fatalf("the late event recorded nothing: %d entries, %d before", baselineSize(&b), size)
	}
	b.prune(sec + 3600) // the same day
	if n := baselineSize(&b); n != size {
		t.Fatalf("same-day prune kept the late event's entries: %d entries, want %d", n, size)
	}
}
