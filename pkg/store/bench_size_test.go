package store

import (
	"context"
	"os"
	"strings"
	"testing"
)

// BenchmarkStoreSize reports the large benchmark store's bytes per event
// (SQLite's dbstat: pages of each table and index, slack included), in
// total and per part (the table in docs/storage.md#sizing), and the file's
// bytes per event after a checkpoint (file-B/event: what the disk holds,
// free pages included; free-B/event: the free list's share) and its WAL's
// before it (wal-B/event). It builds the
// store like BenchmarkQuery (once, kept in the temp directory):
//
//	OKTAGUARD_STORE_BENCH_EVENTS=1000000 go test ./pkg/store -run '^$' -bench BenchmarkStoreSize -benchtime 1x
//
// The figures do not depend on machine load.
func BenchmarkStoreSize(b *testing.B) {
	s, _ := benchStore(b)
	defer s.Close()
	ctx := context.Background()
	// the WAL as the build left it: it grows to wal_autocheckpoint's
	// pages (128 MiB) plus a commit, and only Close truncates it
	var wal int64
	if fi, err := os.Stat(s.Path() + "-wal"); err == nil {
		wal = fi.Size()
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	var events int64
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&events); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		b.Fatal(err)
	}
	var free, pageSize int64
	if err := s.r.QueryRowContext(ctx, "SELECT * FROM pragma_freelist_count(), pragma_page_size()").Scan(&free, &pageSize); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		b.ReportMetric(float64(fi.Size())/float64(events), "file-B/event")
		b.ReportMetric(float64(free*pageSize)/float64(events), "free-B/event")
		b.ReportMetric(float64(wal)/float64(events), "wal-B/event")
		rows, err := s.r.QueryContext(ctx, "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
		if err != nil {
			b.Fatal(err)
		}
		parts := map[string]int64{}
		var total int64
		for rows.Next() {
			var name string
			var n int64
			if err := rows.Scan(&name, &n); err != nil {
				b.Fatal(err)
			}
			parts[sizePart(name)] += n
			total += n
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
		for p, n := range parts {
			b.ReportMetric(float64(n)/float64(events), p+"-B/event")
		}
		b.ReportMetric(float64(total)/float64(events), "total-B/event")
	}
}

// sizePart groups a table or index into the parts of the sizing table.
func sizePart(name string) string {
	switch {
	case name == "events_raw" || name == "events_raw_blocks":
		return "raw"
	case name == "events":
		return "row"
	case name == "sqlite_autoindex_events_1" || strings.HasPrefix(name, "events_") && !strings.HasPrefix(name, "events_fts"):
		return "index"
	case strings.HasPrefix(name, "events_fts"):
		return "fts"
	case strings.HasPrefix(name, "event_counts"), strings.HasPrefix(name, "user_"), name == "geo_hours",
		name == "actors", name == "actors_log", name == "event_types":
		return "rollup"
	default:
		return "other"
	}
}
