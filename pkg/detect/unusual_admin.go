package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var unusualAdminRegistration = Registration{
	Info: Info{
		ID:       "unusual_admin",
		Title:    "Unusual administrative activity",
		Severity: SeverityMedium,
		MITRE:    []string{"T1098", "T1078.004", "T1484"},
		Description: "Administrative activity unlike the actor's 30-day baseline: an admin event type never " +
			"used, a per-session volume spike, admin work from outside the trusted ranges the actor " +
			"normally uses, admin work in a session Okta flags as new device + new IP, the Admin Console reached from a " +
			"sign-in Okta flags New Device with New IP or New Geo-Location, or a self-granted role.",
	},
	Params: []Param{
		{"volumeMinEvents", 10, "a session spike needs at least this many admin events"},
		{"volumeZ", 3.0, "... and a z-score above this against the actor's past sessions"},
		{"sessionGap", 30 * time.Minute, "admin events further apart start a new session when Okta gives no session id"},
		{"newAdminGrace", 7 * 24 * time.Hour, "after someone else grants the actor a role, the volume check only learns for this long"},
		{"changeWindows", []string(nil), "change windows \"<RFC3339 start>/<RFC3339 end>\" during which new types and volume do not alert"},
		{"checkUntrustedIP", false, "MDCA's template: alert when an actor who administers from trusted ranges does so from elsewhere (off: admins work from home; admin_activity_untrusted_ip alerts on networks new to the admin instead)"},
		{"checkNewNetwork", true, "alert on admin work from a network new to the admin (its /24 or /64, or ISP and country, learned from its sign-ins over 30 days) or from an anonymous, suspicious or risky address"},
		{"knownDevice", true, "admin work from a network new to the admin is info when Okta signed the session in from a known device and place (New Device and New Geo-Location NEGATIVE), outside hosting providers and with no attack signal; false: medium"},
		{"consoleRiskWindow", 12 * time.Hour, "Admin Console access within this time of a sign-in (same session or IP) that Okta flags New Device with New IP or New Geo-Location alerts (0: off)"},
		{"routineInfo", true, "first use of a routine admin action (user lifecycle, group membership, profiles, app assignments) raises an info alert; false: none"},
	},
	Rearm: 24 * time.Hour,
	// one incident per admin covers every condition, so it must not chain
	// for days while the admin keeps matching: the window counts from the
	// incident's first match, and a match a day later opens a new alert
	FixedDedup: true,
	New:        newUnusualAdmin,
}

type typeDay struct {
	T string `json:"t"`
	D uint16 `json:"d"`
}

type adminActor struct {
	First    int64        `json:"f"`
	Types    []typeDay    `json:"ty"`
	SessKey  uint32       `json:"sk"`
	SessN    uint16       `json:"sn"`
	SessT    int64        `json:"st"`
	Sess     []uint16     `json:"ss,omitempty"` // finished session volumes (<= 32)
	Trusted  uint16       `json:"tr,omitempty"` // last day with admin activity from a trusted range
	Granted  int64        `json:"g,omitempty"`  // last role grant by someone else
	HourBits [2][3]uint64 `json:"hb"`           // hours of week active: current and previous 15-day epoch
	Epoch    uint16       `json:"e"`
}

type unusualAdmin struct {
	minVol       int
	z            float64
	gap, grace   time.Duration
	windows      [][2]time.Time
	untrusted    bool
	routineInfo  bool
	newNetwork   bool
	knownDevice  bool
	actors       map[string]*adminActor
	pendingGrant map[string]int64 // target login -> grant time, for actors not yet seen
	consoleWin   time.Duration
	// riskySignIn: the latest sign-in per user that Okta flagged New
	// Device with New IP or New Geo-Location, kept consoleWin
	riskySignIn map[string]*riskySignIn
	// entries changed since the last state save: "a/<actor key>",
	// "g/<login>" (pending grant), "r/<login>" (risky sign-in)
	changeSet
}

