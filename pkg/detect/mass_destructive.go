package detect

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var massDestructiveRegistration = Registration{
	Info: Info{
		ID:       "mass_destructive",
		Title:    "Mass destructive identity activity",
		Severity: SeverityHigh,
		MITRE:    []string{"T1531", "T1485", "T1562.008"},
		Description: "One actor deactivates, suspends or deletes users, groups, apps, factors, sessions, " +
			"policies or zones affecting at least 20 distinct targets within 10 minutes (or more than its " +
			"own largest burst of the last 30 days). Critical with log-stream / event-hook removal or a fresh API token.",
	},
	Params: []Param{
		{"window", 10 * time.Minute, "sliding window"},
		{"minTargets", 20, "distinct targets in the window"},
		{"tokenAge", 24 * time.Hour, "critical when the burst uses an API token created this recently"},
		{"automationActors", []string(nil), "glob patterns of actors that are scheduled deprovisioning / HR-sync (suppressed)"},
	},
	Rearm: time.Hour,
	New: func(p Params) (Detector, error) {
		d := &massDestructive{window: p.Duration("window"), minTargets: p.Int("minTargets"), tokenAge: p.Duration("tokenAge"),
			automation: lowerAll(p.Strings("automationActors")), actors: map[string]*destrActor{}, tokens: map[string]int64{}}
		if d.window <= 0 || d.minTargets < 1 {
			return nil, fmt.Errorf("params.window and params.minTargets must be positive")
		}
		return d, nil
	},
}

type destrHit struct {
	T      int64  `json:"t"` // unix ms
	Target uint32 `json:"g"` // hash of target id
	ID     string `json:"i"`
}

type destrActor struct {
	Hits     []destrHit `json:"h"`
	AntiT    int64      `json:"a,omitempty"`  // last log-stream / event-hook removal (ms)
	AntiID   string     `json:"ai,omitempty"` // its uuid
	AntiType string     `json:"at,omitempty"`
	DayMax   []uint16   `json:"dm,omitempty"` // largest burst per day, parallel to Days
	Days     []uint16   `json:"dd,omitempty"`
}

type massDestructive struct {
	window     time.Duration
	minTargets int
	tokenAge   time.Duration
	automation []string
	actors     map[string]*destrActor
	tokens     map[string]int64 // API token id -> creation (unix s)
	changeSet                   // entries changed since the last state save: "a/<login>", "k/<token id>"
}

// isDestructive is the event set of detections.md §1.7.
func isDestructive(t string) bool {
	switch t {
	case "user.lifecycle.deactivate", "user.lifecycle.suspend", "user.lifecycle.delete",
		"group.lifecycle.delete", "application.lifecycle.deactivate", "application.lifecycle.delete",
		"user.mfa.factor.reset_all", "user.account.reset_password", "user.session.clear",
		"user.session.revoke", "user.session.end_all", "zone.delete", "network_zone.delete":
		return true
	}
	return strings.HasPrefix(t, "policy.") && strings.HasSuffix(t, ".delete")
}

func isAntiForensic(t string) bool {
	if strings.HasPrefix(t, "system.log_stream.lifecycle.") && (strings.HasSuffix(t, "deactivate") || strings.HasSuffix(t, "delete")) {
		return true
	}
	return strings.HasPrefix(t, "event_hook.") && (strings.HasSuffix(t, "deactivated") || strings.HasSuffix(t, "deleted") || strings.HasSuffix(t, "deactivate") || strings.HasSuffix(t, "delete"))
}

