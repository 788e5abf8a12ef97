package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Segments in parts (schema 20). A segment of more than segPartEntries
// entries is stored as parts: rows of user_seg_parts, each a segment
// encoding (user_segs.go) of a range of its keys, numbered in key order,
// with the key of its last entry (hi, hic). Its user_segs row is then the
// marker segPartsMarker. A segment of at most segPartEntries entries is
// one blob in user_segs as before, and so is every segment written before
// schema 20: no migration beyond the new table.
//
// A segment that merges other segments (a day from its hours, a 2- or
// 4-day segment from its days, 6 hours from their hours) is built by
// buildSegStep, a bounded step at a time: a step merges the inputs from
// the key after its last part's (the cursor), reading the inputs' parts
// that can hold a later key and the blobs (at most segPartEntries entries
// each), until it has read its budget of entries, and appends what it
// wrote as parts. The segment is sealed (its user_segs row written) only
// by the step that reaches the end of every input; until then it has no
// user_segs row, so every query reads its bucket from the finer buckets
// as before (the parts are not read), and the answer is exact at any
// moment. A step needs nothing but the parts written, so a build stopped
// by a restart continues at the next commit or open.
//
// A build's inputs may change before it ends: a late event sealed into an
// hour of a day being built, Prune unsealing a bucket. Every write or
// delete of a segment drops the parts of the builds over it (the day of
// an hour, the coarse buckets holding it) that have no user_segs row yet
// (dropBuildsOver): they start again from their first key.
//
// Late rows merged into a segment in parts rewrite only the parts their
// keys fall in (mergeIntoParts).

// segPartsVersion is the schema version that has user_seg_parts.
const segPartsVersion = 20

const segPartsMigration = `
CREATE TABLE user_seg_parts (
	span   INTEGER NOT NULL, -- as user_segs
	bucket INTEGER NOT NULL,
	part   INTEGER NOT NULL, -- key order: a part's keys sort after every key of a lower part
	hi     TEXT    NOT NULL, -- the actor of the part's last entry
	hic    TEXT    NOT NULL, -- and its country
	data   BLOB    NOT NULL, -- the part's entries, a segment encoding (user_segs.go)
	PRIMARY KEY (span, bucket, part)
);
`

// segPartEntries is the most entries a part holds when written (late rows
// merged into it may add a few).
const segPartEntries = 8192

// segPartsMarker is the user_segs data of a segment stored in parts (a
// segment encoding is never one byte: zstd).
var segPartsMarker = []byte{'P'}

func isPartsMarker(data []byte) bool { return len(data) == 1 && data[0] == 'P' }

// partLimit is the entries per part of the segments this store writes (0:
// one blob, before schema 20).
func (s *Store) partLimit() int {
	switch {
	case !s.segParts:
		return 0
	case s.opts.segPartEntries > 0:
		return s.opts.segPartEntries
	}
	return segPartEntries
}

// stepBudget is the budget of a build step given the seal's budget (0:
// none) and the work done: what is left, but at least one part.
func (s *Store) stepBudget(budget, work int) int {
	if budget <= 0 {
		return 0
	}
	return max(budget-work, s.partLimit())
}

