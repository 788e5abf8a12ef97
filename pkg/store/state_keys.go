package store

import "hash/maphash"

// keyIndex is the state log index's map of live keys to their newest row,
// kept free of pointers so that the garbage collector does not scan it: at
// 100 000 tracked users it holds some 400 000 keys, and as a
// map[string]stateRow every key was a string (a pointer to a separate
// heap object) that every collection cycle followed. Here the keys' bytes
// sit end to end in one []byte slab, each key's entry (offset and length in
// the slab, its row) in one []keyEntry, and a map from a 64-bit hash of the
// key to the first entry of that hash's chain: the map, the entries and the
// slab hold no pointers. Lookups are exact: two keys with the same hash are
// chained (keyEntry.next) and told apart by their bytes in the slab.
//
// A removed key's bytes stay in the slab as dead bytes until they exceed
// the live ones; the slab is then copied with the live keys only
// (compact), so it stays below twice the live keys' bytes plus the bytes
// removed since. Freed entries are reused by the next new keys.
type keyIndex struct {
	heads map[uint64]int32 // hash of a key → its chain's first entry
	ents  []keyEntry
	free  int32 // first free entry (chained through next), -1 when none
	slab  []byte
	dead  int64 // bytes in slab of removed keys
	n     int   // live keys

	seed maphash.Seed
	hash func(string) uint64 // tests force collisions with it; nil: maphash with seed
}

// keyEntry is one key: its bytes are slab[off:off+klen]. A free entry has
// off == freeEntry. A key's length fits in uint32: SQLite's strings are at
// most 1e9 bytes (SQLITE_MAX_LENGTH).
type keyEntry struct {
	off  uint64
	row  stateRow
	klen uint32
	next int32 // next entry of the same hash (or the next free one), -1 at the end
}

const freeEntry = ^uint64(0)

func newKeyIndex() *keyIndex {
	return &keyIndex{heads: map[uint64]int32{}, free: -1, seed: maphash.MakeSeed()}
}

func (x *keyIndex) hashOf(key string) uint64 {
	if x.hash != nil {
		return x.hash(key)
	}
	return maphash.String(x.seed, key)
}

// hashBytes is hashOf of a key's bytes (maphash.Bytes and maphash.String
// agree on the same bytes).
func (x *keyIndex) hashBytes(key []byte) uint64 {
	if x.hash != nil {
		return x.hash(string(key))
	}
	return maphash.Bytes(x.seed, key)
}

// find returns the entry of key and its hash; the entry is -1 when key is
// not in the index.
func (x *keyIndex) find(key string) (int32, uint64) {
	h := x.hashOf(key)
	i, ok := x.heads[h]
	if !ok {
		return -1, h
	}
	for ; i >= 0; i = x.ents[i].next {
		e := &x.ents[i]
		if int(e.klen) == len(key) && string(x.slab[e.off:e.off+uint64(e.klen)]) == key {
			return i, h
		}
	}
	return -1, h
}

func (x *keyIndex) len() int { return x.n }

func (x *keyIndex) get(key string) (stateRow, bool) {
	i, _ := x.find(key)
	if i < 0 {
		return stateRow{}, false
	}
	return x.ents[i].row, true
}

// put sets key's row and returns the row it replaces, if any.
func (x *keyIndex) put(key string, r stateRow) (stateRow, bool) {
	_, old, ok := x.putEnt(key, r)
	return old, ok
}

// putEnt is put that also returns key's entry: it stays key's until the
// key is removed (setSeq moves its row without a lookup).
func (x *keyIndex) putEnt(key string, r stateRow) (int32, stateRow, bool) {
	i, h := x.find(key)
	if i >= 0 {
		old := x.ents[i].row
		x.ents[i].row = r
		return i, old, true
	}
	e := keyEntry{off: uint64(len(x.slab)), row: r, klen: uint32(len(key)), next: -1} // #nosec G115 -- a key's length fits in uint32 (SQLITE_MAX_LENGTH)
	x.slab = append(x.slab, key...)
	if head, ok := x.heads[h]; ok {
		e.next = head
	}
	if x.free >= 0 {
		i = x.free
		x.free = x.ents[i].next
		x.ents[i] = e
	} else {
		i = int32(len(x.ents)) // #nosec G115 -- fewer than 2^31 keys: each takes at least 33 bytes of memory here
		x.ents = append(x.ents, e)
	}
	x.heads[h] = i
	x.n++
	return i, stateRow{}, false
}

// setSeq moves the row of the live key of entry i to seq.
func (x *keyIndex) setSeq(i int32, seq int64) { x.ents[i].row.seq = seq }

// remove deletes key and returns its row, if it was there.
func (x *keyIndex) remove(key string) (stateRow, bool) {
	i, h := x.find(key)
	if i < 0 {
		return stateRow{}, false
	}
	r := x.ents[i].row
	x.unlink(i, h)
	x.compactIfSparse()
	return r, true
}

// removePrefix deletes every key starting with prefix and returns the
// number of keys and the sum of their rows' sizes; gone, when not nil, is
// called with each removed key's row.
func (x *keyIndex) removePrefix(prefix string, gone func(stateRow)) (keys int, size int64) {
	for i := range x.ents {
		e := &x.ents[i]
		if e.off == freeEntry || int(e.klen) < len(prefix) {
			continue
		}
		k := x.slab[e.off : e.off+uint64(e.klen)]
		if string(k[:len(prefix)]) != prefix {
			continue
		}
		keys++
		size += e.row.size
		if gone != nil {
			gone(e.row)
		}
		x.unlink(int32(i), x.hashBytes(k)) // #nosec G115 -- entries are indexed by int32 (put)
	}
	x.compactIfSparse()
	return keys, size
}

// unlink takes entry i (of hash h) out of its chain and frees it; its
// bytes in the slab become dead.
func (x *keyIndex) unlink(i int32, h uint64) {
	head := x.heads[h]
	next := x.ents[i].next
	if head == i {
		if next < 0 {
			delete(x.heads, h)
		} else {
			x.heads[h] = next
		}
	} else {
		p := head
		for x.ents[p].next != i {
			p = x.ents[p].next
		}
		x.ents[p].next = next
	}
	x.dead += int64(x.ents[i].klen)
	x.ents[i] = keyEntry{off: freeEntry, next: x.free}
	x.free = i
	x.n--
}

// compactIfSparse copies the live keys to a new slab when the removed
// keys' bytes exceed the live ones.
func (x *keyIndex) compactIfSparse() {
	live := int64(len(x.slab)) - x.dead
	if x.dead <= live {
		return
	}
	slab := make([]byte, 0, live+live/4)
	for i := range x.ents {
		e := &x.ents[i]
		if e.off == freeEntry {
			continue
		}
		off := uint64(len(slab))
		slab = append(slab, x.slab[e.off:e.off+uint64(e.klen)]...)
		e.off = off
	}
	x.slab, x.dead = slab, 0
}