type riskySignIn struct {
	T     int64             `json:"t"` // unix ms
	Sess  uint32            `json:"s"` // hash of the session id (0: none)
	IP    string            `json:"ip"`
	ID    string            `json:"id"` // uuid of the sign-in event
	Flags map[string]string `json:"b"`  // Okta's behaviours on it
}

func newUnusualAdmin(p Params) (Detector, error) {
	d := &unusualAdmin{minVol: p.Int("volumeMinEvents"), z: p.Float("volumeZ"), gap: p.Duration("sessionGap"),
		grace: p.Duration("newAdminGrace"), untrusted: p.Bool("checkUntrustedIP"), routineInfo: p.Bool("routineInfo"), newNetwork: p.Bool("checkNewNetwork"), knownDevice: p.Bool("knownDevice"),
		actors: map[string]*adminActor{}, pendingGrant: map[string]int64{},
		consoleWin: p.Duration("consoleRiskWindow"), riskySignIn: map[string]*riskySignIn{}}
	for i, w := range p.Strings("changeWindows") {
		a, b, ok := strings.Cut(w, "/")
		t1, err1 := time.Parse(time.RFC3339, strings.TrimSpace(a))
		t2, err2 := time.Parse(time.RFC3339, strings.TrimSpace(b))
		if !ok || err1 != nil || err2 != nil || !t2.After(t1) {
			return nil, fmt.Errorf("params.changeWindows[%d]: %q is not \"<RFC3339 start>/<RFC3339 end>\"", i, w)
		}
		d.windows = append(d.windows, [2]time.Time{t1, t2})
	}
	return d, nil
}

// adminImpact classes an admin event type by what it can do: first use of
// a high-impact type alerts high, of a routine one (user lifecycle, group
// membership, profiles, app assignments) is info at most, of any other
// type medium.
type adminImpact int

const (
	impactRoutine adminImpact = iota
	impactOther
	impactHigh
)

// highImpactAdmin: policies and rules, other users' authenticators and
// factors, API tokens, zones, IdPs, log streams, roles, protected actions,
// client secrets.
var highImpactAdmin = []string{"user.account.privilege.", "group.privilege.", "iam.", "system.idp.", "policy.",
	"application.policy.sign_on.", "system.api_token.", "security.protected_action.", "system.log_stream.", "zone.",
	"network_zone.", "user.mfa.factor.", "user.authenticator.", "system.mfa.factor.", "security.authenticator.",
	"app.oauth2.client.read_client_secret", "application.user_membership.show_password", "system.agent.ad.",
	"event_hook.", "system.event_hook."}

// routineAdmin: day-to-day administration.
var routineAdminTypes = []string{"user.lifecycle.", "group.user_membership.", "user.account.update_profile", "group.profile.",
	"group.lifecycle.create", "application.user_membership.add", "application.user_membership.remove",
	"application.user_membership.update", "user.account.unlock", "user.account.reset_password", "user.account.expire_password"}

func impactOf(t string) adminImpact {
	for _, p := range highImpactAdmin {
		if strings.HasPrefix(t, p) {
			return impactHigh
		}
	}
	for _, p := range routineAdminTypes {
		if strings.HasPrefix(t, p) {
			return impactRoutine
		}
	}
	return impactOther
}

func isRoleGrant(t string) bool {
	return t == "user.account.privilege.grant" || t == "group.privilege.grant" || strings.HasPrefix(t, "iam.role.assignment")
}

func (d *unusualAdmin) inChangeWindow(t time.Time) bool {
	for _, w := range d.windows {
		if !t.Before(w[0]) && t.Before(w[1]) {
			return true
		}
	}
	return false
}

// oktaRiskBehaviors reports a sign-in Okta's own behaviour detection flags
// as a new device together with a new IP or a new geo-location.
func oktaRiskBehaviors(ev *event.Event) bool {
	return behavior(ev, "New Device") && (behavior(ev, "New IP") || behavior(ev, "New Geo-Location"))
}

