// Package enrich adds what Okta does not tell about a client IP: GeoIP
// location where Okta's own geographicalContext is missing, the AS number
// and organisation, anonymizer flags (Tor, VPN, hosting, proxy, iCloud
// Private Relay) and the user's IP-list categories (anonymous, suspicious,
// risky, trusted).
//
// Databases are MaxMind-format .mmdb files (GeoLite2/GeoIP2 City, ASN,
// Anonymous-IP) read with maxminddb-golang; IP lists are plain files or
// inline values. Both are reloaded when a file's modification time
// changes. Results per IP are memoized in a fastcache.
package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/oschwald/maxminddb-golang"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Config of an Enricher. Every field is optional: with nothing set, only
// Okta's own signals (securityContext, tunnels) are used.
type Config struct {
	CityDB      string // GeoIP2/GeoLite2 City .mmdb (config key geoip.cityDB)
	ASNDB       string // GeoLite2 ASN .mmdb (geoip.asnDB)
	AnonymousDB string // GeoIP2 Anonymous-IP .mmdb (geoip.anonymousDB)
	// Lists maps a category (anonymous, suspicious, risky, trusted) to
	// entries: file paths or inline IP, CIDR, start-end range, or AS number
	// ("AS123").
	Lists map[string][]string
	// BaseDir resolves relative paths (usually the config file's folder).
	BaseDir string
	// ReloadInterval is the minimum time between checks of the files'
	// modification times (default 30s; negative disables hot reload).
	ReloadInterval time.Duration
	// CacheBytes sizes the per-IP memo (default 32 MiB).
	CacheBytes int
	// OnReject, when set, is told of every rejected input as it happens:
	// source "ip_list" (n bad lines of a list file at a load, or 1 for a
	// list reload that failed) or "geoip" (1 for a database reload that
	// failed, or a record that could not be decoded), with a one-line
	// description naming the file (and file:line samples for lists). It
	// must not call the Enricher.
	OnReject func(source string, n int, problem string)
	// OnGeoIPReloadFailed, when set, is told of every failed reload of a
	// GeoIP database (city, asn, anonymous): each new version of the file
	// that cannot be loaded, and each new error reading it (a file that
	// stays missing is one failure, not one per check). It must not call
	// the Enricher.
	OnGeoIPReloadFailed func(database string)
}

// Defaults.
const (
	DefaultReloadInterval = 30 * time.Second
	DefaultCacheBytes     = 32 << 20
)

// Enricher fills Event.IP and missing client geo. It is safe for
// concurrent use.
type Enricher struct {
	cfg      Config
	interval time.Duration
	cache    *fastcache.Cache

	mu    sync.RWMutex // guards st; held shared by lookups, exclusively to swap
	st    *state
	gen   atomic.Uint64
	check atomic.Int64 // unix nanos of the last mtime check
	rmu   sync.Mutex   // one reload at a time

	hits, misses atomic.Uint64
	reloads      atomic.Uint64
	// GeoIP records that could not be decoded, per database kind, with
	// the first failure of each (guarded by geoMu).
	geoMu     sync.Mutex
	geoBad    map[string]int64
	geoBad1   map[string]string
	lastCheck atomic.Int64
	closed    atomic.Bool
}

// db is one open mmdb.
type db struct {
	kind    string // city, asn, anonymous
	path    string
	fail    func(d *db, ip net.IP, err error) // a record that cannot be decoded
	reader  *maxminddb.Reader
	modTime time.Time
	size    int64
	err     error // last reload error (the open reader is kept)
	// When err is set: when that failure happened, and the version of
	// the file (modification time, size) that failed to load, so that an
	// unchanged broken file is not read again at every check.
	failedAt   time.Time
	failedMod  time.Time
	failedSize int64
	failures   uint64 // failed reloads since start
}

type state struct {
	city, asn, anon *db
	srcs            []*source
	data            []sourceData
	lists           *lists
}

