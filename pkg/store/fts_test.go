package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Free text is answered through the trigram index when the text is
// selective, by the range scan when it is common or shorter than a
// trigram, and both give exactly the LIKE's answer: trigrams present apart
// (not as the substring) do not match; pruned events leave the index.
func TestFreeTextIndex(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	evs := mkEvents(0, 600, t0, time.Minute)
	evs[10].DisplayMessage = "Rare abc then bcd apart"       // trigrams of "abcd" but not the substring
	evs[20].DisplayMessage = "Rare token ABCD in caps"       // the substring, other case
	evs[30].Targets[0].AlternateID = "svc-abcd@corp.example" // in the target column
	mustCommit(t, s, Batch{Events: evs})

	brute := func(text string) []string {
		var out []string
		for i := len(evs) - 1; i >= 0; i-- {
			e := &evs[i]
			c := columnsOf(e)
			hay := strings.ToLower(ftsJoin(e.DisplayMessage, e.Actor.AlternateID, e.EventType, c.target, c.ip))
			for _, f := range strings.Split(hay, ftsSep) {
				if strings.Contains(f, strings.ToLower(text)) {
					out = append(out, e.UUID)
					break
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		text     string
		useIndex bool
	}{
		{"abcd", true}, {"ABCD", true}, {"user012@", true}, {"session", true}, {"ab", false},
	} {
		m, err := s.ftsPlan(ctx, tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if (m != "") != tc.useIndex {
			t.Errorf("%q: index used = %v, want %v", tc.text, m != "", tc.useIndex)
		}
		rows, err := s.QueryEvents(ctx, EventQuery{Text: tc.text, Limit: 1000, NoRaw: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.UUID)
		}
		if want := brute(tc.text); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q: %d rows, brute force %d", tc.text, len(got), len(want))
		}
	}
	if rows, _ := s.QueryEvents(ctx, EventQuery{Text: "abcd", Limit: 10, NoRaw: true}); len(rows) != 2 {
		t.Fatalf("abcd: %d rows, want 2 (caps and target; not the one with the trigrams apart)", len(rows))
	}
	// pruning removes the events from the index too
	if _, err := s.Prune(ctx, t0.Add(100*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.r.QueryRow("SELECT COUNT(*) FROM events_fts WHERE events_fts MATCH ?", ftsQuery("abcd")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d pruned events still in the text index", n)
	}
}

// Schema 11 rebuilds a schema-10 store's text index in place without its
// size table, and pruning then removes exactly the pruned events from it
// (FTS5's 'delete' command with the text recomputed from the events row):
// a trigram every event holds counts the live events before and after.
func TestFreeTextIndexRebuiltAndPruned(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "v10.db", 10)
	evs := mkEvents(0, 600, t0, time.Minute)
	mustCommit(t, old, Batch{Events: evs[:400]})
	old.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustCommit(t, s, Batch{Events: evs[400:]})
	var docsize int
	if err := s.r.QueryRow("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'events_fts_docsize'").Scan(&docsize); err != nil {
		t.Fatal(err)
	}
	if docsize != 0 {
		t.Fatal("schema 11 still has events_fts_docsize")
	}
	indexed := func() int {
		t.Helper()
		var n int
		// "exa" (example.com) is in every event's actor
		if err := s.r.QueryRow("SELECT COUNT(*) FROM events_fts WHERE events_fts MATCH ?", ftsQuery("example.com")).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := indexed(); n != len(evs) {
		t.Fatalf("%d events in the text index, want %d", n, len(evs))
	}
	pruned, err := s.Prune(ctx, t0.Add(250*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if pruned != 250 {
		t.Fatalf("pruned %d events, want 250", pruned)
	}
	if n := indexed(); n != len(evs)-250 {
		t.Fatalf("after the prune %d events in the text index, want %d", n, len(evs)-250)
	}
	if _, err := s.w.Exec("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')"); err != nil {
		t.Fatalf("text index integrity check: %v", err)
	}
	rows, err := s.QueryEvents(ctx, EventQuery{Text: evs[300].Client.IPAddress, Limit: 10, NoRaw: true})
	if err != nil || len(rows) != 1 {
		t.Fatalf("text query for a live event's IP: %d rows, err %v", len(rows), err)
	}
	if _, err := s.Prune(ctx, t0.Add(time.Duration(len(evs)+1)*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := indexed(); n != 0 {
		t.Fatalf("after pruning everything %d events in the text index", n)
	}
}

// A page's events enter the text index in one statement, so a commit
// writes one FTS5 segment (a statement per 128 rows wrote one each, about
// ten a page, which FTS5 then merged again), and exactly the events the
// page inserted are indexed: not the duplicates it skipped, whether already
// stored or repeated within the page.
func TestFreeTextIndexOneSegmentPerPage(t *testing.T) {
	s, _ := openTemp(t)
	evs := mkEvents(0, 1500, t0, time.Second)
	mark := func(i int) string { return fmt.Sprintf("tok%05dq", i) }
	marked := []int{0, 700, 999, 1000, 1200, 1499}
	for _, i := range marked {
		evs[i].DisplayMessage += " " + mark(i)
	}
	mustCommit(t, s, Batch{Events: evs[:1000]})
	var segs int
	if err := s.r.QueryRow("SELECT COUNT(DISTINCT segid) FROM events_fts_idx").Scan(&segs); err != nil {
		t.Fatal(err)
	}
	if segs != 1 {
		t.Fatalf("a 1 000-event page wrote %d text index segments, want 1", segs)
	}
	// 300 already stored, 500 new, one of them twice
	page := append(append([]eventT{}, evs[700:1500]...), evs[1200])
	res := mustCommit(t, s, Batch{Events: page})
	if res.EventsInserted != 500 {
		t.Fatalf("inserted %d, want 500", res.EventsInserted)
	}
	var n int
	// "exa" (example.com) is in every event's actor
	if err := s.r.QueryRow("SELECT COUNT(*) FROM events_fts WHERE events_fts MATCH ?", ftsQuery("example.com")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(evs) {
		t.Fatalf("%d events in the text index, want %d", n, len(evs))
	}
	if _, err := s.w.Exec("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')"); err != nil {
		t.Fatalf("text index integrity check: %v", err)
	}
	for _, i := range marked {
		rows, err := s.QueryEvents(context.Background(), EventQuery{Text: mark(i), Limit: 10, NoRaw: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].UUID != evs[i].UUID {
			t.Errorf("text %q: %d rows, want event %d alone", mark(i), len(rows), i)
		}
	}
}

// A trigram found in nearly every event ("use" of every user@ actor) is
// left out of the MATCH when the text has rarer ones: the shorter
// expression's candidates still hold every row the full one matches, and
// the query's answer is the LIKE's. (The caps are small here; at their
// defaults the same happens on a store of millions of events.)
func TestFreeTextLeavesOutCommonTrigrams(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	evs := mkEvents(0, 600, t0, time.Minute) // actors user000..user199@example.com, 3 events each
	mustCommit(t, s, Batch{Events: evs})
	const text = "user012@"
	full := ftsQuery(text)
	m, err := s.ftsPlanWith(ctx, text, ftsProbeWindow, 100, ftsMaxCandidates)
	if err != nil {
		t.Fatal(err)
	}
	for _, common := range []string{`"use"`, `"ser"`, `"er0"`} { // in 600, 600 and 300 events
		if strings.Contains(m, common) {
			t.Errorf("MATCH %q keeps the common trigram %s", m, common)
		}
	}
	if m == "" || !strings.Contains(m, `"12@"`) {
		t.Fatalf("MATCH %q: want the rare trigrams of %q", m, text)
	}
	rowids := func(expr string) map[int64]bool {
		t.Helper()
		rows, err := s.r.QueryContext(ctx, "SELECT rowid FROM events_fts WHERE events_fts MATCH ?", expr)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int64]bool{}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out[id] = true
		}
		return out
	}
	short, all := rowids(m), rowids(full)
	if len(all) == 0 || len(short) > 100 {
		t.Fatalf("full MATCH %d rows, shorter one %d: want some, and at most the cap", len(all), len(short))
	}
	for id := range all {
		if !short[id] {
			t.Fatalf("row %d matches every trigram but not the shorter MATCH", id)
		}
	}
	// With a cap above every trigram's count the whole expression stays.
	if m2, err := s.ftsPlanWith(ctx, text, ftsProbeWindow, 1000, ftsMaxCandidates); err != nil || m2 != full {
		t.Fatalf("cap 1000: MATCH %q (%v), want the full %q", m2, err, full)
	}
	// With a cap below every trigram's count the whole expression stays too
	// ("example" is in all 600 events, fewer than the candidate cap).
	if m3, err := s.ftsPlanWith(ctx, "example", ftsProbeWindow, 1, ftsMaxCandidates); err != nil || m3 != ftsQuery("example") {
		t.Fatalf("cap 1: MATCH %q (%v)", m3, err)
	}
	// The probe counts among the newest window ids only: "er0" (actors
	// user000-user099, every other block of 100 events) is in 300 of the
	// 600 events but in 50 of the newest 150, under the cap of 100, so it
	// stays; "use" and "ser" are in all 150 and are left out.
	m4, err := s.ftsPlanWith(ctx, text, 150, 100, ftsMaxCandidates)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m4, `"er0"`) || strings.Contains(m4, `"use"`) || strings.Contains(m4, `"ser"`) {
		t.Fatalf("window 150: MATCH %q, want \"er0\" kept and \"use\", \"ser\" left out", m4)
	}
}

// ftsJoin is ftsText in Go: the text the index must hold for an event.
func ftsJoin(displayMessage, actor, eventType, target, ip string) string {
	return displayMessage + ftsSep + actor + ftsSep + eventType + ftsSep + target + ftsSep + ip
}
