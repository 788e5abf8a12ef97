package store

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// BenchmarkUsersAtDensity is the users summary at the 10 M store's density
// (20 000 users, one event per 259 ms: ~14 000 events and ~10 000 active
// users an hour, every user active every day) without building 10 M
// events: the per-actor roll-ups of 8 days are written directly (the same
// user, country, IP and failure mix as BenchmarkQuery's generator), once
// into a schema-11 store (rows only) and, copied, into a current one that
// seals them at open. The old query (each span grouped per actor and
// country in SQL, merged in Go: the code before schema 12) runs on the
// first, UserSummaries on the second, side by side over the same ranges
// (7 days and 24 hours, ending on a whole hour in the last 2 days, as in
// BenchmarkQuery; and 7 days with unaligned edges, whose sub-hour pieces
// come from the events table, empty here). Opt in with
// OKTAGUARD_USERS_BENCH_DAYS=8 (~2.7 M folded events, two stores in
// TMPDIR, rebuilt each run):
//
//	OKTAGUARD_USERS_BENCH_DAYS=8 go test ./pkg/store -run '^$' -bench BenchmarkUsersAtDensity -benchtime 20x -timeout 60m
func BenchmarkUsersAtDensity(b *testing.B) {
	days, _ := strconv.Atoi(os.Getenv("OKTAGUARD_USERS_BENCH_DAYS"))
	if days < 2 {
		b.Skip("set OKTAGUARD_USERS_BENCH_DAYS=8 to build the roll-ups of 8 days at the 10 M store's density")
	}
	ctx := context.Background()
	dir := b.TempDir()
	rowsPath, segsPath := filepath.Join(dir, "rows.db"), filepath.Join(dir, "segs.db")
	end := benchEnd
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	t0 := time.Now()
	old, err := openAt(ctx, rowsPath, Options{}, userSegsVersion-1)
	if err != nil {
		b.Fatal(err)
	}
	if err := old.prepare(ctx); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	step := 259 * time.Millisecond
	folded := 0
	for h := start; h.Before(end); h = h.Add(time.Hour) {
		users := map[UserKey]*UserRow{}
		for at := h; at.Before(h.Add(time.Hour)); at = at.Add(step) {
			u := rng.IntN(benchUsers)
			c := cities[(u+rng.IntN(20)/19)%len(cities)]
			ip := fmt.Sprintf("10.%d.%d.%d", u/250, u%250, rng.IntN(4))
			actor := fmt.Sprintf("user%05d@example.com", u)
			p := at.UnixMilli()
			for _, k := range [2]UserKey{{true, p - p%dayMS, actor, c.country}, {false, p - p%hourMS, actor, c.country}} {
				r := users[k]
				if r == nil {
					r = &UserRow{}
					users[k] = r
				}
				r.Events++
				if rng.IntN(20) == 0 {
					r.Failures++
				}
				r.LastSeen, r.LastIP, r.ActorID = p, ip, fmt.Sprintf("00u%07d", u)
			}
			folded++
		}
		tx, err := old.w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := old.upsertUsers(ctx, tx, users); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d events folded into the schema-11 roll-ups in %s", folded, time.Since(t0).Round(time.Millisecond))
	if err := copyFile(rowsPath, segsPath); err != nil {
		b.Fatal(err)
	}
	t0 = time.Now()
	cpu0 := cpumeter.Process()
	s, err := Open(ctx, segsPath)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Logf("migrated to schema %d (sealed %d buckets) in %s, %s CPU", LatestSchemaVersion(), countRows(b, s, "user_segs"),
		time.Since(t0).Round(time.Millisecond), (cpumeter.Process() - cpu0).Round(time.Millisecond))
	old, err = openAt(ctx, rowsPath, Options{}, userSegsVersion-1)
	if err != nil {
		b.Fatal(err)
	}
	defer old.Close()

	endAt := func(i int) time.Time { return end.Add(-time.Duration(i%48) * time.Hour) }
	cases := []struct {
		name string
		q    func(i int) UserQuery
	}{
		{"7d", func(i int) UserQuery {
			return UserQuery{From: endAt(i).Add(-7 * 24 * time.Hour), To: endAt(i), Limit: 100}
		}},
		{"24h", func(i int) UserQuery { return UserQuery{From: endAt(i).Add(-24 * time.Hour), To: endAt(i), Limit: 100} }},
		{"7d_unaligned", func(i int) UserQuery {
			to := endAt(i).Add(-time.Duration(i*7919%3600000) * time.Millisecond)
			return UserQuery{From: to.Add(-7 * 24 * time.Hour), To: to, Limit: 100}
		}},
	}
	for _, c := range cases { // both answer the same
		for i := range 3 {
			a, err1 := userSummariesRows(ctx, old, c.q(i))
			n, err2 := s.UserSummaries(ctx, c.q(i))
			if err1 != nil || err2 != nil || !reflect.DeepEqual(a, n) {
				b.Fatalf("%s %d: old and new differ (%v, %v)", c.name, i, err1, err2)
			}
		}
	}
	for _, c := range cases {
		b.Run(c.name+"/rows_old", func(b *testing.B) {
			benchQuery(b, func(i int) (int, error) {
				r, err := userSummariesRows(ctx, old, c.q(i))
				return len(r), err
			})
		})
		b.Run(c.name+"/segments", func(b *testing.B) {
			benchQuery(b, func(i int) (int, error) {
				r, err := s.UserSummaries(ctx, c.q(i))
				return len(r), err
			})
		})
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// userSummariesRows is UserSummaries as it was before schema 12 (each
// span's roll-up rows grouped per actor and country in SQL, merged per
// actor in Go), kept for BenchmarkUsersAtDensity's side-by-side run.
func userSummariesRows(ctx context.Context, s *Store, q UserQuery) ([]UserSummary, error) {
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	agg := NewUserAgg()
	for _, sp := range spans(lo, endExclusive(hi), []int64{dayMS, hourMS}) {
		var query string
		args := []any{sp.a, sp.b}
		switch sp.level {
		case 0:
			query = `SELECT actor, country, MAX(published), ip, actor_id, COUNT(*), SUM(outcome IN ('FAILURE', 'DENY'))
				FROM events WHERE published >= ? AND published < ? AND actor <> '' GROUP BY actor, country`
		default:
			table := "user_hours"
			if sp.level == dayMS {
				table = "user_days"
			}
			query = `SELECT actor, country, MAX(last_seen), last_ip, actor_id, SUM(events), SUM(failures)
				FROM ` + table + ` WHERE bucket >= ? AND bucket < ? GROUP BY actor, country`
		}
		rows, err := s.r.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		err = agg.ScanActivity(rows)
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	rows, err := s.r.QueryContext(ctx, "SELECT actor, MAX(actor_id), severity, COUNT(*) FROM alerts WHERE time BETWEEN ? AND ? AND actor <> '' GROUP BY actor, severity", lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if err := agg.ScanAlerts(rows); err != nil {
		return nil, err
	}
	return agg.Ranked(q.Limit), nil
}
