package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// rawStored counts the events whose raw JSON the store holds: rows of
// events_raw plus the events of every block.
func rawStored(t testing.TB, s *Store) int {
	t.Helper()
	var rows, inBlocks int
	if err := s.r.QueryRow("SELECT (SELECT COUNT(*) FROM events_raw), (SELECT COALESCE(SUM(last_id - first_id + 1), 0) FROM events_raw_blocks)").
		Scan(&rows, &inBlocks); err != nil {
		t.Fatal(err)
	}
	return rows + inBlocks
}

// blockOf returns the stored frame of the block holding the event uuid
// and how many events it holds.
func blockOf(t testing.TB, s *Store, uuid string) ([]byte, int) {
	t.Helper()
	var frame []byte
	var n int
	if err := s.r.QueryRow(`SELECT b.raw, b.last_id - b.first_id + 1 FROM events e JOIN events_raw_blocks b
		ON b.last_id = (SELECT MIN(last_id) FROM events_raw_blocks WHERE last_id >= e.id) AND b.first_id <= e.id
		WHERE e.uuid = ?`, uuid).Scan(&frame, &n); err != nil {
		t.Fatalf("block of %s: %v", uuid, err)
	}
	return frame, n
}

func TestBlockContentRoundTrip(t *testing.T) {
	for _, raws := range [][][]byte{
		{[]byte(`{"a":1}`)},
		{{}, []byte(`{"b":2}`), {}},
		{bytes.Repeat([]byte("x"), 300), []byte(`{}`)}, // a length of two varint bytes
	} {
		got, err := splitBlock(appendBlockContent(nil, raws), len(raws))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(raws) {
			t.Fatalf("%d events back, want %d", len(got), len(raws))
		}
		for i := range raws {
			if !bytes.Equal(got[i], raws[i]) {
				t.Fatalf("event %d = %q, want %q", i, got[i], raws[i])
			}
		}
	}
	good := appendBlockContent(nil, [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)})
	for name, c := range map[string]struct {
		b []byte
		n int
	}{
		"fewer events than ids": {good, 3},
		"more events than ids":  {good, 1},
		"cut short":             {good[:len(good)-1], 2},
		"no length":             {[]byte{0x80}, 1},
		"no events":             {good, 0},
		"a length not shortest": {[]byte{0x80, 0x00}, 1},
	} {
		if _, err := splitBlock(c.b, c.n); !errors.Is(err, errBadBlock) {
			t.Errorf("%s: err = %v, want errBadBlock", name, err)
		}
	}
}

func FuzzSplitBlock(f *testing.F) {
	f.Add(appendBlockContent(nil, [][]byte{[]byte(`{"a":1}`), {}}), 2)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n > 1<<16 {
			return
		}
		raws, err := splitBlock(b, n)
		if err != nil {
			return
		}
		// what splits is what its events rebuild
		if again := appendBlockContent(nil, raws); !bytes.Equal(again, b) {
			t.Fatalf("split %x into %d events that rebuild %x", b, n, again)
		}
	})
}

// TestRawBlocksRoundTrip: every event's raw JSON comes back byte for byte
// through every reader, with duplicates inside a page and against stored
// events (which split the runs of ids), empty raw JSON, and pages whose
// sizes do not divide into blocks.
func TestRawBlocksRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	var all []event.Event
	n := 0
	page := func(size int) []event.Event {
		evs := mkEvents(n, size, t0.Add(time.Duration(n)*time.Second), time.Second)
		n += size
		return evs
	}
	p1 := page(37)
	p1[5].Raw = nil // empty raw JSON
	mustCommit(t, s, Batch{Events: p1})
	all = append(all, p1...)
	p2 := page(300)
	// duplicates: one of page 1 in the middle, one repeated within the page
	p2 = append(p2[:100], append([]event.Event{p1[3]}, p2[100:]...)...)
	p2 = append(p2, p2[7])
	res := mustCommit(t, s, Batch{Events: p2})
	if res.EventsInserted != 300 || res.Inserted[100] || res.Inserted[len(p2)-1] {
		t.Fatalf("inserted %d (duplicates %v %v), want 300 and the duplicates skipped", res.EventsInserted, res.Inserted[100], res.Inserted[len(p2)-1])
	}
	for i, ok := range res.Inserted {
		if ok {
			all = append(all, p2[i])
		}
	}
	if got := rawStored(t, s); got != len(all) {
		t.Fatalf("raw JSON stored for %d events, want %d", got, len(all))
	}
	var maxSpan int
	if err := s.r.QueryRow("SELECT MAX(last_id - first_id + 1) FROM events_raw_blocks").Scan(&maxSpan); err != nil || maxSpan != rawBlockEvents {
		t.Fatalf("largest block holds %d events (%v), want %d", maxSpan, err, rawBlockEvents)
	}
	want := map[string][]byte{}
	for _, e := range all {
		want[e.UUID] = e.Raw
	}
	check := func(how string, rows []EventRow) {
		t.Helper()
		if len(rows) == 0 {
			t.Fatalf("%s: no rows", how)
		}
		for _, r := range rows {
			if !bytes.Equal(r.Raw, want[r.UUID]) {
				t.Fatalf("%s: %s raw = %q, want %q", how, r.UUID, r.Raw, want[r.UUID])
			}
		}
	}
	rows, err := s.QueryEvents(ctx, EventQuery{Limit: 1000})
	if err != nil || len(rows) != len(all) {
		t.Fatalf("QueryEvents = %d rows, %v; want %d", len(rows), err, len(all))
	}
	check("newest first", rows)
	rows, err = s.QueryEvents(ctx, EventQuery{Limit: 1000, Oldest: true})
	if err != nil {
		t.Fatal(err)
	}
	check("oldest first", rows)
	// scattered events: one actor's, far apart in ids
	rows, err = s.QueryEvents(ctx, EventQuery{Limit: 1000, Actor: all[3].Actor.AlternateID})
	if err != nil {
		t.Fatal(err)
	}
	check("one actor", rows)
	rows, err = s.QueryEventsByUUID(ctx, []string{all[5].UUID, all[200].UUID, all[len(all)-1].UUID})
	if err != nil || len(rows) != 3 {
		t.Fatalf("by uuid = %d rows, %v", len(rows), err)
	}
	check("by uuid", rows)
	if len(rows[0].Raw) != 0 {
		t.Fatalf("empty raw JSON came back as %q", rows[0].Raw)
	}
	var scanned []EventRow
	for pub, id := int64(0), int64(0); ; {
		var page []EventRow
		page, pub, id, err = s.EventsAfter(ctx, pub, id, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		scanned = append(scanned, page...)
	}
	if len(scanned) != len(all) {
		t.Fatalf("EventsAfter scanned %d events, want %d", len(scanned), len(all))
	}
	check("EventsAfter", scanned)
	if rows, err := s.QueryEvents(ctx, EventQuery{Limit: 10, NoRaw: true}); err != nil || len(rows) != 10 || rows[0].Raw != nil {
		t.Fatalf("NoRaw = %d rows, %v, raw %q", len(rows), err, rows[0].Raw)
	}
}

