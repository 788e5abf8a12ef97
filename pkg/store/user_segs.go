package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// User segments: the per-actor rows of one closed user_days or user_hours
// bucket, sealed into one compressed blob (a "segment").
//
// The users summary needs every actor's totals over the range to rank
// them, so it reads (actors × buckets) roll-up entries. As SQL rows those
// cost ~0.7 µs each to group (a sort) or ~1.4 µs each to hand to Go; a
// week at 10 M events and 20 000 users is ~450 000 entries. Sealed, a
// bucket is one row: the query decodes its entries in Go (tens of ns
// each) and folds them into UserAgg with one map look-up per entry.
//
// Only closed buckets are sealed: the newest bucket of each table (the one
// ingestion is filling) stays as rows, and so does a late event's row for
// an old bucket until the next seal merges it into the segment. A query
// reads both, for every bucket of its spans: the segment and the rows add
// up (UserAgg sums counts and keeps the newest last-seen), so the answer
// is exact at any moment. Prune unseals the buckets it changes and seals
// them again. This shared encoding is what a second backend can store as
// bytes as well; the SQL around it is per backend.

// UserSegEntry is one actor and country of a sealed bucket.
type UserSegEntry struct {
	Actor, Country, ActorID, LastIP string
	Events, Failures, LastSeen      int64
}

const userSegVersion = 1

var (
	userSegEncOnce sync.Once
	userSegEnc     *zstd.Encoder
	userSegDec     *zstd.Decoder
	userSegErr     error
)

func userSegCodec() (*zstd.Encoder, *zstd.Decoder, error) {
	userSegEncOnce.Do(func() {
		userSegEnc, userSegErr = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false))
		if userSegErr != nil {
			return
		}
		userSegDec, userSegErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
	})
	return userSegEnc, userSegDec, userSegErr
}

// EncodeUserSeg sorts the entries by actor and country and encodes them:
// a version byte, the count, then per entry four length-prefixed strings
// and three varints (last seen relative to the bucket), zstd-compressed.
func EncodeUserSeg(bucket int64, entries []UserSegEntry) ([]byte, error) {
	enc, _, err := userSegCodec()
	if err != nil {
		return nil, fmt.Errorf("user segment codec: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Actor != entries[j].Actor {
			return entries[i].Actor < entries[j].Actor
		}
		return entries[i].Country < entries[j].Country
	})
	buf := make([]byte, 0, 16+len(entries)*64)
	buf = append(buf, userSegVersion)
	buf = binary.AppendUvarint(buf, uint64(len(entries)))
	for i := range entries {
		e := &entries[i]
		for _, s := range [4]string{e.Actor, e.Country, e.ActorID, e.LastIP} {
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
		buf = binary.AppendVarint(buf, e.Events)
		buf = binary.AppendVarint(buf, e.Failures)
		buf = binary.AppendVarint(buf, e.LastSeen-bucket)
	}
	return enc.EncodeAll(buf, make([]byte, 0, len(buf)/3)), nil
}

var errUserSeg = errors.New("corrupt user segment")

// userSegReader walks the entries of a decoded segment without copying
// its strings (they alias the buffer until the next call).
type userSegReader struct {
	b      []byte
	bucket int64
	left   uint64
}

func openUserSeg(bucket int64, data []byte, scratch []byte) (*userSegReader, []byte, error) {
	_, dec, err := userSegCodec()
	if err != nil {
		return nil, scratch, fmt.Errorf("user segment codec: %w", err)
	}
	plain, err := dec.DecodeAll(data, scratch[:0])
	if err != nil {
		return nil, scratch, fmt.Errorf("%w: %w", errUserSeg, err)
	}
	if len(plain) < 1 || plain[0] != userSegVersion {
		return nil, plain, fmt.Errorf("%w: unknown version", errUserSeg)
	}
	n, k := binary.Uvarint(plain[1:])
	if k <= 0 {
		return nil, plain, errUserSeg
	}
	return &userSegReader{b: plain[1+k:], bucket: bucket, left: n}, plain, nil
}

// rawEntry is one entry with its strings as byte slices of the buffer.
type rawEntry struct {
	actor, country, actorID, lastIP []byte
	events, failures, lastSeen      int64
}

func (r *userSegReader) next(e *rawEntry) (bool, error) {
	if r.left == 0 {
		if len(r.b) != 0 {
			return false, fmt.Errorf("%w: trailing bytes", errUserSeg)
		}
		return false, nil
	}
	r.left--
	// each field read in line, a one-byte length or varint without a call
	// (next was ~22 % of the fold's CPU in a profile of
	// BenchmarkUserAggSegment, with a loop over field pointers)
	b := r.b
	var ok bool
	if e.actor, b, ok = segString(b); !ok {
		return false, errUserSeg
	}
	if e.country, b, ok = segString(b); !ok {
		return false, errUserSeg
	}
	if e.actorID, b, ok = segString(b); !ok {
		return false, errUserSeg
	}
	if e.lastIP, b, ok = segString(b); !ok {
		return false, errUserSeg
	}
	if e.events, b, ok = segVarint(b); !ok {
		return false, errUserSeg
	}
	if e.failures, b, ok = segVarint(b); !ok {
		return false, errUserSeg
	}
	if e.lastSeen, b, ok = segVarint(b); !ok {
		return false, errUserSeg
	}
	r.b = b
	e.lastSeen += r.bucket
	return true, nil
}

