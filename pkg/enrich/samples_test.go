package enrich

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// FuzzLoadList: a whole list file from outside (any bytes: binary, broken
// JSON lines, CSV, mixed) never panics the loader; a file that loads has
// at least one entry; every bad line is counted, and each sample names
// the file and a line of it; a file that does not load says which file.
func FuzzLoadList(f *testing.F) {
	for _, s := range []string{
		"198.51.100.7\n300.1.1.1\n1.2.3.4/99\n",
		"{\"cidr\":\"1.10.16.0/20\",\"sblid\":\"SBL1\"}\n{\"cidr\":\n",
		"ASN,Entity\n14061,\"DO\"\n",
		"\x00\x01\xff\xfe binary\n",
		"; comment only\n# another\n",
		"1.1.1.1-1.1.1.9\n::ffff:1.2.3.4/120\r\nAS123 # x",
		"",
		strings.Repeat("9", maxLineBytes+7) + "\n1.2.3.4\n" + strings.Repeat("\xff", 2*maxLineBytes),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "list.txt")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := loadFile(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ip list "+path+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(d.entries) == 0 {
			t.Fatalf("loaded with no entry: %q", data)
		}
		lines := strings.Count(string(data), "\n") + 1
		if d.badLines < len(d.samples) || len(d.samples) > maxBadLineSamples {
			t.Fatalf("%d bad lines, %d samples", d.badLines, len(d.samples))
		}
		for _, s := range d.samples {
			rest, ok := strings.CutPrefix(s, path+":")
			n, _, _ := strings.Cut(rest, ":")
			if i, err := strconv.Atoi(n); !ok || err != nil || i < 1 || i > lines {
				t.Fatalf("sample %q does not name a line of the file (%d lines)", s, lines)
			}
		}
	})
}
