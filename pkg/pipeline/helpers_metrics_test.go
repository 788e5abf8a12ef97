package pipeline

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/metrics"
)

// newTestMetrics is a pipeline's metrics on a registry of their own, for a
// test to read back.
func newTestMetrics(t *testing.T) (*prometheus.Registry, *metrics.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}
