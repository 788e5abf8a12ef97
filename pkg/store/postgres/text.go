package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// Free text (EventQuery.Text) is a case-insensitive substring of the
// display message, actor, event type, target or IP: searchExpr ILIKE
// '%text%', served by the trigram GIN index events_text. For that ILIKE
// pg_trgm gives GIN every trigram of the text and GIN intersects their
// posting lists, so one trigram found in nearly every event ("use" and
// "ser" of user0037@…) costs a read of that trigram's whole posting tree in
// every day of the range, while the rarer trigrams alone give the same
// candidates. On the 10 M-event benchmark schema (333 000 events a day)
// the bitmap index scan of one day took 25–67 ms for "user0037@" and
// 0.6–0.9 ms for "0037", for the same 73 rows (docs/performance.md).
//
// GIN cannot be told to skip entries of one ILIKE, so when the text has
// rare trigrams the query gives the index only substrings of the text made
// of rare trigrams ("0037"), each its own ILIKE of searchExpr (every one is
// implied by the whole text being a substring), and checks the whole text
// on textFilterExpr: the same string built another way, which the index
// does not match, so the planner applies it to the candidate rows only.
// The answer is the whole text's ILIKE either way; which trigrams are rare
// decides only the cost.
//
// Rarity is estimated from what ANALYZE keeps of the newest day
// partitions' index expression (pg_stats: its most common values with
// their frequencies and its histogram bounds, ~200 whole texts per
// partition): a trigram is common when more than textCommonShare of the
// sampled events hold it. Without statistics (a new or unanalysed
// partition, or a role that may not read them) the whole text goes to the
// index, as before.

// textFilterExpr is searchExpr's string built with concat_ws (every column
// is NOT NULL, so they are equal); it must not be the index expression.
// Both take the collation "C" from event_type (a non-default collation
// wins over the default), so ILIKE folds ASCII letters only in both, as
// SQLite's LIKE does.
const textFilterExpr = `concat_ws(chr(10), display_message, actor, event_type, target, ip)`

// textCommonShare: a trigram held by more than this share of the sampled
// events is common (SQLite: more than 20 000 of the newest 1 000 000, 2 %).
const textCommonShare = 0.02

// textStatsPartitions is how many of the newest analysed partitions the
// sample is taken from.
const textStatsPartitions = 3

// textSample is the statistics' sample of indexed texts: lower-cased
// values with the share of events each stands for.
type textSample struct {
	vals   []string
	shares []float64
	total  float64 // sum of shares (one per partition sampled)
}

// textConds adds the free-text conditions of text to w.
func (s *Store) textConds(ctx context.Context, w *where, text string) error {
	var runs []string
	if len(textTrigrams(text)) > 0 {
		sample, err := s.textSample(ctx)
		if err != nil {
			return err
		}
		runs = rareRuns(text, sample)
	}
	if len(runs) == 0 || len(runs) == 1 && runs[0] == text {
		w.add(searchExpr+" ILIKE ?", likeEscape(text))
		return nil
	}
	for _, r := range runs {
		w.add(searchExpr+" ILIKE ?", likeEscape(r))
	}
	w.add(textFilterExpr+" ILIKE ?", likeEscape(text))
	return nil
}

// textSampleTTL is how long a handle reuses the sample it read (ANALYZE
// renews the statistics a few times a day on a busy store).
const textSampleTTL = 5 * time.Minute

// textSample is the statistics' sample, read at most once per
// textSampleTTL.
func (s *Store) textSample(ctx context.Context) (*textSample, error) {
	s.textMu.Lock()
	defer s.textMu.Unlock()
	if s.textSmp != nil && time.Since(s.textAt) < textSampleTTL {
		return s.textSmp, nil
	}
	smp, err := s.readTextSample(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: query events: text statistics: %w", err)
	}
	s.textSmp, s.textAt = smp, time.Now()
	return smp, nil
}

