package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTest(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, Options{
		ConstLabels: prometheus.Labels{"datasource_uid": "ds1"},
		Detectors:   []string{"impossible_travel", "mfa_fatigue"},
		Version:     "1.2.3",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestLintClean(t *testing.T) {
	m, reg := newTest(t)
	m.EventsIngested(3)
	m.PostureScore("baseline", 71.5)
	m.CheckPassing("okta.password.min_length", true)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestDetectorPairsInitialisedToZero(t *testing.T) {
	_, reg := newTest(t)
	n, err := testutil.GatherAndCount(reg, "oktaguard_detections_total")
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * len(Severities); n != want {
		t.Fatalf("detections series = %d, want %d (every detector x severity)", n, want)
	}
}

func TestValuesAndLabels(t *testing.T) {
	m, reg := newTest(t)
	m.EventsIngested(5)
	m.EventsIngested(0)
	m.EventsIngested(-2)
	m.Detection("mfa_fatigue", "high")
	m.OktaRequest("logs", 429)
	m.OktaRequest("/api/v1/policies", 200)
	m.OktaRequest("logs", 0)
	m.Rejected("no-such-reason")
	m.BackfillProgress(1.7)
	m.PollLag(-time.Second)
	want := `
# HELP oktaguard_events_ingested_total Okta System Log events accepted and stored (each uuid counted once).
# TYPE oktaguard_events_ingested_total counter
oktaguard_events_ingested_total{datasource_uid="ds1"} 5
# HELP oktaguard_backfill_progress_ratio Progress of the initial backfill, from 0 to 1.
# TYPE oktaguard_backfill_progress_ratio gauge
oktaguard_backfill_progress_ratio{datasource_uid="ds1"} 1
# HELP oktaguard_poll_lag_seconds Seconds between now and the newest stored event's published time, at the last poll.
# TYPE oktaguard_poll_lag_seconds gauge
oktaguard_poll_lag_seconds{datasource_uid="ds1"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"oktaguard_events_ingested_total", "oktaguard_backfill_progress_ratio", "oktaguard_poll_lag_seconds"); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(m.detections.WithLabelValues("mfa_fatigue", "high")); v != 1 {
		t.Fatalf("detections = %v", v)
	}
	if v := testutil.ToFloat64(m.oktaRequests.WithLabelValues("logs", "4xx")); v != 1 {
		t.Fatalf("logs 4xx = %v", v)
	}
	if v := testutil.ToFloat64(m.oktaRequests.WithLabelValues("management", "2xx")); v != 1 {
		t.Fatalf("management 2xx = %v (a path must map to a fixed endpoint family)", v)
	}
	if v := testutil.ToFloat64(m.oktaRequests.WithLabelValues("logs", "error")); v != 1 {
		t.Fatalf("logs error = %v", v)
	}
	if v := testutil.ToFloat64(m.rejected.WithLabelValues("malformed")); v != 1 {
		t.Fatalf("unknown reason must fold into malformed, got %v", v)
	}
}

func TestNilIsNoop(t *testing.T) {
	var m *Metrics
	m.EventsIngested(1)
	m.Detection("x", "high")
	m.OktaRequest("logs", 200)
	m.RateLimitRemaining(1)
	m.PollLag(time.Second)
	m.PollSuccess(time.Now())
	m.BackfillProgress(0.5)
	m.Rejected("malformed")
	m.PostureScore("baseline", 1)
	m.CheckPassing("c", true)
	m.Unregister(prometheus.NewRegistry())
}

func TestRegisterTwiceFailsUnregisterFrees(t *testing.T) {
	m, reg := newTest(t)
	if _, err := New(reg, Options{ConstLabels: prometheus.Labels{"datasource_uid": "ds1"}}); err == nil {
		t.Fatal("second registration with the same labels must fail")
	}
	m.Unregister(reg)
	if _, err := New(reg, Options{ConstLabels: prometheus.Labels{"datasource_uid": "ds1"}}); err != nil {
		t.Fatalf("after Unregister: %v", err)
	}
}

func TestStatusClass(t *testing.T) {
	for in, want := range map[int]string{200: "2xx", 301: "3xx", 404: "4xx", 503: "5xx", 0: "error", 700: "error"} {
		if got := StatusClass(in); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", in, got, want)
		}
	}
}
