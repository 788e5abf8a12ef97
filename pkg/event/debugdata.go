package event

import (
	"bytes"
	"encoding/json"
)

// Value returns debugData's member key (exact key; the last one when the
// key repeats), decoded as encoding/json decodes into an any, and whether
// it is present. The result is freshly decoded: callers may keep it.
func (d *Debug) Value(key string) (any, bool) {
	if d.data != nil {
		v, ok := d.data[key]
		return v, ok
	}
	s, ok := d.find(key)
	if !ok {
		return nil, false
	}
	v, err := s.value(1, true)
	if err != nil {
		return nil, false
	}
	return v, true
}

// Str returns debugData's member key when it is a string, else "".
func (d *Debug) Str(key string) string {
	if d.data != nil {
		v, _ := d.data[key].(string)
		return v
	}
	s, ok := d.find(key)
	if !ok || s.peek() != '"' {
		return ""
	}
	b, err := s.rawString()
	if err != nil {
		return ""
	}
	return intern(b, nil)
}

// Data returns debugData as a map (nil when the event had none): a new map
// on each call, which the caller may keep or change.
func (d *Debug) Data() map[string]any {
	if d.data != nil {
		m := make(map[string]any, len(d.data))
		for k, v := range d.data {
			m[k] = v
		}
		return m
	}
	if len(d.raw) == 0 {
		return nil
	}
	s := scanner{b: d.raw}
	v, err := s.value(1, true)
	if err != nil {
		return nil
	}
	m, _ := v.(map[string]any)
	return m
}

// SetData sets debugData (for events built in code; the typed fields are
// not derived from it). nil removes it.
func (d *Debug) SetData(m map[string]any) {
	d.raw = nil
	d.data = m
}

// find returns a scanner over the kept debugData JSON sitting on the value
// of its last member named key (exact, after unescaping), and whether
// there is one.
func (d *Debug) find(key string) (scanner, bool) {
	s := scanner{b: d.raw}
	if len(d.raw) == 0 || s.peek() != '{' {
		return s, false
	}
	// Keys written as is (the decoder saw no escape in any): when no
	// member's key has the key's bit, or the key's text is nowhere in the
	// JSON, the member is absent (most lookups), without a scan.
	if kb := keyBitString(key); d.plainKeys && (d.keyBits&kb != kb || !containsString(d.raw, key)) {
		return s, false
	}
	s.objStart()
	at := -1
	first := true
	for {
		c := s.peek()
		if c == '}' {
			break
		}
		if !first {
			if c != ',' {
				return s, false
			}
			s.i++
		}
		first = false
		k, err := s.rawString()
		if err != nil {
			return s, false
		}
		match := string(k) == key
		if s.peek() != ':' {
			return s, false
		}
		s.i++
		if match {
			at = s.i
		}
		if err := s.skip(); err != nil {
			return s, false
		}
	}
	if at < 0 {
		return s, false
	}
	s.i = at
	return s, true
}

// keyBit is a two-bit summary of a debugData key (lower-cased, as the
// decoder's scanner reads keys): the decoder ORs the bits of every member
// into Debug.keyBits, so that a lookup of a key whose bits are not both
// there knows the member is absent without searching the JSON. It looks
// at the length and three bytes only: a filter, never the answer. (With
// one bit, a rule's lookup of an absent key on every event met a common
// key's bit in most events and searched the JSON each time.)
func keyBit(lk []byte) uint64 {
	n := len(lk)
	if n == 0 {
		return 1
	}
	h := uint64(n)*0x9e3779b97f4a7c15 ^ uint64(lk[0])*0xc2b2ae3d27d4eb4f ^
		uint64(lk[n/2])*0x165667b19e3779f9 ^ uint64(lk[n-1])*0xbf58476d1ce4e5b9
	return 1<<(h>>58) | 1<<(h>>52&63)
}

// keyBitString is keyBit of key lower-cased (ASCII). A key with other
// bytes gets every bit: no member can have written it as is.
func keyBitString(key string) uint64 {
	n := len(key)
	if n == 0 {
		return 1
	}
	var b [3]byte
	for i, j := range [3]int{0, n / 2, n - 1} {
		c := key[j]
		if c >= 0x80 {
			return ^uint64(0)
		}
		b[i] = c | lowerBit[c]
	}
	h := uint64(n)*0x9e3779b97f4a7c15 ^ uint64(b[0])*0xc2b2ae3d27d4eb4f ^
		uint64(b[1])*0x165667b19e3779f9 ^ uint64(b[2])*0xbf58476d1ce4e5b9
	return 1<<(h>>58) | 1<<(h>>52&63)
}

// containsString reports whether s occurs in b, without allocating.
func containsString(b []byte, s string) bool {
	var buf [64]byte
	if len(s) > len(buf) {
		return bytes.Contains(b, []byte(s))
	}
	n := copy(buf[:], s)
	return bytes.Contains(b, buf[:n])
}

// debugJSON is Debug's fields without its methods.
type debugJSON Debug

// MarshalJSON writes debugData under "Data" (an object or null) next to the
// parsed fields: the shape Debug had when debugData was a map field, so
// saved events (a detection engine's reorder buffer) read back either way.
func (d Debug) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Data map[string]any
		debugJSON
	}{d.Data(), debugJSON(d)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Debug) UnmarshalJSON(b []byte) error {
	var x struct {
		Data map[string]any
		debugJSON
	}
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*d = Debug(x.debugJSON)
	d.raw, d.data = nil, x.Data
	return nil
}
