package event

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"maps"
	"math/bits"
)

// A Reader remembers the sub-objects it decoded by their exact JSON bytes:
// the client, actor, outcome, authentication and security contexts and the
// request's ipChain of one user's events repeat byte for byte (a generated
// month: 1 718 distinct client objects in 126 365 events, 1 450 ipChains,
// 327 actors, 46 security contexts; about half an event's bytes), and
// finding a value's end, hashing it and comparing it with the remembered
// bytes costs a fraction of decoding it (keys lower-cased and switched on,
// strings looked up in the string cache, numbers parsed).
//
// Exactness: a remembered value is the result of decoding its bytes into
// the zero value, without an error and without a degraded field, in this
// same decoder; decoding is a function of the bytes, and a JSON object or
// array is self-delimiting (no complete object is a proper prefix of
// another), so input that starts with the remembered bytes holds exactly
// that value there and decodes to it. Values with maps (an actor's
// detailEntry) are not remembered. The
// ipChain and the targets are copied out, the targets' detail maps deeply
// (a slice or map is never shared between events). FuzzDecode
// holds a Reader's cache to the same events and errors as Decode.

// memoBits is the size of each memo table (direct-mapped, 1<<memoBits
// slots) but the targets'. targetMemoBits is the targets' table: a
// generated month has 4 674 distinct target arrays in 101 439 (most of
// them the same few per user and event type), and in 2 048 slots they
// evicted one another: 38 % of lookups missed (each decoded, then copied
// for the table), 11 % in 16 384 slots (a hint row holds a uint16).
const (
	memoBits       = 11
	targetMemoBits = 14
)

// maxMemo bounds the bytes of a remembered value.
const maxMemo = 4096

type memoSlot[T any] struct {
	b []byte // the value's JSON (an owned copy)
	v T
}

// memoTable maps the JSON of one kind of sub-object to its decoded value.
type memoTable[T any] struct {
	slots []memoSlot[T] // a power of two
}

func newMemoTable[T any](bits int) memoTable[T] {
	return memoTable[T]{slots: make([]memoSlot[T], 1<<bits)}
}

// newMemos returns empty memo tables with the given hash seed.
func newMemos(seed maphash.Seed) *memos {
	return &memos{seed: seed,
		actor:    newMemoTable[Actor](memoBits),
		client:   newMemoTable[Client](memoBits),
		outcome:  newMemoTable[Outcome](memoBits),
		auth:     newMemoTable[AuthContext](memoBits),
		security: newMemoTable[SecurityContext](memoBits),
		ipChain:  newMemoTable[[]IPChainEntry](memoBits),
		targets:  newMemoTable[memoTargetList](targetMemoBits),
	}
}

// memos are a Reader's memo tables, one per kind of sub-object, and their
// hints.
type memos struct {
	seed     maphash.Seed
	actor    memoTable[Actor]
	client   memoTable[Client]
	outcome  memoTable[Outcome]
	auth     memoTable[AuthContext]
	security memoTable[SecurityContext]
	ipChain  memoTable[[]IPChainEntry]
	targets  memoTable[memoTargetList]
	hints    [numHintKinds][hintSlots]hintRow
	hintHits int      // values found through a hint (for the tests)
	top      keyOrder // the top-level members' key tokens (keys.go)
	nested   [numNestedOrders]keyOrder
	debug    [1 << debugOrderBits]keyOrder
}

// Hints: a lookup by the value's bytes must first find where the value
// ends (a scan of every byte, tracking strings and bracket depth), then
// hash and compare them. But a user's events repeat the client, the
// security context and the ipChain of the user's previous event (a
// generated month: 95 to 98 % of events) and often the authentication
// context (72 % one of the last two) and, per event type, the targets: so
// each kind of sub-object keeps, per context (the event's actor, as the
// slot its bytes hash to in the actor table; for the targets also the
// event type), the table slots of the values it last took, most recent
// first. A hinted slot whose remembered bytes start the input is the
// value there (the same exactness as a lookup: the remembered bytes are a
// whole JSON value that decoded without error), found with one compare
// and without the scan; a hint that does not match costs a compare that
// stops at the first differing byte, and the lookup by bytes follows.
const (
	hintBits  = 12
	hintSlots = 1 << hintBits
	hintWays  = 4
)

