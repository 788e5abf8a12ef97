package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

func replayAlerts(t *testing.T, s config.Settings, inputs ...[]byte) ([]string, ReplaySummary) {
	t.Helper()
	var ins []ReplayInput
	for i, b := range inputs {
		ins = append(ins, ReplayInput{Name: fmt.Sprintf("in%d", i), R: bytes.NewReader(b)})
	}
	var got []string
	sum, err := Replay(context.Background(), s, ins, func(a alert.Alert) error {
		got = append(got, a.ID)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got, sum
}

func jsonl(evs []json.RawMessage) []byte {
	var b bytes.Buffer
	for _, e := range evs {
		b.Write(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Replay streams its inputs merged by event time: two exports that
// interleave in time and overlap (the same events in both) give exactly
// the alerts of one sorted export, with the overlap counted as duplicates.
func TestReplayMergesInterleavedInputs(t *testing.T) {
	ds, err := traffic.Generate(traffic.Config{Seed: 5, Users: 40, Days: 12, Attacks: true})
	if err != nil {
		t.Fatal(err)
	}
	s := config.Defaults()
	s.IPLists = ds.Lists.Map()
	want, sumAll := replayAlerts(t, s, jsonl(ds.Events))
	if len(want) == 0 || sumAll.Events != len(ds.Events) || sumAll.OutOfOrder != 0 {
		t.Fatalf("sorted input: %d alerts, summary %+v", len(want), sumAll)
	}
	// alternate hours between the two inputs; every 10th event in both
	var a, b []json.RawMessage
	overlap := 0
	for i, e := range ds.Events {
		var v struct{ Published string }
		json.Unmarshal(e, &v)
		inA := len(v.Published) > 13 && (v.Published[12]-'0')%2 == 0 // even hour digit
		if inA || i%10 == 0 {
			a = append(a, e)
		}
		if !inA || i%10 == 0 {
			b = append(b, e)
		}
		if i%10 == 0 {
			overlap++
		}
	}
	got, sum := replayAlerts(t, s, jsonl(a), jsonl(b))
	if sum.Events != len(ds.Events) || sum.Duplicates != overlap || sum.OutOfOrder != 0 {
		t.Fatalf("merged inputs: summary %+v, want %d events, %d duplicates, none out of order", sum, len(ds.Events), overlap)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("merged inputs raised %d alerts, the sorted input %d (or different ones)", len(got), len(want))
	}
}

// An input far out of time order (newest first) is still processed whole,
// and the summary says how many events came later than the reorder window.
func TestReplayCountsOutOfOrder(t *testing.T) {
	ds, err := traffic.Generate(traffic.Config{Seed: 5, Users: 40, Days: 10, Attacks: true})
	if err != nil {
		t.Fatal(err)
	}
	rev := make([]json.RawMessage, len(ds.Events))
	for i, e := range ds.Events {
		rev[len(rev)-1-i] = e
	}
	s := config.Defaults()
	_, sum := replayAlerts(t, s, jsonl(rev))
	if sum.Events != len(ds.Events) || sum.OutOfOrder < len(ds.Events)/2 {
		t.Fatalf("reversed input: %+v; want all %d events processed, most out of order", sum, len(ds.Events))
	}
}
