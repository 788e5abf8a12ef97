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
	// every event has its own ipChain, target and behaviors maps: a mark
	// set in one is never found in another
	behaviors := 0
	for i := range got {
		for j := range got[i].IPChain {
			if got[i].IPChain[j].IP == "marked" {
				t.Fatalf("event %d shares its ipChain", i)
			}
			got[i].IPChain[j].IP = "marked"
		}
		maps := nestedMaps(nil, got[i].Actor.Detail)
		for _, tg := range got[i].Targets {
			maps = nestedMaps(maps, tg.Detail)
			maps = nestedMaps(maps, changeMap(tg, true))
			maps = nestedMaps(maps, changeMap(tg, false))
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
		if b := got[i].Debug.Behaviors; b != nil {
			if _, ok := b["marked"]; ok {
				t.Fatalf("event %d shares its behaviors map", i)
			}
			b["marked"] = "x"
			behaviors++
		}
	}
	if behaviors < 6 {
		t.Fatalf("%d events with behaviors: the samples lost them", behaviors)
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

// nestedMaps appends v's maps, v's own and those inside it, to out.
func nestedMaps(out []map[string]any, v any) []map[string]any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return out
		}
		out = append(out, x)
		for _, e := range x {
			out = nestedMaps(out, e)
		}
	case []any:
		for _, e := range x {
			out = nestedMaps(out, e)
		}
	}
	return out
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

// TestReaderMemoHints: values found through the hints (the slots of the
// values one actor's events last took, memo.go) are exactly what Decode
// gives, also when a hinted value is a prefix of the input's up to its
// last byte, when the input's value is longer, when the hinted slot was
// since taken by another value, when another actor or no actor comes
// first, and for the targets of two event types in turn.
func TestReaderMemoHints(t *testing.T) {
	actor := func(id string) string {
		return `"actor":{"id":"` + id + `","type":"User","alternateId":"` + id + `@example.com","displayName":"X"}`
	}
	client := func(ip, city string) string {
		return `"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0","os":"Linux","browser":"CHROME"},"zone":"null","ipAddress":"` + ip + `","geographicalContext":{"city":"` + city + `","country":"France","geolocation":{"lat":48.8,"lon":2.3}}}`
	}
	auth := func(sess string) string {
		return `"authenticationContext":{"authenticationProvider":null,"rootSessionId":"` + sess + `","externalSessionId":"` + sess + `"}`
	}
	target := func(id string) string {
		return `"target":[{"id":"` + id + `","type":"AppInstance","detailEntry":{"signOnModeType":"SAML_2_0"}}]`
	}
	ev := func(typ string, parts ...string) []byte {
		s := `{"uuid":"u","published":"2024-01-02T03:04:05.678Z","eventType":"` + typ + `"`
		for _, p := range parts {
			s += "," + p
		}
		return []byte(s + `}`)
	}
	a, b := actor("00u1"), actor("00u2")
	lines := [][]byte{
		ev("user.session.start", a, client("198.51.100.7", "Paris"), auth("s1")),
		ev("user.session.start", a, client("198.51.100.7", "Paris"), auth("s1")), // hints: client, auth
		ev("user.session.start", a, client("198.51.100.8", "Paris"), auth("s2")), // hinted values differ late
		ev("user.session.start", a, client("198.51.100.7", "Paris"), auth("s1")), // the second hint of each row
		ev("user.session.start", a, client("198.51.100.7", "Pariss"), auth("s1x")),
		ev("user.session.start", a, client("198.51.100.7", "Paris"), auth("s1")),
		ev("user.session.start", b, client("198.51.100.7", "Paris"), auth("s1")), // another actor: its own rows
		ev("user.session.start", client("198.51.100.7", "Paris"), a, auth("s1")), // client before the actor
		ev("user.session.start", client("198.51.100.7", "Paris"), a, auth("s1")),
		ev("user.authentication.sso", a, target("0oa1")),
		ev("policy.evaluate_sign_on", a, target("0oa2")),
		ev("user.authentication.sso", a, target("0oa1")), // per event type
		ev("policy.evaluate_sign_on", a, target("0oa2")),
		ev("policy.evaluate_sign_on", a, `"target":[{"id":"0oa2","type":"AppInstance","detailEntry":{"signOnModeType":"SAML_2_0"}},null]`),
		ev("policy.evaluate_sign_on", a, target("0oa2")),
	}
	r := readAsDecoded(t, lines, func(_ int, got, _ Event) {
		if len(got.Targets) > 0 {
			got.Targets[0].Detail["marked"] = true // a shared map would show in a later event
		}
	})
	if h := r.cache.memo.hintHits; h < 10 {
		t.Fatalf("%d values found through hints, want >= 10: the hint path was not taken", h)
	}
}

// valueEndBytewise is valueEnd's state machine one byte at a time (its
// form before it read words): the reference TestValueEndWords holds the
// word-at-a-time valueEnd to.
func valueEndBytewise(b []byte) int {
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return -1
	}
	depth, inStr := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// TestValueEndWords: valueEnd gives the byte-by-byte machine's answer for
