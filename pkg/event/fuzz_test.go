package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/testsamples"
)

func addSampleSeeds(f *testing.F) {
	for _, fn := range testsamples.EventFiles(f) {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				f.Add(line)
			}
		}
	}
	f.Add(minimal(`"debugContext":{"debugData":{"risk":"{reasons=a, b, level=HIGH}","tunnels":"[{\"anonymous\":true}]","logOnlySecurityData":"{\"risk\":{\"level\":\"LOW\"}}"}}`))
	f.Add([]byte(`{"uuid":"\ud800","published":"2024-01-02 03:04:05","eventtype":"x"}`))
	// empty, "" and stringified optional sub-objects: kept, marked degraded
	for _, sub := range []string{"actor", "client", "device", "outcome", "target", "transaction", "debugContext", "authenticationContext", "securityContext", "request"} {
		f.Add(minimal(`"` + sub + `":""`))
		f.Add(minimal(`"` + sub + `":{}`))
		f.Add(minimal(`"` + sub + `":"{\"id\":\"x\"}"`))
		f.Add(minimal(`"` + sub + `":[1]`))
	}
	for _, sub := range []string{`"debugContext":{"debugData":""}`, `"debugContext":{"debugData":"{\"risk\":\"{level=HIGH}\"}"}`,
		`"client":{"geographicalContext":"","userAgent":"{}"}`, `"target":[{"changeDetails":"","detailEntry":""}]`,
		`"request":{"ipChain":[{"geographicalContext":""}]}`, `"transaction":{"detail":""}`,
		// behaviours as a list (Panther's public test events), or inside logOnlySecurityData
		`"debugContext":{"debugData":{"behaviors":["New IP=POSITIVE",1,null,"x"]}}`,
		`"debugContext":{"debugData":{"logOnlySecurityData":"{"behaviors":{"New Device":"POSITIVE"}}"}}`} {
		f.Add(minimal(sub))
	}
}

// FuzzDecode: Decode never panics; whatever it accepts is valid JSON with
// the required fields, and agrees with encoding/json on them. Decoding
// through a Reader's string cache (one for the whole run, so its slots hold
// earlier inputs' strings) gives the same event and error.
func FuzzDecode(f *testing.F) {
	addSampleSeeds(f)
	cache := newStrCache()
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := Decode(raw)
		var cached Event
		cerr := decodeInto(&cached, raw, cache)
		if fmt.Sprint(cerr) != fmt.Sprint(err) || !reflect.DeepEqual(cached, ev) {
			t.Fatalf("with the cache: %+v, %v; without: %+v, %v", cached, cerr, ev, err)
		}
		var te *TypeError
		if errors.As(err, &te) && te.Field != "uuid" && te.Field != "published" && te.Field != "eventType" && te.Field != "(event)" {
			t.Fatalf("optional field %s of an unexpected type dropped the event: %v", te.Field, err)
		}
		if err != nil {
			return
		}
		if ev.UUID == "" || ev.EventType == "" || ev.Published.IsZero() {
			t.Fatalf("accepted an event without required fields: %q", raw)
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON: %q", raw)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("stdlib rejects what Decode accepted: %v", err)
		}
		// every member of debugData is found by Value (the key filter
		// never hides one)
		for k, v := range ev.Debug.Data() {
			if got, ok := ev.Debug.Value(k); !ok || !reflect.DeepEqual(got, v) {
				t.Fatalf("debugData member %q: Value = %#v, %v; Data has %#v", k, got, ok, v)
			}
		}
		if u, ok := m["uuid"].(string); ok && u != ev.UUID && !bytes.Contains(raw, []byte(`\u`)) {
			// keys are matched case-insensitively and the last duplicate wins in both decoders
			// when only canonical keys are present
			if countFold(m, "uuid") == 1 {
				t.Fatalf("uuid %q vs stdlib %q", ev.UUID, u)
			}
		}
	})
}

func countFold(m map[string]any, key string) int {
	n := 0
	for k := range m {
		if bytes.EqualFold([]byte(k), []byte(key)) {
			n++
		}
	}
	return n
}

// FuzzReader: the Reader never panics or loops, always reaches io.EOF, and
// returns each well-formed event of a JSON Lines input.
func FuzzReader(f *testing.F) {
	addSampleSeeds(f)
	f.Add([]byte("[" + ev("a") + "," + ev("b") + "]"))
	f.Add([]byte(ev("a") + "\n\n{bad\n" + ev("b")))
	f.Add([]byte("[" + string(minimal(`"debugContext":{"debugData":""}`)) + "," + string(minimal(`"actor":"{}"`)) + "]"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		for i := 0; ; i++ {
			if i > len(in)+2 {
				t.Fatalf("more results than input bytes: reader loops on %q", in)
			}
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			var de *DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Fatalf("non-decode error from an in-memory reader: %v", err)
			}
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("after EOF: %v", err)
		}
	})
}
