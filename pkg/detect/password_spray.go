package detect

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var passwordSprayRegistration = Registration{
	Info: Info{
		ID:       "password_spray",
		Title:    "Password spray",
		Severity: SeverityMedium,
		MITRE:    []string{"T1110.003"},
		Description: "One source IP fails primary authentication against at least 10 distinct users within " +
			"30 minutes with at most 3 attempts per user; or one user agent / device token does the same " +
			"from many IPs, or addresses of one hosting ASN do (distributed spray). A spray from another source within 30 minutes " +
			"of the latest spray match is the same campaign: the open alert is updated and lists every source (evidence.sourceIPs). A targeted " +
			"user's later success from a spraying source escalates.",
	},
	// concurrent sprays from several sources (within 30 minutes of the
	// latest) are one campaign: one alert listing the sources
	// (evidence.sourceIPs)
	GroupSources: 30 * time.Minute,
	Params: []Param{
		{"window", 30 * time.Minute, "sliding window"},
		{"minUsers", 10, "distinct targeted users (single source)"},
		{"maxAttemptsPerUser", 3, "a spray tries each user at most this often"},
		{"distributedMinIPs", 5, "distributed spray: distinct source IPs sharing a user agent / device token"},
		{"distributedMinUsers", 20, "distributed spray: distinct targeted users"},
		{"asnMinIPs", 3, "distributed spray over one hosting / datacenter ASN: distinct source IPs of the ASN (0: off); distributedMinUsers and distributedMaxSuccessRatio apply"},
		{"distributedMaxSuccessRatio", 0.1, "distributed spray: the agent's successes / failures in the window stays below this"},
		{"successWindow", 180 * time.Minute, "escalate when a targeted user signs in successfully from the source within this time"},
	},
	Rearm: 24 * time.Hour,
	New: func(p Params) (Detector, error) {
		d := &passwordSpray{window: p.Duration("window"), minUsers: p.Int("minUsers"), maxAtt: p.Int("maxAttemptsPerUser"),
			dMinIPs: p.Int("distributedMinIPs"), aMinIPs: p.Int("asnMinIPs"), dMinUsers: p.Int("distributedMinUsers"), dRatio: p.Float("distributedMaxSuccessRatio"),
			successWin: p.Duration("successWindow"),
			byIP:       map[string]*sprayKey{}, byAgent: map[uint32]*sprayKey{}, byASN: map[int]*sprayKey{}, sprayed: map[string]*sprayedSource{}}
		if d.window <= 0 || d.minUsers < 2 {
			return nil, fmt.Errorf("params.window must be positive and params.minUsers at least 2")
		}
		return d, nil
	},
}

type sprayHit struct {
	T    int64  `json:"t"` // unix ms
	User string `json:"u"`
	IP   string `json:"ip,omitempty"`
	ID   string `json:"i"`
}

type sprayKey struct {
	Hits []sprayHit `json:"h"`
	OK   []int64    `json:"ok,omitempty"` // success times (agent keys only)
	UA   string     `json:"ua,omitempty"`
}

type sprayedSource struct {
	T     int64           `json:"t"`
	Users map[string]bool `json:"u"`
	Kind  string          `json:"k"`
}

type passwordSpray struct {
	window, successWin time.Duration
	minUsers, maxAtt   int
	dMinIPs, dMinUsers int
	aMinIPs            int
	dRatio             float64
	byIP               map[string]*sprayKey
	byAgent            map[uint32]*sprayKey
	byASN              map[int]*sprayKey         // hosting ASNs only
	sprayed            map[string]*sprayedSource // source IP -> spray alert
	// entries changed since the last state save: "i/<ip>", "a/<agent
	// key>", "n/<asn>" (failures by source) and "s/<ip>" (sprayed sources)
	changeSet
}

// agentKey is the hash of the event's client: its device token, else its
// user agent; 0 for neither.
func agentKey(ev *event.Event) uint32 {
	if ev.Debug.DTHash != "" {
		return hashParts("dt:", ev.Debug.DTHash)
	}
	if ev.Client.UserAgent.Raw != "" {
		return hashParts("ua:", ev.Client.UserAgent.Raw)
	}
	return 0
}

// agentLabel names the client agentKey hashes, for evidence.
func agentLabel(ev *event.Event) string {
	if ev.Debug.DTHash != "" {
		return "device token " + ev.Debug.DTHash
	}
	return ev.Client.UserAgent.Raw
}

