package pipeline

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// The store's auto-vacuum modes are the label values of
// oktaguard_store_auto_vacuum.
func TestStoreAutoVacuumModesAreMetricLabels(t *testing.T) {
	if !slices.Equal(store.AutoVacuumModes, metrics.StoreAutoVacuumModes) {
		t.Fatalf("store modes %q, metric labels %q", store.AutoVacuumModes, metrics.StoreAutoVacuumModes)
	}
}

// gaugeValues maps each series of the gauge name to its value, keyed by
// its labels' values ("" without labels).
func gaugeValues(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetValue()
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

// The exporter publishes the SQLite store's size, free pages and
// auto-vacuum mode from the start, and again after a prune, as the store
// reports them.
func TestStoreFileMetrics(t *testing.T) {
	_, url := startSim(t, oktasim.Options{})
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "acme.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, m := newTestMetrics(t)
	if g := gaugeValues(t, reg, "oktaguard_store_file_bytes"); len(g) != 0 {
		t.Fatalf("oktaguard_store_file_bytes before any store: %v, want absent", g)
	}
	s := testSettings(t, url, t.TempDir())
	s.Storage.Retention = 24 * time.Hour
	p, err := New(s, Options{Store: st, Metrics: m, OktaOptions: fastOkta()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	check := func() {
		t.Helper()
		fs, err := st.FileStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g := gaugeValues(t, reg, "oktaguard_store_file_bytes"); g[""] != float64(fs.Bytes) || fs.Bytes <= 0 {
			t.Fatalf("oktaguard_store_file_bytes = %v, the store's size %d", g, fs.Bytes)
		}
		if g := gaugeValues(t, reg, "oktaguard_store_free_bytes"); g[""] != float64(fs.FreeBytes) {
			t.Fatalf("oktaguard_store_free_bytes = %v, the store's free pages %d B", g, fs.FreeBytes)
		}
		want := map[string]float64{"none": 0, "full": 0, "incremental": 1}
		if g := gaugeValues(t, reg, "oktaguard_store_auto_vacuum"); len(g) != 3 || g["none"] != 0 || g["full"] != 0 || g["incremental"] != 1 {
			t.Fatalf("oktaguard_store_auto_vacuum = %v, want %v", g, want)
		}
	}
	check()
	first := gaugeValues(t, reg, "oktaguard_store_file_bytes")[""]
	// events older than the retention: the store grows, the prune deletes them
	evs := storetest.Events("f", 0, 3000, time.Now().Add(-72*time.Hour), time.Second)
	if _, err := st.Commit(ctx, store.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	if n, err := p.PruneNow(ctx); err != nil || n != 3000 {
		t.Fatalf("PruneNow = %d, %v", n, err)
	}
	check()
	if g := gaugeValues(t, reg, "oktaguard_store_file_bytes")[""]; g <= first {
		t.Fatalf("oktaguard_store_file_bytes %v after 3 000 events and their prune, %v before: not read again", g, first)
	}
}
