package enrich

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// BenchmarkEnrich: City + ASN + Anonymous-IP databases and four IP lists,
// over 256 distinct client IPs (so the memo is warm after the first pass,
// as it is in production where a few thousand IPs repeat).
func BenchmarkEnrich(b *testing.B) {
	dir := b.TempDir()
	city, asn, anon := fixtureDBs(b, dir)
	var sb strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&sb, "10.%d.%d.0/24\n", i/256, i%256)
	}
	list := filepath.Join(dir, "risky.netset")
	if err := writeFileErr(list, sb.String()); err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{CityDB: city, ASNDB: asn, AnonymousDB: anon, ReloadInterval: -1,
		Lists: map[string][]string{"risky": {list}, "trusted": {"198.51.100.0/24"}, "anonymous": {"AS64501"}, "suspicious": {"192.0.2.128/25"}}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	evs := make([]event.Event, 256)
	for i := range evs {
		evs[i].Client.IPAddress = fmt.Sprintf("192.0.2.%d", i)
		if i%3 == 0 {
			evs[i].Client.IPAddress = fmt.Sprintf("203.0.113.%d", i)
		}
		if i%2 == 0 { // half carry Okta's own geo, as WEB events do
			evs[i].Client.Geo = event.Geo{Country: "Germany", City: "Berlin", Lat: 52.5, Lon: 13.4, HasLatLon: true}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		e.Enrich(&ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEnrichUncached: every lookup misses the memo (distinct IPs).
func BenchmarkEnrichUncached(b *testing.B) {
	dir := b.TempDir()
	city, asn, anon := fixtureDBs(b, dir)
	e, err := New(Config{CityDB: city, ASNDB: asn, AnonymousDB: anon, ReloadInterval: -1, CacheBytes: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := event.Event{Client: event.Client{IPAddress: fmt.Sprintf("192.0.%d.%d", 2+(i>>8)%2, i&255)}}
		e.Enrich(&ev)
		e.gen.Add(1) // force a miss
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