func (k *sprayKey) slide(now, win int64) {
	i := 0
	for i < len(k.Hits) && now-k.Hits[i].T > win {
		i++
	}
	k.Hits = k.Hits[i:]
	j := 0
	for j < len(k.OK) && now-k.OK[j] > win {
		j++
	}
	k.OK = k.OK[j:]
}

// spread returns distinct users, max attempts per user, distinct IPs.
func (k *sprayKey) spread() (users map[string]int, maxAtt int, ips int) {
	users = map[string]int{}
	ipset := map[string]bool{}
	for _, h := range k.Hits {
		users[h.User]++
		ipset[h.IP] = true
	}
	for _, n := range users {
		maxAtt = max(maxAtt, n)
	}
	return users, maxAtt, len(ipset)
}

func sampleUsers(users map[string]int, n int) []string {
	s := sortedKeys(users)
	if len(s) > n {
		s = s[:n]
	}
	return s
}

func (d *passwordSpray) Handle(c *Context, ev *event.Event) {
	ip := ev.Client.IPAddress
	now := c.Now.UnixMilli()
	win := d.window.Milliseconds()
	if ev.IsInteractiveSignIn() {
		login := normLogin(ev.Actor.AlternateID)
		if s := d.sprayed[ip]; s != nil && s.Users[login] && now >= s.T && now-s.T <= d.successWin.Milliseconds() {
			c.Emit(Finding{
				Key: "success:" + ip, Severity: SeverityHigh, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ip, Country: ev.Country(),
				Title:   "Successful sign-in after password spray",
				Summary: fmt.Sprintf("%s signed in successfully from %s, which sprayed passwords %s earlier", ev.Actor.AlternateID, ip, roundDur(time.Duration(now-s.T)*time.Millisecond)),
				Evidence: map[string]any{"sprayKind": s.Kind, "sprayAlertAt": time.UnixMilli(s.T).UTC().Format(time.RFC3339),
					"sprayedUsers": len(s.Users), "successWindowMinutes": d.successWin.Minutes()},
				EventIDs: []string{ev.UUID},
			})
		}
		if k := agentKey(ev); k != 0 && d.byAgent[k] != nil {
			d.byAgent[k].success(now)
			if d.recording() {
				d.mark(agentPart(k))
			}
		}
		if asn := asnOf(ev); asn > 0 && d.byASN[asn] != nil {
			d.byASN[asn].success(now)
			if d.recording() {
				d.mark(asnPart(asn))
			}
		}
		return
	}
	if !isPrimaryAuthFailure(ev) || ev.Actor.AlternateID == "" || ip == "" || isTrusted(ev) {
		return
	}
	login := normLogin(ev.Actor.AlternateID)
	hit := sprayHit{T: now, User: login, IP: ip, ID: ev.UUID}

	// single source
	k := d.byIP[ip]
	d.markPart("i", ip)
	if k == nil {
		k = &sprayKey{}
		d.byIP[hit.IP] = k
	}
	k.Hits = append(k.Hits, hit)
	k.slide(now, win)
	if len(k.Hits) > 5000 {
		k.Hits = k.Hits[len(k.Hits)-5000:]
	}
	users, maxAtt, _ := k.spread()
	if len(users) >= d.minUsers && maxAtt <= d.maxAtt {
		d.markSprayed(hit.IP, users, now, "single_source")
		c.Emit(Finding{
			Key: ip, IP: ip, Country: ev.Country(),
			Title:   "Password spray from one IP",
			Summary: fmt.Sprintf("%s failed primary authentication against %d users in %s (at most %d attempts each)", ip, len(users), d.window, maxAtt),
			Evidence: map[string]any{"kind": "single_source", "distinctUsers": len(users), "failures": len(k.Hits),
				"maxAttemptsPerUser": maxAtt, "windowMinutes": d.window.Minutes(), "thresholdUsers": d.minUsers,
				"userSample": sampleUsers(users, 10), "asn": asnOf(ev), "userAgent": ev.Client.UserAgent.Raw},
			EventIDs: hitIDs(k.Hits, 100),
		})
	}

	// distributed: one agent / device token across many IPs
	if ak := agentKey(ev); ak != 0 && d.dMinIPs > 0 {
		label := agentLabel(ev)
		a := d.byAgent[ak]
		if d.recording() {
			d.mark(agentPart(ak))
		}
		if a == nil {
			a = &sprayKey{UA: label}
			d.byAgent[ak] = a
		}
		d.distributed(c, ev, a, hit, d.dMinIPs, fmt.Sprintf("agent:%08x", ak), "distributed",
			func(ips int) string { return fmt.Sprintf("%d IPs sharing one client (%s)", ips, label) },
			map[string]any{"client": label})
	}
	// distributed over one hosting ASN: rented addresses of one provider,
	// each with its own client and device token
	if asn := asnOf(ev); asn > 0 && d.aMinIPs > 0 && isCloud(ev) {
		a := d.byASN[asn]
		if d.recording() {
			d.mark(asnPart(asn))
		}
		if a == nil {
			a = &sprayKey{}
			d.byASN[asn] = a
		}
		d.distributed(c, ev, a, hit, d.aMinIPs, fmt.Sprintf("asn:%d", asn), "distributed_asn",
			func(ips int) string {
				return fmt.Sprintf("%d addresses of hosting AS %d (%s)", ips, asn, ev.Security.ASOrg)
			},
			map[string]any{"asn": asn, "asOrg": ev.Security.ASOrg})
	}
}

