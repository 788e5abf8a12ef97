package traffic

import (
	"fmt"
	"math"
	"net/netip"
)

// City is one place events can come from.
type City struct {
	Name       string
	State      string
	Country    string // full name, as Okta writes it
	CountryISO string // ISO 3166-1 alpha-2
	PostalCode string
	Lat, Lon   float64
	UTCOffset  float64 // hours (fixed; no DST)
}

// NetKind classifies a Network.
type NetKind string

// Network kinds.
const (
	NetResidential  NetKind = "residential"
	NetMobile       NetKind = "mobile"
	NetHosting      NetKind = "hosting"
	NetCorporate    NetKind = "corporate"     // offices and corporate VPN egress (trusted)
	NetDatacenter   NetKind = "datacenter"    // the org's own servers (trusted)
	NetAnonVPN      NetKind = "anonymous_vpn" // commercial VPN exits
	NetTor          NetKind = "tor"
	NetPrivateRelay NetKind = "private_relay" // Apple iCloud Private Relay egress
)

// Network is one row of the ASN/geo table: a CIDR with its ASN and location.
// Tests can build GeoIP/ASN .mmdb fixtures from Dataset.Networks.
type Network struct {
	CIDR       string
	Prefix     netip.Prefix `json:"-"`
	ASN        int
	ASOrg      string
	ISP        string
	Domain     string
	Kind       NetKind
	City       City
	Operator   string // tunnels operator for anonymizers (NORD_VPN, TOR, APPLE_PRIVATE_RELAY)
	Anonymous  bool   // isProxy / tunnels anonymous
	Zone       string // Okta network zone name for trusted ranges ("null" otherwise)
	hostOffset int    // next host index for fixed allocations
}

// isp is an autonomous system with a base /16 carved into per-city /20s.
type isp struct {
	asn      int
	asOrg    string
	isp      string
	domain   string
	kind     NetKind
	base     string // "a.b" of the /16, or a v6 /32 prefix like "2607:fb90"
	cities   []string
	operator string
}

