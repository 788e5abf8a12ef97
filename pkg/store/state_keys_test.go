package store

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// checkKeyIndex checks x against want: every key is found with its row,
// no other key is, every chain holds only its hash's entries, the free
// entries and the live ones add up, and the slab's dead bytes are at most
// its live ones (compaction).
func checkKeyIndex(t *testing.T, x *keyIndex, want map[string]stateRow) {
	t.Helper()
	if x.len() != len(want) {
		t.Fatalf("index holds %d keys, want %d", x.len(), len(want))
	}
	liveBytes := int64(0)
	for k, r := range want {
		got, ok := x.get(k)
		if !ok || got != r {
			t.Fatalf("get(%q) = %v, %v; want %v", k, got, ok, r)
		}
		liveBytes += int64(len(k))
	}
	chained := 0
	for h, i := range x.heads {
		for ; i >= 0; i = x.ents[i].next {
			e := x.ents[i]
			if e.off == freeEntry {
				t.Fatalf("chain of hash %x reaches free entry %d", h, i)
			}
			k := string(x.slab[e.off : e.off+uint64(e.klen)])
			if x.hashOf(k) != h {
				t.Fatalf("key %q in the chain of hash %x", k, h)
			}
			if _, ok := want[k]; !ok {
				t.Fatalf("index holds removed key %q", k)
			}
			chained++
		}
	}
	free := 0
	for i := x.free; i >= 0; i = x.ents[i].next {
		if x.ents[i].off != freeEntry {
			t.Fatalf("free list reaches live entry %d", i)
		}
		free++
	}
	if chained != len(want) || chained+free != len(x.ents) {
		t.Fatalf("%d chained and %d free entries of %d, want %d chained", chained, free, len(x.ents), len(want))
	}
	if live := int64(len(x.slab)) - x.dead; live != liveBytes {
		t.Fatalf("slab holds %d live bytes, want %d", live, liveBytes)
	}
	if x.dead > liveBytes {
		t.Fatalf("slab not compacted: %d dead bytes, %d live", x.dead, liveBytes)
	}
}

// TestKeyIndexCollisions: keys that all share one hash, or one of three,
// are told apart by their bytes: get, re-put, and removing the head, the
// middle and the tail of a chain each leave the others exact.
func TestKeyIndexCollisions(t *testing.T) {
	for name, hash := range map[string]func(string) uint64{
		"one hash":    func(string) uint64 { return 7 },
		"three":       func(k string) uint64 { return uint64(len(k) % 3) },
		"same length": func(k string) uint64 { return uint64(len(k)) },
	} {
		t.Run(name, func(t *testing.T) {
			x := newKeyIndex()
			x.hash = hash
			want := map[string]stateRow{}
			keys := []string{"a/1", "a/2", "a/3", "b/10", "b/11", "c/100", "c/1000"}
			for i, k := range keys {
				if _, ok := x.put(k, stateRow{seq: int64(i + 1), size: int64(10 * i)}); ok {
					t.Fatalf("put(%q): new key reported as replacing one", k)
				}
				want[k] = stateRow{seq: int64(i + 1), size: int64(10 * i)}
				checkKeyIndex(t, x, want)
			}
			if _, ok := x.get("a/4"); ok {
				t.Fatal(`get("a/4") found a key never put`)
			}
			if _, ok := x.remove("a/4"); ok {
				t.Fatal(`remove("a/4") removed a key never put`)
			}
			old, ok := x.put("b/10", stateRow{seq: 50, size: 5})
			if !ok || old != (stateRow{seq: 4, size: 30}) {
				t.Fatalf("re-put b/10 replaced %v, %v; want {4 30}", old, ok)
			}
			want["b/10"] = stateRow{seq: 50, size: 5}
			checkKeyIndex(t, x, want)
			// the newest key is its chain's head, the first the tail
			for _, k := range []string{"c/1000", "a/2", "a/1", "c/100"} {
				r, ok := x.remove(k)
				if !ok || r != want[k] {
					t.Fatalf("remove(%q) = %v, %v; want %v", k, r, ok, want[k])
				}
				delete(want, k)
				checkKeyIndex(t, x, want)
			}
			if n, size := x.removePrefix("b/", nil); n != 2 || size != 5+40 {
				t.Fatalf(`removePrefix("b/") = %d keys, %d bytes; want 2, 45`, n, size)
			}
			delete(want, "b/10")
			delete(want, "b/11")
			checkKeyIndex(t, x, want)
		})
	}
}

