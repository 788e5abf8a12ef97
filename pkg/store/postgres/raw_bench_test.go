package postgres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkRawFormat is BenchmarkCommit with the raw JSON compressed
// without a dictionary (no-dict, as schema 6 stored it) and with the org's
// dictionary (dict), side by side (-count alternates them). Besides
// BenchmarkCommit's figures it reports, for the events committed: the
// stored raw value (raw-B/event), the bytes on disk of their day
// partitions with TOAST and every index (events-B/event), and the WAL of
// writing those rows (wal-B/event: EXPLAIN (ANALYZE, WAL) of inserting the
// same rows again into the truncated partitions, rolled back; the
// server's WAL position is shared by every database on it, so it cannot
// price one benchmark's COPY). Bytes and WAL do not depend on the load.
//
//	OKTAGUARD_TEST_PG_DSN=... go test ./pkg/store/postgres -run '^$' -bench BenchmarkRawFormat -benchtime 20x -count 3
func BenchmarkRawFormat(b *testing.B) {
	for _, c := range []struct {
		name   string
		noDict bool
	}{{"no-dict", true}, {"dict", false}} {
		b.Run(c.name, func(b *testing.B) {
			benchCommit(b, nil, false, &benchRaw{set: func(cfg *Config) { cfg.rawNoDict = c.noDict }, after: rawSizes})
		})
	}
}

// rawSizes reports the committed events' bytes and WAL per event.
func rawSizes(b *testing.B, s *Store, mon *pgx.Conn) {
	ctx := context.Background()
	var n int64
	var rawB float64
	var disk int64
	if err := mon.QueryRow(ctx, `SELECT COUNT(*), AVG(length(raw)),
		(SELECT SUM(pg_total_relation_size(i.inhrelid))::bigint FROM pg_inherits i WHERE i.inhparent = 'events'::regclass)
		FROM events WHERE org = $1`, s.org).Scan(&n, &rawB, &disk); err != nil {
		b.Fatal(err)
	}
	tx, err := mon.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // always rolled back
	var plan []byte
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE raw_again ON COMMIT DROP AS SELECT * FROM events"); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "TRUNCATE events"); err != nil {
		b.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, WAL, FORMAT JSON) INSERT INTO events SELECT * FROM raw_again ORDER BY published, uuid").Scan(&plan); err != nil {
		b.Fatal(err)
	}
	var out []struct {
		Plan struct {
			WALBytes int64 `json:"WAL Bytes"`
			WALFPI   int64 `json:"WAL FPI"`
		}
	}
	if err := json.Unmarshal(plan, &out); err != nil || len(out) != 1 {
		b.Fatalf("EXPLAIN output %s: %v", plan, err)
	}
	b.ReportMetric(rawB, "raw-B/event")
	b.ReportMetric(float64(disk)/float64(n), "events-B/event")
	b.ReportMetric(float64(out[0].Plan.WALBytes)/float64(n), "wal-B/event")
}
