package storetest

import (
	"errors"
	"fmt"
	"reflect"
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
