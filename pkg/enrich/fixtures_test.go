package enrich

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

type cityFix struct {
	iso, country, state, city, postal string
	lat, lon                          float64
}

func cityRec(c cityFix) mmdbtype.Map {
	return mmdbtype.Map{
		"city":         mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(c.city)}},
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String(c.iso), "names": mmdbtype.Map{"en": mmdbtype.String(c.country)}},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("XX"), "names": mmdbtype.Map{"en": mmdbtype.String(c.state)}}},
		"postal":       mmdbtype.Map{"code": mmdbtype.String(c.postal)},
		"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(c.lat), "longitude": mmdbtype.Float64(c.lon), "accuracy_radius": mmdbtype.Uint16(20)},
	}
}

func asnRec(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n), "autonomous_system_organization": mmdbtype.String(org)}
}

func anonRec(flags ...string) mmdbtype.Map {
	m := mmdbtype.Map{}
	for _, f := range flags {
		m[mmdbtype.String(f)] = mmdbtype.Bool(true)
	}
	return m
}

// writeMMDB builds a .mmdb at path from CIDR -> record, the way MaxMind's
// own databases are shaped, including documentation ranges.
func writeMMDB(t testing.TB, path, dbType string, recs map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		IncludeReservedNetworks: true,
		RecordSize:              28,
		BuildEpoch:              time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range recs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fixtureDBs writes City, ASN and Anonymous-IP databases into dir.
func fixtureDBs(t testing.TB, dir string) (city, asn, anon string) {
	city = filepath.Join(dir, "GeoLite2-City.mmdb")
	asn = filepath.Join(dir, "GeoLite2-ASN.mmdb")
	anon = filepath.Join(dir, "GeoIP2-Anonymous-IP.mmdb")
	writeMMDB(t, city, "GeoIP2-City", map[string]mmdbtype.Map{
		"192.0.2.0/24":    cityRec(cityFix{"DE", "Germany", "Berlin", "Berlin", "10115", 52.52, 13.405}),
		"198.51.100.0/24": cityRec(cityFix{"JP", "Japan", "Tokyo", "Tokyo", "100-0001", 35.68, 139.69}),
		"2001:db8::/32":   cityRec(cityFix{"BR", "Brazil", "Sao Paulo", "Sao Paulo", "01000", -23.55, -46.63}),
	})
	writeMMDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"192.0.2.0/24":    asnRec(64500, "Example Transit"),
		"198.51.100.0/24": asnRec(36183, "Akamai Technologies, Inc."),
		"203.0.113.0/24":  asnRec(64501, "Example Hosting"),
	})
	writeMMDB(t, anon, "GeoIP2-Anonymous-IP", map[string]mmdbtype.Map{
		"203.0.113.0/28":  anonRec("is_anonymous", "is_tor_exit_node"),
		"203.0.113.16/28": anonRec("is_anonymous", "is_anonymous_vpn", "is_hosting_provider"),
		"203.0.113.32/28": anonRec("is_hosting_provider"),
		"203.0.113.48/28": anonRec("is_anonymous", "is_public_proxy"),
		"203.0.113.64/28": anonRec("is_anonymous", "is_residential_proxy"),
	})
	return city, asn, anon
}

// elapse moves the enricher's last check of its files back by d, as if d
// had passed: the next Enrich looks at the files again once d reaches the
// ReloadInterval. Tests advance this clock instead of sleeping.
func elapse(e *Enricher, d time.Duration) { e.check.Add(-int64(d)) }

// bumpMTime moves a file's modification time forward so a reload sees it
// even on file systems with coarse timestamps.
func bumpMTime(t testing.TB, path string, by time.Duration) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	m := st.ModTime().Add(by)
	if err := os.Chtimes(path, m, m); err != nil {
		t.Fatal(err)
	}
}

func writeFileErr(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }
