package store

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkLoadVsPostgresCopy loads the same events two ways, side by side:
// this store's Commit (1 000-event transactions: columns, compressed raw
// JSON, roll-ups, text index) and PostgreSQL's COPY (through psql) into a
// table with the same columns and indexes and the raw JSON as jsonb: the
// strongest bulk path PostgreSQL has. Opt-in: it needs a server and psql.
//
//	OKTAGUARD_BENCH_PG_DSN=postgres://postgres@127.0.0.1:55432/db?sslmode=disable \
//	  go test ./pkg/store -run '^$' -bench BenchmarkLoadVsPostgresCopy -benchtime 2x -count 3
func BenchmarkLoadVsPostgresCopy(b *testing.B) {
	dsn := os.Getenv("OKTAGUARD_BENCH_PG_DSN")
	if dsn == "" {
		b.Skip("set OKTAGUARD_BENCH_PG_DSN to a PostgreSQL DSN (and have psql) to compare with COPY")
	}
	const n = 20000
	evs := mkEvents(0, n, t0, 100*time.Millisecond)
	b.Run("sqlite-commit", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), fmt.Sprintf("load%d.db", i)))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for at := 0; at < n; at += 1000 {
				if _, err := s.Commit(context.Background(), Batch{Events: evs[at : at+1000],
					Checkpoint: &Checkpoint{NextURL: "x", MaxPublished: evs[at+999].Published}}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	})
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for i := range evs {
		ev := &evs[i]
		c := columnsOf(ev)
		lat, lon := "", ""
		if c.hasGeo {
			lat, lon = strconv.FormatFloat(c.latF, 'f', -1, 64), strconv.FormatFloat(c.lonF, 'f', -1, 64)
		}
		w.Write([]string{ev.UUID, strconv.FormatInt(c.published, 10), ev.EventType, ev.Actor.AlternateID, ev.Actor.ID,
			ev.Actor.Type, ev.Actor.DisplayName, ev.Outcome.Result, ev.Outcome.Reason, c.ip, c.country, c.city, lat, lon,
			c.session, ev.Severity, ev.DisplayMessage, c.target, ev.Debug.RiskLevel, "0", string(ev.Raw)})
	}
	w.Flush()
	psql := func(stdin []byte, sql string) {
		b.Helper()
		cmd := exec.Command("psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql)
		cmd.Stdin = bytes.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("psql: %v: %s", err, out)
		}
	}
	const table = `DROP TABLE IF EXISTS bench_events; CREATE TABLE bench_events (id bigserial PRIMARY KEY, uuid text NOT NULL UNIQUE,
		published bigint NOT NULL, event_type text NOT NULL, actor text NOT NULL, actor_id text NOT NULL, actor_type text NOT NULL,
		actor_name text NOT NULL, outcome text NOT NULL, reason text NOT NULL, ip text NOT NULL, country text NOT NULL, city text NOT NULL,
		lat double precision, lon double precision, session_id text NOT NULL, severity text NOT NULL, display_message text NOT NULL,
		target text NOT NULL, risk_level text NOT NULL, ip_categories int NOT NULL, raw jsonb NOT NULL);
		CREATE INDEX ON bench_events(published); CREATE INDEX ON bench_events(actor, published);
		CREATE INDEX ON bench_events(event_type, published); CREATE INDEX ON bench_events(ip, published);
		CREATE INDEX ON bench_events(session_id, published) WHERE session_id <> '';`
	b.Run("postgres-copy", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			psql(nil, table)
			b.StartTimer()
			psql(buf.Bytes(), `\copy bench_events (uuid, published, event_type, actor, actor_id, actor_type, actor_name, outcome, reason,
				ip, country, city, lat, lon, session_id, severity, display_message, target, risk_level, ip_categories, raw) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (uuid, event_type, actor, actor_id, actor_type, actor_name, outcome, reason,
				ip, country, city, session_id, severity, display_message, target, risk_level))`)
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	})
}
