package enrich

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// TestLocalSameAsEnricher: a Local enriches exactly as its Enricher does,
// for addresses seen again (served from its cache), addresses that collide
// in it, and after the lists change (a reload invalidates its entries).
func TestLocalSameAsEnricher(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risky.txt")
	writeFile(t, path, "192.0.2.1\n10.0.0.0/24\n")
	e, err := New(Config{Lists: map[string][]string{"risky": {path}}, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	l := e.Local()
	// first a few addresses (cached before the lists change, looked up
	// again after it), then more addresses than slots: collisions
	ips := []string{"192.0.2.1", "192.0.2.2", "2001:db8::1", "::ffff:192.0.2.1", "not an ip", ""}
	for i := 0; i < 3<<localBits; i++ {
		ips = append(ips, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	ips = append(ips, ips[:6]...)
	same := func(round string, wantRisky map[string]bool) {
		t.Helper()
		for pass := 0; pass < 2; pass++ {
			for _, ip := range ips {
				a, b := evAt(ip), evAt(ip)
				e.Enrich(a)
				l.Enrich(b)
				if !reflect.DeepEqual(a.IP, b.IP) || !reflect.DeepEqual(a.Client.Geo, b.Client.Geo) {
					t.Fatalf("%s, %s: Local %+v, Enricher %+v", round, ip, b.IP, a.IP)
				}
				if want, ok := wantRisky[ip]; ok && b.IP.Categories.Has(event.CatRisky) != want {
					t.Fatalf("%s, %s: risky %v, want %v", round, ip, !want, want)
				}
			}
		}
	}
	same("before", map[string]bool{"192.0.2.1": true, "::ffff:192.0.2.1": true, "10.0.0.7": true, "192.0.2.2": false})
	writeFile(t, path, "192.0.2.2\n")
	bumpMTime(t, path, 2*time.Second)
	if changed, err := e.Reload(); err != nil || !changed {
		t.Fatalf("reload: %v, %v", changed, err)
	}
	same("after the lists changed", map[string]bool{"192.0.2.1": false, "10.0.0.7": false, "192.0.2.2": true})
}
