package event

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// TestReaderCacheSameEvents: a Reader, which shares strings through its
// cache and remembers decoded sub-objects (memo.go), returns exactly what
// Decode returns for each event: every sample is read three times over, so
// that the second and third reads take the client, actor, outcome,
// contexts, ipChain and targets from the memo tables. Values the memo must
// not share or must not apply to — an actor with a detailEntry map, a
// repeated key merging into the first, a degraded member, a value that
// differs in its last byte — decode as without it, and no event shares
// its ipChain or a map with another.
func TestReaderCacheSameEvents(t *testing.T) {
	names, lines := sampleLines(t)
	var in bytes.Buffer
	var want []Event
	add := func(raw []byte) {
		ev, err := Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		in.Write(raw)
		in.WriteByte('\n')
		want = append(want, ev)
	}
	for range 3 {
		for _, n := range names {
			add(lines[n])
		}
		add(minimal(`"actor":{"id":"00u1","type":"User","detailEntry":{"k":"v"}}`))
		add(minimal(`"client":{"ipAddress":"198.51.100.7","zone":"null"},"client":{"device":"Computer"}`))
		add(minimal(`"client":{"ipAddress":"198.51.100.7","zone":"null"}`))
		add(minimal(`"client":{"ipAddress":"198.51.100.8","zone":"null"}`))
		add(minimal(`"outcome":{"result":"SUCCESS","reason":7}`))
		add(minimal(`"outcome":{"result":"SUCCESS","reason":"x\"}"}`))
		add(minimal(`"request":{"ipChain":[{"ip":"198.51.100.7","geographicalContext":{"city":"Paris","geolocation":{"lat":48.8,"lon":2.3}}}]}`))
		add(minimal(`"request":{"ipChain":[{"ip":"198.51.100.7"}]},"request":{"ipChain":[{"ip":"198.51.100.9"}]}`))
		add(minimal(`"securityContext":{"asNumber":64500,"isProxy":"yes"}`))
		add(minimal(`"target":[{"id":"0oa1","detailEntry":{"a":{"b":[1,{"c":"d"}]},"e":[]}},{"id":"00u2","changeDetails":{"from":{"x":1},"to":{}}},null]`))
		add(minimal(`"target":[]`))
	}
	r := NewReader(&in)
	var got []Event
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("event %d: %v", len(got), err)
		}
		got = append(got, ev)
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("event %d (%s) through the Reader:\n%+v\nDecode:\n%+v", i, want[i].UUID, got[i], want[i])
		}
	}
	// every event has its own ipChain and target maps: a mark set in one
	// is never found in another
	for i := range got {
		for j := range got[i].IPChain {
			if got[i].IPChain[j].IP == "marked" {
				t.Fatalf("event %d shares its ipChain", i)
			}
			got[i].IPChain[j].IP = "marked"
		}
		maps := []map[string]any{got[i].Actor.Detail}
		for _, tg := range got[i].Targets {
			maps = append(maps, tg.Detail, changeMap(tg, true), changeMap(tg, false))
		}
		for _, m := range maps {
			if m == nil {
				continue
			}
			if _, ok := m["marked"]; ok {
				t.Fatalf("event %d shares an actor or target map", i)
			}
			m["marked"] = i
		}
	}
	hits := 0
	m := r.cache.memo
	for _, e := range m.client.slots {
		if len(e.b) > 0 {
			hits++
		}
	}
	if hits == 0 {
		t.Fatal("no client remembered: the memo path was not taken")
	}
}

// TestValueEnd: the end of an object or array is found past strings with
// brackets and escapes in them, at any alignment of the 8-byte scan.
func TestValueEnd(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{`{}`, 2},
		{`[]x`, 2},
		{`{"a":"}"}`, 9},
		{`{"a":"\"}"},"b":1}`, 11},
		{`{"a":"\\"}rest`, 10},
		{`{"long key with brackets ]]] }}}":[1,{"x":"y\\\""}]},`, 52},
		{`{"a":"b"`, -1},
		{`{"a":"b\`, -1},
		{`"str"`, -1},
		{``, -1},
	} {
		for pad := 0; pad < 9; pad++ {
			// pad spaces after the first byte move the strings against
			// the 8-byte scan
			in, want := c.in, c.want
			if len(in) > 0 && pad > 0 {
				in = in[:1] + strings.Repeat(" ", pad) + in[1:]
				if want > 0 {
					want += pad
				}
			}
			if got := valueEnd([]byte(in)); got != want {
				t.Errorf("valueEnd(%q) = %d, want %d", in, got, want)
			}
		}
	}
}

func changeMap(t Target, from bool) map[string]any {
	if t.ChangeDetails == nil {
		return nil
	}
	if from {
		return t.ChangeDetails.From
	}
	return t.ChangeDetails.To
}