// Kinds of sub-objects with hints (the actor is their context; its own
// hints are by its first bytes, see actorHints).
const (
	hintActor = iota
	hintClient
	hintOutcome
	hintAuth
	hintSecurity
	hintIPChain
	hintTargets
	numHintKinds
)

// hintRow holds memo table slots plus one (0: none), most recent first.
type hintRow [hintWays]uint16

// a hint row holds any slot of the largest table
const _ uint16 = 1 << max(memoBits, targetMemoBits)

// push makes slot the row's most recent entry.
func (h *hintRow) push(slot int) {
	v := uint16(slot + 1) // #nosec G115 -- slot < 1<<memoBits, which fits uint16 (the constant assertion above)
	i := 0
	for i < hintWays-1 && h[i] != v {
		i++
	}
	copy(h[1:i+1], h[:i])
	h[0] = v
}

// hinted returns the remembered value of a slot in h whose bytes start b,
// with its length and slot, making that slot the most recent.
func (t *memoTable[T]) hinted(h *hintRow, b []byte) (*T, int, int) {
	for w, v := range h {
		if v == 0 {
			break
		}
		e := &t.slots[v-1]
		n := len(e.b)
		if n > 0 && n <= len(b) && bytes.Equal(e.b, b[:n]) {
			if w > 0 {
				copy(h[1:w+1], h[:w])
				h[0] = v
			}
			return &e.v, n, int(v - 1)
		}
	}
	return nil, 0, -1
}

// hintRowFor returns the hint row of kind for the decoder's current
// context (d.hintCtx), mixed with extra.
func (d *decoder) hintRowFor(kind int, extra uint64) *hintRow {
	x := (d.hintCtx ^ extra) * 0x9e3779b97f4a7c15
	return &d.s.cache.memo.hints[kind][x>>(64-hintBits)]
}

// actorHints returns the actor's hint row: the actor is the context of
// the other kinds' hints, and has none of its own, but its first bytes
// (the id, as Okta writes it first) tell one actor's value from
// another's: the row of those bytes holds the slots of the actor values
// that started with them. Without it every event's actor was found by a
// lookup (a scan of its bytes to the end, a hash, a compare).
func (d *decoder) actorHints() *hintRow {
	b := d.s.b[d.s.i:]
	var x uint64
	if len(b) >= actorPrefix {
		a := (*[actorPrefix]byte)(b)
		x = binary.LittleEndian.Uint64(a[0:])*0x9e3779b97f4a7c15 ^
			binary.LittleEndian.Uint64(a[8:])*0xc2b2ae3d27d4eb4f ^
			binary.LittleEndian.Uint64(a[16:])*0x165667b19e3779f9 ^
			binary.LittleEndian.Uint64(a[24:])
	} else {
		for _, c := range b {
			x = (x ^ uint64(c)) * 0x100000001b3
		}
	}
	x *= 0xbf58476d1ce4e5b9
	return &d.s.cache.memo.hints[hintActor][x>>(64-hintBits)]
}

// actorPrefix is how many of an actor value's first bytes pick its hint
// row.
const actorPrefix = 32

// memoProbe is a lookup in a memo table: the slot the value's bytes hash
// to and their length (n < 0 when the value's end was not found).
type memoProbe struct {
	slot, n int
}

// lookup returns the remembered value whose JSON starts b, if any.
func (t *memoTable[T]) lookup(m *memos, b []byte) (*T, memoProbe) {
	n := valueEnd(b)
	if n < 0 || n > maxMemo {
		return nil, memoProbe{-1, -1}
	}
	i := int(maphash.Bytes(m.seed, b[:n]) & uint64(len(t.slots)-1)) // #nosec G115 -- masking a hash with the table size (a power of two): wrapping is intended
	e := &t.slots[i]
	if len(e.b) == n && bytes.Equal(e.b, b[:n]) {
		return &e.v, memoProbe{i, n}
	}
	return nil, memoProbe{i, n}
}

