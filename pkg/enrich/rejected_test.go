package enrich

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Every rejected IP-list line is reported with file:line and its reason;
// a list with no valid line is an error.
func TestBadListLinesReported(t *testing.T) {
	dir := t.TempDir()
	mixed := filepath.Join(dir, "mixed.txt")
	os.WriteFile(mixed, []byte("198.51.100.7\n300.1.1.1\n1.2.3.4/99\n{\"cidr\": \"203.0.113.0/24\"\n203.0.113.0/24\n"), 0o600)
	e, err := New(Config{Lists: map[string][]string{"suspicious": {mixed}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st := e.Status()
	if st.RejectedLines() != 3 {
		t.Fatalf("rejected %d lines, want 3: %+v", st.RejectedLines(), st.Lists)
	}
	probs := st.Problems()
	if len(probs) != 1 {
		t.Fatalf("problems %q", probs)
	}
	for _, want := range []string{
		"ipLists.suspicious " + mixed + ": 3 lines ignored (",
		mixed + ":2: not an IP, CIDR, IP range or AS number",
		mixed + `:3: bad CIDR "1.2.3.4/99"`,
		mixed + ":4: bad JSON line",
	} {
		if !strings.Contains(probs[0], want) {
			t.Errorf("missing %q in %q", want, probs[0])
		}
	}
	t.Logf("reported: %s", probs[0])

	junk := make([]byte, 4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range junk {
		junk[i] = byte(r.IntN(256))
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"binary.bin":   {junk, "no valid line ("},
		"all bad.txt":  {[]byte("300.1.1.1\n1.2.3.4/99\n{broken\n"), "no valid line (3 bad lines; first: "},
		"empty.txt":    {nil, "no IP, CIDR, range or ASN in the file (0 bytes)"},
		"comments.txt": {[]byte("# nothing here\n\n"), "no IP, CIDR, range or ASN in the file"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, c.data, 0o600)
		_, err := New(Config{Lists: map[string][]string{"anonymous": {p}}})
		if err == nil || !strings.Contains(err.Error(), "enrich: anonymous list: ip list "+p+": "+c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

type rejectRec struct {
	source  string
	n       int
	problem string
}

// Every rejected input reaches Config.OnReject (the pipeline logs it and
// counts it in oktaguard_enrichment_input_rejected_total) and Problems
// (health, /readyz): bad list lines at load and reload, a failed list or
// database reload (once, not at every retry), and GeoIP records that
// cannot be decoded.
func TestRejectedInputsReported(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "suspicious.txt")
	os.WriteFile(list, []byte("198.51.100.7\n300.1.1.1\n"), 0o600)
	asn := filepath.Join(dir, "asn.mmdb")
	writeMMDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.0/24": asnRec(64500, "Good Net"),
		// a damaged record: the number is a string
		"203.0.113.0/24": {"autonomous_system_number": mmdbtype.String("sixty-four"), "autonomous_system_organization": mmdbtype.String("Bad Net")},
	})
	var got []rejectRec
	e, err := New(Config{ASNDB: asn, Lists: map[string][]string{"suspicious": {list}}, ReloadInterval: -1,
		OnReject: func(source string, n int, problem string) { got = append(got, rejectRec{source, n, problem}) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	want := []rejectRec{{"ip_list", 1, "ipLists.suspicious " + list + ": 1 lines ignored (" + list + `:2: not an IP, CIDR, IP range or AS number`}}
	if len(got) != 1 || got[0].source != want[0].source || got[0].n != 1 || !strings.HasPrefix(got[0].problem, want[0].problem) {
		t.Fatalf("at load: %+v, want %+v", got, want)
	}

	// a damaged GeoIP record: counted once per IP (the memo), the event keeps no ASN
	for range 3 {
		ev := evAt("203.0.113.9")
		e.Enrich(ev)
		if ev.IP.ASN != 0 {
			t.Fatalf("ASN %d from a damaged record", ev.IP.ASN)
		}
	}
	if len(got) != 2 || got[1].source != "geoip" || got[1].n != 1 ||
		!strings.HasPrefix(got[1].problem, "geoip asn database "+asn+": a record cannot be decoded, events get no asn data from it: ") {
		t.Fatalf("damaged record: %+v", got)
	}
	probs := strings.Join(e.Status().Problems(), "\n")
	if !strings.Contains(probs, "geoip asn database "+asn+": 1 records could not be decoded, those events have no asn data (first: IP 203.0.113.9: ") {
		t.Fatalf("problems: %s", probs)
	}

	// a list reload that fails: counted once, not at every retry
	os.WriteFile(list, []byte("300.1.1.1\n"), 0o600)
	later := time.Now().Add(time.Minute)
	os.Chtimes(list, later, later)
	for range 2 {
		if _, err := e.Reload(); err == nil {
			t.Fatal("reload of a list with no valid line succeeded")
		}
	}
	if len(got) != 3 || got[2].source != "ip_list" ||
		got[2].problem != "ipLists.suspicious "+list+": reload failed, previous entries kept: ip list "+list+": no valid line (1 bad lines; first: "+list+":1: not an IP, CIDR, IP range or AS number)" {
		t.Fatalf("failed list reload: %+v", got[2:])
	}
	// a database reload that fails: counted once
	os.WriteFile(asn, []byte("not a database"), 0o600)
	os.Chtimes(asn, later, later)
	for range 2 {
		if _, err := e.Reload(); err == nil {
			t.Fatal("reload of a broken database succeeded")
		}
	}
	if len(got) != 4 || got[3].source != "geoip" ||
		!strings.HasPrefix(got[3].problem, "geoip asn database "+asn+": reload failed, previous data kept: enrich: geoip asn database "+asn+": ") {
		t.Fatalf("failed database reload: %+v", got[3:])
	}
	for _, r := range got {
		t.Logf("%s %d: %s", r.source, r.n, r.problem)
	}
}

// A GeoIP database emptied or overwritten in place while loaded (cp over
// it truncates it first) is a failed reload like any other: counted (once
// while the same failure goes on), listed, and the data loaded before answers every lookup — including ones
// not memoized. (Memory-mapped, the loaded data was the file's new bytes:
// a lookup after the truncation died of SIGBUS, killing the process.)
func TestGeoIPDatabaseChangedInPlaceKeepsLoadedData(t *testing.T) {
	dir := t.TempDir()
	asn := filepath.Join(dir, "GeoLite2-ASN.mmdb")
	writeMMDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.0/24": asnRec(64500, "Doc Net"),
		"203.0.113.0/24":  asnRec(64501, "Test Net"),
	})
	var got []rejectRec
	e, err := New(Config{ASNDB: asn, ReloadInterval: -1,
		OnReject: func(source string, n int, problem string) { got = append(got, rejectRec{source, n, problem}) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lookup := func(ip string) int {
		ev := evAt(ip)
		e.Enrich(ev)
		return ev.IP.ASN
	}
	if a := lookup("198.51.100.7"); a != 64500 {
		t.Fatalf("ASN %d before the change", a)
	}
	later := time.Now().Add(time.Minute)
	for i, change := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"emptied", nil, "geoip asn database " + asn + ": reload failed, previous data kept: enrich: geoip asn database " + asn + ": error opening database: invalid MaxMind DB file"},
		{"overwritten", []byte("not a database, written over the old one"), "geoip asn database " + asn + ": reload failed, previous data kept: enrich: geoip asn database " + asn + ": error opening database: invalid MaxMind DB file"},
	} {
		// in place: the same inode, truncated and rewritten
		f, err := os.OpenFile(asn, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(change.content)
		f.Close()
		later = later.Add(time.Minute)
		os.Chtimes(asn, later, later)
		if _, err := e.Reload(); err == nil {
			t.Fatalf("%s: reload succeeded", change.name)
		}
		// 203.0.113.9 was never looked up: not in the memo
		ip := []string{"203.0.113.9", "203.0.113.10"}[i]
		if a := lookup(ip); a != 64501 {
			t.Fatalf("%s: ASN %d for %s, want 64501 from the data loaded before", change.name, a, ip)
		}
		// the same failure, still going on, is counted once
		if len(got) != 1 || got[0].source != "geoip" || got[0].n != 1 || got[0].problem != change.want {
			t.Fatalf("%s: rejected %+v\nwant %q", change.name, got, change.want)
		}
		if probs := strings.Join(e.Status().Problems(), "\n"); !strings.Contains(probs, "geoip asn database "+asn+": last reload failed at ") || !strings.Contains(probs, ", previous data kept (GeoLite2-ASN built 2024-05-01T00:00:00Z, file modified ") {
			t.Fatalf("%s: problems %q", change.name, probs)
		}
	}
	// a good database renamed over it is loaded, and the problem goes
	writeMMDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{"203.0.113.0/24": asnRec(64999, "New Net")})
	later = later.Add(time.Minute)
	os.Chtimes(asn, later, later)
	if _, err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if a := lookup("203.0.113.9"); a != 64999 {
		t.Fatalf("ASN %d after a good reload, want 64999", a)
	}
	if probs := e.Status().Problems(); len(probs) != 0 {
		t.Fatalf("problems after a good reload: %q", probs)
	}
}

// After a failed reload (a good database replaced by a truncated copy of a
// newer one), Status says what is in use — the last database that loaded,
// its type and build date — and the failure with its time and error; the
// failure is counted once per broken version of the file (an unchanged
// broken file is not read again at every check), and a good file clears it.
// (Health said "loaded" from a stat of the file, whatever was in use.)
func TestGeoIPFailedReloadStatusNamesDatabaseInUse(t *testing.T) {
	dir := t.TempDir()
	asn := filepath.Join(dir, "GeoLite2-ASN.mmdb")
	writeMMDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{"198.51.100.0/24": asnRec(64500, "Doc Net")})
	good, err := os.ReadFile(asn)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	e, err := New(Config{ASNDB: asn, ReloadInterval: -1, OnGeoIPReloadFailed: func(db string) { failed = append(failed, db) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	loaded := e.Status().Databases[0]
	built := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if !loaded.Loaded || loaded.DatabaseType != "GeoLite2-ASN" || !loaded.BuildEpoch.Equal(built) || loaded.Error != "" || loaded.FailedReloads != 0 {
		t.Fatalf("status of a good database: %+v", loaded)
	}
	wantInUse := "GeoLite2-ASN built 2024-05-01T00:00:00Z, file modified " + loaded.ModTime.UTC().Format(time.RFC3339)
	if got := loaded.InUse(); got != wantInUse {
		t.Fatalf("InUse %q, want %q", got, wantInUse)
	}

	// a truncated download renamed over the good file
	tmp := asn + ".tmp"
	if err := os.WriteFile(tmp, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(tmp, later, later)
	if err := os.Rename(tmp, asn); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Truncate(time.Second)
	for range 3 {
		if _, err := e.Reload(); err == nil {
			t.Fatal("reload of a truncated database succeeded")
		}
	}
	after := time.Now().UTC()
	d := e.Status().Databases[0]
	if !d.Loaded || d.DatabaseType != "GeoLite2-ASN" || !d.BuildEpoch.Equal(built) || !d.ModTime.Equal(loaded.ModTime) {
		t.Fatalf("after a failed reload the status is not the database in use: %+v", d)
	}
	if d.Error == "" || d.ErrorAt.Before(before) || d.ErrorAt.After(after) || d.FailedReloads != 1 || len(failed) != 1 || failed[0] != "asn" {
		t.Fatalf("failed reload: %+v, OnGeoIPReloadFailed %q (want one failure at %s..%s)", d, failed, before, after)
	}
	want := "geoip asn database " + asn + ": last reload failed at " + d.ErrorAt.Format(time.RFC3339) + ", previous data kept (" + wantInUse + "): " + d.Error
	if probs := e.Status().Problems(); len(probs) != 1 || probs[0] != want {
		t.Fatalf("problems %q\nwant [%q]", probs, want)
	}
	if a := lookupASN(e, "198.51.100.7"); a != 64500 {
		t.Fatalf("ASN %d after the failed reload, want 64500 from the database in use", a)
	}

	// another broken version is another failed reload
	if err := os.WriteFile(asn, good[:len(good)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	later = later.Add(time.Minute)
	os.Chtimes(asn, later, later)
	if _, err := e.Reload(); err == nil {
		t.Fatal("reload of a truncated database succeeded")
	}
	if d := e.Status().Databases[0]; d.FailedReloads != 2 || len(failed) != 2 {
		t.Fatalf("second broken version: %+v, OnGeoIPReloadFailed %q", d, failed)
	}

	// the file removed: one more failure, not one per check
	os.Remove(asn)
	for range 2 {
		if _, err := e.Reload(); err == nil {
			t.Fatal("reload of a removed database succeeded")
		}
	}
	if d := e.Status().Databases[0]; d.FailedReloads != 3 || len(failed) != 3 || !strings.Contains(d.Error, "no such file") {
		t.Fatalf("removed: %+v, OnGeoIPReloadFailed %q", d, failed)
	}

	// a good file again: loaded, no error, the count kept
	writeMMDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{"198.51.100.0/24": asnRec(64999, "New Net")})
	later = later.Add(time.Minute)
	os.Chtimes(asn, later, later)
	if _, err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if d := e.Status().Databases[0]; d.Error != "" || !d.ErrorAt.IsZero() || d.FailedReloads != 3 || !d.ModTime.Equal(later) {
		t.Fatalf("after a good reload: %+v", d)
	}
	if a := lookupASN(e, "198.51.100.7"); a != 64999 {
		t.Fatalf("ASN %d after a good reload, want 64999", a)
	}
}

func lookupASN(e *Enricher, ip string) int {
	ev := evAt(ip)
	e.Enrich(ev)
	return ev.IP.ASN
}

// An ASN record whose number does not fit 32 bits is a damaged record:
// reported like one, and the event gets no ASN (a conversion to uint32
// would have given it 64500, another network's).
func TestASNPast32BitsIsDamaged(t *testing.T) {
	dir := t.TempDir()
	asn := filepath.Join(dir, "asn.mmdb")
	writeMMDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.0/24": asnRec(64500, "Good Net"),
		"203.0.113.0/24":  {"autonomous_system_number": mmdbtype.Uint64(1<<32 + 64500), "autonomous_system_organization": mmdbtype.String("Wide Net")},
	})
	var got []rejectRec
	e, err := New(Config{ASNDB: asn, ReloadInterval: -1,
		OnReject: func(source string, n int, problem string) { got = append(got, rejectRec{source, n, problem}) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ev := evAt("203.0.113.9")
	e.Enrich(ev)
	if ev.IP.ASN != 0 || ev.IP.ASOrg != "" {
		t.Fatalf("ASN %d %q from a number past 32 bits", ev.IP.ASN, ev.IP.ASOrg)
	}
	if len(got) != 1 || got[0].source != "geoip" ||
		got[0].problem != "geoip asn database "+asn+": a record cannot be decoded, events get no asn data from it: autonomous_system_number 4295031796 is not a 32-bit AS number" {
		t.Fatalf("rejections: %+v", got)
	}
	ev = evAt("198.51.100.9")
	e.Enrich(ev)
	if ev.IP.ASN != 64500 {
		t.Fatalf("good record: ASN %d", ev.IP.ASN)
	}
}
