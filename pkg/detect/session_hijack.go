package detect

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var sessionHijackRegistration = Registration{
	Info: Info{
		ID:       "session_hijack",
		Title:    "Session hijacking (cookie replay)",
		Severity: SeverityHigh,
		MITRE:    []string{"T1539", "T1550.004"},
		Description: "An Okta session (externalSessionId, else the device token) is used from a different IP " +
			"and a different country / ASN or user agent / OS than the one that created it, within the " +
			"session's lifetime; Okta's security.session.detect_client_roaming counts directly.",
	},
	Params: []Param{
		{"lifetime", 24 * time.Hour, "compare uses of a session up to this long after it was created"},
		{"asnChange", true, "a different ASN (same country, same agent) counts as a different network"},
	},
	Rearm: 24 * time.Hour,
	New: func(p Params) (Detector, error) {
		d := &sessionHijack{lifetime: p.Duration("lifetime"), asnChange: p.Bool("asnChange"), sessions: newValueMap[uint64, sessOrigin](0)}
		if d.lifetime <= 0 {
			return nil, fmt.Errorf("params.lifetime: must be positive")
		}
		return d, nil
	},
}

// sessOrigin is the first use of a session, kept by value (valueMap):
// country and OS interned, the address and uuid packed; 104 bytes.
type sessOrigin struct {
	T       int64  // unix s of creation (first use seen)
	Actor   uint32 // hash of the login
	ASN     uint32
	UA      uint32 // hash of the user agent
	OS      uint32 // labels id
	Country uint16 // country id
	Trusted bool
	IP      packedIP
	UUID    eventID
}

// sessOriginState is the persisted form of a sessOrigin.
type sessOriginState struct {
	T       int64   `json:"t"`
	Actor   uint32  `json:"a"`
	IP      string  `json:"ip"`
	Country string  `json:"c,omitempty"`
	ASN     uint32  `json:"asn,omitempty"`
	UA      uint32  `json:"ua,omitempty"`
	OS      string  `json:"os,omitempty"`
	Trusted bool    `json:"tr,omitempty"`
	UUID    eventID `json:"id"`
}

type sessionHijack struct {
	lifetime  time.Duration
	asnChange bool
	base      *baselines
	sessions  valueMap[uint64, sessOrigin]
	changeSet                    // sessions changed since the last state save (entry key: hex hash)
	due       pruneQueue[uint64] // expired sessions by prune slot (prune_slots.go)
}

func (d *sessionHijack) bindUsers(b *baselines) { d.base = b }

// sessionKey is the key of the event's session: "s:" and the session
// id, "dt:" and the device token hash, "" for none. sessionKeyParts gives
// it in its two parts, so that the hot path hashes it without building it.
func sessionKey(ev *event.Event) string {
	kind, id := sessionKeyParts(ev)
	return kind + id
}

func sessionKeyParts(ev *event.Event) (kind, id string) {
	if s := ev.SessionID(); s != "" {
		return "s:", s
	}
	if ev.Debug.DTHash != "" {
		return "dt:", ev.Debug.DTHash
	}
	return "", ""
}

func (d *sessionHijack) Handle(c *Context, ev *event.Event) {
	if !isUserActor(ev) || ev.IsOktaFirstPartyClient() || ev.IsAPITokenRequest() {
		return
	}
	kind, id := sessionKeyParts(ev)
	if ev.EventType == "security.session.detect_client_roaming" {
		key := kind + id
		c.Emit(Finding{
			Key: key, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ev.Client.IPAddress, Country: ev.Country(),
			Title:   "Okta detected session roaming",
			Summary: fmt.Sprintf("Okta reports the session of %s roaming to %s (%s)", ev.Actor.AlternateID, ev.Client.IPAddress, ev.Country()),
			Evidence: map[string]any{"signal": "okta_detect_client_roaming", "outcome": ev.Outcome.Result, "reason": ev.Outcome.Reason,
				"userAgent": ev.Client.UserAgent.Raw, "asn": asnOf(ev)},
			EventIDs: []string{ev.UUID},
		})
		return
	}
	ip := ev.Client.IPAddress
	if kind == "" || ip == "" || ev.IsFailure() {
		return
	}
	now := c.Now.Unix()
	hk := hash64Add(hash64Add(fnvOffset64, kind), id) // hash64(key), key not built
	o := d.sessions.get(hk)
	if o == nil || now-o.T > int64(d.lifetime/time.Second) || now < o.T && ev.EventType == "user.session.start" {
		d.sessions.put(hk, sessOrigin{T: now, Actor: hash32(normLogin(ev.Actor.AlternateID)), ASN: uint32(max(asnOf(ev), 0)), // #nosec G115 -- asnOf is 0..MaxUint32: event decoding and enrichment keep AS numbers to 32 bits
			UA: hash32(ev.Client.UserAgent.Raw), OS: d.base.labels.id(ev.Client.UserAgent.OS), Country: d.base.countryID(ev.Country()),
			Trusted: isTrusted(ev), IP: makePackedIP(ip), UUID: makeEventID(ev.UUID)})
		d.markUint(hk, 16)
		return
	}
	if now < o.T || o.IP.is(ip) || o.IP.same24(ip) {
		return
	}
	trusted := isTrusted(ev)
	if trusted && o.Trusted {
		return
	}
	country := ev.Country()
	asn := uint32(max(asnOf(ev), 0)) // #nosec G115 -- asnOf is 0..MaxUint32: event decoding and enrichment keep AS numbers to 32 bits
	oCountry, oOS := d.base.countries[o.Country], d.base.labels.name(o.OS)
	var changed []string
	if country != "" && oCountry != "" && country != oCountry {
		changed = append(changed, "country")
	}
	if d.asnChange && asn != 0 && o.ASN != 0 && asn != o.ASN {
		changed = append(changed, "asn")
	}
	if ev.Client.UserAgent.Raw != "" && hash32(ev.Client.UserAgent.Raw) != o.UA {
		changed = append(changed, "user_agent")
	}
	if ev.Client.UserAgent.OS != "" && oOS != "" && ev.Client.UserAgent.OS != oOS {
		changed = append(changed, "os")
	}
	if len(changed) == 0 {
		return // same network and agent: a mobile IP change
	}
	key := kind + id
	oIP := o.IP.String()
	c.Emit(Finding{
		Key: key, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ip, Country: country,
		Title: "Session used from another network and client",
		Summary: fmt.Sprintf("session of %s created from %s (%s) used %s later from %s (%s); changed: %v",
			ev.Actor.AlternateID, oIP, oCountry, roundDur(time.Duration(now-o.T)*time.Second), ip, country, changed),
		Evidence: map[string]any{
			"changed":        changed,
			"origin":         map[string]any{"ip": oIP, "country": oCountry, "asn": o.ASN, "os": oOS, "time": time.Unix(o.T, 0).UTC().Format(time.RFC3339), "trusted": o.Trusted},
			"use":            map[string]any{"ip": ip, "country": country, "asn": asn, "os": ev.Client.UserAgent.OS, "browser": ev.Client.UserAgent.Browser, "userAgent": ev.Client.UserAgent.Raw, "eventType": ev.EventType, "trusted": trusted},
			"sessionKind":    map[bool]string{true: "device_token", false: "okta_session"}[key[0] == 'd'],
			"elapsedMinutes": (now - o.T) / 60,
			"sameUser":       o.Actor == hash32(normLogin(ev.Actor.AlternateID)),
		},
		EventIDs: []string{o.UUID.String(), ev.UUID},
	})
}