// New opens the databases and lists of cfg. A missing or unreadable file
// is an error naming it.
func New(cfg Config) (*Enricher, error) {
	e := &Enricher{cfg: cfg, interval: cfg.ReloadInterval}
	if e.interval == 0 {
		e.interval = DefaultReloadInterval
	}
	size := cfg.CacheBytes
	if size <= 0 {
		size = DefaultCacheBytes
	}
	st := &state{}
	var err error
	if st.city, err = openDB("city", e.resolve(cfg.CityDB)); err != nil {
		return nil, err
	}
	if st.asn, err = openDB("asn", e.resolve(cfg.ASNDB)); err != nil {
		st.close()
		return nil, err
	}
	if st.anon, err = openDB("anonymous", e.resolve(cfg.AnonymousDB)); err != nil {
		st.close()
		return nil, err
	}
	if st.srcs, err = resolveSources(cfg.Lists, cfg.BaseDir); err != nil {
		st.close()
		return nil, err
	}
	st.data = make([]sourceData, len(st.srcs))
	for i, src := range st.srcs {
		if src.path == "" {
			st.data[i] = sourceData{loaded: true}
			continue
		}
		d, err := loadFile(src.path)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("enrich: %s list: %w", src.category, err)
		}
		st.data[i] = d
	}
	st.lists = buildLists(st.srcs, st.data)
	st.setFail(e.geoFail)
	for i, src := range st.srcs {
		e.reportList(src, st.data[i])
	}
	e.st = st
	e.cache = fastcache.New(size)
	e.gen.Store(1)
	now := time.Now().UnixNano()
	e.check.Store(now)
	e.lastCheck.Store(now)
	return e, nil
}

func (e *Enricher) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || e.cfg.BaseDir == "" {
		return p
	}
	return filepath.Join(e.cfg.BaseDir, p)
}

func openDB(kind, path string) (*db, error) {
	if path == "" {
		return nil, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("enrich: geoip %s database: %w", kind, err)
	}
	// Read into memory, not mapped: a mapped file that is truncated or
	// rewritten in place (cp over it, an emptied file) changes under the
	// reader, and a lookup past the new end dies of SIGBUS — the whole
	// process, not the lookup. In memory, the loaded data stays whole
	// whatever happens to the file.
	b, err := os.ReadFile(path) // #nosec G304 -- geoip database path from the operator's config
	if err != nil {
		return nil, fmt.Errorf("enrich: geoip %s database %s: %w", kind, path, err)
	}
	r, err := maxminddb.FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("enrich: geoip %s database %s: %w", kind, path, err)
	}
	return &db{kind: kind, path: path, reader: r, modTime: st.ModTime(), size: st.Size()}, nil
}

// setFail makes every database of s report undecodable records to f.
func (s *state) setFail(f func(d *db, ip net.IP, err error)) {
	for _, d := range []*db{s.city, s.asn, s.anon} {
		if d != nil {
			d.fail = f
		}
	}
}

// reject tells Config.OnReject, when set.
func (e *Enricher) reject(source string, n int, problem string) {
	if e.cfg.OnReject != nil && n > 0 {
		e.cfg.OnReject(source, n, problem)
	}
}

// reportList reports a loaded list file's bad lines.
func (e *Enricher) reportList(src *source, d sourceData) {
	if src.path != "" && d.badLines > 0 {
		e.reject("ip_list", d.badLines, listBadLines(src.category, src.path, d.badLines, d.samples))
	}
}

func listBadLines(category, path string, n int, samples []string) string {
	return fmt.Sprintf("ipLists.%s %s: %d lines ignored (%s)", category, path, n, strings.Join(samples, "; "))
}

// geoFail counts a GeoIP record that could not be decoded (a damaged or
// foreign database): the event keeps no data from that database.
func (e *Enricher) geoFail(d *db, ip net.IP, err error) {
	e.geoMu.Lock()
	if e.geoBad == nil {
		e.geoBad, e.geoBad1 = map[string]int64{}, map[string]string{}
	}
	e.geoBad[d.kind]++
	first := e.geoBad[d.kind] == 1
	if first {
		e.geoBad1[d.kind] = fmt.Sprintf("IP %s: %v", ip, err)
	}
	e.geoMu.Unlock()
	msg := fmt.Sprintf("geoip %s database %s: a record cannot be decoded, events get no %s data from it: %v", d.kind, d.path, d.kind, err)
	e.reject("geoip", 1, msg)
}

func (s *state) close() {
	for _, d := range []*db{s.city, s.asn, s.anon} {
		if d != nil && d.reader != nil {
			_ = d.reader.Close()
		}
	}
}

// Close releases the databases. Enrich after Close leaves events unchanged.
func (e *Enricher) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st != nil {
		e.st.close()
		e.st = nil
	}
	e.cache.Reset()
	return nil
}

