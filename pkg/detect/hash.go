package detect

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// The 32-bit keys detectors keep in their state (and save) are FNV-1a
// hashes of short strings such as "p:203.0.113.0/24". They are computed
// here part by part, without building the string: the same values as
// hashing the concatenation, with no allocation per event.

const (
	fnvOffset32 = 2166136261
	fnvPrime32  = 16777619
)

// hash32 is the FNV-1a hash of s, never 0 (0 means "no key").
func hash32(s string) uint32 { return fnvDone(fnvAdd(fnvOffset32, s)) }

// hashParts is hash32 of the concatenation of parts.
func hashParts(parts ...string) uint32 {
	h := uint32(fnvOffset32)
	for _, p := range parts {
		h = fnvAdd(h, p)
	}
	return fnvDone(h)
}

func fnvDone(h uint32) uint32 {
	if h == 0 {
		return 1
	}
	return h
}

func fnvAdd(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime32
	}
	return h
}

func fnvAddBytes(h uint32, b []byte) uint32 {
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime32
	}
	return h
}

// fnvAddLower adds strings.ToLower(s): ASCII is lowered byte by byte, and
// a string with other characters goes through strings.ToLower.
func fnvAddLower(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return fnvAdd(h, strings.ToLower(s))
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h ^= uint32(c)
		h *= fnvPrime32
	}
	return h
}

// netKeys returns the hashes of the event's network: its /24 (IPv4) or
// /64 (IPv6) prefix ("p:203.0.113.0/24"), and its ISP (AS number) with its
// country ("a:3352:Spain"); 0 when unknown.
func netKeys(ev *event.Event) (prefix, isp uint32) {
	if a, err := netip.ParseAddr(ev.Client.IPAddress); err == nil {
		a = a.Unmap()
		bits := 24
		if !a.Is4() {
			bits = 64
		}
		if p, err := a.Prefix(bits); err == nil {
			var buf [64]byte
			prefix = fnvDone(fnvAddBytes(fnvAdd(fnvOffset32, "p:"), p.AppendTo(buf[:0])))
		}
	}
	if asn := asnOf(ev); asn > 0 {
		var buf [20]byte
		h := fnvAddBytes(fnvAdd(fnvOffset32, "a:"), strconv.AppendInt(buf[:0], int64(asn), 10))
		isp = fnvDone(fnvAdd(fnvAdd(h, ":"), ev.Country()))
	}
	return prefix, isp
}

// placeKey is the hash of a sign-in's place: its ASN, city and country
// outside hosting ASNs, else its network prefix.
func placeKey(ev *event.Event) uint32 {
	if asn := asnOf(ev); asn > 0 && ev.Client.Geo.City != "" && !isCloud(ev) {
		var buf [20]byte
		h := fnvAddBytes(fnvAdd(fnvOffset32, "c:"), strconv.AppendInt(buf[:0], int64(asn), 10))
		h = fnvAddLower(fnvAdd(h, ":"), ev.Client.Geo.City)
		return fnvDone(fnvAddLower(fnvAdd(h, ":"), ev.Country()))
	}
	prefix, _ := netKeys(ev)
	return prefix
}

// cityKey is the hash of a sign-in's city outside hosting ASNs (0 for a
// datacenter address or without a city).
func cityKey(ev *event.Event) uint32 {
	if ev.Client.Geo.City == "" || isCloud(ev) {
		return 0
	}
	h := fnvAddLower(fnvAdd(fnvOffset32, "city:"), ev.Client.Geo.City)
	return fnvDone(fnvAddLower(fnvAdd(h, ":"), ev.Country()))
}
