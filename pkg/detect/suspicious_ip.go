package detect

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var suspiciousIPRegistration = Registration{
	Info: Info{
		ID:       "suspicious_ip",
		Title:    "Successful logon from a suspicious IP address",
		Severity: SeverityHigh,
		MITRE:    []string{"T1078.004", "T1110"},
		Description: "A successful interactive sign-in from an IP that is on the `suspicious` list, that " +
			"Okta ThreatInsight flagged (threatSuspected, or security.threat.detected in the last 24 h), " +
			"or that sprayed passwords in the last 24 h (≥10 users, ≤3 attempts each).",
	},
	Params: []Param{
		{"threatWindow", 24 * time.Hour, "how long a ThreatInsight verdict or spray behaviour marks the IP"},
		{"sprayUsers", 10, "self-derived spray source: failures against at least this many distinct users"},
		{"sprayMaxAttempts", 3, "... with at most this many attempts per user"},
		{"sharedIPUsers", 5, "a /24 (IPv6 /64) this many users (at most 5) signed in from successfully in 30 days is shared egress (suppressed)"},
	},
	Rearm: 24 * time.Hour,
	New: func(p Params) (Detector, error) {
		if n := p.Int("sharedIPUsers"); n > maxOKUsers {
			return nil, fmt.Errorf("params.sharedIPUsers: at most %d, got %d", maxOKUsers, n)
		}
		return &suspiciousIP{window: p.Duration("threatWindow"), sprayUsers: p.Int("sprayUsers"),
			sprayMax: p.Int("sprayMaxAttempts"), sharedUsers: p.Int("sharedIPUsers"),
			threats: map[string]*threatMark{}, fails: map[string]map[string]*failCount{}, okUsers: map[uint64]okIP{}}, nil
	},
}

type threatMark struct {
	T    int64  `json:"t"`
	UUID string `json:"id"`
	Tx   string `json:"tx,omitempty"`
}

type failCount struct {
	N    uint16 `json:"n"`
	Last int64  `json:"l"`
}

type suspiciousIP struct {
	window                            time.Duration
	sprayUsers, sprayMax, sharedUsers int
	threats                           map[string]*threatMark           // ip -> last security.threat.detected
	fails                             map[string]map[string]*failCount // ip -> user -> failures
	okUsers                           map[uint64]okIP                  // hash(ip) -> users with success (capped)
	// entries changed since the last state save: "t/<ip>" (threat),
	// "f/<ip>" (failures from the IP), "o/<hex egress key>"
	changeSet
	// lower bounds of the threats' and failures' times and of the
	// successes' days, for Prune (expiry.go)
	threatsExp, failsExp, okExp expiry
}

// okIP remembers up to maxOKUsers users (login hashes) who signed in
// successfully from one IP, and the last day of such a sign-in: 24 bytes
// per IP, enough to recognise shared egress.
const maxOKUsers = 5

type okIP struct {
	U [maxOKUsers]uint32 `json:"u"`
	D uint16             `json:"d"`
}

// egressKey identifies the shared-egress unit of an address: its IPv4
// /24 or IPv6 /64 (NAT pools and carrier ranges share it); unparsable
// strings hash as they are. No allocation.
func egressKey(ip string) uint64 {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return hash64(ip)
	}
	a = a.Unmap()
	b := a.As16()
	h := uint64(14695981039346656037)
	n := 8 // IPv6: first 64 bits
	if a.Is4() {
		h ^= 4
		b[15] = 0
		n = 16
	}
	for i := 0; i < n; i++ {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	return h
}

func hash64(s string) uint64 { return hash64Add(fnvOffset64, s) }

const fnvOffset64 = 14695981039346656037

