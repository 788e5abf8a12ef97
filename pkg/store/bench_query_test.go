package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// Query benchmarks run on a large store that is built once and kept in the
// temp directory. They are skipped unless OKTAGUARD_STORE_BENCH_EVENTS is
// set (e.g. 1000000), so plain `go test` never builds it:
//
//	OKTAGUARD_STORE_BENCH_EVENTS=1000000 go test -run '^$' -bench BenchmarkQuery -benchtime=40x ./pkg/store
//
// The events span 30 days (the default retention) ending at benchEnd.

var benchEnd = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

// benchUsers is how many users the large store's events come from (the
// goal's org size: 20 000).
const benchUsers = 20000

var benchTypes = []struct {
	typ    string
	weight int
}{
	{"user.session.start", 20}, {"user.authentication.sso", 25}, {"user.authentication.auth_via_mfa", 8},
	{"user.authentication.verify", 6}, {"policy.evaluate_sign_on", 15}, {"user.session.end", 8},
	{"app.oauth2.as.authorize", 6}, {"app.oauth2.as.token.grant", 4}, {"user.mfa.okta_verify.deny_push", 1},
	{"user.account.lock", 1}, {"group.user_membership.add", 1}, {"user.lifecycle.create", 1},
	{"system.api_token.create", 1}, {"policy.rule.update", 1}, {"user.account.update_password", 2},
}

func benchEvent(rng *rand.Rand, n int, at time.Time) event.Event {
	w := rng.IntN(100)
	typ := benchTypes[0].typ
	for _, bt := range benchTypes {
		if w < bt.weight {
			typ = bt.typ
			break
		}
		w -= bt.weight
	}
	user := rng.IntN(benchUsers)
	ev := mkEventNoRaw(n, at)
	ev.UUID = benchUUID(n)
	ev.EventType = typ
	ev.Actor.AlternateID = fmt.Sprintf("user%05d@example.com", user)
	ev.Actor.ID = fmt.Sprintf("00u%07d", user)
	c := cities[(user+rng.IntN(20)/19)%len(cities)] // users mostly at home
	ev.Client.Geo = event.Geo{City: c.name, Country: c.country, Lat: c.lat + float64(user%7)/10, Lon: c.lon, HasLatLon: true}
	ev.Client.IPAddress = fmt.Sprintf("10.%d.%d.%d", user/250, user%250, rng.IntN(4))
	ev.Outcome = event.Outcome{Result: "SUCCESS"}
	if rng.IntN(20) == 0 {
		ev.Outcome = event.Outcome{Result: "FAILURE", Reason: "INVALID_CREDENTIALS"}
	}
	ev.DisplayMessage = "Event " + typ
	ev.Auth.ExternalSessionID = fmt.Sprintf("102s%07d", user*10+rng.IntN(10))
	ev.Raw = rawFor(&ev)
	return ev
}

func benchStore(b *testing.B) (*Store, int) {
	b.Helper()
	nStr := os.Getenv("OKTAGUARD_STORE_BENCH_EVENTS")
	if nStr == "" {
		b.Skip("set OKTAGUARD_STORE_BENCH_EVENTS=1000000 to build the large store and run the query benchmarks")
	}
	total, err := strconv.Atoi(nStr)
	if err != nil || total < 1000 {
		b.Fatalf("OKTAGUARD_STORE_BENCH_EVENTS=%q: want a number ≥ 1000", nStr)
	}
	ctx := context.Background()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("oktaguard-store-bench-%d-v%d.db", total, LatestSchemaVersion()))
	migrated := false
	if _, err := os.Stat(path); os.IsNotExist(err) {
		migrated = adoptOlderBenchStore(b, total, path)
	}
	start := time.Now()
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	// the integrity check of the file runs after the open: not during the timings
	if in, _ := s.WaitIntegrity(ctx); in.Err != nil {
		b.Fatal(in.Err)
	}
	if migrated {
		b.Logf("migrated %s to schema %d in place in %s", path, LatestSchemaVersion(), time.Since(start).Round(time.Millisecond))
	}
	if _, ok, _ := s.GetState(ctx, "bench/complete"); ok {
		return s, total
	}
	b.Logf("building %s with %d events (once)", path, total)
	start = time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	span := 30 * 24 * time.Hour
	step := span / time.Duration(total)
	begin := benchEnd.Add(-span)
	st, _ := s.Stats(ctx)
	for n := int(st.Events); n < total; {
		k := min(2000, total-n)
		evs := make([]event.Event, k)
		for j := range evs {
			evs[j] = benchEvent(rng, n+j, begin.Add(time.Duration(n+j)*step))
		}
		var alerts []detectAlert
		for j := 0; j < k; j += 200 { // ~5000 alerts per 1M events
			e := &evs[j]
			det := []string{"failed_logins", "password_spray", "impossible_travel", "mfa_fatigue", "anonymous_ip"}[(n+j)/200%5]
			sev := []string{"low", "medium", "high", "critical"}[(n+j)/200%4]
			alerts = append(alerts, mkAlert(fmt.Sprintf("al-%d", n+j), det, sev, e.Published, e.Actor.AlternateID, e.UUID))
		}
		if _, err := s.Commit(ctx, Batch{Events: evs, Alerts: alerts}); err != nil {
			b.Fatal(err)
		}
		n += k
	}
	if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Commit(ctx, Batch{State: map[string][]byte{"bench/complete": []byte("1")}}); err != nil {
		b.Fatal(err)
	}
	b.Logf("built in %s", time.Since(start))
	var size int64
	for _, suf := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suf); err == nil {
			size += fi.Size()
		}
	}
	b.Logf("%s: %d bytes, %.0f B/event", path, size, float64(size)/float64(total))
	return s, total
}

