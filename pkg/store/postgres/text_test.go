package postgres

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

func TestRareRuns(t *testing.T) {
	// "use" and "ser" in every value, "er0" in half; the digits rare
	sample := &textSample{total: 1}
	for i := range 100 {
		sample.vals = append(sample.vals, strings.ToLower(strings.Replace("user0NN@example.com", "NN", string(rune('a'+i%50))+string(rune('a'+i%7)), 1)))
		sample.shares = append(sample.shares, 0.01)
	}
	sample.vals[0] = "user9999@example.com"
	for _, c := range []struct {
		text string
		want []string
	}{
		{"user0037@", []string{"r0037"}},                   // er0 is in all values ("user0xy"), r00 in none: "r0037"
		{"USER0037@", []string{"R0037"}},                   // the runs keep the text's case; ILIKE folds it
		{"0037 and 1234", []string{"0037", "and", "1234"}}, // runs do not cross a word
		{"user", nil},   // every trigram common
		{"ab", nil},     // no trigram
		{"10.0.1", nil}, // no trigram inside a word
	} {
		if got := rareRuns(c.text, sample); !slices.Equal(got, c.want) {
			t.Errorf("rareRuns(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	if got := rareRuns("user0037@", &textSample{}); got != nil {
		t.Errorf("without statistics: runs %q, want none", got)
	}
}

// Free text gives the index only the text's rare trigrams when the
// statistics have some, and answers what a substring check of every event
// answers, for rare, common, short and escaped texts.
func TestFreeTextRareTrigramsExact(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: pgtest.Schema(t), Org: "https://text.okta.example", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(5, 7))
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var evs []event.Event
	for n := range 6000 { // two days, two partitions
		evs = append(evs, storetest.BenchEvent(rng, n, start.Add(time.Duration(n)*29*time.Second)))
	}
	evs[17].DisplayMessage = "Rate 100% reached"
	evs[18].Actor.AlternateID = "Ünïcode_user0037@example.com"
	for i := 0; i < len(evs); i += 1000 {
		if _, err := s.Commit(ctx, store.Batch{Events: evs[i:min(i+1000, len(evs))]}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE events"); err != nil {
		t.Fatal(err)
	}
	sample, err := s.textSample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sample.total < 2 || len(sample.vals) < 100 {
		t.Fatalf("statistics sample of %v partitions, %d values: want the partitions' (ANALYZE ran)", sample.total, len(sample.vals))
	}
	// the whole text does not reach the index, the rare part does
	w := s.where()
	if err := s.textConds(ctx, w, "user0037@"); err != nil {
		t.Fatal(err)
	}
	var indexed []string
	for i, c := range w.conds[1:] {
		if strings.HasPrefix(c, searchExpr) {
			indexed = append(indexed, w.args[i+1].(string))
		}
	}
	if len(indexed) == 0 || slices.Contains(indexed, "%user0037@%") || !strings.Contains(strings.Join(indexed, " "), "0037") {
		t.Fatalf("index conditions %q: want the rare part of user0037@ only", indexed)
	}
	for _, g := range []string{"use", "ser"} {
		if strings.Contains(strings.Join(indexed, " "), g) {
			t.Fatalf("index conditions %q hold the common trigram %q", indexed, g)
		}
	}
	// the plan: the index is asked for the rare part; the whole text is a
	// filter (textFilterExpr is not the index expression). The conditions
	// alone, no org or time bounds, and no sequential scan: the trigram
	// index is the only way left, whatever the planner thinks of this
	// small table.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, set := range []string{"SET enable_seqscan = off"} {
		if _, err := conn.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	pw := &where{}
	if err := s.textConds(ctx, pw, "user0037@"); err != nil {
		t.Fatal(err)
	}
	var plan []byte
	if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) SELECT uuid FROM events"+pw.sql(), pw.args...).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	var conds []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if c, ok := v["Index Cond"].(string); ok {
				conds = append(conds, c)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var tree any
	if err := json.Unmarshal(plan, &tree); err != nil {
		t.Fatal(err)
	}
	walk(tree)
	all := strings.Join(conds, "\n")
	if len(conds) == 0 || strings.Contains(all, "user0037@") || !strings.Contains(all, "%0037%") {
		t.Fatalf("index conditions %q: want the rare part only (plan %s)", conds, plan)
	}

	// answers: every event holding the text (case-insensitive), newest first
	for _, text := range []string{"user0037@", "USER0037@EXAMPLE.COM", "0037", "user0037@example.com\nuser", "Salesforce",
		"user.session.end", "10.0.1", "us", "100%", "0_3", "Ünïcode_user", "ünïcode_user", "user4999@", "no such text 12345"} {
		var want []string
		for i := len(evs) - 1; i >= 0; i-- {
			e := &evs[i]
			joined := strings.Join([]string{e.DisplayMessage, e.Actor.AlternateID, e.EventType, "Salesforce", e.Client.IPAddress}, "\n")
			if strings.Contains(foldASCII(joined), foldASCII(text)) {
				want = append(want, e.UUID)
			}
		}
		want = want[:min(len(want), 2000)]
		got, err := s.QueryEvents(ctx, store.EventQuery{Text: text, Limit: 2000, NoRaw: true})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(got))
		for i, r := range got {
			ids[i] = r.UUID
		}
		if !slices.Equal(ids, want) {
			t.Errorf("text %q: %d rows, want %d (first %q vs %q)", text, len(ids), len(want), ids[:min(3, len(ids))], want[:min(3, len(want))])
		}
	}
}
