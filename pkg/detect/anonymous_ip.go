package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var anonymousIPRegistration = Registration{
	Info: Info{
		ID:       "anonymous_ip",
		Title:    "Activity from anonymous IP address",
		Severity: SeverityMedium,
		MITRE:    []string{"T1078.004", "T1090", "T1090.003"},
		Description: "A successful interactive sign-in from an anonymizer: Okta's isProxy, an anonymous " +
			"tunnel, a Tor exit, an anonymous VPN / public proxy, or the `anonymous` IP list.",
	},
	Params: []Param{
		{"sharedOperatorUsers", 5, "an operator / ISP used by at least this many users in 30 days is treated as mis-tagged egress"},
		{"privateRelay", "info", "Apple iCloud Private Relay: info (alert at severity info), ignore, or alert"},
		{"escalationWindow", 30 * time.Minute, "raise a high-severity follow-up when admin activity follows within this window"},
	},
	Rearm:      7 * 24 * time.Hour,
	FixedDedup: true,
	New:        newAnonymousIP,
}

type anonPending struct {
	T     int64  `json:"t"`
	IP    string `json:"ip"`
	UUID  string `json:"id"`
	Cause string `json:"c"`
}

type anonymousIP struct {
	sharedUsers int
	relay       string
	escalation  time.Duration
	operators   map[string]map[string]uint16 // operator -> user -> last day
	pending     map[string]*anonPending      // user -> last anonymous sign-in that alerted
	changeSet                                // users whose operators or pending sign-in changed since the last state save ("u/<login>")
}

func newAnonymousIP(p Params) (Detector, error) {
	relay := strings.ToLower(p.String("privateRelay"))
	switch relay {
	case "info", "ignore", "alert":
	default:
		return nil, fmt.Errorf("params.privateRelay: %q is not one of info, ignore, alert", p.String("privateRelay"))
	}
	return &anonymousIP{sharedUsers: p.Int("sharedOperatorUsers"), relay: relay, escalation: p.Duration("escalationWindow"),
		operators: map[string]map[string]uint16{}, pending: map[string]*anonPending{}}, nil
}

func (d *anonymousIP) Handle(c *Context, ev *event.Event) {
	login := normLogin(ev.Actor.AlternateID)
	if p := d.pending[login]; p != nil && ev.IsAdminAction() && ev.IsSuccess() {
		if el := c.Now.Unix() - p.T; el >= 0 && el <= int64(d.escalation/time.Second) {
			c.Emit(Finding{
				Key: "escalation", Severity: SeverityHigh, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID,
				IP: p.IP, Country: ev.Country(),
				Title: "Admin activity after anonymous sign-in",
				Summary: fmt.Sprintf("%s performed %s %s after signing in from anonymous IP %s",
					ev.Actor.AlternateID, ev.EventType, roundDur(time.Duration(el)*time.Second), p.IP),
				Evidence: map[string]any{"anonymousIp": p.IP, "signal": p.Cause, "adminEventType": ev.EventType,
					"adminIp": ev.Client.IPAddress, "elapsedMinutes": el / 60, "windowMinutes": d.escalation.Minutes()},
				EventIDs: []string{p.UUID, ev.UUID},
				Learn:    LearnUser,
			})
			delete(d.pending, login)
			d.markPart("u", login)
		}
	}
	candidate := ev.IsInteractiveSignIn() ||
		(c.Sensitivity() == SensitivityHigh && ev.IsSuccess() && isUserActor(ev))
	if !candidate {
		return
	}
	cause := anonymousSignal(ev)
	relay := cause == "" && !isTrusted(ev) && isPrivateRelay(ev)
	if cause == "" && !(relay && d.relay != "ignore") {
		return
	}
	op := anonOperator(ev)
	if relay && op == "" {
		op = "iCloud Private Relay"
	}
	shared := 0
	if op != "" {
		key := strings.ToLower(op)
		m := d.operators[key]
		if m == nil {
			m = map[string]uint16{}
			d.operators[key] = m
		}
		for u, dd := range m {
			if u != login && inWindow(c.today(), dd) {
				shared++
			}
		}
		m[login] = c.today()
		d.markPart("u", login)
	}
	// system suppression: an operator many users share is mis-tagged
	// corporate egress (MDCA's learned behaviour); not for Tor or lists
	if d.sharedUsers > 0 && shared >= d.sharedUsers && cause != "tor" {
		return
	}
	sev, key := SeverityMedium, ""
	if relay {
		cause, key = "private_relay", "private_relay"
		if d.relay == "info" {
			sev = SeverityInfo
		}
	}
	var tunnels []map[string]any
	for _, t := range ev.Debug.Tunnels {
		tunnels = append(tunnels, map[string]any{"operator": t.Operator, "type": t.Type, "anonymous": t.Anonymous})
	}
	c.Emit(Finding{
		Key: key, Severity: sev, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ev.Client.IPAddress, Country: ev.Country(),
		Title:   "Activity from anonymous IP address",
		Summary: fmt.Sprintf("%s signed in from anonymous IP %s (%s%s)", ev.Actor.AlternateID, ev.Client.IPAddress, cause, opSuffix(op)),
		Evidence: map[string]any{
			"signal":           cause,
			"operator":         op,
			"tunnels":          tunnels,
			"oktaIsProxy":      ev.Security.IsProxy,
			"asn":              asnOf(ev),
			"operatorUsers30d": shared,
			"eventType":        ev.EventType,
		},
		EventIDs: []string{ev.UUID},
		Learn:    LearnUser,
	})
	if sev != SeverityInfo {
		d.pending[login] = &anonPending{T: c.Now.Unix(), IP: ev.Client.IPAddress, UUID: ev.UUID, Cause: cause}
		d.markPart("u", login)
	}
}