// isAdminConsole reports an event about the Okta Admin Console app (its
// target app instance), or the console access itself.
func isAdminConsole(ev *event.Event) bool {
	if ev.EventType == "user.session.access_admin_app" {
		return true
	}
	for i := range ev.Targets {
		t := &ev.Targets[i]
		if t.Type == "AppInstance" && (strings.Contains(t.DisplayName, "Admin Console") || strings.EqualFold(t.AlternateID, "saasure") || strings.Contains(t.AlternateID, "Admin Console")) {
			return true
		}
	}
	return false
}

// adminConsoleRisk (issue 11: Okta's own risk behaviours on sign-ins to
// the Admin Console): remembers each user's latest sign-in that Okta
// flags New Device with New IP or New Geo-Location, and alerts when the
// same session or address reaches the Admin Console within consoleWin —
// or when the Admin Console sign-on itself carries the flags. Gated on the
// user's learning period like the other conditions (Okta's first
// sign-ins of a user are all "new").
func (d *unusualAdmin) adminConsoleRisk(c *Context, ev *event.Event) {
	if d.consoleWin <= 0 || !isPerson(ev) || ev.IsFailure() {
		return
	}
	login := normLogin(ev.Actor.AlternateID)
	now := c.Now.UnixMilli()
	sess := uint32(0)
	if s := ev.SessionID(); s != "" {
		sess = hash32(s)
	}
	risky := oktaRiskBehaviors(ev)
	console := isAdminConsole(ev)
	if risky && !console {
		switch ev.EventType {
		case "user.session.start", "policy.evaluate_sign_on", "user.authentication.sso", "user.authentication.auth_via_mfa", "user.authentication.verify":
			d.riskySignIn[login] = &riskySignIn{T: now, Sess: sess, IP: ev.Client.IPAddress, ID: ev.UUID, Flags: ev.Debug.Behaviors}
			d.markPart("r", login)
		}
		return
	}
	if !console {
		return
	}
	r := d.riskySignIn[login]
	if risky {
		r = &riskySignIn{T: now, Sess: sess, IP: ev.Client.IPAddress, ID: ev.UUID, Flags: ev.Debug.Behaviors}
	}
	if r == nil || now-r.T > d.consoleWin.Milliseconds() || now < r.T || !(r.Sess != 0 && r.Sess == sess || r.IP == ev.Client.IPAddress) {
		return
	}
	ids := []string{ev.UUID}
	if r.ID != ev.UUID {
		ids = []string{r.ID, ev.UUID}
	}
	// the same incident as (c): the admin's access comes from somewhere
	// new (one alert, updated, rather than one per condition)
	c.Emit(Finding{Severity: SeverityHigh, Title: "Admin Console reached from a sign-in Okta flags as risky",
		Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ev.Client.IPAddress, Country: ev.Country(),
		Summary: fmt.Sprintf("%s reached the Admin Console (%s) from %s in a sign-in Okta flags %s", ev.Actor.AlternateID, ev.EventType,
			ev.Client.IPAddress, flaggedBehaviors(r.Flags)),
		Evidence: map[string]any{"condition": "admin_console_okta_risk", "behaviors": r.Flags, "signInAt": time.UnixMilli(r.T).UTC().Format(time.RFC3339),
			"asn": asnOf(ev), "hosting": isCloud(ev), "eventType": ev.EventType},
		EventIDs: ids, Learn: LearnUser})
}

// flaggedBehaviors lists the POSITIVE behaviours, sorted.
func flaggedBehaviors(b map[string]string) string {
	var out []string
	for k, v := range b {
		if strings.EqualFold(v, "POSITIVE") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " + ")
}

