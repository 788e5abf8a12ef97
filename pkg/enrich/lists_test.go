package enrich

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseLine(t *testing.T) {
	cases := []struct {
		line string
		skip bool
		kind entryKind
		want string // prefix, range "a-b" or ASN
		err  string
	}{
		{"# comment", true, 0, "", ""},
		{"   ", true, 0, "", ""},
		{"; spamhaus comment", true, 0, "", ""},
		{"185.220.101.1", false, kindPrefix, "185.220.101.1/32", ""},
		{"185.220.101.0/24 # tor", false, kindPrefix, "185.220.101.0/24", ""},
		{"1.10.16.0/20 ; SBL256894", false, kindPrefix, "1.10.16.0/20", ""},
		{"10.0.0.5/8", false, kindPrefix, "10.0.0.0/8", ""},
		{"2001:db8::/32", false, kindPrefix, "2001:db8::/32", ""},
		{"::ffff:192.0.2.1", false, kindPrefix, "192.0.2.1/32", ""},
		{"192.0.2.10-192.0.2.20", false, kindRange, "192.0.2.10-192.0.2.20", ""},
		{"192.0.2.10 - 192.0.2.20", false, kindRange, "192.0.2.10-192.0.2.20", ""},
		{`"198.51.100.0/24","Example",US`, false, kindPrefix, "198.51.100.0/24", ""},
		{"198.51.100.7\tsome note", false, kindPrefix, "198.51.100.7/32", ""},
		{"AS14061 # DigitalOcean", false, kindASN, "14061", ""},
		{"as714", false, kindASN, "714", ""},
		{`14061,"DIGITALOCEAN-ASN - Digital Ocean, Inc., US"`, false, kindASN, "14061", ""},
		{`{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}`, false, kindPrefix, "1.10.16.0/20", ""},
		{`{"asn":"AS64500","rir":"arin"}`, false, kindASN, "64500", ""},
		{`{"asn":64501}`, false, kindASN, "64501", ""},
		{`{"type":"metadata","timestamp":1700000000,"records":2,"copyright":"x"}`, true, 0, "", ""},
		{`{"cidr":`, false, 0, "", "bad JSON line"},
		{`{"foo":1}`, false, 0, "", `without "cidr"`},
		{"999.1.1.1", false, 0, "", "not an IP"},
		{"192.0.2.20-192.0.2.10", false, 0, "", "start after end"},
		{"192.0.2.1-2001:db8::1", false, 0, "", "mixed families"},
		{"1.2.3.0/33", false, 0, "", "bad CIDR"},
		{"AS99999999999", false, 0, "", "bad AS number"},
		{"hello", false, 0, "", "not an IP"},
	}
	for _, c := range cases {
		e, skip, err := parseLine(c.line)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v want %q", c.line, err, c.err)
			}
			continue
		}
		if err != nil || skip != c.skip {
			t.Errorf("%q: skip=%v err=%v", c.line, skip, err)
			continue
		}
		if skip {
			continue
		}
		if e.kind != c.kind {
			t.Errorf("%q: kind %v want %v", c.line, e.kind, c.kind)
			continue
		}
		var got string
		switch e.kind {
		case kindPrefix:
			got = e.prefix.String()
		case kindRange:
			got = e.start.String() + "-" + e.end.String()
		case kindASN:
			got = strconv.FormatUint(uint64(e.asn), 10)
		}
		if got != c.want {
			t.Errorf("%q: got %s want %s", c.line, got, c.want)
		}
	}
}