// distributed adds a failure to a multi-IP key (one client, or one hosting
// ASN) and alerts when at least minIPs addresses together failed against
// distributedMinUsers users in the window, at most maxAttemptsPerUser each,
// with successes from the key below distributedMaxSuccessRatio.
func (d *passwordSpray) distributed(c *Context, ev *event.Event, a *sprayKey, hit sprayHit, minIPs int, key, kind string, who func(ips int) string, extra map[string]any) {
	now := hit.T
	a.Hits = append(a.Hits, hit)
	a.slide(now, d.window.Milliseconds())
	if len(a.Hits) > 5000 {
		a.Hits = a.Hits[len(a.Hits)-5000:]
	}
	dUsers, dMax, ips := a.spread()
	ratio := float64(len(a.OK)) / float64(len(a.Hits))
	if ips < minIPs || len(dUsers) < d.dMinUsers || dMax > d.maxAtt || ratio >= d.dRatio {
		return
	}
	ipset := map[string]int{}
	for _, h := range a.Hits {
		ipset[h.IP]++
	}
	for sip := range ipset {
		d.markSprayed(sip, dUsers, now, kind)
	}
	evidence := map[string]any{"kind": kind, "distinctIPs": ips, "distinctUsers": len(dUsers),
		"failures": len(a.Hits), "successes": len(a.OK), "maxAttemptsPerUser": dMax, "windowMinutes": d.window.Minutes(),
		"ipSample": sampleUsers(ipset, 10), "userSample": sampleUsers(dUsers, 10)}
	for k, v := range extra {
		evidence[k] = v
	}
	c.Emit(Finding{
		Key: key, IP: ev.Client.IPAddress, Country: ev.Country(),
		Title:    "Distributed password spray",
		Summary:  fmt.Sprintf("%s failed against %d users in %s", who(ips), len(dUsers), d.window),
		Evidence: evidence,
		EventIDs: hitIDs(a.Hits, 100),
	})
}

// success records a successful interactive sign-in on a tracked key.
func (k *sprayKey) success(now int64) {
	if k == nil {
		return
	}
	k.OK = append(k.OK, now)
	if len(k.OK) > 1000 {
		k.OK = k.OK[len(k.OK)-1000:]
	}
}

func hitIDs(h []sprayHit, n int) []string {
	if len(h) > n {
		h = h[len(h)-n:]
	}
	out := make([]string, len(h))
	for i, x := range h {
		out[i] = x.ID
	}
	return out
}

func (d *passwordSpray) markSprayed(ip string, users map[string]int, now int64, kind string) {
	s := d.sprayed[ip]
	d.markPart("s", ip)
	if s == nil || now-s.T > d.successWin.Milliseconds() {
		s = &sprayedSource{T: now, Users: map[string]bool{}, Kind: kind}
		d.sprayed[ip] = s
	}
	for u := range users {
		s.Users[u] = true
	}
}

func (d *passwordSpray) Prune(now time.Time) {
	ms := now.UnixMilli()
	win := d.window.Milliseconds()
	prune := func(k *sprayKey) (changed, empty bool) {
		n := len(k.Hits) + len(k.OK)
		k.slide(ms, win)
		return len(k.Hits)+len(k.OK) != n, len(k.Hits) == 0
	}
	for ip, k := range d.byIP {
		changed, empty := prune(k)
		if empty {
			delete(d.byIP, ip)
		}
		if changed || empty {
			d.markPart("i", ip)
		}
	}
	for ak, k := range d.byAgent {
		changed, empty := prune(k)
		if empty {
			delete(d.byAgent, ak)
		}
		if changed || empty {
			if d.recording() {
				d.mark(agentPart(ak))
			}
		}
	}
	for asn, k := range d.byASN {
		changed, empty := prune(k)
		if empty {
			delete(d.byASN, asn)
		}
		if changed || empty {
			if d.recording() {
				d.mark(asnPart(asn))
			}
		}
	}
	for ip, s := range d.sprayed {
		if ms-s.T > d.successWin.Milliseconds() {
			delete(d.sprayed, ip)
			d.markPart("s", ip)
		}
	}
}

