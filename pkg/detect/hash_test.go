package detect

import (
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// fnvString is the reference: FNV-1a of the whole string, 0 taken as 1.
func fnvString(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	if v := h.Sum32(); v != 0 {
		return v
	}
	return 1
}

// TestHashKeysMatchConcatenation: the keys hashed part by part are the
// values saved state holds, FNV-1a of the concatenated strings (lowered
// with strings.ToLower where the key is case-insensitive), for IPv4,
// IPv6, mapped and zoned addresses and non-ASCII names.
func TestHashKeysMatchConcatenation(t *testing.T) {
	ips := []string{"83.44.21.17", "10.0.0.1", "2001:db8:1:2:3:4:5:6", "::ffff:192.0.2.1", "fe80::1%eth0", "not-an-ip", ""}
	cities := []string{"Madrid", "", "ZÜRICH", "İstanbul", "São Paulo", "MIXED case"}
	countries := []string{"Spain", "", "Türkiye", "UNITED States"}
	asns := []int{0, 3352, 16509, 4294967295}
	n := 0
	for _, ip := range ips {
		for _, city := range cities {
			for _, country := range countries {
				for _, asn := range asns {
					ev := &event.Event{}
					ev.Client.IPAddress = ip
					ev.Client.Geo.City = city
					ev.Client.Geo.Country = country
					ev.Security.ASNumber = asn
					var wantP, wantI uint32
					if a, err := netip.ParseAddr(ip); err == nil {
						a = a.Unmap()
						bits := 24
						if !a.Is4() {
							bits = 64
						}
						if p, err := a.Prefix(bits); err == nil {
							wantP = fnvString("p:" + p.String())
						}
					}
					if asn > 0 {
						wantI = fnvString("a:" + strconv.Itoa(asn) + ":" + country)
					}
					if p, i := netKeys(ev); p != wantP || i != wantI {
						t.Fatalf("netKeys(%q, %d, %q) = %x, %x; want %x, %x", ip, asn, country, p, i, wantP, wantI)
					}
					wantPlace := wantP
					if asn > 0 && city != "" && !isCloud(ev) {
						wantPlace = fnvString("c:" + strconv.Itoa(asn) + ":" + strings.ToLower(city) + ":" + strings.ToLower(country))
					}
					if got := placeKey(ev); got != wantPlace {
						t.Fatalf("placeKey(%q, %d, %q, %q) = %x, want %x", ip, asn, city, country, got, wantPlace)
					}
					wantCity := uint32(0)
					if city != "" && !isCloud(ev) {
						wantCity = fnvString("city:" + strings.ToLower(city) + ":" + strings.ToLower(country))
					}
					if got := cityKey(ev); got != wantCity {
						t.Fatalf("cityKey(%q, %q) = %x, want %x", city, country, got, wantCity)
					}
					n++
				}
			}
		}
	}
	if got, want := hashParts("dt:", "abc", "\x00", ""), fnvString("dt:abc\x00"); got != want {
		t.Fatalf("hashParts = %x, want %x", got, want)
	}
	if hash32("") != fnvString("") || hashParts() != fnvString("") {
		t.Fatal("empty string hash differs")
	}
	t.Logf("%d events compared", n)
}

// TestHashKeysAllocateNothing: the per-event keys build no strings.
func TestHashKeysAllocateNothing(t *testing.T) {
	ev := &event.Event{}
	ev.Client.IPAddress = "83.44.21.17"
	ev.Client.Geo.City = "Madrid"
	ev.Client.Geo.Country = "Spain"
	ev.Security.ASNumber = 3352
	ev.Debug.DTHash = "dt-hash"
	if n := testing.AllocsPerRun(100, func() {
		netKeys(ev)
		placeKey(ev)
		cityKey(ev)
		agentKey(ev)
	}); n != 0 {
		t.Fatalf("%v allocations per event, want 0", n)
	}
}

// TestNormLoginMatchesBytewise: normLogin's eight-bytes-at-a-time test
// lower-cases exactly the strings with an ASCII upper-case letter, at any
// position and length, next to every other byte value.
func TestNormLoginMatchesBytewise(t *testing.T) {
	ref := func(s string) string {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 'A' && c <= 'Z' {
				return strings.ToLower(s)
			}
		}
		return s
	}
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				if s := string(b); normLogin(s) != ref(s) {
					t.Fatalf("normLogin(%q) = %q, want %q", s, normLogin(s), ref(s))
				}
			}
		}
	}
	if s := "user.name@example.com"; normLogin(s) != s || testing.AllocsPerRun(10, func() { normLogin(s) }) != 0 {
		t.Fatal("a lower-case login must come back as is, without allocating")
	}
}
