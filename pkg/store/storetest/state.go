package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// testStateDelta: a commit writes only the state keys it names (the
// incremental detector state); StateReset deletes every key of a prefix
// before the batch's keys are applied, in the same transaction; a failed
// batch keeps none of it; another org's keys are untouched; a reopened
// handle reads exactly what was committed.
func testStateDelta(t *testing.T, newDB NewDB) {
	open := newDB(t)
	s, other := open(OrgA), open(OrgB)
	full := map[string][]byte{"detect.engine": []byte("h1"), "other": []byte("o")}
	for i := 0; i < 50; i++ {
		full[fmt.Sprintf("detect.engine/u/user%02d", i)] = []byte(fmt.Sprint("v", i))
	}
	commit(t, s, store.Batch{State: full})
	commit(t, other, store.Batch{State: map[string][]byte{"detect.engine/u/user01": []byte("B")}})

	// a delta: two users changed, one deleted, the header rewritten
	commit(t, s, store.Batch{Events: Events("d", 0, 3, T0(), time.Second), State: map[string][]byte{
		"detect.engine": []byte("h2"), "detect.engine/u/user03": []byte("new3"),
		"detect.engine/u/user50": []byte("v50"), "detect.engine/u/user07": nil}})
	want := map[string][]byte{}
	for k, v := range full {
		want[k] = v
	}
	want["detect.engine"], want["detect.engine/u/user03"], want["detect.engine/u/user50"] = []byte("h2"), []byte("new3"), []byte("v50")
	delete(want, "detect.engine/u/user07")
	checkState(t, s, "", want)

	// a failed batch with a reset keeps nothing: the keys are all there
	evs := Events("f", 0, 2, T0(), time.Second)
	evs[1].UUID = ""
	if _, err := s.Commit(bg, store.Batch{Events: evs, StateReset: []string{"detect."},
		State: map[string][]byte{"detect.x": []byte("x")}}); !errors.Is(err, store.ErrInvalidBatch) {
		t.Fatalf("bad batch with a state reset: %v, want ErrInvalidBatch", err)
	}
	checkState(t, s, "", want)
	if _, err := s.Commit(bg, store.Batch{StateReset: []string{""}}); !errors.Is(err, store.ErrInvalidBatch) {
		t.Fatalf("empty reset prefix: %v, want ErrInvalidBatch", err)
	}
	checkState(t, s, "", want)

	// a reset of "detect.engine/" then a rewrite: only the new keys stay
	// under it; the header (no "/") and keys outside stay
	commit(t, s, store.Batch{StateReset: []string{"detect.engine/"}, State: map[string][]byte{
		"detect.engine/u/user02": []byte("r2"), "detect.engine/u/user99": []byte("r99")}})
	want = map[string][]byte{"detect.engine": []byte("h2"), "other": []byte("o"),
		"detect.engine/u/user02": []byte("r2"), "detect.engine/u/user99": []byte("r99")}
	checkState(t, s, "", want)
	checkState(t, open(OrgA), "detect.", map[string][]byte{"detect.engine": []byte("h2"),
		"detect.engine/u/user02": []byte("r2"), "detect.engine/u/user99": []byte("r99")})
	checkState(t, other, "", map[string][]byte{"detect.engine/u/user01": []byte("B")})
}

func checkState(t *testing.T, s store.Backend, prefix string, want map[string][]byte) {
	t.Helper()
	got, err := s.AllState(bg, prefix)
	if err != nil {
		t.Fatalf("AllState: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("state under %q:\n got %q\nwant %q", prefix, got, want)
	}
}

// testStateReplay: many commits of puts, overwrites, deletes (of stored and
// of absent keys), reset prefixes followed by puts under them in the same
// commit, and values of every length (empty, beyond a page) read back
// exactly after every commit — through a second handle and GetState too —
// whatever the backend keeps (a log replayed in order with tombstones and
// a cleaner at work on SQLite, rows updated in place on PostgreSQL). A
// batch that fails keeps none of its state change.
func testStateReplay(t *testing.T, newDB NewDB) {
	open := newDB(t)
	s := open(OrgA)
	want := map[string][]byte{}
	rnd := uint64(7)
	next := func(n int) int {
		rnd = rnd*6364136223846793005 + 1442695040888963407
		return int(rnd>>33) % n
	}
	key := func() string {
		return fmt.Sprintf("detect.s/user%02d/%s", next(40), []string{"engine/u", "r1/p", "r2/p", "x"}[next(4)])
	}
	cold := store.Batch{State: map[string][]byte{}} // written once, never again: kept by any compaction
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("cold/%02d", i)
		cold.State[k] = []byte(k)
		want[k] = cold.State[k]
	}
	commit(t, s, cold)
	for c := 0; c < 120; c++ {
		b := store.Batch{State: map[string][]byte{}}
		if c%17 == 5 { // a reset of one subject or of everything, then a rewrite under it
			p := fmt.Sprintf("detect.s/user%02d/", next(40))
			if c%34 == 5 {
				p = "detect."
			}
			b.StateReset = []string{p}
			for k := range want {
				if strings.HasPrefix(k, p) {
					delete(want, k)
				}
			}
		}
		for i := 0; i < 1+next(30); i++ {
			k := key()
			switch op := next(10); {
			case op < 2:
				b.State[k] = nil
			case op == 2:
				b.State[k] = []byte{}
			case op == 3:
				b.State[k] = []byte(strings.Repeat(fmt.Sprint(c, k), 1+next(800)))
			default:
				b.State[k] = []byte(fmt.Sprintf("%s@%d", k, c))
			}
		}
		if c%13 == 7 { // a batch that fails after its state is valid: nothing kept
			evs := Events("rp", c*10, 3, T0(), time.Second)
			evs[2].UUID = ""
			bad := b
			bad.Events = evs
			if _, err := s.Commit(bg, bad); !errors.Is(err, store.ErrInvalidBatch) {
				t.Fatalf("commit %d: bad batch: %v, want ErrInvalidBatch", c, err)
			}
			checkState(t, s, "", want)
			if b.StateReset != nil { // the model applied it: apply it for real
				commit(t, s, store.Batch{StateReset: b.StateReset})
				b.StateReset = nil
			}
		}
		for k, v := range b.State {
			if v == nil {
				delete(want, k)
			} else {
				want[k] = v
			}
		}
		commit(t, s, b)
		checkState(t, s, "", want)
		if c%20 == 19 {
			s2 := open(OrgA)
			checkState(t, s2, "detect.s/user1", filterPrefix(want, "detect.s/user1"))
			for i := 0; i < 5; i++ {
				k := key()
				v, ok, err := s2.GetState(bg, k)
				w, wok := want[k]
				if err != nil || ok != wok || !reflect.DeepEqual(v, w) {
					t.Fatalf("commit %d: GetState(%q) = %q %v %v, want %q %v", c, k, v, ok, err, w, wok)
				}
			}
		}
	}
}

func filterPrefix(m map[string][]byte, prefix string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}