type sprayState struct {
	ByIP    map[string]*sprayKey      `json:"byIp"`
	ByAgent map[string]*sprayKey      `json:"byAgent"`
	ByASN   map[int]*sprayKey         `json:"byAsn,omitempty"`
	Sprayed map[string]*sprayedSource `json:"sprayed"`
}

func (d *passwordSpray) MarshalState() ([]byte, error) {
	st := sprayState{ByIP: d.byIP, ByAgent: map[string]*sprayKey{}, ByASN: d.byASN, Sprayed: d.sprayed}
	for k, v := range d.byAgent {
		st.ByAgent[fmt.Sprint(k)] = v
	}
	return json.Marshal(st)
}

func (d *passwordSpray) UnmarshalState(b []byte) error {
	var st sprayState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	agents := map[uint32]*sprayKey{}
	for k, v := range st.ByAgent {
		var n uint32
		if _, err := fmt.Sscan(k, &n); err != nil {
			return fmt.Errorf("agent key %q: %w", k, err)
		}
		agents[n] = v
	}
	if st.ByIP != nil {
		d.byIP = st.ByIP
	}
	d.byAgent = agents
	d.byASN = map[int]*sprayKey{}
	if st.ByASN != nil {
		d.byASN = st.ByASN
	}
	if st.Sprayed != nil {
		d.sprayed = st.Sprayed
	}
	return nil
}

// The state is one entry per failure source — "i/<ip>", "a/<agent key>",
// "n/<asn>", each at most 5,000 failures in the window — and per sprayed
// source, "s/<ip>" (entryState). MarshalState / UnmarshalState keep the
// whole form of older versions loadable.

func agentPart(k uint32) string { return partKey("a", strconv.FormatUint(uint64(k), 10)) }
func asnPart(asn int) string    { return partKey("n", strconv.Itoa(asn)) }

func (d *passwordSpray) stateEntryKeys() []string {
	out := make([]string, 0, len(d.byIP)+len(d.byAgent)+len(d.byASN)+len(d.sprayed))
	out = appendPartKeys(out, "i", d.byIP)
	out = appendPartKeys(out, "s", d.sprayed)
	for k := range d.byAgent {
		out = append(out, agentPart(k))
	}
	for k := range d.byASN {
		out = append(out, asnPart(k))
	}
	return out
}

func (d *passwordSpray) marshalEntry(key string) ([]byte, bool, error) {
	part, k, _ := splitPartKey(key)
	switch part {
	case "i":
		return lookupEntry(d.byIP, k)
	case "s":
		return lookupEntry(d.sprayed, k)
	case "a":
		n, err := strconv.ParseUint(k, 10, 32)
		if err != nil {
			return nil, false, fmt.Errorf("agent key %q: %w", k, err)
		}
		v := d.byAgent[uint32(n)]
		return jsonEntry(v, v != nil)
	case "n":
		n, err := strconv.Atoi(k)
		if err != nil {
			return nil, false, fmt.Errorf("asn key %q: %w", k, err)
		}
		v := d.byASN[n]
		return jsonEntry(v, v != nil)
	}
	return nil, false, nil
}

func (d *passwordSpray) unmarshalEntries(m map[string][]byte) error {
	return loadEntries(m, func(part, k string, b []byte) error {
		switch part {
		case "s":
			return decodeInto(b, func(s *sprayedSource) { d.sprayed[k] = s })
		case "i":
			return decodeInto(b, func(sk *sprayKey) { d.byIP[k] = sk })
		case "a":
			n, err := strconv.ParseUint(k, 10, 32)
			if err != nil {
				return err
			}
			return decodeInto(b, func(sk *sprayKey) { d.byAgent[uint32(n)] = sk }) // #nosec G115 -- ParseUint with bitSize 32
		case "n":
			n, err := strconv.Atoi(k)
			if err != nil {
				return err
			}
			return decodeInto(b, func(sk *sprayKey) { d.byASN[n] = sk })
		}
		return errUnknownEntry
	})
}