// segString reads a length-prefixed string of b (a length under 128 is
// one byte: every string of an Okta entry in practice).
func segString(b []byte) (s, rest []byte, ok bool) {
	var n uint64
	k := 1
	if len(b) > 0 && b[0] < 0x80 {
		n = uint64(b[0])
	} else {
		n, k = binary.Uvarint(b)
		if k <= 0 {
			return nil, nil, false
		}
	}
	if uint64(len(b)-k) < n { // #nosec G115 -- k <= len(b) (Uvarint read k bytes of b), so the difference is not negative
		return nil, nil, false
	}
	return b[k : k+int(n) : k+int(n)], b[k+int(n):], true // #nosec G115 -- n <= len(b)-k was checked just above
}

// segVarint reads a zig-zag varint of b (one byte for -64..63).
func segVarint(b []byte) (v int64, rest []byte, ok bool) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint64(b[0])
		return int64(u>>1) ^ -int64(u&1), b[1:], true
	}
	v, k := binary.Varint(b)
	if k <= 0 {
		return 0, nil, false
	}
	return v, b[k:], true
}

// DecodeUserSeg returns a segment's entries (sorted by actor, country).
func DecodeUserSeg(bucket int64, data []byte) ([]UserSegEntry, error) {
	r, _, err := openUserSeg(bucket, data, nil)
	if err != nil {
		return nil, err
	}
	var out []UserSegEntry
	var e rawEntry
	for {
		ok, err := r.next(&e)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, UserSegEntry{Actor: string(e.actor), Country: string(e.country), ActorID: string(e.actorID),
			LastIP: string(e.lastIP), Events: e.events, Failures: e.failures, LastSeen: e.lastSeen})
	}
}

// MergeUserSegEntries folds more entries (rows written after the segment,
// or another segment) into base by actor and country, the way the roll-up
// upserts do: counts add up, and the newer-or-equal last-seen brings its
// IP and actor id. Entries with no events left are dropped.
func MergeUserSegEntries(base []UserSegEntry, more []UserSegEntry) []UserSegEntry {
	type key struct{ actor, country string }
	idx := make(map[key]int, len(base)+len(more))
	for i := range base {
		idx[key{base[i].Actor, base[i].Country}] = i
	}
	for _, m := range more {
		i, ok := idx[key{m.Actor, m.Country}]
		if !ok {
			idx[key{m.Actor, m.Country}] = len(base)
			base = append(base, m)
			continue
		}
		b := &base[i]
		b.Events += m.Events
		b.Failures += m.Failures
		if m.LastSeen >= b.LastSeen {
			b.LastSeen, b.LastIP, b.ActorID = m.LastSeen, m.LastIP, m.ActorID
		}
	}
	out := base[:0]
	for _, e := range base {
		if e.Events > 0 {
			out = append(out, e)
		}
	}
	return out
}

// segMerger folds many segments and rows by actor and country the way
// MergeUserSegEntries does, keeping its index across them (merging k
// segments one MergeUserSegEntries at a time rebuilt the index of
// everything merged so far k times). The seal merges sorted inputs in one
// k-way pass (user_kmerge.go); segMerger is its fallback for an input out
// of order.
// An entry's strings are copied only when its key is new or it brings a
// newer last-seen. Segments and rows hold positive counts (Prune deletes
// the rows it empties), so no sum drops to zero before the end, where
// entries without events are left out as MergeUserSegEntries leaves them.
type segMerger struct {
	idx map[string]int // length-prefixed actor, then country -> index in out
	out []UserSegEntry
	key []byte
}

func newSegMerger() *segMerger { return &segMerger{idx: map[string]int{}} }

func (m *segMerger) fold(actor, country, actorID, lastIP []byte, events, failures, lastSeen int64) {
	m.key = binary.AppendUvarint(m.key[:0], uint64(len(actor)))
	m.key = append(append(m.key, actor...), country...)
	i, ok := m.idx[string(m.key)]
	if !ok {
		m.idx[string(m.key)] = len(m.out)
		m.out = append(m.out, UserSegEntry{Actor: string(actor), Country: string(country), ActorID: string(actorID),
			LastIP: string(lastIP), Events: events, Failures: failures, LastSeen: lastSeen})
		return
	}
	b := &m.out[i]
	b.Events += events
	b.Failures += failures
	if lastSeen >= b.LastSeen {
		b.LastSeen = lastSeen
		if b.LastIP != string(lastIP) {
			b.LastIP = string(lastIP)
		}
		if b.ActorID != string(actorID) {
			b.ActorID = string(actorID)
		}
	}
}

// addSeg folds the entries of an encoded segment of bucket.
func (m *segMerger) addSeg(bucket int64, data []byte, scratch []byte) ([]byte, int, error) {
	r, scratch, err := openUserSeg(bucket, data, scratch)
	if err != nil {
		return scratch, 0, err
	}
	n := 0
	var e rawEntry
	for {
		ok, err := r.next(&e)
		if err != nil {
			return scratch, n, err
		}
		if !ok {
			return scratch, n, nil
		}
		n++
		m.fold(e.actor, e.country, e.actorID, e.lastIP, e.events, e.failures, e.lastSeen)
	}
}

// add folds entries.
func (m *segMerger) add(es []UserSegEntry) {
	for i := range es {
		e := &es[i]
		m.fold([]byte(e.Actor), []byte(e.Country), []byte(e.ActorID), []byte(e.LastIP), e.Events, e.Failures, e.LastSeen)
	}
}

// entries are the merged entries with events left.
func (m *segMerger) entries() []UserSegEntry {
	out := m.out[:0]
	for _, e := range m.out {
		if e.Events > 0 {
			out = append(out, e)
		}
	}
	return out
}
