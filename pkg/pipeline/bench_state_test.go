package pipeline

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// BenchmarkStateCommit measures what the detector state adds to a commit
// of 1,000 events as the number of tracked users grows: the engine first
// learns N users (two sign-ins each, committed), then every iteration
// processes 1,000 sign-ins of random users (not timed) and times saving
// the state plus committing it with the events to SQLite on disk.
// "delta" is what the pipeline does (SaveStateDelta: changed users and
// entries only, appended to the state log, whose cleaner works in the
// timed commits); "delta-inplace" the same deltas written into the state
// table in place (store.Options.StateInPlace, the path before the log);
// "delta-oldlayout" the same keys in the layout before they were
// clustered by subject, in place; "full" is the rewrite of every key
// before the deltas (SaveState), in place. Before the timed commits,
// every case commits untimed 1,000-event deltas until they add up to 2.5
// times the first (full) save, so the log holds more than three times the
// live state and its cleaner runs in every timed commit (the steady state);
// the log's size at the end is logged. Then the clock jumps to the next
// 4-day boundary and 4 days of pages are stored (untimed, with their
// state), so that the third timed commit closes a day, a 2-day and a 4-day
// bucket: it carries the store's largest seal (sealCyclePages; 346
// commits time a whole 4-day cycle of seals). "events-only" commits the same
// events without their state (after the same untimed commits): the part
// of a commit's pages and CPU that is not the state.
// One op is one 1,000-event commit (ns/op; cpu-ms/commit is the process's
// CPU time in it, cpu-ms-median/commit and cpu-ms-max/commit the median
// and the largest of the timed commits' CPU times, walPages/commit the pages it wrote to SQLite's WAL, both
// far less dependent on the machine's load; the timed part carries the
// profiler label part=commit; detect-cpu-ms/page is the CPU of the
// detectors' Process of the page's events, not timed, with the engine's
// prune as event time passes); stateKB/commit and
// stateKeys/commit are the state (bytes, keys) written with it,
// ruleKB/commit the rule pack's part of the bytes; the log names the five
// largest writers (bytes per commit by owner) and logs every timed commit:
// its CPU and the part of it in SaveStateDelta, the state it wrote (keys,
// deletes, largest owners), its WAL pages (with OKTAGUARD_BENCH_WAL_BTREES
// its eight largest b-trees) and whether a WAL checkpoint ran in it, and
// (logPerCommit) the collector's cycles and CPU in it. "delta-failures" is delta
// on traffic with failed sign-ins (see benchStateCommit); it also logs
// what the detectors holding failures would write if saved whole:
//
//	go test ./pkg/pipeline -run '^$' -bench BenchmarkStateCommit -benchtime 5x -count 2 -timeout 60m
//
// "delta-distinct" is delta with every page's 1,000 sign-ins from 1,000
// distinct users (drawn without replacement; at 1,000 users every user
// once a page): random users with replacement touch ~632 distinct users a
// page at 1,000 users and ~995 at 100,000, so delta's pages write more
// state as the population grows whatever the store does; here the page's
// shape is the same at every size and only the tracked population varies.
// "delta-paced" is delta-distinct with each user's pace held too: at
// one event a second, 1,000 users sign in every ~17 minutes and 100,000
// users every ~28 hours, so at 1,000 users the detectors' 1-hour to
// 24-hour entries are updated in place every page while at 100,000 they
// expire and are written again (and deleted) — a difference of traffic,
// not of how many users are tracked. delta-paced spaces the org's events
// so that every user signs in once every ~28 hours at every population
// (pacedInterval; at 100,000 users it is delta-distinct); the store's
// prefill stays one event a second.
//
// "delta-active" holds the traffic itself and varies only how many users
// are tracked: the engine learns every user as in the other modes, then
// every page's 1,000 sign-ins come from the same 1,000 active users
// (activeUsers; delta-distinct over them), one event a second, as a large
// org's few busy accounts while the rest are idle. At 1,000 users it is
// delta-distinct; at 100,000 the other 99,000 users' state sits in the
// engine and the state log, untouched by the pages.
//
// The sizes are 1,000, 10,000, 100,000 and 300,000 users. From 100,000
// up, every user's entries of windows up to 24 hours have expired by the
// user's next sign-in (every ~28 and ~83 hours at one event a second), so
// 100,000 -> 300,000 holds the traffic's shape and varies only how many
// users are tracked (300,000 takes ~20 minutes and ~3 GB).
//
// With OKTAGUARD_TEST_PG_DSN set, "pg-delta" and "pg-delta-oldlayout" run
// delta in both layouts on PostgreSQL, and "pg-delta-active" delta-active.
func BenchmarkStateCommit(b *testing.B) {
	for _, users := range []int{1000, 10000, 100000, 300000} {
		modes := []string{"delta", "delta-distinct", "delta-paced", "delta-active", "delta-inplace", "delta-oldlayout", "full", "delta-failures", "events-only"}
		if os.Getenv(pgtest.EnvDSN) != "" {
			modes = append(modes, "pg-delta", "pg-delta-oldlayout", "pg-delta-active")
		}
		for _, mode := range modes {
			b.Run(fmt.Sprintf("users=%d/%s", users, mode), func(b *testing.B) {
				o := stateBench{users: users, full: mode == "full", failures: mode == "delta-failures",
					oldLayout: strings.HasSuffix(mode, "-oldlayout"), pg: strings.HasPrefix(mode, "pg-"),
					eventsOnly: mode == "events-only", distinct: mode == "delta-distinct" || mode == "delta-paced" || strings.HasSuffix(mode, "delta-active"),
					paced: mode == "delta-paced"}
				o.inPlace = mode == "delta-inplace" || mode == "delta-oldlayout" || mode == "full" || mode == "events-only"
				if strings.HasSuffix(mode, "delta-active") {
					o.active = min(users, activeUsers)
				}
				benchStateCommit(b, o)
			})
		}
	}
}