func (d *massDestructive) Handle(c *Context, ev *event.Event) {
	if ev.EventType == "system.api_token.create" && ev.IsSuccess() {
		for _, t := range ev.Targets {
			if t.ID != "" {
				d.tokens[t.ID] = c.Now.Unix()
				d.markPart("k", t.ID)
			}
		}
		return
	}
	destructive, anti := isDestructive(ev.EventType), isAntiForensic(ev.EventType)
	if !destructive && !anti || ev.IsFailure() || ev.Actor.AlternateID == "" {
		return
	}
	// system suppressions: Okta itself, scheduled jobs, apps (HR sync), configured automation
	if ev.IsOktaInternal() || strings.EqualFold(ev.Transaction.Type, "JOB") || ev.Actor.Type != "User" ||
		matchAny(d.automation, ev.Actor.AlternateID) {
		return
	}
	login := normLogin(ev.Actor.AlternateID)
	a := d.actors[login]
	d.markPart("a", login) // created or updated below
	if a == nil {
		a = &destrActor{}
		d.actors[login] = a
	}
	now := c.Now.UnixMilli()
	win := d.window.Milliseconds()
	if anti {
		a.AntiT, a.AntiID, a.AntiType = now, ev.UUID, ev.EventType
	}
	if destructive {
		target := ""
		for _, t := range ev.Targets {
			id := t.ID
			if id == "" || id == "unknown" {
				id = t.AlternateID
			}
			if id == "" {
				continue
			}
			if target == "" || t.Type == "User" || t.Type == "UserGroup" || t.Type == "AppInstance" || t.Type == "Policy" || t.Type == "PolicyRule" || t.Type == "NetworkZone" {
				target = t.Type + ":" + id
				if t.Type != "" && t.Type != "Session" && t.Type != "Factor" {
					break
				}
			}
		}
		if target == "" {
			target = ev.UUID
		}
		a.Hits = append(a.Hits, destrHit{T: now, Target: hash32(target), ID: ev.UUID})
	}
	// slide the window
	i := 0
	for i < len(a.Hits) && now-a.Hits[i].T > win {
		i++
	}
	a.Hits = a.Hits[i:]
	distinct := map[uint32]bool{}
	for _, h := range a.Hits {
		if h.T <= now {
			distinct[h.Target] = true
		}
	}
	n := len(distinct)
	today := c.today()
	prevMax := a.maxBurst(today)
	a.recordBurst(today, n)
	threshold := max(d.minTargets, prevMax+1)
	if n < threshold {
		return
	}
	sev := SeverityHigh
	var escalations []string
	ids := make([]string, 0, len(a.Hits)+1)
	if a.AntiT > 0 && now-a.AntiT <= win && now >= a.AntiT {
		sev = SeverityCritical
		escalations = append(escalations, "anti_forensics:"+a.AntiType)
		ids = append(ids, a.AntiID)
	}
	if tok := ev.Debug.RequestAPITokenID; tok != "" {
		if created, ok := d.tokens[tok]; ok && c.Now.Unix()-created <= int64(d.tokenAge/time.Second) {
			sev = SeverityCritical
			escalations = append(escalations, "fresh_api_token")
		}
	}
	for _, h := range a.Hits {
		ids = append(ids, h.ID)
	}
	if len(ids) > 100 {
		ids = ids[len(ids)-100:]
	}
	types := map[string]bool{ev.EventType: true}
	sort.Strings(escalations)
	c.Emit(Finding{
		Severity: sev, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ev.Client.IPAddress, Country: ev.Country(),
		Title:   "Mass destructive identity activity",
		Summary: fmt.Sprintf("%s affected %d distinct targets with destructive actions within %s", ev.Actor.AlternateID, n, d.window),
		Evidence: map[string]any{
			"distinctTargets":  n,
			"windowMinutes":    d.window.Minutes(),
			"threshold":        threshold,
			"actorMaxBurst30d": prevMax,
			"lastEventType":    ev.EventType,
			"eventTypes":       sortedKeys(types),
			"escalations":      escalations,
			"apiTokenId":       ev.Debug.RequestAPITokenID,
			"transactionType":  ev.Transaction.Type,
		},
		EventIDs: ids,
	})
}

// maxBurst is the actor's usual largest burst: the second-largest daily
// maximum of the last 30 days (a robust stand-in for the p99 of its
// 10-minute windows: one earlier attack does not raise the bar).
func (a *destrActor) maxBurst(today uint16) int {
	m1, m2 := 0, 0
	for i, dd := range a.Days {
		if !inWindow(today, dd) {
			continue
		}
		v := int(a.DayMax[i])
		if v > m1 {
			m1, m2 = v, m1
		} else if v > m2 {
			m2 = v
		}
	}
	return m2
}

