package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// One-pass merges of sorted segments. Every segment is sorted by actor and
// country (EncodeUserSeg), so the merge of k segments (a day from its 24
// hours, a 2- or 4-day segment from its days, rows into a segment) is a
// k-way merge of sorted streams: the output comes out sorted, an entry's
// strings are never copied (they alias the decoded buffers until encoded)
// and no index of the keys is built. segMerger's map and EncodeUserSeg's
// sort cost ~3 µs an entry at 100 000 users (the day's seal, ~0.7 s for a
// 4-day segment of ~230 000 entries read: docs/performance.md).
//
// The fold is segMerger's: for one key, the inputs' entries are folded in
// input order (oldest bucket first, rows last), counts add up and a
// newer-or-equal last-seen brings its IP and actor id; entries left
// without events are dropped. An input found out of order (never written
// by EncodeUserSeg) makes the merge fall back to segMerger, so the answer
// is the same either way.

// segInput is one input of mergeSegInputs: an encoded segment of bucket,
// or rows (any order: they are sorted here, stably, so rows of one key
// keep their order).
type segInput struct {
	seg    bool // data is an encoded segment; otherwise rows
	bucket int64
	data   []byte
	rows   []UserSegEntry
}

// segStream walks one input in key order.
type segStream struct {
	r    *userSegReader
	rows []rawEntry
	cur  rawEntry
	ok   bool
}

func (s *segStream) advance() error {
	if s.r != nil {
		ok, err := s.r.next(&s.cur)
		s.ok = ok
		return err
	}
	if len(s.rows) == 0 {
		s.ok = false
		return nil
	}
	s.cur, s.rows, s.ok = s.rows[0], s.rows[1:], true
	return nil
}

func rawKeyCmp(a, b *rawEntry) int {
	if c := bytes.Compare(a.actor, b.actor); c != 0 {
		return c
	}
	return bytes.Compare(a.country, b.country)
}

// errSegOrder reports an input out of key order (mergeSegInputs falls back).
var errSegOrder = fmt.Errorf("%w: entries out of order", errUserSeg)

// mergeSegInputs merges the inputs into the encoded segment of bucket
// (nil when no entry has events left). It returns the entries written and
// the entries read.
func mergeSegInputs(bucket int64, ins []segInput) (data []byte, n, read int, err error) {
	data, n, read, err = kmergeSegInputs(bucket, ins)
	if err == errSegOrder {
		return mergeSegInputsByIndex(bucket, ins)
	}
	return data, n, read, err
}

// mergeSegInputsByIndex is mergeSegInputs through segMerger (any order).
func mergeSegInputsByIndex(bucket int64, ins []segInput) ([]byte, int, int, error) {
	m := newSegMerger()
	read := 0
	var scratch []byte
	for _, in := range ins {
		if !in.seg {
			m.add(in.rows)
			read += len(in.rows)
			continue
		}
		var k int
		var err error
		if scratch, k, err = m.addSeg(in.bucket, in.data, scratch); err != nil {
			return nil, 0, 0, err
		}
		read += k
	}
	es := m.entries()
	if len(es) == 0 {
		return nil, 0, read, nil
	}
	data, err := EncodeUserSeg(bucket, es)
	return data, len(es), read, err
}