// store remembers v, decoded from b, at the probed slot when b is what the
// probe measured; it reports whether it did.
func (t *memoTable[T]) store(p memoProbe, b []byte, v T) bool {
	if p.slot < 0 || len(b) != p.n {
		return false
	}
	e := &t.slots[p.slot]
	e.b = append(e.b[:0], b...)
	e.v = v
	return true
}

// valueEnd returns the length of the JSON object or array that b starts
// with, found by tracking strings and bracket depth only (no validation:
// a lookup only ever matches bytes that decoded without an error), or -1
// when b does not start with one or ends first.
//
// It reads 8 bytes at a time: a word without a backslash is handled as a
// whole, from bit masks of its quotes and brackets (the bytes inside a
// string are those after an odd number of quotes, a prefix XOR of the
// quote flags); only a word with a backslash, a word whose closing
// brackets could end the value, and the last bytes go byte by byte
// (valueEndBytes).
func valueEnd(b []byte) int {
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return -1
	}
	var st endState
	i := 0
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i : i+8])
		if eqMask(x, '\\') != 0 {
			// escapes: byte by byte to the end of this word (an escape may
			// take the next word's first byte)
			if n := st.bytes(b, i, i+8); n >= 0 {
				return n
			}
			i = st.next
			continue
		}
		q := eqMask(x, '"')
		if st.inStr && q == 0 {
			i += 8 // inside a string throughout
			continue
		}
		y := x | lsb*0x20 // '[' -> '{', ']' -> '}'
		op, cl := eqMask(y, '{'), eqMask(y, '}')
		if op|cl != 0 {
			// bit 0 of each byte: an odd number of quotes up to and
			// including it in this word
			p := q >> 7
			p ^= p << 8
			p ^= p << 16
			p ^= p << 32
			in := p
			if st.inStr {
				in ^= lsb
			}
			out := ^in & lsb // bytes outside strings (a quote's own flag does not matter: it is no bracket)
			op = op >> 7 & out
			cl = cl >> 7 & out
			if nc := bits.OnesCount64(cl); nc < st.depth {
				st.depth += bits.OnesCount64(op) - nc
			} else if cl|op != 0 {
				// the value may end here: bracket by bracket, in order
				for m := op | cl; m != 0; m &= m - 1 {
					k := bits.TrailingZeros64(m)
					if op&(1<<k) != 0 {
						st.depth++
					} else if st.depth--; st.depth == 0 {
						return i + k/8 + 1
					}
				}
			}
		}
		if bits.OnesCount64(q)&1 != 0 {
			st.inStr = !st.inStr
		}
		i += 8
	}
	return st.bytes(b, i, len(b))
}

// endState is valueEnd's state between words: the bracket depth, whether
// a string is open, and where to go on after bytes.
type endState struct {
	depth int
	inStr bool
	next  int
}

// eqMask flags (top bit of each byte) the bytes of x equal to c, exactly
// (no borrow reaches another byte).
func eqMask(x uint64, c byte) uint64 {
	const low7 = lsb * 0x7f
	v := x ^ lsb*uint64(c)
	return ^((v&low7 + low7) | v | low7)
}

// bytes runs valueEnd's state machine over b[i:] byte by byte until at
// least limit: it returns the value's length if it ends there, else -1
// with st.next the first byte not yet read (past limit when an escape
// straddles it) — or -1 with st.next = len(b) when b ends first.
func (st *endState) bytes(b []byte, i, limit int) int {
	for i < limit && i < len(b) {
		c := b[i]
		if st.inStr {
			switch c {
			case '"':
				st.inStr = false
			case '\\':
				i++ // skip the escaped byte
			}
			i++
			continue
		}
		switch c {
		case '"':
			st.inStr = true
		case '{', '[':
			st.depth++
		case '}', ']':
			st.depth--
			if st.depth == 0 {
				return i + 1
			}
		}
		i++
	}
	st.next = i
	if i >= len(b) {
		st.next = len(b)
	}
	return -1
}

