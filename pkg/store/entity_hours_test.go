package store

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// entityQueries are drill-downs over evs, in both orders, with limits that
// stop inside the range, and an actor series (raw events per hour).
func entityAnswers(t *testing.T, s *Store, evs []event.Event) []any {
	t.Helper()
	ctx := context.Background()
	from, to := evs[100].Published, evs[len(evs)-100].Published
	var out []any
	for _, q := range []EventQuery{
		{Actor: evs[10].Actor.AlternateID, Limit: 1000},
		{Actor: evs[10].Actor.AlternateID, Limit: 3, From: from, To: to},
		{Actor: evs[11].Actor.AlternateID, Limit: 4, Oldest: true},
		{IP: evs[20].Client.IPAddress, Limit: 1000, NoRaw: true},
		{SessionID: evs[30].Auth.ExternalSessionID, Limit: 2, From: from},
		{SessionID: evs[30].Auth.ExternalSessionID, Limit: 1000, Oldest: true, To: to},
	} {
		rows, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var uuids []string
		for _, r := range rows {
			uuids = append(uuids, r.UUID)
		}
		if len(uuids) == 0 {
			t.Fatalf("%+v matched nothing: the fixture must exercise the filter", q)
		}
		out = append(out, uuids)
	}
	series, err := s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: time.Hour, Actor: evs[10].Actor.AlternateID,
		GroupBy: GroupOutcome, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	return append(out, series)
}

// entityIndexes lists the store's indexes on events whose name starts with
// events_actor, events_ip or events_session.
func entityIndexes(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.w.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'
		AND (name LIKE 'events_actor%' OR name LIKE 'events_ip%' OR name LIKE 'events_session%') ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// TestEntityHoursMigration: migration 16 rebuilds the three entity indexes
// hour first in one transaction. When it fails part way (here a table in
// the way of its last index, after the three drops and two creates) the
// store is left at schema 15 with its old indexes and the same answers;
// once the obstacle is gone the next open migrates, and the answers are
// still the same.
func TestEntityHoursMigration(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "old.db", entityHoursVersion-1)
	evs := make([]event.Event, 2000)
	at := t0.Add(17 * time.Millisecond)
	for i := range evs {
		at = at.Add(time.Duration(61+(i*7919)%97)*time.Second + time.Duration(i%991)*time.Millisecond)
		evs[i] = mkEvent(i, at)
	}
	for start := 0; start < len(evs); start += 500 {
		mustCommit(t, old, Batch{Events: evs[start : start+500]})
	}
	want := entityAnswers(t, old, evs)
	oldIdx := []string{"events_actor", "events_ip", "events_session"}
	if got := entityIndexes(t, old); !reflect.DeepEqual(got, oldIdx) {
		t.Fatalf("schema 15 indexes %v, want %v", got, oldIdx)
	}
	if _, err := old.w.Exec("CREATE TABLE events_session_hour (x)"); err != nil {
		t.Fatal(err)
	}
	old.Close()

	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("the migration succeeded with a table in the way of its last index")
	} else if !strings.Contains(err.Error(), "migration 16") {
		t.Fatalf("error %q does not name the migration", err)
	}
	old, err := openAt(ctx, path, Options{}, entityHoursVersion-1)
	if err != nil {
		t.Fatalf("the store after a failed migration: %v", err)
	}
	if v, _ := old.SchemaVersion(ctx); v != entityHoursVersion-1 {
		t.Fatalf("schema %d after a failed migration, want %d", v, entityHoursVersion-1)
	}
	if got := entityIndexes(t, old); !reflect.DeepEqual(got, oldIdx) {
		t.Fatalf("indexes after a failed migration %v, want %v", got, oldIdx)
	}
	if got := entityAnswers(t, old, evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("answers after a failed migration %v, want %v", got, want)
	}
	if _, err := old.w.Exec("DROP TABLE events_session_hour"); err != nil {
		t.Fatal(err)
	}

	s := reopenLatest(t, old, path)
	if v, _ := s.SchemaVersion(ctx); v != LatestSchemaVersion() {
		t.Fatalf("schema %d, want %d", v, LatestSchemaVersion())
	}
	newIdx := []string{"events_actor_hour", "events_ip_hour", "events_session_hour"}
	if got := entityIndexes(t, s); !reflect.DeepEqual(got, newIdx) {
		t.Fatalf("indexes %v, want %v", got, newIdx)
	}
	if got := entityAnswers(t, s, evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("answers after the migration %v, want %v", got, want)
	}
	var bad string
	if err := s.w.QueryRow("PRAGMA integrity_check").Scan(&bad); err != nil || bad != "ok" {
		t.Fatalf("integrity_check = %q, %v", bad, err)
	}
}
