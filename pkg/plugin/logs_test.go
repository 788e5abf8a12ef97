package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// The live tail (built from decoded events) and the activity logs query
// (built from stored rows) must send one schema with the same values, or
// the Logs panel scrambles its columns when a live frame arrives.
func TestLiveTailAndLogsQueryShareOneSchema(t *testing.T) {
	evs, st := testdataStore(t)
	ctx := context.Background()
	d := &Datasource{settings: Settings{UID: "logs-test"}}
	q, err := parseQuery([]byte(`{"queryType":"activity","format":"logs"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := d.activity(ctx, st, q, backendQuery(evs))
	if err != nil || len(fs) != 1 {
		t.Fatalf("activity logs: %v %v", fs, err)
	}
	queried := fs[0]
	live := liveEventsFrame(evs)

	for _, fr := range []*data.Frame{queried, live} {
		if fr.Meta == nil || fr.Meta.Type != data.FrameTypeLogLines || fr.Meta.PreferredVisualization != data.VisTypeLogs {
			t.Fatalf("frame %s does not declare the log-lines type: %+v", fr.Name, fr.Meta)
		}
		want := []struct {
			name string
			typ  data.FieldType
		}{{"timestamp", data.FieldTypeTime}, {"body", data.FieldTypeString}, {"severity", data.FieldTypeString},
			{"id", data.FieldTypeString}, {"labels", data.FieldTypeJSON}}
		if len(fr.Fields) != len(want) {
			t.Fatalf("frame %s has %d fields, want %d", fr.Name, len(fr.Fields), len(want))
		}
		for i, w := range want {
			if fr.Fields[i].Name != w.name || fr.Fields[i].Type() != w.typ {
				t.Errorf("frame %s field %d is %s %s, want %s %s", fr.Name, i, fr.Fields[i].Name, fr.Fields[i].Type(), w.name, w.typ)
			}
		}
	}
	if queried.Meta.Channel != "ds/logs-test/"+StreamEvents {
		t.Errorf("logs frame channel %q", queried.Meta.Channel)
	}
	// Same values, row by row (the query is newest first).
	byID := map[string]int{}
	ids, _ := live.FieldByName("id")
	for i := 0; i < ids.Len(); i++ {
		byID[ids.At(i).(string)] = i
	}
	if queried.Rows() != live.Rows() {
		t.Fatalf("query %d rows, live %d", queried.Rows(), live.Rows())
	}
	levels := map[string]bool{}
	for r := 0; r < queried.Rows(); r++ {
		j, ok := byID[queried.Fields[3].At(r).(string)]
		if !ok {
			t.Fatalf("row %d: id %v not in the live frame", r, queried.Fields[3].At(r))
		}
		for c := range queried.Fields {
			a, b := queried.Fields[c].At(r), live.Fields[c].At(j)
			if c == 0 {
				a, b = queried.Fields[c].At(r).(interface{ UnixMilli() int64 }).UnixMilli(), live.Fields[c].At(j).(interface{ UnixMilli() int64 }).UnixMilli()
			}
			if c == 4 {
				a, b = string(queried.Fields[c].At(r).(json.RawMessage)), string(live.Fields[c].At(j).(json.RawMessage))
			}
			if a != b {
				t.Errorf("event %v field %s: query %v, live %v", queried.Fields[3].At(r), queried.Fields[c].Name, a, b)
			}
		}
		levels[queried.Fields[2].At(r).(string)] = true
		if queried.Fields[1].At(r).(string) == "" {
			t.Errorf("row %d has an empty body", r)
		}
	}
	for l := range levels {
		switch l {
		case "debug", "info", "warn", "error":
		default:
			t.Errorf("severity %q is not a Grafana log level", l)
		}
	}
}

// backendQuery is a Grafana query whose time range holds every event.
func backendQuery(evs []event.Event) backend.DataQuery {
	from, to := evs[0].Published, evs[0].Published
	for _, e := range evs {
		if e.Published.Before(from) {
			from = e.Published
		}
		if e.Published.After(to) {
			to = e.Published
		}
	}
	return backend.DataQuery{RefID: "A", TimeRange: backend.TimeRange{From: from.Add(-time.Minute), To: to.Add(time.Minute)}}
}

// testdataStore stores the project's testdata events in a fresh SQLite store.
func testdataStore(t *testing.T) ([]event.Event, *store.Store) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "event", "testdata", "okta-events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		ev, err := event.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("testdata event: %v", err)
		}
		evs = append(evs, ev)
	}
	if len(evs) < 10 {
		t.Fatalf("only %d testdata events", len(evs))
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "logs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Commit(ctx, store.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	return evs, st
}

func TestLogsVolumeCountsEveryEventByLevel(t *testing.T) {
	evs, st := testdataStore(t)
	d := &Datasource{settings: Settings{UID: "logs-test"}}
	q, err := parseQuery([]byte(`{"queryType":"logs_volume"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	dq := backendQuery(evs)
	dq.Interval = time.Hour
	fs, err := d.logsVolume(context.Background(), st, q, dq)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, e := range evs {
		want[strings.ToLower(e.Severity)]++
	}
	got := map[string]float64{}
	for _, f := range fs {
		lvl := f.Fields[1].Labels["level"]
		for i := 0; i < f.Rows(); i++ {
			got[lvl] += f.Fields[1].At(i).(float64)
		}
		if f.TimeSeriesSchema().Type == data.TimeSeriesTypeNot {
			t.Errorf("frame %s is not a time series", f.Name)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("levels %v, want %v", got, want)
	}
	for l, n := range want {
		if got[l] != n {
			t.Errorf("level %s: %v events counted, %v stored", l, got[l], n)
		}
	}
}
