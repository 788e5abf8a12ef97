package store

import (
	"context"
	"fmt"
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

// ftsJoin is the indexed text of one event.
func ftsJoin(displayMessage, actor, eventType, target, ip string) string {
	return displayMessage + ftsSep + actor + ftsSep + eventType + ftsSep + target + ftsSep + ip
}

// ftsText is ftsJoin in SQL over the events columns (prefix: "e." or "").
func ftsText(prefix string) string {
	cols := []string{"display_message", "actor", "event_type", "target", "ip"}
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, " || char(10) || ")
}

// ftsQuery is the MATCH expression requiring every trigram of text; "" when
// the text is shorter than a trigram.
func ftsQuery(text string) string {
	r := []rune(strings.ToLower(text))
	if len(r) < 3 {
		return ""
	}
	seen := map[string]bool{}
	var parts []string
	for i := 0; i+3 <= len(r); i++ {
		g := string(r[i : i+3])
		if seen[g] {
			continue
		}
		seen[g] = true
		parts = append(parts, `"`+strings.ReplaceAll(g, `"`, `""`)+`"`)
	}
	return strings.Join(parts, " AND ")
}

// ftsPlan returns the MATCH expression QueryEvents should use for text, or
// "" to scan the time range with the LIKE alone.
func (s *Store) ftsPlan(ctx context.Context, text string) (string, error) {
	m := ftsQuery(text)
	if m == "" {
		return "", nil
	}
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT rowid FROM events_fts WHERE events_fts MATCH ? LIMIT ?)",
		m, ftsMaxCandidates+1).Scan(&n); err != nil {
		return "", fmt.Errorf("store: query events: text index: %w", err)
	}
	if n > ftsMaxCandidates {
		return "", nil
	}
	return m, nil
}
