package traffic

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"
)

type persona uint16

const (
	pTraveller persona = 1 << iota
	pVPN
	pRelay
	pMobile
	pAdmin
	pSecAdmin
	pHelpdesk
	pPentest
	pOffice // works from an office (trusted) some days
	pService
)

func (p persona) has(x persona) bool { return p&x != 0 }

type span struct{ from, to time.Time }

type trip struct {
	dest           City
	net            *Network
	ip             netip.Addr
	depart, arrive time.Time // outbound flight
	leave, back    time.Time // return flight
}

// user is one account with its habits and per-user Okta behaviour state.
type user struct {
	idx                int
	id, login, name    string
	first, last        string
	home               City
	tz                 *time.Location
	homeNet            *Network
	homeIPs            []netip.Addr
	mobNet             []*Network // mobile carrier networks in the home country (same ASN)
	vpnNet             *Network
	officeNet          *Network
	relayNet           *Network
	desk, mob          *UA
	deskDT, mobDT      string
	deskFP             string
	verify             verifyDevice
	apps               []int
	p                  persona
	workStart, workLen float64
	trips              []trip
	blackout           []span
	reserved           bool // picked as a scenario victim/actor: no benign traps
	// behaviour state (what Okta has seen for this user)
	seenIP      map[netip.Addr]bool
	seenCity    map[string]bool
	seenCountry map[string]bool
	seenDT      map[string]bool
	lastLat     float64
	lastLon     float64
	lastT       time.Time
	pwChange    int // day index of the planned password change (-1 none)
}

func (u *user) actor() actorRef {
	return actorRef{ID: u.id, Type: "User", AltID: u.login, Name: u.name}
}

func (u *user) target() targetRef {
	return targetRef{ID: u.id, Type: "User", AltID: u.login, Name: u.name}
}

func (u *user) blocked(t time.Time) bool {
	for _, s := range u.blackout {
		if !t.Before(s.from) && t.Before(s.to) {
			return true
		}
	}
	return false
}

type app struct {
	id, name, label, mode string
}

var appCatalog = []app{
	{"0oa1slack0000000000", "slack", "Slack", "SAML_2_0"},
	{"0oa1gsuite000000000", "google", "Google Workspace", "SAML_2_0"},
	{"0oa1o365xx000000000", "office365", "Microsoft Office 365", "WS_FEDERATION"},
	{"0oa1jira00000000000", "jira", "Jira Cloud", "SAML_2_0"},
	{"0oa1zoom00000000000", "zoom", "Zoom", "SAML_2_0"},
	{"0oa1salesforce00000", "salesforce", "Salesforce", "SAML_2_0"},
	{"0oa1github000000000", "github", "GitHub Enterprise Cloud", "SAML_2_0"},
	{"0oa1aws0000000000000", "aws", "AWS IAM Identity Center", "SAML_2_0"},
	{"0oa1workday00000000", "workday", "Workday", "SAML_2_0"},
	{"0oa1box000000000000", "box", "Box", "SAML_2_0"},
	{"0oa1confluence00000", "confluence", "Confluence", "SAML_2_0"},
	{"0oa1dashboard000000", "okta_enduser", "Okta Dashboard", "OPENID_CONNECT"},
}

var firstNames = []string{"james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david", "elizabeth",
	"william", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "chris", "karen", "daniel", "lisa",
	"matthew", "nancy", "anthony", "betty", "mark", "sandra", "steven", "ashley", "paul", "emily", "andrew", "donna",
	"joshua", "michelle", "kevin", "carol", "brian", "amanda", "oliver", "amelia", "harry", "isla", "jack", "ava", "noah",
	"mia", "leo", "sophie", "lukas", "emma", "felix", "lea", "hugo", "chloe", "arjun", "priya", "rahul", "ananya", "liam",
	"olivia", "lucas", "sofia", "mateo", "lucia", "sean", "aoife", "jan", "zofia"}

var lastNames = []string{"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
	"martinez", "hernandez", "lopez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin", "lee",
	"thompson", "white", "harris", "clark", "lewis", "walker", "hall", "young", "king", "wright", "evans", "roberts",
	"patel", "sharma", "mueller", "schmidt", "schneider", "fischer", "dubois", "bernard", "moreau", "murphy", "kelly",
	"kowalski", "nowak", "garcia", "fernandez", "devries", "jansen", "tanaka", "okafor", "nguyen", "campbell", "stewart"}

