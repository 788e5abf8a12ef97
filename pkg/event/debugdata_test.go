package event

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestDebugDataOnDemand: a decoded event's debugData is read with Value,
// Str and Data exactly as encoding/json decodes it (exact keys, the last
// of a repeated key, nested values, escapes), and the typed fields are
// still filled at decode time.
func TestDebugDataOnDemand(t *testing.T) {
	ev := mustDecode(t, minimal(`"debugContext":{"debugData":{"requestId":"r1","factor":"OKTA_VERIFY_PUSH",`+
		`"Factor":"upper","n":3.5,"flag":true,"nested":{"a":[1,"x",null]},"esc":"a\"b\u00e9","dup":"first","dup":"last",`+
		`"behaviors":"{New IP=POSITIVE}","DTHash":"dt1","risk":"{level=HIGH, reasons=X}"}}`))
	d := &ev.Debug
	if d.Behaviors["New IP"] != "POSITIVE" || d.DTHash != "dt1" || d.RiskLevel != "HIGH" || d.RiskReasons != "X" {
		t.Fatalf("typed fields %+v", *d)
	}
	for key, want := range map[string]any{
		"requestId": "r1", "factor": "OKTA_VERIFY_PUSH", "Factor": "upper", "n": 3.5, "flag": true,
		"nested": map[string]any{"a": []any{1.0, "x", nil}}, "esc": "a\"bé", "dup": "last",
	} {
		got, ok := d.Value(key)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Value(%q) = %#v, %v; want %#v", key, got, ok, want)
		}
	}
	if v, ok := d.Value("FACTOR"); ok || v != nil {
		t.Errorf("Value matches keys exactly: got %v, %v", v, ok)
	}
	if d.Str("factor") != "OKTA_VERIFY_PUSH" || d.Str("n") != "" || d.Str("missing") != "" {
		t.Errorf("Str: %q %q %q", d.Str("factor"), d.Str("n"), d.Str("missing"))
	}
	var std struct {
		DebugContext struct {
			DebugData map[string]any `json:"debugData"`
		} `json:"debugContext"`
	}
	if err := json.Unmarshal(ev.Raw, &std); err != nil {
		t.Fatal(err)
	}
	if got := d.Data(); !reflect.DeepEqual(got, std.DebugContext.DebugData) {
		t.Errorf("Data() = %v\nencoding/json: %v", got, std.DebugContext.DebugData)
	}
	// Data returns a new map each time: changing it changes nothing.
	d.Data()["factor"] = "changed"
	if d.Str("factor") != "OKTA_VERIFY_PUSH" {
		t.Error("Data() shares its map with the event")
	}

	// absent, null, empty
	for _, dd := range []string{``, `"debugContext":null`, `"debugContext":{"debugData":null}`} {
		ev := mustDecode(t, minimal(dd))
		if v, ok := ev.Debug.Value("factor"); ok || v != nil || ev.Debug.Data() != nil {
			t.Errorf("%s: Value %v %v, Data %v", dd, v, ok, ev.Debug.Data())
		}
	}
	ev = mustDecode(t, minimal(`"debugContext":{"debugData":{}}`))
	if m := ev.Debug.Data(); m == nil || len(m) != 0 {
		t.Errorf("empty debugData: Data() = %#v, want an empty map", m)
	}

	// a key written with escapes is found; a key's text inside a value is
	// not a member
	ev = mustDecode(t, minimal(`"debugContext":{"debugData":{"f\u0061ctor":"esc","a":"factor","b":"x\"factor\""}}`))
	if got := ev.Debug.Str("factor"); got != "esc" {
		t.Errorf("escaped key: Str = %q", got)
	}
	ev = mustDecode(t, minimal(`"debugContext":{"debugData":{"a":"factor","b":"\"factor\":1"}}`))
	if v, ok := ev.Debug.Value("factor"); ok {
		t.Errorf("key text in a value taken as a member: %v", v)
	}
	// looking up an absent key costs no allocation
	ev = mustDecode(t, minimal(`"debugContext":{"debugData":{"requestId":"r1","url":"/x"}}`))
	if n := testing.AllocsPerRun(100, func() { ev.Debug.Str("pushWithNumberChallengeResponseType") }); n != 0 {
		t.Errorf("absent key: %v allocations", n)
	}

	// set in code
	var built Debug
	built.SetData(map[string]any{"factor": "SMS"})
	if built.Str("factor") != "SMS" || !reflect.DeepEqual(built.Data(), map[string]any{"factor": "SMS"}) {
		t.Errorf("SetData: %v", built.Data())
	}
}

// TestDebugKeyFilterExact: the one-bit-per-key summary that lets Value
// answer "absent" without searching never hides a member: with many keys
// (every bit taken) and with few, every present key is found with its
// value, and absent keys (other case, prefixes, suffixes, keys written
// only inside values) are not.
func TestDebugKeyFilterExact(t *testing.T) {
	for _, n := range []int{1, 3, 8, 40, 200} {
		var b strings.Builder
		b.WriteString(`"debugContext":{"debugData":{`)
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%dX%s", i, strings.Repeat("y", i%37))
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `%q:"v%d","in%d":"absent%d"`, keys[i], i, i, i)
		}
		b.WriteString(`}}`)
		ev := mustDecode(t, minimal(b.String()))
		if !ev.Debug.plainKeys {
			t.Fatal("plain keys not recognised: the filter is not exercised")
		}
		for i, k := range keys {
			if got := ev.Debug.Str(k); got != fmt.Sprintf("v%d", i) {
				t.Fatalf("%d keys: Str(%q) = %q", n, k, got)
			}
			for _, absent := range []string{strings.ToUpper(k), strings.ToLower(k), k[:len(k)-1], k + "y", fmt.Sprintf("absent%d", i), ""} {
				if v, ok := ev.Debug.Value(absent); ok {
					t.Fatalf("%d keys: absent key %q found: %v", n, absent, v)
				}
			}
		}
	}
}

// TestDebugJSONShape: an Event saved as JSON (the detection engine saves
// its reorder buffer so) has debugData under Debug.Data as an object, the
// shape of the earlier map field, and reads back with the same debugData
// and typed fields.
func TestDebugJSONShape(t *testing.T) {
	ev := mustDecode(t, minimal(`"debugContext":{"debugData":{"z":"1","a":{"b":2},"behaviors":"{New Device=POSITIVE}","dtHash":"h"}}`))
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Debug map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &shape); err != nil {
		t.Fatal(err)
	}
	if got, want := string(shape.Debug["Data"]), `{"a":{"b":2},"behaviors":"{New Device=POSITIVE}","dtHash":"h","z":"1"}`; got != want {
		t.Errorf("Debug.Data saved as %s, want %s", got, want)
	}
	if string(shape.Debug["DTHash"]) != `"h"` {
		t.Errorf("typed fields not saved: %s", b)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Debug.Data(), ev.Debug.Data()) || back.Debug.DTHash != "h" || back.Debug.Behaviors["New Device"] != "POSITIVE" {
		t.Errorf("read back %+v, data %v", back.Debug, back.Debug.Data())
	}
	b2, err := json.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(b2) != string(b) {
		t.Errorf("second save differs:\n%s\n%s", b, b2)
	}
	// no debugData: null, as the nil map field was
	ev = mustDecode(t, minimal(``))
	b, _ = json.Marshal(ev.Debug)
	if string(b)[:12] != `{"Data":null` {
		t.Errorf("no debugData saved as %s", b)
	}
}