// activeUsers is how many users sign in with delta-active (see
// BenchmarkStateCommit).
const activeUsers = 1000

// stateBench is one case of BenchmarkStateCommit (see there and
// benchStateCommit).
type stateBench struct {
	users                                                               int
	full, failures, oldLayout, pg, inPlace, eventsOnly, distinct, paced bool
	active                                                              int // > 0: the pages' users are users 0..active-1
}

var stateCities = []struct {
	city, country string
	lat, lon      float64
}{{"New York", "United States", 40.71, -74.0}, {"London", "United Kingdom", 51.5, -0.13}, {"Berlin", "Germany", 52.52, 13.4},
	{"Tokyo", "Japan", 35.68, 139.69}, {"Sydney", "Australia", -33.87, 151.21}}

func stateEvent(n, user int, at time.Time) event.Event {
	c := stateCities[user%len(stateCities)]
	return event.Event{
		UUID: fmt.Sprintf("bench-%012d", n), Published: at, EventType: "user.session.start",
		Actor:   event.Actor{ID: fmt.Sprintf("00u%d", user), Type: "User", AlternateID: fmt.Sprintf("user%d@example.com", user), DisplayName: "U"},
		Outcome: event.Outcome{Result: "SUCCESS"},
		Client: event.Client{IPAddress: fmt.Sprintf("198.51.%d.%d", user/250%250, 1+user%250),
			UserAgent: event.UserAgent{Raw: "Mozilla/5.0", OS: "Mac OS X", Browser: "CHROME"},
			Geo:       event.Geo{Country: c.country, City: c.city, Lat: c.lat, Lon: c.lon, HasLatLon: true}},
		Transaction: event.Transaction{Type: "WEB", ID: "tx"},
		Auth:        event.AuthContext{ExternalSessionID: fmt.Sprintf("idx%d", user)},
		Raw:         []byte(`{"eventType":"user.session.start"}`),
	}
}

// failedSignIn turns a sign-in into a failed one (wrong password).
func failedSignIn(ev event.Event) event.Event {
	ev.Outcome = event.Outcome{Result: "FAILURE", Reason: "INVALID_CREDENTIALS"}
	return ev
}

