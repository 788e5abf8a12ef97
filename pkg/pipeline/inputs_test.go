package pipeline

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/enrich/mmdbtest"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// Every rejected enrichment input reaches the log, the metric and Status
// (health, /readyz): bad list lines at start-up, then a reload that fails
// (counted once however often it is retried).
func TestRejectedInputsLoggedCountedAndShown(t *testing.T) {
	_, url := startSim(t, oktasim.Options{})
	dir := t.TempDir()
	list := filepath.Join(dir, "risky.txt")
	if err := os.WriteFile(list, []byte("198.51.100.0/24\n300.1.1.1\n1.2.3.4/99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testSettings(t, url, dir)
	s.IPLists = map[string][]string{"risky": {list}}
	p, reg, logs := newMeteredPipeline(t, s)
	want := "ipLists.risky " + list + ": 2 lines ignored (" + list + ":2: not an IP, CIDR, IP range or AS number; " + list + `:3: bad CIDR "1.2.3.4/99")`
	if got := p.Status().InputProblems; len(got) != 1 || got[0] != want {
		t.Fatalf("InputProblems %q\nwant [%q]", got, want)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="enrichment input rejected" source=ip_list problem=`) || !strings.Contains(logs.String(), list+":2: not an IP") {
		t.Fatalf("log lacks the rejected lines:\n%s", logs.String())
	}
	if v := inputRejected(t, reg, "ip_list"); v != 2 {
		t.Fatalf("ip_list rejected %v, want 2", v)
	}
	// The list loses its last valid line: the reload fails, the previous
	// entries stay, and the failure is counted once.
	breakAndReload(t, p, list, []byte("300.1.1.1\n"))
	if v := inputRejected(t, reg, "ip_list"); v != 3 {
		t.Fatalf("ip_list rejected %v after a failed reload retried 3 times, want 3", v)
	}
	failed := "ipLists.risky " + list + ": last reload failed, previous entries kept: ip list " + list + ": no valid line (1 bad lines; first: " + list + ":1: not an IP, CIDR, IP range or AS number)"
	if !strings.Contains(strings.Join(p.Status().InputProblems, "\n"), failed) {
		t.Fatalf("InputProblems %q\nlack %q", p.Status().InputProblems, failed)
	}
	if v := inputRejected(t, reg, "geoip"); v != 0 {
		t.Fatalf("geoip rejected %v without a GeoIP database", v)
	}
}

// A GeoIP database that breaks while running (replaced by a file that is
// not a MaxMind database) is logged, counted once under source=geoip and
// listed in Status.InputProblems (health, /readyz) like an IP list; the
// data loaded before stays in use.
func TestGeoIPReloadFailureLoggedCountedAndShown(t *testing.T) {
	_, url := startSim(t, oktasim.Options{})
	dir := t.TempDir()
	asn := filepath.Join(dir, "GeoLite2-ASN.mmdb")
	if err := os.WriteFile(asn, mmdbtest.ASN(t, time.Time{}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testSettings(t, url, dir)
	s.GeoIP.ASNDB = asn
	p, reg, logs := newMeteredPipeline(t, s)
	if got := p.Status().InputProblems; len(got) != 0 {
		t.Fatalf("InputProblems of a good database: %q", got)
	}
	breakAndReload(t, p, asn, []byte("not a database"))
	if v := inputRejected(t, reg, "geoip"); v != 1 {
		t.Fatalf("geoip rejected %v after a failed reload retried 3 times, want 1", v)
	}
	st := p.Status()
	if len(st.GeoIP) != 1 || st.GeoIP[0].Error == "" || st.GeoIP[0].DatabaseType != "GeoLite2-ASN" {
		t.Fatalf("Status.GeoIP after a failed reload: %+v", st.GeoIP)
	}
	want := "geoip asn database " + asn + ": last reload failed at " + st.GeoIP[0].ErrorAt.Format(time.RFC3339) + ", previous data kept (" + st.GeoIP[0].InUse() + "): enrich: geoip asn database " + asn + ": "
	if got := st.InputProblems; len(got) != 1 || !strings.HasPrefix(got[0], want) {
		t.Fatalf("InputProblems %q\nwant one starting %q", got, want)
	}
	if v := counterValue(t, reg, "oktaguard_geoip_reload_failures_total", "database", "asn"); v != 1 {
		t.Fatalf("geoip_reload_failures_total{database=asn} %v after one broken file checked 3 times, want 1", v)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="enrichment input rejected" source=geoip problem="geoip asn database `+asn+": reload failed, previous data kept") {
		t.Fatalf("log lacks the failed reload:\n%s", logs.String())
	}
	ev := &event.Event{UUID: "u", EventType: "user.session.start", Client: event.Client{IPAddress: "198.51.100.7"}}
	p.enr.Enrich(ev)
	if ev.IP.ASN != 64500 {
		t.Fatalf("ASN %d after the failed reload, want 64500 from the data loaded before", ev.IP.ASN)
	}
}

// newMeteredPipeline starts a pipeline on s with its own metrics registry
// and a captured text log.
func newMeteredPipeline(t *testing.T, s config.Settings) (*Pipeline, *prometheus.Registry, *syncBuffer) {
	t.Helper()
	reg, m := newTestMetrics(t)
	logs := &syncBuffer{}
	p, err := New(s, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m, OktaOptions: fastOkta()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, reg, logs
}

// breakAndReload replaces the file at path with content (a newer mtime)
// and reloads three times, each of which must fail.
func breakAndReload(t *testing.T, p *Pipeline, path string, content []byte) {
	t.Helper()
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(path, later, later)
	for range 3 {
		if _, err := p.enr.Reload(); err == nil {
			t.Fatalf("reload of the broken %s succeeded", path)
		}
	}
}

func inputRejected(t *testing.T, reg *prometheus.Registry, source string) float64 {
	t.Helper()
	return counterValue(t, reg, "oktaguard_enrichment_input_rejected_total", "source", source)
}

// counterValue is the value of the counter name{label=value} in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	v, err := metrics.CounterValue(reg, name, label, value)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The states of the store's integrity check are the label values of
// oktaguard_store_integrity.
func TestStoreIntegrityStatesAreMetricLabels(t *testing.T) {
	if !slices.Equal(store.IntegrityStates, metrics.StoreIntegrityStates) {
		t.Fatalf("store states %q, metric labels %q", store.IntegrityStates, metrics.StoreIntegrityStates)
	}
}

// The store's build states are the metric's state labels.
func TestStoreBuildStatesAreMetricLabels(t *testing.T) {
	if !slices.Equal(store.BuildStates, metrics.StoreBuildStates) {
		t.Fatalf("store states %q, metric labels %q", store.BuildStates, metrics.StoreBuildStates)
	}
}

// The classes the stores give their write failures are the label values
// of oktaguard_store_write_failures_total, and each is counted under its
// own label (an unknown one under "other").
func TestStoreWriteFailureClassesAreMetricLabels(t *testing.T) {
	if !slices.Equal(store.WriteFailureClasses, metrics.StoreWriteFailureClasses) {
		t.Fatalf("store classes %q, metric labels %q", store.WriteFailureClasses, metrics.StoreWriteFailureClasses)
	}
	reg, m := newTestMetrics(t)
	m.StoreWriteFailed(store.WriteFailureClass(fmt.Errorf("commit: %w", store.Classed(store.ErrReadOnly, "read-only server"))))
	m.StoreWriteFailed("no such class")
	for _, c := range store.WriteFailureClasses {
		want := map[string]float64{"read_only": 1, "other": 1}[c]
		if v := counterValue(t, reg, "oktaguard_store_write_failures_total", "class", c); v != want {
			t.Fatalf("class %s: %v, want %v", c, v, want)
		}
	}
}