// TestRawBlocksPruned: a block goes with the last of its events, and the
// events left in a block keep their raw JSON.
func TestRawBlocksPruned(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	const b = rawBlockEvents
	total := 2*b + b/2 // two full blocks and a half one
	evs := mkEvents(0, total, t0, time.Second)
	mustCommit(t, s, Batch{Events: evs})
	blocks := func() int64 { return countRows(t, s, "events_raw_blocks") }
	if n := blocks(); n != 3 {
		t.Fatalf("%d blocks, want 3", n)
	}
	// the first block and 2 events of the second
	cut := b + 2
	if n, err := s.Prune(ctx, evs[cut].Published); err != nil || n != int64(cut) {
		t.Fatalf("Prune = %d, %v; want %d", n, err, cut)
	}
	if n := blocks(); n != 2 {
		t.Fatalf("%d blocks after the first block's events went, want 2", n)
	}
	rows, err := s.QueryEvents(ctx, EventQuery{Limit: 100, Oldest: true})
	if err != nil || len(rows) != total-cut {
		t.Fatalf("QueryEvents = %d, %v; want %d", len(rows), err, total-cut)
	}
	for i, r := range rows {
		if !bytes.Equal(r.Raw, evs[cut+i].Raw) {
			t.Fatalf("event %d raw = %q, want %q", cut+i, r.Raw, evs[cut+i].Raw)
		}
	}
	if n, err := s.Prune(ctx, evs[total-1].Published.Add(time.Second)); err != nil || n != int64(total-cut) {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if b := blocks(); b != 0 {
		t.Fatalf("%d blocks left with no events, want 0", b)
	}
}

// TestRawBlocksBesideOldRows: a store written before schema 22 keeps its
// per-event rows readable, and the events committed after the upgrade go
// to blocks; the dictionary's samples come from both.
func TestRawBlocksBesideOldRows(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/old.db"
	old, err := openAt(ctx, path, Options{}, rawBlocksVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	before := mkEvents(0, 50, t0, time.Second)
	mustCommit(t, old, Batch{Events: before})
	old.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after := mkEvents(50, 50, t0.Add(time.Hour), time.Second)
	mustCommit(t, s, Batch{Events: after})
	want := int64((50 + rawBlockEvents - 1) / rawBlockEvents)
	if rows, blocks := countRows(t, s, "events_raw"), countRows(t, s, "events_raw_blocks"); rows != 50 || blocks != want {
		t.Fatalf("events_raw %d rows, %d blocks; want 50 and %d", rows, blocks, want)
	}
	rows, err := s.QueryEvents(ctx, EventQuery{Limit: 1000, Oldest: true})
	if err != nil || len(rows) != 100 {
		t.Fatalf("QueryEvents = %d, %v", len(rows), err)
	}
	for i, r := range rows {
		want := append(before, after...)[i].Raw
		if !bytes.Equal(r.Raw, want) {
			t.Fatalf("event %d raw = %q, want %q", i, r.Raw, want)
		}
	}
}

// TestRawBlockDamaged: a damaged block fails the query that reads it with
// an error naming the block, not a panic or wrong JSON.
func TestRawBlockDamaged(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	evs := mkEvents(0, rawBlockEvents, t0, time.Second)
	mustCommit(t, s, Batch{Events: evs})
	frame, n := blockOf(t, s, evs[0].UUID)
	content, err := s.codec().decompress(frame)
	if err != nil || n != rawBlockEvents {
		t.Fatalf("block of %d events: %v", n, err)
	}
	bad := s.codec().compress(nil, content[:len(content)-1])
	if _, err := s.w.Exec("UPDATE events_raw_blocks SET raw = ?", bad); err != nil {
		t.Fatal(err)
	}
	_, err = s.QueryEvents(ctx, EventQuery{Limit: 100})
	if name := fmt.Sprintf("block %d..%d", 1, rawBlockEvents); !errors.Is(err, errBadBlock) || !strings.Contains(err.Error(), name) {
		t.Fatalf("err = %v, want errBadBlock naming %s", err, name)
	}
	if rows, err := s.QueryEvents(ctx, EventQuery{Limit: 100, NoRaw: true}); err != nil || len(rows) != rawBlockEvents {
		t.Fatalf("NoRaw with a damaged block = %d, %v; want the rows", len(rows), err)
	}
}
