package event

import "testing"

// benchEvents returns the sample events of 1.5 KB or more (realistic sizes).
func benchEvents(b *testing.B) [][]byte {
	names, lines := sampleLines(b)
	var out [][]byte
	for _, n := range names {
		if len(lines[n]) >= 1500 {
			out = append(out, lines[n])
		}
	}
	if len(out) == 0 {
		b.Fatal("no sample events of 1.5 KB or more: testdata/okta-events.jsonl holds 26")
	}
	return out
}

func avgLen(evs [][]byte) int64 {
	var n int
	for _, e := range evs {
		n += len(e)
	}
	return int64(n / len(evs))
}
