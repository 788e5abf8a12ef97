package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// TestDatabaseFailoverLosesNothing: the pipeline leads an org on a
// PostgreSQL primary with a hot standby (asynchronous streaming
// replication, the default), through a DSN that lists both and asks for
// the writable one. The standby stops receiving after page 2 (stopped, as
// a replica cut off or lagging); pages 3-6 are committed on the primary
// only, with the day partitions and the raw JSON dictionary they made;
// the primary crashes (immediate stop) and the standby is promoted. The
// pipeline's next commit lands on the new primary, which holds page 2's
// checkpoint and lacks pages 3-6: it must fail (the store diverged), the
// store must forget what it cached of the lost commits, and the pipeline
// must start over from the store's checkpoint. The new primary ends with
// the org's uuid set, 0 lost and 0 stored twice, every spray alert once,
// and every event's raw JSON readable. Before the checkpoint's commit
// sequence (schema 12) that commit went through and pages 3-6 were lost
// for good; with the sequence alone the leader then failed on the day
// partition it had cached.
func TestDatabaseFailoverLosesNothing(t *testing.T) {
	// the standby is promoted before the held page's commit: that commit
	// fails on the old primary's connection, the engine is reloaded from
	// the promoted server, and the next commit finds the store diverged
	t.Run("a commit notices", func(t *testing.T) { testFailover(t, false) })
	// the held page's commit fails while no server accepts writes: the
	// leader cannot read the store back either, starts over once the
	// promoted server answers (the same lease, the same token) and finds
	// the checkpoint behind its own as it reloads. Before, Run returned
	// that read's error and the pipeline stopped for good.
	t.Run("the database is down when the commit fails", func(t *testing.T) { testFailover(t, true) })
}

