package plugin_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/plugin"
	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// Explore's logs volume through the plugin's gRPC protocol counts every
// event of a range that holds more than MaxLimit of them, per bucket and
// level, with and without filters, and says nothing about a limit.
func TestLogsVolumeExactOverMaxLimitOverGRPC(t *testing.T) {
	e := newEnv(t, "e2e-volume", 40, 2*time.Hour)
	// Older events than the simulator's backfill, written to the data
	// source's store before the plugin opens it.
	total := plugin.MaxLimit + 10_000
	base := time.Now().UTC().Add(-5 * 24 * time.Hour).Truncate(time.Hour)
	step := 5 * time.Second
	evs := storetest.Events("vol", 0, total, base.Add(7*time.Second), step)
	sevs := []string{"INFO", "INFO", "WARN", "INFO", "ERROR", "", "info", "DEBUG"}
	for i := range evs {
		evs[i].Severity = sevs[i%len(sevs)]
	}
	st, err := store.Open(context.Background(), filepath.Join(e.dir, "oktaguard-"+e.ds.UID+".db"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < total; i += 2000 {
		if _, err := st.Commit(context.Background(), store.Batch{Events: evs[i:min(i+2000, total)]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	from, to := base, evs[total-1].Published.Add(time.Hour)

	// want counts per level and hour for the events keep selects
	want := func(keep func(i int) bool) map[string]map[int64]float64 {
		out := map[string]map[int64]float64{}
		for i, ev := range evs {
			if !keep(i) {
				continue
			}
			lvl := strings.ToLower(ev.Severity)
			if lvl == "" {
				lvl = "unknown"
			}
			if out[lvl] == nil {
				out[lvl] = map[int64]float64{}
			}
			out[lvl][store.FloorTo(ev.Published.UnixMilli(), time.Hour.Milliseconds())]++
		}
		return out
	}
	for _, c := range []struct {
		name  string
		model map[string]any
		keep  func(i int) bool
	}{
		{"every event", map[string]any{}, func(int) bool { return true }},
		{"type prefix and outcome", map[string]any{"eventType": "user.session.", "outcome": "FAILURE"},
			func(i int) bool {
				return strings.HasPrefix(evs[i].EventType, "user.session.") && evs[i].Outcome.Result == "FAILURE"
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			model := map[string]any{"queryType": "logs_volume"}
			for k, v := range c.model {
				model[k] = v
			}
			r := e.query(t, e.ds, false, plugintest.Query{RefID: "V", Model: model, From: from, To: to, Interval: time.Hour})["V"]
			if r.Error != "" {
				t.Fatal(r.Error)
			}
			w := want(c.keep)
			got := map[string]map[int64]float64{}
			var sum, wantSum float64
			for _, f := range r.Frames {
				if f.Meta != nil && len(f.Meta.Notices) > 0 {
					t.Errorf("frame %s has notices %v", f.Name, f.Meta.Notices)
				}
				lvl := f.Fields[1].Labels["level"]
				got[lvl] = map[int64]float64{}
				for i := 0; i < f.Rows(); i++ {
					if n := f.Fields[1].At(i).(float64); n != 0 {
						got[lvl][f.Fields[0].At(i).(time.Time).UnixMilli()] = n
						sum += n
					}
				}
			}
			for _, hours := range w {
				for _, n := range hours {
					wantSum += n
				}
			}
			if c.name == "every event" && wantSum != float64(total) {
				t.Fatalf("the test counts %v events, stored %d", wantSum, total)
			}
			if fmt.Sprint(got) != fmt.Sprint(w) {
				t.Fatalf("volume: %v events\n got %v\nwant %v (%v events)", sum, got, w, wantSum)
			}
			t.Logf("%v events in %d levels counted exactly", sum, len(got))
		})
	}
}