// every object and array start in the sample events (each sub-value, cut
// short at every length too) and for random strings of JSON's structural
// bytes, escapes and letters (any input, valid or not).
func TestValueEndWords(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		if got, want := valueEnd(b), valueEndBytewise(b); got != want {
			t.Fatalf("valueEnd(%q) = %d, byte by byte %d", b, got, want)
		}
	}
	names, lines := sampleLines(t)
	starts := 0
	for _, n := range names {
		l := lines[n]
		for i := range l {
			if l[i] != '{' && l[i] != '[' {
				continue
			}
			starts++
			check(l[i:])
			if end := valueEndBytewise(l[i:]); end > 0 {
				for cut := 0; cut <= end && cut < 40; cut++ {
					check(l[i : i+end-cut])
				}
			}
		}
	}
	if starts < 100 {
		t.Fatalf("only %d object or array starts in the samples", starts)
	}
	const alphabet = `{}[]"\\ab:,`
	rnd := uint64(1)
	for range 100000 {
		rnd = rnd*6364136223846793005 + 1442695040888963407
		n := int(rnd>>58) + 1
		b := make([]byte, n)
		for i := range b {
			rnd = rnd*6364136223846793005 + 1442695040888963407
			b[i] = alphabet[(rnd>>33)%uint64(len(alphabet))]
		}
		b[0] = "{["[rnd>>63]
		check(b)
	}
}

// TestReaderKeyOrder: members read through the Reader's remembered key
// tokens (keys.go) are exactly what Decode gives when the key order stays,
// changes, loses or gains a member, when a key's case, spacing or escapes
// change, when a token is a prefix of the next event's longer key, and for
// debugData's members of two event types in turn; the remembered tokens
// are used (the order is found again after each change).
func TestReaderKeyOrder(t *testing.T) {
	dd := func(members string) string { return `"debugContext":{"debugData":{` + members + `}}` }
	ev := func(parts ...string) []byte {
		return []byte("{" + strings.Join(parts, ",") + "}")
	}
	const (
		u  = `"uuid":"u1"`
		p  = `"published":"2024-01-02T03:04:05.678Z"`
		ty = `"eventType":"user.session.start"`
		tx = `"transaction":{"type":"WEB","id":"r1","detail":{}}`
	)
	d1 := dd(`"requestId":"r1","requestUri":"/a","threatSuspected":"true","dtHash":"h"`)
	lines := [][]byte{
		ev(u, p, ty, tx, d1),
		ev(u, p, ty, tx, d1), // the same order
		ev(p, u, ty, tx, d1), // two members swapped
		ev(u, p, ty, d1),     // one missing
		ev(u, p, ty, `"severity":"WARN"`, tx, d1),
		ev(`"UUID":"u2"`, p, ty, tx, d1),   // another case: the same member
		ev(`"uuid" : "u3"`, p, ty, tx, d1), // blanks around the colon
		ev(`"uuid":"u4"`, ` "published":"2024-01-02T03:04:06Z"`, ty, tx, d1),
		ev(`"\u0075uid":"u5"`, p, ty, tx, d1), // an escape in the key
		ev(u, p, ty, `"transactionx":{"id":"x"}`, d1),
		ev(u, p, ty, tx, dd(`"requestId":"r1","requestUri":"/a","Risk":"{level=HIGH}","dtHash":"h"`)),
		ev(u, p, `"eventType":"user.authentication.sso"`, tx, dd(`"behaviors":"{New IP=POSITIVE}","requestUri":"/b"`)),
		ev(u, p, ty, tx, d1),
		ev(u, p, `"eventType":"user.authentication.sso"`, tx, dd(`"behaviors":"{New IP=POSITIVE}","requestUri":"/b"`)),
		ev(u, p, ty, tx, dd(`"requestId":"r1","reque\u0073tUri":"/a","threatSuspected":"true"`)),
		ev(u, p, ty, tx, d1),
		ev(u, p, ty, tx, `"debugContext":{"debugData":null}`),
		ev(u, p, ty, tx, d1),
	}
	r := readAsDecoded(t, lines, func(i int, got, want Event) {
		for _, k := range []string{"requestId", "requestUri", "requestUri ", "threatSuspected", "Risk", "dtHash", "behaviors", "factor"} {
			gv, gok := got.Debug.Value(k)
			wv, wok := want.Debug.Value(k)
			if gok != wok || !reflect.DeepEqual(gv, wv) {
				t.Fatalf("event %d: debugData %q through the Reader %v %v, Decode %v %v", i, k, gv, gok, wv, wok)
			}
		}
	})
	m := r.cache.memo
	debugHits := 0
	for _, o := range m.debug {
		debugHits += o.hits
	}
	// 18 events of 4 to 6 members; debugData's 2 to 4 members in 13
	if m.top.hits < 40 || m.nested[orderTransaction].hits < 20 || debugHits < 15 {
		t.Fatalf("members read from remembered tokens: %d top-level, %d of transaction, %d of debugData: the tokens were not used",
			m.top.hits, m.nested[orderTransaction].hits, debugHits)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last event: %v", err)
	}
}

// readAsDecoded reads lines (JSON Lines) through one Reader and fails
// unless each event equals Decode's of its line; each is then called with
// both. It returns the Reader.
func readAsDecoded(t *testing.T, lines [][]byte, each func(i int, got, want Event)) *Reader {
	t.Helper()
	var in bytes.Buffer
	for _, l := range lines {
		in.Write(l)
		in.WriteByte('\n')
	}
	r := NewReader(&in)
	for i, l := range lines {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		want, err := Decode(l)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d through the Reader:\n%+v\nDecode:\n%+v", i, got, want)
		}
		each(i, got, want)
	}
	return r
}