// MaxMind record shapes (GeoIP2/GeoLite2 City, ASN, Anonymous-IP).
type cityRecord struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"registered_country"`
	Subdivisions []struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	Postal struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"postal"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

type asnRecord struct {
	Number uint   `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

type anonRecord struct {
	IsAnonymous        bool `maxminddb:"is_anonymous"`
	IsAnonymousVPN     bool `maxminddb:"is_anonymous_vpn"`
	IsHostingProvider  bool `maxminddb:"is_hosting_provider"`
	IsPublicProxy      bool `maxminddb:"is_public_proxy"`
	IsResidentialProxy bool `maxminddb:"is_residential_proxy"`
	IsTorExitNode      bool `maxminddb:"is_tor_exit_node"`
}

// Anonymizer flag bits in a lookup result.
const (
	flagTor = 1 << iota
	flagVPN
	flagHosting
	flagPublicProxy
	flagResidentialProxy
	flagAnonymous
	flagHasLatLon
)

// result is what is known about one IP from the databases and IP lists.
type result struct {
	cats       event.IPCategory
	flags      uint8
	asn        uint32
	lat, lon   float64
	countryISO string
	country    string
	state      string
	city       string
	postal     string
	asOrg      string
}

func en(m map[string]string) string { return m["en"] }

func (d *db) failed(ip net.IP, err error) {
	if d.fail != nil {
		d.fail(d, ip, err)
	}
}

func (s *state) lookup(a netip.Addr) result {
	var r result
	r.cats = s.lists.matchIP(a)
	ip := net.IP(a.AsSlice())
	if s.city != nil {
		var rec cityRecord
		if err := s.city.reader.Lookup(ip, &rec); err != nil {
			s.city.failed(ip, err)
		} else {
			r.countryISO = rec.Country.ISOCode
			r.country = en(rec.Country.Names)
			if r.countryISO == "" && r.country == "" {
				r.countryISO = rec.RegisteredCountry.ISOCode
				r.country = en(rec.RegisteredCountry.Names)
			}
			r.city = en(rec.City.Names)
			if len(rec.Subdivisions) > 0 {
				r.state = en(rec.Subdivisions[0].Names)
			}
			r.postal = rec.Postal.Code
			if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
				r.lat, r.lon = *rec.Location.Latitude, *rec.Location.Longitude
				r.flags |= flagHasLatLon
			}
		}
	}
	if s.asn != nil {
		var rec asnRecord
		if err := s.asn.reader.Lookup(ip, &rec); err != nil {
			s.asn.failed(ip, err)
		} else if rec.Number > math.MaxUint32 {
			// AS numbers are 32 bits (RFC 6793): a larger one is a damaged
			// record, not an ASN to truncate into another network's.
			s.asn.failed(ip, fmt.Errorf("autonomous_system_number %d is not a 32-bit AS number", rec.Number))
		} else {
			r.asn = uint32(rec.Number) // #nosec G115 -- rec.Number <= MaxUint32, checked just above
			r.asOrg = rec.Org
		}
	}
	if s.anon != nil {
		var rec anonRecord
		if err := s.anon.reader.Lookup(ip, &rec); err != nil {
			s.anon.failed(ip, err)
		} else {
			if rec.IsTorExitNode {
				r.flags |= flagTor
			}
			if rec.IsAnonymousVPN {
				r.flags |= flagVPN
			}
			if rec.IsHostingProvider {
				r.flags |= flagHosting
			}
			if rec.IsPublicProxy {
				r.flags |= flagPublicProxy
			}
			if rec.IsResidentialProxy {
				r.flags |= flagResidentialProxy
			}
			if rec.IsAnonymous || rec.IsTorExitNode || rec.IsAnonymousVPN || rec.IsPublicProxy || rec.IsResidentialProxy {
				r.flags |= flagAnonymous
			}
		}
	}
	return r
}

// Enrich fills ev.IP and, where Okta sent no geographicalContext, ev.Client.Geo.
// The client IP is client.ipAddress, else the first hop of request.ipChain.
func (e *Enricher) Enrich(ev *event.Event) { e.enrich(ev, e.lookupCached) }

