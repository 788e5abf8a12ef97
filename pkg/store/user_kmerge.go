package store

import (
	"bytes"
	"encoding/binary"
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
// a segment stored in parts (user_parts.go: read one part at a time by
// load, in key order), or rows (any order: they are sorted here, stably,
// so rows of one key keep their order).
type segInput struct {
	seg    bool // data (or parts) is an encoded segment; otherwise rows
	bucket int64
	data   []byte
	rows   []UserSegEntry
	parts  []int64                          // part numbers, in key order (data nil)
	load   func(part int64) ([]byte, error) // reads a part's encoded segment
}

// segStream walks one input in key order.
type segStream struct {
	seg    bool
	r      *userSegReader
	bucket int64
	parts  []int64
	load   func(int64) ([]byte, error)
	rows   []rawEntry
	cur    rawEntry
	ok     bool
}

func (s *segStream) advance() error {
	if !s.seg {
		if len(s.rows) == 0 {
			s.ok = false
			return nil
		}
		s.cur, s.rows, s.ok = s.rows[0], s.rows[1:], true
		return nil
	}
	for {
		if s.r != nil {
			ok, err := s.r.next(&s.cur)
			if err != nil || ok {
				s.ok = ok
				return err
			}
			s.r = nil
		}
		if len(s.parts) == 0 {
			s.ok = false
			return nil
		}
		// the next part, in a new buffer: the entries handed out before
		// alias the buffers of the parts before
		data, err := s.load(s.parts[0])
		if err != nil {
			return err
		}
		s.parts = s.parts[1:]
		if s.r, _, err = openUserSeg(s.bucket, data, nil); err != nil {
			return err
		}
	}
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
	return onePart(mergeSegParts(bucket, ins, 0))
}

// onePart is the single part of a merge without a limit (nil: none).
func onePart(out *segOut, read int, err error) ([]byte, int, int, error) {
	if err != nil || len(out.parts) == 0 {
		return nil, 0, read, err
	}
	return out.parts[0].data, out.parts[0].n, read, nil
}

// kmergeSegInputs is mergeSegInputs without the fallback (errSegOrder).
func kmergeSegInputs(bucket int64, ins []segInput) ([]byte, int, int, error) {
	out := &segOut{bucket: bucket}
	streams, err := openSegStreams(ins, nil)
	if err != nil {
		return nil, 0, 0, err
	}
	read, _, err := kmergeRun(streams, out, 0)
	if err == nil {
		err = out.flush()
	}
	return onePart(out, read, err)
}

// mergeSegInputsByIndex is mergeSegInputs through segMerger (any order).
func mergeSegInputsByIndex(bucket int64, ins []segInput) ([]byte, int, int, error) {
	return onePart(mergeSegPartsByIndex(bucket, ins, 0))
}

// mergeSegParts merges the inputs into parts of at most limit entries
// (0: one part) and returns them with the entries read.
func mergeSegParts(bucket int64, ins []segInput, limit int) (*segOut, int, error) {
	out := &segOut{bucket: bucket, limit: limit}
	streams, err := openSegStreams(ins, nil)
	if err != nil {
		return nil, 0, err
	}
	read, _, err := kmergeRun(streams, out, 0)
	if err == errSegOrder {
		return mergeSegPartsByIndex(bucket, ins, limit)
	}
	if err != nil {
		return nil, 0, err
	}
	return out, read, out.flush()
}

// mergeSegPartsByIndex is mergeSegParts through segMerger (any order).
func mergeSegPartsByIndex(bucket int64, ins []segInput, limit int) (*segOut, int, error) {
	m := newSegMerger()
	read := 0
	var scratch []byte
	for _, in := range ins {
		if !in.seg {
			m.add(in.rows)
			read += len(in.rows)
			continue
		}
		datas := [][]byte{in.data}
		if in.data == nil {
			datas = datas[:0]
			for _, p := range in.parts {
				d, err := in.load(p)
				if err != nil {
					return nil, 0, err
				}
				datas = append(datas, d)
			}
		}
		for _, d := range datas {
			var k int
			var err error
			if scratch, k, err = m.addSeg(in.bucket, d, scratch); err != nil {
				return nil, 0, err
			}
			read += k
		}
	}
	es := m.entries()
	slices.SortFunc(es, func(a, b UserSegEntry) int {
		if c := strings.Compare(a.Actor, b.Actor); c != 0 {
			return c
		}
		return strings.Compare(a.Country, b.Country)
	})
	out := &segOut{bucket: bucket, limit: limit}
	for i := range es {
		e := &es[i]
		if err := out.add(&rawEntry{actor: []byte(e.Actor), country: []byte(e.Country), actorID: []byte(e.ActorID),
			lastIP: []byte(e.LastIP), events: e.Events, failures: e.Failures, lastSeen: e.LastSeen}); err != nil {
			return nil, 0, err
		}
	}
	return out, read, out.flush()
}

// openSegStreams opens the inputs as streams positioned at their first
// entry after the key after (nil: at their first entry).
func openSegStreams(ins []segInput, after *rawEntry) ([]segStream, error) {
	streams := make([]segStream, len(ins))
	for i, in := range ins {
		st := &streams[i]
		st.seg, st.bucket = in.seg, in.bucket
		if in.seg {
			st.parts, st.load = in.parts, in.load
			if in.data != nil {
				r, _, err := openUserSeg(in.bucket, in.data, nil)
				if err != nil {
					return nil, err
				}
				st.r = r
			}
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
			return nil, err
		}
		for after != nil && st.ok && rawKeyCmp(&st.cur, after) <= 0 {
			if err := st.advance(); err != nil {
				return nil, err
			}
		}
	}
	return streams, nil
}

// kmergeRun merges the streams into out, key by key. With a budget (0:
// none) it stops after the key at which it has read that many entries and
// written one; done reports that the streams are exhausted.
func kmergeRun(streams []segStream, out *segOut, budget int) (read int, done bool, err error) {
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
			if st.seg && rawKeyCmp(&st.cur, e) <= 0 { // rows repeat keys
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
	var acc, e rawEntry
	for len(h) > 0 {
		if budget > 0 && read >= budget && out.written() > 0 {
			return read, false, nil
		}
		if err := pop(&acc); err != nil {
			return read, false, err
		}
		read++
		for len(h) > 0 && rawKeyCmp(&streams[h[0]].cur, &acc) == 0 {
			if err := pop(&e); err != nil {
				return read, false, err
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
		if err := out.add(&acc); err != nil {
			return read, false, err
		}
	}
	return read, true, nil
}

// segOut encodes merged entries (in key order) into parts of at most
// limit entries (0: one part).
type segOut struct {
	bucket int64
	limit  int
	body   []byte
	n      int // entries in body
	total  int // entries added
	hi, hc []byte
	parts  []segPart
}

// segPart is one encoded part and its last key.
type segPart struct {
	data, hi, hc []byte
	n            int
}

func (o *segOut) written() int { return o.total }

// add appends an entry (its strings may alias the inputs' buffers: they
// are copied by the encoding).
func (o *segOut) add(e *rawEntry) error {
	for _, s := range [4][]byte{e.actor, e.country, e.actorID, e.lastIP} {
		o.body = binary.AppendUvarint(o.body, uint64(len(s)))
		o.body = append(o.body, s...)
	}
	o.body = binary.AppendVarint(o.body, e.events)
	o.body = binary.AppendVarint(o.body, e.failures)
	o.body = binary.AppendVarint(o.body, e.lastSeen-o.bucket)
	o.n++
	o.total++
	o.hi, o.hc = e.actor, e.country
	if o.limit > 0 && o.n >= o.limit {
		return o.flush()
	}
	return nil
}

// flush encodes the entries added since the last flush as a part.
func (o *segOut) flush() error {
	if o.n == 0 {
		return nil
	}
	enc, _, err := userSegCodec()
	if err != nil {
		return fmt.Errorf("user segment codec: %w", err)
	}
	plain := make([]byte, 0, len(o.body)+1+binary.MaxVarintLen64)
	plain = append(plain, userSegVersion)
	plain = binary.AppendUvarint(plain, uint64(o.n)) // #nosec G115 -- an entry count, never negative
	plain = append(plain, o.body...)
	o.parts = append(o.parts, segPart{data: enc.EncodeAll(plain, make([]byte, 0, len(plain)/3)),
		hi: bytes.Clone(o.hi), hc: bytes.Clone(o.hc), n: o.n})
	o.body, o.n = o.body[:0], 0
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