func (d *unusualAdmin) Handle(c *Context, ev *event.Event) {
	d.adminConsoleRisk(c, ev)
	if !ev.IsAdminAction() || ev.IsOktaInternal() || ev.Actor.AlternateID == "" || ev.IsFailure() {
		return
	}
	login := normLogin(ev.Actor.AlternateID)
	key := login
	automation := ev.Actor.Type != "User" || ev.IsAPITokenRequest()
	if automation {
		key = "auto:" + login // separate baseline for automation
	}
	now := c.Now.Unix()
	nowMs := c.Now.UnixMilli()
	today := c.today()
	base := func(f Finding) Finding {
		f.Actor, f.ActorID, f.IP, f.Country = ev.Actor.AlternateID, ev.Actor.ID, ev.Client.IPAddress, ev.Country()
		f.EventIDs = []string{ev.UUID}
		if f.Evidence == nil {
			f.Evidence = map[string]any{}
		}
		f.Evidence["eventType"] = ev.EventType
		f.Evidence["automation"] = automation
		return f
	}
	// role grants: self-grant alerts; a grant to someone else starts the
	// target's new-admin grace period
	if isRoleGrant(ev.EventType) {
		for _, t := range ev.Targets {
			if t.Type != "User" {
				continue
			}
			if (t.ID != "" && t.ID == ev.Actor.ID) || strings.EqualFold(t.AlternateID, ev.Actor.AlternateID) {
				c.Emit(base(Finding{Severity: SeverityHigh, Title: "Administrator granted a role to itself",
					Summary:  fmt.Sprintf("%s granted itself an administrator role (%s)", ev.Actor.AlternateID, ev.EventType),
					Evidence: map[string]any{"condition": "self_grant", "target": t.AlternateID}}))
			} else if t.AlternateID != "" {
				tl := normLogin(t.AlternateID)
				if a := d.actors[tl]; a != nil {
					a.Granted = max(a.Granted, now)
					d.markPart("a", tl)
				} else {
					d.pendingGrant[tl] = now
					d.markPart("g", tl)
				}
			}
		}
	}
	a := d.actors[key]
	d.markPart("a", key) // created or updated below
	isNew := a == nil
	if isNew {
		a = &adminActor{First: now, Epoch: today / 15}
		if g, ok := d.pendingGrant[login]; ok && !automation {
			a.Granted = g
			delete(d.pendingGrant, login)
			d.markPart("g", login)
		}
		d.actors[key] = a
	}
	learning := now-a.First < int64(c.e.opts.learningPeriod/time.Second) || c.TenantLearning()
	changeWin := d.inChangeWindow(c.Now)

	// (a) an admin event type never used by the actor in 30 days
	known := false
	for i := range a.Types {
		if a.Types[i].T == ev.EventType {
			known = inWindow(today, a.Types[i].D)
			a.Types[i].D = max(a.Types[i].D, today)
			break
		}
	}
	if !known {
		found := false
		for i := range a.Types {
			if a.Types[i].T == ev.EventType {
				found = true
			}
		}
		if !found {
			a.Types = append(a.Types, typeDay{T: ev.EventType, D: today})
		}
		if !learning && !changeWin {
			sev, impact := SeverityMedium, "other"
			switch impactOf(ev.EventType) {
			case impactHigh:
				sev, impact = SeverityHigh, "high"
			case impactRoutine:
				sev, impact = SeverityInfo, "routine"
			}
			if sev != SeverityInfo || d.routineInfo {
				c.Emit(base(Finding{Severity: sev, Title: "Admin action new for this actor",
					Summary: fmt.Sprintf("%s performed %s, an admin action not seen from this actor in 30 days (%s impact)", ev.Actor.AlternateID, ev.EventType, impact),
					Evidence: map[string]any{"condition": "new_event_type", "impact": impact, "knownTypes30d": typeNames(a.Types, today, ev.EventType),
						"actorAdminSince": time.Unix(a.First, 0).UTC().Format(time.RFC3339)},
					Targets: []string{ev.EventType}}))
			}
		}
	}

	// (b) per-session volume
	sk := uint32(0)
	if s := ev.SessionID(); s != "" {
		sk = hash32(s)
	}
	if sk != a.SessKey || nowMs-a.SessT > d.gap.Milliseconds() || a.SessN == 0 {
		if a.SessN > 0 {
			a.Sess = append(a.Sess, a.SessN)
			if len(a.Sess) > 32 {
				a.Sess = a.Sess[len(a.Sess)-32:]
			}
		}
		a.SessKey, a.SessN = sk, 0
	}
	if a.SessN < 65535 {
		a.SessN++
	}
	a.SessT = max(a.SessT, nowMs)
	if int(a.SessN) >= d.minVol && !learning && !changeWin {
		mean, sd := meanSD(a.Sess)
		z := (float64(a.SessN) - mean) / math.Max(sd, 1)
		newAdmin := a.Granted > 0 && now-a.Granted < int64(d.grace/time.Second)
		if z > d.z && !newAdmin {
			c.Emit(base(Finding{Severity: SeverityMedium, Title: "Spike of admin activity in one session",
				Summary: fmt.Sprintf("%s performed %d admin actions in one session (usual %.1f ± %.1f, z=%.1f)", ev.Actor.AlternateID, a.SessN, mean, sd, z),
				Evidence: map[string]any{"condition": "session_volume", "sessionEvents": a.SessN, "baselineMean": round2(mean),
					"baselineStdDev": round2(sd), "z": round2(z), "thresholdZ": d.z, "minEvents": d.minVol, "pastSessions": len(a.Sess)}}))
		}
	}

	// (c) admin work from a network new to the admin (its prefix, or its
	// ISP and country, not among the networks it signed in from over 30
	// days before today), or from an anonymous / suspicious / risky address
	trusted := isTrusted(ev)
	if d.newNetwork && !trusted && !automation && ev.Client.IPAddress != "" && !learning {
		sig := attackSignal(ev)
		familiar, _ := c.NetworkFamiliar(ev, true)
		if sig != "" || !familiar {
			sev, why := SeverityMedium, "network new to this admin"
			knownDev := false
			if sig != "" {
				sev, why = SeverityHigh, "hostile address ("+sig+")"
			} else if d.knownDevice && !isCloud(ev) && c.SessionDeviceKnown(ev) {
				sev, why, knownDev = SeverityInfo, "network new to this admin, on the device and in the place Okta knows for this session", true
			}
			c.Emit(base(Finding{Severity: sev, Title: "Admin activity from a new or hostile network",
				Summary: fmt.Sprintf("%s performed %s from %s (%s, AS %d): %s", ev.Actor.AlternateID, ev.EventType, ev.Client.IPAddress,
					orDefault(ev.Country(), "unknown country"), asnOf(ev), why),
				Evidence: map[string]any{"condition": "new_network", "asn": asnOf(ev), "hosting": isCloud(ev), "attackSignal": sig,
					"familiarNetwork": familiar, "knownDevice": knownDev}, Learn: LearnUser}))
		}
	}
	// (c') Defender's template, off by default: outside the trusted ranges
	// the actor normally administers from
	if d.untrusted && !trusted && a.Trusted != 0 && inWindow(today, a.Trusted) && !automation {
		c.Emit(base(Finding{Severity: SeverityMedium, Title: "Admin activity from a non-corporate IP",
			Summary: fmt.Sprintf("%s performed %s from %s, outside the trusted ranges used for admin work", ev.Actor.AlternateID, ev.EventType, ev.Client.IPAddress),
			Evidence: map[string]any{"condition": "untrusted_ip", "lastTrustedAdminDay": time.Unix(int64(a.Trusted)*secondsPerDay, 0).UTC().Format("2006-01-02"),
				"asn": asnOf(ev), "categories": categoryNames(ev.IP.Categories)}}))
	}
	if trusted {
		a.Trusted = today
	}

	// (d) session flagged New Device + New IP
	if behavior(ev, "New Device") && behavior(ev, "New IP") {
		c.Emit(base(Finding{Severity: SeverityHigh, Title: "Admin activity from a new device and IP",
			Summary:  fmt.Sprintf("%s performed %s in a session Okta flags New Device and New IP", ev.Actor.AlternateID, ev.EventType),
			Evidence: map[string]any{"condition": "new_device_and_ip", "behaviors": ev.Debug.Behaviors},
			Learn:    LearnUser}))
	}

	// hours of week (evidence for analysts; 2 × 15-day epochs ≈ 30 days)
	if ep := today / 15; ep != a.Epoch {
		if ep == a.Epoch+1 {
			a.HourBits[1] = a.HourBits[0]
		} else {
			a.HourBits[1] = [3]uint64{}
		}
		a.HourBits[0] = [3]uint64{}
		a.Epoch = ep
	}
	how := int(c.Now.UTC().Weekday())*24 + c.Now.UTC().Hour()
	a.HourBits[0][how/64] |= 1 << (how % 64)
}