func TestRangeSet(t *testing.T) {
	var s rangeSet
	for _, p := range []string{"10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/25", "192.0.2.128/25", "2001:db8::/48", "2001:db8:0:1::/64", "fe80::/10"} {
		pr := netip.MustParsePrefix(p)
		s.add(pr.Addr(), lastAddr(pr))
	}
	s.add(netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.20"))
	s.finish()
	if v4, v6 := s.counts(); v4 != 3 || v6 != 2 {
		t.Errorf("merge: %d v4 and %d v6 ranges, want 3 and 2", v4, v6)
	}
	in := []string{"10.0.0.0", "10.255.255.255", "10.1.2.3", "192.0.2.0", "192.0.2.200", "198.51.100.10", "198.51.100.20", "2001:db8::1", "2001:db8:0:ffff::1", "2001:db8:0:1::5", "febf:ffff::1"}
	out := []string{"9.255.255.255", "11.0.0.0", "192.0.3.0", "198.51.100.9", "198.51.100.21", "0.0.0.0", "255.255.255.255", "2001:db8:1::1", "2001:db7::1", "::", "ffff::1", "fec0::1"}
	for _, a := range in {
		if !s.contains(netip.MustParseAddr(a)) {
			t.Errorf("%s should match", a)
		}
	}
	for _, a := range out {
		if s.contains(netip.MustParseAddr(a)) {
			t.Errorf("%s should not match", a)
		}
	}
	var all rangeSet
	for _, p := range []string{"0.0.0.0/0", "::/0"} {
		pr := netip.MustParsePrefix(p)
		all.add(pr.Addr(), lastAddr(pr))
	}
	all.finish()
	for _, a := range []string{"0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
		if !all.contains(netip.MustParseAddr(a)) {
			t.Errorf("/0 should contain %s", a)
		}
	}
	// an IPv6 range reaching into ::ffff:0:0/96 (FuzzParseLine's "::/80"):
	// its IPv6 part and the IPv4 addresses its mapped part stands for; it
	// was dropped whole before (a range from IPv6 to IPv4, never matched)
	var reach rangeSet
	pr := netip.MustParsePrefix("::/80")
	reach.add(pr.Addr(), lastAddr(pr))
	reach.add(netip.MustParseAddr("::ffff:10.0.0.0"), netip.MustParseAddr("::1:0:0:5"))
	reach.finish()
	for _, a := range []string{"::", "::1", "::fffe:ffff:ffff", "0.0.0.0", "1.2.3.4", "255.255.255.255", "::ffff:1.2.3.4", "::1:0:0:5"} {
		if !reach.contains(netip.MustParseAddr(a)) {
			t.Errorf("::/80 and ::ffff:10.0.0.0-::1:0:0:5 should contain %s", a)
		}
	}
	if reach.contains(netip.MustParseAddr("::1:0:0:6")) || reach.contains(netip.MustParseAddr("2001:db8::1")) {
		t.Error("::/80 and ::ffff:10.0.0.0-::1:0:0:5 contain an address past them")
	}
	var empty rangeSet
	empty.finish()
	if empty.contains(netip.MustParseAddr("1.2.3.4")) || empty.contains(netip.MustParseAddr("::1")) {
		t.Error("empty set matched")
	}
}

func TestListFormatsAndCategories(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lists/torbulkexitlist"), "185.220.101.1\n185.220.101.2\n\n")
	writeFile(t, filepath.Join(dir, "lists/firehol_anonymous.netset"), "#\n# firehol_anonymous\n# entries: 2\n#\n198.18.0.0/15\n2001:db8:a::/48\n")
	writeFile(t, filepath.Join(dir, "lists/drop_v4.json"), `{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}
{"cidr":"1.19.0.0/16","sblid":"SBL434604","rir":"apnic"}
{"type":"metadata","timestamp":1700000000,"size":2,"records":2,"copyright":"(c) Spamhaus"}
`)
	writeFile(t, filepath.Join(dir, "lists/drop.txt"), "; Spamhaus DROP List\n5.134.128.0/19 ; SBL270738\n")
	writeFile(t, filepath.Join(dir, "lists/bad-asn-list.csv"), "ASN,Entity\n14061,\"DIGITALOCEAN-ASN - Digital Ocean, Inc., US\"\n16509,\"AMAZON-02, US\"\n")
	writeFile(t, filepath.Join(dir, "lists/datacenter-asn.txt"), "AS64511 # example\nAS64512\n")
	writeFile(t, filepath.Join(dir, "lists/ranges.txt"), "100.64.0.10-100.64.0.20\n")
	writeFile(t, filepath.Join(dir, "lists/broken.txt"), "192.0.2.1\nnot-an-ip\n192.0.2.300\n192.0.2.2\n")
	cfg := map[string][]string{
		"anonymous":  {"lists/torbulkexitlist", "lists/firehol_anonymous.netset"},
		"suspicious": {"lists/drop_v4.json", "lists/drop.txt", "lists/broken.txt"},
		"risky":      {"lists/bad-asn-list.csv", "lists/datacenter-asn.txt", "lists/ranges.txt", "AS64999"},
		"trusted":    {"203.0.113.0/24", "2001:db8:ffff::/48", "192.0.2.2", "185.220.101.2"},
	}
	e, err := New(Config{Lists: cfg, BaseDir: dir, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cases := []struct {
		ip   string
		asn  int
		want event.IPCategory
	}{
		{"185.220.101.1", 0, event.CatAnonymous},
		{"185.220.101.2", 0, event.CatAnonymous | event.CatTrusted},
		{"198.19.255.255", 0, event.CatAnonymous},
		{"2001:db8:a::99", 0, event.CatAnonymous},
		{"1.10.20.1", 0, event.CatSuspicious},
		{"1.19.200.1", 0, event.CatSuspicious},
		{"5.134.130.1", 0, event.CatSuspicious},
		{"192.0.2.1", 0, event.CatSuspicious},
		{"192.0.2.2", 0, event.CatSuspicious | event.CatTrusted},
		{"100.64.0.15", 0, event.CatRisky},
		{"100.64.0.21", 0, 0},
		{"192.0.2.77", 14061, event.CatRisky},
		{"192.0.2.77", 64512, event.CatRisky},
		{"192.0.2.77", 64999, event.CatRisky},
		{"192.0.2.77", 16509, event.CatRisky},
		{"192.0.2.77", 64500, 0},
		{"203.0.113.9", 0, event.CatTrusted},
		{"2001:db8:ffff::1", 0, event.CatTrusted},
		{"8.8.8.8", 0, 0},
	}
	for _, c := range cases {
		ev := evAt(c.ip)
		ev.Security.ASNumber = c.asn
		e.Enrich(ev)
		if ev.IP.Categories != c.want {
			t.Errorf("%s AS%d: categories %04b want %04b", c.ip, c.asn, ev.IP.Categories, c.want)
		}
	}
	st := e.Status()
	var broken *ListStatus
	counts := map[string]int{}
	for i := range st.Lists {
		ls := &st.Lists[i]
		counts[filepath.Base(ls.Source)] = ls.Entries
		if strings.HasSuffix(ls.Source, "broken.txt") {
			broken = ls
		}
	}
	if counts["torbulkexitlist"] != 2 || counts["drop_v4.json"] != 2 || counts["bad-asn-list.csv"] != 2 || counts["firehol_anonymous.netset"] != 2 {
		t.Errorf("entry counts %v", counts)
	}
	if broken == nil || broken.BadLines != 2 || broken.Entries != 2 || len(broken.Bad) != 2 ||
		!strings.HasSuffix(strings.SplitN(broken.Bad[0], ": ", 2)[0], "broken.txt:2") ||
		!strings.Contains(broken.Bad[1], "broken.txt:3") {
		t.Errorf("bad line report %+v", broken)
	}
	if len(st.Lists) != 13 {
		t.Errorf("%d list sources in status, want 13", len(st.Lists))
	}
}

func TestListHotReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risky.txt")
	writeFile(t, path, "192.0.2.1\n")
	e, err := New(Config{Lists: map[string][]string{"risky": {path}}, ReloadInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	check := func(ip string, want bool) {
		t.Helper()
		ev := evAt(ip)
		e.Enrich(ev)
		if ev.IP.Categories.Has(event.CatRisky) != want {
			t.Errorf("%s risky=%v want %v", ip, !want, want)
		}
	}
	check("192.0.2.1", true)
	check("192.0.2.2", false)
	writeFile(t, path, "192.0.2.2\n")
	bumpMTime(t, path, 2*time.Second)
	// Within the reload interval the files are not looked at.
	elapse(e, 59*time.Minute)
	check("192.0.2.3", false)
	if st := e.Status(); st.Reloads != 0 {
		t.Fatalf("reloaded before the interval passed: %+v", st)
	}
	// Once it has passed, the next event's lookup reloads the list.
	elapse(e, time.Minute)
	check("192.0.2.1", false)
	check("192.0.2.2", true)

	// the file disappears: old data kept, error reported
	os.Remove(path)
	if _, err := e.Reload(); err == nil {
		t.Error("expected a reload error for the missing list")
	}
	check("192.0.2.2", true)
	if st := e.Status(); st.Lists[0].Error == "" {
		t.Errorf("status %+v", st.Lists)
	}
}