// recordBurst keeps the largest window count per day for 30 days; the
// burst being evaluated counts only from the next window on (so an attack
// does not raise its own threshold).
func (a *destrActor) recordBurst(today uint16, n int) {
	if n > 65535 {
		n = 65535
	}
	for i, dd := range a.Days {
		if dd == today {
			// today's value only grows after the current alert decision,
			// but never raises today's threshold above what was seen before
			if uint16(n) > a.DayMax[i] {
				a.DayMax[i] = uint16(n)
			}
			return
		}
	}
	a.Days = append(a.Days, today)
	a.DayMax = append(a.DayMax, uint16(n))
	if len(a.Days) > windowDays {
		a.Days, a.DayMax = a.Days[1:], a.DayMax[1:]
	}
}

func (d *massDestructive) Prune(now time.Time) {
	ms := now.UnixMilli()
	today := day(now.Unix())
	for k, a := range d.actors {
		n := len(a.Hits) + len(a.Days)
		if len(a.Hits) > 0 && ms-a.Hits[len(a.Hits)-1].T > d.window.Milliseconds() {
			a.Hits = nil
		}
		keepD, keepM := a.Days[:0], a.DayMax[:0]
		for i, dd := range a.Days {
			if inWindow(today, dd) || dd > today {
				keepD, keepM = append(keepD, dd), append(keepM, a.DayMax[i])
			}
		}
		a.Days, a.DayMax = keepD, keepM
		if len(a.Hits)+len(a.Days) != n { // prune only removes
			d.markPart("a", k)
		}
		if len(a.Hits) == 0 && len(a.Days) == 0 {
			delete(d.actors, k)
			d.markPart("a", k)
		}
	}
	for k, t := range d.tokens {
		if now.Unix()-t > int64(d.tokenAge/time.Second) {
			delete(d.tokens, k)
			d.markPart("k", k)
		}
	}
}

type destrState struct {
	Actors map[string]*destrActor `json:"actors"`
	Tokens map[string]int64       `json:"tokens"`
}

func (d *massDestructive) MarshalState() ([]byte, error) {
	return json.Marshal(destrState{d.actors, d.tokens})
}

func (d *massDestructive) UnmarshalState(b []byte) error {
	var st destrState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	for k, a := range st.Actors {
		if a == nil || a.check() != nil {
			return fmt.Errorf("actor %q: inconsistent burst history", k)
		}
	}
	if st.Actors != nil {
		d.actors = st.Actors
	}
	if st.Tokens != nil {
		d.tokens = st.Tokens
	}
	return nil
}

func (a *destrActor) check() error {
	if len(a.Days) != len(a.DayMax) {
		return fmt.Errorf("inconsistent burst history")
	}
	return nil
}

// The state is one entry per actor ("a/<login>") and per recent API
// token ("k/<token id>") (entryState). MarshalState / UnmarshalState keep
// the whole form of older versions loadable.

func (d *massDestructive) stateEntryKeys() []string {
	out := appendPartKeys(make([]string, 0, len(d.actors)+len(d.tokens)), "a", d.actors)
	return appendPartKeys(out, "k", d.tokens)
}

func (d *massDestructive) marshalEntry(key string) ([]byte, bool, error) {
	part, k, _ := splitPartKey(key)
	switch part {
	case "a":
		return lookupEntry(d.actors, k)
	case "k":
		t, ok := d.tokens[k]
		return jsonEntry(t, ok)
	}
	return nil, false, nil
}

func (d *massDestructive) unmarshalEntries(m map[string][]byte) error {
	return loadEntries(m, func(part, k string, b []byte) error {
		switch part {
		case "a":
			a := &destrActor{}
			if err := json.Unmarshal(b, a); err != nil {
				return err
			}
			if err := a.check(); err != nil {
				return err
			}
			d.actors[k] = a
			return nil
		case "k":
			return decodeInto(b, func(t *int64) { d.tokens[k] = *t })
		}
		return errUnknownEntry
	})
}
