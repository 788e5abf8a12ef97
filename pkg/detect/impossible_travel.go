package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var impossibleTravelRegistration = Registration{
	Info: Info{
		ID:       "impossible_travel",
		Title:    "Impossible travel",
		Severity: SeverityHigh,
		MITRE:    []string{"T1078", "T1078.004"},
		Description: "Two successful interactive sign-ins by the same user from places too far apart " +
			"for the time between them (faster than 900 km/h over more than 500 km, different and " +
			"non-bordering countries).",
	},
	Params: []Param{
		{"speedKmh", 900.0, "alert above this speed between the anchor and the new sign-in"},
		{"minDistanceKm", 500.0, "ignore hops shorter than this"},
		{"anchorWindow", 24 * time.Hour, "compare only with an anchor sign-in this recent"},
		{"cityMode", true, "compare cities (journeys inside one country or between neighbours alert when distance and speed say so); false: only different, non-bordering countries"},
		{"knownCountryMin", 3, "user suppression: destination country with at least this many sign-ins in 30 days"},
		{"commonRouteUsers", 3, "tenant suppression: country pair travelled by at least this many other users in 30 days"},
		{"dismissed", []string(nil), "tenant suppression: dismissed country pairs \"A>B\" or ISP / AS organisation names"},
		{"knownPlaces", true, "user suppression: both ends are places the user signed in from on an earlier day in 30 days (same AS in the same city; for hosting ASNs the same /24 or /64)"},
	},
	Rearm: 24 * time.Hour,
	New:   newImpossibleTravel,
}

// travelAnchor is a user's last sign-in that can anchor a comparison.
// Kept per tracked user (by index), by value in the map: the country and
// city are interned, the address and uuid packed; 120 bytes.
type travelAnchor struct {
	T       int64
	Lat     float32
	Lon     float32
	ASN     uint32
	City    uint32 // labels id
	C       uint16 // country id
	Trusted bool
	Known   bool      // the anchor's place was one the user had used on an earlier day
	KCity   bool      // the anchor (outside hosting ASNs) was in a city the user had signed in from on an earlier day
	Cloud   bool      // the anchor came from a hosting / datacenter ASN new to the user
	DT      [4]uint32 // hashes of recent dtHash values
	IP      packedIP
	UUID    eventID
}

type impossibleTravel struct {
	speed, minDist float64
	window         time.Duration
	cityMode       bool
	knownMin       int
	routeUsers     int
	knownPlaces    bool
	dismissed      map[string]bool
	base           *baselines
	anchors        userSlots[travelAnchor]      // user index -> last anchor
	changeSet                                   // users (login) whose anchor, places or routes changed since the last state save
	routes         map[string]map[uint32]uint16 // route -> user index -> last day
	places         userSlots[placeSet]          // user index -> places signed in from (30 days)
	// lower bounds of the anchors' times and of the places' and routes'
	// last days, for Prune (expiry.go)
	anchorsExp, placesExp, routesExp expiry
}

func newImpossibleTravel(p Params) (Detector, error) {
	d := &impossibleTravel{
		speed: p.Float("speedKmh"), minDist: p.Float("minDistanceKm"), window: p.Duration("anchorWindow"),
		cityMode: p.Bool("cityMode"), knownMin: p.Int("knownCountryMin"), routeUsers: p.Int("commonRouteUsers"),
		knownPlaces: p.Bool("knownPlaces"), dismissed: map[string]bool{},
		routes: map[string]map[uint32]uint16{},
	}
	if d.speed <= 0 {
		return nil, fmt.Errorf("params.speedKmh: must be positive")
	}
	for _, s := range p.Strings("dismissed") {
		d.dismissed[strings.ToLower(strings.TrimSpace(s))] = true
	}
	return d, nil
}

func (d *impossibleTravel) bindUsers(b *baselines) { d.base = b }

func routeKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + ">" + b
}

