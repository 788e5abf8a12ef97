package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	alertpkg "github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// pruneDB opens handles (separate Stores, as separate instances would)
// on one fresh schema and a direct connection to inspect it.
func pruneDB(t *testing.T) (open func(org string) *postgres.Store, sql func(q string, args ...any) int64) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	open = func(org string) *postgres.Store {
		s, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Org: org, MaxConns: 2})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	sql = func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	return open, sql
}

func partExists(sql func(string, ...any) int64, day time.Time) bool {
	return sql("SELECT (to_regclass($1) IS NOT NULL)::int", "events_p"+day.UTC().Format("20060102")) == 1
}

// TestPruneAcrossInstances: two instances of one org share the database.
// One prunes (dropping a day partition the other has in its cache); the
// other's late event of that day is then neither an error nor stored,
// and the dropped partition is not created again, by it or by a fresh
// instance. The pruned events' alert links go with them.
func TestPruneAcrossInstances(t *testing.T) {
	ctx := context.Background()
	open, sql := pruneDB(t)
	a1, a2 := open(storetest.OrgA), open(storetest.OrgA)
	old := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(24 * time.Hour).Add(6 * time.Hour)
	recent := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	oldEvs := storetest.Events("a", 0, 3, old, time.Minute)
	newEvs := storetest.Events("a", 100, 2, recent, time.Second)
	al := storetest.Alert("al1", "password_spray", "high", recent, "x@example.com", oldEvs[0].UUID, oldEvs[1].UUID, newEvs[0].UUID)
	if _, err := a1.Commit(ctx, store.Batch{Events: append(append(oldEvs[:0:0], oldEvs...), newEvs...), Alerts: []alertpkg.Alert{al}}); err != nil {
		t.Fatal(err)
	}
	if !partExists(sql, old) || sql("SELECT COUNT(*) FROM alert_events") != 3 {
		t.Fatal("setup: old partition or links missing")
	}
	// the other instance prunes: the old day is dropped (the only org)
	n, err := a2.Prune(ctx, old.Add(48*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("prune: %d %v, want 3", n, err)
	}
	if partExists(sql, old) {
		t.Fatal("the old day's partition was not dropped")
	}
	if got := sql("SELECT COUNT(*) FROM alert_events"); got != 1 {
		t.Fatalf("%d alert links after the prune, want 1 (the pruned events' links must go)", got)
	}
	if ids, err := a1.AlertEvents(ctx, "al1"); err != nil || len(ids) != 1 || ids[0] != newEvs[0].UUID {
		t.Fatalf("AlertEvents after the prune: %v %v", ids, err)
	}
	// a1 still has the dropped day in its partition cache; a fresh
	// instance has nothing cached: a late event of that day is expired on
	// both, and nobody creates the partition again
	for i, h := range []*postgres.Store{a1, open(storetest.OrgA)} {
		late := storetest.Events("a", 200+i, 1, old.Add(time.Hour), time.Second)
		res, err := h.Commit(ctx, store.Batch{Events: append(late, storetest.Events("a", 300+i, 1, recent.Add(time.Minute), time.Second)...)})
		if err != nil {
			t.Fatalf("instance %d: late event of a pruned day: %v", i, err)
		}
		if res.EventsExpired != 1 || res.Inserted[0] || !res.Inserted[1] || res.EventsInserted != 1 {
			t.Fatalf("instance %d: %+v, want the late event expired and the recent one inserted", i, res)
		}
		if partExists(sql, old) {
			t.Fatalf("instance %d re-created the pruned day's partition", i)
		}
	}
	if st, err := a2.Stats(ctx); err != nil || st.Events != 4 || st.MinPublished.Before(recent) {
		t.Fatalf("stats after the late events: %+v %v", st, err)
	}
}

// TestPruneLinksPerOrg: two orgs share a day partition. The first org's
// prune deletes its rows and links only; the second org's prune drops the
// partition with its links.
func TestPruneLinksPerOrg(t *testing.T) {
	ctx := context.Background()
	open, sql := pruneDB(t)
	a, b := open(storetest.OrgA), open(storetest.OrgB)
	old := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(24 * time.Hour).Add(6 * time.Hour)
	for _, h := range []struct {
		s      *postgres.Store
		prefix string
	}{{a, "a"}, {b, "b"}} {
		evs := storetest.Events(h.prefix, 0, 2, old, time.Minute)
		al := storetest.Alert("al-"+h.prefix, "password_spray", "high", old, "x@example.com", evs[0].UUID, evs[1].UUID)
		if _, err := h.s.Commit(ctx, store.Batch{Events: evs, Alerts: []alertpkg.Alert{al}}); err != nil {
			t.Fatal(err)
		}
	}
	links := func(s *postgres.Store) int64 {
		return sql("SELECT COUNT(*) FROM alert_events WHERE org = $1", s.OrgID())
	}
	if n, err := a.Prune(ctx, old.Add(48*time.Hour)); err != nil || n != 2 {
		t.Fatalf("org A prune: %d %v", n, err)
	}
	if !partExists(sql, old) || links(a) != 0 || links(b) != 2 {
		t.Fatalf("after org A's prune: partition %v, links A %d B %d (want kept, 0, 2)", partExists(sql, old), links(a), links(b))
	}
	if ids, _ := b.AlertEvents(ctx, "al-b"); len(ids) != 2 {
		t.Fatalf("org B's alert lost its events: %v", ids)
	}
	if n, err := b.Prune(ctx, old.Add(48*time.Hour)); err != nil || n != 2 {
		t.Fatalf("org B prune: %d %v", n, err)
	}
	if partExists(sql, old) || links(b) != 0 {
		t.Fatalf("after org B's prune: partition %v, links B %d (want dropped, 0)", partExists(sql, old), links(b))
	}
	// alerts themselves stay (PruneAlerts is separate)
	if as, err := b.QueryAlerts(ctx, store.AlertQuery{Limit: 10}); err != nil || len(as) != 1 {
		t.Fatalf("alerts after the prune: %v %v", as, err)
	}
}
