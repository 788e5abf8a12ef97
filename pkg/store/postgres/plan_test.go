package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// Every connection of the store plans statements with their values (a
// cached generic plan once made the failures panel 10x slower, see
// docs/performance.md); a DSN that sets plan_cache_mode wins.
func TestConnectionsPlanWithValues(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	for _, c := range []struct{ dsn, want string }{
		{dsn, "force_custom_plan"},
		{pgtest.WithParam(dsn, "plan_cache_mode", "auto"), "auto"},
	} {
		s, err := Open(ctx, Config{DSN: c.dsn, Org: "https://plan.okta.example", MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		// two connections at once: both are configured, not only the first
		c1, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m1, m2 string
		if err := c1.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&m1); err != nil {
			t.Fatal(err)
		}
		if err := c2.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&m2); err != nil {
			t.Fatal(err)
		}
		c1.Release()
		c2.Release()
		s.Close()
		if m1 != c.want || m2 != c.want {
			t.Fatalf("plan_cache_mode %q and %q, want %q", m1, m2, c.want)
		}
	}
}

// The dedup probe given the events' times reads only the day partitions
// of their range: a page of one day probes one partition of the five kept
// (HasEvents, by uuid alone, probes every one).
func TestHasEventsAtPrunesPartitions(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: pgtest.Schema(t), Org: "https://plan.okta.example", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -5)
	var evs []event.Event
	for d := range 5 {
		evs = append(evs, storetest.Events(fmt.Sprintf("d%d", d), 0, 20, day.AddDate(0, 0, d).Add(time.Hour), time.Minute)...)
	}
	if _, err := s.Commit(ctx, store.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	page := evs[40:60] // the third day's
	uuids := make([]string, len(page))
	pubs := make([]time.Time, len(page))
	for i, e := range page {
		uuids[i], pubs[i] = e.UUID, e.Published
	}
	have, err := s.HasEventsAt(ctx, append(uuids, "absent"), append(pubs, pubs[0]))
	if err != nil || len(have) != len(page) {
		t.Fatalf("HasEventsAt found %d of %d: %v", len(have), len(page), err)
	}
	rows, err := s.pool.Query(ctx, "EXPLAIN "+hasEventsAtSQL, s.org, store.MS(pubs[0]), store.MS(pubs[len(pubs)-1]), uuids)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if n := strings.Count(plan, " on events_p"); n != 1 || !strings.Contains(plan, partName(store.FloorTo(store.MS(pubs[0]), store.DayMS))) {
		t.Fatalf("the probe of one day reads %d partitions:\n%s", n, plan)
	}
}
