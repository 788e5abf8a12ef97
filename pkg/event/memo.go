package event

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
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

// memoSlots is the size of each memo table (direct-mapped).
const (
	memoBits  = 11
	memoSlots = 1 << memoBits
)

// maxMemo bounds the bytes of a remembered value.
const maxMemo = 4096

type memoSlot[T any] struct {
	b []byte // the value's JSON (an owned copy)
	v T
}

// memoTable maps the JSON of one kind of sub-object to its decoded value.
type memoTable[T any] struct {
	slots [memoSlots]memoSlot[T]
}

// memos are a Reader's memo tables, one per kind of sub-object.
type memos struct {
	seed     maphash.Seed
	actor    memoTable[Actor]
	client   memoTable[Client]
	outcome  memoTable[Outcome]
	auth     memoTable[AuthContext]
	security memoTable[SecurityContext]
	ipChain  memoTable[[]IPChainEntry]
	targets  memoTable[[]Target]
}

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
	i := int(maphash.Bytes(m.seed, b[:n]) & (memoSlots - 1))
	e := &t.slots[i]
	if len(e.b) == n && bytes.Equal(e.b, b[:n]) {
		return &e.v, memoProbe{i, n}
	}
	return nil, memoProbe{i, n}
}

// store remembers v, decoded from b, at the probed slot when b is what the
// probe measured.
func (t *memoTable[T]) store(p memoProbe, b []byte, v T) {
	if p.slot < 0 || len(b) != p.n {
		return
	}
	e := &t.slots[p.slot]
	e.b = append(e.b[:0], b...)
	e.v = v
}

// valueEnd returns the length of the JSON object or array that b starts
// with, found by tracking strings and bracket depth only (no validation:
// a lookup only ever matches bytes that decoded without an error), or -1
// when b does not start with one or ends first.
func valueEnd(b []byte) int {
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return -1
	}
	depth := 0
	i := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i++
			// to the closing quote, 8 bytes at a time while none is '"'
			// or '\\'
			for {
				for i+8 <= len(b) {
					x := binary.LittleEndian.Uint64(b[i:])
					if m := hasZero(x^(lsb*'"')) | hasZero(x^(lsb*'\\')); m != 0 {
						i += bits.TrailingZeros64(m) / 8 // the lowest flag is exact
						break
					}
					i += 8
				}
				for i < len(b) && b[i] != '"' && b[i] != '\\' {
					i++
				}
				if i >= len(b) {
					return -1
				}
				if b[i] == '"' {
					i++
					break
				}
				i += 2 // an escape: skip the escaped byte
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

// memoized decodes the value at the scanner (an object or array: anything
// else goes straight to decode) with decode, or takes it from t: take
// copies a remembered value to its destination, get returns the freshly
// decoded one to remember (ok false: do not remember it).
func memoized[T any](d *decoder, t *memoTable[T], decode func() error, take func(*T), get func() (T, bool)) error {
	s := &d.s
	if c := s.peek(); c != '{' && c != '[' {
		return decode()
	}
	start := s.i
	v, p := t.lookup(s.cache.memo, s.b[start:])
	if v != nil {
		take(v)
		s.i = start + p.n
		return nil
	}
	nd := len(d.degraded)
	if err := decode(); err != nil {
		return err
	}
	if len(d.degraded) == nd {
		if x, ok := get(); ok {
			t.store(p, s.b[start:s.i], x)
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
// when this is the member's first occurrence; keep says whether a decoded
// value may be remembered (nil: always).
func memoStruct[T any](d *decoder, o *memoOnce, bit memoOnce, t func(*memos) *memoTable[T], dst *T, decode func(*T) error, keep func(*T) bool) error {
	if !d.first(o, bit) {
		return decode(dst)
	}
	return memoized(d, t(d.s.cache.memo),
		func() error { return decode(dst) },
		func(v *T) { *dst = *v },
		func() (T, bool) { return *dst, keep == nil || keep(dst) })
}

func (d *decoder) memoActor(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceActor, func(m *memos) *memoTable[Actor] { return &m.actor }, &ev.Actor, d.actor,
		func(a *Actor) bool { return a.Detail == nil }) // a map is never shared
}

func (d *decoder) memoClient(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceClient, func(m *memos) *memoTable[Client] { return &m.client }, &ev.Client, d.client, nil)
}

func (d *decoder) memoOutcome(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceOutcome, func(m *memos) *memoTable[Outcome] { return &m.outcome }, &ev.Outcome, d.outcome, nil)
}

func (d *decoder) memoAuth(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceAuth, func(m *memos) *memoTable[AuthContext] { return &m.auth }, &ev.Auth, d.authContext, nil)
}

func (d *decoder) memoSecurity(ev *Event, o *memoOnce) error {
	return memoStruct(d, o, onceSecurity, func(m *memos) *memoTable[SecurityContext] { return &m.security }, &ev.Security, d.securityContext, nil)
}

// memoRequest remembers the ipChain entries the request object adds; each
// event gets its own copy.
func (d *decoder) memoRequest(ev *Event, o *memoOnce) error {
	if !d.first(o, onceRequest) || len(ev.IPChain) > 0 {
		return d.request(ev)
	}
	return memoized(d, &d.s.cache.memo.ipChain,
		func() error { return d.request(ev) },
		func(v *[]IPChainEntry) { ev.IPChain = append(ev.IPChain, *v...) },
		func() ([]IPChainEntry, bool) { return append([]IPChainEntry(nil), ev.IPChain...), true })
}

// memoTargets remembers the target array; each event gets a deep copy.
func (d *decoder) memoTargets(ev *Event, o *memoOnce) error {
	if !d.first(o, onceTarget) {
		return d.targets(ev)
	}
	return memoized(d, &d.s.cache.memo.targets,
		func() error { return d.targets(ev) },
		func(v *[]Target) { ev.Targets = cloneTargets(*v) },
		func() ([]Target, bool) { return cloneTargets(ev.Targets), true })
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