// Prune drops the sessions older than the lifetime: the scan, then every
// slot (prune_slots.go).
func (d *sessionHijack) Prune(now time.Time) { pruneWhole(d, now) }

// pruneScan queues the sessions older than the lifetime by slot (Handle
// takes such a session for a new one: when it goes does not matter).
func (d *sessionHijack) pruneScan(now time.Time) {
	sec := now.Unix()
	for k, o := range d.sessions.all() {
		if sec-o.T > int64(d.lifetime/time.Second) {
			d.due.add(slotOf(k), k)
		}
	}
}

// pruneSlot drops the queued sessions of one slot still older than the
// lifetime at now.
func (d *sessionHijack) pruneSlot(now time.Time, slot int) {
	sec := now.Unix()
	for _, k := range d.due.take(slot) {
		if o := d.sessions.get(k); o != nil && sec-o.T > int64(d.lifetime/time.Second) {
			d.sessions.del(k)
			d.markUint(k, 16)
		}
	}
}

// The state is one entry per session (entryState): its key is the hex
// hash of the session key. MarshalState / UnmarshalState keep the whole
// map form of older versions loadable.

func (d *sessionHijack) toState(o *sessOrigin) *sessOriginState {
	return &sessOriginState{T: o.T, Actor: o.Actor, IP: o.IP.String(), Country: d.base.countries[o.Country],
		ASN: o.ASN, UA: o.UA, OS: d.base.labels.name(o.OS), Trusted: o.Trusted, UUID: o.UUID}
}

// restore adds the stored sessions (hex key -> origin) to d.sessions.
func (d *sessionHijack) restore(m map[string]*sessOriginState) error {
	for k, o := range m {
		n, err := strconv.ParseUint(k, 16, 64)
		if err != nil {
			return fmt.Errorf("session key %q: %w", k, err)
		}
		if o != nil {
			d.sessions.put(n, sessOrigin{T: o.T, Actor: o.Actor, ASN: o.ASN, UA: o.UA, OS: d.base.labels.id(o.OS),
				Country: d.base.countryID(o.Country), Trusted: o.Trusted, IP: makePackedIP(o.IP), UUID: o.UUID})
		}
	}
	return nil
}

func (d *sessionHijack) MarshalState() ([]byte, error) {
	m := make(map[string]*sessOriginState, d.sessions.len())
	for k, o := range d.sessions.all() {
		m[strconv.FormatUint(k, 16)] = d.toState(o)
	}
	return json.Marshal(m)
}

func (d *sessionHijack) UnmarshalState(b []byte) error {
	m := map[string]*sessOriginState{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	d.sessions = newValueMap[uint64, sessOrigin](len(m))
	return d.restore(m)
}

func (d *sessionHijack) stateEntryKeys() []string {
	out := make([]string, 0, d.sessions.len())
	for k := range d.sessions.all() {
		out = append(out, strconv.FormatUint(k, 16))
	}
	return out
}

func (d *sessionHijack) marshalEntry(key string) ([]byte, bool, error) {
	n, err := strconv.ParseUint(key, 16, 64)
	if err != nil {
		return nil, false, fmt.Errorf("session key %q: %w", key, err)
	}
	o := d.sessions.get(n)
	if o == nil {
		return nil, false, nil
	}
	b, err := json.Marshal(d.toState(o))
	return b, true, err
}

func (d *sessionHijack) unmarshalEntries(m map[string][]byte) error {
	st := make(map[string]*sessOriginState, len(m))
	for k, b := range m {
		var o sessOriginState
		if err := json.Unmarshal(b, &o); err != nil {
			return fmt.Errorf("session %q: %w", k, err)
		}
		st[k] = &o
	}
	return d.restore(st)
}