// memoized decodes the value at the scanner (an object or array: anything
// else goes straight to decode) with decode, or takes it from t: take
// copies a remembered value to its destination, get returns the freshly
// decoded one to remember (ok false: do not remember it).
//
// h, when not nil, is the hint row to try first and to update; on return
// d.probed is the slot of the value's bytes (-1 when unknown).
func memoized[T any](d *decoder, t *memoTable[T], h *hintRow, decode func() error, take func(*T), get func() (T, bool)) error {
	s := &d.s
	d.probed = -1
	if c := s.peek(); c != '{' && c != '[' {
		return decode()
	}
	start := s.i
	if h != nil {
		if v, n, slot := t.hinted(h, s.b[start:]); v != nil {
			take(v)
			s.i = start + n
			d.probed = slot
			s.cache.memo.hintHits++
			return nil
		}
	}
	v, p := t.lookup(s.cache.memo, s.b[start:])
	d.probed = p.slot
	if v != nil {
		take(v)
		s.i = start + p.n
		if h != nil {
			h.push(p.slot)
		}
		return nil
	}
	nd := len(d.degraded)
	if err := decode(); err != nil {
		return err
	}
	if len(d.degraded) == nd {
		if x, ok := get(); ok && t.store(p, s.b[start:s.i], x) && h != nil {
			h.push(p.slot)
		}
	}
	return nil
}

// memoOnce notes the members of one event decoded so far: a memo applies
// to a member's first occurrence only (a repeated key merges into what the
// first one decoded, which a remembered value would overwrite).
type memoOnce uint8

const (
	onceActor memoOnce = 1 << iota
	onceClient
	onceOutcome
	onceAuth
	onceSecurity
	onceRequest
	onceTarget
)

// first reports whether bit is not yet set in o, and sets it; it is false
// too when the decoder has no memo tables (outside a Reader).
func (d *decoder) first(o *memoOnce, bit memoOnce) bool {
	if *o&bit != 0 || d.s.cache == nil || d.s.cache.memo == nil {
		*o |= bit
		return false
	}
	*o |= bit
	return true
}

// memoStruct decodes a struct member into *dst with decode, through t
// when this is the member's first occurrence (trying the hints of kind
// first); keep says whether a decoded value may be remembered (nil:
// always).
func memoStruct[T any](d *decoder, o *memoOnce, bit memoOnce, kind int, t func(*memos) *memoTable[T], dst *T, decode func(*T) error, keep func(*T) bool) error {
	if !d.first(o, bit) {
		return decode(dst)
	}
	var h *hintRow
	if kind == hintActor {
		h = d.actorHints()
	} else {
		h = d.hintRowFor(kind, 0)
	}
	return memoized(d, t(d.s.cache.memo), h,
		func() error { return decode(dst) },
		func(v *T) { *dst = *v },
		func() (T, bool) { return *dst, keep == nil || keep(dst) })
}

// memoActor decodes the actor through its memo table; the slot of its
// bytes becomes the context of the event's hints.
func (d *decoder) memoActor(ev *Event, o *memoOnce) error {
	d.probed = -1
	err := memoStruct(d, o, onceActor, hintActor, func(m *memos) *memoTable[Actor] { return &m.actor }, &ev.Actor, d.actor,
		func(a *Actor) bool { return a.Detail == nil }) // a map is never shared
	if d.probed >= 0 {
		d.hintCtx = uint64(d.probed) + 1
	}
	return err
}

func (d *decoder) memoClient(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceClient, hintClient, func(m *memos) *memoTable[Client] { return &m.client }, &ev.Client, d.client, nil)
}

func (d *decoder) memoOutcome(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceOutcome, hintOutcome, func(m *memos) *memoTable[Outcome] { return &m.outcome }, &ev.Outcome, d.outcome, nil)
}

func (d *decoder) memoAuth(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceAuth, hintAuth, func(m *memos) *memoTable[AuthContext] { return &m.auth }, &ev.Auth, d.authContext, nil)
}

func (d *decoder) memoSecurity(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceSecurity, hintSecurity, func(m *memos) *memoTable[SecurityContext] { return &m.security }, &ev.Security, d.securityContext, nil)
}

