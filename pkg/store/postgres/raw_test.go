package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/zstd"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// rawEvents are n generated events (~1.8 KB raw JSON each) from seq on.
func rawEvents(seed uint64, seq, n int, at time.Time) []event.Event {
	rng := rand.New(rand.NewPCG(seed, 9))
	out := make([]event.Event, n)
	for i := range out {
		out[i] = storetest.BenchEvent(rng, seq+i, at.Add(time.Duration(i)*time.Second))
	}
	return out
}

// frameDicts counts the org's stored frames by the dictionary they name
// (zstd frame header: the descriptor's low two bits give the size of the
// dictionary id field; 0: no dictionary).
func frameDicts(t *testing.T, s *Store) (without, with int, ids map[uint32]int) {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "SELECT raw FROM events WHERE org = $1", s.org)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	ids = map[uint32]int{}
	for _, f := range frames {
		var h zstd.Header
		if err := h.Decode(f); err != nil {
			t.Fatalf("stored raw is not a zstd frame: %v", err)
		}
		if h.DictionaryID == 0 {
			without++
		} else {
			with++
			ids[h.DictionaryID]++
		}
	}
	return without, with, ids
}

// checkRaw reads the events back by uuid and compares their raw JSON.
func checkRaw(t *testing.T, s *Store, evs []event.Event) {
	t.Helper()
	for lo := 0; lo < len(evs); lo += 500 {
		part := evs[lo:min(lo+500, len(evs))]
		uuids := make([]string, len(part))
		want := map[string]string{}
		for i, e := range part {
			uuids[i] = e.UUID
			want[e.UUID] = string(e.Raw)
		}
		got, err := s.QueryEventsByUUID(context.Background(), uuids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(part) {
			t.Fatalf("read %d of %d events back", len(got), len(part))
		}
		for _, r := range got {
			if string(r.Raw) != want[r.UUID] {
				t.Fatalf("event %s: raw JSON differs after the round trip", r.UUID)
			}
		}
	}
}

func dictRows(t *testing.T, s *Store) map[int32][]uint32 {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "SELECT org, id FROM raw_dicts ORDER BY org, id")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32][]uint32{}
	for rows.Next() {
		var org, id int32
		if err := rows.Scan(&org, &id); err != nil {
			t.Fatal(err)
		}
		out[org] = append(out[org], uint32(id))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A new org builds its dictionary from its first page and compresses that
// page with it; every frame names it and reads back byte-equal.
func TestRawDictionaryFirstPage(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: pgtest.Schema(t), Org: "https://dict.okta.example", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Now().UTC().Add(-2 * time.Hour)
	small := rawEvents(1, 0, 10, day) // fewer than a dictionary's samples: no dictionary yet
	if _, err := s.Commit(ctx, store.Batch{Events: small}); err != nil {
		t.Fatal(err)
	}
	if d := dictRows(t, s); len(d) != 0 {
		t.Fatalf("a dictionary after %d events: %v", len(small), d)
	}
	page := rawEvents(1, 10, 1000, day.Add(time.Minute))
	if _, err := s.Commit(ctx, store.Batch{Events: page}); err != nil {
		t.Fatal(err)
	}
	d := dictRows(t, s)
	if len(d[s.org]) != 1 || len(d) != 1 {
		t.Fatalf("dictionaries %v, want one of org %d", d, s.org)
	}
	without, with, ids := frameDicts(t, s)
	if without != len(small) || with != len(page) || ids[d[s.org][0]] != len(page) {
		t.Fatalf("frames: %d without a dictionary, %d with (%v); want %d and %d with %d", without, with, ids, len(small), len(page), d[s.org][0])
	}
	checkRaw(t, s, append(small, page...))
	uuids := make([]string, len(page))
	rawLen := 0
	for i, e := range page {
		uuids[i] = e.UUID
		rawLen += len(e.Raw)
	}
	var avg float64
	if err := s.pool.QueryRow(ctx, "SELECT AVG(length(raw)) FROM events WHERE org = $1 AND uuid = ANY($2)", s.org, uuids).Scan(&avg); err != nil {
		t.Fatal(err)
	}
	t.Logf("raw JSON: %d bytes per event, %.0f stored", rawLen/len(page), avg)
}

// A store at schema 6 (frames without a dictionary) is migrated in place:
// the schema change is one transaction and the org's dictionary is built
// by its first commit from its newest stored events (the open writes
// nothing). Interrupted (the dictionary's insert fails), that commit
// fails and stores nothing, and the next one does the job; the old frames
// read back as they are and new pages use the dictionary.
func TestRawDictionaryMigrationResumes(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DSN: pgtest.Schema(t), Org: "https://migrate.okta.example", MaxConns: 2}
	old, err := openAt(ctx, cfg, rawDictsVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Add(-3 * time.Hour)
	before := rawEvents(2, 0, 600, day)
	if _, err := old.Commit(ctx, store.Batch{Events: before}); err != nil {
		t.Fatal(err)
	}
	old.Close()
	after := rawEvents(2, 600, 300, day.Add(time.Hour))

	// interrupted: the dictionary's insert fails, the first commit fails
	broken := cfg
	broken.tracer = failOn{"INSERT INTO raw_dicts"}
	s, err := Open(ctx, broken)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("schema %d (%v) after the open, want %d", v, err, LatestSchemaVersion())
	}
	if d := dictRows(t, s); len(d) != 0 {
		t.Fatalf("dictionaries after the open: %v (the open writes nothing)", d)
	}
	if _, err := s.Commit(ctx, store.Batch{Events: after}); err == nil {
		t.Fatal("the commit succeeded with the dictionary's insert failing")
	} else if strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("error names the DSN: %v", err)
	}
	s.Close()

	// resumed
	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d := dictRows(t, s); len(d) != 0 {
		t.Fatalf("dictionaries after the failed commit: %v", d)
	}
	if _, err := s.Commit(ctx, store.Batch{Events: after}); err != nil {
		t.Fatal(err)
	}
	d := dictRows(t, s)
	if len(d[s.org]) != 1 {
		t.Fatalf("dictionaries %v after the first commit, want one of org %d", d, s.org)
	}
	without, with, ids := frameDicts(t, s)
	if without != len(before) || with != len(after) || ids[d[s.org][0]] != len(after) {
		t.Fatalf("frames: %d without a dictionary, %d with (%v); want %d and %d", without, with, ids, len(before), len(after))
	}
	checkRaw(t, s, append(before, after...))
	// opening again builds nothing more
	s2, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if d2 := dictRows(t, s); len(d2[s.org]) != 1 {
		t.Fatalf("dictionaries %v after a second open", d2)
	}
}

