package plugin_test

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
)

// BenchmarkQueryTypes measures every query type as Grafana sees it: a
// QueryData call over the plugin's gRPC protocol to the built plugin binary,
// which has ingested a simulated org through its real pipeline (detections
// and posture included), frames and all. It reports p50 and p95 latency.
//
//	go test ./pkg/plugin -run '^$' -bench BenchmarkQueryTypes -benchtime=50x
//
// OKTAGUARD_PLUGIN_BENCH_USERS (default 300) and OKTAGUARD_PLUGIN_BENCH_DAYS
// (default 7) size the org. The store-level benchmark in pkg/store measures
// the same queries on a store of 1M events.
func BenchmarkQueryTypes(b *testing.B) {
	users := benchEnvInt(b, "OKTAGUARD_PLUGIN_BENCH_USERS", 300)
	days := benchEnvInt(b, "OKTAGUARD_PLUGIN_BENCH_DAYS", 7)
	e := newEnv(b, "bench", users, time.Duration(days)*24*time.Hour)
	e.waitIngested(b, e.ds)
	e.waitPosture(b, e.ds)
	b.Logf("store: %d events, %d users, %d days", e.org.Sim.EventCount(), users, days)

	day := plugintest.Query{From: e.to.Add(-25 * time.Hour), To: e.to}
	actor := e.org.History.Users[0].Login
	cases := []struct {
		name      string
		fromAlert bool
		q         plugintest.Query
	}{
		{"activity/24h", false, withModel(day, map[string]any{"queryType": "activity", "limit": 1000})},
		{"activity/all/actor", false, withModel(plugintest.Query{}, map[string]any{"queryType": "activity", "actor": actor, "limit": 1000})},
		{"activity/all/prefix+outcome", false, withModel(plugintest.Query{}, map[string]any{"queryType": "activity", "eventType": "user.authentication", "outcome": "FAILURE", "limit": 1000})},
		{"activity/all/text", false, withModel(plugintest.Query{}, map[string]any{"queryType": "activity", "text": "password", "limit": 1000})},
		{"activity/24h/logs", false, withModel(day, map[string]any{"queryType": "activity", "format": "logs", "limit": 1000})},
		{"alerts/all", false, withModel(plugintest.Query{}, map[string]any{"queryType": "alerts", "limit": 1000})},
		{"timeseries/all/outcome", false, withModel(plugintest.Query{}, map[string]any{"queryType": "timeseries", "groupBy": "outcome", "interval": "1h"})},
		{"timeseries/all/eventType", false, withModel(plugintest.Query{}, map[string]any{"queryType": "timeseries", "groupBy": "eventType", "interval": "1h"})},
		{"timeseries/alerts/detector/fromAlert", true, withModel(day, map[string]any{"queryType": "timeseries", "source": "alerts", "groupBy": "detector"})},
		{"geo/all", false, withModel(plugintest.Query{}, map[string]any{"queryType": "geo"})},
		{"users/all", false, withModel(plugintest.Query{}, map[string]any{"queryType": "users", "limit": 100})},
		{"posture", false, withModel(plugintest.Query{}, map[string]any{"queryType": "posture"})},
		{"posture_history", false, withModel(plugintest.Query{}, map[string]any{"queryType": "posture_history"})},
		{"posture_history/drift", false, withModel(plugintest.Query{}, map[string]any{"queryType": "posture_history", "drift": true})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				q := c.q
				q.RefID = "A"
				t0 := time.Now()
				r := e.query(b, e.ds, c.fromAlert, q)["A"]
				lat = append(lat, time.Since(t0))
				if r.Error != "" {
					b.Fatalf("%s: %s", c.name, r.Error)
				}
			}
			slices.Sort(lat)
			ms := func(p float64) float64 {
				return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.95), "p95-ms")
		})
	}
}

func withModel(q plugintest.Query, model map[string]any) plugintest.Query {
	q.Model = model
	return q
}

func benchEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