// countryPlan gives home cities with their share of users.
var countryPlan = []struct {
	city  string
	share float64
}{
	{"New York", 0.17}, {"San Francisco", 0.10}, {"Chicago", 0.07}, {"Seattle", 0.06}, {"Austin", 0.06},
	{"Boston", 0.05}, {"Denver", 0.04},
	{"London", 0.14}, {"Manchester", 0.05}, {"Edinburgh", 0.03}, {"Bristol", 0.03},
	{"Berlin", 0.025}, {"Munich", 0.02}, {"Frankfurt", 0.015},
	{"Paris", 0.02}, {"Lyon", 0.01},
	{"Toronto", 0.02}, {"Vancouver", 0.01},
	{"Bengaluru", 0.025}, {"Pune", 0.015},
	{"Amsterdam", 0.015}, {"Madrid", 0.01}, {"Dublin", 0.01}, {"Warsaw", 0.01},
}

var (
	uaWinChrome     = &UA{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Windows 10", "CHROME", "Computer"}
	uaWinEdge       = &UA{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80", "Windows 10", "EDGE_CHROMIUM", "Computer"}
	uaWinFirefox    = &UA{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "Windows 10", "FIREFOX", "Computer"}
	uaMacChrome     = &UA{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Mac OS X", "CHROME", "Computer"}
	uaMacSafari     = &UA{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15", "Mac OS X", "SAFARI", "Computer"}
	uaLinux         = &UA{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Linux", "CHROME", "Computer"}
	uaIPhone        = &UA{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "iOS", "MOBILE_SAFARI", "Mobile"}
	uaAndroid       = &UA{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36", "Android", "CHROME", "Mobile"}
	uaVerifyAndroid = &UA{"OktaVerify/9.14.0 Android/14 Google/Pixel 8 com.okta.android.auth", "Android", "UNKNOWN", "Mobile"}
	uaVerifyIOS     = &UA{"OktaVerify/9.14.0 iOS/17.4.1 Apple/iPhone15,2 com.okta.mobile.auth.service.extension", "iOS", "UNKNOWN", "Mobile"}
	// Attacker tooling.
	uaPython    = &UA{"python-requests/2.31.0", "Unknown", "UNKNOWN", "Unknown"}
	uaHeadless  = &UA{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/122.0.6261.94 Safari/537.36", "Linux", "CHROME", "Computer"}
	uaFirefoxLx = &UA{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0", "Linux", "FIREFOX", "Computer"}
	uaOktaSDK   = &UA{"okta-sdk-java/8.2.5 java/17.0.9 Linux/5.15.0-1051-aws", "Linux", "UNKNOWN", "Unknown"}
)

var deskUAs = []*UA{uaWinChrome, uaWinChrome, uaWinEdge, uaWinFirefox, uaMacChrome, uaMacChrome, uaMacSafari, uaLinux}

// org is the generated organisation.
type org struct {
	domain    string
	users     []*user
	admins    []*user // routine admins (admin event producers)
	secAdmin  *user
	helpdesk  []*user
	pentest   *user
	svcUser   *user // API-token automation user
	provApp   actorRef
	provToken string
	svcToken  string
	ciUser    *user                   // CI runners in two AWS regions (password sign-ins)
	syncUser  *user                   // directory sync from Google Cloud (API token)
	syncToken string                  // the token the identity team creates for it
	corpIPs   map[string][]netip.Addr // per corporate network CIDR: egress IPs in use
	dcIP      netip.Addr
	policyID  string
	ruleID    string
}

func buildOrg(cfg Config, w *world) (*org, error) {
	r := newRnd(uint64(cfg.Seed), 0x0_7267) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	o := &org{domain: cfg.Domain, corpIPs: map[string][]netip.Addr{}}
	n := cfg.Users
	// home cities by quota (deterministic counts)
	homes := make([]string, 0, n)
	for _, cp := range countryPlan {
		k := int(cp.share*float64(n) + 0.5)
		for i := 0; i < k && len(homes) < n; i++ {
			homes = append(homes, cp.city)
		}
	}
	for len(homes) < n {
		homes = append(homes, "New York")
	}
	rand.New(r.src).Shuffle(len(homes), func(i, j int) { homes[i], homes[j] = homes[j], homes[i] }) // #nosec G404 -- simulator: seeded, reproducible traffic, not a secret

	usedLogins := map[string]bool{}
	for i := 0; i < n; i++ {
		c := cities[homes[i]]
		u := &user{idx: i, home: c}
		u.tz = time.FixedZone(c.Name, int(c.UTCOffset*3600))
		fn := firstNames[r.IntN(len(firstNames))]
		ln := lastNames[r.IntN(len(lastNames))]
		login := fn + "." + ln
		for k := 2; usedLogins[login]; k++ {
			login = fmt.Sprintf("%s.%s%d", fn, ln, k)
		}
		usedLogins[login] = true
		u.first, u.last = fn, ln
		u.login = login + "@" + cfg.Domain
		u.name = strings.ToUpper(fn[:1]) + fn[1:] + " " + strings.ToUpper(ln[:1]) + ln[1:]
		u.id = "00u" + r.base62(17)
		res := w.net(NetResidential, c.Name)
		if len(res) == 0 {
			return nil, fmt.Errorf("traffic: no residential network in %s", c.Name)
		}
		u.homeNet = res[r.IntN(len(res))]
		u.homeIPs = []netip.Addr{hostAt(u.homeNet, r.Uint64())}
		if r.chance(0.3) {
			u.homeIPs = append(u.homeIPs, hostAt(u.homeNet, r.Uint64()))
		}
		// mobile carrier: one ASN, its networks in the home country
		var mobs []*Network
		for _, m := range w.byKind[NetMobile] {
			if m.City.Country == c.Country {
				mobs = append(mobs, m)
			}
		}
		if len(mobs) > 0 {
			asn := mobs[r.IntN(len(mobs))].ASN
			for _, m := range mobs {
				if m.ASN == asn {
					if m.City.Name == c.Name {
						u.mobNet = append([]*Network{m}, u.mobNet...)
					} else {
						u.mobNet = append(u.mobNet, m)
					}
				}
			}
			if u.mobNet[0].City.Name != c.Name {
				// carrier without presence in the home city: use its first network
				u.mobNet = u.mobNet[:1]
			}
		}
		u.desk = deskUAs[r.IntN(len(deskUAs))]
		if r.chance(0.5) {
			u.mob = uaIPhone
		} else {
			u.mob = uaAndroid
		}
		u.deskDT = r.hex(64)
		u.mobDT = r.hex(64)
		u.deskFP = r.hex(32)
		plat, ver := "IOS", "17.4.1"
		if u.mob == uaAndroid {
			plat, ver = "ANDROID", "14"
		}
		u.verify = verifyDevice{ID: "guo" + r.base62(17), Name: u.name[:strings.IndexByte(u.name, ' ')] + "'s phone", Platform: plat, Version: ver}
		k := 3 + r.IntN(5)
		perm := r.Perm(len(appCatalog) - 1)
		u.apps = append(u.apps, len(appCatalog)-1) // Okta Dashboard
		for _, a := range perm[:k] {
			u.apps = append(u.apps, a)
		}
		u.workStart = 7.5 + r.Float64()*2.5
		u.workLen = 8 + r.Float64()*1.5
		u.pwChange = -1
		if r.chance(0.15) {
			u.pwChange = 1 + r.IntN(28)
		}
		if len(u.mobNet) > 0 && r.chance(0.45) {
			u.p |= pMobile
		}
		u.seenIP = map[netip.Addr]bool{}
		u.seenCity = map[string]bool{}
		u.seenCountry = map[string]bool{}
		u.seenDT = map[string]bool{}
		o.users = append(o.users, u)
	}

	// Corporate networks: offices (New York, London) and VPN egress
	corp := func(city string) *Network {
		ns := w.net(NetCorporate, city)
		if len(ns) == 0 {
			return nil
		}
		return ns[0]
	}
	for _, cn := range []string{"New York", "London", "Ashburn", "Frankfurt", "San Francisco"} {
		if cnet := corp(cn); cnet != nil {
			for k := 0; k < 6; k++ {
				o.corpIPs[cnet.CIDR] = append(o.corpIPs[cnet.CIDR], hostAt(cnet, uint64(10+k)))
			}
		}
	}
	dc := w.byKind[NetDatacenter][0]
	o.dcIP = hostAt(dc, 20)

	// Personas. Order of assignment is fixed so a seed gives the same org.
	var admins, plain []*user
	for _, u := range o.users {
		switch u.home.Name {
		case "New York", "London", "San Francisco":
			if r.chance(0.5) {
				u.p |= pOffice
				u.officeNet = corp(u.home.Name)
			}
		}
		switch u.home.Country {
		case "United States", "United Kingdom", "Germany":
			if r.chance(0.2) {
				u.p |= pVPN
				switch u.home.Country {
				case "United States":
					if r.chance(0.5) {
						u.vpnNet = corp("Ashburn")
					} else {
						u.vpnNet = corp("New York")
					}
				case "United Kingdom":
					u.vpnNet = corp("London")
				default:
					u.vpnNet = corp("Frankfurt")
				}
			}
		}
	}
	// routine admins: office workers in New York and London
	nAdmins := max(2, n/40)
	for _, u := range o.users {
		if len(admins) < nAdmins && u.p.has(pOffice) && (u.home.Name == "New York" || u.home.Name == "London") {
			u.p |= pAdmin
			admins = append(admins, u)
		}
	}
	if len(admins) < 2 {
		return nil, fmt.Errorf("traffic: could not pick routine admins among %d users", n)
	}
	o.admins = admins
	for _, u := range o.users {
		if u.p.has(pAdmin) {
			continue
		}
		if o.secAdmin == nil && u.p.has(pOffice) {
			u.p |= pSecAdmin
			o.secAdmin = u
			continue
		}
		if len(o.helpdesk) < max(1, n/200) && u.p.has(pOffice) {
			u.p |= pHelpdesk
			if len(u.mobNet) > 0 {
				u.p |= pMobile // answers calls from the phone
			}
			o.helpdesk = append(o.helpdesk, u)
			continue
		}
		plain = append(plain, u)
	}
	// private relay users: Apple users in cities with relay egress
	nRelay := max(6, n/40)
	for _, u := range plain {
		if nRelay == 0 {
			break
		}
		if u.p.has(pVPN) || u.p.has(pOffice) {
			continue
		}
		if rn := w.net(NetPrivateRelay, u.home.Name); len(rn) > 0 {
			u.p |= pRelay
			u.relayNet = rn[0]
			u.desk = uaMacSafari
			u.mob = uaIPhone
			nRelay--
		}
	}
	// travellers
	nTrav := max(4, n/15)
	for _, u := range plain {
		if nTrav == 0 {
			break
		}
		if u.p&(pRelay|pVPN) != 0 {
			continue
		}
		if _, ok := travelDest[u.home.Country]; ok && r.chance(0.5) {
			u.p |= pTraveller
			nTrav--
		}
	}
	// pen-tester: a plain US user account dedicated to red-team work
	for _, u := range plain {
		if u.p == 0 && u.home.Country == "United States" {
			u.p |= pPentest
			u.login = "pentest.redteam@" + cfg.Domain
			u.name = "Red Team (authorised pen-test)"
			u.desk = uaLinux
			o.pentest = u
			break
		}
	}
	if o.pentest == nil {
		return nil, fmt.Errorf("traffic: could not pick the pen-test account")
	}
	// the API-token automation user (a service account, not in users)
	svc := &user{idx: -1, id: "00u" + r.base62(17), login: "svc-scim@" + cfg.Domain, name: "SCIM Service", home: cities["Ashburn"], p: pService,
		seenIP: map[netip.Addr]bool{}, seenCity: map[string]bool{}, seenCountry: map[string]bool{}, seenDT: map[string]bool{}}
	o.svcUser = svc
	o.svcToken = "00T" + r.base62(17)
	o.ciUser = newServiceUser(r, "svc-ci@"+cfg.Domain, "CI Runner", "Ashburn")
	o.syncUser = newServiceUser(r, "svc-dirsync@"+cfg.Domain, "Directory Sync", "Council Bluffs")
	o.syncToken = "00T" + r.base62(17)
	o.provApp = actorRef{ID: "0oa" + r.base62(17), Type: "PublicClientApp", AltID: "Workday Provisioning", Name: "Workday Provisioning"}
	o.provToken = "00T" + r.base62(17)
	o.policyID = "00p" + r.base62(17)
	o.ruleID = "0pr" + r.base62(17)
	return o, nil
}

// travelDest gives, per home country, frequent destinations.
var travelDest = map[string][]string{
	"United States":  {"London", "Tokyo", "Toronto", "Frankfurt"},
	"United Kingdom": {"New York", "Singapore", "Berlin", "San Francisco"},
	"Germany":        {"London", "New York"},
	"France":         {"London", "New York"},
	"India":          {"London", "Singapore"},
	"Canada":         {"New York", "London"},
}

// plainUsers returns users without any persona, in index order: scenario victims.
func (o *org) plainUsers() []*user {
	var out []*user
	for _, u := range o.users {
		if u.p&^pMobile == 0 {
			out = append(out, u)
		}
	}
	return out
}