// failOn fails the statements that start with a prefix (a pgx tracer whose
// start hook cancels the statement's context).
type failOn struct{ prefix string }

func (f failOn) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.HasPrefix(strings.TrimSpace(d.SQL), f.prefix) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		return c
	}
	return ctx
}

func (failOn) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Each org has its own dictionary: a handle knows only its org's, so it
// cannot decode another org's frames, and its queries return its own
// events only.
func TestRawDictionaryPerOrg(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	open := func(org string) *Store {
		s, err := Open(ctx, Config{DSN: dsn, Org: org, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open("https://a.okta.example"), open("https://b.okta.example")
	day := time.Now().UTC().Add(-time.Hour)
	evA, evB := rawEvents(3, 0, 400, day), rawEvents(4, 0, 400, day)
	for i := range evB {
		evB[i].UUID = "b-" + evB[i].UUID
	}
	if _, err := a.Commit(ctx, store.Batch{Events: evA}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx, store.Batch{Events: evB}); err != nil {
		t.Fatal(err)
	}
	d := dictRows(t, a)
	if len(d) != 2 || len(d[a.org]) != 1 || len(d[b.org]) != 1 {
		t.Fatalf("dictionaries %v, want one per org", d)
	}
	if a.codec().Knows(d[b.org][0]) && d[b.org][0] != d[a.org][0] {
		t.Fatal("org a's codec knows org b's dictionary")
	}
	var frameB []byte
	if err := b.pool.QueryRow(ctx, "SELECT raw FROM events WHERE org = $1 LIMIT 1", b.org).Scan(&frameB); err != nil {
		t.Fatal(err)
	}
	codecs := len(a.raw.old)
	for range 3 {
		if _, err := a.decompress(ctx, frameB); !errors.Is(err, zstd.ErrUnknownDictionary) && d[b.org][0] != d[a.org][0] {
			t.Fatalf("org a decoded org b's frame: %v", err)
		}
	}
	if len(a.raw.old) != codecs {
		t.Fatalf("reloading the same dictionaries replaced the codec (%d codecs kept, %d before)", len(a.raw.old), codecs)
	}
	checkRaw(t, a, evA)
	checkRaw(t, b, evB)
	if got, err := a.QueryEventsByUUID(ctx, []string{evB[0].UUID}); err != nil || len(got) != 0 {
		t.Fatalf("org a reads org b's event: %d rows, %v", len(got), err)
	}
}

// A second handle of the org, opened before the dictionary existed,
// reads frames of the dictionary the first built (it reloads the org's
// dictionaries on an unknown one).
func TestRawDictionaryBuiltByAnotherInstance(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DSN: pgtest.Schema(t), Org: "https://ha.okta.example", MaxConns: 2}
	leader, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Close()
	follower, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	evs := rawEvents(5, 0, 300, time.Now().UTC().Add(-time.Hour))
	if _, err := leader.Commit(ctx, store.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	if follower.codec().DictID() != 0 {
		t.Fatal("the follower has a dictionary before reading")
	}
	checkRaw(t, follower, evs)
	if follower.codec().DictID() == 0 {
		t.Fatal("the follower did not load the org's dictionary")
	}
}
