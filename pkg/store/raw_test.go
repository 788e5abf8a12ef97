package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// A store written before schema 6 holds plain raw JSON. Opening it with
// this version compresses those rows in batches that survive a restart
// (the progress is committed with each batch), trains a dictionary on
// them, and every event reads back byte for byte at every step.
func TestRawRecompressResumes(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "old.db", 5)
	n := rawRecompressBatch*2 + 300
	evs := mkEvents(0, n, t0, time.Second)
	// what a version before 6 wrote: plain JSON
	for i := range evs {
		ev := &evs[i]
		c := columnsOf(ev)
		r, err := old.w.Exec(insertEventSQL, ev.UUID, c.published, ev.EventType, ev.Actor.AlternateID, ev.Actor.ID,
			ev.Actor.Type, ev.Actor.DisplayName, ev.Outcome.Result, ev.Outcome.Reason, c.ip, c.country, c.city,
			c.lat, c.lon, c.session, ev.Severity, ev.DisplayMessage, c.target, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := r.LastInsertId()
		if _, err := old.w.Exec("INSERT INTO events_raw (id, raw) VALUES (?, ?)", id, []byte(ev.Raw)); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	check := func(s *Store, wantPlain int) {
		t.Helper()
		var plain int
		if err := s.r.QueryRow("SELECT COUNT(*) FROM events_raw WHERE hex(substr(raw, 1, 1)) = '7B'").Scan(&plain); err != nil {
			t.Fatal(err)
		}
		if plain != wantPlain {
			t.Fatalf("%d rows of plain JSON, want %d", plain, wantPlain)
		}
		for _, i := range []int{0, rawRecompressBatch - 1, rawRecompressBatch, n - 1} {
			got, ok, err := s.GetEvent(ctx, evs[i].UUID)
			if err != nil || !ok || !bytes.Equal(got.Raw, evs[i].Raw) {
				t.Fatalf("event %d: raw JSON differs (ok=%v err=%v)", i, ok, err)
			}
		}
	}
	s, err := OpenWithOptions(ctx, path, Options{noBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	check(s, n)
	if more, err := s.recompressBatch(ctx); err != nil || !more {
		t.Fatalf("first batch: more=%v err=%v", more, err)
	}
	if s.codec().dictID == 0 {
		t.Fatal("no dictionary trained from the first batch of legacy rows")
	}
	check(s, n-rawRecompressBatch)
	s.Close()

	// the restart resumes after the first batch; the background pass
	// finishes the rest
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	left := int64(-1)
	var statusErr error
	if !testwait.For(30*time.Second, func() bool {
		left, statusErr = s.RecompressStatus(ctx)
		return statusErr != nil || left == 0
	}) {
		t.Fatalf("%d rows still plain after 30 s", left)
	}
	if statusErr != nil {
		t.Fatal(statusErr)
	}
	s.stopRecompress() // the pass has ended: its goroutine returns
	check(s, 0)
	var stored int64
	if err := s.r.QueryRow("SELECT SUM(length(raw)) FROM events_raw").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	var plain int64
	for i := range evs {
		plain += int64(len(evs[i].Raw))
	}
	if stored*2 > plain {
		t.Fatalf("raw JSON takes %d bytes compressed, %d plain: want at most half", stored, plain)
	}
	t.Logf("raw JSON: %d B/event plain, %d B/event stored", plain/int64(n), stored/int64(n))
}

// New events are written compressed; the first rawDictSamples of them train
// the dictionary, which later events use, and both read back.
func TestRawDictionaryTrainedOnFirstEvents(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	first := mkEvents(0, rawDictSamples, t0, time.Second)
	mustCommit(t, s, Batch{Events: first})
	if s.codec().dictID == 0 {
		t.Fatal("no dictionary after the first events")
	}
	later := mkEvents(rawDictSamples, 500, t0.Add(time.Hour), time.Second)
	mustCommit(t, s, Batch{Events: later})
	sizeOf := func(uuid string) int { // bytes per event of its block
		frame, n := blockOf(t, s, uuid)
		return len(frame) / n
	}
	if a, b := sizeOf(first[10].UUID), sizeOf(later[10].UUID); b >= a {
		t.Fatalf("with the dictionary an event takes %d bytes, without %d: want smaller", b, a)
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, ev := range []eventT{first[10], later[10]} {
		got, ok, err := s2.GetEvent(ctx, ev.UUID)
		if err != nil || !ok || !bytes.Equal(got.Raw, ev.Raw) {
			t.Fatalf("%s: raw JSON differs after reopen (ok=%v err=%v)", ev.UUID, ok, err)
		}
	}
}

// A store whose dictionary was trained by an earlier version (a formatted
// zstd dictionary) keeps reading the rows written with it, samples its next
// events and switches to a raw-content dictionary, which takes markedly
// less space per event.
func TestRawTrainedDictionaryUpgradedToRawContent(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	var samples [][]byte
	for _, ev := range mkEvents(0, rawDictSamples, t0.Add(-time.Hour), time.Second) {
		samples = append(samples, ev.Raw)
	}
	trained, err := dict.BuildZstdDict(samples, dict.Options{MaxDictSize: 32 << 10, HashBytes: 6, ZstdLevel: zstd.SpeedFastest})
	if err != nil {
		t.Fatal(err)
	}
	oldID := int64(trainedID(t, trained))
	if _, err := s.w.Exec("INSERT INTO raw_dicts (id, dict, created_at) VALUES (?, ?, ?)", oldID, trained, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.codec(); !c.trained || uint32(oldID) != c.dictID {
		t.Fatalf("codec uses dictionary %d (trained %v), want the stored trained one %d", c.dictID, c.trained, oldID)
	}
	// all but one of the samples are committed before a restart: the
	// reopened store samples them back from the table (decompressed with
	// the trained dictionary), and the next commit completes the set
	first := mkEvents(0, rawDictSamples, t0, time.Second)
	mustCommit(t, s, Batch{Events: first[:rawDictSamples-1]})
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.codec(); !c.trained || len(s.raw.samples) != rawDictSamples-1 {
		t.Fatalf("reopened: trained=%v with %d samples, want the trained dictionary and %d samples", c.trained, len(s.raw.samples), rawDictSamples-1)
	}
	mustCommit(t, s, Batch{Events: first[rawDictSamples-1:]})
	c := s.codec()
	if c.trained || c.dictID < rawDictIDMin || c.dictID > rawDictIDMax {
		t.Fatalf("after %d events the codec uses dictionary %d (trained %v), want a raw-content one", rawDictSamples, c.dictID, c.trained)
	}
	later := mkEvents(rawDictSamples, 500, t0.Add(time.Hour), time.Second)
	mustCommit(t, s, Batch{Events: later})
	stored := func(evs []eventT) (bytesPerEvent int, dictID uint32) {
		var sum int
		seen := map[string]bool{} // the blocks counted
		for i, ev := range evs {
			b, _ := blockOf(t, s, ev.UUID)
			if seen[string(b)] {
				continue
			}
			seen[string(b)] = true
			var h zstd.Header
			if err := h.Decode(b); err != nil {
				t.Fatal(err)
			}
			if i > 0 && h.DictionaryID != dictID {
				t.Fatalf("%s: dictionary %d, the batch's first event %d", ev.UUID, h.DictionaryID, dictID)
			}
			dictID = h.DictionaryID
			sum += len(b)
		}
		return sum / len(evs), dictID
	}
	oldSize, oldDict := stored(first)
	newSize, newDict := stored(later)
	if oldDict != uint32(oldID) || newDict != c.dictID {
		t.Fatalf("frames name dictionaries %d and %d, want %d then %d", oldDict, newDict, oldID, c.dictID)
	}
	// in blocks the events after a block's first are compressed against
	// the ones before as well, so the dictionary matters less than it did
	// for a frame per event (at most 70 % then): still smaller
	if newSize >= oldSize {
		t.Fatalf("raw-content dictionary: %d B/event, trained one %d: want smaller", newSize, oldSize)
	}
	t.Logf("raw JSON of %d B/event: %d B/event with the trained dictionary, %d with raw content", len(later[0].Raw), oldSize, newSize)
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c := s.codec(); c.dictID != newDict {
		t.Fatalf("reopened store uses dictionary %d, want %d", c.dictID, newDict)
	}
	for _, ev := range append(first[:10:10], later...) {
		got, ok, err := s.GetEvent(ctx, ev.UUID)
		if err != nil || !ok || !bytes.Equal(got.Raw, ev.Raw) {
			t.Fatalf("%s: raw JSON differs after reopen (ok=%v err=%v)", ev.UUID, ok, err)
		}
	}
}