func (d *impossibleTravel) Handle(c *Context, ev *event.Event) {
	if !ev.IsInteractiveSignIn() || ev.IsOktaFirstPartyClient() {
		return
	}
	u := c.userOf()
	lat, lon, ok := geoPoint(ev)
	if u == nil || !ok || isAnonymous(ev) || isPrivateRelay(ev) || isSatellite(ev) {
		// never anchors, never compared
		return
	}
	d.mark(u.login) // its places, anchor or routes may change below
	var prev travelAnchor
	hasPrev := false
	if a := d.anchors.get(u.idx); a != nil {
		prev, hasPrev = *a, true
	}
	now := c.Now.Unix()
	country := ev.Country()
	dtHash := uint32(0)
	if ev.Debug.DTHash != "" {
		dtHash = hash32(ev.Debug.DTHash)
	}
	place, city := placeKey(ev), cityKey(ev)
	known, knownCity := d.knowsPlace(u.idx, place, c.today()), d.knowsPlace(u.idx, city, c.today())
	if hasPrev && now >= prev.T && now-prev.T <= int64(d.window/time.Second) {
		d.compare(c, ev, u.idx, &prev, lat, lon, country, dtHash, known, knownCity)
	}
	d.addPlace(u.idx, place, c.today())
	d.addPlace(u.idx, city, c.today())
	if hasPrev && now < prev.T { // a late event does not replace a newer anchor
		return
	}
	d.anchorsExp.note(now)
	na := travelAnchor{T: now, Lat: float32(lat), Lon: float32(lon), ASN: uint32(max(asnOf(ev), 0)), // #nosec G115 -- asnOf is 0..MaxUint32: event decoding and enrichment keep AS numbers to 32 bits
		City: d.base.labels.id(ev.Client.Geo.City), C: d.base.countryID(country), Trusted: isTrusted(ev),
		Known: known, KCity: knownCity, Cloud: isCloud(ev) && !c.UserHasASN(asnOf(ev)),
		IP: makePackedIP(ev.Client.IPAddress), UUID: makeEventID(ev.UUID), DT: prev.DT}
	if dtHash != 0 {
		known := false
		for _, h := range na.DT {
			if h == dtHash {
				known = true
			}
		}
		if !known {
			copy(na.DT[1:], na.DT[:3])
			na.DT[0] = dtHash
		}
	}
	d.anchors.set(u.idx, na)
}

// placeKey is the hash of where a sign-in comes from: outside hosting
// ASNs its AS number in its geolocated city (a home ISP or a mobile
// carrier hands out changing addresses in one city); for a hosting ASN,
// where anyone can rent an address in any city, or without a city, its
// /24 (/64 for IPv6) prefix. 0 when unknown. One key per place keeps a
// phone's many carrier prefixes from crowding out the user's other places.

// maxPlacesPerUser bounds the places kept per user (the least recently
// used one goes first).
const maxPlacesPerUser = 12

// placeSet is a user's places, inline (no pointer: the slice holding
// them is not scanned by the garbage collector, and a user costs it no
// object of its own); N of the P are in use, in the order a slice would
// hold them (the state's order).
type placeSet struct {
	N uint8
	P [maxPlacesPerUser]netSeen
}

// list is the places in use (nil for none); it aliases the set.
func (ps *placeSet) list() []netSeen {
	if ps.N == 0 {
		return nil
	}
	return ps.P[:ps.N]
}

// add records place h seen on day d (the least recently seen place makes
// room when the set is full), as addSeen on a slice; it reports whether
// h is new.
func (ps *placeSet) add(h uint32, f, l uint16) bool {
	for i := range ps.list() {
		if ps.P[i].H == h {
			ps.P[i].L = max(ps.P[i].L, l)
			ps.P[i].F = min(ps.P[i].F, f)
			return false
		}
	}
	if int(ps.N) >= maxPlacesPerUser {
		oldest := 0
		for i, x := range ps.list() {
			if x.L < ps.P[oldest].L {
				oldest = i
			}
		}
		ps.P[oldest] = netSeen{H: h, F: f, L: l}
		return true
	}
	ps.P[ps.N] = netSeen{H: h, F: f, L: l}
	ps.N++
	return true
}

