package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Errors for required fields. Test with errors.Is.
var (
	// ErrMissingField: uuid, published or eventType is absent, null or empty.
	ErrMissingField = errors.New("missing required field")
	// ErrBadTime: published is not an RFC 3339 timestamp.
	ErrBadTime = errors.New("not an RFC 3339 timestamp")
	// ErrTimeRange: published is before 1970-01-01T00:00:00Z. Both stores
	// hold times as Unix milliseconds and bucket them by flooring
	// (published - published % width), which only holds from the epoch on;
	// Okta's System Log has no event that old.
	ErrTimeRange = errors.New("before 1970-01-01T00:00:00Z")
)

// Decode decodes one Okta LogEvent object, exactly as GET /api/v1/logs
// returns it or with the lower-case keys some exporters write (keys match
// case-insensitively). uuid, published and eventType are required; every
// other field is optional and may be null. An optional field of an
// unexpected type ("" or a JSON string where an object belongs, a number
// where a string belongs, ...) never fails the event: it is treated as
// absent and its path listed in Event.Degraded. The string-encoded debugData
// fields are parsed into Event.Debug; a malformed one never fails the event
// (its raw value stays in Debug.Data).
//
// Raw is set to a copy of raw (surrounding whitespace trimmed), so the
// caller may reuse its buffer. On error the returned Event holds what was
// decoded before the error (often the UUID) and Raw.
func Decode(raw []byte) (Event, error) {
	var ev Event
	err := decodeInto(&ev, raw, nil)
	return ev, err
}

// decodeInto decodes raw into ev, sharing recurring strings through cache
// (nil for none).
func decodeInto(ev *Event, raw []byte, cache *strCache) error {
	return decodeOwned(ev, append(json.RawMessage(nil), bytes.TrimSpace(raw)...), cache)
}