// readTextSample reads the sample of the newest analysed partitions; an
// empty sample when there are no statistics. Two statements: pg_stats is
// a security-barrier view, and only plain values reach its catalog scans
// (joined to pg_inherits it read every statistic: 43 ms warm, 250 cold).
func (s *Store) readTextSample(ctx context.Context) (*textSample, error) {
	rows, err := s.pool.Query(ctx, `SELECT n.nspname::text, c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = 'events_text'::regclass`)
	if err != nil {
		return nil, err
	}
	type idx struct{ schema, name string }
	idxs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (idx, error) {
		var x idx
		return x, r.Scan(&x.schema, &x.name)
	})
	if err != nil {
		return nil, err
	}
	out := &textSample{}
	if len(idxs) == 0 {
		return out, nil
	}
	// newest days first (events_pYYYYMMDD_…), one more than sampled: the
	// newest partition is often not analysed yet
	slices.SortFunc(idxs, func(a, b idx) int { return strings.Compare(b.name, a.name) })
	names := make([]string, 0, textStatsPartitions+1)
	for _, x := range idxs[:min(len(idxs), textStatsPartitions+1)] {
		names = append(names, x.name)
	}
	rows, err = s.pool.Query(ctx, `SELECT null_frac, COALESCE(most_common_vals::text::text[], '{}'),
		COALESCE(most_common_freqs, '{}'), COALESCE(histogram_bounds::text::text[], '{}')
		FROM pg_stats WHERE schemaname = $1 AND tablename = ANY($2::name[]) ORDER BY tablename DESC LIMIT $3`,
		idxs[0].schema, names, textStatsPartitions)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var nullFrac float32
		var mcv, hist []string
		var freqs []float32
		if err := rows.Scan(&nullFrac, &mcv, &freqs, &hist); err != nil {
			return nil, err
		}
		rest := 1 - float64(nullFrac)
		for i, v := range mcv {
			if i < len(freqs) {
				out.vals = append(out.vals, lowerRunes(v))
				out.shares = append(out.shares, float64(freqs[i]))
				rest -= float64(freqs[i])
			}
		}
		for _, v := range hist {
			out.vals = append(out.vals, lowerRunes(v))
			out.shares = append(out.shares, max(rest, 0)/float64(len(hist)))
		}
		if len(mcv) > 0 || len(hist) > 0 {
			out.total++
		}
	}
	return out, rows.Err()
}

// share estimates the share of events holding the (lower-case) trigram g.
func (t *textSample) share(g string) float64 {
	if t.total == 0 {
		return 1
	}
	var n float64
	for i, v := range t.vals {
		if strings.Contains(v, g) {
			n += t.shares[i]
		}
	}
	return n / t.total
}

// lowerRunes lower-cases rune by rune (one rune for one, so offsets in
// the text and in its lower-case form agree).
func lowerRunes(s string) string { return strings.Map(unicode.ToLower, s) }

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// textTrigrams is the offsets of the text's trigrams pg_trgm takes from
// inside words (three letters or digits in a row); the trigrams padded at
// a word's edges are left to the runs' neighbours.
func textTrigrams(text string) []int {
	r := []rune(text)
	var out []int
	for i := 0; i+3 <= len(r); i++ {
		if isWordRune(r[i]) && isWordRune(r[i+1]) && isWordRune(r[i+2]) {
			out = append(out, i)
		}
	}
	return out
}

// rareRuns is the substrings of text that consist of consecutive rare
// trigrams (maximal runs, in order); none when the text has no rare
// trigram, or no sample to tell.
func rareRuns(text string, sample *textSample) []string {
	if sample == nil || sample.total == 0 {
		return nil
	}
	r := []rune(text)
	low := []rune(lowerRunes(text))
	var runs []string
	start, end := -1, -1 // the current run's first and last trigram offsets
	flush := func() {
		if start >= 0 {
			runs = append(runs, string(r[start:end+3]))
		}
		start, end = -1, -1
	}
	for _, i := range textTrigrams(text) {
		if sample.share(string(low[i:i+3])) > textCommonShare {
			flush()
			continue
		}
		if start >= 0 && i != end+1 {
			flush()
		}
		if start < 0 {
			start = i
		}
		end = i
	}
	flush()
	return runs
}
