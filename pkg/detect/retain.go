package detect

import (
	"encoding/json"
	"net/netip"
)

// Detector state keeps event strings as they are: pkg/event gives every
// string field its own allocation (or a shared interned constant), never a
// slice of the raw JSON, so a kept string pins only itself. What state
// packs is what it keeps a lot of: uuids (makeEventID, 16 bytes) and
// low-cardinality labels (labels.id, 4 bytes).

// eventID is an event uuid kept in detector state. The canonical
// 36-character lowercase form ("8-4-4-4-12" hex digits) is packed into b
// (16 bytes, no allocation); any other uuid is kept as it is in s.
type eventID struct {
	b [16]byte
	s string
}

const hexDigits = "0123456789abcdef"

// uuidDigits are the offsets of the 32 hex digits in a canonical uuid.
var uuidDigits = func() (o [32]uint8) {
	n := 0
	for i := 0; i < 36; i++ {
		if i != 8 && i != 13 && i != 18 && i != 23 {
			o[n] = uint8(i)
			n++
		}
	}
	return o
}()

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func makeEventID(s string) eventID {
	var id eventID
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		ok := true
		for i := 0; i < 16 && ok; i++ {
			hi, ok1 := unhex(s[uuidDigits[2*i]])
			lo, ok2 := unhex(s[uuidDigits[2*i+1]])
			id.b[i] = hi<<4 | lo
			ok = ok1 && ok2
		}
		if ok && id.b != [16]byte{} {
			return id
		}
	}
	return eventID{s: s}
}

// String returns the uuid as it was in the event ("" for the zero value;
// the all-zero canonical uuid is kept as a string, so it round-trips).
func (id eventID) String() string {
	if id.s != "" || id.b == [16]byte{} {
		return id.s
	}
	var out [36]byte
	for i := 0; i < 16; i++ {
		out[uuidDigits[2*i]] = hexDigits[id.b[i]>>4]
		out[uuidDigits[2*i+1]] = hexDigits[id.b[i]&15]
	}
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

func (id eventID) isZero() bool { return id == eventID{} }

// MarshalJSON / UnmarshalJSON keep the persisted form a plain string.
func (id eventID) MarshalJSON() ([]byte, error) { return json.Marshal(id.String()) }

func (id *eventID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*id = makeEventID(s)
	return nil
}

// labels interns low-cardinality strings (cities, operating systems) to
// 32-bit ids shared by every user's state; id 0 is "". The vocabulary
// comes from Okta's geolocation and user-agent parsing, so it stays small.
type labels struct {
	names []string
	ids   map[string]uint32
}

func (l *labels) id(s string) uint32 {
	if s == "" {
		return 0
	}
	if id, ok := l.ids[s]; ok {
		return id
	}
	if l.ids == nil {
		l.ids = map[string]uint32{}
		l.names = []string{""}
	}
	id := uint32(len(l.names)) // #nosec G115 -- one name per distinct label: 2^32 labels do not fit in memory long before
	l.names = append(l.names, s)
	l.ids[s] = id
	return id
}

func (l *labels) name(id uint32) string {
	if int(id) >= len(l.names) {
		return ""
	}
	return l.names[id]
}

// packedIP is an IP address kept in detector state. An address in its
// canonical text form (what netip prints: every IPv4 dotted quad without
// leading zeros, IPv6 compressed and lower-case, no zone) is packed into
// a (16 bytes, n its length: 4 or 16, no allocation for the collector to
// mark); any other text is kept as it is in s.
type packedIP struct {
	a [16]byte
	n uint8
	s string
}

func makePackedIP(s string) packedIP {
	x, err := netip.ParseAddr(s)
	if err != nil || x.Zone() != "" {
		return packedIP{s: s}
	}
	var buf [64]byte
	if string(x.AppendTo(buf[:0])) != s {
		return packedIP{s: s}
	}
	if x.Is4() {
		return packedIP{a: x.As16(), n: 4}
	}
	return packedIP{a: x.As16(), n: 16}
}

func (p *packedIP) addr() netip.Addr {
	if p.n == 4 {
		return netip.AddrFrom16(p.a).Unmap()
	}
	return netip.AddrFrom16(p.a)
}

// String returns the address as it was in the event.
func (p *packedIP) String() string {
	if p.n == 0 {
		return p.s
	}
	return p.addr().String()
}

// is reports whether the address is s (no allocation).
func (p *packedIP) is(s string) bool {
	if p.n == 0 {
		return p.s == s
	}
	var buf [64]byte
	return string(p.addr().AppendTo(buf[:0])) == s
}

// same24 is same24(s, p.String()) without building the string.
func (p *packedIP) same24(s string) bool {
	if p.n == 0 {
		return same24(s, p.s)
	}
	x, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	return samePrefix(x, p.addr())
}
