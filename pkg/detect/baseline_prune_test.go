package detect

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// TestBaselinePruneSameDayExact: a prune on the day of the previous one
// looks only at the users recorded since; the baselines must stay exactly
// those of a full prune every time, also when late events (out of time
// order, as a reorder window lets through) record days already pruned.
func TestBaselinePruneSameDayExact(t *testing.T) {
	evs := decodedOrg(t, traffic.Config{Seed: 11, Users: 40, Days: 40, Attacks: true})
	// late events: every 50th event moves up to 3,000 places later
	rng := rand.New(rand.NewSource(1))
	for i := 0; i+3000 < len(evs); i += 50 {
		j := i + rng.Intn(3000)
		evs[i], evs[j] = evs[j], evs[i]
	}
	var inc, full baselines
	inc.init()
	full.init()
	var last int64
	sameDay, dropped := 0, 0
	for i := range evs {
		ev := &evs[i]
		sec := ev.Published.Unix()
		if last == 0 {
			last = sec
		} else if sec-last >= 3600 {
			if inc.pruned && day(sec) == inc.prunedDay {
				sameDay++
			}
			before := baselineSize(&full)
			inc.prune(sec)
			full.pruned = false // forces the scan of every user
			full.prune(sec)
			dropped += before - baselineSize(&full)
			compareBaselines(t, i, &inc, &full)
			last = sec
		}
		for _, b := range []*baselines{&inc, &full} {
			b.record(ev, b.touchUser(ev, sec), sec)
		}
	}
	if sameDay < 20 || dropped == 0 {
		t.Fatalf("test too weak: %d same-day prunes, %d entries dropped", sameDay, dropped)
	}
	t.Logf("%d events, %d same-day prunes, %d entries dropped", len(evs), sameDay, dropped)
}

func baselineSize(b *baselines) int {
	n := 0
	for _, u := range b.users {
		n += len(u.countries) + len(u.asns) + len(u.nets) + len(u.acts)
	}
	for _, m := range b.tenantCountry {
		n += len(m)
	}
	return n
}

func compareBaselines(t *testing.T, at int, a, b *baselines) {
	t.Helper()
	if len(a.users) != len(b.users) {
		t.Fatalf("event %d: %d users vs %d", at, len(a.users), len(b.users))
	}
	for i := range a.users {
		x, y := *a.users[i], *b.users[i]
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("event %d: user %s differs after the prune:\n%+v\n%+v", at, x.login, x, y)
		}
	}
	if !reflect.DeepEqual(a.tenantCountry, b.tenantCountry) {
		t.Fatalf("event %d: tenant countries differ:\n%v\n%v", at, a.tenantCountry, b.tenantCountry)
	}
	if !reflect.DeepEqual(a.dirty, b.dirty) {
		t.Fatalf("event %d: dirty users differ: %d vs %d", at, len(a.dirty), len(b.dirty))
	}
}
