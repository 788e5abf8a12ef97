package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func TestImpossibleTravel(t *testing.T) {
	const u = "alice@example.com"
	home := warmup(u, "New York", "198.51.100.10", 10)
	h := func(x int) time.Time { return day10.Add(time.Duration(x) * time.Minute) }
	ny := func(m int, o ...evOpt) event.Event {
		return signIn(u, h(m), append([]evOpt{at("New York"), ip("198.51.100.10")}, o...)...)
	}
	far := func(m int, city, addr string, o ...evOpt) event.Event {
		return signIn(u, h(m), append([]evOpt{at(city), ip(addr), asn(8359)}, o...)...)
	}
	countryMode := DetectorConfig{Params: map[string]any{"cityMode": false}}
	london3 := []event.Event{}
	for i := 0; i < 3; i++ {
		london3 = append(london3, signIn(u, t0.Add(time.Duration(48+i)*time.Hour), at("London"), ip("81.2.69.160")))
	}
	// Places of the known-places suppression: the corporate VPN exit
	// (trusted, geolocated at the concentrator in Los Angeles) and the
	// user's phone on a carrier in the home city, both used on earlier days.
	la := func(e *event.Event) {
		e.Client.Geo = event.Geo{Country: "United States", City: "Los Angeles", Lat: 34.05, Lon: -118.24, HasLatLon: true}
	}
	chicago := func(e *event.Event) {
		e.Client.Geo = event.Geo{Country: "United States", City: "Chicago", Lat: 41.88, Lon: -87.63, HasLatLon: true}
	}
	vpn := func(m int) event.Event {
		return signIn(u, h(m), la, ip("64.125.0.12"), asn(6461), cats(event.CatTrusted))
	}
	vpnBefore := []event.Event{
		signIn(u, t0.Add(2*24*time.Hour+3*time.Hour), la, ip("64.125.0.11"), asn(6461), cats(event.CatTrusted)),
		signIn(u, t0.Add(5*24*time.Hour+3*time.Hour), la, ip("64.125.0.13"), asn(6461), cats(event.CatTrusted)),
	}
	phoneBefore := []event.Event{
		signIn(u, t0.Add(3*24*time.Hour+12*time.Hour), ip("172.58.3.7"), asn(21928)),
		signIn(u, t0.Add(6*24*time.Hour+12*time.Hour), ip("172.58.90.4"), asn(21928)),
	}
	runCases(t, "impossible_travel", []detCase{
		{name: "known places: corporate VPN exit then home, both used on earlier days", events: concat(home, vpnBefore, []event.Event{vpn(0), ny(60)}), want: 0},
		{name: "known places: home then the VPN exit", events: concat(home, vpnBefore, []event.Event{ny(0), vpn(60)}), want: 0},
		{name: "known places: VPN exit then the phone's carrier in the home city (new address, known AS and city)",
			events: concat(home, vpnBefore, phoneBefore, []event.Event{vpn(0), ny(60, ip("172.58.201.9"), asn(21928))}), want: 0},
		{name: "known places: VPN exit then a first sign-in on a new network in the user's own city (the phone's first carrier use)",
			events: concat(home, vpnBefore, []event.Event{vpn(0), ny(60, ip("99.40.1.1"), asn(7018))}), want: 0},
		{name: "known places: the same the other way round (new network at home, then the VPN exit)",
			events: concat(home, vpnBefore, []event.Event{ny(0, ip("99.40.1.1"), asn(7018)), vpn(60)}), want: 0},
		{name: "known places: VPN exit then a datacenter address in the user's own city alerts",
			events: concat(home, vpnBefore, []event.Event{vpn(0), ny(60, ip("159.203.1.1"), asn(14061))}), want: 1},
		{name: "known places: home (not a trusted egress) then a new network in a city the user visited before alerts",
			events: concat(home, []event.Event{signIn(u, t0.Add(4*24*time.Hour), la, ip("99.40.7.7"), asn(7018))},
				[]event.Event{ny(0), signIn(u, h(60), la, ip("104.1.1.1"), asn(20001))}), want: 1},
		{name: "known places: VPN exit then the user's carrier geolocated to another city alerts",
			events: concat(home, vpnBefore, phoneBefore, []event.Event{vpn(0), signIn(u, h(60), chicago, ip("172.58.201.9"), asn(21928))}), want: 1},
		{name: "known places: a VPN exit first used today is not yet known",
			events: concat(home, []event.Event{vpn(0), ny(60)}), want: 1, wantSev: SeverityMedium},
		{name: "known places: a place first seen earlier today is not yet known",
			events: concat(home, []event.Event{signIn(u, h(-300), la, ip("99.40.7.7"), asn(7018)), ny(0), signIn(u, h(30), la, ip("99.40.7.8"), asn(7018))}), want: 1},
		{name: "known places: ignored at high sensitivity", cfg: DetectorConfig{Sensitivity: SensitivityHigh},
			events: concat(home, vpnBefore, []event.Event{vpn(0), ny(60)}), want: 1},
		{name: "known places: knownPlaces false", cfg: DetectorConfig{Params: map[string]any{"knownPlaces": false}},
			events: concat(home, vpnBefore, []event.Event{vpn(0), ny(60)}), want: 1},
		{name: "datacenter anchor (attacker first, then the user at home) raises severity",
			events: concat(home, []event.Event{signIn(u, h(0), la, ip("104.131.1.1"), asn(14061)), ny(30)}), want: 1, wantSev: SeverityCritical},
		{name: "service account: the same cloud provider at both ends (used before) does not alert",
			events: concat(warmup("svc-ci@example.com", "New York", "3.80.0.1", 10, asn(16509)), []event.Event{
				signIn("svc-ci@example.com", h(0), ip("3.80.0.9"), asn(16509)),
				signIn("svc-ci@example.com", h(40), la, ip("44.230.1.1"), asn(16509))}), want: 0},
		{name: "NY to Moscow in an hour", events: concat(home, []event.Event{ny(0), far(60, "Moscow", "95.165.1.1")}), want: 1, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				ev := as[0].Evidence
				if ev["speedKmh"].(float64) < 900 || ev["distanceKm"].(float64) < 7000 {
					t.Fatalf("evidence %v", ev)
				}
				if as[0].Country != "Russia" || as[0].IP != "95.165.1.1" || len(as[0].EventIDs) != 2 {
					t.Fatalf("alert %+v", as[0])
				}
			}},
		{name: "traveller NY to London in 8h", events: concat(home, []event.Event{ny(0), far(8*60, "London", "81.2.69.160")}), want: 0},
		{name: "country mode: bordering countries NY to Toronto", cfg: countryMode, events: concat(home, []event.Event{ny(0), far(10, "Toronto", "24.114.1.1")}), want: 0},
		{name: "city mode (default): neighbours NY to Toronto in 10 min", events: concat(home, []event.Event{ny(0), far(10, "Toronto", "24.114.1.1")}), want: 1},
		{name: "city mode: NY to Toronto in 50 min (661 km/h) is below the speed", events: concat(home, []event.Event{ny(0), far(50, "Toronto", "24.114.1.1")}), want: 0},
		{name: "city mode: NY to Toronto in 30 min (1102 km/h) is above", events: concat(home, []event.Event{ny(0), far(30, "Toronto", "24.114.1.1")}), want: 1},
		{name: "city mode: NY to LA in 90 min from a datacenter raises severity", events: concat(home, []event.Event{ny(0), signIn(u, h(90), func(e *event.Event) {
			e.Client.Geo = event.Geo{Country: "United States", City: "Los Angeles", Lat: 34.05, Lon: -118.24, HasLatLon: true}
			e.IP.ASN = 14061
		}, ip("104.131.1.1"))}), want: 1, wantSev: SeverityCritical},
		{name: "city mode: NY to LA in 6 h (a flight) does not alert", events: concat(home, []event.Event{ny(0), signIn(u, h(360), func(e *event.Event) {
			e.Client.Geo = event.Geo{Country: "United States", City: "Los Angeles", Lat: 34.05, Lon: -118.24, HasLatLon: true}
		}, ip("104.1.1.1"))}), want: 0},
		{name: "city mode: same mobile carrier geolocated to LA 30 min later does not alert", events: concat(home, []event.Event{ny(0, asn(21928), ip("172.56.10.1")), signIn(u, h(30), func(e *event.Event) {
			e.Client.Geo = event.Geo{Country: "United States", City: "Los Angeles", Lat: 34.05, Lon: -118.24, HasLatLon: true}
		}, ip("172.58.200.7"), asn(21928))}), want: 0},
		{name: "city mode: same carrier across a border (NY to Toronto) still alerts", events: concat(home, []event.Event{ny(0, asn(21928), ip("172.56.10.1")), far(10, "Toronto", "24.114.1.1", asn(21928))}), want: 1},
		{name: "city mode: carrier to another ISP inside one country alerts", events: concat(home, []event.Event{ny(0, asn(21928), ip("172.56.10.1")), signIn(u, h(30), func(e *event.Event) {
			e.Client.Geo = event.Geo{Country: "United States", City: "Los Angeles", Lat: 34.05, Lon: -118.24, HasLatLon: true}
		}, ip("104.1.1.1"), asn(7018))}), want: 1},
		{name: "short hop NY to Boston", events: concat(home, []event.Event{ny(0), far(5, "Boston", "73.1.1.1")}), want: 0},
		{name: "anonymous end", events: concat(home, []event.Event{ny(0), far(30, "Moscow", "95.165.1.1", proxy())}), want: 0},
		{name: "anonymous never anchors", events: concat(home, []event.Event{ny(0), far(30, "Moscow", "95.165.1.1", tor()), ny(60)}), want: 0},
		{name: "private relay", events: concat(home, []event.Event{ny(0), far(30, "Paris", "172.225.1.1", relay())}), want: 0},
		{name: "both ends VPN-tagged", events: concat(home, []event.Event{ny(0, cats(event.CatTrusted)), far(30, "London", "81.2.69.160", cats(event.CatTrusted))}), want: 0},
		{name: "one end VPN-tagged is medium", events: concat(home, []event.Event{ny(0, cats(event.CatTrusted)), far(30, "Moscow", "95.165.1.1")}), want: 1, wantSev: SeverityMedium},
		{name: "same /24", events: concat(home, []event.Event{ny(0), far(20, "Moscow", "198.51.100.77")}), want: 0},
		{name: "cloud ASN the user used before (VPN egress)", events: concat(home,
			[]event.Event{signIn(u, t0.Add(50*time.Hour), at("Berlin"), ip("3.120.0.1"), asn(16509))},
			[]event.Event{ny(0), far(60, "Berlin", "3.120.9.9", asn(16509))}), want: 0},
		{name: "first-time cloud ASN alerts", events: concat(home, []event.Event{ny(0), far(60, "Berlin", "3.120.9.9", asn(16509))}), want: 1},
		{name: "satellite ASN", events: concat(home, []event.Event{ny(0), far(60, "London", "98.97.1.1", asn(14593))}), want: 0},
		{name: "destination in user's history (user suppression)", events: concat(home, london3, []event.Event{ny(0), far(60, "London", "81.2.69.160")}), want: 0},
		{name: "history ignored at high sensitivity", cfg: DetectorConfig{Sensitivity: SensitivityHigh},
			events: concat(home, london3, []event.Event{ny(0), far(60, "London", "81.2.69.161")}), want: 1},
		{name: "learning period: new user", events: []event.Event{signIn("new@example.com", day10, at("New York")), signIn("new@example.com", day10.Add(time.Hour), at("Moscow"), ip("95.165.1.1"))}, want: 0},
		{name: "learning alerts as info when configured", cfg: DetectorConfig{LearningAlerts: true},
			events: []event.Event{signIn("new@example.com", day10, at("New York")), signIn("new@example.com", day10.Add(time.Hour), at("Moscow"), ip("95.165.1.1"))}, want: 1, wantSev: SeverityInfo},
		{name: "missing geolocation", events: concat(home, []event.Event{ny(0), far(30, "Moscow", "95.165.1.1", noGeo())}), want: 0},
		{name: "zero coordinates", events: concat(home, []event.Event{ny(0), far(30, "Moscow", "95.165.1.1", func(e *event.Event) { e.Client.Geo.Lat, e.Client.Geo.Lon = 0, 0 })}), want: 0},
		{name: "okta internal client", events: concat(home, []event.Event{ny(0), far(30, "Moscow", "95.165.1.1", clientID("okta.2b1959c8-bcc0-56eb-a589-cfcfb7422f26"))}), want: 0},
		{name: "anchor older than 24h", events: concat(home, []event.Event{ny(0), far(25*60, "Moscow", "95.165.1.1")}), want: 0},
		{name: "failed sign-in is not travel", events: concat(home, []event.Event{ny(0), far(60, "Moscow", "95.165.1.1", failed("INVALID_CREDENTIALS"))}), want: 0},
		{name: "Okta velocity corroboration raises", events: concat(home, []event.Event{ny(0), far(60, "Moscow", "95.165.1.1", behaviors("Velocity"))}), want: 1, wantSev: SeverityCritical},
		{name: "dedup per user per 24h", events: concat(home, []event.Event{ny(0), far(60, "Moscow", "95.165.1.1"), ny(120), far(180, "Moscow", "95.165.1.2")}), want: 1},
		{name: "country mode does not alert inside a country", cfg: countryMode,
			events: concat(home, []event.Event{ny(0), signIn(u, h(30), func(e *event.Event) {
				e.Client.Geo = event.Geo{Country: "United States", City: "Los Angeles", Lat: 34.05, Lon: -118.24, HasLatLon: true}
			}, ip("104.1.1.1"))}), want: 0},
		{name: "city mode alerts inside a country (another ISP)",
			events: concat(home, []event.Event{ny(0), signIn(u, h(30), func(e *event.Event) {
				e.Client.Geo = event.Geo{Country: "United States", City: "Los Angeles", Lat: 34.05, Lon: -118.24, HasLatLon: true}
			}, ip("104.1.1.1"), asn(7018))}), want: 1},
		{name: "dismissed pair at low sensitivity", cfg: DetectorConfig{Sensitivity: SensitivityLow, Params: map[string]any{"dismissed": []any{"United States>Russia"}}},
			events: concat(home, []event.Event{ny(0), far(60, "Moscow", "95.165.1.1")}), want: 0},
	})
}

func TestBordering(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"United States", "Canada", true}, {"Canada", "United States", true}, {"Germany", "France", true},
		{"United States", "Russia", false}, {"United Kingdom", "France", false}, {"Brazil", "Argentina", true}} {
		if got := bordering(c.a, c.b); got != c.want {
			t.Errorf("bordering(%s,%s)=%v", c.a, c.b, got)
		}
	}
	if d := haversineKm(40.71, -74.0, 51.51, -0.13); d < 5500 || d > 5640 {
		t.Errorf("NY-London %v km", d)
	}
}