func testFailover(t *testing.T, down bool) {
	pair := pgtest.Replicated(t)
	sim, url := startSim(t, oktasim.Options{})
	start := time.Now().Add(-72 * time.Hour)
	evs := append(genEvents(41, 1500, start, time.Now()), sprayEvents(12, start.Add(time.Hour))...)
	// users first seen in the lost pages, and others first seen after
	// the failover: the Geomap numbers them (geo_actor_ids)
	evs = byPublished(append(append(evs, newcomers(0, 20, start.Add(12*time.Hour))...), newcomers(20, 20, start.Add(50*time.Hour))...))
	sim.Add(evs...)

	// pages: the org's raw JSON dictionary is built from its first 256
	// events, in page 3, on the primary alone
	const cutAfter, crashAfter = 2, 6
	at := make(chan int)
	resume := make(chan struct{})
	s := testSettings(t, url, t.TempDir())
	s.Storage.Driver, s.Storage.DSN = "postgres", pair.FailoverDSN()
	logs := &syncBuffer{}
	o := Options{OktaOptions: fastOkta(), InstanceID: "instance-a", BatchEvents: 1,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		BeforeCommit: func(n int) {
			if n == cutAfter+1 || n == crashAfter+1 {
				at <- n
				<-resume
			}
		}}
	p, err := New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		p.Close()
	}()
	wait := func(want int) {
		t.Helper()
		select {
		case n := <-at:
			if n != want {
				t.Fatalf("held before page %d, want %d", n, want)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("the pipeline did not reach page %d within 60 s:\n%s", want, logs.String())
		}
	}
	wait(cutAfter + 1)
	pair.WaitReplayed(30 * time.Second) // the standby holds pages 1-2
	pair.Stop(pair.Standby, "fast")
	resume <- struct{}{}
	wait(crashAfter + 1) // pages 3-6 committed on the primary alone
	onPrimary := countEvents(t, pair.Primary.DSN())
	alertsBefore := alertIDs(t, pair.Primary.DSN())
	pair.Stop(pair.Primary, "immediate")
	pair.Start(pair.Standby) // a hot standby still: read-only, found by nobody's writes
	onStandby := countEvents(t, pair.Standby.DSN())
	lostAlerts := 0
	atPromotion := alertIDs(t, pair.Standby.DSN())
	for id := range alertsBefore {
		if !atPromotion[id] {
			lostAlerts++
		}
	}
	if onStandby >= onPrimary || onStandby == 0 {
		t.Fatalf("the standby holds %d events, the crashed primary held %d: the test needs a failover that lost commits", onStandby, onPrimary)
	}
	t.Logf("failover: the primary held %d events and %d alerts, the promoted standby %d events and %d alerts", onPrimary, len(alertsBefore), onStandby, len(atPromotion))
	// from here on BeforeCommit never blocks again (pages are counted on)
	go func() {
		for range at {
		}
	}()
	if down {
		resume <- struct{}{}
		if !testwait.For(30*time.Second, func() bool { return strings.Contains(logs.String(), "starting over from the store once it answers") }) {
			t.Fatalf("the leader did not start over while no server accepted writes:\n%s", logs.String())
		}
	}
	pair.Promote()
	if !down {
		resume <- struct{}{}
	}
	var stored int64
	if !testwait.For(90*time.Second, func() bool {
		stored = countEvents(t, pair.Standby.DSN())
		return stored >= int64(len(evs))
	}) {
		t.Fatalf("the new primary holds %d of %d events:\n%s", stored, len(evs), logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil // for the deferred check

	c, err := pgx.Connect(context.Background(), pair.Standby.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, _ := c.Query(context.Background(), "SELECT uuid FROM events")
	uuids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, u := range sim.UUIDs() {
		want[u] = true
	}
	seen := map[string]bool{}
	for _, u := range uuids {
		if seen[u] || !want[u] {
			t.Fatalf("uuid %s stored twice or not the org's", u)
		}
		seen[u] = true
	}
	if len(seen) != len(want) {
		t.Fatalf("stored %d of the org's %d uuids", len(seen), len(want))
	}
	var alerts, ids, sprays int64
	if err := c.QueryRow(context.Background(), `SELECT COUNT(*), COUNT(DISTINCT id), COUNT(*) FILTER (WHERE detector = 'password_spray')
		FROM alerts`).Scan(&alerts, &ids, &sprays); err != nil {
		t.Fatal(err)
	}
	if sprays != 12 || alerts != ids {
		t.Fatalf("alerts: %d stored, %d distinct ids, %d password sprays (want 12)", alerts, ids, sprays)
	}
	// the alerts the old primary held (Grafana may have notified them)
	// are there again, under the same ids
	after := alertIDs(t, pair.Standby.DSN())
	for id := range alertsBefore {
		if !after[id] {
			t.Fatalf("alert %s of the old primary is not on the new one (%d before, %d after)", id, len(alertsBefore), len(after))
		}
	}
	if lostAlerts == 0 {
		t.Fatal("the failover lost no alert: the test needs alerts in the lost pages")
	}
	// the Geomap's distinct-user sets: every number names an actor the
	// new primary numbered, one number per actor of the located events
	var unnamed, numbers, actors int64
	if err := c.QueryRow(context.Background(), `WITH g AS (SELECT DISTINCT unnest(actors) AS gid FROM geo_hours WHERE actors IS NOT NULL
			UNION SELECT unnest(actors) FROM geo_days)
		SELECT (SELECT COUNT(*) FROM g WHERE gid NOT IN (SELECT gid FROM geo_actor_ids)), (SELECT COUNT(*) FROM g),
			(SELECT COUNT(DISTINCT actor) FROM events WHERE lat IS NOT NULL)`).Scan(&unnamed, &numbers, &actors); err != nil {
		t.Fatal(err)
	}
	if unnamed != 0 || numbers != actors || actors == 0 {
		t.Fatalf("geo sets: %d numbers (%d of them numbering no actor) for %d located actors", numbers, unnamed, actors)
	}
	// every event's raw JSON, read back through the store
	st, err := postgres.Open(context.Background(), postgres.Config{DSN: pair.Standby.DSN(), Org: url})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, u := range uuids {
		row, ok, err := st.GetEvent(context.Background(), u)
		if err != nil || !ok || !json.Valid(row.Raw) || !strings.Contains(string(row.Raw), u) {
			t.Fatalf("event %s read back: ok %v, %v, raw %.80q", u, ok, err, row.Raw)
		}
	}
	if want := "diverged"; !down && !strings.Contains(logs.String(), want) {
		t.Fatalf("the pipeline never reported the diverged store:\n%s", logs.String())
	}
}

// countEvents is the number of events in the database of dsn.
func countEvents(t *testing.T, dsn string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(column(t, dsn, "SELECT COUNT(*)::text FROM events")[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// alertIDs is the set of alert ids in the database of dsn.
func alertIDs(t *testing.T, dsn string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, id := range column(t, dsn, "SELECT id FROM alerts") {
		out[id] = true
	}
	return out
}

// column runs sql on a connection of its own to dsn (the servers of the
// pair stop and start between calls) and returns its one text column.
func column(t *testing.T, dsn, sql string) []string {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, _ := c.Query(context.Background(), sql)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// newcomers: n successful sign-ins from Berlin, one each of users first..first+n-1
// (newcomerN@example.com), a minute apart from at.
func newcomers(first, n int, at time.Time) []json.RawMessage {
	var out []json.RawMessage
	for i := first; i < first+n; i++ {
		raw, _ := json.Marshal(map[string]any{
			"uuid":           fmt.Sprintf("6c3a0000-0000-4000-8000-%012x", i),
			"published":      at.Add(time.Duration(i-first) * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"),
			"eventType":      "user.session.start",
			"version":        "0",
			"severity":       "INFO",
			"displayMessage": "User login to Okta",
			"actor":          map[string]any{"id": fmt.Sprintf("00unew%d", i), "type": "User", "alternateId": fmt.Sprintf("newcomer%d@example.com", i), "displayName": "Newcomer"},
			"client": map[string]any{"ipAddress": "198.51.100.7", "userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0"},
				"geographicalContext": map[string]any{"city": "Berlin", "country": "Germany", "geolocation": map[string]any{"lat": 52.52, "lon": 13.40}}},
			"outcome":      map[string]any{"result": "SUCCESS"},
			"transaction":  map[string]any{"type": "WEB", "id": fmt.Sprintf("new%d", i)},
			"debugContext": map[string]any{"debugData": map[string]any{}},
		})
		out = append(out, raw)
	}
	return out
}