// benchStateCommit: with failures, every user also failed a sign-in once
// while learned, right after a success (so failed_logins, suspicious_ip
// and password_spray hold state for every user or address, and the
// shared client's successes keep it from looking like a distributed
// spray) and one event in ten of each commit is a failed sign-in.
//
// With oldLayout every key is stored as before entries were clustered by
// subject (detect.LegacyStateKey: "detect.<detector>/<part>/<key>").
//
// With pg the store is PostgreSQL (a fresh schema on the server of
// OKTAGUARD_TEST_PG_DSN): no WAL pages are counted (the server's WAL is
// shared with every other client); cpu-ms is the client's CPU and
// server-cpu-ms the server's (its client backends on the database, read
// from /proc in 10 ms ticks when the server runs on this machine: run the
// benchmark alone on its database).
func benchStateCommit(b *testing.B, o stateBench) {
	users, full, failures, oldLayout, pg, eventsOnly, distinct, paced := o.users, o.full, o.failures, o.oldLayout, o.pg, o.eventsOnly, o.distinct, o.paced
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "state.db")
	var s store.Backend
	var err error
	var mon *pgx.Conn // reads the server's CPU (pg)
	if pg {
		dsn := pgtest.Schema(b)
		if s, err = postgres.Open(ctx, postgres.Config{DSN: dsn, Org: "https://bench.okta.example"}); err != nil {
			b.Fatal(err)
		}
		if mon, err = pgx.Connect(ctx, dsn); err != nil {
			b.Fatal(err)
		}
		defer mon.Close(ctx)
	} else {
		s, err = store.OpenWithOptions(ctx, path, store.Options{StateInPlace: o.inPlace})
	}
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e, err := detect.NewEngine(detect.Config{}, detect.WithReorderWindow(0))
	if err != nil {
		b.Fatal(err)
	}
	// the same calendar for every run: days and 2- and 4-day buckets are
	// epoch-aligned (the store's user buckets)
	step := time.Second // between two events of the org
	if paced {
		step = pacedInterval / time.Duration(users)
	}
	// early enough that the last timed page is in the past (~60 pages)
	t := time.UnixMilli(time.Now().Add(-20*24*time.Hour-60*1000*(step-time.Second)).UnixMilli() / (4 * dayMS) * (4 * dayMS))
	n := 0
	next := func(user int) event.Event {
		n++
		t = t.Add(step)
		return stateEvent(n, user, t)
	}
	for round := 0; round < 2; round++ {
		for u := 0; u < users; u++ {
			ev := next(u)
			e.Process(&ev)
			if failures && round == 1 { // after a success of the same client: no spray
				ev = failedSignIn(next(u))
				e.Process(&ev)
			}
		}
	}
	d, err := e.SaveStateDelta()
	if err != nil {
		b.Fatal(err)
	}
	if oldLayout {
		d.Put = legacyKeys(b, d.Put)
	}
	if _, err := s.Commit(ctx, store.Batch{State: d.Put, StateReset: d.Reset}); err != nil {
		b.Fatal(err)
	}
	firstBytes := stateBytes(d.Put)
	prefill := benchPrefill(b)
	if prefill > 0 { // the same number of stored events for every user count
		evs := make([]event.Event, 0, 10000)
		for i := 0; i < prefill; i++ {
			n++
			t = t.Add(time.Second) // one a second at every pace: only the store sees them
			evs = append(evs, stateEvent(n, i%users, t))
			if len(evs) == cap(evs) || i == prefill-1 {
				if _, err := s.Commit(ctx, store.Batch{Events: evs}); err != nil {
					b.Fatal(err)
				}
				evs = evs[:0]
			}
		}
	}
	rnd := uint64(12345)
	pop := users // the users the pages draw from
	if o.active > 0 {
		pop = o.active
	}
	var perm []int // distinct: the users drawn without replacement
	if distinct {
		perm = make([]int, pop)
		for i := range perm {
			perm[i] = i
		}
	}
	page := func() []event.Event {
		evs := make([]event.Event, 1000)
		for j := range evs {
			rnd = rnd*6364136223846793005 + 1442695040888963407
			u := int(rnd>>33) % pop
			if distinct { // a partial Fisher-Yates shuffle: perm[:1000] are the page's users
				k := j + int(rnd>>33)%(pop-j)
				perm[j], perm[k] = perm[k], perm[j]
				u = perm[j]
			}
			evs[j] = next(u)
			if failures && j%10 == 0 {
				evs[j] = failedSignIn(evs[j])
			}
			e.Process(&evs[j])
		}
		return evs
	}
	warm := 0
	for sum := int64(0); !full && sum < firstBytes*25/10; warm++ { // to the log's steady state (see above)
		evs := page()
		d, err := e.SaveStateDelta()
		if err != nil {
			b.Fatal(err)
		}
		if oldLayout {
			d.Put = legacyKeys(b, d.Put)
		}
		sum += stateBytes(d.Put)
		if eventsOnly {
			d = detect.StateDelta{}
		}
		if prefill > 0 { // the store's events are the prefill's
			evs = nil
		}
		if _, err := s.Commit(ctx, store.Batch{Events: evs, State: d.Put, StateReset: d.Reset}); err != nil {
			b.Fatal(err)
		}
	}
	// 4 whole days of stored pages before the timed ones, whose third
	// commit closes them: the largest seal lands in the timed commits
	t, sealed := sealCyclePages(t, step)
	for range sealed {
		evs := page()
		d := detect.StateDelta{}
		if !full {
			// events-only too: the engine's change set is drained every
			// page, as the pipeline does, or the first timed commit's
			// SaveStateDelta would marshal every user these pages changed
			// (2.4 s of CPU at 100 000 users, none of it the store's)
			if d, err = e.SaveStateDelta(); err != nil {
				b.Fatal(err)
			}
			if oldLayout {
				d.Put = legacyKeys(b, d.Put)
			}
			if eventsOnly {
				d = detect.StateDelta{}
			}
		}
		if _, err := s.Commit(ctx, store.Batch{Events: evs, State: d.Put, StateReset: d.Reset}); err != nil {
			b.Fatal(err)
		}
	}
	var wal *walMeter
	if !pg {
		wal = openWALMeter(b, path)
	}
	perCommit := make([]int64, 0, b.N) // CPU of each timed commit
	var gcCommit []gcSample            // the garbage collector's share of each
	var serverCommit []time.Duration   // the server's CPU in each (pg)
	serverOK := mon != nil
	lines := make([]commitLine, 0, b.N)
	var written, ruleBytes, keys, walPages, cpu int64
	byOwner := map[string]int64{} // bytes per detector ("engine": header and baselines)
	keysByOwner := map[string]int64{}
	rules := map[string]bool{}
	for _, r := range detect.Rules() {
		rules[r.ID] = true
	}
	b.ResetTimer()
	loop0 := readGC()
	var detectCPU int64 // the untimed Process of the pages' events
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d0 := int64(cpumeter.Process())
		evs := page()
		detectCPU += int64(cpumeter.Process()) - d0
		b.StartTimer()
		cpu0 := int64(cpumeter.Process())
		cpuThis := cpu
		gc0 := readGC()
		batch := store.Batch{Events: evs}
		pprof.Do(ctx, commitLabels, func(context.Context) {
			if full {
				m, err := e.SaveState()
				if err != nil {
					b.Fatal(err)
				}
				batch.State = m
				return
			}
			d, err := e.SaveStateDelta()
			if err != nil {
				b.Fatal(err)
			}
			batch.State, batch.StateReset = d.Put, d.Reset
		})
		cpu += int64(cpumeter.Process()) - cpu0
		cpuSave := cpu - cpuThis
		b.StopTimer()
		if oldLayout {
			batch.State = legacyKeys(b, batch.State)
		}
		if eventsOnly {
			batch.State, batch.StateReset = nil, nil
		}
		var srv0 map[int32]time.Duration
		if serverOK {
			srv0, serverOK = pgtest.BackendsCPUByPID(ctx, mon)
		}
		b.StartTimer()
		cpu0 = int64(cpumeter.Process())
		pprof.Do(ctx, commitLabels, func(ctx context.Context) {
			if _, err := s.Commit(ctx, batch); err != nil {
				b.Fatal(err)
			}
		})
		cpu += int64(cpumeter.Process()) - cpu0
		b.StopTimer()
		if serverOK {
			var srv1 map[int32]time.Duration
			srv1, serverOK = pgtest.BackendsCPUByPID(ctx, mon)
			serverCommit = append(serverCommit, pgtest.CPUBetween(srv0, srv1))
		}
		perCommit = append(perCommit, cpu-cpuThis)
		gcCommit = append(gcCommit, readGC().minus(gc0))
		line := commitLine{cpu: cpu - cpuThis, save: cpuSave}
		if wal != nil {
			line.pages = wal.pages()
			line.checkpoint = wal.checkpointed
			walPages += line.pages
		}
		owners := map[string]int64{} // this commit's keys by owner
		for k, v := range batch.State {
			written += int64(len(v))
			line.stateBytes += int64(len(k) + len(v))
			line.keys++
			if v == nil {
				line.deletes++
			}
			keys++
			owner := stateOwner(b, k)
			owners[owner]++
			byOwner[owner] += int64(len(v))
			keysByOwner[owner]++
			if rules[owner] {
				ruleBytes += int64(len(v))
			}
		}
		line.owners = topOwners(owners, 3)
		lines = append(lines, line)
		b.StartTimer()
	}
	loopGC := readGC().minus(loop0)
	b.ReportMetric(float64(written)/float64(b.N)/1024, "stateKB/commit")
	if wal != nil {
		b.ReportMetric(float64(walPages)/float64(b.N), "walPages/commit")
	}
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/commit")
		b.ReportMetric(float64(detectCPU)/1e6/float64(b.N), "detect-cpu-ms/page")
		logPerCommit(b, perCommit, gcCommit, loopGC)
		slices.Sort(perCommit)
		b.ReportMetric(float64(perCommit[len(perCommit)/2])/1e6, "cpu-ms-median/commit")
		b.ReportMetric(float64(perCommit[len(perCommit)*9/10])/1e6, "cpu-ms-p90/commit")
		b.ReportMetric(float64(perCommit[len(perCommit)-1])/1e6, "cpu-ms-max/commit")
	}
	if serverOK && len(serverCommit) > 0 {
		// the server's CPU (its client backends, in 10 ms ticks: run
		// alone on the database), the PostgreSQL side of the commit
		var sum time.Duration
		for _, d := range serverCommit {
			sum += d
		}
		slices.Sort(serverCommit)
		b.ReportMetric(float64(sum.Microseconds())/1000/float64(len(serverCommit)), "server-cpu-ms/commit")
		b.ReportMetric(float64(serverCommit[len(serverCommit)/2].Microseconds())/1000, "server-cpu-ms-median/commit")
		b.ReportMetric(float64(serverCommit[len(serverCommit)-1].Microseconds())/1000, "server-cpu-ms-max/commit")
	}
	b.ReportMetric(float64(keys)/float64(b.N), "stateKeys/commit")
	b.ReportMetric(float64(ruleBytes)/float64(b.N)/1024, "ruleKB/commit")
	b.Logf("%d untimed commits before (%.1f MB first save), %d events prefilled, then %d stored pages to the 4-day bucket's close in timed commit 3",
		warm, float64(firstBytes)/1e6, prefill, sealed)
	if ls, ok := s.(*store.Store); ok && !o.inPlace {
		st, err := ls.StateLogStats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("state log: %d rows, %.1f MB for %d live keys of %.1f MB", st.Rows, float64(st.LogBytes)/1e6, st.LiveKeys, float64(st.LiveBytes)/1e6)
	}
	var perTree []map[string]int64 // with OKTAGUARD_BENCH_WAL_BTREES
	if wal != nil && wal.trace {
		total, each := wal.byBTree()
		logOwners(b, "b-trees by WAL pages per commit", total, b.N, 1, "pages", 16)
		perTree = each
	}
	logCommits(b, lines, perTree)
	logLargestOwners(b, "state writers per commit", byOwner, b.N, 1024, "KB")
	logLargestOwners(b, "key writers per commit", keysByOwner, b.N, 1, "keys")
	if failures { // what the detectors with failure state would write if saved whole
		m, err := e.SaveState()
		if err != nil {
			b.Fatal(err)
		}
		whole := map[string]int64{}
		for k, v := range m {
			owner := stateOwner(b, k)
			whole[owner] += int64(len(v))
		}
		b.Logf("whole state of failed_logins %.1f KB, suspicious_ip %.1f KB, password_spray %.1f KB; written per commit %.1f / %.1f / %.1f KB",
			float64(whole["failed_logins"])/1024, float64(whole["suspicious_ip"])/1024, float64(whole["password_spray"])/1024,
			float64(byOwner["failed_logins"])/float64(b.N)/1024, float64(byOwner["suspicious_ip"])/float64(b.N)/1024,
			float64(byOwner["password_spray"])/float64(b.N)/1024)
	}
}