func typeNames(ts []typeDay, today uint16, except string) []string {
	out := []string{}
	for _, t := range ts {
		if t.T != except && inWindow(today, t.D) {
			out = append(out, t.T)
		}
	}
	return out
}

func meanSD(xs []uint16) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	var s, q float64
	for _, x := range xs {
		s += float64(x)
		q += float64(x) * float64(x)
	}
	n := float64(len(xs))
	m := s / n
	return m, math.Sqrt(math.Max(0, q/n-m*m))
}

func (d *unusualAdmin) Prune(now time.Time) {
	today := day(now.Unix())
	for k, a := range d.actors {
		keep := a.Types[:0]
		for _, t := range a.Types {
			if inWindow(today, t.D) || t.D > today {
				keep = append(keep, t)
			}
		}
		if len(keep) != len(a.Types) {
			d.markPart("a", k)
		}
		a.Types = keep
		if len(a.Types) == 0 && now.UnixMilli()-a.SessT > 30*secondsPerDay*1000 {
			delete(d.actors, k)
			d.markPart("a", k)
		}
	}
	for k, t := range d.pendingGrant {
		if now.Unix()-t > int64(d.grace/time.Second) {
			delete(d.pendingGrant, k)
			d.markPart("g", k)
		}
	}
	for k, r := range d.riskySignIn {
		if now.UnixMilli()-r.T > d.consoleWin.Milliseconds() {
			delete(d.riskySignIn, k)
			d.markPart("r", k)
		}
	}
}