// TestKeyIndexCompaction: removing keys leaves their bytes dead in the
// slab until they exceed the live ones; the slab is then rebuilt with the
// live keys only, which keep their rows.
func TestKeyIndexCompaction(t *testing.T) {
	x := newKeyIndex()
	want := map[string]stateRow{}
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("detect.s/user%03d/engine/u", i) // 25 bytes each
		x.put(k, stateRow{seq: int64(i + 1), size: int64(i)})
		want[k] = stateRow{seq: int64(i + 1), size: int64(i)}
	}
	if len(x.slab) != 2500 || x.dead != 0 {
		t.Fatalf("slab %d bytes, %d dead; want 2500, 0", len(x.slab), x.dead)
	}
	for i := 0; i < 50; i++ { // half removed: dead equals live, no compaction yet
		k := fmt.Sprintf("detect.s/user%03d/engine/u", 2*i)
		x.remove(k)
		delete(want, k)
	}
	if len(x.slab) != 2500 || x.dead != 1250 {
		t.Fatalf("slab %d bytes, %d dead; want 2500, 1250 (not compacted)", len(x.slab), x.dead)
	}
	checkKeyIndex(t, x, want)
	x.remove("detect.s/user001/engine/u") // dead exceeds live: compacted
	delete(want, "detect.s/user001/engine/u")
	if len(x.slab) != 49*25 || x.dead != 0 {
		t.Fatalf("slab %d bytes, %d dead; want %d, 0 (compacted)", len(x.slab), x.dead, 49*25)
	}
	checkKeyIndex(t, x, want)
	// a reset of most keys compacts once, at its end
	if n, _ := x.removePrefix("detect.s/user0", nil); n != 49 {
		t.Fatalf("removePrefix removed %d keys, want 49", n)
	}
	clear(want)
	if len(x.slab) != 0 || x.dead != 0 {
		t.Fatalf("empty index: slab %d bytes, %d dead; want 0, 0", len(x.slab), x.dead)
	}
	checkKeyIndex(t, x, want)
}

// TestKeyIndexDeleteReput: a removed key put again is found with its new
// row, in a freed entry (the entries do not grow), and removing and
// putting keys at random under forced collisions keeps the index exactly
// the map it models.
func TestKeyIndexDeleteReput(t *testing.T) {
	x := newKeyIndex()
	x.put("k/a", stateRow{seq: 1, size: 1})
	x.put("k/b", stateRow{seq: 2, size: 2})
	x.remove("k/a")
	if _, ok := x.get("k/a"); ok {
		t.Fatal("removed key still found")
	}
	if _, ok := x.put("k/a", stateRow{seq: 3, size: 3}); ok {
		t.Fatal("re-put of a removed key reported as replacing one")
	}
	if r, ok := x.get("k/a"); !ok || r != (stateRow{seq: 3, size: 3}) {
		t.Fatalf("re-put key: %v, %v; want {3 3}", r, ok)
	}
	if len(x.ents) != 2 {
		t.Fatalf("%d entries after a remove and a put of 2 keys: the freed entry was not reused", len(x.ents))
	}
	checkKeyIndex(t, x, map[string]stateRow{"k/a": {seq: 3, size: 3}, "k/b": {seq: 2, size: 2}})

	x = newKeyIndex()
	x.hash = func(k string) uint64 { return uint64(len(k)) % 4 } // long chains
	want := map[string]stateRow{}
	rnd := uint64(1)
	next := func(n int) int {
		rnd = rnd*6364136223846793005 + 1442695040888963407
		return int(rnd>>33) % n
	}
	for op := 0; op < 5000; op++ {
		k := fmt.Sprintf("u%d/%s", next(60), []string{"x", "yy", "zzz"}[next(3)])
		switch next(10) {
		case 0: // a reset
			p := fmt.Sprintf("u%d", next(6))
			n, size := x.removePrefix(p, nil)
			wn, wsize := 0, int64(0)
			for k, r := range want {
				if len(k) >= len(p) && k[:len(p)] == p {
					wn++
					wsize += r.size
					delete(want, k)
				}
			}
			if n != wn || size != wsize {
				t.Fatalf("op %d: removePrefix(%q) = %d, %d; want %d, %d", op, p, n, size, wn, wsize)
			}
		case 1, 2, 3, 4:
			r, ok := x.remove(k)
			wr, wok := want[k]
			if ok != wok || r != wr {
				t.Fatalf("op %d: remove(%q) = %v, %v; want %v, %v", op, k, r, ok, wr, wok)
			}
			delete(want, k)
		default:
			row := stateRow{seq: int64(op + 1), size: int64(next(300))}
			old, ok := x.put(k, row)
			wold, wok := want[k]
			if ok != wok || old != wold {
				t.Fatalf("op %d: put(%q) replaced %v, %v; want %v, %v", op, k, old, ok, wold, wok)
			}
			want[k] = row
		}
		checkKeyIndex(t, x, want)
	}
}

