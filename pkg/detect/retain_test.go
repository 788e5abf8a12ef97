package detect

import (
	"encoding/json"
	"testing"
)

func TestEventIDRoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "ev-000001", "2f6e5c1a-9b7d-4e3f-8a21-0c4d5e6f7a8b", "2F6E5C1A-9B7D-4E3F-8A21-0C4D5E6F7A8B",
		"00000000-0000-0000-0000-000000000000", "2f6e5c1a-9b7d-4e3f-8a21-0c4d5e6f7a8g", "2f6e5c1a19b7d-4e3f-8a21-0c4d5e6f7a8b",
	} {
		id := makeEventID(s)
		if got := id.String(); got != s {
			t.Errorf("makeEventID(%q).String() = %q", s, got)
		}
		if id.isZero() != (s == "") {
			t.Errorf("makeEventID(%q).isZero() = %v", s, id.isZero())
		}
		b, err := json.Marshal(id)
		if err != nil {
			t.Fatal(err)
		}
		var back eventID
		if err := json.Unmarshal(b, &back); err != nil || back != id {
			t.Errorf("%q: JSON round trip %s -> %+v (%v)", s, b, back, err)
		}
	}
	if id := makeEventID("2f6e5c1a-9b7d-4e3f-8a21-0c4d5e6f7a8b"); id.s != "" {
		t.Errorf("canonical uuid not packed: %+v", id)
	}
}
