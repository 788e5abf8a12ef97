package detect

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var mfaFatigueRegistration = Registration{
	Info: Info{
		ID:       "mfa_fatigue",
		Title:    "MFA fatigue (push bombing)",
		Severity: SeverityHigh,
		MITRE:    []string{"T1621"},
		Description: "A user receives at least 5 denied or unanswered Okta Verify pushes (or MFA failures) " +
			"within 15 minutes; critical when a successful MFA follows within 30 minutes.",
	},
	Params: []Param{
		{"window", 15 * time.Minute, "sliding window for denied / unanswered pushes"},
		{"minBad", 5, "denied or unanswered pushes (or MFA failures) in the window"},
		{"successWindow", 30 * time.Minute, "escalate to critical when an MFA success follows within this time"},
	},
	Rearm: 24 * time.Hour,
	New: func(p Params) (Detector, error) {
		d := &mfaFatigue{window: p.Duration("window"), minBad: p.Int("minBad"), successWin: p.Duration("successWindow"), users: map[string]*mfaUser{}}
		if d.window <= 0 || d.minBad < 1 {
			return nil, fmt.Errorf("params.window and params.minBad must be positive")
		}
		return d, nil
	},
}

const (
	mfaSent byte = iota + 1
	mfaDeny
	mfaFail
	mfaOK
)

type mfaHit struct {
	T  int64  `json:"t"` // unix ms
	K  byte   `json:"k"`
	IP string `json:"ip"`
	ID string `json:"i"`
}

type mfaUser struct {
	Hits    []mfaHit `json:"h"`
	AlertT  int64    `json:"a,omitempty"` // last fatigue alert (ms), for the success escalation
	AlertIP []string `json:"ai,omitempty"`
	AlertID string   `json:"aid,omitempty"`
}

type mfaFatigue struct {
	window, successWin time.Duration
	minBad             int
	users              map[string]*mfaUser
	changeSet          // users changed since the last state save (entry key "u/<login>")
}

func mfaKind(ev *event.Event) byte {
	switch ev.EventType {
	case "system.push.send_factor_verify_push":
		return mfaSent
	case "user.mfa.okta_verify.deny_push", "user.mfa.okta_verify.deny_push_upgrade_needed":
		return mfaDeny
	case "user.authentication.auth_via_mfa":
		if ev.IsFailure() {
			return mfaFail
		}
		if ev.IsSuccess() {
			return mfaOK
		}
	case "user.authentication.verify":
		// Okta Identity Engine logs factor verification here
		if ev.IsSuccess() {
			if f := ev.Debug.Str("factor"); f != "" && f != "PASSWORD_AS_FACTOR" {
				return mfaOK
			}
		}
	}
	return 0
}

