package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"
)

// Raw JSON in blocks (schema 22). A commit writes its events' raw JSON as
// zstd frames of up to rawBlockEvents events with consecutive ids, one row
// of events_raw_blocks each, instead of one frame per event in events_raw.
// A frame per ~2.2 KB event spends most of its time setting the encoder up
// (the dictionary's tables are restored for every frame), and each event is
// compressed against the dictionary alone; in a block the events after the
// first are compressed against the ones before as well. On the traffic
// generator's events: ~21 µs and ~445 B per event one frame each, ~5.6 µs
// and ~260 B per event in blocks of 16 (docs/performance.md, "Raw JSON in
// blocks"). Rows written before this schema stay in events_raw, and readers
// look there first.
//
// A block's content, before compression, is for each event in id order its
// raw JSON's length (uvarint) followed by the JSON: last_id-first_id+1
// entries, nothing after them.
const rawBlocksMigration = `
CREATE TABLE events_raw_blocks (
	last_id  INTEGER PRIMARY KEY,   -- the id of the block's last event
	first_id INTEGER NOT NULL,      -- the block holds the events first_id..last_id, every id one event
	raw      BLOB    NOT NULL       -- one zstd frame of the block's content (see raw_blocks.go)
);
`

// rawBlocksVersion is the schema version that has events_raw_blocks.
const rawBlocksVersion = 22

// rawBlockEvents is the most events a commit puts in one block: a reader of
// one event decompresses up to this many (~35 KB), so it is kept small
// enough for the drill-downs that fetch scattered events.
const rawBlockEvents = 16

// rawBlockReach is how far past the last id of a run of wanted ids the
// readers' range query looks for the block holding it: every block holds
// at most rawBlockEvents ids. A block that would not be found this way (a
// future, larger block size) is still found by its own query.
const rawBlockReach = rawBlockEvents - 1

// appendBlockContent appends a block's content for raws to dst.
func appendBlockContent(dst []byte, raws [][]byte) []byte {
	for _, r := range raws {
		dst = binary.AppendUvarint(dst, uint64(len(r)))
		dst = append(dst, r...)
	}
	return dst
}

// errBadBlock is a block whose content does not hold its events.
var errBadBlock = errors.New("store: raw JSON block is damaged")

// splitBlock returns the n raw JSONs of a block's content, slices of b.
func splitBlock(b []byte, n int) ([][]byte, error) {
	if n <= 0 {
		return nil, fmt.Errorf("%w: %d events", errBadBlock, n)
	}
	out := make([][]byte, n)
	for i := range out {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: event %d of %d has no length or is cut short", errBadBlock, i+1, n)
		}
		if k != max(1, (bits.Len64(l)+6)/7) {
			// appendBlockContent writes the shortest form: another is damage
			return nil, fmt.Errorf("%w: event %d of %d has a length of %d bytes for %d", errBadBlock, i+1, n, k, l)
		}
		end := k + int(l) // #nosec G115 -- l <= len(b)-k, checked above
		out[i] = b[k:end:end]
		b = b[end:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after its %d events", errBadBlock, len(b), n)
	}
	return out, nil
}

// blockJob is one block a commit compresses: the raw JSON of the events
// first..last, then its frame.
type blockJob struct {
	first, last int64
	raws        [][]byte
	frame       []byte
}

// rawBlockWriter compresses a commit's blocks on rawEncoders goroutines
// while the commit's goroutine goes on writing rows; args then returns the
// rows of events_raw_blocks. close must be called in every case.
type rawBlockWriter struct {
	codec  *rawCodec
	jobs   []*blockJob
	ch     chan *blockJob
	wg     sync.WaitGroup
	closed bool
}

func newRawBlockWriter(c *rawCodec) *rawBlockWriter {
	w := &rawBlockWriter{codec: c, ch: make(chan *blockJob, 64)}
	w.wg.Add(rawEncoders)
	for range rawEncoders {
		go func() {
			defer w.wg.Done()
			var buf []byte
			for j := range w.ch {
				buf = appendBlockContent(buf[:0], j.raws)
				j.frame = w.codec.compress(nil, buf)
			}
		}()
	}
	return w
}

// add queues the events of one chunk of a commit: ids[k] is the id the
// event with raw JSON raws[k] was inserted with. Runs of consecutive ids
// become blocks of at most rawBlockEvents events.
func (w *rawBlockWriter) add(ids []int64, raws [][]byte) {
	for start := 0; start < len(ids); {
		end := start + 1
		for end < len(ids) && end-start < rawBlockEvents && ids[end] == ids[end-1]+1 {
			end++
		}
		j := &blockJob{first: ids[start], last: ids[end-1], raws: raws[start:end:end]}
		w.jobs = append(w.jobs, j)
		w.ch <- j
		start = end
	}
}

