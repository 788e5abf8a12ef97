package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// The detector state is kept in an append-only log (state_log, schema 14)
// rather than updated in place: a B-tree updated in place dirties one page
// per subject a commit touches, so the pages a commit wrote grew with the
// number of tracked users (2 040 pages for 7 500 keys at 100 k users)
// although its bytes did not. A commit appends its delta as rows of
// increasing seq (contiguous pages at the right edge of the table), and a
// cleaner copies the still-live rows at the head of the log to its tail and
// deletes the head, a bounded slice per commit: the pages a commit writes
// follow its delta's bytes, not the size of the state.
//
// Rows: kind 0 puts key=value, kind 1 deletes key (a tombstone), kind 2
// deletes every key starting with key (a StateReset prefix). Reading the
// log in seq order, last write wins, gives the state; every row is written
// in the commit's transaction, so the state after a restart or a crash
// between two commits is exactly that of the last commit.
//
// Why the head can be dropped: the cleaner always takes the oldest rows, so
// when it reaches a tombstone or a reset every row it could hide is older
// and already gone (or in the same slice, and dead); a put is live when it
// is its key's newest row and no later delete or reset removed it, and
// then moving it to the tail changes nothing (nothing after it concerns
// its key).
const (
	stateLogPut    = 0
	stateLogDelete = 1
	stateLogReset  = 2
)

// stateLogRowOverhead approximates a row's bytes beyond its key and value
// (seq, kind, record header) for the cleaner's accounting.
const stateLogRowOverhead = 16

// The cleaner runs while the log holds more than stateLogRatio times the
// live bytes plus stateLogSlack (small stores are not cleaned at every
// commit); it then cleans stateLogCleanFactor bytes of the head per byte
// the commit appended (at least stateLogMinClean). With the log at about
// three times the live state, the head it cleans is on average at most a
// third live: per byte appended it re-appends about half a byte (pages per
// commit ~1.5 times the delta's) and frees more than it appends, so the
// log stays near three times the live state. A lower ratio re-appends more
// per commit (twice: about one byte per byte appended), a higher one makes
// the log, and the state's load at start, larger. Tests lower the slack
// and the minimum per store (Store.stateSlack, Store.stateMinClean).
const (
	stateLogRatio       int64 = 3
	stateLogSlack       int64 = 1 << 20
	stateLogCleanFactor int64 = 3
	stateLogMinClean    int64 = 64 << 10
)

// stateIndex is the writer's in-memory map of the log: each live key's
// newest row, and the log's and the live state's bytes. Built from the log
// by the first commit that changes the state (one scan of keys and value
// lengths); a commit works on it and it is installed again only once its
// transaction committed, so a failed commit leaves none (the next one
// rebuilds it). first and last (the lowest and highest seq, 0 when the log
// is empty) tell a stale map: another process committed in between. The
// live keys are a keyIndex (state_keys.go), which holds no pointers for
// the garbage collector to follow.
//
// rows holds every row of the log in seq order (the log's seqs are
// contiguous: a commit appends last+1, last+2, ..., the cleaner deletes
// from first up), its size and, for a key's live row, the key's entry in
// live: the cleaner picks its slice, tells the live rows from the dead
// ones and moves them to the tail from rows alone, without reading a key
// or a value and without a lookup by key.
type stateIndex struct {
	live        *keyIndex // pointer-free: see keyIndex
	rows        []seqRow  // rows[i] is the row of seq first+i
	first, last int64
	logBytes    int64
	liveBytes   int64
}

// seqRow is one row of the log: its size (stateRowSize) and, when it is
// its key's live row, the key's entry in stateIndex.live; -1 for the
// others (a put written again or deleted since, a tombstone, a reset).
type seqRow struct {
	size uint32 // a key and a value are at most 1e9 bytes each (SQLITE_MAX_LENGTH)
	ent  int32
}

// row is the row of seq, which is in the log.
func (x *stateIndex) row(seq int64) *seqRow { return &x.rows[seq-x.first] }

// appendRow records a row appended at seq last+1 (dead until put makes it
// a key's live row).
func (x *stateIndex) appendRow(size int64) {
	x.last++
	if x.first == 0 {
		x.first = x.last
	}
	x.rows = append(x.rows, seqRow{size: uint32(size), ent: -1}) // #nosec G115 -- at most 2e9+16: see seqRow
	x.logBytes += size
}

type stateRow struct {
	seq  int64
	size int64
}