const dayMS = 24 * 60 * 60 * 1000

// sealCyclePages places the timed commits at the store's largest seal:
// after the event at t, the clock jumps to the next 4-day boundary (no
// events in between; the user buckets are epoch-aligned) and pages (one
// event a second, 1,000 a page, stored) fill the 4 days after it but
// their last 2 000 events (one event a step). The third timed commit then closes the 4th
// day, and carries its seal: the day from its 24 hours, the 2-day
// segment from its 2 days and the 4-day segment from its 4 days.
// Timing 346 commits covers a whole 4-day cycle of seals from there
// (4 days, 2 two-day and 1 four-day segment): their mean is the
// amortised cost.
func sealCyclePages(t time.Time, step time.Duration) (from time.Time, pages int) {
	const cycle = 4 * dayMS
	b0 := (t.UnixMilli()/cycle + 1) * cycle
	return time.UnixMilli(b0 - step.Milliseconds()), max(int(cycle/step.Milliseconds()-2000)/1000, 0)
}

// pacedInterval is how often each user signs in with delta-paced: the
// org's events come users/pacedInterval a second (one every 100 s at
// 1,000 users, every 10 s at 10,000, every second at 100,000, which is
// delta-distinct's pace), so every user signs in once every ~28 hours at
// every population, as at 100,000 users.
const pacedInterval = 100000 * time.Second