// enrich is Enrich with the client IP looked up by lookup.
func (e *Enricher) enrich(ev *event.Event, lookup func(netip.Addr) (result, bool)) {
	e.maybeReload()
	info := &ev.IP
	info.Enriched = true
	okGeo := ev.Client.Geo.Country != "" || ev.Client.Geo.City != "" || ev.Client.Geo.HasLatLon
	if okGeo {
		info.GeoSource = "okta"
	}

	var r result
	var have bool
	if addr, ok := clientAddr(ev); ok {
		r, have = lookup(addr)
	}
	if have {
		info.Categories |= r.cats
		info.CountryISO = r.countryISO
		if !okGeo && (r.country != "" || r.flags&flagHasLatLon != 0) {
			ev.Client.Geo = event.Geo{
				City: r.city, State: r.state, Country: r.country, PostalCode: r.postal,
				Lat: r.lat, Lon: r.lon, HasLatLon: r.flags&flagHasLatLon != 0,
			}
			info.GeoSource = "geoip"
		}
		info.Tor = r.flags&flagTor != 0
		info.AnonymousVPN = r.flags&flagVPN != 0
		info.HostingProvider = r.flags&flagHosting != 0
		info.PublicProxy = r.flags&flagPublicProxy != 0
		info.ResidentialProxy = r.flags&flagResidentialProxy != 0
		if r.flags&flagAnonymous != 0 {
			info.Categories |= event.CatAnonymous
		}
	}
	// ASN: Okta's securityContext first, else the ASN database.
	if ev.Security.ASNumber != 0 {
		info.ASN = ev.Security.ASNumber
		info.ASOrg = ev.Security.ASOrg
		if info.ASOrg == "" && have && int(r.asn) == info.ASN {
			info.ASOrg = r.asOrg
		}
	} else if have && r.asn != 0 {
		info.ASN = int(r.asn)
		info.ASOrg = r.asOrg
	}
	if info.ASN != 0 {
		e.mu.RLock()
		if e.st != nil {
			info.Categories |= e.st.lists.asns[uint32(info.ASN)] // #nosec G115 -- info.ASN is 0..MaxUint32: decoding and the check of the ASN record keep it to 32 bits
		}
		e.mu.RUnlock()
	}
	// Okta's own anonymizer signals.
	if ev.Security.IsProxy {
		info.Categories |= event.CatAnonymous
	}
	for _, t := range ev.Debug.Tunnels {
		if t.Anonymous {
			info.Categories |= event.CatAnonymous
		}
		switch strings.ToUpper(t.Type) {
		case "TOR":
			info.Tor = true
		case "VPN":
			if t.Anonymous {
				info.AnonymousVPN = true
			}
		case "PROXY":
			if t.Anonymous {
				info.PublicProxy = true
			}
		}
	}
	if isPrivateRelay(ev, info) {
		info.PrivateRelay = true
		info.Categories |= event.CatAnonymous
	}
}

// Apple iCloud Private Relay egress ASNs: 36183 is Akamai's AS dedicated to
// Private Relay egress; 714 is Apple's own AS, counted only when Okta also
// flags the request as proxied (Apple's corporate traffic uses it too).
const (
	asnAkamaiPrivateRelay = 36183
	asnApple              = 714
)

// isPrivateRelay recognizes Apple iCloud Private Relay from tunnel
// operators, AS/ISP names and the relay egress ASNs.
func isPrivateRelay(ev *event.Event, info *event.IPInfo) bool {
	for _, t := range ev.Debug.Tunnels {
		if relayName(t.Operator) {
			return true
		}
	}
	// info.ASOrg is most often Okta's asOrg itself: tested once
	if relayName(ev.Security.ISP) || relayName(ev.Security.ASOrg) || info.ASOrg != ev.Security.ASOrg && relayName(info.ASOrg) {
		return true
	}
	switch info.ASN {
	case asnAkamaiPrivateRelay:
		return true
	case asnApple:
		if ev.Security.IsProxy {
			return true
		}
		for _, t := range ev.Debug.Tunnels {
			if t.Anonymous {
				return true
			}
		}
	}
	return false
}

// relaySeparators folds the separators operators use in relay names
// ("iCloud_Private-Relay") to spaces; a Replacer is safe for concurrent use.
var relaySeparators = strings.NewReplacer("_", " ", "-", " ")

// relayName reports whether an operator, ISP or AS name is Apple's
// iCloud Private Relay's. It runs on every event: an ASCII name of up to
// 128 bytes is folded in a buffer on the stack, without allocating; any
// other goes through strings.ToLower and relaySeparators (relayNameSlow),
// which give the same result for ASCII.
func relayName(s string) bool {
	if s == "" {
		return false
	}
	if len(s) > 128 {
		return relayNameSlow(s)
	}
	var buf [128]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return relayNameSlow(s)
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_' || c == '-':
			c = ' '
		}
		buf[i] = c
	}
	return isRelayName(buf[:len(s)])
}

