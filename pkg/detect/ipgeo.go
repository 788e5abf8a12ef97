package detect

import (
	"math"
	"net/netip"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// IP classification helpers shared by the detectors. User-defined list
// categories (ev.IP.Categories, filled by enrichment) take precedence over
// the built-in tags: an IP in the `trusted` list is never anonymous or
// risky here.

// isTrusted reports corporate / VPN egress (the `trusted` IP list).
func isTrusted(ev *event.Event) bool { return ev.IP.Categories.Has(event.CatTrusted) }

// isPrivateRelay reports Apple iCloud Private Relay (or a similar
// privacy relay) egress.
func isPrivateRelay(ev *event.Event) bool {
	if ev.IP.PrivateRelay {
		return true
	}
	for _, t := range ev.Debug.Tunnels {
		op := strings.ToLower(t.Operator)
		if strings.Contains(op, "private relay") || strings.Contains(op, "icloud") || strings.Contains(op, "private_relay") {
			return true
		}
	}
	return false
}

// anonymousSignal returns why the IP counts as anonymous ("" when it does
// not): the `anonymous` IP list, Okta's isProxy, an anonymous tunnel, or
// the Tor / anonymous-VPN / public-proxy flags of enrichment. Private
// Relay and trusted ranges are not anonymous.
func anonymousSignal(ev *event.Event) string {
	if isTrusted(ev) {
		return ""
	}
	if ev.IP.Tor {
		return "tor"
	}
	for _, t := range ev.Debug.Tunnels {
		if strings.EqualFold(t.Type, "TOR") {
			return "tor"
		}
	}
	// Private Relay is recognised before the generic anonymous signals
	// (enrichment also marks it anonymous); detectors treat it apart.
	if isPrivateRelay(ev) {
		return ""
	}
	switch {
	case ev.IP.Categories.Has(event.CatAnonymous):
		return "anonymous"
	case ev.Security.IsProxy:
		return "okta_is_proxy"
	case ev.IP.AnonymousVPN:
		return "anonymous_vpn"
	case ev.IP.PublicProxy:
		return "public_proxy"
	case ev.IP.ResidentialProxy:
		return "residential_proxy"
	}
	for _, t := range ev.Debug.Tunnels {
		if t.Anonymous {
			return "tunnel"
		}
	}
	return ""
}

func isAnonymous(ev *event.Event) bool { return anonymousSignal(ev) != "" }

// anonOperator names the anonymizer operator (tunnel operator, else ISP /
// AS organisation) for the shared-operator suppression.
func anonOperator(ev *event.Event) string {
	for _, t := range ev.Debug.Tunnels {
		if t.Operator != "" {
			return t.Operator
		}
	}
	if ev.IP.ASOrg != "" {
		return ev.IP.ASOrg
	}
	if ev.Security.ISP != "" {
		return ev.Security.ISP
	}
	if ev.Security.ASOrg != "" {
		return ev.Security.ASOrg
	}
	return ""
}

// asnOf returns the event's AS number (enrichment, else Okta's).
func asnOf(ev *event.Event) int {
	if ev.IP.ASN > 0 {
		return ev.IP.ASN
	}
	return ev.Security.ASNumber
}

// satelliteASNs are satellite and in-flight internet providers whose
// egress geolocates to a ground station far from the user.
var satelliteASNs = map[int]string{
	14593: "Starlink", 27277: "Starlink", 7155: "Viasat", 40306: "Viasat", 31515: "Inmarsat",
	22351: "Intelsat", 35432: "Panasonic Avionics", 64294: "Panasonic Avionics", 19569: "Gogo",
	11155: "Gogo", 57735: "OneWeb", 206209: "Anuvu", 18531: "Hughes",
}

// cloudASNs are cloud / hosting providers (VPN and SDP egress often lives
// there, and so do attackers).
var cloudASNs = map[int]string{
	16509: "Amazon", 14618: "Amazon", 8075: "Microsoft", 8068: "Microsoft", 15169: "Google",
	396982: "Google Cloud", 14061: "DigitalOcean", 63949: "Akamai Linode", 16276: "OVH",
	24940: "Hetzner", 31898: "Oracle", 20473: "Vultr", 13335: "Cloudflare", 45102: "Alibaba",
	132203: "Tencent", 36351: "IBM SoftLayer", 9009: "M247",
}

func isCloud(ev *event.Event) bool {
	if ev.IP.HostingProvider {
		return true
	}
	_, ok := cloudASNs[asnOf(ev)]
	return ok
}

func isSatellite(ev *event.Event) bool {
	_, ok := satelliteASNs[asnOf(ev)]
	return ok
}

// same24 reports whether two IPv4 addresses share a /24 (IPv6: a /48).
func same24(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return samePrefix(x, y)
}

// samePrefix reports whether x and y share their /24 (IPv4, mapped ones
// included) or /48 (IPv6).
func samePrefix(x, y netip.Addr) bool {
	x, y = x.Unmap(), y.Unmap()
	if x.Is4() != y.Is4() {
		return false
	}
	bits := 24
	if !x.Is4() {
		bits = 48
	}
	px, _ := x.Prefix(bits)
	py, _ := y.Prefix(bits)
	return px == py
}

// haversineKm is the great-circle distance in km.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlon := (lon2 - lon1) * rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

// geoPoint returns the event's coordinates; ok is false when missing or
// at (0,0).
func geoPoint(ev *event.Event) (lat, lon float64, ok bool) {
	lat, lon, ok = ev.GeoPoint()
	if !ok || (lat == 0 && lon == 0) || math.IsNaN(lat) || math.IsNaN(lon) {
		return 0, 0, false
	}
	return lat, lon, true
}

// raise returns the next severity up (critical stays critical).
func raise(sev string) string {
	switch sev {
	case SeverityInfo:
		return SeverityLow
	case SeverityLow:
		return SeverityMedium
	case SeverityMedium:
		return SeverityHigh
	default:
		return SeverityCritical
	}
}

// behavior reports whether Okta flagged name POSITIVE in debugData.behaviors.
func behavior(ev *event.Event, name string) bool {
	return strings.EqualFold(ev.Debug.Behaviors[name], "POSITIVE")
}

// borders lists land borders between the countries Okta and GeoIP name
// most often (names as Okta writes them). Symmetric by construction.
var borders = func() map[string]map[string]bool {
	pairs := map[string][]string{
		"United States":  {"Canada", "Mexico"},
		"Mexico":         {"Guatemala", "Belize"},
		"Brazil":         {"Argentina", "Uruguay", "Paraguay", "Bolivia", "Peru", "Colombia", "Venezuela", "Guyana", "Suriname", "French Guiana"},
		"Argentina":      {"Chile", "Uruguay", "Paraguay", "Bolivia"},
		"Chile":          {"Peru", "Bolivia"},
		"Colombia":       {"Venezuela", "Ecuador", "Peru", "Panama"},
		"Peru":           {"Ecuador", "Bolivia"},
		"Germany":        {"France", "Netherlands", "Belgium", "Luxembourg", "Switzerland", "Austria", "Czechia", "Czech Republic", "Poland", "Denmark"},
		"France":         {"Belgium", "Luxembourg", "Switzerland", "Italy", "Spain", "Andorra", "Monaco"},
		"Spain":          {"Portugal", "Andorra"},
		"Italy":          {"Switzerland", "Austria", "Slovenia", "San Marino"},
		"Netherlands":    {"Belgium"},
		"Belgium":        {"Luxembourg"},
		"Austria":        {"Switzerland", "Liechtenstein", "Czechia", "Czech Republic", "Slovakia", "Hungary", "Slovenia"},
		"Poland":         {"Czechia", "Czech Republic", "Slovakia", "Ukraine", "Belarus", "Lithuania", "Russia"},
		"Czechia":        {"Slovakia"},
		"Czech Republic": {"Slovakia"},
		"Hungary":        {"Slovakia", "Ukraine", "Romania", "Serbia", "Croatia", "Slovenia"},
		"Romania":        {"Ukraine", "Moldova", "Bulgaria", "Serbia"},
		"Ukraine":        {"Russia", "Belarus", "Moldova", "Slovakia"},
		"Russia":         {"Finland", "Estonia", "Latvia", "Lithuania", "Belarus", "Norway", "Georgia", "Azerbaijan", "Kazakhstan", "China", "Mongolia", "North Korea"},
		"Sweden":         {"Norway", "Finland"},
		"Norway":         {"Finland"},
		"United Kingdom": {"Ireland"},
		"Greece":         {"Bulgaria", "Turkey", "Albania", "North Macedonia"},
		"Turkey":         {"Bulgaria", "Georgia", "Armenia", "Iran", "Iraq", "Syria"},
		"India":          {"Pakistan", "China", "Nepal", "Bhutan", "Bangladesh", "Myanmar"},
		"China":          {"Mongolia", "North Korea", "Vietnam", "Laos", "Myanmar", "Nepal", "Bhutan", "Pakistan", "Afghanistan", "Kazakhstan", "Kyrgyzstan", "Tajikistan", "Hong Kong", "Macao"},
		"South Korea":    {"North Korea"},
		"Singapore":      {"Malaysia"},
		"Malaysia":       {"Thailand", "Indonesia", "Brunei"},
		"Thailand":       {"Myanmar", "Laos", "Cambodia"},
		"Vietnam":        {"Laos", "Cambodia"},
		"Israel":         {"Egypt", "Jordan", "Lebanon", "Syria"},
		"Saudi Arabia":   {"Jordan", "Iraq", "Kuwait", "Qatar", "United Arab Emirates", "Oman", "Yemen"},
		"Nigeria":        {"Benin", "Niger", "Chad", "Cameroon"},
		"South Africa":   {"Namibia", "Botswana", "Zimbabwe", "Mozambique", "Eswatini", "Lesotho"},
		"Kenya":          {"Ethiopia", "Somalia", "Tanzania", "Uganda", "South Sudan"},
		"Egypt":          {"Libya", "Sudan"},
		"Iran":           {"Iraq", "Afghanistan", "Pakistan", "Armenia", "Azerbaijan", "Turkmenistan"},
		"Pakistan":       {"Afghanistan"},
		"Kazakhstan":     {"Kyrgyzstan", "Uzbekistan", "Turkmenistan"},
	}
	m := map[string]map[string]bool{}
	add := func(a, b string) {
		if m[a] == nil {
			m[a] = map[string]bool{}
		}
		m[a][b] = true
	}
	for a, list := range pairs {
		for _, b := range list {
			add(a, b)
			add(b, a)
		}
	}
	return m
}()

// bordering reports whether two countries share a land border.
func bordering(a, b string) bool { return borders[a][b] }