var cities = map[string]City{
	// United States
	"New York":       {"New York", "New York", "United States", "US", "10001", 40.7128, -74.0060, -5},
	"San Francisco":  {"San Francisco", "California", "United States", "US", "94107", 37.7749, -122.4194, -8},
	"Chicago":        {"Chicago", "Illinois", "United States", "US", "60601", 41.8781, -87.6298, -6},
	"Seattle":        {"Seattle", "Washington", "United States", "US", "98101", 47.6062, -122.3321, -8},
	"Austin":         {"Austin", "Texas", "United States", "US", "78701", 30.2672, -97.7431, -6},
	"Boston":         {"Boston", "Massachusetts", "United States", "US", "02108", 42.3601, -71.0589, -5},
	"Denver":         {"Denver", "Colorado", "United States", "US", "80202", 39.7392, -104.9903, -7},
	"Ashburn":        {"Ashburn", "Virginia", "United States", "US", "20147", 39.0438, -77.4874, -5},
	"Los Angeles":    {"Los Angeles", "California", "United States", "US", "90012", 34.0522, -118.2437, -8},
	"Boardman":       {"Boardman", "Oregon", "United States", "US", "97818", 45.8399, -119.7006, -8},
	"Council Bluffs": {"Council Bluffs", "Iowa", "United States", "US", "51501", 41.2619, -95.8608, -6},
	// United Kingdom
	"London":     {"London", "England", "United Kingdom", "GB", "EC1A", 51.5074, -0.1278, 0},
	"Manchester": {"Manchester", "England", "United Kingdom", "GB", "M1", 53.4808, -2.2426, 0},
	"Edinburgh":  {"Edinburgh", "Scotland", "United Kingdom", "GB", "EH1", 55.9533, -3.1883, 0},
	"Bristol":    {"Bristol", "England", "United Kingdom", "GB", "BS1", 51.4545, -2.5879, 0},
	// Germany
	"Berlin":    {"Berlin", "Land Berlin", "Germany", "DE", "10115", 52.5200, 13.4050, 1},
	"Frankfurt": {"Frankfurt am Main", "Hesse", "Germany", "DE", "60311", 50.1109, 8.6821, 1},
	"Munich":    {"Munich", "Bavaria", "Germany", "DE", "80331", 48.1351, 11.5820, 1},
	// France
	"Paris": {"Paris", "Ile-de-France", "France", "FR", "75001", 48.8566, 2.3522, 1},
	"Lyon":  {"Lyon", "Auvergne-Rhone-Alpes", "France", "FR", "69001", 45.7640, 4.8357, 1},
	// Canada
	"Toronto":   {"Toronto", "Ontario", "Canada", "CA", "M5H", 43.6532, -79.3832, -5},
	"Vancouver": {"Vancouver", "British Columbia", "Canada", "CA", "V6B", 49.2827, -123.1207, -8},
	// India
	"Bengaluru": {"Bengaluru", "Karnataka", "India", "IN", "560001", 12.9716, 77.5946, 5.5},
	"Pune":      {"Pune", "Maharashtra", "India", "IN", "411001", 18.5204, 73.8567, 5.5},
	// Others with residents
	"Amsterdam": {"Amsterdam", "North Holland", "Netherlands", "NL", "1012", 52.3676, 4.9041, 1},
	"Madrid":    {"Madrid", "Madrid", "Spain", "ES", "28001", 40.4168, -3.7038, 1},
	"Dublin":    {"Dublin", "Leinster", "Ireland", "IE", "D02", 53.3498, -6.2603, 0},
	"Warsaw":    {"Warsaw", "Mazovia", "Poland", "PL", "00-001", 52.2297, 21.0122, 1},
	// Travel destinations (no or few residents)
	"Tokyo":     {"Tokyo", "Tokyo", "Japan", "JP", "100-0001", 35.6762, 139.6503, 9},
	"Sydney":    {"Sydney", "New South Wales", "Australia", "AU", "2000", -33.8688, 151.2093, 10},
	"Singapore": {"Singapore", "Singapore", "Singapore", "SG", "018989", 1.3521, 103.8198, 8},
	// Attacker origins (no residents)
	"Bucharest": {"Bucharest", "Bucuresti", "Romania", "RO", "010011", 44.4268, 26.1025, 2},
	"Lagos":     {"Lagos", "Lagos", "Nigeria", "NG", "100001", 6.5244, 3.3792, 1},
	"Sao Paulo": {"Sao Paulo", "Sao Paulo", "Brazil", "BR", "01000-000", -23.5505, -46.6333, -3},
	"Hanoi":     {"Hanoi", "Hanoi", "Vietnam", "VN", "100000", 21.0278, 105.8342, 7},
	"Moscow":    {"Moscow", "Moscow", "Russia", "RU", "101000", 55.7558, 37.6173, 3},
	"Jakarta":   {"Jakarta", "Jakarta", "Indonesia", "ID", "10110", -6.2088, 106.8456, 7},
}