func relayNameSlow(s string) bool {
	return isRelayName([]byte(relaySeparators.Replace(strings.ToLower(s))))
}

// isRelayName is relayName's test on a lower-cased, separator-folded name.
func isRelayName(l []byte) bool {
	return bytes.Contains(l, []byte("private relay")) || bytes.Contains(l, []byte("icloud")) ||
		bytes.HasPrefix(l, []byte("apple relay")) || string(l) == "apple"
}

func clientAddr(ev *event.Event) (netip.Addr, bool) {
	s := ev.Client.IPAddress
	if s == "" && len(ev.IPChain) > 0 {
		s = ev.IPChain[0].IP
	}
	if s == "" {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// lookupCached returns the databases' and lists' view of a, through the memo.
func (e *Enricher) lookupCached(a netip.Addr) (result, bool) {
	var key [25]byte
	gen := e.gen.Load()
	putU64(key[:8], gen)
	b16 := a.As16()
	copy(key[8:24], b16[:])
	if a.Is4() {
		key[24] = 4
	} else {
		key[24] = 6
	}
	var buf [256]byte
	if v, ok := e.cache.HasGet(buf[:0], key[:]); ok {
		if r, ok := decodeResult(v); ok {
			e.hits.Add(1)
			return r, true
		}
	}
	e.misses.Add(1)
	e.mu.RLock()
	st := e.st
	if st == nil {
		e.mu.RUnlock()
		return result{}, false
	}
	r := st.lookup(a)
	cur := e.gen.Load()
	e.mu.RUnlock()
	if cur == gen {
		e.cache.Set(key[:], encodeResult(buf[:0], &r))
	}
	return r, true
}

func putU64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i)) // #nosec G115 -- taking the low byte is the point (little-endian encoding)
	}
}

// Status reports what is loaded.
type Status struct {
	Databases   []DBStatus
	Lists       []ListStatus
	Generation  uint64    // bumped on every reload that changed something
	Reloads     uint64    // number of such reloads
	LastCheck   time.Time // last modification-time check
	CacheHits   uint64
	CacheMisses uint64
}

// DBStatus is one GeoIP database.
type DBStatus struct {
	Kind         string // city, asn, anonymous
	Path         string
	Loaded       bool
	DatabaseType string    // from the file's metadata, e.g. GeoLite2-City
	BuildEpoch   time.Time // when the database was built
	ModTime      time.Time
	Error        string    // last reload error; the previous data stays in use
	ErrorAt      time.Time // when that reload failed
	// FailedReloads counts the database's failed reloads since start
	// (each broken version of the file once, however often it is checked).
	FailedReloads uint64
	// BadRecords counts lookups whose record could not be decoded (since
	// start; the memo asks once per IP and load), FirstBadRecord the first.
	BadRecords     int64
	FirstBadRecord string
}

// InUse describes the data a database answers lookups from: its type and
// build date (from the file's metadata) and the modification time of the
// file it was read from, e.g. "GeoLite2-City built 2026-11-28T00:00:00Z,
// file modified 2026-11-29T03:00:00Z". After a failed reload this is the
// last database that loaded, not the file now on disk.
func (d DBStatus) InUse() string {
	if !d.Loaded {
		return "nothing loaded"
	}
	return fmt.Sprintf("%s built %s, file modified %s", d.DatabaseType, d.BuildEpoch.Format(time.RFC3339), d.ModTime.UTC().Format(time.RFC3339))
}

// ListStatus is one configured list entry (a file or an inline value).
type ListStatus struct {
	Category string
	Source   string // path, or the inline value
	Inline   bool
	Loaded   bool
	Entries  int // IPs, CIDRs, ranges and ASNs read
	ASNs     int
	BadLines int
	Bad      []string // the first bad lines, as "file:line: reason"
	ModTime  time.Time
	Error    string // last reload error; the previous data stays in use
}

