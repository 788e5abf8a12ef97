package pipeline

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// gaugeValue is the value of the gauge name with the labels in reg (-1:
// no such series).
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue series
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// A PostgreSQL store's background builds reach the pipeline's status (the
// plugin's health) and the metrics: a store created at the latest schema
// has its geo sets built.
func TestStoreBuildsInStatusAndMetrics(t *testing.T) {
	dsn := pgtest.Schema(t)
	_, url := startSim(t, oktasim.Options{})
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Org: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, m := newTestMetrics(t)
	p, err := New(testSettings(t, url, t.TempDir()), Options{Store: st, Metrics: m, OktaOptions: fastOkta()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b := p.Status().StoreBuilds
	if len(b) != 1 || b[0].Name != "geo_sets" || b[0].State != store.BuildDone || b[0].Remaining != 0 {
		t.Fatalf("status builds %+v, want geo_sets done", b)
	}
	for _, state := range metrics.StoreBuildStates {
		want := map[string]float64{store.BuildDone: 1}[state]
		if v := gaugeValue(t, reg, "oktaguard_store_background_build", map[string]string{"build": "geo_sets", "state": state}); v != want {
			t.Fatalf("state %s: %v, want %v", state, v, want)
		}
	}
	if v := gaugeValue(t, reg, "oktaguard_store_background_build_remaining", map[string]string{"build": "geo_sets"}); v != 0 {
		t.Fatalf("remaining %v, want 0", v)
	}
}