// partsFrom lists, in key order, the parts of the segment (span, bucket)
// that can hold a key after after (nil: every part).
func partsFrom(ctx context.Context, q querier, span, bucket int64, after *rawEntry) ([]int64, error) {
	query := "SELECT part FROM user_seg_parts WHERE span = ? AND bucket = ?"
	args := []any{span, bucket}
	if after != nil {
		query += " AND hi >= ?"
		args = append(args, string(after.actor))
	}
	rows, err := q.QueryContext(ctx, query+" ORDER BY part", args...)
	if err != nil {
		return nil, fmt.Errorf("user segment %d/%d: parts: %w", span, bucket, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("user segment %d/%d: parts: %w", span, bucket, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("user segment %d/%d: parts: %w", span, bucket, err)
	}
	return out, nil
}

// partLoader reads the parts of the segment (span, bucket).
func partLoader(ctx context.Context, q querier, span, bucket int64) func(int64) ([]byte, error) {
	return func(part int64) ([]byte, error) {
		var data []byte
		err := q.QueryRowContext(ctx, "SELECT data FROM user_seg_parts WHERE span = ? AND bucket = ? AND part = ?", span, bucket, part).Scan(&data)
		if err != nil {
			return nil, fmt.Errorf("user segment %d/%d part %d: %w", span, bucket, part, err)
		}
		return data, nil
	}
}

// segsFrom are the segments of span with buckets in [from, to), oldest
// first, as inputs of a merge from the key after after (nil: all; blobs
// are whole, the merge skips their keys up to after).
func segsFrom(ctx context.Context, q querier, span, from, to int64, after *rawEntry) ([]segInput, error) {
	rows, err := q.QueryContext(ctx, "SELECT bucket, data FROM user_segs WHERE span = ? AND bucket >= ? AND bucket < ? ORDER BY bucket",
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
	if err := rows.Close(); err != nil {
		return nil, err
	}
	for i := range out {
		if in := &out[i]; isPartsMarker(in.data) {
			if in.parts, err = partsFrom(ctx, q, span, in.bucket, after); err != nil {
				return nil, err
			}
			in.data, in.load = nil, partLoader(ctx, q, span, in.bucket)
		}
	}
	return out, nil
}

// userSeg is the decoded segment of a bucket (nil when it has none).
func userSeg(ctx context.Context, q querier, span, bucket int64) ([]UserSegEntry, error) {
	ins, err := segsFrom(ctx, q, span, bucket, bucket+1, nil)
	if err != nil {
		return nil, fmt.Errorf("store: user segment %d/%d: %w", span, bucket, err)
	}
	var out []UserSegEntry
	for _, in := range ins {
		es, err := decodeSegInput(in)
		if err != nil {
			return nil, fmt.Errorf("store: user segment %d/%d: %w", span, bucket, err)
		}
		out = append(out, es...)
	}
	return out, nil
}

// decodeSegInput is the entries of a segment input (a blob or its parts).
func decodeSegInput(in segInput) ([]UserSegEntry, error) {
	if !in.seg {
		return in.rows, nil
	}
	if in.data != nil {
		return DecodeUserSeg(in.bucket, in.data)
	}
	var out []UserSegEntry
	for _, p := range in.parts {
		data, err := in.load(p)
		if err != nil {
			return nil, err
		}
		es, err := DecodeUserSeg(in.bucket, data)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// foldUserSegParts folds the parts of the segment (span, bucket).
func foldUserSegParts(ctx context.Context, q querier, agg *UserAgg, span, bucket int64, search string) error {
	parts, err := partsFrom(ctx, q, span, bucket, nil)
	if err != nil {
		return err
	}
	load := partLoader(ctx, q, span, bucket)
	for _, p := range parts {
		data, err := load(p)
		if err != nil {
			return err
		}
		if err := agg.AddSegment(bucket, data, search); err != nil {
			return fmt.Errorf("user segment %d/%d part %d: %w", span, bucket, p, err)
		}
	}
	return nil
}

// putUserSegData writes (or, when data is nil, deletes) the user_segs row
// of a segment, and drops the unfinished builds over it.
func (s *Store) putUserSegData(ctx context.Context, tx *sql.Tx, span, bucket int64, data []byte) error {
	if data == nil {
		if _, err := tx.ExecContext(ctx, "DELETE FROM user_segs WHERE span = ? AND bucket = ?", span, bucket); err != nil {
			return fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
		}
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO user_segs (span, bucket, data) VALUES (?, ?, ?)
		ON CONFLICT(span, bucket) DO UPDATE SET data = excluded.data`, span, bucket, data); err != nil {
		return fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	}
	return s.dropBuildsOver(ctx, tx, span, bucket)
}

// deleteUserSeg deletes a segment: its user_segs row and its parts
// (finished or not).
func (s *Store) deleteUserSeg(ctx context.Context, tx *sql.Tx, span, bucket int64) error {
	if s.segParts {
		if _, err := tx.ExecContext(ctx, "DELETE FROM user_seg_parts WHERE span = ? AND bucket = ?", span, bucket); err != nil {
			return fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
		}
	}
	return s.putUserSegData(ctx, tx, span, bucket, nil)
}

// dropBuildsOver deletes the parts of the unfinished builds whose inputs
// hold the segment (span, bucket): the day of an hour (schema 17), the
// coarse buckets that hold it.
func (s *Store) dropBuildsOver(ctx context.Context, tx *sql.Tx, span, bucket int64) error {
	if !s.segParts {
		return nil
	}
	var over [][2]int64
	if span == hourMS && s.daysFromHours {
		over = append(over, [2]int64{dayMS, floorTo(bucket, dayMS)})
	}
	for _, w := range s.userSegLevels(span) {
		over = append(over, [2]int64{w, floorTo(bucket, w)})
	}
	for _, o := range over {
		if err := s.dropBuild(ctx, tx, o[0], o[1]); err != nil {
			return err
		}
	}
	return nil
}

// dropBuild deletes the parts of the segment (span, bucket) if its build
// is unfinished (no user_segs row).
func (s *Store) dropBuild(ctx context.Context, tx *sql.Tx, span, bucket int64) error {
	if !s.segParts {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_seg_parts WHERE span = ?1 AND bucket = ?2
		AND NOT EXISTS (SELECT 1 FROM user_segs WHERE span = ?1 AND bucket = ?2)`, span, bucket); err != nil {
		return fmt.Errorf("user segment %d/%d: drop build: %w", span, bucket, err)
	}
	return nil
}

// insertParts appends parts to the segment (span, bucket), numbered from
// first.
func insertParts(ctx context.Context, tx *sql.Tx, span, bucket, first int64, parts []segPart) error {
	for i, p := range parts {
		if _, err := tx.ExecContext(ctx, "INSERT INTO user_seg_parts (span, bucket, part, hi, hic, data) VALUES (?, ?, ?, ?, ?, ?)",
			span, bucket, first+int64(i), string(p.hi), string(p.hc), p.data); err != nil {
			return fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
		}
	}
	return nil
}

// writeSeg replaces the segment (span, bucket) with the merged out: none,
// one blob, or parts.
func (s *Store) writeSeg(ctx context.Context, tx *sql.Tx, span, bucket int64, out *segOut) error {
	if s.segParts {
		if _, err := tx.ExecContext(ctx, "DELETE FROM user_seg_parts WHERE span = ? AND bucket = ?", span, bucket); err != nil {
			return fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
		}
	}
	switch len(out.parts) {
	case 0:
		return s.putUserSegData(ctx, tx, span, bucket, nil)
	case 1:
		return s.putUserSegData(ctx, tx, span, bucket, out.parts[0].data)
	}
	if err := insertParts(ctx, tx, span, bucket, 0, out.parts); err != nil {
		return err
	}
	return s.putUserSegData(ctx, tx, span, bucket, segPartsMarker)
}

// mergeIntoSeg merges the inputs into the segment (span, bucket), after
// its entries, and writes it (deletes it when no entry has events left).
// Without create, a missing segment stays missing and read is -1. It
// returns the entries read.
func (s *Store) mergeIntoSeg(ctx context.Context, tx *sql.Tx, span, bucket int64, ins []segInput, create bool) (read int, err error) {
	var base []byte
	err = tx.QueryRowContext(ctx, "SELECT data FROM user_segs WHERE span = ? AND bucket = ?", span, bucket).Scan(&base)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if !create {
			return -1, nil
		}
	case err != nil:
		return 0, fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	case isPartsMarker(base):
		return s.mergeIntoParts(ctx, tx, span, bucket, ins)
	default:
		ins = append([]segInput{{seg: true, bucket: bucket, data: base}}, ins...)
	}
	out, read, err := mergeSegParts(bucket, ins, s.partLimit())
	if err != nil {
		return 0, fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	}
	return read, s.writeSeg(ctx, tx, span, bucket, out)
}

// keyCmp compares the keys (actor, country).
func keyCmp(actor, country, hi, hc string) int {
	if c := strings.Compare(actor, hi); c != 0 {
		return c
	}
	return strings.Compare(country, hc)
}

// mergeIntoParts merges the inputs into the segment in parts (span,
// bucket): each entry into the first part whose last key is not below
// its key (the last part after every one), rewriting only those parts. It
// returns the entries read.
func (s *Store) mergeIntoParts(ctx context.Context, tx *sql.Tx, span, bucket int64, ins []segInput) (int, error) {
	var more []UserSegEntry // in input order (sorted stably by the merge)
	for _, in := range ins {
		es, err := decodeSegInput(in)
		if err != nil {
			return 0, fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
		}
		more = append(more, es...)
	}
	type part struct {
		n      int64
		hi, hc string
		rows   []UserSegEntry
	}
	rows, err := tx.QueryContext(ctx, "SELECT part, hi, hic FROM user_seg_parts WHERE span = ? AND bucket = ? ORDER BY part", span, bucket)
	if err != nil {
		return 0, fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	}
	var parts []part
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.n, &p.hi, &p.hc); err != nil {
			rows.Close()
			return 0, fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
		}
		parts = append(parts, p)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	}
	if len(parts) == 0 {
		return 0, fmt.Errorf("user segment %d/%d: %w: no parts", span, bucket, errUserSeg)
	}
	for _, e := range more {
		j := 0
		for j < len(parts)-1 && keyCmp(e.Actor, e.Country, parts[j].hi, parts[j].hc) > 0 {
			j++
		}
		parts[j].rows = append(parts[j].rows, e)
	}
	load := partLoader(ctx, tx, span, bucket)
	read, left := 0, len(parts)
	for _, p := range parts {
		if len(p.rows) == 0 {
			continue
		}
		data, err := load(p.n)
		if err != nil {
			return 0, err
		}
		out, k, err := mergeSegParts(bucket, []segInput{{seg: true, bucket: bucket, data: data}, {rows: p.rows}}, 0)
		if err != nil {
			return 0, fmt.Errorf("user segment %d/%d part %d: %w", span, bucket, p.n, err)
		}
		read += k
		if len(out.parts) == 0 {
			left--
			_, err = tx.ExecContext(ctx, "DELETE FROM user_seg_parts WHERE span = ? AND bucket = ? AND part = ?", span, bucket, p.n)
		} else {
			q := out.parts[0]
			_, err = tx.ExecContext(ctx, "UPDATE user_seg_parts SET hi = ?, hic = ?, data = ? WHERE span = ? AND bucket = ? AND part = ?",
				string(q.hi), string(q.hc), q.data, span, bucket, p.n)
		}
		if err != nil {
			return 0, fmt.Errorf("user segment %d/%d part %d: %w", span, bucket, p.n, err)
		}
	}
	if left == 0 {
		return read, s.putUserSegData(ctx, tx, span, bucket, nil)
	}
	return read, s.dropBuildsOver(ctx, tx, span, bucket)
}

// buildSegStep advances the build of the segment (span, bucket), which
// has no user_segs row, from the key after its last part: it merges the
// inputs (inputs(after) lists them) until it has read budget entries (0:
// to the end) and appends what it merged as parts. done reports that the
// inputs are exhausted: the segment is then sealed (none without entries,
// a blob when it is one part, else the parts and their marker). Before
// schema 20 it merges everything into one blob.
func (s *Store) buildSegStep(ctx context.Context, tx *sql.Tx, span, bucket int64, inputs func(after *rawEntry) ([]segInput, error),
	budget int) (read int, done bool, err error) {
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("user segment %d/%d: %w", span, bucket, err)
	}
	whole := func() (int, bool, error) {
		ins, err := inputs(nil)
		if err != nil {
			return 0, false, wrap(err)
		}
		out, read, err := mergeSegParts(bucket, ins, s.partLimit())
		if err != nil {
			return 0, false, wrap(err)
		}
		return read, true, s.writeSeg(ctx, tx, span, bucket, out)
	}
	if !s.segParts {
		return whole()
	}
	var next int64
	var after *rawEntry
	var last int64
	var hi, hc string
	err = tx.QueryRowContext(ctx, "SELECT part, hi, hic FROM user_seg_parts WHERE span = ? AND bucket = ? ORDER BY part DESC LIMIT 1",
		span, bucket).Scan(&last, &hi, &hc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, false, wrap(err)
	default:
		next, after = last+1, &rawEntry{actor: []byte(hi), country: []byte(hc)}
	}
	ins, err := inputs(after)
	if err != nil {
		return 0, false, wrap(err)
	}
	streams, err := openSegStreams(ins, after)
	if err != nil {
		return 0, false, wrap(err)
	}
	out := &segOut{bucket: bucket, limit: s.partLimit()}
	read, done, err = kmergeRun(streams, out, budget)
	if err == errSegOrder { // an input not written by this code: merged whole, through segMerger
		return whole()
	}
	if err == nil {
		err = out.flush()
	}
	if err != nil {
		return 0, false, wrap(err)
	}
	if err := insertParts(ctx, tx, span, bucket, next, out.parts); err != nil {
		return 0, false, err
	}
	if !done {
		return read, false, nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM user_seg_parts WHERE span = ? AND bucket = ?", span, bucket).Scan(&n); err != nil {
		return 0, false, wrap(err)
	}
	switch n {
	case 0:
		return read, true, s.putUserSegData(ctx, tx, span, bucket, nil)
	case 1: // one blob, as a segment written in one go
		var data []byte
		if err := tx.QueryRowContext(ctx, "SELECT data FROM user_seg_parts WHERE span = ? AND bucket = ?", span, bucket).Scan(&data); err != nil {
			return 0, false, wrap(err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM user_seg_parts WHERE span = ? AND bucket = ?", span, bucket); err != nil {
			return 0, false, wrap(err)
		}
		return read, true, s.putUserSegData(ctx, tx, span, bucket, data)
	}
	return read, true, s.putUserSegData(ctx, tx, span, bucket, segPartsMarker)
}
