package detect

import (
	"slices"
	"testing"
)

// A packed address gives back its text exactly, whatever the form, and
// compares as the text does.
func TestPackedIPRoundTrip(t *testing.T) {
	for _, s := range []string{"", "198.51.100.7", "2001:db8::1", "::ffff:198.51.100.7", "2001:DB8::1", "010.1.2.3",
		"fe80::1%eth0", "not an ip", "2001:0db8:0000:0000:0000:0000:0000:0001", "0.0.0.0", "::"} {
		p := makePackedIP(s)
		if got := p.String(); got != s {
			t.Errorf("makePackedIP(%q).String() = %q", s, got)
		}
		for _, o := range []string{"", "198.51.100.7", "198.51.100.200", "198.51.101.7", "2001:db8::1", "2001:db8:0:1::2",
			"2001:db9::1", "::ffff:198.51.100.9", "2001:DB8::1", "010.1.2.3"} {
			if got, want := p.is(o), s == o; got != want {
				t.Errorf("makePackedIP(%q).is(%q) = %v", s, o, got)
			}
			if got, want := p.same24(o), same24(o, s); got != want {
				t.Errorf("makePackedIP(%q).same24(%q) = %v, same24 says %v", s, o, got, want)
			}
		}
	}
	if p := makePackedIP("198.51.100.7"); p.n != 4 || p.s != "" {
		t.Errorf("a canonical IPv4 address is not packed: %+v", p)
	}
	if p := makePackedIP("2001:db8::1"); p.n != 16 || p.s != "" {
		t.Errorf("a canonical IPv6 address is not packed: %+v", p)
	}
}

// A placeSet keeps what addSeen keeps in a slice, in the same order.
func TestPlaceSetAsSlice(t *testing.T) {
	var ps placeSet
	var list []netSeen
	rnd := uint32(7)
	for i := 0; i < 500; i++ {
		rnd = rnd*1664525 + 1013904223
		h, d := rnd>>28+1, uint16(100+i/10) // 16 places over 50 days
		ps.add(h, d, d)
		list = addSeen(list, h, d, maxPlacesPerUser)
		if !slices.Equal(ps.list(), list) {
			t.Fatalf("after %d: set %v, slice %v", i, ps.list(), list)
		}
	}
	if got := placeSetOf(list); got != ps {
		t.Fatalf("placeSetOf: %v, want %v", got.list(), ps.list())
	}
	// more than the bound (never saved): the most recently seen are kept
	long := make([]netSeen, 0, 20)
	for i := 0; i < 20; i++ {
		long = append(long, netSeen{H: uint32(i + 1), F: uint16(i), L: uint16(i)})
	}
	kept := placeSetOf(long)
	got := kept.list()
	if len(got) != maxPlacesPerUser {
		t.Fatalf("placeSetOf of 20: %d places", len(got))
	}
	for _, x := range got {
		if x.L < 20-maxPlacesPerUser {
			t.Errorf("placeSetOf of 20 kept %v, not one of the 12 most recent", x)
		}
	}
}

func TestUserSlots(t *testing.T) {
	var s userSlots[int]
	if s.get(3) != nil || s.len() != 0 {
		t.Fatal("empty slots hold a value")
	}
	s.set(5, 50)
	s.set(0, 0)
	s.set(1000, 7)
	s.set(5, 55)
	if s.len() != 3 || *s.get(5) != 55 || *s.get(0) != 0 || *s.get(1000) != 7 || s.get(4) != nil || s.get(2000) != nil {
		t.Fatalf("slots: len %d", s.len())
	}
	s.del(0)
	s.del(4)
	var seen []uint32
	for i, v := range s.all() {
		seen = append(seen, i)
		*v++
	}
	if !slices.Equal(seen, []uint32{5, 1000}) || s.len() != 2 || *s.get(5) != 56 {
		t.Fatalf("after del: %v, len %d", seen, s.len())
	}
}

func TestValueMap(t *testing.T) {
	m := newValueMap[uint64, string](0)
	m.put(1, "a")
	m.put(2, "b")
	m.put(1, "c")
	m.del(2)
	m.del(9)
	m.put(3, "d") // reuses 2's place
	if m.len() != 2 || *m.get(1) != "c" || *m.get(3) != "d" || m.get(2) != nil || len(m.v) != 2 {
		t.Fatalf("len %d, values %v", m.len(), m.v)
	}
	got := map[uint64]string{}
	for k, v := range m.all() {
		got[k] = *v
		if k == 1 {
			m.del(k)
		}
	}
	if len(got) != 2 || got[1] != "c" || got[3] != "d" || m.len() != 1 || m.v[0] != "" {
		t.Fatalf("all: %v, after del len %d values %q", got, m.len(), m.v)
	}
}