// adoptOlderBenchStore renames the newest benchmark store of the same size
// built at an older schema (with its -wal and -shm) to path, so that Open
// migrates it in place instead of building the events again (an
// unfinished build continues at the new schema). A file still open in
// another process (a build in progress) stops the benchmark rather than
// starting a second build. It reports whether a store was adopted.
func adoptOlderBenchStore(b *testing.B, total int, path string) bool {
	b.Helper()
	for v := LatestSchemaVersion() - 1; v >= 1; v-- {
		old := filepath.Join(os.TempDir(), fmt.Sprintf("oktaguard-store-bench-%d-v%d.db", total, v))
		if _, err := os.Stat(old); err != nil {
			continue
		}
		if openElsewhere(old) != 0 {
			b.Fatalf("%s is open in another process (a build in progress?): run again when it is closed", old)
		}
		if !benchStoreComplete(old) {
			b.Logf("%s is incomplete: its build continues after the migration", old)
		}
		for _, suf := range []string{"-wal", "-shm", ""} { // the database last
			if err := os.Rename(old+suf, path+suf); err != nil && !os.IsNotExist(err) {
				b.Fatalf("adopt %s: %v", old, err)
			}
		}
		b.Logf("adopted %s (schema %d) as %s", old, v, path)
		return true
	}
	return false
}

// benchStoreComplete reports whether the store at path finished its build,
// read without migrating it.
func benchStoreComplete(path string) bool {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		return false
	}
	defer db.Close()
	// the state table before schema 14, the state log since
	for _, q := range []string{"SELECT COUNT(*) FROM state WHERE key = 'bench/complete'",
		"SELECT COUNT(*) FROM state_log WHERE key = 'bench/complete' AND kind = 0"} {
		var n int
		if db.QueryRow(q).Scan(&n) == nil && n > 0 {
			return true
		}
	}
	return false
}