// args waits for every block and returns the rows (last_id, first_id, raw).
func (w *rawBlockWriter) args() []any {
	w.close()
	out := make([]any, 0, 3*len(w.jobs))
	for _, j := range w.jobs {
		out = append(out, j.last, j.first, j.frame)
	}
	return out
}

// close stops the workers and waits for them.
func (w *rawBlockWriter) close() {
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.wg.Wait()
}

// rawFromBlocks sets the raw JSON of the rows still without one (Raw nil)
// from events_raw_blocks: rows[i] is the event with id ids[i]. A row no
// block holds keeps a nil Raw, as a row without raw JSON always has. Read
// inside the transaction that read the rows, so that a prune between the
// two cannot take a block away.
func rawFromBlocks(ctx context.Context, tx *sql.Tx, codec *rawCodec, rows []EventRow, ids []int64) error {
	var want []int
	for i := range rows {
		if rows[i].Raw == nil {
			want = append(want, i)
		}
	}
	if len(want) == 0 {
		return nil
	}
	slices.SortFunc(want, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	got := map[int64][]byte{} // event id -> raw JSON, of the blocks read
	read := func(q string, args ...any) error {
		rs, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var first, last int64
			var frame []byte
			if err := rs.Scan(&first, &last, &frame); err != nil {
				return err
			}
			content, err := codec.decompress(frame)
			if err != nil {
				return fmt.Errorf("block %d..%d: %w", first, last, err)
			}
			raws, err := splitBlock(content, int(last-first+1))
			if err != nil {
				return fmt.Errorf("block %d..%d: %w", first, last, err)
			}
			for k, r := range raws {
				got[first+int64(k)] = r
			}
		}
		return rs.Err()
	}
	// one range query per run of nearby ids (a page of events newest first
	// is one run); the blocks of the run end within rawBlockReach of it
	for s := 0; s < len(want); {
		e := s + 1
		for e < len(want) && ids[want[e]]-ids[want[e-1]] <= 4*rawBlockEvents {
			e++
		}
		lo, hi := ids[want[s]], ids[want[e-1]]
		if err := read("SELECT first_id, last_id, raw FROM events_raw_blocks WHERE last_id >= ? AND last_id <= ? AND first_id <= ?",
			lo, hi+rawBlockReach, hi); err != nil {
			return fmt.Errorf("store: raw JSON blocks: %w", err)
		}
		s = e
	}
	for _, i := range want {
		r, ok := got[ids[i]]
		if !ok {
			// a block of more than rawBlockEvents ids: its own query
			if err := read("SELECT first_id, last_id, raw FROM events_raw_blocks WHERE last_id >= ? ORDER BY last_id LIMIT 1",
				ids[i]); err != nil {
				return fmt.Errorf("store: raw JSON blocks: %w", err)
			}
			if r, ok = got[ids[i]]; !ok {
				continue // no raw JSON stored for it
			}
		}
		rows[i].Raw = r
	}
	return nil
}

// sortByID sorts ids ascending and raws with them (a chunk's RETURNING
// rows are normally already in order).
func sortByID(ids []int64, raws [][]byte) {
	if slices.IsSorted(ids) {
		return
	}
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	is, rs := slices.Clone(ids), slices.Clone(raws)
	for k, i := range idx {
		ids[k], raws[k] = is[i], rs[i]
	}
}

// hasRawBlocks reports whether the file has events_raw_blocks (schema 22):
// the codec is loaded before the schema's features are set.
func (s *Store) hasRawBlocks(ctx context.Context) bool {
	var n int
	err := s.w.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'events_raw_blocks'").Scan(&n)
	return err == nil && n == 1
}

// newestBlockRaws returns the raw JSON of up to limit of the newest events
// stored in blocks, newest first, empty ones left out (copies).
func newestBlockRaws(ctx context.Context, db *sql.DB, codec *rawCodec, limit int) ([][]byte, error) {
	rows, err := db.QueryContext(ctx, "SELECT first_id, last_id, raw FROM events_raw_blocks ORDER BY last_id DESC LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("store: raw samples: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() && len(out) < limit {
		var first, last int64
		var frame []byte
		if err := rows.Scan(&first, &last, &frame); err != nil {
			return nil, fmt.Errorf("store: raw samples: %w", err)
		}
		content, err := codec.decompress(frame)
		if err != nil {
			return nil, fmt.Errorf("store: raw samples: block %d..%d: %w", first, last, err)
		}
		raws, err := splitBlock(content, int(last-first+1))
		if err != nil {
			return nil, fmt.Errorf("store: raw samples: block %d..%d: %w", first, last, err)
		}
		for k := len(raws) - 1; k >= 0 && len(out) < limit; k-- {
			if len(raws[k]) > 0 {
				out = append(out, bytes.Clone(raws[k]))
			}
		}
	}
	return out, rows.Err()
}
