package store

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// BenchmarkLoadVsPostgresCopy loads the same events two ways, side by side:
// this store's Commit (1 000-event transactions: columns, compressed raw
// JSON, roll-ups, text index) and PostgreSQL's COPY (through psql) into a
// table with the same columns and indexes and the raw JSON as jsonb: the
// strongest bulk path PostgreSQL has. Opt-in: it needs a server and psql.
//
// Besides events/s (wall clock, meaningless on a loaded machine) each side
// reports events/cpu-s: for SQLite the CPU of this process (every
// goroutine, compression included), for PostgreSQL the CPU of psql plus
// that of the server backend running the COPY (read from its
// /proc/self/stat through pg_read_file, so the server must run on this
// machine and the DSN's user be a superuser; the WAL writer's and
// checkpointer's share is not counted, which favours PostgreSQL). The
// ratio of the two events/cpu-s figures survives machine load.
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
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), fmt.Sprintf("load%d.db", i)))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			cpu0 := cpumeter.Process()
			for at := 0; at < n; at += 1000 {
				if _, err := s.Commit(context.Background(), Batch{Events: evs[at : at+1000],
					Checkpoint: &Checkpoint{NextURL: "x", MaxPublished: evs[at+999].Published}}); err != nil {
					b.Fatal(err)
				}
			}
			cpu += cpumeter.Process() - cpu0
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(b.N*n)/cpu.Seconds(), "events/cpu-s")
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
	// the floor's CSV: the same columns, the raw JSON zstd-compressed
	// before the timer (as both stores keep it) and sent as bytea
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		b.Fatal(err)
	}
	var floorBuf bytes.Buffer
	fw := csv.NewWriter(&floorBuf)
	for i := range evs {
		ev := &evs[i]
		c := columnsOf(ev)
		fw.Write([]string{ev.UUID, strconv.FormatInt(c.published, 10), ev.EventType, ev.Actor.AlternateID, ev.Actor.ID,
			ev.Actor.Type, ev.Actor.DisplayName, ev.Outcome.Result, ev.Outcome.Reason, c.ip, c.country, c.city, "", "",
			c.session, ev.Severity, ev.DisplayMessage, c.target, ev.Debug.RiskLevel, "0", `\x` + hex.EncodeToString(enc.EncodeAll(ev.Raw, nil))})
	}
	fw.Flush()
	// psql runs the commands in one session; it returns the CPU psql used
	// and the output
	psql := func(stdin []byte, cmds ...string) (time.Duration, string) {
		b.Helper()
		args := []string{dsn, "-v", "ON_ERROR_STOP=1", "-q", "-tA"}
		for _, c := range cmds {
			args = append(args, "-c", c)
		}
		cmd := exec.Command("psql", args...)
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("psql: %v: %s", err, out)
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), string(out)
	}
	const table = `DROP TABLE IF EXISTS bench_events; CREATE TABLE bench_events (id bigserial PRIMARY KEY, uuid text NOT NULL UNIQUE,
		published bigint NOT NULL, event_type text NOT NULL, actor text NOT NULL, actor_id text NOT NULL, actor_type text NOT NULL,
		actor_name text NOT NULL, outcome text NOT NULL, reason text NOT NULL, ip text NOT NULL, country text NOT NULL, city text NOT NULL,
		lat double precision, lon double precision, session_id text NOT NULL, severity text NOT NULL, display_message text NOT NULL,
		target text NOT NULL, risk_level text NOT NULL, ip_categories int NOT NULL, raw jsonb NOT NULL);
		CREATE INDEX ON bench_events(published); CREATE INDEX ON bench_events(actor, published);
		CREATE INDEX ON bench_events(event_type, published); CREATE INDEX ON bench_events(ip, published);
		CREATE INDEX ON bench_events(session_id, published) WHERE session_id <> '';`
	// postgres-copy-text-index adds what the PostgreSQL store indexes on
	// top (pkg/store/postgres/schema.go): the outcome b-tree and the
	// trigram GIN over the five searchable columns (its free text; SQLite's
	// is FTS5, which the sqlite-commit side maintains). It is the rate
	// PostgreSQL's own bulk path reaches with the PostgreSQL store's
	// indexes, the ceiling for that store's Commit on the same machine.
	for _, bc := range []struct{ name, ddl string }{
		{"postgres-copy", table},
		{"postgres-copy-text-index", table + ` CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE INDEX ON bench_events(outcome, published);
			CREATE INDEX ON bench_events USING gin ((display_message || chr(10) || actor || chr(10) || event_type || chr(10) ||
			target || chr(10) || ip) gin_trgm_ops);`},
	} {
		b.Run(bc.name, func(b *testing.B) { benchPostgresCopy(b, psql, bc.ddl, buf.Bytes(), n) })
	}
	// postgres-copy-floor is the least a store of one row per event can
	// write on PostgreSQL: the same columns with the raw JSON as compressed
	// bytea, and no index but the key and the uuid's (the one exactly-once
	// needs). No store with panels can be faster on the same server.
	b.Run("postgres-copy-floor", func(b *testing.B) {
		benchPostgresCopy(b, psql, strings.Replace(table[:strings.Index(table, "CREATE INDEX")], "raw jsonb", "raw bytea", 1),
			floorBuf.Bytes(), n)
	})
}

// benchPostgresCopy COPYs the CSV of n events into a table made by ddl,
// b.N times, and reports events/s and events/cpu-s (psql + backend).
func benchPostgresCopy(b *testing.B, psql func([]byte, ...string) (time.Duration, string), ddl string, csv []byte, n int) {
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		psql(nil, ddl)
		b.StartTimer()
		const stat = "SELECT pg_read_file('/proc/self/stat')"
		client, out := psql(csv, stat, `\copy bench_events (uuid, published, event_type, actor, actor_id, actor_type, actor_name, outcome, reason,
			ip, country, city, lat, lon, session_id, severity, display_message, target, risk_level, ip_categories, raw) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (uuid, event_type, actor, actor_id, actor_type, actor_name, outcome, reason,
			ip, country, city, session_id, severity, display_message, target, risk_level))`, stat)
		cpu += client + backendCPU(b, out)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N*n)/cpu.Seconds(), "events/cpu-s")
}

// backendCPU is the CPU a PostgreSQL backend used between the two
// /proc/self/stat lines in out (utime and stime, fields 14 and 15, in
// clock ticks of 10 ms: Linux's USER_HZ).
func backendCPU(b *testing.B, out string) time.Duration {
	b.Helper()
	var ticks []int64
	for _, line := range strings.Split(out, "\n") {
		i := strings.LastIndexByte(line, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+1:]) // f[0] is field 3 (state)
		if len(f) < 13 {
			b.Fatalf("backend stat: %q", line)
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			b.Fatalf("backend stat: %q", line)
		}
		ticks = append(ticks, u+s)
	}
	if len(ticks) != 2 {
		b.Fatalf("want two backend stat lines, got %d in %q", len(ticks), out)
	}
	return time.Duration(ticks[1]-ticks[0]) * 10 * time.Millisecond
}