func (d *mfaFatigue) Handle(c *Context, ev *event.Event) {
	k := mfaKind(ev)
	if k == 0 || !isUserActor(ev) {
		return
	}
	login := normLogin(ev.Actor.AlternateID)
	now := c.Now.UnixMilli()
	u := d.users[login]
	if u == nil {
		if k == mfaOK {
			return
		}
		u = &mfaUser{}
		d.users[login] = u
	}
	d.markPart("u", login)
	ip := ev.Client.IPAddress
	u.Hits = append(u.Hits, mfaHit{T: now, K: k, IP: ip, ID: ev.UUID})
	win := d.window.Milliseconds()
	i := 0
	for i < len(u.Hits) && now-u.Hits[i].T > max(win, d.successWin.Milliseconds()) {
		i++
	}
	u.Hits = u.Hits[i:]
	if len(u.Hits) > 500 {
		u.Hits = u.Hits[len(u.Hits)-500:]
	}
	if k == mfaOK {
		if u.AlertT > 0 && now >= u.AlertT && now-u.AlertT <= d.successWin.Milliseconds() {
			pushIPs := u.AlertIP
			mismatch := true
			for _, p := range pushIPs {
				if p == ip {
					mismatch = false
				}
			}
			// the burst's incident, escalated (one alert, now critical)
			c.Emit(Finding{
				Severity: SeverityCritical, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ip, Country: ev.Country(),
				Title:   "MFA fatigue followed by a successful MFA",
				Summary: fmt.Sprintf("%s approved MFA %s after a push-bombing burst", ev.Actor.AlternateID, roundDur(time.Duration(now-u.AlertT)*time.Millisecond)),
				Evidence: map[string]any{"pushSourceIps": pushIPs, "successIp": ip, "ipMismatch": mismatch,
					"fatigueAlertAt": time.UnixMilli(u.AlertT).UTC().Format(time.RFC3339), "successWindowMinutes": d.successWin.Minutes()},
				EventIDs: []string{u.AlertID, ev.UUID},
			})
			u.AlertT = 0
		}
		return
	}
	var sent, deny, fail, ok int
	ipset := map[string]int{}
	var ids []string
	for _, h := range u.Hits {
		if now-h.T > win || h.T > now {
			continue
		}
		switch h.K {
		case mfaSent:
			sent++
			ipset[h.IP]++
		case mfaDeny:
			deny++
		case mfaFail:
			fail++
		case mfaOK:
			ok++
		}
		if h.K != mfaOK {
			ids = append(ids, h.ID)
		}
	}
	refused := max(deny, fail)
	unanswered := max(0, sent-refused-ok)
	bad := refused + unanswered
	if bad < d.minBad {
		return
	}
	ips := sortedKeys(ipset)
	sort.Strings(ips)
	if len(ids) > 100 {
		ids = ids[len(ids)-100:]
	}
	first := u.AlertT == 0 || now-u.AlertT > win
	if first {
		u.AlertT, u.AlertIP, u.AlertID = now, ips, ev.UUID
	}
	c.Emit(Finding{
		Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: firstOr(ips, ip), Country: ev.Country(),
		Title: "MFA fatigue (push bombing)",
		Summary: fmt.Sprintf("%s received %d denied or unanswered MFA prompts in %s (%d pushes, %d denied, %d failed)",
			ev.Actor.AlternateID, bad, d.window, sent, deny, fail),
		Evidence: map[string]any{"pushesSent": sent, "denied": deny, "mfaFailures": fail, "unanswered": unanswered,
			"approved": ok, "badInWindow": bad, "threshold": d.minBad, "windowMinutes": d.window.Minutes(), "pushSourceIps": ips},
		EventIDs: ids,
	})
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func (d *mfaFatigue) Prune(now time.Time) {
	ms := now.UnixMilli()
	keep := max(d.window, d.successWin).Milliseconds()
	for k, u := range d.users {
		if (len(u.Hits) == 0 || ms-u.Hits[len(u.Hits)-1].T > keep) && ms-u.AlertT > keep {
			delete(d.users, k)
			d.markPart("u", k)
		}
	}
}

func (d *mfaFatigue) MarshalState() ([]byte, error) { return json.Marshal(d.users) }

func (d *mfaFatigue) UnmarshalState(b []byte) error {
	m := map[string]*mfaUser{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, u := range m {
		if u == nil {
			delete(m, k)
		}
	}
	d.users = m
	return nil
}

// The state is one entry per user (entryState), "u/<login>".
// MarshalState / UnmarshalState keep the whole form of older versions
// loadable.

func (d *mfaFatigue) stateEntryKeys() []string {
	return appendPartKeys(make([]string, 0, len(d.users)), "u", d.users)
}

func (d *mfaFatigue) marshalEntry(key string) ([]byte, bool, error) {
	if part, login, ok := splitPartKey(key); ok && part == "u" {
		return lookupEntry(d.users, login)
	}
	return nil, false, nil
}

func (d *mfaFatigue) unmarshalEntries(m map[string][]byte) error {
	return loadEntries(m, func(part, login string, b []byte) error {
		if part != "u" {
			return errUnknownEntry
		}
		return decodeInto(b, func(u *mfaUser) { d.users[login] = u })
	})
}