// decodeOwned is decodeInto without the copy: the event keeps raw (trimmed)
// as its Raw, so the caller must never write to raw again.
func decodeOwned(ev *Event, raw []byte, cache *strCache) error {
	ev.Raw = bytes.TrimSpace(raw)
	d := decoder{}
	d.s.b = ev.Raw
	d.s.cache = cache
	if err := d.event(ev); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

type decoder struct {
	s        scanner
	degraded []string // optional fields treated as absent (Event.Degraded)
	// memo hints (memo.go): the event's context (0: none yet) and the
	// slot the last memo lookup probed
	hintCtx uint64
	probed  int
}

// required names the top-level fields whose absence rejects an event.
func required(prefix, name string) bool {
	return prefix == "" && (name == "uuid" || name == "published" || name == "eventType")
}

// absent handles an optional field whose value has an unexpected type ("",
// a string where an object belongs, a number where a string belongs): the
// value is skipped, the field treated as absent and its path recorded in
// Event.Degraded, so the event is kept. A required field of the wrong type
// is an error.
func (d *decoder) absent(prefix, name, want string, got byte) error {
	if required(prefix, name) {
		return typeErr(prefix, name, want, got)
	}
	if got == 0 {
		return d.s.eof()
	}
	d.degrade(joinPath(prefix, name))
	return d.s.skip()
}

// degrade records an optional field treated as absent.
func (d *decoder) degrade(path string) {
	for _, p := range d.degraded {
		if p == path {
			return
		}
	}
	d.degraded = append(d.degraded, path)
}

func typeErr(prefix, name, want string, got byte) error {
	f := name
	if prefix != "" {
		f = prefix + "." + name
	}
	return &TypeError{Field: f, Want: want, Got: kindAt(got)}
}

// strf reads a string or null into dst.
func (d *decoder) strf(prefix, name string, dst *string) error {
	return d.strfCache(prefix, name, dst, d.s.cache)
}

// strfCache is strf sharing strings through cache (nil for none).
func (d *decoder) strfCache(prefix, name string, dst *string, cache *strCache) error {
	switch c := d.s.peek(); c {
	case '"':
		b, err := d.s.rawString()
		if err != nil {
			return err
		}
		*dst = intern(b, cache)
		return nil
	case 'n':
		*dst = ""
		return d.s.lit("null")
	default:
		return d.absent(prefix, name, "string", c)
	}
}

// boolf reads a boolean, null, or the strings "true"/"false".
func (d *decoder) boolf(prefix, name string, dst *bool) error {
	switch c := d.s.peek(); c {
	case 't':
		*dst = true
		return d.s.lit("true")
	case 'f':
		*dst = false
		return d.s.lit("false")
	case 'n':
		return d.s.lit("null")
	case '"':
		b, err := d.s.rawString()
		if err != nil {
			return err
		}
		v, ok := parseBoolString(b)
		if !ok {
			d.degrade(joinPath(prefix, name))
			return nil
		}
		*dst = v
		return nil
	default:
		return d.absent(prefix, name, "boolean", c)
	}
}

func parseBoolString(b []byte) (v, ok bool) {
	switch string(b) {
	case "true", "TRUE", "True":
		return true, true
	case "false", "FALSE", "False", "":
		return false, true
	}
	return false, false
}

// floatf reads a number, null, or a numeric string. It reports whether a value was present.
func (d *decoder) floatf(prefix, name string, dst *float64) (bool, error) {
	switch c := d.s.peek(); {
	case c == 'n':
		return false, d.s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		f, err := d.s.number()
		*dst = f
		return err == nil, err
	case c == '"':
		b, err := d.s.rawString()
		if err != nil {
			return false, err
		}
		if len(b) == 0 {
			return false, nil
		}
		f, perr := strconv.ParseFloat(string(b), 64)
		if perr != nil {
			d.degrade(joinPath(prefix, name))
			return false, nil
		}
		*dst = f
		return true, nil
	default:
		return false, d.absent(prefix, name, "number", c)
	}
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// mapf reads an object (as map[string]any) or null.
func (d *decoder) mapf(prefix, name string) (map[string]any, error) {
	switch c := d.s.peek(); c {
	case '{':
		v, err := d.s.value(1, true)
		if err != nil {
			return nil, err
		}
		return v.(map[string]any), nil
	case 'n':
		return nil, d.s.lit("null")
	default:
		return nil, d.absent(prefix, name, "object", c)
	}
}

// members reads an object (or null) at prefix.name, calling member with
// the scanner on each member's value (the lower-cased key in d.s.key());
// member must consume the value.
func (d *decoder) members(prefix, name string, member func() error) error {
	ok, err := d.obj(prefix, name)
	if !ok || err != nil {
		return err
	}
	return d.rest(member)
}

// rest reads the members of an object whose '{' is consumed.
func (d *decoder) rest(member func() error) error {
	first := true
	for {
		ok, err := d.s.next(&first)
		if err != nil || !ok {
			return err
		}
		if err := member(); err != nil {
			return err
		}
	}
}

// restKnown is rest reading the keys through o, the Reader's remembered
// key order of this object (nil: none; keys.go).
func (d *decoder) restKnown(o *keyOrder, member func() error) error {
	first := true
	for m := 0; ; m++ {
		ok, err := d.s.nextKnown(&first, o, m)
		if err != nil || !ok {
			return err
		}
		if err := member(); err != nil {
			return err
		}
	}
}

// obj checks that an object (returns true) or null (returns false) is next.
func (d *decoder) obj(prefix, name string) (bool, error) {
	switch c := d.s.peek(); c {
	case '{':
		d.s.objStart()
		return true, nil
	case 'n':
		return false, d.s.lit("null")
	default:
		return false, d.absent(prefix, name, "object", c)
	}
}

func (d *decoder) event(ev *Event) error {
	s := &d.s
	if c := s.peek(); c != '{' {
		if c == 0 {
			return s.eof()
		}
		return &TypeError{Field: "(event)", Want: "object", Got: kindAt(c)}
	}
	s.objStart()
	var published string
	var havePublished bool
	var pubTime time.Time // published, when parseRFC3339Fast read it from the JSON's bytes
	var pubFast bool
	var once memoOnce
	var order *keyOrder // the Reader's key order (keys.go); nil outside a Reader
	if s.cache != nil && s.cache.memo != nil {
		order = &s.cache.memo.top
	}
	first := true
	for m := 0; ; m++ {
		var key topKey
		if n := order.match(m, s.b[s.i:]); n > 0 {
			key = topKey(order.toks[m].id)
			s.i += n
			first = false
			if s.peek() == 0 {
				return s.eof()
			}
		} else {
			from := s.i
			ok, err := s.next(&first)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			key = topKeyOf(s.key())
			order.note(m, s.b[from:s.i], uint8(key))
		}
		var err error
		switch key {
		// uuid and published differ in every event: caching them would
		// only evict values that recur.
		case keyUUID:
			err = d.strfCache("", "uuid", &ev.UUID, nil)
		case keyPublished:
			// parsed from the JSON's bytes in Okta's own shape, without
			// the string ParseTime would take
			havePublished, pubFast, published = true, false, ""
			if s.peek() == '"' {
				var b []byte
				if b, err = s.rawString(); err == nil {
					if pubTime, pubFast = parseRFC3339Fast(b); !pubFast {
						published = string(b)
					}
				}
			} else {
				err = d.strfCache("", "published", &published, nil)
			}
		case keyEventType:
			err = d.strf("", "eventType", &ev.EventType)
		case keyVersion:
			err = d.strf("", "version", &ev.Version)
		case keySeverity:
			err = d.strf("", "severity", &ev.Severity)
		case keyLegacyEventType:
			err = d.strf("", "legacyEventType", &ev.LegacyEventType)
		case keyDisplayMessage:
			err = d.strf("", "displayMessage", &ev.DisplayMessage)
		case keyActor:
			err = d.memoActor(ev, &once)
		case keyClient:
			err = d.memoClient(ev, &once)
		case keyDevice:
			err = d.device(ev)
		case keyOutcome:
			err = d.memoOutcome(ev, &once)
		case keyTarget:
			err = d.memoTargets(ev, &once)
		case keyTransaction:
			err = d.transaction(&ev.Transaction)
		case keyDebugContext:
			err = d.debugContext(ev)
		case keyAuthContext:
			err = d.memoAuth(ev, &once)
		case keySecurityContext:
			err = d.memoSecurity(ev, &once)
		case keyRequest:
			err = d.memoRequest(ev, &once)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
	if s.peek() != 0 {
		return s.syntax("unexpected data after the event object")
	}
	if ev.UUID == "" {
		return fmt.Errorf("%w %q", ErrMissingField, "uuid")
	}
	if !havePublished || (published == "" && !pubFast) {
		return fmt.Errorf("%w %q", ErrMissingField, "published")
	}
	if ev.EventType == "" {
		return fmt.Errorf("%w %q", ErrMissingField, "eventType")
	}
	if pubFast {
		ev.Published = pubTime
	} else {
		t, err := ParseTime(published)
		if err != nil {
			return fmt.Errorf("published %q: %w", published, err)
		}
		ev.Published = t
	}
	if ev.Published.Before(epoch) {
		return fmt.Errorf("published %s: %w", ev.Published.Format(time.RFC3339Nano), ErrTimeRange)
	}
	ev.Degraded = d.degraded
	if ev.Debug.RequestAPITokenID == "" && ev.Transaction.Detail != nil {
		if v, ok := lookupFold(ev.Transaction.Detail, "requestApiTokenId").(string); ok {
			ev.Debug.RequestAPITokenID = v
		}
	}
	return nil
}

// epoch is the earliest published time accepted (ErrTimeRange).
var epoch = time.Unix(0, 0)

// ParseTime parses Okta's published timestamp: RFC 3339 with or without
// fractional seconds. As a courtesy to exporters it also accepts a space
// instead of the "T" and a missing zone (taken as UTC). The result is UTC.
func ParseTime(s string) (time.Time, error) {
	if t, ok := parseRFC3339Fast(s); ok {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, ErrBadTime
}

// parseRFC3339Fast handles the exact shape Okta writes,
// "2006-01-02T15:04:05.000Z" (any fraction length, Z only).
func parseRFC3339Fast[S string | []byte](s S) (time.Time, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	nsec := 0
	rest := s[19 : len(s)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		frac, ok := num(20, len(s)-1)
		if !ok {
			return time.Time{}, false
		}
		for i := len(rest) - 1; i < 9; i++ {
			frac *= 10
		}
		nsec = frac
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(m, year int) int {
	switch m {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func (d *decoder) actor(a *Actor) error {
	return d.members("", "actor", func() (err error) {
		switch string(d.s.key()) {
		case "id":
			err = d.strf("actor", "id", &a.ID)
		case "type":
			err = d.strf("actor", "type", &a.Type)
		case "alternateid":
			err = d.strf("actor", "alternateId", &a.AlternateID)
		case "displayname":
			err = d.strf("actor", "displayName", &a.DisplayName)
		case "detailentry", "detail":
			var m map[string]any
			m, err = d.mapf("actor", "detailEntry")
			if m != nil {
				a.Detail = m
			}
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) client(c *Client) error {
	return d.members("", "client", func() (err error) {
		switch string(d.s.key()) {
		case "useragent":
			err = d.userAgent(&c.UserAgent)
		case "zone":
			err = d.strf("client", "zone", &c.Zone)
			if c.Zone == "null" {
				c.Zone = ""
			}
		case "device":
			err = d.strf("client", "device", &c.Device)
		case "id":
			err = d.strf("client", "id", &c.ID)
		case "ipaddress":
			err = d.strf("client", "ipAddress", &c.IPAddress)
		case "geographicalcontext":
			err = d.geo("client", "client.geographicalContext", &c.Geo)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) userAgent(u *UserAgent) error {
	return d.members("client", "userAgent", func() (err error) {
		switch string(d.s.key()) {
		case "rawuseragent":
			err = d.strf("client.userAgent", "rawUserAgent", &u.Raw)
		case "os":
			err = d.strf("client.userAgent", "os", &u.OS)
		case "browser":
			err = d.strf("client.userAgent", "browser", &u.Browser)
		default:
			err = d.s.skip()
		}
		return err
	})
}

// geo reads a geographicalContext object under prefix.
func (d *decoder) geo(prefix, path string, g *Geo) error {
	return d.members(prefix, "geographicalContext", func() (err error) {
		switch string(d.s.key()) {
		case "city":
			err = d.strf(path, "city", &g.City)
		case "state":
			err = d.strf(path, "state", &g.State)
		case "country":
			err = d.strf(path, "country", &g.Country)
		case "postalcode":
			err = d.strf(path, "postalCode", &g.PostalCode)
		case "geolocation":
			err = d.geolocation(path, g)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) geolocation(path string, g *Geo) error {
	ok, err := d.obj(path, "geolocation")
	if !ok || err != nil {
		return err
	}
	s := &d.s
	var hasLat, hasLon bool
	first := true
	for {
		ok, err := s.next(&first)
		if err != nil {
			return err
		}
		if !ok {
			g.HasLatLon = hasLat && hasLon
			return nil
		}
		switch string(s.key()) {
		case "lat":
			hasLat, err = d.floatf(path, "geolocation.lat", &g.Lat)
		case "lon":
			hasLon, err = d.floatf(path, "geolocation.lon", &g.Lon)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) device(ev *Event) error {
	ok, err := d.obj("", "device")
	if !ok || err != nil {
		return err
	}
	dev := &Device{}
	ev.Device = dev
	return d.rest(func() (err error) {
		switch string(d.s.key()) {
		case "id":
			err = d.strf("device", "id", &dev.ID)
		case "name":
			err = d.strf("device", "name", &dev.Name)
		case "os_platform", "osplatform":
			err = d.strf("device", "os_platform", &dev.OSPlatform)
		case "os_version", "osversion":
			err = d.strf("device", "os_version", &dev.OSVersion)
		case "managed":
			err = d.boolf("device", "managed", &dev.Managed)
		case "registered":
			err = d.boolf("device", "registered", &dev.Registered)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) outcome(o *Outcome) error {
	return d.members("", "outcome", func() (err error) {
		switch string(d.s.key()) {
		case "result":
			err = d.strf("outcome", "result", &o.Result)
		case "reason":
			err = d.strf("outcome", "reason", &o.Reason)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) targets(ev *Event) error {
	s := &d.s
	switch c := s.peek(); c {
	case 'n':
		ev.Targets = nil
		return s.lit("null")
	case '[':
		s.i++
	default:
		return d.absent("", "target", "array", c)
	}
	ev.Targets = make([]Target, 0, 2)
	first := true
	for {
		ok, err := s.nextElem(&first)
		if err != nil || !ok {
			return err
		}
		var t Target
		ok, err = d.obj("", "target[]")
		if err != nil {
			return err
		}
		if !ok {
			continue // a null element carries nothing
		}
		if err := d.target(&t); err != nil {
			return err
		}
		ev.Targets = append(ev.Targets, t)
	}
}

func (d *decoder) target(t *Target) error {
	return d.rest(func() (err error) {
		switch string(d.s.key()) {
		case "id":
			err = d.strf("target[]", "id", &t.ID)
		case "type":
			err = d.strf("target[]", "type", &t.Type)
		case "alternateid":
			err = d.strf("target[]", "alternateId", &t.AlternateID)
		case "displayname":
			err = d.strf("target[]", "displayName", &t.DisplayName)
		case "detailentry", "detail":
			var m map[string]any
			m, err = d.mapf("target[]", "detailEntry")
			if m != nil {
				t.Detail = m
			}
		case "changedetails":
			err = d.changeDetails(t)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) changeDetails(t *Target) error {
	ok, err := d.obj("target[]", "changeDetails")
	if !ok || err != nil {
		return err
	}
	cd := &ChangeDetails{}
	t.ChangeDetails = cd
	return d.rest(func() (err error) {
		switch string(d.s.key()) {
		case "from":
			cd.From, err = d.mapf("target[].changeDetails", "from")
		case "to":
			cd.To, err = d.mapf("target[].changeDetails", "to")
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) transaction(t *Transaction) error {
	ok, err := d.obj("", "transaction")
	if !ok || err != nil {
		return err
	}
	return d.restKnown(d.order(orderTransaction), func() (err error) {
		switch string(d.s.key()) {
		case "id":
			// a request's id, new in nine events out of ten (a generated
			// month: 115k cache misses in 126k events): caching it would
			// only evict strings that recur
			err = d.strfCache("transaction", "id", &t.ID, nil)
		case "type":
			err = d.strf("transaction", "type", &t.Type)
		case "detail":
			t.Detail, err = d.mapf("transaction", "detail")
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) debugContext(ev *Event) error {
	dbg := &ev.Debug
	ok, err := d.obj("", "debugContext")
	if !ok || err != nil {
		return err
	}
	return d.restKnown(d.order(orderDebugContext), func() (err error) {
		switch string(d.s.key()) {
		case "debugdata":
			err = d.debugData(dbg, d.debugOrder(ev.EventType))
		default:
			err = d.s.skip()
		}
		return err
	})
}

// debugData reads debugContext.debugData (an object or null): it keeps the
// object's JSON for Debug.Value and decodes only the members that fill
// Debug's typed fields. o is the Reader's remembered order of its keys
// (nil: none).
func (d *decoder) debugData(dbg *Debug, o *keyOrder) error {
	s := &d.s
	start := s.i
	ok, err := d.obj("debugContext", "debugData")
	if !ok || err != nil {
		return err
	}
	var los any
	s.keySlow = false
	first := true
	for m := 0; ; m++ {
		ok, err := s.nextKnown(&first, o, m)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		lk := s.key()
		dbg.keyBits |= keyBit(lk)
		if !debugTyped(lk) {
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		v, err := s.value(1, true) // reads nested keys with rawString: lk stays
		if err != nil {
			return err
		}
		debugField(dbg, lk, v, &los, s.cache)
	}
	dbg.raw = s.b[start:s.i]
	dbg.plainKeys = !s.keySlow
	debugFinish(dbg, los, s.cache)
	return nil
}

func (d *decoder) authContext(a *AuthContext) error {
	const p = "authenticationContext"
	return d.members("", "authenticationContext", func() (err error) {
		switch string(d.s.key()) {
		case "authenticationprovider":
			err = d.strf(p, "authenticationProvider", &a.AuthenticationProvider)
		case "credentialprovider":
			err = d.strf(p, "credentialProvider", &a.CredentialProvider)
		case "credentialtype":
			err = d.strf(p, "credentialType", &a.CredentialType)
		case "externalsessionid":
			err = d.strf(p, "externalSessionId", &a.ExternalSessionID)
		case "rootsessionid":
			err = d.strf(p, "rootSessionId", &a.RootSessionID)
		case "interface":
			err = d.strf(p, "interface", &a.Interface)
		case "issuer":
			err = d.issuer(a)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) issuer(a *AuthContext) error {
	return d.members("authenticationContext", "issuer", func() (err error) {
		switch string(d.s.key()) {
		case "id":
			err = d.strf("authenticationContext.issuer", "id", &a.IssuerID)
		case "type":
			err = d.strf("authenticationContext.issuer", "type", &a.IssuerType)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) securityContext(sc *SecurityContext) error {
	const p = "securityContext"
	return d.members("", "securityContext", func() (err error) {
		switch string(d.s.key()) {
		case "asnumber":
			var f float64
			var has bool
			has, err = d.floatf(p, "asNumber", &f)
			if err == nil && has {
				if f < 0 || f > 1<<32-1 || f != float64(int64(f)) {
					d.degrade(p + ".asNumber")
				} else {
					sc.ASNumber = int(f)
				}
			}
		case "asorg":
			err = d.strf(p, "asOrg", &sc.ASOrg)
		case "isp":
			err = d.strf(p, "isp", &sc.ISP)
		case "domain":
			err = d.strf(p, "domain", &sc.Domain)
		case "isproxy":
			err = d.boolf(p, "isProxy", &sc.IsProxy)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) request(ev *Event) error {
	return d.members("", "request", func() (err error) {
		switch string(d.s.key()) {
		case "ipchain":
			err = d.ipChain(ev)
		default:
			err = d.s.skip()
		}
		return err
	})
}

func (d *decoder) ipChain(ev *Event) error {
	s := &d.s
	switch c := s.peek(); c {
	case 'n':
		return s.lit("null")
	case '[':
		s.i++
	default:
		return d.absent("request", "ipChain", "array", c)
	}
	const p = "request.ipChain[]"
	const pg = p + ".geographicalContext"
	first := true
	for {
		ok, err := s.nextElem(&first)
		if err != nil || !ok {
			return err
		}
		ok, err = d.obj("request", "ipChain[]")
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		var h IPChainEntry
		firstKey := true
		for {
			ok, err := s.next(&firstKey)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch string(s.key()) {
			case "ip":
				err = d.strf(p, "ip", &h.IP)
			case "version":
				err = d.strf(p, "version", &h.Version)
			case "source":
				err = d.strf(p, "source", &h.Source)
			case "geographicalcontext":
				err = d.geo(p, pg, &h.Geo)
			default:
				err = s.skip()
			}
			if err != nil {
				return err
			}
		}
		ev.IPChain = append(ev.IPChain, h)
	}
}