func opSuffix(op string) string {
	if op == "" {
		return ""
	}
	return ", " + op
}

func (d *anonymousIP) Prune(now time.Time) {
	today := day(now.Unix())
	for op, m := range d.operators {
		for u, dd := range m {
			if !inWindow(today, dd) && dd <= today {
				delete(m, u)
				d.markPart("u", u)
			}
		}
		if len(m) == 0 {
			delete(d.operators, op)
		}
	}
	for u, p := range d.pending {
		if now.Unix()-p.T > int64(d.escalation/time.Second) {
			delete(d.pending, u)
			d.markPart("u", u)
		}
	}
}

type anonState struct {
	Operators map[string]map[string]uint16 `json:"operators"`
	Pending   map[string]*anonPending      `json:"pending"`
}

func (d *anonymousIP) MarshalState() ([]byte, error) {
	return json.Marshal(anonState{Operators: d.operators, Pending: d.pending})
}

func (d *anonymousIP) UnmarshalState(b []byte) error {
	var st anonState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	if st.Operators != nil {
		d.operators = st.Operators
	}
	if st.Pending != nil {
		d.pending = st.Pending
	}
	return nil
}

// The state is one entry per user (entryState), "u/<login>": the
// operators the user signed in through (operator -> last day) and the
// pending anonymous sign-in. MarshalState / UnmarshalState keep the whole
// form of older versions loadable.
type anonUserState struct {
	Ops     map[string]uint16 `json:"o,omitempty"`
	Pending *anonPending      `json:"p,omitempty"`
}

func (d *anonymousIP) stateEntryKeys() []string {
	seen := make(map[string]struct{}, len(d.pending))
	for u := range d.pending {
		seen[u] = struct{}{}
	}
	for _, m := range d.operators {
		for u := range m {
			seen[u] = struct{}{}
		}
	}
	return appendPartKeys(make([]string, 0, len(seen)), "u", seen)
}

func (d *anonymousIP) marshalEntry(key string) ([]byte, bool, error) {
	part, login, _ := splitPartKey(key)
	if part != "u" {
		return nil, false, nil
	}
	st := anonUserState{Pending: d.pending[login]}
	for op, m := range d.operators {
		if dd, ok := m[login]; ok {
			if st.Ops == nil {
				st.Ops = map[string]uint16{}
			}
			st.Ops[op] = dd
		}
	}
	return jsonEntry(st, st.Pending != nil || len(st.Ops) > 0)
}

func (d *anonymousIP) unmarshalEntries(m map[string][]byte) error {
	return loadEntries(m, func(part, login string, b []byte) error {
		if part != "u" {
			return errUnknownEntry
		}
		var st anonUserState
		if err := json.Unmarshal(b, &st); err != nil {
			return err
		}
		if st.Pending != nil {
			d.pending[login] = st.Pending
		}
		for op, dd := range st.Ops {
			om := d.operators[op]
			if om == nil {
				om = map[string]uint16{}
				d.operators[op] = om
			}
			om[login] = dd
		}
		return nil
	})
}
