package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"sort"
)

// A store's raw JSON dictionary is "raw content": a few dozen of the
// store's own events, concatenated, which a new event's frame refers back
// to (zstd's raw-content dictionaries). The trained dictionaries written
// before (dict.BuildZstdDict, kept in raw_dicts with zstd's dictionary
// magic) held only short common strings: an Okta event of ~2.4 KB took ~460
// bytes with one and takes ~210 with raw content, since most of an event
// repeats an earlier event of the same type field for field. Both kinds live in raw_dicts and both stay readable; a store
// whose newest dictionary is a trained one samples its next events and
// switches to raw content (old rows keep their dictionary).
const (
	// rawDictContentMax bounds a raw-content dictionary (the encoder keeps
	// it in its window; the decoder copies it once per frame).
	rawDictContentMax = 64 << 10
	// raw-content dictionary ids are drawn from [rawDictIDMin, rawDictIDMax]:
	// a two-byte id in each frame header, outside zstd's reserved range
	// below 32768.
	rawDictIDMin = 1 << 15
	rawDictIDMax = 1<<16 - 1
)

var zstdDictMagic = []byte{0x37, 0xa4, 0x30, 0xec}

// isTrainedDict tells a trained (formatted) zstd dictionary from raw content.
func isTrainedDict(d []byte) bool { return bytes.HasPrefix(d, zstdDictMagic) }

// buildRawDict concatenates samples into a raw-content dictionary of at
// most rawDictContentMax bytes, covering as many event types as it can:
// samples are grouped by their "eventType" and taken round robin, the most
// frequent types first, and the result is laid out so that the most
// frequent types end up nearest the data (shortest match offsets). nil when
// there are no samples.
func buildRawDict(samples [][]byte) []byte {
	groups := map[string][][]byte{}
	var order []string
	for _, s := range samples {
		if len(s) == 0 || len(s) > rawDictContentMax/4 {
			continue
		}
		t := string(jsonStringField(s, `"eventType":"`))
		if _, ok := groups[t]; !ok {
			order = append(order, t)
		}
		groups[t] = append(groups[t], s)
	}
	sort.SliceStable(order, func(i, j int) bool { return len(groups[order[i]]) > len(groups[order[j]]) })
	var picked [][]byte
	size := 0
	for round := 0; ; round++ {
		added := false
		for _, t := range order {
			g := groups[t]
			if round >= len(g) {
				continue
			}
			s := g[len(g)-1-round] // newest first
			if size+len(s) > rawDictContentMax {
				continue
			}
			picked = append(picked, s)
			size += len(s)
			added = true
		}
		if !added {
			break
		}
	}
	if len(picked) == 0 {
		return nil
	}
	out := make([]byte, 0, size)
	for i := len(picked) - 1; i >= 0; i-- { // first picked (most frequent) last
		out = append(out, picked[i]...)
	}
	return out
}

// jsonStringField returns the string value after key (e.g. `"eventType":"`)
// up to the next quote, or nil. It is only a grouping hint: escapes are
// not decoded.
func jsonStringField(j []byte, key string) []byte {
	i := bytes.Index(j, []byte(key))
	if i < 0 {
		return nil
	}
	v := j[i+len(key):]
	k := bytes.IndexByte(v, '"')
	if k < 0 {
		return nil
	}
	return v[:k]
}

// newRawDictID draws an id for a raw-content dictionary that no stored
// dictionary has.
func newRawDictID(taken map[uint32][]byte) uint32 {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		id := rawDictIDMin + binary.LittleEndian.Uint32(b[:])%(rawDictIDMax-rawDictIDMin+1)
		if _, ok := taken[id]; !ok {
			return id
		}
	}
}
