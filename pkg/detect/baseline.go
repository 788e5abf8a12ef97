package detect

import (
	"math"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Baselines shared by the detectors: per user, the countries and ASNs of
// successful interactive sign-ins over the last 30 days (day buckets), and
// per tenant the distinct users per country. Kept compact: countries are
// interned to uint16, days are uint16 days since 1970.

const (
	windowDays      = 30
	maxCountries    = 16 // countries kept per user
	bucketDays      = 5  // country history granularity
	countryBuckets  = windowDays / bucketDays
	maxASNsPerUser  = 8
	maxNetsPerUser  = 12 // networks kept per user (prefixes and ISP+country pairs)
	maxActsPerUser  = 16 // admin action types kept per user (admins only)
	secondsPerDay   = 86400
	noCountry       = 0
	countryInternID = 1 // first id handed out
)

// countryHist counts a user's successful sign-ins from one country in
// 5-day buckets over the last 30 days: N[0] is bucket B (the newest),
// N[i] bucket B-i. L is the last day of a sign-in from the country (0 in a
// state saved before it was kept): whether the country is in the 30 days
// is decided by L to the day, as the tenant's country window is; the
// buckets only give the count (their window is 25 to 30 days depending on
// the day). 12 bytes per country.
type countryHist struct {
	C uint16
	B uint16
	L uint16
	N [countryBuckets]uint8
}

// addDay counts a sign-in on day d.
func (h *countryHist) addDay(d uint16) {
	h.add(d / bucketDays)
	h.L = max(h.L, d)
}

func (h *countryHist) add(bucket uint16) {
	if bucket > h.B {
		shift := int(bucket - h.B)
		if shift >= countryBuckets {
			h.N = [countryBuckets]uint8{}
		} else {
			copy(h.N[shift:], h.N[:countryBuckets-shift])
			for i := 0; i < shift; i++ {
				h.N[i] = 0
			}
		}
		h.B = bucket
	}
	if idx := int(h.B - bucket); idx < countryBuckets && h.N[idx] < 255 {
		h.N[idx]++
	}
}

// countOn is the sign-ins from the country in the 30 days up to nowDay:
// 0 when its last sign-in (L) is older, else the buckets' count, at least
// 1 (the oldest bucket may have left the buckets' shorter window).
func (h *countryHist) countOn(nowDay uint16) int {
	n := h.count(nowDay / bucketDays)
	if h.L == 0 { // saved before L was kept: the buckets alone
		return n
	}
	if !inWindow(nowDay, h.L) {
		return 0
	}
	return max(n, 1)
}

// count sums the buckets inside the 30 days before nowBucket.
func (h *countryHist) count(nowBucket uint16) int {
	n := 0
	for i := 0; i < countryBuckets; i++ {
		b := int(h.B) - i
		if b < 0 || b > int(nowBucket) || int(nowBucket)-b >= countryBuckets {
			continue
		}
		n += int(h.N[i])
	}
	return n
}

// netSeen is one network a user signed in from: the hash of its /24 (/64
// for IPv6) prefix or of its ISP (AS number) and country, and the first
// and last day it was seen. 8 bytes.
type netSeen struct {
	H    uint32
	F, L uint16
}

type asnDay struct {
	ASN uint32
	Day uint16 // last day seen
}

// userRec is the engine's baseline of one user (actor login).
type userRec struct {
	idx       uint32
	login     string
	First     int64 // unix seconds of the first event (learning starts here)
	Last      int64 // unix seconds of the latest event
	countries []countryHist
	asns      []asnDay
	nets      []netSeen
	// acts are the admin event types the user performed (hash of the type,
	// first and last day), from successful admin actions without an
	// attack signal; empty for users who never administer.
	acts []netSeen
	// devSess is the hash of the latest session whose sign-in Okta judged
	// from a known device and a known place (behaviours New Device and New
	// Geo-Location both NEGATIVE); 0 when none.
	devSess uint32
	// recorded: in baselines.recorded (record changed it since the last prune)
	recorded bool
}

type baselines struct {
	users       []*userRec
	byLogin     map[string]uint32
	countries   []string // id -> name; index 0 = unknown
	countryIdx  map[string]uint16
	tenantFirst int64
	// tenant: country -> user idx -> last day the user signed in from it
	tenantCountry map[uint16]map[uint32]uint16
	activeDay     uint16
	activeCount   int
	// labels interns cities and operating systems kept in detector state
	labels labels
	// dirty holds the users whose baseline changed since the last state
	// save (SaveStateDelta writes only those).
	dirty map[uint32]struct{}
	// Pruning works by day: a prune on the day of the previous one
	// (prunedDay, when pruned) can only drop entries of the users recorded
	// since (recorded), so it looks at those alone; and when every day
	// recorded since is that day or later (recordedMin, the earliest), at
	// none: what record writes on day d stays in the window until d+30.
	recorded    []*userRec
	recordedMin uint16
	pruned      bool
	prunedDay   uint16
	// recs and logins are where addUser puts a new user (users are never
	// dropped): its record in a chunk of records and its login in a chunk
	// of logins (a strings.Builder never moves what it wrote), one heap
	// object per chunk for the collector to mark instead of two per user.
	recs       []userRec
	logins     *strings.Builder
	loginBytes int
}

func (b *baselines) init() {
	b.byLogin = make(map[string]uint32)
	b.countries = []string{""}
	b.countryIdx = map[string]uint16{"": noCountry}
	b.tenantCountry = make(map[uint16]map[uint32]uint16)
	b.dirty = make(map[uint32]struct{})
}

// changed marks a user's baseline for the next incremental state save.
func (b *baselines) changed(u *userRec) { b.dirty[u.idx] = struct{}{} }

func day(sec int64) uint16 {
	if sec <= 0 {
		return 0
	}
	d := sec / secondsPerDay
	if d > 65535 {
		return 65535
	}
	return uint16(d)
}

func inWindow(nowDay, d uint16) bool { return nowDay >= d && nowDay-d < windowDays }

// normLogin is s lower-cased when it has an ASCII upper-case letter, else
// s itself (no allocation). Detectors key state by it several times per
// event, so it tests eight bytes at a time.
func normLogin(s string) string {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8] // one bounds check for the word's 8 bytes, read as one load
		if hasUpper8(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56) {
			return strings.ToLower(s)
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// hasUpper8 reports whether one of the 8 bytes of x is an ASCII upper-case
// letter (bytes with the top bit set never are; no carry crosses a byte).
func hasUpper8(x uint64) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	h := x &^ msb
	ge := h + lsb*(0x80-'A')   // top bit set where h >= 'A'
	gt := h + lsb*(0x80-'Z'-1) // top bit set where h > 'Z'
	return ge&^gt&^x&msb != 0
}

func (b *baselines) lookup(login string) *userRec {
	if login == "" {
		return nil
	}
	i, ok := b.byLogin[normLogin(login)]
	if !ok {
		return nil
	}
	return b.users[i]
}

// countryID interns a country name (0 for "").
func (b *baselines) countryID(name string) uint16 {
	if id, ok := b.countryIdx[name]; ok {
		return id
	}
	if len(b.countries) >= 65535 {
		return noCountry
	}
	id := uint16(len(b.countries)) // #nosec G115 -- len(countries) < 65535, checked just above
	b.countries = append(b.countries, name)
	b.countryIdx[name] = id
	return id
}

// peekCountryID returns the id of a country without interning it.
func (b *baselines) peekCountryID(name string) (uint16, bool) {
	id, ok := b.countryIdx[name]
	return id, ok
}

// isUserActor reports whether the event's actor is a person we baseline.
func isUserActor(ev *event.Event) bool {
	return ev.Actor.Type == "User" && ev.Actor.AlternateID != "" && !ev.IsOktaInternal()
}

// touchUser returns the actor's baseline, creating it on the actor's first
// non-failed event (failed attempts against unknown logins do not create
// baselines, so a spray of invented names costs no memory).
func (b *baselines) touchUser(ev *event.Event, sec int64) *userRec {
	if !isUserActor(ev) {
		return nil
	}
	login := normLogin(ev.Actor.AlternateID)
	if i, ok := b.byLogin[login]; ok {
		u := b.users[i]
		if sec > u.Last {
			u.Last = sec
			b.changed(u)
		}
		if sec < u.First {
			u.First = sec
			b.changed(u)
		}
		return u
	}
	if ev.IsFailure() {
		return nil
	}
	return b.addUser(login, sec, sec)
}

func (b *baselines) addUser(login string, first, last int64) *userRec {
	if len(b.recs) == cap(b.recs) {
		// chunks of an eighth of the users so far: little slack at the end
		b.recs = make([]userRec, 0, min(max(len(b.users)/8, 8), 1024))
	}
	b.recs = append(b.recs, userRec{idx: uint32(len(b.users)), login: b.keepLogin(login), First: first, Last: last}) // #nosec G115 -- one entry per user: 2^32 users do not fit in memory long before
	u := &b.recs[len(b.recs)-1]
	b.users = append(b.users, u)
	b.byLogin[u.login] = u.idx // the kept copy: the map keeps no string of an event
	b.changed(u)
	return u
}

// keepLogin returns a copy of login in the current chunk of logins (a
// new chunk, an eighth of the logins' bytes so far, when it is full).
func (b *baselines) keepLogin(login string) string {
	if b.logins == nil || b.logins.Cap()-b.logins.Len() < len(login) {
		b.logins = &strings.Builder{}
		b.logins.Grow(max(len(login), min(max(b.loginBytes/8, 256), 64<<10)))
	}
	start := b.logins.Len()
	b.logins.WriteString(login)
	b.loginBytes += len(login)
	return b.logins.String()[start:]
}

// record updates the baselines after the detectors saw the event.
func (b *baselines) record(ev *event.Event, u *userRec, sec int64) {
	if u == nil || isAnonymous(ev) || isPrivateRelay(ev) {
		return
	}
	d := day(sec)
	b.changed(u)
	b.recordedMin = min(b.recordedMin, d)
	if !u.recorded {
		u.recorded = true
		b.recorded = append(b.recorded, u)
	}
	if !ev.IsInteractiveSignIn() {
		b.recordAdmin(ev, u, d)
		return
	}
	if name := ev.Country(); name != "" {
		c := b.countryID(name)
		if c != noCountry {
			u.addCountry(c, d)
			m := b.tenantCountry[c]
			if m == nil {
				m = make(map[uint32]uint16)
				b.tenantCountry[c] = m
			}
			if old, ok := m[u.idx]; !ok || d > old {
				m[u.idx] = d
			}
		}
	}
	if asn := ev.IP.ASN; asn > 0 {
		u.addASN(uint32(asn), d) // #nosec G115 -- 0 < asn <= MaxUint32: event decoding and enrichment keep AS numbers to 32 bits
	} else if asn := ev.Security.ASNumber; asn > 0 {
		u.addASN(uint32(asn), d) // #nosec G115 -- 0 < asn <= MaxUint32: event decoding and enrichment keep AS numbers to 32 bits
	}
	pk, ak := netKeys(ev)
	u.addNet(pk, d)
	u.addNet(ak, d)
	if sid := ev.SessionID(); sid != "" {
		h := hashParts("s:", sid)
		switch {
		case behaviorNegative(ev, "New Device") && behaviorNegative(ev, "New Geo-Location"):
			u.devSess = h
		case u.devSess == h && (behavior(ev, "New Device") || behavior(ev, "New Geo-Location")):
			u.devSess = 0
		}
	}
}

// behaviorNegative reports an Okta behaviour evaluated and not matched.
func behaviorNegative(ev *event.Event, name string) bool {
	return strings.EqualFold(ev.Debug.Behaviors[name], "NEGATIVE")
}

// recordAdmin learns what an actor administers and from where: the type
// of each successful admin action (so rules can tell an admin's routine
// work from a first use) and, for API-token requests — automation that
// never signs in interactively —, the network the token is used from (so
// a directory-sync account running from its cloud project is familiar
// after its first day). Actions with an attack signal teach nothing.
func (b *baselines) recordAdmin(ev *event.Event, u *userRec, d uint16) {
	if ev.IsFailure() || !ev.IsAdminAction() || attackSignal(ev) != "" {
		return
	}
	u.acts = addSeen(u.acts, hashParts("t:", ev.EventType), d, maxActsPerUser)
	if ev.IsAPITokenRequest() {
		pk, ak := netKeys(ev)
		u.addNet(pk, d)
		u.addNet(ak, d)
	}
}

// didBefore reports whether the user performed admin event type typ on a
// day before today within the last 30 days.
func (u *userRec) didBefore(typ string, today uint16) bool {
	return u != nil && u.knowsSeen(u.acts, hashParts("t:", typ), today, true)
}

// administers reports whether the user performed any admin action in the
// last 30 days (a privileged account).
func (u *userRec) administers(today uint16) bool {
	if u == nil {
		return false
	}
	for _, x := range u.acts {
		if inWindow(today, x.L) {
			return true
		}
	}
	return false
}

func (u *userRec) addNet(h uint32, d uint16) { u.nets = addSeen(u.nets, h, d, maxNetsPerUser) }

// addSeen records value h seen on day d in a bounded list (the value
// least recently seen makes room).
func addSeen(list []netSeen, h uint32, d uint16, limit int) []netSeen {
	if h == 0 {
		return list
	}
	for i := range list {
		if list[i].H == h {
			list[i].L = max(list[i].L, d)
			list[i].F = min(list[i].F, d)
			return list
		}
	}
	if len(list) >= limit {
		oldest := 0
		for i, x := range list {
			if x.L < list[oldest].L {
				oldest = i
			}
		}
		list[oldest] = netSeen{H: h, F: d, L: d}
		return list
	}
	return append(list, netSeen{H: h, F: d, L: d})
}

// knowsNet reports whether the user signed in from network h in the last
// 30 days; mature also requires it to be first seen before today (a
// network an attacker signed in from a minute ago is not the admin's own).
func (u *userRec) knowsNet(h uint32, today uint16, mature bool) bool {
	return u != nil && u.knowsSeen(u.nets, h, today, mature)
}

// pruneSeen drops the values not seen in the last 30 days.
func pruneSeen(list []netSeen, nowDay uint16) []netSeen {
	keep := list[:0]
	for _, x := range list {
		if inWindow(nowDay, x.L) || x.L > nowDay {
			keep = append(keep, x)
		}
	}
	return keep
}

func (u *userRec) knowsSeen(list []netSeen, h uint32, today uint16, mature bool) bool {
	if h == 0 {
		return false
	}
	for _, x := range list {
		if x.H == h && inWindow(today, x.L) && (!mature || x.F < today) {
			return true
		}
	}
	return false
}

func (u *userRec) addCountry(c, d uint16) {
	bucket := d / bucketDays
	for i := range u.countries {
		if u.countries[i].C == c {
			u.countries[i].addDay(d)
			return
		}
	}
	if len(u.countries) >= maxCountries {
		oldest := 0
		for i, x := range u.countries {
			if x.B < u.countries[oldest].B {
				oldest = i
			}
		}
		u.countries = append(u.countries[:oldest], u.countries[oldest+1:]...)
	}
	h := countryHist{C: c, B: bucket, L: d}
	h.N[0] = 1
	if len(u.countries) == cap(u.countries) {
		// grow by one: most users have one or two countries
		n := make([]countryHist, len(u.countries), len(u.countries)+1)
		copy(n, u.countries)
		u.countries = n
	}
	u.countries = append(u.countries, h)
}

func (u *userRec) addASN(asn uint32, d uint16) {
	for i := range u.asns {
		if u.asns[i].ASN == asn {
			if d > u.asns[i].Day {
				u.asns[i].Day = d
			}
			return
		}
	}
	if len(u.asns) >= maxASNsPerUser {
		oldest := 0
		for i, x := range u.asns {
			if x.Day < u.asns[oldest].Day {
				oldest = i
			}
		}
		u.asns[oldest] = asnDay{ASN: asn, Day: d}
		return
	}
	u.asns = append(u.asns, asnDay{ASN: asn, Day: d})
}

// countryCount is the user's successful interactive sign-ins from country c
// in the 30 days before nowDay.
func (u *userRec) countryCount(c uint16, nowDay uint16) int {
	if u == nil || c == noCountry {
		return 0
	}
	for i := range u.countries {
		if u.countries[i].C == c {
			return u.countries[i].countOn(nowDay)
		}
	}
	return 0
}

// hasASN reports whether the user signed in from asn in the last 30 days.
func (u *userRec) hasASN(asn int, nowDay uint16) bool {
	if u == nil || asn <= 0 {
		return false
	}
	for _, x := range u.asns {
		if x.ASN == uint32(asn) && inWindow(nowDay, x.Day) { // #nosec G115 -- 0 < asn <= MaxUint32: event decoding and enrichment keep AS numbers to 32 bits
			return true
		}
	}
	return false
}

// countryUsers is the number of distinct users who signed in from c in
// the last 30 days.
func (b *baselines) countryUsers(c uint16, nowDay uint16) int {
	n := 0
	for _, d := range b.tenantCountry[c] {
		if inWindow(nowDay, d) {
			n++
		}
	}
	return n
}

// activeUsers is the number of users with any event in the last 30 days
// (cached per day).
func (b *baselines) activeUsers(nowDay uint16) int {
	if b.activeDay == nowDay && b.activeCount > 0 {
		return b.activeCount
	}
	n := 0
	for _, u := range b.users {
		if inWindow(nowDay, day(u.Last)) {
			n++
		}
	}
	b.activeDay, b.activeCount = nowDay, n
	return n
}

func (b *baselines) prune(sec int64) {
	nowDay := day(sec)
	if b.pruned && nowDay == b.prunedDay {
		// what the previous prune kept stays kept on the same day: only
		// what record added since can go, and only when it added a day
		// before this one (a late event)
		for _, u := range b.recorded {
			if b.recordedMin >= nowDay && nowDay > 0 {
				break // every day recorded since is kept (day 0: a legacy country count without its last day)
			}
			b.pruneUser(u, nowDay)
			for c, m := range b.tenantCountry {
				if d, ok := m[u.idx]; ok && !inWindow(nowDay, d) && d <= nowDay {
					delete(m, u.idx)
					b.dirty[u.idx] = struct{}{}
					if len(m) == 0 {
						delete(b.tenantCountry, c)
					}
				}
			}
		}
	} else {
		for _, u := range b.users {
			b.pruneUser(u, nowDay)
		}
		for c, m := range b.tenantCountry {
			for ui, d := range m {
				if !inWindow(nowDay, d) && d <= nowDay {
					delete(m, ui)
					b.dirty[ui] = struct{}{}
				}
			}
			if len(m) == 0 {
				delete(b.tenantCountry, c)
			}
		}
	}
	for _, u := range b.recorded {
		u.recorded = false
	}
	b.recorded = b.recorded[:0]
	b.recordedMin = math.MaxUint16
	b.pruned, b.prunedDay = true, nowDay
	b.activeCount = 0
}

// pruneUser drops what a user's baseline no longer needs on day nowDay.
func (b *baselines) pruneUser(u *userRec, nowDay uint16) {
	before := len(u.countries) + len(u.nets) + len(u.asns) + len(u.acts)
	if len(u.countries) > 0 {
		keep := u.countries[:0]
		for _, x := range u.countries {
			if x.countOn(nowDay) > 0 || x.B > nowDay/bucketDays || x.L > nowDay {
				keep = append(keep, x)
			}
		}
		u.countries = keep
	}
	u.nets = pruneSeen(u.nets, nowDay)
	u.acts = pruneSeen(u.acts, nowDay)
	if len(u.asns) > 0 {
		keep := u.asns[:0]
		for _, x := range u.asns {
			if inWindow(nowDay, x.Day) || x.Day > nowDay {
				keep = append(keep, x)
			}
		}
		u.asns = keep
	}
	if len(u.countries)+len(u.nets)+len(u.asns)+len(u.acts) != before {
		b.changed(u)
	}
}

// Context accessors for detectors.

// userOf returns the baseline of the current event's actor (nil when the
// actor is not a tracked user).
func (c *Context) userOf() *userRec { return c.user }

func (c *Context) lookupUser(login string) *userRec { return c.e.base.lookup(login) }

func (c *Context) today() uint16 { return day(c.Now.Unix()) }

// UserCountryCount is the actor's successful interactive sign-ins from
// country in the last 30 days (before the current event).
func (c *Context) UserCountryCount(country string) int {
	id, ok := c.e.base.peekCountryID(country)
	if !ok {
		return 0
	}
	return c.user.countryCount(id, c.today())
}

// NetworkFamiliar reports whether the current event comes from a network
// the actor signed in from in the last 30 days (before this event): its
// /24 (/64) prefix, or — outside hosting / datacenter ASNs, where anyone
// can rent an address — its ISP in the same country (home and mobile
// addresses change within the ISP). mature only counts networks first
// seen on an earlier day. The reason names what matched ("prefix",
// "isp") or is "" when nothing did.
func (c *Context) NetworkFamiliar(ev *event.Event, mature bool) (bool, string) {
	pk, ak := netKeys(ev)
	today := c.today()
	if c.user.knowsNet(pk, today, mature) {
		return true, "prefix"
	}
	if !isCloud(ev) && c.user.knowsNet(ak, today, mature) {
		return true, "isp"
	}
	return false, ""
}

// ActorDidBefore reports whether the current event's actor performed
// admin event type typ on an earlier day within the last 30 days (its
// routine work, as opposed to a first use).
func (c *Context) ActorDidBefore(typ string) bool { return c.user.didBefore(typ, c.today()) }

// UserAdministers reports whether login performed any admin action in the
// last 30 days (a privileged account).
func (c *Context) UserAdministers(login string) bool {
	return c.e.base.lookup(login).administers(c.today())
}

// SessionDeviceKnown reports whether the current event belongs to the
// actor's latest session whose sign-in Okta judged from a known device and
// a known place (New Device and New Geo-Location NEGATIVE).
func (c *Context) SessionDeviceKnown(ev *event.Event) bool {
	sid := ev.SessionID()
	return c.user != nil && sid != "" && c.user.devSess != 0 && c.user.devSess == hashParts("s:", sid)
}

// UserHasASN reports whether the actor signed in from asn in 30 days.
func (c *Context) UserHasASN(asn int) bool { return c.user.hasASN(asn, c.today()) }

// TenantCountryUsers is the number of distinct users who signed in from
// country in the last 30 days.
func (c *Context) TenantCountryUsers(country string) int {
	id, ok := c.e.base.peekCountryID(country)
	if !ok {
		return 0
	}
	return c.e.base.countryUsers(id, c.today())
}

// TenantActiveUsers is the number of users active in the last 30 days.
func (c *Context) TenantActiveUsers() int { return c.e.base.activeUsers(c.today()) }

// UserLearning reports whether login is still in its learning period (or
// unknown).
func (c *Context) UserLearning(login string) bool {
	return c.e.learning(Finding{Actor: login, Learn: LearnUser}, c.Now)
}

// TenantLearning reports whether the tenant is still in its learning period.
func (c *Context) TenantLearning() bool {
	return c.e.learning(Finding{Learn: LearnTenant}, c.Now)
}

// userIndex returns the stable index of a tracked user (for compact
// detector state keyed by user), or false.
func (c *Context) userIndex(login string) (uint32, bool) {
	u := c.e.base.lookup(login)
	if u == nil {
		return 0, false
	}
	return u.idx, true
}