type adminState struct {
	Actors  map[string]*adminActor  `json:"actors"`
	Granted map[string]int64        `json:"granted"`
	Risky   map[string]*riskySignIn `json:"risky,omitempty"`
}

func (d *unusualAdmin) MarshalState() ([]byte, error) {
	return json.Marshal(adminState{d.actors, d.pendingGrant, d.riskySignIn})
}

func (d *unusualAdmin) UnmarshalState(b []byte) error {
	var st adminState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	if st.Actors != nil {
		d.actors = st.Actors
	}
	if st.Granted != nil {
		d.pendingGrant = st.Granted
	}
	if st.Risky != nil {
		d.riskySignIn = st.Risky
	}
	return nil
}

// The state is one entry per admin actor ("a/<actor key>"), pending grant
// ("g/<login>") and risky sign-in ("r/<login>") (entryState).
// MarshalState / UnmarshalState keep the whole form of older versions
// loadable.

func (d *unusualAdmin) stateEntryKeys() []string {
	out := make([]string, 0, len(d.actors)+len(d.pendingGrant)+len(d.riskySignIn))
	out = appendPartKeys(out, "a", d.actors)
	out = appendPartKeys(out, "g", d.pendingGrant)
	return appendPartKeys(out, "r", d.riskySignIn)
}

func (d *unusualAdmin) marshalEntry(key string) ([]byte, bool, error) {
	part, k, _ := splitPartKey(key)
	switch part {
	case "a":
		return lookupEntry(d.actors, k)
	case "g":
		t, ok := d.pendingGrant[k]
		return jsonEntry(t, ok)
	case "r":
		return lookupEntry(d.riskySignIn, k)
	}
	return nil, false, nil
}

func (d *unusualAdmin) unmarshalEntries(m map[string][]byte) error {
	return loadEntries(m, func(part, k string, b []byte) error {
		switch part {
		case "a":
			return decodeInto(b, func(a *adminActor) { d.actors[k] = a })
		case "g":
			return decodeInto(b, func(t *int64) { d.pendingGrant[k] = *t })
		case "r":
			return decodeInto(b, func(r *riskySignIn) { d.riskySignIn[k] = r })
		}
		return errUnknownEntry
	})
}