// benchPrefill is how many events BenchmarkStateCommit stores before its
// timed commits, the same for every user count (OKTAGUARD_BENCH_PREFILL,
// default 500 000: the events' indexes then have thousands of leaves, so
// the pages a commit dirties depend on the users it touches, not on the
// store being small). OKTAGUARD_BENCH_PREFILL=0 is the shape before: no
// prefill, the untimed commits' events stay in the store, so the store
// grows with the users (5 000 events at 1 000 users, ~29 000 at 10 000,
// ~250 000 at 100 000).
func benchPrefill(b *testing.B) int {
	v := os.Getenv("OKTAGUARD_BENCH_PREFILL")
	if v == "" {
		return 500000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("OKTAGUARD_BENCH_PREFILL=%q: want a number of events", v)
	}
	return n
}

func stateBytes(m map[string][]byte) int64 {
	var n int64
	for k, v := range m {
		n += int64(len(k) + len(v))
	}
	return n
}

// commitLabels mark the timed part in a CPU profile:
// go tool pprof -tagfocus=part=commit
var commitLabels = pprof.Labels("part", "commit")

// legacyKeys returns m under the keys of the layout before entries were
// clustered by subject.
func legacyKeys(b *testing.B, m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		lk, err := detect.LegacyStateKey(k)
		if err != nil {
			b.Fatal(err)
		}
		out[lk] = v
	}
	return out
}