// Problems lists every rejected input as one line each: list files with
// bad lines (their count and the first ones as file:line: reason), lists
// and databases whose last reload failed (the previous data stays in use).
// Empty when everything loaded cleanly.
func (s Status) Problems() []string {
	var out []string
	for _, l := range s.Lists {
		if l.BadLines > 0 {
			out = append(out, listBadLines(l.Category, l.Source, l.BadLines, l.Bad))
		}
		if l.Error != "" {
			out = append(out, fmt.Sprintf("ipLists.%s %s: last reload failed, previous entries kept: %s", l.Category, l.Source, l.Error))
		}
	}
	for _, d := range s.Databases {
		if d.Error != "" {
			out = append(out, fmt.Sprintf("geoip %s database %s: last reload failed at %s, previous data kept (%s): %s", d.Kind, d.Path, d.ErrorAt.Format(time.RFC3339), d.InUse(), d.Error))
		}
		if d.BadRecords > 0 {
			out = append(out, fmt.Sprintf("geoip %s database %s: %d records could not be decoded, those events have no %s data (first: %s)", d.Kind, d.Path, d.BadRecords, d.Kind, d.FirstBadRecord))
		}
	}
	return out
}

// RejectedLines is the number of list lines ignored at the last load.
func (s Status) RejectedLines() int {
	n := 0
	for _, l := range s.Lists {
		n += l.BadLines
	}
	return n
}

// Status returns the current load status.
func (e *Enricher) Status() Status {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := Status{
		Generation:  e.gen.Load(),
		Reloads:     e.reloads.Load(),
		LastCheck:   time.Unix(0, e.lastCheck.Load()).UTC(),
		CacheHits:   e.hits.Load(),
		CacheMisses: e.misses.Load(),
	}
	if e.st == nil {
		return s
	}
	for _, d := range []*db{e.st.city, e.st.asn, e.st.anon} {
		if d == nil {
			continue
		}
		ds := DBStatus{Kind: d.kind, Path: d.path, Loaded: d.reader != nil, ModTime: d.modTime}
		if d.reader != nil {
			ds.DatabaseType = d.reader.Metadata.DatabaseType
			ds.BuildEpoch = time.Unix(int64(d.reader.Metadata.BuildEpoch), 0).UTC() // #nosec G115 -- a build time in seconds; a value past MaxInt64 only shows a wrong date in the status
		}
		if d.err != nil {
			ds.Error, ds.ErrorAt = d.err.Error(), d.failedAt
		}
		ds.FailedReloads = d.failures
		e.geoMu.Lock()
		ds.BadRecords, ds.FirstBadRecord = e.geoBad[d.kind], e.geoBad1[d.kind]
		e.geoMu.Unlock()
		s.Databases = append(s.Databases, ds)
	}
	for i, src := range e.st.srcs {
		d := e.st.data[i]
		ls := ListStatus{Category: src.category, Source: src.spec, Inline: src.path == "", Loaded: d.loaded}
		if src.path == "" {
			ls.Entries = 1
			if src.inline.kind == kindASN {
				ls.ASNs = 1
			}
		} else {
			ls.Source = src.path
			ls.Entries = len(d.entries)
			for _, en := range d.entries {
				if en.kind == kindASN {
					ls.ASNs++
				}
			}
			ls.BadLines = d.badLines
			ls.Bad = append([]string(nil), d.samples...)
			ls.ModTime = d.modTime
		}
		if d.err != nil {
			ls.Error = d.err.Error()
		}
		s.Lists = append(s.Lists, ls)
	}
	return s
}

// maybeReload checks file modification times at most every ReloadInterval.
func (e *Enricher) maybeReload() {
	if e.interval < 0 || e.closed.Load() {
		return
	}
	now := time.Now().UnixNano()
	last := e.check.Load()
	if now-last < int64(e.interval) || !e.check.CompareAndSwap(last, now) {
		return
	}
	_, _ = e.Reload()
}

// ErrClosed is returned by Reload after Close.
var ErrClosed = errors.New("enrich: closed")