func kmergeSegInputs(bucket int64, ins []segInput) ([]byte, int, int, error) {
	streams := make([]segStream, len(ins))
	for i, in := range ins {
		st := &streams[i]
		if in.seg {
			r, _, err := openUserSeg(in.bucket, in.data, nil)
			if err != nil {
				return nil, 0, 0, err
			}
			st.r = r
		} else {
			rows := slices.Clone(in.rows)
			slices.SortStableFunc(rows, func(a, b UserSegEntry) int {
				if c := strings.Compare(a.Actor, b.Actor); c != 0 {
					return c
				}
				return strings.Compare(a.Country, b.Country)
			})
			st.rows = make([]rawEntry, len(rows))
			for j, e := range rows {
				st.rows[j] = rawEntry{actor: []byte(e.Actor), country: []byte(e.Country), actorID: []byte(e.ActorID),
					lastIP: []byte(e.LastIP), events: e.Events, failures: e.Failures, lastSeen: e.LastSeen}
			}
		}
		if err := st.advance(); err != nil {
			return nil, 0, 0, err
		}
	}
	// a binary heap of the streams with an entry, by (key, input order)
	less := func(i, j int) bool {
		if c := rawKeyCmp(&streams[i].cur, &streams[j].cur); c != 0 {
			return c < 0
		}
		return i < j
	}
	h := make([]int, 0, len(streams))
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && less(h[r], h[l]) {
				m = r
			}
			if !less(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := range streams {
		if streams[i].ok {
			h = append(h, i)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	// pop the smallest stream's entry and advance it; a segment whose next
	// key is not greater than its last is out of order
	pop := func(e *rawEntry) error {
		i := h[0]
		st := &streams[i]
		*e = st.cur
		if err := st.advance(); err != nil {
			return err
		}
		if st.ok {
			if st.r != nil && rawKeyCmp(&st.cur, e) <= 0 { // rows repeat keys
				return errSegOrder
			}
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		if len(h) > 0 {
			down(0)
		}
		return nil
	}
	body := make([]byte, 0, 64*1024)
	n, read := 0, 0
	var acc, e rawEntry
	for len(h) > 0 {
		if err := pop(&acc); err != nil {
			return nil, 0, 0, err
		}
		read++
		for len(h) > 0 && rawKeyCmp(&streams[h[0]].cur, &acc) == 0 {
			if err := pop(&e); err != nil {
				return nil, 0, 0, err
			}
			read++
			acc.events += e.events
			acc.failures += e.failures
			if e.lastSeen >= acc.lastSeen {
				acc.lastSeen, acc.lastIP, acc.actorID = e.lastSeen, e.lastIP, e.actorID
			}
		}
		if acc.events <= 0 {
			continue
		}
		n++
		for _, s := range [4][]byte{acc.actor, acc.country, acc.actorID, acc.lastIP} {
			body = binary.AppendUvarint(body, uint64(len(s)))
			body = append(body, s...)
		}
		body = binary.AppendVarint(body, acc.events)
		body = binary.AppendVarint(body, acc.failures)
		body = binary.AppendVarint(body, acc.lastSeen-bucket)
	}
	if n == 0 {
		return nil, 0, read, nil
	}
	enc, _, err := userSegCodec()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("user segment codec: %w", err)
	}
	plain := make([]byte, 0, len(body)+1+binary.MaxVarintLen64)
	plain = append(plain, userSegVersion)
	plain = binary.AppendUvarint(plain, uint64(n))
	plain = append(plain, body...)
	return enc.EncodeAll(plain, make([]byte, 0, len(plain)/3)), n, read, nil
}

// segsIn are the segments of span with buckets in [from, to), oldest
// first, as inputs of mergeSegInputs.
func segsIn(ctx context.Context, tx *sql.Tx, span, from, to int64) ([]segInput, error) {
	rows, err := tx.QueryContext(ctx, "SELECT bucket, data FROM user_segs WHERE span = ? AND bucket >= ? AND bucket < ? ORDER BY bucket",
		span, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []segInput
	for rows.Next() {
		in := segInput{seg: true}
		if err := rows.Scan(&in.bucket, &in.data); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// mergeIntoSeg merges the inputs into the segment (span, bucket), after
// its entries, and writes it (deletes it when no entry has events left).
// Without create, a missing segment stays missing and read is -1. It
// returns the segment written (nil: none) and the entries read.
func mergeIntoSeg(ctx context.Context, tx *sql.Tx, span, bucket int64, ins []segInput, create bool) (data []byte, read int, err error) {
	var base []byte
	err = tx.QueryRowContext(ctx, "SELECT data FROM user_segs WHERE span = ? AND bucket = ?", span, bucket).Scan(&base)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if !create {
			return nil, -1, nil
		}
	case err != nil:
		return nil, 0, fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	default:
		ins = append([]segInput{{seg: true, bucket: bucket, data: base}}, ins...)
	}
	data, _, read, err = mergeSegInputs(bucket, ins)
	if err != nil {
		return nil, 0, fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	}
	return data, read, putUserSegData(ctx, tx, span, bucket, data)
}

// putUserSegData writes (or, when data is nil, deletes) an encoded segment.
func putUserSegData(ctx context.Context, tx *sql.Tx, span, bucket int64, data []byte) error {
	if data == nil {
		if _, err := tx.ExecContext(ctx, "DELETE FROM user_segs WHERE span = ? AND bucket = ?", span, bucket); err != nil {
			return fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_segs (span, bucket, data) VALUES (?, ?, ?)
		ON CONFLICT(span, bucket) DO UPDATE SET data = excluded.data`, span, bucket, data); err != nil {
		return fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	}
	return nil
}

// MergeUserSegRows merges rows into the encoded segment base of bucket
// (nil: none) the way MergeUserSegEntries does, in one pass (for a backend
// that stores segments as bytes). It returns the segment (nil when no
// entry has events left) and the entries read.
func MergeUserSegRows(bucket int64, base []byte, rows []UserSegEntry) ([]byte, int, error) {
	ins := []segInput{{rows: rows}}
	if base != nil {
		ins = append([]segInput{{seg: true, bucket: bucket, data: base}}, ins...)
	}
	data, _, read, err := mergeSegInputs(bucket, ins)
	return data, read, err
}