func stateRowSize(key string, valueLen int) int64 {
	return int64(len(key)+valueLen) + stateLogRowOverhead
}

// StateLogStats is what the state log holds (benchmarks and tests).
type StateLogStats struct {
	Rows      int64 // rows in the log, live or not
	LiveKeys  int   // state keys
	LogBytes  int64 // key and value bytes of every row, plus a fixed overhead per row
	LiveBytes int64 // the same for the live rows only
}

// StateLogStats reads the state log's size.
func (s *Store) StateLogStats(ctx context.Context) (StateLogStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st StateLogStats
	idx, err := s.loadStateIndex(ctx, s.w)
	if err != nil {
		return st, err
	}
	if err := s.w.QueryRowContext(ctx, "SELECT COUNT(*) FROM state_log").Scan(&st.Rows); err != nil {
		return st, fmt.Errorf("store: state log: %w", err)
	}
	st.LiveKeys, st.LogBytes, st.LiveBytes = idx.live.len(), idx.logBytes, idx.liveBytes
	return st, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// loadStateIndex returns the writer's index, rebuilt when there is none or
// the log changed under it. The caller holds s.mu. (MIN and MAX in two
// subqueries: each is then one step to an edge of the table; in one
// SELECT they scan it.)
func (s *Store) loadStateIndex(ctx context.Context, q querier) (*stateIndex, error) {
	var first, last sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT (SELECT MIN(seq) FROM state_log), (SELECT MAX(seq) FROM state_log)").Scan(&first, &last); err != nil {
		return nil, fmt.Errorf("store: state log: %w", err)
	}
	if idx := s.stateIdx; idx != nil && idx.first == first.Int64 && idx.last == last.Int64 {
		return idx, nil
	}
	s.stateIdx = nil
	idx := &stateIndex{live: newKeyIndex(), first: first.Int64, last: last.Int64}
	idx.live.hash = s.stateKeyHash
	if first.Valid {
		idx.rows = make([]seqRow, 0, last.Int64-first.Int64+1)
	}
	rows, err := q.QueryContext(ctx, "SELECT seq, kind, key, length(value) FROM state_log ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("store: state log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq, kind int64
		var key string
		var n sql.NullInt64
		if err := rows.Scan(&seq, &kind, &key, &n); err != nil {
			return nil, fmt.Errorf("store: state log: %w", err)
		}
		if seq < idx.first+int64(len(idx.rows)) || seq > idx.last {
			return nil, fmt.Errorf("store: state log: row %d out of order (log %d..%d)", seq, idx.first, idx.last)
		}
		for idx.first+int64(len(idx.rows)) < seq { // a gap (not written by this code): an empty dead row
			idx.rows = append(idx.rows, seqRow{ent: -1})
		}
		size := stateRowSize(key, int(n.Int64))
		idx.rows = append(idx.rows, seqRow{size: uint32(size), ent: -1}) // #nosec G115 -- see seqRow
		idx.logBytes += size
		switch kind {
		case stateLogPut:
			idx.put(key, seq, size)
		case stateLogDelete:
			idx.remove(key)
		case stateLogReset:
			idx.reset(key)
		default:
			return nil, fmt.Errorf("store: state log: row %d has unknown kind %d", seq, kind)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: state log: %w", err)
	}
	s.stateIdx = idx
	return idx, nil
}

// put makes the row of seq (in the log) key's live row.
func (x *stateIndex) put(key string, seq, size int64) {
	e, old, ok := x.live.putEnt(key, stateRow{seq: seq, size: size})
	if ok {
		x.liveBytes -= old.size
		x.row(old.seq).ent = -1
	}
	x.liveBytes += size
	x.row(seq).ent = e
}

func (x *stateIndex) remove(key string) bool {
	old, ok := x.live.remove(key)
	if ok {
		x.liveBytes -= old.size
		x.row(old.seq).ent = -1
	}
	return ok
}

// reset removes the live keys under prefix and says whether there were any.
func (x *stateIndex) reset(prefix string) bool {
	n, size := x.live.removePrefix(prefix, func(r stateRow) { x.row(r.seq).ent = -1 })
	x.liveBytes -= size
	return n > 0
}

// commitState appends the batch's state change to the log inside the
// commit's transaction — the reset prefixes first, then the keys in key
// order (a nil value deletes) — then cleans a slice of the log's head.
// The index it changed is installed by Commit after the transaction
// committed (s.pendingIdx).
func (s *Store) commitState(ctx context.Context, tx *sql.Tx, b Batch) error {
	if err := ValidateStateChange(b); err != nil {
		return err
	}
	if len(b.State) == 0 && len(b.StateReset) == 0 {
		return nil
	}
	idx, err := s.loadStateIndex(ctx, tx)
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	// From here the index is changed ahead of the transaction: it is
	// installed again only if the commit succeeds.
	s.stateIdx = nil
	var pending []any // rows not inserted yet: maxRows at a time
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := s.insertStateRows(ctx, tx, pending)
		pending = pending[:0]
		return err
	}
	appendRow := func(kind int, key string, value []byte) (int64, error) {
		size := stateRowSize(key, len(value))
		idx.appendRow(size)
		pending = append(pending, idx.last, kind, key, value)
		if len(pending) == 4*maxRows {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		return size, nil
	}
	startSeq := idx.last + 1
	var appended int64
	for _, p := range b.StateReset {
		if !idx.reset(p) {
			continue // no live key under it: nothing to hide
		}
		n, err := appendRow(stateLogReset, p, nil)
		if err != nil {
			return fmt.Errorf("store: commit: state reset %q: %w", p, err)
		}
		appended += n
	}
	for _, k := range SortedStateKeys(b.State) {
		v := b.State[k]
		if v == nil {
			if !idx.remove(k) {
				continue // not stored: no tombstone needed
			}
			n, err := appendRow(stateLogDelete, k, nil)
			if err != nil {
				return fmt.Errorf("store: commit: state %q: %w", k, err)
			}
			appended += n
			continue
		}
		n, err := appendRow(stateLogPut, k, v)
		if err != nil {
			return fmt.Errorf("store: commit: state %q: %w", k, err)
		}
		idx.put(k, idx.last, n)
		appended += n
	}
	if err := flush(); err != nil {
		return fmt.Errorf("store: commit: state: %w", err)
	}
	if err := s.cleanStateLog(ctx, tx, idx, startSeq, appended); err != nil {
		return err
	}
	s.pendingIdx = idx
	return nil
}

// stateLogCleanSlice is the most rows the cleaner moves and deletes in one
// pair of statements.
const stateLogCleanSlice = 1000

// cleanStateLog moves the live rows of a slice of the log's head (rows
// older than this commit's, about stateLogCleanFactor times the bytes it
// appended) to the tail and deletes the slice, when the log holds more
// than stateLogRatio times the live state. The commit's own rows are in
// the log already (the moved rows take the seqs after them). The index
// says which rows of the slice are live and where their keys are: the
// rows are copied by one INSERT ... SELECT a slice, given a byte per row
// of the slice (1: live), so no key or value of the head comes into Go
// and no key is looked up.
func (s *Store) cleanStateLog(ctx context.Context, tx *sql.Tx, idx *stateIndex, before, appended int64) error {
	if idx.logBytes <= stateLogRatio*idx.liveBytes+s.stateSlack {
		return nil
	}
	budget := max(stateLogCleanFactor*appended, s.stateMinClean)
	type movedRow struct {
		ent  int32
		size uint32
	}
	var cleaned int64
	live := make([]byte, 0, stateLogCleanSlice)
	var moved []movedRow
	for cleaned < budget && idx.first != 0 && idx.first < before && len(idx.rows) > 0 {
		live, moved = live[:0], moved[:0]
		n := int(min(before-idx.first, stateLogCleanSlice, int64(len(idx.rows))))
		k, sliceBytes := 0, int64(0)
		for ; k < n && cleaned+sliceBytes < budget; k++ {
			r := idx.rows[k]
			sliceBytes += int64(r.size)
			if r.ent < 0 {
				live = append(live, 0)
				continue
			}
			live = append(live, 1)
			moved = append(moved, movedRow{ent: r.ent, size: r.size})
		}
		end := idx.first + int64(k) - 1
		if len(moved) > 0 {
			// seq NULL: SQLite gives each row the largest seq plus one,
			// in the SELECT's order; checked against the index below.
			res, err := tx.ExecContext(ctx, `INSERT INTO state_log (kind, key, value)
				SELECT 0, key, value FROM state_log
				WHERE seq >= ?1 AND seq <= ?2 AND substr(?3, seq - ?1 + 1, 1) = x'01' ORDER BY seq`,
				idx.first, end, live)
			if err != nil {
				return fmt.Errorf("store: commit: state log clean: %w", err)
			}
			got, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("store: commit: state log clean: %w", err)
			}
			lastSeq, err := res.LastInsertId()
			if err != nil {
				return fmt.Errorf("store: commit: state log clean: %w", err)
			}
			if want := idx.last + int64(len(moved)); got != int64(len(moved)) || lastSeq != want {
				return fmt.Errorf("store: commit: state log clean: moved %d rows to seq %d, the index has %d live rows to %d "+
					"(the log changed under the index)", got, lastSeq, len(moved), want)
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM state_log WHERE seq >= ? AND seq <= ?", idx.first, end); err != nil {
			return fmt.Errorf("store: commit: state log clean: %w", err)
		}
		cleaned += sliceBytes
		idx.logBytes -= sliceBytes
		idx.rows = idx.rows[k:]
		idx.first = end + 1
		for _, m := range moved {
			idx.appendRow(int64(m.size))
			idx.rows[len(idx.rows)-1].ent = m.ent
			idx.live.setSeq(m.ent, idx.last)
		}
		if s.stateCleanHook != nil {
			if err := s.stateCleanHook(); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertStateRows appends rows (seq, kind, key, value: 4 values a row) to
// the log, up to maxRows a statement (prepared by prepareStateRows).
func (s *Store) insertStateRows(ctx context.Context, tx *sql.Tx, args []any) error {
	at := 0
	for _, size := range pieces(len(args) / 4) {
		st := s.stateIns[size]
		if st == nil {
			return fmt.Errorf("store: no prepared state_log insert of %d rows", size)
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args[at*4:(at+size)*4]...); err != nil {
			return err
		}
		at += size
	}
	return nil
}

// prepareStateRows prepares the state log's inserts on the writer (with
// s.mu held and no transaction open, like prepare; not with the other
// statements: a store opened with Options.StateInPlace below schema 14
// has no state_log).
func (s *Store) prepareStateRows(ctx context.Context) error {
	if s.stateIns != nil || s.opts.StateInPlace {
		return nil
	}
	m := map[int]*sql.Stmt{}
	for _, n := range sizes() {
		st, err := s.w.PrepareContext(ctx, "INSERT INTO state_log (seq, kind, key, value) VALUES (?,?,?,?)"+ // #nosec G202 -- a constant statement repeated with placeholders only; every value is bound
			strings.Repeat(",(?,?,?,?)", n-1))
		if err != nil {
			closeStmts(map[string]map[int]*sql.Stmt{"state_log": m})
			return fmt.Errorf("store: prepare state_log: %w", err)
		}
		m[n] = st
	}
	s.stateIns = m
	return nil
}

// GetState returns the value of a state key (detector baselines, pipeline
// bookkeeping); ok is false when the key is absent. It reads the key's
// newest row and any later reset (a scan of the log's keys: the log has no
// key index, which would cost a page per subject on every commit; the
// pipeline loads the state with AllState).
func (s *Store) GetState(ctx context.Context, key string) ([]byte, bool, error) {
	if s.opts.StateInPlace {
		return s.getStateInPlace(ctx, key)
	}
	var kind int
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT kind, value FROM state_log
		WHERE key = ? OR (kind = 2 AND substr(?, 1, length(key)) = key) ORDER BY seq DESC LIMIT 1`, key, key).Scan(&kind, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get state %q: %w", key, err)
	}
	if kind != stateLogPut {
		return nil, false, nil
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// AllState returns every state key with the given prefix ("" for all):
// the log replayed in seq order (one sequential scan).
func (s *Store) AllState(ctx context.Context, prefix string) (map[string][]byte, error) {
	if s.opts.StateInPlace {
		return s.allStateInPlace(ctx, prefix)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT kind, key, value FROM state_log
		WHERE kind = 2 OR (key >= ? AND key < ?) ORDER BY seq`, prefix, StatePrefixEnd(prefix))
	if err != nil {
		return nil, fmt.Errorf("store: state: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var kind int
		var k string
		var v []byte
		if err := rows.Scan(&kind, &k, &v); err != nil {
			return nil, fmt.Errorf("store: state: %w", err)
		}
		switch kind {
		case stateLogPut:
			if v == nil {
				v = []byte{}
			}
			out[k] = v
		case stateLogDelete:
			delete(out, k)
		case stateLogReset:
			if !strings.HasPrefix(k, prefix) && !strings.HasPrefix(prefix, k) {
				continue
			}
			for ok := range out {
				if strings.HasPrefix(ok, k) {
					delete(out, ok)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: state: %w", err)
	}
	return out, nil
}
