package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
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
// first are compressed against the ones before as well (docs/performance.md,
// "Raw JSON in blocks"). Rows written before this schema stay in
// events_raw, and readers look there first.
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

// rawBlockEvents is the most events a commit puts in one block. A reader
// of one event decompresses the whole block, so it is kept small for the
// panels that fetch scattered events (a drill-down, failures by type, free
// text: up to 1 000 rows, each in its own block): 8 events (~18 KB) decode
// in ~19 µs against ~5 µs for one and ~41 µs for 16, while compressing at
// ~7 µs and ~286 B per event against ~19 µs and ~445 B one at a time
// (~5.7 µs and ~259 B in blocks of 16; docs/performance.md, "Raw JSON in
// blocks").
const rawBlockEvents = 8

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
		if k <= 0 || l > uint64(len(b)-k) { // #nosec G115 -- Uvarint read k > 0 bytes of b, so len(b)-k >= 0
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
// two cannot take a block away. One statement finds every block (the block
// of an id is the first ending at or after it), each read once.
func rawFromBlocks(ctx context.Context, tx *sql.Tx, read *sql.Stmt, codec *rawCodec, rows []EventRow, ids []int64) error {
	at := map[int64][]int{} // event id -> the rows of it
	var want []int64
	for i := range rows {
		if rows[i].Raw == nil {
			if _, dup := at[ids[i]]; !dup {
				want = append(want, ids[i])
			}
			at[ids[i]] = append(at[ids[i]], i)
		}
	}
	if len(want) == 0 {
		return nil
	}
	js, err := json.Marshal(want)
	if err != nil {
		return err
	}
	rs, err := tx.StmtContext(ctx, read).QueryContext(ctx, string(js))
	if err != nil {
		return fmt.Errorf("store: raw JSON blocks: %w", err)
	}
	defer rs.Close()
	var content []byte // one block at a time; the rows get copies of their events
	for rs.Next() {
		var first, last int64
		var frame sql.RawBytes
		if err := rs.Scan(&first, &last, &frame); err != nil {
			return fmt.Errorf("store: raw JSON blocks: %w", err)
		}
		var raws [][]byte
		if raws, content, err = decodeBlock(codec, content, first, last, frame); err != nil {
			return fmt.Errorf("store: raw JSON blocks: %w", err)
		}
		for k, r := range raws {
			for _, i := range at[first+int64(k)] {
				rows[i].Raw = bytes.Clone(r) // r is never nil: empty JSON stays empty, not absent
			}
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("store: raw JSON blocks: %w", err)
	}
	return nil // a row no block holds keeps its nil Raw
}

// decodeBlock decompresses the frame of the block first..last into buf and
// returns its events' raw JSON (slices of buf) and buf.
func decodeBlock(codec *rawCodec, buf []byte, first, last int64, frame []byte) ([][]byte, []byte, error) {
	buf, err := codec.decompressTo(buf[:0], frame)
	if err != nil {
		return nil, buf, fmt.Errorf("block %d..%d: %w", first, last, err)
	}
	raws, err := splitBlock(buf, int(last-first+1))
	if err != nil {
		return nil, buf, fmt.Errorf("block %d..%d: %w", first, last, err)
	}
	return raws, buf, nil
}

// rawBlocksSQL finds the blocks of a JSON array of event ids (the block of
// an id is the first ending at or after it). Prepared once on the readers
// (Store.blocksRead): parsing it costs more than running it for a few ids.
const rawBlocksSQL = `SELECT first_id, last_id, raw FROM events_raw_blocks WHERE last_id IN
	(SELECT (SELECT MIN(b.last_id) FROM events_raw_blocks b WHERE b.last_id >= w.value) FROM json_each(?) w)`

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
		raws, _, err := decodeBlock(codec, nil, first, last, frame)
		if err != nil {
			return nil, fmt.Errorf("store: raw samples: %w", err)
		}
		for k := len(raws) - 1; k >= 0 && len(out) < limit; k-- {
			if len(raws[k]) > 0 {
				out = append(out, bytes.Clone(raws[k]))
			}
		}
	}
	return out, rows.Err()
}
