package plugin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Explore's "filter out value" and `!=` ad hoc filters arrive as the
// model's exclude list: the logs query and its logs volume drop exactly the
// excluded events and keep every other one.
func TestExcludeDropsExactlyTheFilteredOutEvents(t *testing.T) {
	evs, st := testdataStore(t)
	d := &Datasource{settings: Settings{UID: "logs-test"}}
	actor, outcome := evs[0].Actor.AlternateID, "FAILURE"
	want := 0
	for _, e := range evs {
		if e.Actor.AlternateID != actor && e.Outcome.Result != outcome {
			want++
		}
	}
	if want == 0 || want == len(evs) {
		t.Fatalf("testdata cannot show an exclusion: %d of %d kept", want, len(evs))
	}
	model := `{"queryType":"activity","format":"logs","exclude":[{"key":"actor","value":"` + actor + `"},{"key":"outcome","value":"failure"}]}`
	q, err := parseQuery([]byte(model), "")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := d.activity(context.Background(), st, q, backendQuery(evs))
	if err != nil {
		t.Fatal(err)
	}
	if got := fs[0].Rows(); got != want {
		t.Errorf("logs query kept %d events, want %d", got, want)
	}
	labels, _ := fs[0].FieldByName("labels")
	for i := 0; i < labels.Len(); i++ {
		var l map[string]string
		_ = json.Unmarshal(labels.At(i).(json.RawMessage), &l)
		if l["actor"] == actor || l["outcome"] == outcome {
			t.Errorf("row %d was filtered out but returned: %v", i, l)
		}
	}

	q, err = parseQuery([]byte(strings.Replace(model, `"activity","format":"logs"`, `"logs_volume"`, 1)), "")
	if err != nil {
		t.Fatal(err)
	}
	dq := backendQuery(evs)
	dq.Interval = time.Hour
	vol, err := d.logsVolume(context.Background(), st, q, dq)
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range vol {
		for i := 0; i < f.Rows(); i++ {
			total += f.Fields[1].At(i).(float64)
		}
	}
	if int(total) != want {
		t.Errorf("logs volume counted %v events, want %d", total, want)
	}
}

// direction "forward" (Explore's log context after a line) returns the
// oldest events of the range first; the default stays newest first.
func TestActivityDirection(t *testing.T) {
	evs, st := testdataStore(t)
	d := &Datasource{settings: Settings{UID: "logs-test"}}
	for dir, older := range map[string]bool{"forward": true, "backward": false, "": false} {
		q, err := parseQuery([]byte(`{"queryType":"activity","format":"logs","limit":5,"direction":"`+dir+`"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		fs, err := d.activity(context.Background(), st, q, backendQuery(evs))
		if err != nil || fs[0].Rows() != 5 {
			t.Fatalf("%q: %v %v", dir, fs, err)
		}
		ts := fs[0].Fields[0]
		for i := 1; i < ts.Len(); i++ {
			a, b := ts.At(i-1).(time.Time), ts.At(i).(time.Time)
			if (older && a.After(b)) || (!older && a.Before(b)) {
				t.Errorf("direction %q: row %d at %v then %v", dir, i, a, b)
			}
		}
		first := ts.At(0).(time.Time)
		for _, e := range evs {
			if (older && e.Published.Before(first.Add(-time.Millisecond))) || (!older && e.Published.After(first.Add(time.Millisecond))) {
				t.Errorf("direction %q: first row %v but event %s at %v", dir, first, e.UUID, e.Published)
				break
			}
		}
	}
}

func TestParseQueryExcludeAndDirectionErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"queryType":"activity","exclude":[{"key":"raw","value":"x"}]}`:                                                       `exclude key "raw"`,
		`{"queryType":"activity","exclude":[{"key":"actor","value":"` + strings.Repeat("a", 600) + `"}]}`:                      "longer than 512",
		`{"queryType":"activity","exclude":{"actor":"x"}}`:                                                                     "not valid JSON",
		`{"queryType":"activity","direction":"up"}`:                                                                            `direction "up"`,
		`{"queryType":"activity","exclude":[` + strings.Repeat(`{"key":"ip","value":"x"},`, 64) + `{"key":"ip","value":"y"}]}`: "at most 64",
	} {
		if _, err := parseQuery([]byte(in), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.70s: error %v, want %q", in, err, want)
		}
	}
}
