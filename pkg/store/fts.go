package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
)

// Free-text search (EventQuery.Text) is a case-insensitive substring of the
// display message, actor, event type, target or IP. An FTS5 trigram index
// (events_fts, schema 7; without its per-row size table since schema 11)
// holds those five columns of every event, written by Commit with the
// event; Prune removes an event with FTS5's 'delete' command, given the
// same text recomputed from the events row (ftsText), which is why the
// indexed text must stay a function of the row's columns. A query of three or more characters asks the
// index for the rows holding every trigram of the text, and the query's
// LIKE then keeps the rows where the text really is a substring (the index
// has no positions, so "abcd" matches rows with "abc" and "bcd" apart).
//
// A text found in very many events (say "user") gains nothing from the
// index: its candidates are most of the store, while a scan of the time
// range newest first reaches the limit after a few rows. ftsPlan asks the
// index for at most ftsMaxCandidates rows first and uses it only below.
const ftsMaxCandidates = 20000

// ftsSep separates the columns in the indexed text; a trigram across two
// columns may make a candidate, which the LIKE rejects.
const ftsSep = "\n"

// ftsText is the indexed text of an event in SQL over its events columns
// (prefix: "e." or ""), the columns joined by ftsSep.
func ftsText(prefix string) string {
	cols := []string{"display_message", "actor", "event_type", "target", "ip"}
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, " || char(10) || ")
}

// ftsCommonCap: a trigram found in more than this many of the newest
// ftsProbeWindow events (2 %) is left out of the MATCH when the text has
// rarer ones. FTS5 intersects the doclists of every trigram of the
// expression, so one trigram found in nearly every event ("use" of user@,
// "com" of .com) costs a read of the whole store's doclist whatever the
// time range (394 ms at 10 M events), while the rarer trigrams alone give
// the same candidates; the LIKE decides either way.
//
// The probe counts a trigram among the newest ftsProbeWindow ids only
// (FTS5 seeks to the first rowid of the window), so it reads at most
// ftsCommonCap+1 entries of a doclist: counting up to 200 000 in the whole
// store instead cost 17-90 ms per common trigram at 10 M events, most of
// a free-text query (docs/performance.md, "Panels with margin"). Which
// trigrams are left out changes only the query's speed, never its answer.
const ftsCommonCap = ftsMaxCandidates

// ftsProbeWindow is how many of the newest event ids a trigram's probe
// counts in.
const ftsProbeWindow = 1_000_000

// ftsMaxProbes bounds the trigrams probed for a long text (evenly spread
// over it).
const ftsMaxProbes = 8

// ftsTrigrams returns the distinct trigrams of text, lower-cased, in order;
// none when the text is shorter than a trigram.
func ftsTrigrams(text string) []string {
	r := []rune(strings.ToLower(text))
	seen := map[string]bool{}
	var out []string
	for i := 0; i+3 <= len(r); i++ {
		g := string(r[i : i+3])
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

// ftsMatch is the MATCH expression requiring every one of grams.
func ftsMatch(grams []string) string {
	parts := make([]string, len(grams))
	for i, g := range grams {
		parts[i] = `"` + strings.ReplaceAll(g, `"`, `""`) + `"`
	}
	return strings.Join(parts, " AND ")
}

// ftsQuery is the MATCH expression requiring every trigram of text; "" when
// the text is shorter than a trigram.
func ftsQuery(text string) string {
	return ftsMatch(ftsTrigrams(text))
}

// ftsPlan returns the MATCH expression QueryEvents should use for text, or
// "" to scan the time range with the LIKE alone.
func (s *Store) ftsPlan(ctx context.Context, text string) (string, error) {
	if s.ftsWholeProbe {
		return s.ftsPlanWith(ctx, text, math.MaxInt64, 10*ftsMaxCandidates, ftsMaxCandidates)
	}
	return s.ftsPlanWith(ctx, text, ftsProbeWindow, ftsCommonCap, ftsMaxCandidates)
}

// ftsPlanWith is ftsPlan with its window and caps (tests use small ones).
// It probes each trigram's count among the newest window event ids up to
// commonCap, keeps the trigrams under it (all of them when none is), and
// uses the index only when their intersection, over the whole index, has
// at most maxCandidates rows.
func (s *Store) ftsPlanWith(ctx context.Context, text string, window int64, commonCap, maxCandidates int) (string, error) {
	grams := ftsTrigrams(text)
	if len(grams) == 0 {
		return "", nil
	}
	probe := grams
	if len(probe) > ftsMaxProbes {
		probe = make([]string, ftsMaxProbes)
		for i := range probe {
			probe[i] = grams[i*(len(grams)-1)/(ftsMaxProbes-1)]
		}
	}
	var newest sql.NullInt64
	if err := s.r.QueryRowContext(ctx, "SELECT MAX(id) FROM events").Scan(&newest); err != nil {
		return "", fmt.Errorf("store: query events: text index: %w", err)
	}
	after := int64(math.MinInt64) // the whole index
	if newest.Valid && window < newest.Int64 {
		after = newest.Int64 - window
	}
	var keep []string
	for _, g := range probe {
		n, err := s.ftsCount(ctx, ftsMatch([]string{g}), after, commonCap+1)
		if err != nil {
			return "", err
		}
		if n <= commonCap {
			keep = append(keep, g)
		}
	}
	if len(keep) == 0 {
		keep = grams
	}
	m := ftsMatch(keep)
	n, err := s.ftsCount(ctx, m, math.MinInt64, maxCandidates+1)
	if err != nil {
		return "", err
	}
	if n > maxCandidates {
		return "", nil
	}
	return m, nil
}

// ftsCount counts the index's rows above rowid after matching m, up to
// limit.
func (s *Store) ftsCount(ctx context.Context, m string, after int64, limit int) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT rowid FROM events_fts WHERE events_fts MATCH ? AND rowid > ? LIMIT ?)",
		m, after, limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: query events: text index: %w", err)
	}
	return n, nil
}

// indexText adds the events a page inserted, ids from..to, to the text
// index in one statement that reads their text back from the events rows
// (ftsText, the same expression Prune deletes with). One statement a page
// matters: FTS5 flushes its pending rows into a new segment at every
// statement savepoint, and a multi-row INSERT into a virtual table always
// opens one, so binding the text 128 rows a statement wrote a segment per
// statement (about ten a page) and made FTS5 merge them all again.
// Commit's ids only grow (INTEGER PRIMARY KEY without deletions above the
// largest), so from..to holds exactly the page's n new rows; a different
// count is an error rather than a silently incomplete index.
func indexText(ctx context.Context, tx *sql.Tx, from, to int64, n int) error {
	if n == 0 {
		return nil
	}
	r, err := tx.ExecContext(ctx, "INSERT INTO events_fts (rowid, t) SELECT id, "+ftsText("")+" FROM events WHERE id BETWEEN ? AND ?", from, to) // #nosec G202 -- ftsText joins constant column names
	if err != nil {
		return fmt.Errorf("store: commit: text index of events %d..%d: %w", from, to, err)
	}
	if got, err := r.RowsAffected(); err != nil || got != int64(n) {
		return fmt.Errorf("store: commit: text index: ids %d..%d hold %d rows, the page inserted %d (%v)", from, to, got, n, err)
	}
	return nil
}