var isps = []isp{
	// Residential
	{7922, "Comcast Cable Communications, LLC", "comcast", "comcast.net", NetResidential, "73.12", []string{"New York", "San Francisco", "Chicago", "Seattle", "Boston", "Denver", "Austin", "Los Angeles"}, ""},
	{7018, "AT&T Services, Inc.", "at&t", "att.net", NetResidential, "99.40", []string{"New York", "San Francisco", "Chicago", "Austin", "Denver"}, ""},
	{20115, "Charter Communications", "spectrum", "spectrum.com", NetResidential, "66.188", []string{"New York", "Austin", "Seattle", "Boston"}, ""},
	{701, "Verizon Business", "verizon", "verizon.net", NetResidential, "108.28", []string{"New York", "Boston", "Seattle"}, ""},
	{2856, "British Telecommunications PLC", "bt", "bt.com", NetResidential, "86.140", []string{"London", "Manchester", "Edinburgh", "Bristol"}, ""},
	{5089, "Virgin Media Limited", "virgin media", "virginmedia.com", NetResidential, "82.32", []string{"London", "Manchester", "Bristol"}, ""},
	{5607, "Sky UK Limited", "sky broadband", "sky.com", NetResidential, "90.200", []string{"London", "Edinburgh"}, ""},
	{3320, "Deutsche Telekom AG", "deutsche telekom ag", "telekom.de", NetResidential, "91.48", []string{"Berlin", "Frankfurt", "Munich"}, ""},
	{3209, "Vodafone GmbH", "vodafone germany", "vodafone.de", NetResidential, "92.72", []string{"Berlin", "Munich"}, ""},
	{3215, "Orange S.A.", "orange", "orange.fr", NetResidential, "90.8", []string{"Paris", "Lyon"}, ""},
	{12322, "Free SAS", "free sas", "free.fr", NetResidential, "82.64", []string{"Paris"}, ""},
	{812, "Rogers Communications Canada Inc.", "rogers", "rogers.com", NetResidential, "99.224", []string{"Toronto", "Vancouver"}, ""},
	{55836, "Reliance Jio Infocomm Limited", "reliance jio", "jio.com", NetResidential, "49.32", []string{"Bengaluru", "Pune"}, ""},
	{1136, "KPN B.V.", "kpn", "kpn.com", NetResidential, "77.160", []string{"Amsterdam"}, ""},
	{3352, "Telefonica de Espana SAU", "telefonica de espana", "telefonica.es", NetResidential, "83.32", []string{"Madrid"}, ""},
	{5466, "Eircom Limited", "eir", "eir.ie", NetResidential, "86.40", []string{"Dublin"}, ""},
	{5617, "Orange Polska Spolka Akcyjna", "orange polska", "orange.pl", NetResidential, "83.24", []string{"Warsaw"}, ""},
	{4713, "NTT Communications Corporation", "ntt", "ocn.ne.jp", NetResidential, "153.128", []string{"Tokyo"}, ""},
	{1221, "Telstra Limited", "telstra", "telstra.com", NetResidential, "101.160", []string{"Sydney"}, ""},
	{9506, "Singtel Fibre Broadband", "singtel", "singtel.com", NetResidential, "116.14", []string{"Singapore"}, ""},
	// Residential in attacker origins
	{8708, "RCS & RDS SA", "digi romania", "digi.ro", NetResidential, "86.120", []string{"Bucharest"}, ""},
	{29465, "MTN NIGERIA Communication limited", "mtn nigeria", "mtnnigeria.net", NetResidential, "102.88", []string{"Lagos"}, ""},
	{28573, "Claro NXT Telecomunicacoes Ltda", "claro", "claro.com.br", NetResidential, "177.32", []string{"Sao Paulo"}, ""},
	{7552, "Viettel Group", "viettel", "viettel.com.vn", NetResidential, "171.224", []string{"Hanoi"}, ""},
	{12389, "PJSC Rostelecom", "rostelecom", "rt.ru", NetResidential, "95.24", []string{"Moscow"}, ""},
	{7713, "PT Telekomunikasi Indonesia", "telkom indonesia", "telkom.co.id", NetResidential, "36.64", []string{"Jakarta"}, ""},
	// Mobile carriers
	{21928, "T-Mobile USA, Inc.", "t-mobile usa", "t-mobile.com", NetMobile, "2607:fb90", []string{"New York", "San Francisco", "Chicago", "Seattle", "Austin", "Boston", "Denver"}, ""},
	{6167, "Cellco Partnership DBA Verizon Wireless", "verizon wireless", "verizonwireless.com", NetMobile, "174.192", []string{"New York", "San Francisco", "Chicago", "Seattle", "Austin", "Boston", "Denver"}, ""},
	{12576, "EE Limited", "ee", "ee.co.uk", NetMobile, "31.94", []string{"London", "Manchester", "Edinburgh", "Bristol"}, ""},
	{25135, "Vodafone Limited", "vodafone uk", "vodafone.co.uk", NetMobile, "85.255", []string{"London", "Manchester"}, ""},
	{6805, "Telefonica Germany GmbH", "o2 germany", "telefonica.de", NetMobile, "176.0", []string{"Berlin", "Frankfurt", "Munich"}, ""},
	{5410, "Bouygues Telecom SA", "bouygues telecom", "bouyguestelecom.fr", NetMobile, "89.80", []string{"Paris", "Lyon"}, ""},
	{852, "TELUS Communications Inc.", "telus", "telus.net", NetMobile, "70.64", []string{"Toronto", "Vancouver"}, ""},
	{24560, "Bharti Airtel Ltd.", "airtel", "airtel.in", NetMobile, "106.192", []string{"Bengaluru", "Pune"}, ""},
	// Corporate: offices and VPN egress (trusted)
	{6461, "Zayo Bandwidth", "zayo bandwidth", "zayo.com", NetCorporate, "64.125", []string{"New York", "Ashburn", "San Francisco"}, ""},
	{8220, "Colt Technology Services Group Limited", "colt", "colt.net", NetCorporate, "212.36", []string{"London", "Frankfurt"}, ""},
	// Datacenter: the org's own workloads in AWS (trusted)
	{16509, "Amazon.com, Inc.", "amazon.com", "amazonaws.com", NetDatacenter, "52.4", []string{"Ashburn"}, ""},
	// Hosting (attacker infrastructure)
	{14061, "DigitalOcean, LLC", "digitalocean", "digitalocean.com", NetHosting, "159.203", []string{"New York", "London", "Frankfurt", "Amsterdam", "Singapore", "Toronto", "Bengaluru"}, ""},
	{16276, "OVH SAS", "ovh sas", "ovh.net", NetHosting, "51.75", []string{"Paris", "London", "Frankfurt"}, ""},
	{9009, "M247 Europe SRL", "m247 europe", "m247.com", NetHosting, "185.156", []string{"Bucharest", "London", "New York", "Amsterdam"}, ""},
	{63949, "Akamai Connected Cloud", "linode", "linode.com", NetHosting, "172.104", []string{"New York", "London", "Frankfurt", "Toronto", "Sydney", "Tokyo", "Los Angeles"}, ""},
	// Public cloud regions: the org's service accounts run here (untrusted,
	// hosting ASNs), and so do attackers.
	{16509, "Amazon.com, Inc.", "amazon.com", "amazonaws.com", NetHosting, "54.200", []string{"Boardman", "Ashburn"}, ""},
	{396982, "Google LLC", "google cloud", "googleusercontent.com", NetHosting, "34.122", []string{"Council Bluffs", "Los Angeles"}, ""},
	{8075, "Microsoft Corporation", "microsoft azure", "azure.com", NetHosting, "20.84", []string{"Ashburn", "Dublin"}, ""},
	// Anonymizers
	{212238, "Datacamp Limited", "datacamp limited", "cdn77.com", NetAnonVPN, "185.246", []string{"New York", "London", "Frankfurt", "Paris", "Amsterdam", "Toronto"}, "NORD_VPN"},
	{60729, "Stiftung Erneuerbare Freiheit", "stiftung erneuerbare freiheit", "torproject.org", NetTor, "185.220", []string{"Frankfurt", "Amsterdam", "New York", "London"}, "TOR"},
	{36183, "Akamai Technologies, Inc.", "akamai technologies inc.", "akamai.com", NetPrivateRelay, "172.225", []string{"New York", "San Francisco", "Chicago", "Seattle", "Austin", "Boston", "Denver", "London", "Manchester", "Edinburgh", "Bristol"}, "APPLE_PRIVATE_RELAY"},
}

