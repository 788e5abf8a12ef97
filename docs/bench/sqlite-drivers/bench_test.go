// Package drivers compares SQLite drivers on the store's write workload:
// pages of 1 000 events into the events table of schema 22 with its six
// secondary indexes, the FTS5 trigram index (one statement a page, as
// pkg/store/fts.go) and the raw JSON blocks (one row per 8 events). It
// is a module of its own so that the plugin's module never links cgo:
// the cgo driver is built only with the tag mattn (see docs/performance.md,
// "Writes on SQLite: the floor with blocks, the C driver, page sizes").
//
//	go test -run '^$' -bench . -benchtime 84x                            # modernc.org/sqlite (pure Go, shipped)
//	go test -tags 'mattn sqlite_fts5' -run '^$' -bench Mattn -benchtime 84x  # github.com/mattn/go-sqlite3 (cgo)
//
// OKTAGUARD_BENCH_DROP lists indexes to drop first (events_fts: no text
// index), as OKTAGUARD_BENCH_DROP_INDEXES does for pkg/store's benchmarks.
package drivers

import (
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// schema: the events table, its indexes and the text index of pkg/store
// at schema 22 (pkg/store/migrate.go, entity_hours.go, fts.go).
const schema = `
CREATE TABLE events (
	id              INTEGER PRIMARY KEY,
	uuid            TEXT    NOT NULL UNIQUE,
	published       INTEGER NOT NULL,
	event_type      TEXT    NOT NULL,
	actor           TEXT    NOT NULL DEFAULT '',
	actor_id        TEXT    NOT NULL DEFAULT '',
	actor_type      TEXT    NOT NULL DEFAULT '',
	actor_name      TEXT    NOT NULL DEFAULT '',
	outcome         TEXT    NOT NULL DEFAULT '',
	reason          TEXT    NOT NULL DEFAULT '',
	ip              TEXT    NOT NULL DEFAULT '',
	country         TEXT    NOT NULL DEFAULT '',
	city            TEXT    NOT NULL DEFAULT '',
	lat             REAL,
	lon             REAL,
	session_id      TEXT    NOT NULL DEFAULT '',
	severity        TEXT    NOT NULL DEFAULT '',
	display_message TEXT    NOT NULL DEFAULT '',
	target          TEXT    NOT NULL DEFAULT '',
	risk_level      TEXT    NOT NULL DEFAULT '',
	ip_categories   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_published    ON events(published);
CREATE INDEX events_type         ON events(event_type, published);
CREATE INDEX events_outcome_type ON events(outcome, event_type, published) WHERE outcome <> 'SUCCESS';
CREATE INDEX events_actor_hour   ON events(published/3600000, actor, published);
CREATE INDEX events_ip_hour      ON events(published/3600000, ip, published);
CREATE INDEX events_session_hour ON events(published/3600000, session_id, published) WHERE session_id <> '';
CREATE VIRTUAL TABLE events_fts USING fts5(t, content='', columnsize=0, tokenize='trigram', detail='none');
CREATE TABLE events_raw_blocks (last_id INTEGER PRIMARY KEY, first_id INTEGER NOT NULL, raw BLOB NOT NULL);
`

const (
	pageEvents = 1000
	stmtRows   = 125 // rows per multi-row INSERT (8 statements a page)
	cols       = 21
	blockSize  = 8
)

var (
	types = []string{"user.session.start", "user.authentication.sso", "user.authentication.auth_via_mfa", "policy.evaluate_sign_on",
		"user.session.end", "app.oauth2.token.grant", "system.api_token.create", "user.account.lock"}
	msgs = []string{"User login to Okta", "User single sign on to app", "Authentication of user via MFA", "Evaluation of sign-on policy",
		"User logout from Okta", "OAuth2 access token is granted", "Create API token", "Max sign in attempts exceeded"}
)

// pages generates n pages of event rows (20 000 users, random uuids as
// Okta's, one event per 259 ms as pkg/store's 10 M benchmark store)
// before the timer starts, so that only the driver and SQLite are timed.
func pages(n int) [][]any {
	rng := rand.New(rand.NewSource(1))
	out := make([][]any, n)
	id, pub := int64(0), int64(1_700_000_000_000)
	for p := range out {
		args := make([]any, 0, pageEvents*cols)
		for k := 0; k < pageEvents; k++ {
			id++
			pub += 259
			u, t := rng.Intn(20000), rng.Intn(len(types))
			out := "SUCCESS"
			if rng.Intn(10) == 0 {
				out = "FAILURE"
			}
			args = append(args, id, fmt.Sprintf("%08x-%04x-11ee-8000-%012x", rng.Uint32(), rng.Intn(65536), id), pub, types[t],
				fmt.Sprintf("user%05d@example.com", u), fmt.Sprintf("00u%017d", u), "User", fmt.Sprintf("User Number %d", u),
				out, "", fmt.Sprintf("%d.%d.%d.%d", 10+u%200, u%256, rng.Intn(256), rng.Intn(256)), "United States", "Denver", 39.7, -104.9,
				fmt.Sprintf("102%021d", rng.Int63()), "INFO", msgs[t], "Salesforce", "LOW", 0)
		}
		out[p] = args
	}
	return out
}

func run(b *testing.B, driver string) {
	path := filepath.Join(b.TempDir(), "bench.db")
	db, err := sql.Open(driver, "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	pageSize := os.Getenv("OKTAGUARD_BENCH_PAGE_SIZE")
	if pageSize == "" {
		pageSize = "8192" // pkg/store's
	}
	for _, p := range []string{"PRAGMA page_size=" + pageSize, "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
		"PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=16384", "PRAGMA temp_store=MEMORY"} {
		if _, err := db.Exec(p); err != nil {
			b.Fatal(p, err)
		}
	}
	if _, err := db.Exec(schema); err != nil {
		b.Fatal(err)
	}
	text := true
	for _, d := range strings.Split(os.Getenv("OKTAGUARD_BENCH_DROP"), ",") {
		switch d {
		case "":
		case "events_fts":
			text = false
		default:
			if _, err := db.Exec("DROP INDEX " + d); err != nil {
				b.Fatal(err)
			}
		}
	}
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	ins, err := db.Prepare("INSERT INTO events VALUES " + strings.TrimSuffix(strings.Repeat(ph+",", stmtRows), ","))
	if err != nil {
		b.Fatal(err)
	}
	idx, err := db.Prepare("INSERT INTO events_fts (rowid, t) SELECT id, display_message || char(10) || actor || char(10) || event_type || char(10) || target || char(10) || ip FROM events WHERE id BETWEEN ? AND ?")
	if err != nil {
		b.Fatal(err)
	}
	blk, err := db.Prepare("INSERT INTO events_raw_blocks VALUES " + strings.TrimSuffix(strings.Repeat("(?,?,?),", pageEvents/blockSize), ","))
	if err != nil {
		b.Fatal(err)
	}
	// the raw blocks: incompressible bytes of a block of 8 real events' size
	rng := rand.New(rand.NewSource(2))
	raw := make([]byte, 8*286)
	rng.Read(raw)
	all := pages(b.N)
	blockArgs := make([]any, 0, 3*pageEvents/blockSize)
	b.ResetTimer()
	for i, args := range all {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		for r := 0; r < pageEvents; r += stmtRows {
			if _, err := tx.Stmt(ins).Exec(args[r*cols : (r+stmtRows)*cols]...); err != nil {
				b.Fatal(err)
			}
		}
		first, last := int64(i*pageEvents+1), int64((i+1)*pageEvents)
		if text {
			if _, err := tx.Stmt(idx).Exec(first, last); err != nil {
				b.Fatal(err)
			}
		}
		blockArgs = blockArgs[:0]
		for k := first; k <= last; k += blockSize {
			blockArgs = append(blockArgs, k+blockSize-1, k, raw)
		}
		if _, err := tx.Stmt(blk).Exec(blockArgs...); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*pageEvents)/b.Elapsed().Seconds(), "events/s")
}