// TestStateIndexCollisionsExact: with every state key hashed to one of
// two values, commits that put, delete, reset and clean the log keep the
// writer's index exactly the one rebuilt from the log (keys, rows, bytes)
// and the state read back exactly the one written.
func TestStateIndexCollisionsExact(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "log.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.stateKeyHash = func(k string) uint64 { return uint64(len(k) & 1) }
	s.SetStateLogThresholds(0, 512)
	want := map[string][]byte{}
	for c := 0; c < 120; c++ {
		b := Batch{State: map[string][]byte{}}
		for i := 0; i < 15; i++ {
			k := fmt.Sprintf("detect.s/u%d/p%d", (c*7+i*13)%50, i%3)
			if (c+i)%5 == 0 {
				b.State[k] = nil
				delete(want, k)
				continue
			}
			b.State[k] = []byte(fmt.Sprintf("%s=%d", k, c))
			want[k] = b.State[k]
		}
		if c%17 == 16 {
			p := fmt.Sprintf("detect.s/u%d", c%5) // u0.. u4 and u40.. u49 and so on
			b.StateReset = []string{p}
			for k := range want {
				if _, put := b.State[k]; !put && len(k) >= len(p) && k[:len(p)] == p {
					delete(want, k)
				}
			}
			for k := range b.State {
				if len(k) >= len(p) && k[:len(p)] == p {
					if v := b.State[k]; v != nil {
						want[k] = v
					}
				}
			}
		}
		mustCommit(t, s, b)
		s.mu.Lock()
		kept := s.stateIdx
		s.stateIdx = nil
		rebuilt, err := s.loadStateIndex(ctx, s.w)
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if kept == nil {
			t.Fatalf("commit %d installed no index", c)
		}
		if kept.first != rebuilt.first || kept.last != rebuilt.last || kept.logBytes != rebuilt.logBytes ||
			kept.liveBytes != rebuilt.liveBytes || kept.live.len() != rebuilt.live.len() {
			t.Fatalf("commit %d: kept index seq %d..%d, %d log bytes, %d live bytes, %d keys; rebuilt %d..%d, %d, %d, %d",
				c, kept.first, kept.last, kept.logBytes, kept.liveBytes, kept.live.len(),
				rebuilt.first, rebuilt.last, rebuilt.logBytes, rebuilt.liveBytes, rebuilt.live.len())
		}
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			a, aok := kept.live.get(k)
			b, bok := rebuilt.live.get(k)
			if !aok || !bok || a != b {
				t.Fatalf("commit %d: key %q kept %v, %v; rebuilt %v, %v", c, k, a, aok, b, bok)
			}
			if e := kept.row(a.seq).ent; e < 0 || kept.live.ents[e].row != a {
				t.Fatalf("commit %d: key %q's row %d points to entry %d", c, k, a.seq, e)
			}
		}
		checkSeqRows(t, kept)
		checkSeqRows(t, rebuilt)
		for i := range kept.rows {
			if k, r := kept.rows[i], rebuilt.rows[i]; k.size != r.size || (k.ent < 0) != (r.ent < 0) {
				t.Fatalf("commit %d: row %d kept %+v, rebuilt %+v", c, kept.first+int64(i), k, r)
			}
		}
		if kept.live.len() != len(want) {
			t.Fatalf("commit %d: %d live keys, want %d", c, kept.live.len(), len(want))
		}
	}
	if first, _, _ := logSeqs(t, s); first <= 1 {
		t.Fatal("the cleaner never ran")
	}
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("state differs: %d keys, want %d", len(got), len(want))
	}
}

// checkSeqRows: the index's rows are the log's seqs first..last, their
// sizes add up to the log's bytes, and the live ones are exactly the live
// keys' rows (each pointing to its key's entry).
func checkSeqRows(t *testing.T, x *stateIndex) {
	t.Helper()
	if n := int64(len(x.rows)); (x.first == 0 && n != 0) || (x.first != 0 && n != x.last-x.first+1) {
		t.Fatalf("index holds %d rows for seq %d..%d", n, x.first, x.last)
	}
	var size, liveSize int64
	live := 0
	for i, r := range x.rows {
		size += int64(r.size)
		if r.ent < 0 {
			continue
		}
		live++
		liveSize += int64(r.size)
		if e := x.live.ents[r.ent]; e.off == freeEntry || e.row.seq != x.first+int64(i) || e.row.size != int64(r.size) {
			t.Fatalf("row %d points to entry %d: %+v", x.first+int64(i), r.ent, e)
		}
	}
	if size != x.logBytes || live != x.live.len() || liveSize != x.liveBytes {
		t.Fatalf("rows: %d bytes, %d live of %d bytes; index: %d log bytes, %d keys of %d bytes",
			size, live, liveSize, x.logBytes, x.live.len(), x.liveBytes)
	}
}
