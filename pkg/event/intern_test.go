package event

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"
)

// TestStrCacheEviction: whatever occupies a slot, intern returns b's text.
func TestStrCacheEviction(t *testing.T) {
	c := newStrCache()
	for round := 0; round < 2; round++ {
		for i := 0; i < 3*strCacheSlots; i++ {
			b := fmt.Appendf(nil, "value-%d", i)
			if got := intern(b, c); got != string(b) {
				t.Fatalf("intern(%q) = %q", b, got)
			}
			if got := internAny(b, c); got != any(string(b)) {
				t.Fatalf("internAny(%q) = %v", b, got)
			}
		}
	}
	long := bytes.Repeat([]byte("x"), maxCached+1)
	if got := intern(long, c); got != string(long) {
		t.Fatalf("intern of a long string = %q", got)
	}
	if got := internAny([]byte("INFO"), nil); got != any("INFO") {
		t.Fatalf("internAny without a cache = %v", got)
	}
}

// TestInternShares: a recurring value is one allocation.
func TestInternShares(t *testing.T) {
	c := newStrCache()
	a := intern([]byte("alice@example.com"), c)
	allocs := testing.AllocsPerRun(100, func() {
		if intern([]byte("alice@example.com"), c) != a {
			t.Fatal("cache miss")
		}
		_ = internAny([]byte("alice@example.com"), c)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per cached lookup", allocs)
	}
}

// TestStrCacheShortStringsExact: strings of up to 16 bytes are matched by
// their bytes held in the slot; every length, NUL bytes and strings that
// differ in one byte or only in length must still come back exactly, and
// a repeated one from the cache (shared, no allocation).
func TestStrCacheShortStringsExact(t *testing.T) {
	c := newStrCache()
	var inputs [][]byte
	for n := 1; n <= 17; n++ {
		base := bytes.Repeat([]byte{0}, n)
		inputs = append(inputs, base, bytes.Repeat([]byte("a"), n))
		for i := 0; i < n; i++ {
			for _, v := range []byte{1, 'a', 0x80, 0xff} {
				b := bytes.Clone(base)
				b[i] = v
				inputs = append(inputs, b)
			}
		}
	}
	for round := 0; round < 3; round++ {
		for _, b := range inputs {
			got := intern(b, c)
			if got != string(b) {
				t.Fatalf("intern(%q) = %q", b, got)
			}
			if a := internAny(b, c); a != any(string(b)) {
				t.Fatalf("internAny(%q) = %q", b, a)
			}
		}
	}
	b := []byte("10.0.0.1")
	first := intern(b, c)
	if allocs := testing.AllocsPerRun(100, func() {
		if s := intern(b, c); unsafe.StringData(s) != unsafe.StringData(first) {
			t.Fatal("a cached short string was not shared")
		}
	}); allocs != 0 {
		t.Fatalf("%v allocations per cached short lookup", allocs)
	}
}