// placeSetOf is the set holding the places of a saved state: more than
// maxPlacesPerUser (never saved: the set is bounded) keep the most
// recently seen, as adding them one by one would.
func placeSetOf(list []netSeen) placeSet {
	var ps placeSet
	for _, x := range list {
		ps.add(x.H, x.F, x.L)
	}
	return ps
}

// knowsPlace reports whether the user signed in from the place on an
// earlier day of the last 30 days: a place first seen today —
// maybe by an attacker a minute ago — is not yet the user's own.
func (d *impossibleTravel) knowsPlace(user, h uint32, today uint16) bool {
	if h == 0 {
		return false
	}
	ps := d.places.get(user)
	if ps == nil {
		return false
	}
	for _, x := range ps.list() {
		if x.H == h && x.F < today && inWindow(today, x.L) {
			return true
		}
	}
	return false
}

func (d *impossibleTravel) addPlace(user, h uint32, today uint16) {
	if h == 0 {
		return
	}
	ps := d.places.get(user)
	if ps == nil {
		d.places.set(user, placeSet{})
		ps = d.places.get(user)
	}
	if ps.add(h, today, today) {
		d.placesExp.note(int64(today))
	}
}

func (d *impossibleTravel) compare(c *Context, ev *event.Event, user uint32, prev *travelAnchor, lat, lon float64, country string, dtHash uint32, known, knownCity bool) {
	prevC, prevCity := d.base.countries[prev.C], d.base.labels.name(prev.City)
	dist := haversineKm(float64(prev.Lat), float64(prev.Lon), lat, lon)
	dt := c.Now.Sub(time.Unix(prev.T, 0))
	hours := math.Max(dt.Hours(), 1.0/60)
	speed := dist / hours
	if dist <= d.minDist || speed <= d.speed {
		return
	}
	if d.cityMode {
		if prevCity != "" && strings.EqualFold(prevCity, ev.Client.Geo.City) && prevC == country {
			return
		}
	} else if prevC == "" || country == "" || prevC == country || bordering(prevC, country) {
		return
	}
	// record the route for the tenant suppression (even when suppressed below)
	rk := routeKey(prevC, country)
	commonUsers := 0
	if m := d.routes[rk]; m != nil {
		for u, dd := range m {
			if u != user && inWindow(c.today(), dd) {
				commonUsers++
			}
		}
	}
	rm := d.routes[rk]
	if rm == nil {
		rm = map[uint32]uint16{}
		d.routes[rk] = rm
	}
	rm[user] = c.today()
	d.routesExp.note(int64(c.today()))

	// system suppressions
	ip := ev.Client.IPAddress
	trusted := isTrusted(ev)
	switch {
	case ip != "" && prev.IP.is(ip), prev.IP.same24(ip):
		return
	case trusted && prev.Trusted:
		return
	case isCloud(ev) && c.UserHasASN(asnOf(ev)):
		return // VPN egress in a cloud ASN the user has used before
	case prevC == country && prev.ASN != 0 && uint32(max(asnOf(ev), 0)) == prev.ASN && !isCloud(ev): // #nosec G115 -- asnOf is 0..MaxUint32: event decoding and enrichment keep AS numbers to 32 bits
		// Same ISP inside one country: geolocation places an ISP's (above
		// all a mobile carrier's) ranges in cities the user never visited,
		// so a domestic jump that keeps the carrier is not evidence of
		// travel. A datacenter end, a new ISP or a border crossing still is.
		return
	}
	// tenant suppressions
	if c.TenantSuppressions() {
		if d.routeUsers > 0 && commonUsers >= d.routeUsers {
			return
		}
		if d.dismissed[strings.ToLower(rk)] || d.dismissed[strings.ToLower(prevC+">"+country)] ||
			d.dismissed[strings.ToLower(country+">"+prevC)] || d.dismissed[strings.ToLower(anonOperator(ev))] {
			return
		}
	}
	// user suppressions. Both ends are places the user has signed in from
	// on earlier days: the corporate VPN exit (geolocated at the
	// concentrator, not the user) and home, or home and the phone's carrier
	// in the home city. Going back and forth between one's own places is
	// not a journey; an attacker signs in from a place new to the user.
	if c.UserSuppressions() && d.knownPlaces && known && prev.Known {
		return
	}
	// A trusted end (the corporate VPN or office egress) the user has used
	// before is geolocated where the egress is, not where the user sits:
	// when the other end is in a city the user signs in from (a first
	// sign-in on the phone's carrier at home), there is no journey either.
	if c.UserSuppressions() && d.knownPlaces && (prev.Trusted && prev.Known && knownCity || trusted && known && prev.KCity) {
		return
	}
	// Country history (in city mode only for a journey to another country:
	// the home country is always "known").
	signIns := c.UserCountryCount(country)
	if c.UserSuppressions() && d.knownMin > 0 && signIns >= d.knownMin && (!d.cityMode || country != prevC) {
		return
	}
	sev := SeverityHigh
	if trusted != prev.Trusted {
		sev = SeverityMedium
	}
	var corroboration []string
	if behavior(ev, "Velocity") || behavior(ev, "Velocity Behavior") {
		corroboration = append(corroboration, "okta_velocity")
	}
	if behavior(ev, "New Country") {
		corroboration = append(corroboration, "okta_new_country")
	}
	if strings.EqualFold(ev.Debug.RiskLevel, "HIGH") {
		corroboration = append(corroboration, "okta_risk_high")
	}
	if isCloud(ev) || prev.Cloud {
		// a datacenter end new to the user: on the new sign-in (a known
		// one is suppressed above), or the anchor (the attacker signed in
		// first, the user second)
		corroboration = append(corroboration, "hosting_asn")
	}
	if dtHash != 0 && prev.DT[0] != 0 {
		seen := false
		for _, h := range prev.DT {
			if h == dtHash {
				seen = true
			}
		}
		if !seen {
			corroboration = append(corroboration, "new_device_token")
		}
	}
	if len(corroboration) > 0 {
		sev = raise(sev)
	}
	prevIP := prev.IP.String()
	ids := []string{ev.UUID}
	if !prev.UUID.isZero() {
		ids = []string{prev.UUID.String(), ev.UUID}
	}
	c.Emit(Finding{
		Severity: sev, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ip, Country: country,
		Title: "Impossible travel",
		Summary: fmt.Sprintf("%s signed in from %s (%s) %s after %s (%s): %.0f km at %.0f km/h",
			ev.Actor.AlternateID, country, ip, roundDur(dt), prevC, prevIP, dist, speed),
		Evidence: map[string]any{
			"from":                 map[string]any{"ip": prevIP, "country": prevC, "city": prevCity, "time": time.Unix(prev.T, 0).UTC().Format(time.RFC3339), "lat": prev.Lat, "lon": prev.Lon, "trusted": prev.Trusted},
			"to":                   map[string]any{"ip": ip, "country": country, "city": ev.Client.Geo.City, "time": c.Now.UTC().Format(time.RFC3339), "lat": ev.Client.Geo.Lat, "lon": ev.Client.Geo.Lon, "trusted": trusted, "asn": asnOf(ev)},
			"distanceKm":           math.Round(dist),
			"elapsedMinutes":       math.Round(dt.Minutes()*10) / 10,
			"speedKmh":             math.Round(speed),
			"thresholdSpeedKmh":    d.speed,
			"thresholdDistanceKm":  d.minDist,
			"destinationSignIns30": signIns,
			"routeUsers30d":        commonUsers,
			"corroboration":        corroboration,
		},
		EventIDs: ids,
		Learn:    LearnUser,
	})
}

