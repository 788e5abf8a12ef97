package pipeline

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
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
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	p, err := New(s, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m, OktaOptions: fastOkta()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
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
	if err := os.WriteFile(list, []byte("300.1.1.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(list, later, later)
	for range 3 {
		if _, err := p.enr.Reload(); err == nil {
			t.Fatal("reload of a list without a valid line succeeded")
		}
	}
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

func inputRejected(t *testing.T, reg *prometheus.Registry, source string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "oktaguard_enrichment_input_rejected_total" {
			continue
		}
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == source {
					return mm.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no oktaguard_enrichment_input_rejected_total{source=%q}", source)
	return 0
}