// Reload checks every database and list file now and swaps in those whose
// modification time or size changed. It reports whether anything changed.
// A file that fails to load keeps its previous data; the error is returned
// and shown in Status.
func (e *Enricher) Reload() (bool, error) {
	e.rmu.Lock()
	defer e.rmu.Unlock()
	e.lastCheck.Store(time.Now().UnixNano())
	e.mu.RLock()
	cur := e.st
	e.mu.RUnlock()
	if cur == nil {
		return false, ErrClosed
	}
	next := &state{srcs: cur.srcs}
	var errs []error
	var old []*db
	changed := false
	for _, pair := range []struct {
		cur *db
		dst **db
	}{{cur.city, &next.city}, {cur.asn, &next.asn}, {cur.anon, &next.anon}} {
		d := pair.cur
		*pair.dst = d
		if d == nil {
			continue
		}
		st, err := os.Stat(d.path)
		if err != nil {
			err = fmt.Errorf("enrich: geoip %s database: %w", d.kind, err)
			errs = append(errs, err)
			*pair.dst = e.reloadFailed(d, err, time.Time{}, -1)
			continue
		}
		if st.ModTime().Equal(d.modTime) && st.Size() == d.size {
			if d.err != nil { // the loaded version is back: nothing is failing
				ok := *d
				ok.err = nil
				*pair.dst = &ok
			}
			continue
		}
		if d.err != nil && st.ModTime().Equal(d.failedMod) && st.Size() == d.failedSize {
			errs = append(errs, d.err) // the version that failed, unchanged: not read again
			continue
		}
		nd, err := openDB(d.kind, d.path)
		if err != nil {
			errs = append(errs, err)
			*pair.dst = e.reloadFailed(d, err, st.ModTime(), st.Size())
			continue
		}
		nd.fail = e.geoFail
		nd.failures = d.failures
		*pair.dst = nd
		old = append(old, d)
		changed = true
	}
	next.data = make([]sourceData, len(cur.data))
	listsChanged := false
	for i, src := range cur.srcs {
		next.data[i] = cur.data[i]
		if src.path == "" {
			continue
		}
		st, err := os.Stat(src.path)
		if err == nil && st.ModTime().Equal(cur.data[i].modTime) && st.Size() == cur.data[i].size {
			continue
		}
		d, lerr := loadFile(src.path)
		if lerr != nil {
			errs = append(errs, fmt.Errorf("enrich: %s list: %w", src.category, lerr))
			if prev := cur.data[i].err; prev == nil || prev.Error() != lerr.Error() { // counted once, not at every retry
				e.reject("ip_list", 1, fmt.Sprintf("ipLists.%s %s: reload failed, previous entries kept: %v", src.category, src.path, lerr))
			}
			kept := cur.data[i]
			kept.err = lerr
			next.data[i] = kept
			continue
		}
		e.reportList(src, d)
		next.data[i] = d
		listsChanged = true
	}
	if listsChanged {
		next.lists = buildLists(next.srcs, next.data)
		changed = true
	} else {
		next.lists = cur.lists
	}
	e.mu.Lock()
	if e.st == nil { // closed meanwhile
		e.mu.Unlock()
		next.closeNew(cur)
		return false, ErrClosed
	}
	e.st = next
	if changed {
		e.gen.Add(1) // invalidates the memo: keys carry the generation
		e.reloads.Add(1)
	}
	e.mu.Unlock()
	// No lookup holds the old readers any more (lookups hold mu shared).
	for _, d := range old {
		_ = d.reader.Close()
	}
	return changed, errors.Join(errs...)
}

// reloadFailed records a failed reload of d (err; the version of the file
// that failed, or size -1 when it could not be stat'ed) and returns d's
// replacement: the same reader, with the failure. A new version of the file
// that fails, or a new error, is one more failed reload; the same failure
// going on is not counted again.
func (e *Enricher) reloadFailed(d *db, err error, mod time.Time, size int64) *db {
	nd := *d
	nd.err, nd.failedMod, nd.failedSize, nd.fail = err, mod, size, e.geoFail
	if d.err != nil && d.err.Error() == err.Error() && size < 0 {
		return &nd // the file is still missing or unreadable: the same failure
	}
	nd.failedAt = time.Now().UTC()
	nd.failures++
	if d.err == nil || d.err.Error() != err.Error() { // counted once, not at every retry
		e.reject("geoip", 1, fmt.Sprintf("geoip %s database %s: reload failed, previous data kept: %v", d.kind, d.path, err))
	}
	if e.cfg.OnGeoIPReloadFailed != nil {
		e.cfg.OnGeoIPReloadFailed(d.kind)
	}
	return &nd
}

// closeNew closes readers of s that are not shared with cur.
func (s *state) closeNew(cur *state) {
	for _, p := range [][2]*db{{s.city, cur.city}, {s.asn, cur.asn}, {s.anon, cur.anon}} {
		if p[0] != nil && p[0] != p[1] && (p[1] == nil || p[0].reader != p[1].reader) {
			_ = p[0].reader.Close()
		}
	}
}