func roundDur(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// Prune removes anchors older than both the anchor window and 30 days,
// and places and route users whose last day left the 30-day window. A
// map none of whose entries can go (its expiry bound) is not walked.
func (d *impossibleTravel) Prune(now time.Time) {
	cut := now.Add(-d.window).Unix()
	if !d.anchorsExp.from(min(cut, now.Unix()-30*secondsPerDay)) {
		d.anchorsExp.walk()
		for k, a := range d.anchors.all() {
			if a.T < cut && now.Unix()-a.T > 30*secondsPerDay {
				d.anchors.del(k)
				d.mark(d.base.users[k].login)
				continue
			}
			d.anchorsExp.note(a.T)
		}
	}
	today := day(now.Unix())
	first := int64(today) - windowDays + 1 // the first day kept: inWindow(today, L) || L > today
	if !d.placesExp.from(first) {
		d.placesExp.walk()
		for u, ps := range d.places.all() {
			n := ps.N
			ps.N = 0
			for _, x := range ps.P[:n] {
				if inWindow(today, x.L) || x.L > today {
					ps.P[ps.N] = x
					ps.N++
					d.placesExp.note(int64(x.L))
				}
			}
			if ps.N != n {
				d.mark(d.base.users[u].login)
				clear(ps.P[ps.N:])
			}
			if ps.N == 0 {
				d.places.del(u)
			}
		}
	}
	if !d.routesExp.from(first) {
		d.routesExp.walk()
		for rk, m := range d.routes {
			for u, dd := range m {
				if !inWindow(today, dd) && dd <= today {
					delete(m, u)
					d.mark(d.base.users[u].login)
					continue
				}
				d.routesExp.note(int64(dd))
			}
			if len(m) == 0 {
				delete(d.routes, rk)
			}
		}
	}
}

// forgetExpiry makes the expiry bounds unknown after state was loaded.
func (d *impossibleTravel) forgetExpiry() {
	d.anchorsExp.forget()
	d.placesExp.forget()
	d.routesExp.forget()
}

// travelAnchorState is the persisted form of an anchor.
type travelAnchorState struct {
	T       int64     `json:"t"`
	Lat     float32   `json:"la"`
	Lon     float32   `json:"lo"`
	C       string    `json:"c,omitempty"`
	City    string    `json:"ci,omitempty"`
	IP      string    `json:"ip,omitempty"`
	ASN     uint32    `json:"asn,omitempty"`
	Trusted bool      `json:"tr,omitempty"`
	Known   bool      `json:"kn,omitempty"`
	KCity   bool      `json:"kc,omitempty"`
	Cloud   bool      `json:"cl,omitempty"`
	UUID    string    `json:"id,omitempty"`
	DT      [4]uint32 `json:"dt"`
}

// travelState is keyed by login (anchors, route users and places).
type travelState struct {
	Anchors map[string]*travelAnchorState `json:"anchors"`
	Routes  map[string]map[string]uint16  `json:"routes"`
	Places  map[string][]netSeen          `json:"places,omitempty"`
}

func (d *impossibleTravel) MarshalState() ([]byte, error) {
	st := travelState{Anchors: make(map[string]*travelAnchorState, d.anchors.len()), Routes: make(map[string]map[string]uint16, len(d.routes)),
		Places: make(map[string][]netSeen, d.places.len())}
	for ui, a := range d.anchors.all() {
		st.Anchors[d.base.users[ui].login] = d.anchorState(a)
	}
	for ui, ps := range d.places.all() {
		st.Places[d.base.users[ui].login] = slices.Clone(ps.list())
	}
	for rk, m := range d.routes {
		rm := make(map[string]uint16, len(m))
		for ui, dd := range m {
			rm[d.base.users[ui].login] = dd
		}
		st.Routes[rk] = rm
	}
	return json.Marshal(st)
}

// UnmarshalState drops entries of logins the engine does not track (an
// anchor is only ever kept for a tracked user).
func (d *impossibleTravel) UnmarshalState(b []byte) error {
	d.forgetExpiry()
	var st travelState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	if st.Anchors != nil {
		d.anchors = userSlots[travelAnchor]{}
		for login, a := range st.Anchors {
			u := d.base.lookup(login)
			if u == nil || a == nil {
				continue
			}
			d.anchors.set(u.idx, d.anchorFrom(a))
		}
	}
	d.places = userSlots[placeSet]{}
	for login, ps := range st.Places {
		if u := d.base.lookup(login); u != nil && len(ps) > 0 {
			d.places.set(u.idx, placeSetOf(ps))
		}
	}
	if st.Routes != nil {
		d.routes = make(map[string]map[uint32]uint16, len(st.Routes))
		for rk, m := range st.Routes {
			rm := make(map[uint32]uint16, len(m))
			for login, dd := range m {
				if u := d.base.lookup(login); u != nil {
					rm[u.idx] = dd
				}
			}
			if len(rm) > 0 {
				d.routes[rk] = rm
			}
		}
	}
	return nil
}

// The state is one entry per user (entryState), keyed by login: the
// user's anchor, places and the routes it travelled (route -> last day).
// MarshalState / UnmarshalState keep the whole form of older versions
// loadable.
type travelUserState struct {
	Anchor *travelAnchorState `json:"a,omitempty"`
	Places []netSeen          `json:"p,omitempty"`
	Routes map[string]uint16  `json:"r,omitempty"`
}

func (d *impossibleTravel) anchorState(a *travelAnchor) *travelAnchorState {
	return &travelAnchorState{T: a.T, Lat: a.Lat, Lon: a.Lon, C: d.base.countries[a.C],
		City: d.base.labels.name(a.City), IP: a.IP.String(), ASN: a.ASN, Trusted: a.Trusted, Known: a.Known, KCity: a.KCity, Cloud: a.Cloud,
		UUID: a.UUID.String(), DT: a.DT}
}

func (d *impossibleTravel) anchorFrom(a *travelAnchorState) travelAnchor {
	return travelAnchor{T: a.T, Lat: a.Lat, Lon: a.Lon, ASN: a.ASN, City: d.base.labels.id(a.City),
		C: d.base.countryID(a.C), Trusted: a.Trusted, Known: a.Known, KCity: a.KCity, Cloud: a.Cloud, DT: a.DT, IP: makePackedIP(a.IP), UUID: makeEventID(a.UUID)}
}

func (d *impossibleTravel) stateEntryKeys() []string {
	seen := make(map[uint32]struct{}, d.anchors.len())
	for ui := range d.anchors.all() {
		seen[ui] = struct{}{}
	}
	for ui := range d.places.all() {
		seen[ui] = struct{}{}
	}
	for _, m := range d.routes {
		for ui := range m {
			seen[ui] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for ui := range seen {
		out = append(out, d.base.users[ui].login)
	}
	return out
}

func (d *impossibleTravel) marshalEntry(login string) ([]byte, bool, error) {
	u := d.base.lookup(login)
	if u == nil {
		return nil, false, nil
	}
	var st travelUserState
	if a := d.anchors.get(u.idx); a != nil {
		st.Anchor = d.anchorState(a)
	}
	if ps := d.places.get(u.idx); ps != nil {
		st.Places = ps.list()
	}
	for rk, m := range d.routes {
		if dd, ok := m[u.idx]; ok {
			if st.Routes == nil {
				st.Routes = map[string]uint16{}
			}
			st.Routes[rk] = dd
		}
	}
	if st.Anchor == nil && len(st.Places) == 0 && len(st.Routes) == 0 {
		return nil, false, nil
	}
	b, err := json.Marshal(st)
	return b, true, err
}

// unmarshalEntries drops entries of logins the engine does not track.
func (d *impossibleTravel) unmarshalEntries(m map[string][]byte) error {
	d.forgetExpiry()
	for login, b := range m {
		var st travelUserState
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("user %q: %w", login, err)
		}
		u := d.base.lookup(login)
		if u == nil {
			continue
		}
		if st.Anchor != nil {
			d.anchors.set(u.idx, d.anchorFrom(st.Anchor))
		}
		if len(st.Places) > 0 {
			d.places.set(u.idx, placeSetOf(st.Places))
		}
		for rk, dd := range st.Routes {
			rm := d.routes[rk]
			if rm == nil {
				rm = map[uint32]uint16{}
				d.routes[rk] = rm
			}
			rm[u.idx] = dd
		}
	}
	return nil
}
