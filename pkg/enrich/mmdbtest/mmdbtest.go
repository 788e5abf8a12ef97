// Package mmdbtest builds tiny real GeoIP databases for tests (tests only):
// the same MaxMind DB format the enricher reads, written by mmdbwriter.
package mmdbtest

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// ASNNetwork and ASNNumber are the one network ASN holds and its number.
const (
	ASNNetwork = "198.51.100.0/24"
	ASNNumber  = 64500
	ASNOrg     = "Doc Net"
)

// AnonymousNetwork is the one network Anonymous holds (a VPN exit).
const AnonymousNetwork = "203.0.113.0/28"

// ASN is a GeoLite2-ASN database with one network (ASNNetwork, AS
// ASNNumber "Doc Net"), stamped as built at built (zero: the writer's
// clock).
func ASN(t testing.TB, built time.Time) []byte {
	t.Helper()
	return build(t, "GeoLite2-ASN", built, ASNNetwork,
		mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(ASNNumber), "autonomous_system_organization": mmdbtype.String(ASNOrg)})
}

// Anonymous is a GeoIP2-Anonymous-IP database with one network
// (AnonymousNetwork, an anonymous VPN), stamped as built at built.
func Anonymous(t testing.TB, built time.Time) []byte {
	t.Helper()
	return build(t, "GeoIP2-Anonymous-IP", built, AnonymousNetwork,
		mmdbtype.Map{"is_anonymous": mmdbtype.Bool(true), "is_anonymous_vpn": mmdbtype.Bool(true)})
}

// build writes a database of type typ with one network and its record.
func build(t testing.TB, typ string, built time.Time, network string, rec mmdbtype.Map) []byte {
	t.Helper()
	opts := mmdbwriter.Options{DatabaseType: typ, IncludeReservedNetworks: true, RecordSize: 28}
	if !built.IsZero() {
		opts.BuildEpoch = built.Unix()
	}
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR(network)
	if err := tree.Insert(n, rec); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