// Threat-intel and risky ranges live in the IETF documentation blocks so they
// can never collide with a residential range of the table.
var docNets = []struct {
	cidr string
	isp
	city string
}{
	// "Bulletproof" hosting seen in the threat-intel feed (suspicious list).
	{"203.0.113.0/24", isp{asn: 202425, asOrg: "IP Volume inc", isp: "ip volume inc", domain: "ipvolume.net", kind: NetHosting}, "Amsterdam"},
	// A user-defined Risky range (risky list): residential proxies resold by the hour.
	{"198.51.100.0/24", isp{asn: 396356, asOrg: "Latitude.sh LTDA", isp: "latitude.sh", domain: "latitude.sh", kind: NetHosting}, "New York"},
	{"192.0.2.0/24", isp{asn: 396356, asOrg: "Latitude.sh LTDA", isp: "latitude.sh", domain: "latitude.sh", kind: NetHosting}, "London"},
}

// world is the built network table with lookups.
type world struct {
	nets   []*Network
	byKind map[NetKind][]*Network
	// residential/mobile/hosting/... by (kind, city name)
	byKindCity map[NetKind]map[string][]*Network
}

func buildWorld() (*world, error) {
	w := &world{byKind: map[NetKind][]*Network{}, byKindCity: map[NetKind]map[string][]*Network{}}
	add := func(n *Network, key string) {
		w.nets = append(w.nets, n)
		w.byKind[n.Kind] = append(w.byKind[n.Kind], n)
		m := w.byKindCity[n.Kind]
		if m == nil {
			m = map[string][]*Network{}
			w.byKindCity[n.Kind] = m
		}
		m[n.City.Name] = append(m[n.City.Name], n)
		if key != n.City.Name {
			m[key] = append(m[key], n)
		}
	}
	for _, s := range isps {
		for i, cn := range s.cities {
			c, ok := cities[cn]
			if !ok {
				return nil, fmt.Errorf("traffic: network table: unknown city %q", cn)
			}
			var p netip.Prefix
			var err error
			if len(s.base) > 0 && containsColon(s.base) {
				p, err = netip.ParsePrefix(fmt.Sprintf("%s:%x::/48", s.base, 0x1000+i))
			} else {
				var a, b int
				if _, e := fmt.Sscanf(s.base, "%d.%d", &a, &b); e != nil {
					return nil, fmt.Errorf("traffic: network table: bad base %q: %w", s.base, e)
				}
				p, err = netip.ParsePrefix(fmt.Sprintf("%d.%d.%d.0/20", a, b, i*16))
			}
			if err != nil {
				return nil, fmt.Errorf("traffic: network table: %w", err)
			}
			n := &Network{CIDR: p.String(), Prefix: p, ASN: s.asn, ASOrg: s.asOrg, ISP: s.isp, Domain: s.domain,
				Kind: s.kind, City: c, Operator: s.operator, Zone: "null"}
			switch s.kind {
			case NetAnonVPN, NetTor, NetPrivateRelay:
				n.Anonymous = true
			case NetCorporate:
				n.Zone = "Corporate Network"
			case NetDatacenter:
				n.Zone = "Corporate Datacenter"
			}
			add(n, cn)
		}
	}
	for _, d := range docNets {
		p, err := netip.ParsePrefix(d.cidr)
		if err != nil {
			return nil, fmt.Errorf("traffic: network table: %w", err)
		}
		c := cities[d.city]
		add(&Network{CIDR: p.String(), Prefix: p, ASN: d.asn, ASOrg: d.asOrg, ISP: d.isp.isp, Domain: d.domain,
			Kind: d.kind, City: c, Zone: "null"}, d.city)
	}
	return w, nil
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// net returns the networks of a kind in a city (nil if none).
func (w *world) net(kind NetKind, city string) []*Network { return w.byKindCity[kind][city] }

// hostAt returns the i-th host address of n (skipping network/broadcast-like .0 and .255).
func hostAt(n *Network, i uint64) netip.Addr {
	p := n.Prefix
	if p.Addr().Is6() {
		a := p.Addr().As16()
		// fill the low 64 bits
		for k := 0; k < 8; k++ {
			a[15-k] = byte(i >> (8 * k)) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
		}
		a[8] |= 0x02 // avoid all-zero interface ids
		return netip.AddrFrom16(a)
	}
	bits := 32 - p.Bits()
	size := uint64(1) << bits
	// hosts 1..size-2 excluding .0/.255 within each /24
	h := i%(size-2) + 1
	if h&0xff == 0 {
		h++
	}
	if h&0xff == 0xff {
		h--
	}
	a := p.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(h)                                                                       // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
}

// distanceKm is the great-circle distance between two points.
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlon := (lon2 - lon1) * rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}