// memoRequest remembers the ipChain entries the request object adds; each
// event gets its own copy.
func (d *decoder) memoRequest(ev *Event, o *memoOnce) error {
	if !d.first(o, onceRequest) || len(ev.IPChain) > 0 {
		return d.request(ev)
	}
	return memoized(d, &d.s.cache.memo.ipChain, d.hintRowFor(hintIPChain, 0),
		func() error { return d.request(ev) },
		func(v *[]IPChainEntry) { ev.IPChain = append(ev.IPChain, *v...) },
		func() ([]IPChainEntry, bool) { return append([]IPChainEntry(nil), ev.IPChain...), true })
}

// memoTargets remembers the target array; each event gets a deep copy. Its
// hints are per actor and event type (the event type, when it comes
// first, as Okta writes it).
func (d *decoder) memoTargets(ev *Event, o *memoOnce) error {
	if !d.first(o, onceTarget) {
		return d.targets(ev)
	}
	return memoized(d, &d.s.cache.memo.targets, d.hintRowFor(hintTargets, typeHash(ev.EventType)),
		func() error { return d.targets(ev) },
		func(v *memoTargetList) { ev.Targets = v.clone() },
		func() (memoTargetList, bool) {
			l := memoTargetList{ts: ev.Targets, flat: flatTargets(ev.Targets)}
			l.ts = l.clone()
			return l, true
		})
}

// memoTargetList is a remembered target array; flat: none of its maps
// holds a map or an array, so that a shallow copy of each map (maps.Clone,
// which copies a small map's memory at once) is a deep copy.
type memoTargetList struct {
	ts   []Target
	flat bool
}

func (l *memoTargetList) clone() []Target {
	if !l.flat {
		return cloneTargets(l.ts)
	}
	if l.ts == nil {
		return nil
	}
	out := make([]Target, len(l.ts))
	for i, t := range l.ts {
		out[i] = t
		if t.Detail != nil {
			out[i].Detail = maps.Clone(t.Detail)
		}
		if t.ChangeDetails != nil {
			out[i].ChangeDetails = &ChangeDetails{From: maps.Clone(t.ChangeDetails.From), To: maps.Clone(t.ChangeDetails.To)}
		}
	}
	return out
}

// flatTargets reports whether no map of ts holds a map or an array.
func flatTargets(ts []Target) bool {
	flat := func(m map[string]any) bool {
		for _, v := range m {
			switch v.(type) {
			case map[string]any, []any:
				return false
			}
		}
		return true
	}
	for _, t := range ts {
		if !flat(t.Detail) {
			return false
		}
		if t.ChangeDetails != nil && (!flat(t.ChangeDetails.From) || !flat(t.ChangeDetails.To)) {
			return false
		}
	}
	return true
}

// typeHash is a cheap hash of an event type for the targets' hints (its
// length and first and last 8 bytes: a hint, never the answer).
func typeHash(s string) uint64 {
	n := len(s)
	if n < 8 {
		var h uint64
		for i := 0; i < n; i++ {
			h = h<<8 | uint64(s[i])
		}
		return (h + uint64(n)) * 0xc2b2ae3d27d4eb4f
	}
	a := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 | uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	t := s[n-8:]
	b := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 | uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
	return (a*0xc2b2ae3d27d4eb4f ^ b + uint64(n)) * 0x165667b19e3779f9
}

// cloneTargets copies ts with its maps (nil stays nil, empty stays empty).
func cloneTargets(ts []Target) []Target {
	if ts == nil {
		return nil
	}
	out := make([]Target, len(ts))
	for i, t := range ts {
		out[i] = t
		if t.Detail != nil {
			out[i].Detail = cloneMap(t.Detail)
		}
		if t.ChangeDetails != nil {
			out[i].ChangeDetails = &ChangeDetails{From: cloneMap(t.ChangeDetails.From), To: cloneMap(t.ChangeDetails.To)}
		}
	}
	return out
}

// cloneMap deeply copies a decoded JSON object.
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneAny(v)
	}
	return out
}

func cloneAny(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneAny(e)
		}
		return out
	}
	return v // strings, numbers, booleans, nil: immutable
}
