package enrich

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func newFixture(t *testing.T, lists map[string][]string) (*Enricher, string) {
	t.Helper()
	dir := t.TempDir()
	city, asn, anon := fixtureDBs(t, dir)
	e, err := New(Config{CityDB: filepath.Base(city), ASNDB: asn, AnonymousDB: anon, BaseDir: dir, Lists: lists, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, dir
}

func evAt(ip string) *event.Event {
	return &event.Event{UUID: "u", EventType: "user.session.start", Client: event.Client{IPAddress: ip}}
}

func TestGeoPrecedenceAndFallback(t *testing.T) {
	e, _ := newFixture(t, nil)

	// Okta sent geo: kept as is; ISO code still added from GeoIP.
	ev := evAt("192.0.2.10")
	ev.Client.Geo = event.Geo{City: "Paris", Country: "France", Lat: 48.85, Lon: 2.35, HasLatLon: true}
	e.Enrich(ev)
	if ev.Client.Geo.Country != "France" || ev.Client.Geo.City != "Paris" || ev.IP.GeoSource != "okta" {
		t.Errorf("Okta geo must win: %+v source %q", ev.Client.Geo, ev.IP.GeoSource)
	}
	if !ev.IP.Enriched || ev.IP.CountryISO != "DE" {
		t.Errorf("IPInfo %+v", ev.IP)
	}

	// No Okta geo: filled from the City DB.
	ev = evAt("192.0.2.10")
	e.Enrich(ev)
	want := event.Geo{City: "Berlin", State: "Berlin", Country: "Germany", PostalCode: "10115", Lat: 52.52, Lon: 13.405, HasLatLon: true}
	if ev.Client.Geo != want || ev.IP.GeoSource != "geoip" {
		t.Errorf("fallback geo %+v source %q", ev.Client.Geo, ev.IP.GeoSource)
	}

	// IPv6 and the ipChain fallback when client.ipAddress is missing.
	ev = &event.Event{IPChain: []event.IPChainEntry{{IP: "2001:db8::1"}}}
	e.Enrich(ev)
	if ev.Client.Geo.Country != "Brazil" || ev.IP.CountryISO != "BR" {
		t.Errorf("v6 via ipChain: %+v", ev.Client.Geo)
	}

	// Unknown IP, bad IP, no IP: nothing invented.
	for _, ip := range []string{"10.1.2.3", "not-an-ip", ""} {
		ev = evAt(ip)
		e.Enrich(ev)
		if ev.Client.Geo != (event.Geo{}) || ev.IP.GeoSource != "" || ev.IP.CountryISO != "" || !ev.IP.Enriched {
			t.Errorf("%q: %+v %+v", ip, ev.Client.Geo, ev.IP)
		}
	}
}

func TestASNPrecedence(t *testing.T) {
	e, _ := newFixture(t, nil)
	ev := evAt("192.0.2.10")
	e.Enrich(ev)
	if ev.IP.ASN != 64500 || ev.IP.ASOrg != "Example Transit" {
		t.Errorf("ASN from DB: %d %q", ev.IP.ASN, ev.IP.ASOrg)
	}
	ev = evAt("192.0.2.10")
	ev.Security = event.SecurityContext{ASNumber: 3320, ASOrg: "Deutsche Telekom AG"}
	e.Enrich(ev)
	if ev.IP.ASN != 3320 || ev.IP.ASOrg != "Deutsche Telekom AG" {
		t.Errorf("Okta ASN must win: %d %q", ev.IP.ASN, ev.IP.ASOrg)
	}
}

func TestAnonymousFlags(t *testing.T) {
	e, _ := newFixture(t, nil)
	cases := []struct {
		ip                                    string
		tor, vpn, hosting, proxy, residential bool
		anonymous                             bool
	}{
		{"203.0.113.1", true, false, false, false, false, true},
		{"203.0.113.17", false, true, true, false, false, true},
		{"203.0.113.33", false, false, true, false, false, false},
		{"203.0.113.49", false, false, false, true, false, true},
		{"203.0.113.65", false, false, false, false, true, true},
		{"203.0.113.200", false, false, false, false, false, false},
	}
	for _, c := range cases {
		ev := evAt(c.ip)
		e.Enrich(ev)
		got := ev.IP
		if got.Tor != c.tor || got.AnonymousVPN != c.vpn || got.HostingProvider != c.hosting ||
			got.PublicProxy != c.proxy || got.ResidentialProxy != c.residential ||
			got.Categories.Has(event.CatAnonymous) != c.anonymous {
			t.Errorf("%s: %+v", c.ip, got)
		}
	}
}

func TestOktaAnonymizerSignals(t *testing.T) {
	e, err := New(Config{}) // no databases at all
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	ev := evAt("192.0.2.1")
	ev.Security.IsProxy = true
	e.Enrich(ev)
	if !ev.IP.Categories.Has(event.CatAnonymous) || ev.IP.PrivateRelay {
		t.Errorf("isProxy: %+v", ev.IP)
	}

	ev = evAt("192.0.2.1")
	ev.Debug.Tunnels = []event.Tunnel{{Anonymous: true, Operator: "WARP_VPN", Type: "VPN"}}
	e.Enrich(ev)
	if !ev.IP.Categories.Has(event.CatAnonymous) || !ev.IP.AnonymousVPN || ev.IP.PrivateRelay {
		t.Errorf("anonymous tunnel: %+v", ev.IP)
	}

	ev = evAt("192.0.2.1")
	ev.Debug.Tunnels = []event.Tunnel{{Anonymous: false, Operator: "CORP", Type: "VPN"}}
	e.Enrich(ev)
	if ev.IP.Categories != 0 || ev.IP.AnonymousVPN {
		t.Errorf("non-anonymous tunnel: %+v", ev.IP)
	}

	ev = evAt("192.0.2.1")
	ev.Debug.Tunnels = []event.Tunnel{{Anonymous: true, Type: "TOR"}}
	e.Enrich(ev)
	if !ev.IP.Tor {
		t.Errorf("tor tunnel: %+v", ev.IP)
	}

	ev = evAt("")
	e.Enrich(ev)
	if ev.IP != (event.IPInfo{Enriched: true}) {
		t.Errorf("plain event: %+v", ev.IP)
	}
}

func TestPrivateRelay(t *testing.T) {
	e, _ := newFixture(t, nil)
	cases := []struct {
		name string
		ev   func() *event.Event
		want bool
	}{
		{"tunnel operator", func() *event.Event {
			ev := evAt("192.0.2.1")
			ev.Debug.Tunnels = []event.Tunnel{{Anonymous: true, Operator: "iCloud Private Relay", Type: "PROXY"}}
			return ev
		}, true},
		{"tunnel operator enum", func() *event.Event {
			ev := evAt("192.0.2.1")
			ev.Debug.Tunnels = []event.Tunnel{{Anonymous: true, Operator: "APPLE_ICLOUD_PRIVATE_RELAY", Type: "PROXY"}}
			return ev
		}, true},
		{"isp name", func() *event.Event {
			ev := evAt("192.0.2.1")
			ev.Security = event.SecurityContext{ASNumber: 13335, ASOrg: "Cloudflare", ISP: "iCloud Private Relay", IsProxy: true}
			return ev
		}, true},
		{"akamai relay ASN from the ASN DB", func() *event.Event { return evAt("198.51.100.7") }, true},
		{"apple ASN with isProxy", func() *event.Event {
			ev := evAt("192.0.2.1")
			ev.Security = event.SecurityContext{ASNumber: 714, ASOrg: "Apple Inc.", IsProxy: true}
			return ev
		}, true},
		{"apple ASN without proxy signal", func() *event.Event {
			ev := evAt("192.0.2.1")
			ev.Security = event.SecurityContext{ASNumber: 714, ASOrg: "Apple Inc."}
			return ev
		}, false},
		{"other VPN", func() *event.Event {
			ev := evAt("192.0.2.1")
			ev.Debug.Tunnels = []event.Tunnel{{Anonymous: true, Operator: "NordVPN", Type: "VPN"}}
			return ev
		}, false},
	}
	for _, c := range cases {
		ev := c.ev()
		e.Enrich(ev)
		if ev.IP.PrivateRelay != c.want {
			t.Errorf("%s: PrivateRelay=%v want %v (%+v)", c.name, ev.IP.PrivateRelay, c.want, ev.IP)
		}
		if c.want && !ev.IP.Categories.Has(event.CatAnonymous) {
			t.Errorf("%s: a relay is anonymous", c.name)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	os.WriteFile(corrupt, []byte("this is not an mmdb file at all"), 0o644)
	cases := []struct {
		name string
		cfg  Config
		want string
		is   error
	}{
		{"missing city", Config{CityDB: filepath.Join(dir, "nope.mmdb")}, "geoip city database", fs.ErrNotExist},
		{"missing asn relative", Config{ASNDB: "nope.mmdb", BaseDir: dir}, filepath.Join(dir, "nope.mmdb"), fs.ErrNotExist},
		{"corrupt", Config{AnonymousDB: corrupt}, "geoip anonymous database " + corrupt, nil},
		{"missing list", Config{Lists: map[string][]string{"risky": {"lists/missing.txt"}}, BaseDir: dir}, "risky list", fs.ErrNotExist},
		{"unknown category", Config{Lists: map[string][]string{"evil": {"1.2.3.4"}}}, `category "evil"`, nil},
		{"list is a dir", Config{Lists: map[string][]string{"risky": {dir}}}, "is a directory", nil},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if err == nil {
			t.Errorf("%s: expected an error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q does not mention %q", c.name, err, c.want)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: %v is not %v", c.name, err, c.is)
		}
	}
}

func TestHotReloadDatabase(t *testing.T) {
	dir := t.TempDir()
	city, _, _ := fixtureDBs(t, dir)
	e, err := New(Config{CityDB: city, ReloadInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ev := evAt("192.0.2.10")
	e.Enrich(ev)
	if ev.Client.Geo.Country != "Germany" {
		t.Fatalf("before: %+v", ev.Client.Geo)
	}
	gen := e.Status().Generation

	writeMMDB(t, city, "GeoIP2-City", map[string]mmdbtype.Map{
		"192.0.2.0/24": cityRec(cityFix{"KE", "Kenya", "Nairobi", "Nairobi", "00100", -1.29, 36.82}),
	})
	bumpMTime(t, city, 2*time.Second)
	elapse(e, 59*time.Minute)
	ev = evAt("192.0.2.11") // within the interval: the file is not looked at
	e.Enrich(ev)
	if ev.Client.Geo.Country != "Germany" || e.Status().Reloads != 0 {
		t.Fatalf("reloaded before the interval passed: %+v", ev.Client.Geo)
	}
	elapse(e, time.Minute)

	ev = evAt("192.0.2.10") // this call notices the change (interval elapsed)
	e.Enrich(ev)
	if ev.Client.Geo.Country != "Kenya" || ev.IP.CountryISO != "KE" {
		t.Errorf("after reload: %+v (memo not invalidated?)", ev.Client.Geo)
	}
	st := e.Status()
	if st.Generation == gen || st.Reloads != 1 {
		t.Errorf("status after reload: %+v", st)
	}
	if len(st.Databases) != 1 || st.Databases[0].DatabaseType != "GeoIP2-City" || !st.Databases[0].Loaded ||
		st.Databases[0].BuildEpoch.Year() != 2024 {
		t.Errorf("db status %+v", st.Databases)
	}

	// A corrupt replacement keeps the old data and reports the error.
	os.WriteFile(city, []byte("garbage"), 0o644)
	bumpMTime(t, city, 4*time.Second)
	changed, err := e.Reload()
	if err == nil || changed {
		t.Errorf("corrupt reload: changed=%v err=%v", changed, err)
	}
	ev = evAt("192.0.2.10")
	e.Enrich(ev)
	if ev.Client.Geo.Country != "Kenya" {
		t.Errorf("old data should stay after a failed reload: %+v", ev.Client.Geo)
	}
	if st := e.Status(); st.Databases[0].Error == "" {
		t.Error("reload error not in status")
	}

	// Nothing changed: no new generation.
	before := e.Status().Generation
	if changed, _ := e.Reload(); changed || e.Status().Generation != before {
		t.Error("reload without change bumped the generation")
	}
}

func TestReloadDisabledAndClosed(t *testing.T) {
	dir := t.TempDir()
	city, _, _ := fixtureDBs(t, dir)
	e, err := New(Config{CityDB: city, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	writeMMDB(t, city, "GeoIP2-City", map[string]mmdbtype.Map{
		"192.0.2.0/24": cityRec(cityFix{"KE", "Kenya", "", "", "", 1, 1}),
	})
	bumpMTime(t, city, 2*time.Second)
	ev := evAt("192.0.2.10")
	e.Enrich(ev)
	if ev.Client.Geo.Country != "Germany" {
		t.Errorf("reload disabled, yet data changed: %+v", ev.Client.Geo)
	}
	e.Close()
	ev = evAt("192.0.2.10")
	e.Enrich(ev) // must not panic after Close
	if ev.Client.Geo.Country != "" {
		t.Errorf("after Close: %+v", ev.Client.Geo)
	}
	if _, err := e.Reload(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close: %v", err)
	}
}

func TestMemo(t *testing.T) {
	e, _ := newFixture(t, nil)
	for i := 0; i < 3; i++ {
		e.Enrich(evAt("192.0.2.10"))
	}
	st := e.Status()
	if st.CacheMisses != 1 || st.CacheHits != 2 {
		t.Errorf("hits %d misses %d, want 2/1", st.CacheHits, st.CacheMisses)
	}
	r := result{cats: 5, flags: 3, asn: 714, lat: -1.5, lon: 2.25, countryISO: "DE", country: "Germany", state: "Berlin", city: "Berlin", postal: "10115", asOrg: "Apple Inc."}
	got, ok := decodeResult(encodeResult(nil, &r))
	if !ok || got != r {
		t.Errorf("round trip %+v", got)
	}
	if _, ok := decodeResult([]byte{9, 9, 9}); ok {
		t.Error("short value accepted")
	}
	enc := encodeResult(nil, &r)
	if _, ok := decodeResult(enc[:len(enc)-3]); ok {
		t.Error("truncated value accepted")
	}
}

func TestConcurrentEnrichDuringReload(t *testing.T) {
	dir := t.TempDir()
	city, asn, _ := fixtureDBs(t, dir)
	e, err := New(Config{CityDB: city, ASNDB: asn, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ev := evAt("192.0.2.10")
				e.Enrich(ev)
				if c := ev.Client.Geo.Country; c != "Germany" && c != "Kenya" {
					t.Errorf("country %q", c)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		country := "Kenya"
		if i%2 == 1 {
			country = "Germany"
		}
		writeMMDB(t, city, "GeoIP2-City", map[string]mmdbtype.Map{
			"192.0.2.0/24": cityRec(cityFix{"XX", country, "", "", "", 1, 1}),
		})
		bumpMTime(t, city, time.Duration(i+1)*time.Second)
		if _, err := e.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestRelayNameFastPathAgrees: the allocation-free fold of an ASCII name
// gives what strings.ToLower and the separator replacer give, on names
// that are and are not the relay's, in every case and with non-ASCII and
// over-long names (which take the slow path).
func TestRelayNameFastPathAgrees(t *testing.T) {
	names := []string{
		"iCloud Private Relay", "APPLE_ICLOUD_PRIVATE_RELAY", "Private-Relay", "apple", "Apple", "APPLE",
		"Apple Relay Egress", "apple-relay", "Apple Inc.", "applex", "Cloudflare", "NordVPN", "reliance jio",
		"Reliance Jio Infocomm Limited", "ICLOUD", "İCLOUD", "Ünïcode Private Relay", "privaterelay",
		"private  relay", "a-b_c", strings.Repeat("x", 200) + " private relay", strings.Repeat("Y", 128),
	}
	relays := 0
	for _, n := range names {
		got, want := relayName(n), relayNameSlow(n)
		if got != want {
			t.Errorf("relayName(%q) = %v, slow path %v", n, got, want)
		}
		if got {
			relays++
		}
	}
	if relays < 8 {
		t.Errorf("only %d of the names were seen as relay names", relays)
	}
	if a := testing.AllocsPerRun(100, func() { relayName("Reliance Jio Infocomm Limited") }); a != 0 {
		t.Errorf("%v allocations per ASCII name", a)
	}
}
