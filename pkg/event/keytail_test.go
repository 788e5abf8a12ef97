package event

import (
	"reflect"
	"testing"
)

// A plain key read where fewer than eight bytes of input follow it is read
// by the fast path as anywhere else: Debug's plain-keys flag does not depend
// on how close to the end of the input the key is, nor on whether a Reader
// remembered its token (FuzzDecode's input d918e71268f1d972: the shared
// cache's remembered token said plain, the scanner alone said slow).
func TestPlainKeyNearTheEnd(t *testing.T) {
	for _, tail := range []string{`{"":0}}}`, `{"a":0}}}`, `{"Ab":0}}}`, `{"":"0"}}}`} {
		raw := minimal(`"debugContext":{"debugData":` + tail[:len(tail)-1])
		ev, err := Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if !ev.Debug.plainKeys {
			t.Errorf("%s: a plain key near the end of the input marked the keys not plain", raw)
		}
		// the same event through a cache primed with the same member
		// read far from the end agrees field for field
		cache := newStrCache()
		var primed Event
		if err := decodeInto(&primed, minimal(`"debugContext":{"debugData":`+tail[:len(tail)-3]+`,"zzzzzzzzzzzzzzzz":1}}`), cache); err != nil {
			t.Fatal(err)
		}
		var cached Event
		if err := decodeInto(&cached, raw, cache); err != nil || !reflect.DeepEqual(cached, ev) {
			t.Fatalf("%s: with the cache %+v, %v; without %+v", raw, cached.Debug, err, ev.Debug)
		}
	}
	// an escaped or non-ASCII key near the end still takes the slow path
	for _, tail := range []string{`{"\u0041":0}}`, `{"é":0}}`} {
		raw := minimal(`"debugContext":{"debugData":` + tail)
		ev, err := Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if ev.Debug.plainKeys {
			t.Errorf("%s: an escaped or non-ASCII key marked plain", raw)
		}
	}
}

// TestPlainKeyBeforeNonASCII: a plain key is plain whatever follows its
// closing quote in the same 8-byte word (a non-ASCII value), as it is when
// a Reader remembered its token; a non-ASCII byte inside the key is not.
func TestPlainKeyBeforeNonASCII(t *testing.T) {
	for _, c := range []struct {
		debugData string
		plain     bool
	}{
		{`{"":"é","b":1}`, true},
		{`{"ab":"\u00e9é","c":1}`, true},
		{`{"abcdefghij":"é","c":1}`, true},
		{`{"abcdefghij":1,"x":"é"}`, true},
		{`{"abé":1}`, false},
		{`{"abcdefghié":1}`, false},
	} {
		ev, err := Decode(minimal(`"debugContext":{"debugData":` + c.debugData + `}`))
		if err != nil {
			t.Fatalf("%s: %v", c.debugData, err)
		}
		if ev.Debug.plainKeys != c.plain {
			t.Errorf("%s: plain keys %v, want %v", c.debugData, ev.Debug.plainKeys, c.plain)
		}
	}
}