// stateOwner is the detector (or "engine") a state key belongs to.
func stateOwner(b *testing.B, k string) string {
	lk, err := detect.LegacyStateKey(k)
	if err != nil {
		b.Fatal(err)
	}
	owner, _, _ := strings.Cut(strings.TrimPrefix(lk, detect.StateKeyPrefix), "/")
	return owner
}

// walMeter counts the pages a commit writes to the SQLite write-ahead
// log without touching the database: the wal-index header at the start of
// the -shm file holds mxFrame, the number of frames (one page each) in the
// WAL. A commit appends its pages; a checkpoint leaves mxFrame alone and
// the WAL restarts at the next write (mxFrame then counts from zero).
// Load-independent, like the state bytes.
//
// With OKTAGUARD_BENCH_WAL_BTREES set, it also reads the page number of
// each frame a commit appended (the frame headers in the WAL file) and
// byBTree names, through SQLite's dbstat table, the table or index each
// page belongs to.
type walMeter struct {
	b     *testing.B
	db    string // the database file
	path  string
	last  uint32
	pgnos map[uint32]int64  // page -> commits that wrote it (with OKTAGUARD_BENCH_WAL_BTREES)
	each  []map[uint32]bool // the distinct pages of each metered commit, in order
	trace bool
	// nBackfill (the frames checkpointed into the database) after the
	// previous call, and whether the last call's commit ran a checkpoint
	backfill     uint32
	checkpointed bool
}

