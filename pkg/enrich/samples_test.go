package enrich

import (
	"bufio"
	"os"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/testsamples"
)

// TestRealSamples runs the real Okta sample events through the enricher
// with fixture databases and checks Okta's own signals survive and win.
func TestRealSamples(t *testing.T) {
	files := testsamples.EventFiles(t)
	e, _ := newFixture(t, map[string][]string{"trusted": {"108.255.197.247"}})
	var n, warp, trusted int
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r := event.NewReader(bufio.NewReader(fh))
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			n++
			before := ev.Client.Geo
			e.Enrich(&ev)
			if !ev.IP.Enriched {
				t.Errorf("%s: not enriched", ev.UUID)
			}
			if before.Country != "" && (ev.Client.Geo != before || ev.IP.GeoSource != "okta") {
				t.Errorf("%s: Okta geo changed: %+v -> %+v", ev.UUID, before, ev.Client.Geo)
			}
			if ev.Security.ASNumber != 0 && ev.IP.ASN != ev.Security.ASNumber {
				t.Errorf("%s: ASN %d, Okta said %d", ev.UUID, ev.IP.ASN, ev.Security.ASNumber)
			}
			if len(ev.Debug.Tunnels) > 0 && ev.Debug.Tunnels[0].Operator == "WARP_VPN" {
				warp++
				if !ev.IP.Categories.Has(event.CatAnonymous) || !ev.IP.AnonymousVPN || ev.IP.PrivateRelay {
					t.Errorf("%s: WARP tunnel: %+v", ev.UUID, ev.IP)
				}
			}
			if ev.Client.IPAddress == "108.255.197.247" {
				trusted++
				if !ev.IP.Categories.Has(event.CatTrusted) {
					t.Errorf("%s: trusted list not applied", ev.UUID)
				}
			}
		}
		fh.Close()
	}
	if n < 30 || warp != 1 || trusted == 0 {
		t.Errorf("events %d, WARP %d, trusted %d", n, warp, trusted)
	}
}

// FuzzParseLine: list lines never panic, and accepted entries are sane.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "10.0.0.0/8 # x", "AS123", `{"cidr":"1.10.16.0/20"}`, "1.1.1.1-1.1.1.9", `14061,"DO"`, "::ffff:1.2.3.4/120", "; c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, skip, err := parseLine(line)
		if err != nil || skip {
			return
		}
		switch e.kind {
		case kindPrefix:
			if !e.prefix.IsValid() || e.prefix.Addr().Is4In6() {
				t.Fatalf("%q: bad prefix %v", line, e.prefix)
			}
			var s rangeSet
			s.add(e.prefix.Addr(), lastAddr(e.prefix))
			s.finish()
			if !s.contains(e.prefix.Addr()) || !s.contains(lastAddr(e.prefix)) {
				t.Fatalf("%q: prefix ends not contained", line)
			}
		case kindRange:
			if e.end.Less(e.start) || e.start.Is4() != e.end.Is4() {
				t.Fatalf("%q: bad range", line)
			}
		}
	})
}