// benchQuery runs fn b.N times with a varying seed and reports p50/p95.
func benchQuery(b *testing.B, fn func(i int) (int, error)) {
	b.Helper()
	durs := make([]time.Duration, 0, b.N)
	rows := 0
	b.ResetTimer()
	cpu0 := cpumeter.Process()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		n, err := fn(i)
		durs = append(durs, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.StopTimer()
	// CPU of this process per query: unlike the latencies, it hardly
	// moves with the load of a shared machine
	b.ReportMetric(float64((cpumeter.Process()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(float64(len(durs))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
}

func BenchmarkQuery(b *testing.B) {
	s, _ := benchStore(b)
	defer s.Close()
	ctx := context.Background()
	week := 7 * 24 * time.Hour
	// window i ends somewhere in the last 3 days
	endAt := func(i int) time.Time { return benchEnd.Add(-time.Duration(i%72) * time.Hour) }
	actor := func(i int) string { return fmt.Sprintf("user%05d@example.com", (i*37)%benchUsers) }

	b.Run("events_24h_limit1000", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.QueryEvents(ctx, EventQuery{From: endAt(i).Add(-24 * time.Hour), To: endAt(i), Limit: 1000})
			return len(r), err
		})
	})
	b.Run("events_7d_actor", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.QueryEvents(ctx, EventQuery{From: endAt(i).Add(-week), To: endAt(i), Actor: actor(i), Limit: 1000})
			return len(r), err
		})
	})
	b.Run("events_7d_session", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			sess := fmt.Sprintf("102s%07d", ((i*37)%benchUsers)*10+i%10)
			r, err := s.QueryEvents(ctx, EventQuery{From: endAt(i).Add(-week), To: endAt(i), SessionID: sess, Limit: 1000})
			return len(r), err
		})
	})
	b.Run("events_7d_eventType_failures", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.QueryEvents(ctx, EventQuery{From: endAt(i).Add(-week), To: endAt(i), EventTypePrefix: "user.session.", Outcome: "FAILURE", Limit: 1000})
			return len(r), err
		})
	})
	// the same query with the SQL before the partial index
	// events_outcome_type (a walk of events_published), side by side
	b.Run("events_7d_eventType_failures_old", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			q := EventQuery{From: endAt(i).Add(-week), To: endAt(i), EventTypePrefix: "user.session.", Outcome: "FAILURE", Limit: 1000}
			w := q.where(q.From.UnixMilli(), q.To.UnixMilli(), "e.")
			out, _, err := s.queryEventRows(ctx, true, q.Limit, "SELECT "+eventRowCols+", r.raw, e.id FROM events e LEFT JOIN events_raw r ON r.id = e.id"+
				w.sql()+" ORDER BY e.published DESC, e.id DESC LIMIT ?", append(w.args, q.Limit)...)
			return len(out), err
		})
	})
	// _whole_probe: the trigram probes over the whole text index up to
	// 200 000 (the plan before the probe window), side by side
	for _, c := range []struct {
		name  string
		whole bool
	}{{"events_7d_text", false}, {"events_7d_text_whole_probe", true}} {
		b.Run(c.name, func(b *testing.B) {
			s.ftsWholeProbe = c.whole
			defer func() { s.ftsWholeProbe = false }()
			benchQuery(b, func(i int) (int, error) {
				r, err := s.QueryEvents(ctx, EventQuery{From: endAt(i).Add(-week), To: endAt(i), Text: fmt.Sprintf("user%05d@", (i*37)%benchUsers), Limit: 100})
				return len(r), err
			})
		})
	}
	b.Run("series_7d_1h_by_eventType", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.CountSeries(ctx, SeriesQuery{From: endAt(i).Add(-week).Add(17 * time.Second), To: endAt(i), Interval: time.Hour, GroupBy: GroupEventType, Limit: 50})
			return len(r), err
		})
	})
	// _full_rollup: the same from event_counts_5m (schema 12's plan, every
	// event type and country of a bucket), side by side
	for _, c := range []struct {
		name    string
		outcome bool
	}{{"series_7d_5m_by_outcome", true}, {"series_7d_5m_by_outcome_full_rollup", false}} {
		b.Run(c.name, func(b *testing.B) {
			saved := s.outcomeCounts
			s.outcomeCounts = saved && c.outcome
			defer func() { s.outcomeCounts = saved }()
			benchQuery(b, func(i int) (int, error) {
				r, err := s.CountSeries(ctx, SeriesQuery{From: endAt(i).Add(-week), To: endAt(i), Interval: 5 * time.Minute, GroupBy: GroupOutcome, Limit: 50})
				return len(r), err
			})
		})
	}
	b.Run("series_7d_1h_actor", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.CountSeries(ctx, SeriesQuery{From: endAt(i).Add(-week), To: endAt(i), Interval: time.Hour, Actor: actor(i), GroupBy: GroupOutcome, Limit: 50})
			return len(r), err
		})
	})
	b.Run("series_7d_1h_alerts_by_detector", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.CountSeries(ctx, SeriesQuery{From: endAt(i).Add(-week), To: endAt(i), Interval: time.Hour, GroupBy: GroupDetector, Limit: 50})
			return len(r), err
		})
	})
	// the geo panels; the _old cases read them as before schema 18 (hours
	// only, distinct actors from raw rows) on the same store
	for _, c := range []struct {
		name string
		span time.Duration
		old  bool
	}{{"geo_7d", week, false}, {"geo_7d_old", week, true}, {"geo_24h", 24 * time.Hour, false}, {"geo_24h_old", 24 * time.Hour, true}} {
		b.Run(c.name, func(b *testing.B) {
			s.geoOld = c.old
			defer func() { s.geoOld = false }()
			benchQuery(b, func(i int) (int, error) {
				r, err := s.GeoPoints(ctx, GeoQuery{From: endAt(i).Add(-c.span), To: endAt(i), Limit: 1000})
				return len(r), err
			})
		})
	}
	// the users summary, with what it decodes per query (segments and
	// entries, load-independent) reported after the timed runs; the
	// _base_segments cases read only the hour and day segments (schema
	// 12's plan) on the same store, side by side, and the _map_fold cases
	// fold the segments with a map look-up per entry (the fold before the
	// sorted walk), the _all_users cases fold every actor's activity (the
	// fold before UserAgg.KeepTop)
	for _, c := range []struct {
		name          string
		span          time.Duration
		coarse, byMap bool
		all           bool
	}{{"users_7d", week, true, false, false}, {"users_7d_all_users", week, true, false, true}, {"users_7d_map_fold", week, true, true, true},
		{"users_7d_base_segments", week, false, false, false},
		{"users_24h", 24 * time.Hour, true, false, false}, {"users_24h_all_users", 24 * time.Hour, true, false, true},
		{"users_24h_map_fold", 24 * time.Hour, true, true, true}, {"users_24h_base_segments", 24 * time.Hour, false, false, false}} {
		b.Run(c.name, func(b *testing.B) {
			saved := s.coarseUserSegs
			s.coarseUserSegs = saved && c.coarse
			s.userFoldByMap, s.userFoldAll = c.byMap, c.all
			defer func() { s.coarseUserSegs, s.userFoldByMap, s.userFoldAll = saved, false, false }()
			q := func(i int) UserQuery { return UserQuery{From: endAt(i).Add(-c.span), To: endAt(i), Limit: 100} }
			benchQuery(b, func(i int) (int, error) {
				r, err := s.UserSummaries(ctx, q(i))
				return len(r), err
			})
			var segs, entries int
			for i := 0; i < b.N; i++ {
				agg, err := s.userAgg(ctx, q(i))
				if err != nil {
					b.Fatal(err)
				}
				segs, entries = segs+agg.segments, entries+agg.entries
			}
			b.ReportMetric(float64(segs)/float64(b.N), "segments/op")
			b.ReportMetric(float64(entries)/float64(b.N), "entries/op")
		})
	}
	b.Run("alerts_7d", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.QueryAlerts(ctx, AlertQuery{From: endAt(i).Add(-week), To: endAt(i), Limit: 1000})
			return len(r), err
		})
	})
	// the alerts panel: its rows from columns (QueryAlertTable) against the
	// decoded alerts it read before (QueryTriagedAlerts + TableRowOf)
	b.Run("alerts_7d_table", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.QueryAlertTable(ctx, TriageQuery{From: endAt(i).Add(-week), To: endAt(i), Limit: 1000})
			return len(r), err
		})
	})
	b.Run("alerts_7d_table_old", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.QueryTriagedAlerts(ctx, TriageQuery{From: endAt(i).Add(-week), To: endAt(i), Limit: 1000})
			for _, ta := range r {
				_ = TableRowOf(ta)
			}
			return len(r), err
		})
	})
	b.Run("actors_search", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			r, err := s.Actors(ctx, fmt.Sprintf("%03d", i%1000), 20)
			return len(r), err
		})
	})
	b.Run("stats", func(b *testing.B) {
		benchQuery(b, func(i int) (int, error) {
			_, err := s.Stats(ctx)
			return 1, err
		})
	})
	// last, as the slowest: the Geomap panel's own query
	// (pkg/plugin/query_geo.go), with the distinct users per point, which
	// reads the range's rows, not the hourly roll-up
	// (the _old cases: as before schema 18, the range's rows; _unaligned:
	// ends 17 min 23 s off the hour, as Grafana's "now", so that both ends
	// fall inside an hour: whole minutes from the hour rows' minutes
	// (schema 19), the last 23 s from raw rows; _unaligned_raw_ends: those
	// partial hours from raw rows, as schema 18 read them; _session_start:
	// the bundled activity dashboard's filter)
	unaligned := 17*time.Minute + 23*time.Second
	for _, c := range []struct {
		name         string
		span         time.Duration
		old, rawEnds bool
		off          time.Duration
		eventType    string
	}{{"geo_24h_actors", 24 * time.Hour, false, false, 0, ""}, {"geo_24h_actors_unaligned", 24 * time.Hour, false, false, unaligned, ""},
		{"geo_24h_actors_unaligned_raw_ends", 24 * time.Hour, false, true, unaligned, ""},
		{"geo_24h_actors_session_start", 24 * time.Hour, false, false, 0, "user.session.start"},
		{"geo_7d_actors", week, false, false, 0, ""}, {"geo_7d_actors_unaligned", week, false, false, unaligned, ""},
		{"geo_7d_actors_unaligned_raw_ends", week, false, true, unaligned, ""},
		{"geo_24h_actors_old", 24 * time.Hour, true, false, 0, ""}, {"geo_7d_actors_old", week, true, false, 0, ""}} {
		b.Run(c.name, func(b *testing.B) {
			s.geoOld, s.geoRawEnds = c.old, c.rawEnds
			defer func() { s.geoOld, s.geoRawEnds = false, false }()
			benchQuery(b, func(i int) (int, error) {
				to := endAt(i).Add(-c.off)
				r, err := s.GeoPoints(ctx, GeoQuery{From: to.Add(-c.span), To: to, EventTypePrefix: c.eventType, Limit: 1000, CountActors: true})
				return len(r), err
			})
		})
	}
}
