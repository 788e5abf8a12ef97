package event

import "bytes"

// A Reader remembers the order of an event's top-level keys, and of the
// members of debugData (per event type), transaction and debugContext, as
// the input wrote them: an export writes every event's members in the same order,
// and finding the next key among the last event's bytes costs one compare,
// where reading it (the comma, the quotes, lower-casing it a word at a
// time, the colon, then a switch on the lower-cased key) cost several
// times more on every member of every event.
//
// Exactness: a member's key token, the bytes from the scanner's position
// after the previous member's value up to its value (its comma, the key,
// the colon, the blanks around them), decides alone what scanner.next
// reads there, and the member's index decides whether a comma is expected
// (none before the first member only). So where the input at member m
// starts with the bytes of member m's token in an earlier event, next
// would read the same key, lower-cased the same; the one check next makes
// past the token (that the input goes on after it) is made here too.

// topKey names a top-level member of a LogEvent (keyOther: one the decoder
// skips).
type topKey uint8

const (
	keyOther topKey = iota
	keyUUID
	keyPublished
	keyEventType
	keyVersion
	keySeverity
	keyLegacyEventType
	keyDisplayMessage
	keyActor
	keyClient
	keyDevice
	keyOutcome
	keyTarget
	keyTransaction
	keyDebugContext
	keyAuthContext
	keySecurityContext
	keyRequest
)

// topKeyOf returns the top-level member named by lk, a lower-cased key.
func topKeyOf(lk []byte) topKey {
	switch string(lk) {
	case "uuid":
		return keyUUID
	case "published":
		return keyPublished
	case "eventtype":
		return keyEventType
	case "version":
		return keyVersion
	case "severity":
		return keySeverity
	case "legacyeventtype":
		return keyLegacyEventType
	case "displaymessage":
		return keyDisplayMessage
	case "actor":
		return keyActor
	case "client":
		return keyClient
	case "device":
		return keyDevice
	case "outcome":
		return keyOutcome
	case "target":
		return keyTarget
	case "transaction":
		return keyTransaction
	case "debugcontext":
		return keyDebugContext
	case "authenticationcontext":
		return keyAuthContext
	case "securitycontext":
		return keySecurityContext
	case "request":
		return keyRequest
	}
	return keyOther
}

// maxOrderKeys bounds the members whose key tokens a keyOrder remembers
// (a LogEvent has about 20), and maxKeyToken a token's length (a key of
// the decoder is at most 48 bytes; longer tokens are not remembered).
const (
	maxOrderKeys = 32
	maxKeyToken  = 64
)

// keyOrder is the key tokens of the last event's members, by index.
type keyOrder struct {
	toks [maxOrderKeys]keyToken
	hits int // members read from a remembered token (for the tests)
}

type keyToken struct {
	b   []byte // the token (an owned copy); empty: none
	id  uint8
	lk  [48]byte // the key, lower-cased (scanner.keyArr), and its length
	lkn int
}

// match returns the length of member m's remembered token when b starts
// with it, else 0. o may be nil (no Reader).
func (o *keyOrder) match(m int, b []byte) int {
	if o == nil || m >= maxOrderKeys {
		return 0
	}
	t := o.toks[m].b
	if len(t) == 0 || !bytes.HasPrefix(b, t) {
		return 0
	}
	o.hits++
	return len(t)
}

// note remembers tok, the key token of member m, with its key's id. o may
// be nil.
func (o *keyOrder) note(m int, tok []byte, id uint8) {
	if o == nil || m >= maxOrderKeys {
		return
	}
	t := &o.toks[m]
	if len(tok) > maxKeyToken {
		t.b = t.b[:0]
		return
	}
	t.b = append(t.b[:0], tok...)
	t.id = id
}

// Orders of nested objects a Reader remembers (memos.nested).
const (
	orderTransaction = iota
	orderDebugContext
	numNestedOrders
)

// debugOrderBits: debugData's members differ by event type; a Reader
// keeps 1<<debugOrderBits orders of them, picked by the event type.
const debugOrderBits = 4

// nextKnown is scanner.next for member m of an object whose key tokens o
// remembers (nil: none): a member whose token is the remembered one takes
// its key from there; another is read by next and remembered. A key read
// by lowerKey's slow path (escapes, non-ASCII) is not remembered, so
// keySlow is set by every such key as before.
func (s *scanner) nextKnown(first *bool, o *keyOrder, m int) (bool, error) {
	if n := o.match(m, s.b[s.i:]); n > 0 {
		t := &o.toks[m]
		s.i += n
		*first = false
		s.keyArr, s.keyLen = t.lk, t.lkn
		if s.peek() == 0 {
			return false, s.eof()
		}
		return true, nil
	}
	from, slow := s.i, s.keySlow
	s.keySlow = false
	ok, err := s.next(first)
	if ok && err == nil && !s.keySlow {
		o.noteKey(m, s.b[from:s.i], s)
	}
	s.keySlow = s.keySlow || slow
	return ok, err
}

// noteKey remembers tok, the key token of member m, with the key s read.
func (o *keyOrder) noteKey(m int, tok []byte, s *scanner) {
	if o == nil || m >= maxOrderKeys {
		return
	}
	o.note(m, tok, 0)
	o.toks[m].lk, o.toks[m].lkn = s.keyArr, s.keyLen
}

// order returns the Reader's remembered key order of a nested object
// (orderTransaction, ...), nil outside a Reader.
func (d *decoder) order(k int) *keyOrder {
	if d.s.cache == nil || d.s.cache.memo == nil {
		return nil
	}
	return &d.s.cache.memo.nested[k]
}

// debugOrder returns the Reader's remembered order of debugData's members
// for events of type typ, nil outside a Reader.
func (d *decoder) debugOrder(typ string) *keyOrder {
	if d.s.cache == nil || d.s.cache.memo == nil {
		return nil
	}
	return &d.s.cache.memo.debug[typeHash(typ)>>(64-debugOrderBits)]
}