func openWALMeter(b *testing.B, path string) *walMeter {
	w := &walMeter{b: b, db: path, path: path + "-shm", trace: os.Getenv("OKTAGUARD_BENCH_WAL_BTREES") != ""}
	if w.trace {
		w.pgnos = map[uint32]int64{}
	}
	w.last, w.backfill = w.header()
	return w
}

// readPages adds the distinct pages of WAL frames from+1..to to w.pgnos
// and, as one commit's, to w.each.
func (w *walMeter) readPages(from, to uint32) {
	var h [32]byte
	f := w.openHeader(w.db+"-wal", h[:])
	defer f.Close()
	pageSize := int64(binary.BigEndian.Uint32(h[8:12]))
	seen := map[uint32]bool{}
	var fh [4]byte
	for i := int64(from); i < int64(to); i++ {
		if _, err := f.ReadAt(fh[:], 32+i*(24+pageSize)); err != nil {
			w.b.Fatal(err)
		}
		seen[binary.BigEndian.Uint32(fh[:])] = true
	}
	for pg := range seen {
		w.pgnos[pg]++
	}
	w.each = append(w.each, seen)
}

// byBTree returns the pages written per b-tree (table, index, or FTS5
// shadow table; "(other)" for pages dbstat does not list: the header, the
// freelist), summed over the metered commits, and the same for each
// metered commit (in order).
func (w *walMeter) byBTree() (total map[string]int64, each []map[string]int64) {
	db, err := sql.Open("sqlite", "file:"+w.db+"?mode=ro")
	if err != nil {
		w.b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT name, pageno FROM dbstat")
	if err != nil {
		w.b.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	each = make([]map[string]int64, len(w.each))
	for i := range each {
		each[i] = map[string]int64{}
	}
	for rows.Next() {
		var name string
		var pg uint32
		if err := rows.Scan(&name, &pg); err != nil {
			w.b.Fatal(err)
		}
		if n, ok := w.pgnos[pg]; ok {
			out[name] += n
			delete(w.pgnos, pg)
			for i, seen := range w.each {
				if seen[pg] {
					each[i][name]++
					delete(seen, pg)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		w.b.Fatal(err)
	}
	for _, n := range w.pgnos {
		out["(other)"] += n
	}
	for i, seen := range w.each {
		each[i]["(other)"] += int64(len(seen))
		if each[i]["(other)"] == 0 {
			delete(each[i], "(other)")
		}
	}
	return out, each
}

// commitLine is one timed commit of BenchmarkStateCommit: its CPU (the
// process's, nanoseconds; logPerCommit logs the collector's part), the
// part in SaveStateDelta (or SaveState) and the WAL frames it wrote.
type commitLine struct {
	cpu, save, pages int64
	checkpoint       bool // a WAL checkpoint ran in it
	// the state it wrote: keys and values' bytes, keys, deletes, and its
	// three largest owners by keys
	stateBytes, keys, deletes int64
	owners                    string
}

// logCommits logs every timed commit (the largest is not always the seal)
// and, with the pages traced, its eight largest b-trees.
func logCommits(b *testing.B, lines []commitLine, perTree []map[string]int64) {
	for i, l := range lines {
		trees := ""
		if len(perTree) == len(lines) {
			trees = ": " + topOwners(perTree[i], 8)
		}
		ckpt := ""
		if l.checkpoint {
			ckpt = " and a checkpoint"
		}
		b.Logf("timed commit %d: %.1f cpu-ms (state save %.1f), state %.0f KB in %d keys (%d deletes; %s), %d WAL pages%s%s",
			i+1, float64(l.cpu)/1e6, float64(l.save)/1e6, float64(l.stateBytes)/1024, l.keys, l.deletes, l.owners,
			l.pages, ckpt, trees)
	}
}

// frames reads mxFrame (a native-endian uint32 at offset 16 of the first
// copy of the wal-index header).
func (w *walMeter) frames() uint32 {
	n, _ := w.header()
	return n
}

// header reads mxFrame and nBackfill (native-endian, offset 96: the first
// field of the checkpoint info after the header's two copies).
func (w *walMeter) header() (mxFrame, nBackfill uint32) {
	var h [100]byte
	w.openHeader(w.path, h[:]).Close()
	return binary.NativeEndian.Uint32(h[16:20]), binary.NativeEndian.Uint32(h[96:100])
}

// openHeader opens path and reads its first len(h) bytes into h.
func (w *walMeter) openHeader(path string, h []byte) *os.File {
	f, err := os.Open(path)
	if err != nil {
		w.b.Fatal(err)
	}
	if _, err := f.ReadAt(h, 0); err != nil {
		f.Close()
		w.b.Fatal(err)
	}
	return f
}

// pages returns the frames written since the previous call, and sets
// w.checkpointed when a checkpoint ran in between (SQLite's automatic
// one, every wal_autocheckpoint frames, runs in the commit that crosses
// the mark: a CPU cost that lands in one commit of many).
func (w *walMeter) pages() int64 {
	n, bf := w.header()
	d := n - w.last
	w.checkpointed = bf > w.backfill
	if n < w.last { // the WAL restarted in between (its checkpoint info too)
		d = n
		w.checkpointed = bf > 0
	}
	w.backfill = bf
	if w.trace {
		w.readPages(n-d, n) // also when empty: w.each has one set per commit
	}
	w.last = n
	return int64(d)
}

// topOwners names the top largest owners (b-trees, detectors) with their
// counts, largest first.
func topOwners(byOwner map[string]int64, top int) string {
	owners := make([]string, 0, len(byOwner))
	for o := range byOwner {
		owners = append(owners, o)
	}
	sort.Slice(owners, func(i, j int) bool {
		if byOwner[owners[i]] != byOwner[owners[j]] {
			return byOwner[owners[i]] > byOwner[owners[j]]
		}
		return owners[i] < owners[j]
	})
	var parts []string
	for _, o := range owners[:min(top, len(owners))] {
		parts = append(parts, fmt.Sprintf("%s %d", o, byOwner[o]))
	}
	return strings.Join(parts, ", ")
}

// logLargestOwners logs the five largest writers per commit (what: bytes
// or keys, divided by scale).
func logLargestOwners(b *testing.B, what string, byOwner map[string]int64, commits int, scale float64, unit string) {
	logOwners(b, what, byOwner, commits, scale, unit, 5)
}

// logOwners logs the top largest owners.
func logOwners(b *testing.B, what string, byOwner map[string]int64, commits int, scale float64, unit string, top int) {
	owners := make([]string, 0, len(byOwner))
	for o := range byOwner {
		owners = append(owners, o)
	}
	sort.Slice(owners, func(i, j int) bool { return byOwner[owners[i]] > byOwner[owners[j]] })
	var line []string
	for _, o := range owners[:min(top, len(owners))] {
		line = append(line, fmt.Sprintf("%s %.1f %s", o, float64(byOwner[o])/float64(commits)/scale, unit))
	}
	b.Logf("largest %s: %s", what, strings.Join(line, ", "))
}