// hash64Add continues hash64 over s: hash64(a+b) is hash64Add(hash64(a), b).
func hash64Add(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// isPrimaryAuthFailure is a failed primary authentication (password).
func isPrimaryAuthFailure(ev *event.Event) bool {
	if !ev.IsFailure() {
		return false
	}
	switch ev.EventType {
	case "user.session.start", "user.authentication.verify", "user.authentication.authenticate":
		return true
	}
	return false
}

func (d *suspiciousIP) Handle(c *Context, ev *event.Event) {
	ip := ev.Client.IPAddress
	if ip == "" {
		return
	}
	now := c.Now.Unix()
	win := int64(d.window / time.Second)
	if ev.EventType == "security.threat.detected" {
		if t := d.threats[ip]; t == nil || now >= t.T {
			d.threats[ip] = &threatMark{T: now, UUID: ev.UUID, Tx: ev.Transaction.ID}
			d.threatsExp.note(now)
			d.markPart("t", ip)
		}
		return
	}
	if isPrimaryAuthFailure(ev) && ev.Actor.AlternateID != "" {
		m := d.fails[ip]
		if m == nil {
			m = map[string]*failCount{}
			d.fails[ip] = m
		}
		login := normLogin(ev.Actor.AlternateID)
		d.markPart("f", ip)
		d.failsExp.note(now)
		if f := m[login]; f != nil {
			if f.N < 65535 {
				f.N++
			}
			f.Last = max(f.Last, now)
		} else if len(m) < 1000 {
			m[login] = &failCount{N: 1, Last: now}
		}
		return
	}
	if !ev.IsInteractiveSignIn() {
		return
	}
	login := normLogin(ev.Actor.AlternateID)
	ipKey, uh := egressKey(ip), hash32(login)
	okm, seen := d.okUsers[ipKey]
	shared, self := 0, false
	if seen && inWindow(c.today(), okm.D) {
		for _, x := range okm.U {
			if x == uh {
				self = true
			} else if x != 0 {
				shared++
			}
		}
	} else {
		okm = okIP{}
	}
	defer func() {
		if !self {
			for i := range okm.U {
				if okm.U[i] == 0 {
					okm.U[i] = uh
					break
				}
			}
		}
		okm.D = max(okm.D, c.today())
		d.okUsers[ipKey] = okm
		d.okExp.note(int64(okm.D))
		d.markPartUint("o", ipKey, 16)
	}()
	// ids and ev2 are made when a signal is found: most sign-ins have none
	var signals, ids []string
	var ev2 map[string]any
	if ev.IP.Categories.Has(event.CatSuspicious) {
		signals = append(signals, "suspicious_list")
	}
	if ev.Debug.ThreatSuspected {
		signals = append(signals, "okta_threat_suspected")
	}
	if t := d.threats[ip]; t != nil && now >= t.T && now-t.T <= win {
		signals = append(signals, "threatinsight_detected")
		ids = append(ids, t.UUID)
		ev2 = map[string]any{}
		ev2["threatDetectedAt"] = time.Unix(t.T, 0).UTC().Format(time.RFC3339)
	}
	sprayed, maxAttempts := 0, 0
	var sample []string
	for u, f := range d.fails[ip] {
		if now >= f.Last && now-f.Last <= win || f.Last > now {
			sprayed++
			maxAttempts = max(maxAttempts, int(f.N))
			sample = append(sample, u)
		}
	}
	if d.sprayUsers > 0 && sprayed >= d.sprayUsers && maxAttempts <= d.sprayMax {
		signals = append(signals, "password_spray_source")
		sort.Strings(sample)
		if len(sample) > 10 {
			sample = sample[:10]
		}
		if ev2 == nil {
			ev2 = map[string]any{}
		}
		ev2["sprayedUsers"] = sprayed
		ev2["sprayMaxAttemptsPerUser"] = maxAttempts
		ev2["sprayedUserSample"] = sample
	}
	if len(signals) == 0 {
		return
	}
	// system suppressions: corporate ranges; shared egress many users use
	if isTrusted(ev) {
		return
	}
	if d.sharedUsers > 0 && shared >= d.sharedUsers && !ev.IP.Categories.Has(event.CatSuspicious) {
		return
	}
	if ev2 == nil {
		ev2 = map[string]any{}
	}
	ids = append([]string{ev.UUID}, ids...)
	ev2["signals"] = signals
	ev2["ipUsers30d"] = shared
	ev2["asn"] = asnOf(ev)
	ev2["eventType"] = ev.EventType
	c.Emit(Finding{
		Key: ip, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ip, Country: ev.Country(),
		Title:    "Successful logon from a suspicious IP address",
		Summary:  fmt.Sprintf("%s signed in successfully from suspicious IP %s (%v)", ev.Actor.AlternateID, ip, signals),
		Evidence: ev2,
		EventIDs: ids,
	})
}

func (d *suspiciousIP) Prune(now time.Time) {
	sec := now.Unix()
	win := int64(d.window / time.Second)
	// a map none of whose entries can go is not walked (expiry.go)
	if !d.threatsExp.from(sec - win) {
		d.threatsExp.walk()
		for ip, t := range d.threats {
			if sec-t.T > win {
				delete(d.threats, ip)
				d.markPart("t", ip)
				continue
			}
			d.threatsExp.note(t.T)
		}
	}
	if !d.failsExp.from(sec - win) {
		d.failsExp.walk()
		for ip, m := range d.fails {
			for u, f := range m {
				if sec-f.Last > win {
					delete(m, u)
					d.markPart("f", ip)
					continue
				}
				d.failsExp.note(f.Last)
			}
			if len(m) == 0 {
				delete(d.fails, ip)
			}
		}
	}
	today := day(sec)
	if !d.okExp.from(int64(today) - windowDays + 1) { // the first day kept
		d.okExp.walk()
		for ip, m := range d.okUsers {
			if !inWindow(today, m.D) && m.D <= today {
				delete(d.okUsers, ip)
				d.markPartUint("o", ip, 16)
				continue
			}
			d.okExp.note(int64(m.D))
		}
	}
}

// forgetExpiry makes the expiry bounds unknown after state was loaded.
func (d *suspiciousIP) forgetExpiry() {
	d.threatsExp.forget()
	d.failsExp.forget()
	d.okExp.forget()
}

type suspiciousState struct {
	Threats map[string]*threatMark           `json:"threats"`
	Fails   map[string]map[string]*failCount `json:"fails"`
	OK      map[string]okIP                  `json:"ok"`
}

func (d *suspiciousIP) MarshalState() ([]byte, error) {
	ok := make(map[string]okIP, len(d.okUsers))
	for k, v := range d.okUsers {
		ok[strconv.FormatUint(k, 16)] = v
	}
	return json.Marshal(suspiciousState{d.threats, d.fails, ok})
}

func (d *suspiciousIP) UnmarshalState(b []byte) error {
	d.forgetExpiry()
	var st suspiciousState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	if st.Threats != nil {
		d.threats = st.Threats
	}
	if st.Fails != nil {
		d.fails = st.Fails
	}
	ok := make(map[uint64]okIP, len(st.OK))
	for k, v := range st.OK {
		n, err := strconv.ParseUint(k, 16, 64)
		if err != nil {
			return fmt.Errorf("ok key %q: %w", k, err)
		}
		ok[n] = v
	}
	d.okUsers = ok
	return nil
}

// The state is one entry per threat mark ("t/<ip>"), per source of
// failures ("f/<ip>": its users, at most 1,000) and per egress key with
// successes ("o/<hex key>") (entryState). MarshalState / UnmarshalState
// keep the whole form of older versions loadable.

func (d *suspiciousIP) stateEntryKeys() []string {
	out := make([]string, 0, len(d.threats)+len(d.fails)+len(d.okUsers))
	out = appendPartKeys(out, "t", d.threats)
	out = appendPartKeys(out, "f", d.fails)
	for k := range d.okUsers {
		out = append(out, partKey("o", strconv.FormatUint(k, 16)))
	}
	return out
}

func (d *suspiciousIP) marshalEntry(key string) ([]byte, bool, error) {
	part, k, _ := splitPartKey(key)
	switch part {
	case "t":
		return lookupEntry(d.threats, k)
	case "f":
		m := d.fails[k]
		return jsonEntry(m, len(m) > 0)
	case "o":
		n, err := strconv.ParseUint(k, 16, 64)
		if err != nil {
			return nil, false, fmt.Errorf("ok key %q: %w", k, err)
		}
		v, ok := d.okUsers[n]
		return jsonEntry(v, ok)
	}
	return nil, false, nil
}

func (d *suspiciousIP) unmarshalEntries(m map[string][]byte) error {
	d.forgetExpiry()
	return loadEntries(m, func(part, k string, b []byte) error {
		switch part {
		case "t":
			return decodeInto(b, func(t *threatMark) { d.threats[k] = t })
		case "f":
			return decodeInto(b, func(f *map[string]*failCount) {
				if len(*f) > 0 {
					d.fails[k] = *f
				}
			})
		case "o":
			n, err := strconv.ParseUint(k, 16, 64)
			if err != nil {
				return err
			}
			return decodeInto(b, func(v *okIP) { d.okUsers[n] = *v })
		}
		return errUnknownEntry
	})
}
