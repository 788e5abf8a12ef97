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

var failedLoginsRegistration = Registration{
	Info: Info{
		ID:       "failed_logins",
		Title:    "Multiple failed login attempts",
		Severity: SeverityMedium,
		MITRE:    []string{"T1110", "T1110.001"},
		Description: "A user fails to authenticate more often in one session or 5-minute window than " +
			"max(10, mean + 3σ of the user's hourly failures, p99 of the user's per-session failures); " +
			"or, low and slow, at least 20 failures within 12 hours from networks the user never signs in from.",
	},
	Params: []Param{
		{"minFailures", 10, "static threshold (failures in the window or session)"},
		{"window", 5 * time.Minute, "sliding window for the static threshold"},
		{"sessionGap", 30 * time.Minute, "failures further apart start a new session when Okta gives no session id"},
		{"sigmas", 3.0, "adaptive threshold: mean + sigmas × σ of the user's hourly failures (30 days)"},
		{"passwordChangeGrace", 24 * time.Hour, "suppress after the user's password change or reset (stale clients)"},
		{"slowWindow", 12 * time.Hour, "low-and-slow brute force: failures from networks new to the user (see Context.NetworkFamiliar) are counted over this window"},
		{"slowMinFailures", 20, "low-and-slow brute force: alert at this many failures from new networks within slowWindow (0: off)"},
		{"periodicMinInterval", 30 * time.Second, "a same-IP same-agent series this regular and at least this far apart is a misconfigured client, suppressed only from a network the user signs in from and not a hosting ASN (otherwise a paced brute force: alerts)"},
	},
	Rearm: 24 * time.Hour,
	New:   newFailedLogins,
}

const failRing = 64

type failDay struct {
	Day   uint16 `json:"d"`
	Sum   uint16 `json:"s"`
	SumSq uint32 `json:"q"`
}

type failUser struct {
	R       *failRecent `json:"r,omitempty"` // recent failures; nil when idle
	SessKey uint32      `json:"sk"`
	SessN   uint16      `json:"sn"`
	SessT   int64       `json:"st"`
	Hour    int64       `json:"h"`
	HourN   uint16      `json:"hn"`
	Days    []failDay   `json:"dy,omitempty"`
	Sess    []uint16    `json:"ss,omitempty"` // recent finished session counts (<= 32)
	PwdT    int64       `json:"p,omitempty"`  // last password change / reset
	// Slow: failures from networks new to the user within slowWindow
	// (low-and-slow), <= failRing; nil when there are none
	Slow *failSlow `json:"sl,omitempty"`
}

// failSlow holds a user's recent failures from networks new to the user.
type failSlow struct {
	Times []int64   `json:"t"` // unix ms
	IDs   []eventID `json:"i"` // uuids, parallel to Times
	Srcs  []uint32  `json:"s"` // hash of the source IP, parallel to Times
}

// failRecent holds a user's recent failures while they are relevant.
type failRecent struct {
	Times []int64   `json:"t"` // failure times (unix ms), <= failRing
	Sigs  []uint32  `json:"g"` // hash(ip, user agent) per failure
	IDs   []eventID `json:"i"` // uuids, parallel to Times
}

type failedLogins struct {
	minFail, slowMin        int
	window, gap, grace, per time.Duration
	slowWin                 time.Duration
	sigmas                  float64
	base                    *baselines
	users                   map[uint32]*failUser // tracked users, by index
	// untracked: actors without a baseline yet (only failures so far), by
	// login; moved to users once the engine tracks them
	untracked map[string]*failUser
	changeSet // users changed since the last state save (entry key "u/<login>", tracked or not)
}

func (d *failedLogins) bindUsers(b *baselines) { d.base = b }

func newFailedLogins(p Params) (Detector, error) {
	d := &failedLogins{minFail: p.Int("minFailures"), window: p.Duration("window"), gap: p.Duration("sessionGap"),
		grace: p.Duration("passwordChangeGrace"), per: p.Duration("periodicMinInterval"), sigmas: p.Float("sigmas"),
		slowWin: p.Duration("slowWindow"), slowMin: p.Int("slowMinFailures"),
		users: map[uint32]*failUser{}, untracked: map[string]*failUser{}}
	if d.minFail < 1 {
		return nil, fmt.Errorf("params.minFailures: must be at least 1")
	}
	if d.window <= 0 {
		return nil, fmt.Errorf("params.window: must be positive")
	}
	if d.slowMin < 0 || d.slowMin > failRing || d.slowMin > 0 && d.slowWin <= 0 {
		return nil, fmt.Errorf("params.slowMinFailures: must be 0 (off) to %d with a positive slowWindow", failRing)
	}
	return d, nil
}

// isCountedFailure is the failure set of detections.md §1.5.
func isCountedFailure(ev *event.Event) bool {
	switch ev.EventType {
	case "user.account.lock":
		return true
	case "user.session.start":
		if !ev.IsFailure() {
			return false
		}
		switch ev.Outcome.Reason {
		case "", "INVALID_CREDENTIALS", "LOCKED_OUT", "VERIFICATION_ERROR":
			return true
		}
		return strings.Contains(strings.ToUpper(ev.Outcome.Reason), "INVALID") || strings.Contains(strings.ToUpper(ev.Outcome.Reason), "LOCKED")
	case "user.authentication.verify":
		return ev.IsFailure()
	case "user.authentication.auth_via_mfa":
		if !ev.IsFailure() {
			return false
		}
		f := ev.Debug.Str("factor")
		return f != "PASSWORD_AS_FACTOR" && !strings.Contains(strings.ToUpper(ev.Outcome.Reason), "PASSWORD_AS_FACTOR")
	}
	return false
}

func (d *failedLogins) Handle(c *Context, ev *event.Event) {
	if !isUserActor(ev) {
		return
	}
	login := normLogin(ev.Actor.AlternateID)
	now := c.Now.UnixMilli()
	switch ev.EventType {
	case "user.account.update_password", "user.account.reset_password":
		if ev.IsSuccess() {
			u := d.user(c, login)
			u.PwdT = max(u.PwdT, now)
		}
		return
	}
	if !isCountedFailure(ev) {
		return
	}
	u := d.user(c, login)
	// hourly history
	hour := now / 3600000
	if hour != u.Hour {
		if u.HourN > 0 && u.Hour > 0 {
			u.addHour(day(u.Hour*3600), u.HourN)
		}
		if hour > u.Hour {
			u.Hour, u.HourN = hour, 0
		}
	}
	if hour == u.Hour && u.HourN < 65535 {
		u.HourN++
	}
	// sessions: Okta's session id, else an inactivity gap
	sk := uint32(0)
	if s := ev.SessionID(); s != "" {
		sk = hash32(s)
	}
	if (sk != 0 && sk != u.SessKey) || (sk == 0 && now-u.SessT > d.gap.Milliseconds()) || u.SessN == 0 {
		if u.SessN > 0 {
			u.Sess = append(u.Sess, u.SessN)
			if len(u.Sess) > 32 {
				u.Sess = u.Sess[len(u.Sess)-32:]
			}
		}
		u.SessKey, u.SessN = sk, 0
	}
	u.SessN++
	u.SessT = max(u.SessT, now)
	// recent failures
	if u.R == nil {
		u.R = &failRecent{}
	}
	u.R.Times = append(u.R.Times, now)
	u.R.Sigs = append(u.R.Sigs, hashParts(ev.Client.IPAddress, "\x00", ev.Client.UserAgent.Raw))
	u.R.IDs = append(u.R.IDs, makeEventID(ev.UUID))
	if len(u.R.Times) > failRing {
		n := len(u.R.Times) - failRing
		u.R.Times, u.R.Sigs, u.R.IDs = u.R.Times[n:], u.R.Sigs[n:], u.R.IDs[n:]
	}
	if d.lowAndSlow(c, ev, u, now) {
		return
	}
	inWin := 0
	first := len(u.R.Times)
	for i := len(u.R.Times) - 1; i >= 0; i-- {
		if now-u.R.Times[i] <= d.window.Milliseconds() && u.R.Times[i] <= now {
			inWin++
			first = i
		}
	}
	count := max(inWin, int(u.SessN))
	mean, sd := u.hourlyStats(c.today())
	adaptive := int(math.Ceil(mean + d.sigmas*sd))
	p99 := u.sessionP99()
	threshold := max(d.minFail, adaptive, p99)
	if count < threshold {
		return
	}
	// system suppressions
	if u.PwdT > 0 && now-u.PwdT >= 0 && now-u.PwdT <= d.grace.Milliseconds() {
		return
	}
	n := min(count, len(u.R.Times))
	paced := d.periodic(u.R.Times[len(u.R.Times)-n:], u.R.Sigs[len(u.R.Sigs)-n:])
	if paced {
		// a misconfigured client retrying on a fixed period — but only from
		// a network the user signs in from and not a hosting / datacenter
		// ASN: a fixed period from anywhere else is a paced brute force
		if familiar, _ := c.NetworkFamiliar(ev, false); familiar && !isCloud(ev) {
			return
		}
	}
	if inWin < int(u.SessN) {
		first = len(u.R.Times) - n
	}
	recent := u.R.IDs[first:]
	if len(recent) > 50 {
		recent = recent[len(recent)-50:]
	}
	ids := make([]string, len(recent))
	for i, id := range recent {
		ids[i] = id.String()
	}
	sev := SeverityMedium
	if ev.EventType == "user.account.lock" || count >= 2*threshold {
		sev = SeverityHigh
	}
	pattern := "burst"
	if paced {
		pattern = "paced_unfamiliar_client"
	}
	c.Emit(Finding{
		Severity: sev, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ev.Client.IPAddress, Country: ev.Country(),
		Title: "Multiple failed login attempts",
		Summary: fmt.Sprintf("%s failed to authenticate %d times (threshold %d): %d in %s, %d in the current session",
			ev.Actor.AlternateID, count, threshold, inWin, d.window, u.SessN),
		Evidence: map[string]any{
			"failuresInWindow":      inWin,
			"windowMinutes":         d.window.Minutes(),
			"failuresInSession":     u.SessN,
			"threshold":             threshold,
			"staticThreshold":       d.minFail,
			"hourlyMean30d":         round2(mean),
			"hourlyStdDev30d":       round2(sd),
			"adaptiveThreshold":     adaptive,
			"sessionP99":            p99,
			"lastReason":            ev.Outcome.Reason,
			"lastEventType":         ev.EventType,
			"distinctSourcesInSpan": distinctSigs(u.R.Sigs[len(u.R.Sigs)-n:]),
			"pattern":               pattern,
			"hosting":               isCloud(ev),
		},
		EventIDs: ids,
		Learn:    LearnUser,
	})
}

// lowAndSlow counts a failure from a network new to the user (not a
// prefix or ISP the user signed in from in 30 days) and raises the
// low-and-slow alert when slowMinFailures of them fall within slowWindow:
// an attacker who stays under the burst threshold by pausing between
// bursts and rotating addresses. Failures from the user's own networks
// (typos, stale clients) never count. It reports whether it alerted.
func (d *failedLogins) lowAndSlow(c *Context, ev *event.Event, u *failUser, now int64) bool {
	if d.slowMin <= 0 {
		return false
	}
	if familiar, _ := c.NetworkFamiliar(ev, false); familiar {
		return false
	}
	if u.Slow == nil {
		u.Slow = &failSlow{}
	}
	s := u.Slow
	s.Times = append(s.Times, now)
	s.IDs = append(s.IDs, makeEventID(ev.UUID))
	s.Srcs = append(s.Srcs, hash32(ev.Client.IPAddress))
	s.expire(now, d.slowWin.Milliseconds())
	if len(s.Times) < d.slowMin {
		return false
	}
	if u.PwdT > 0 && now-u.PwdT >= 0 && now-u.PwdT <= d.grace.Milliseconds() {
		return false
	}
	ids := make([]string, len(s.IDs))
	for i, id := range s.IDs {
		ids[i] = id.String()
	}
	span := time.Duration(now-s.Times[0]) * time.Millisecond
	sev := SeverityMedium
	if len(s.Times) >= 2*d.slowMin || ev.EventType == "user.account.lock" {
		sev = SeverityHigh
	}
	c.Emit(Finding{
		Severity: sev, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ev.Client.IPAddress, Country: ev.Country(),
		Title: "Low-and-slow brute force",
		Summary: fmt.Sprintf("%s failed to authenticate %d times in %s from %d networks the user never signs in from (threshold %d in %s)",
			ev.Actor.AlternateID, len(s.Times), roundDur(span), distinctSigs(s.Srcs), d.slowMin, d.slowWin),
		Evidence: map[string]any{
			"pattern":             "low_and_slow",
			"failuresFromNewNets": len(s.Times),
			"distinctSourceIPs":   distinctSigs(s.Srcs),
			"spanMinutes":         int(span.Minutes()),
			"slowWindowHours":     d.slowWin.Hours(),
			"slowMinFailures":     d.slowMin,
			"lastReason":          ev.Outcome.Reason,
			"lastEventType":       ev.EventType,
			"hosting":             isCloud(ev),
		},
		EventIDs: ids,
		Learn:    LearnUser,
	})
	return true
}

// expire drops the failures older than win before now.
func (s *failSlow) expire(now, win int64) {
	i := 0
	for i < len(s.Times) && now-s.Times[i] > win {
		i++
	}
	if n := len(s.Times) - failRing; n > i {
		i = n
	}
	s.Times, s.IDs, s.Srcs = s.Times[i:], s.IDs[i:], s.Srcs[i:]
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func distinctSigs(s []uint32) int {
	m := map[uint32]bool{}
	for _, x := range s {
		m[x] = true
	}
	return len(m)
}

// periodic reports a same-source series on a fixed period (a misconfigured
// app or service retrying): one IP + user agent, intervals within 10 % of
// their mean, the mean at least periodicMinInterval.
func (d *failedLogins) periodic(times []int64, sigs []uint32) bool {
	if len(times) < 4 || d.per <= 0 {
		return false
	}
	for _, s := range sigs {
		if s != sigs[0] {
			return false
		}
	}
	var sum, sq float64
	n := float64(len(times) - 1)
	for i := 1; i < len(times); i++ {
		x := float64(times[i] - times[i-1])
		sum += x
		sq += x * x
	}
	mean := sum / n
	if mean < float64(d.per.Milliseconds()) {
		return false
	}
	sd := math.Sqrt(math.Max(0, sq/n-mean*mean))
	return sd <= 0.1*mean
}

// user returns the state of the current event's actor (login), marked
// as changed.
func (d *failedLogins) user(c *Context, login string) *failUser {
	d.markPart("u", login)
	tu := c.userOf()
	if tu == nil {
		u := d.untracked[login]
		if u == nil {
			u = &failUser{}
			d.untracked[login] = u
		}
		return u
	}
	u := d.users[tu.idx]
	if u == nil {
		if u = d.untracked[login]; u != nil {
			delete(d.untracked, login)
		} else {
			u = &failUser{}
		}
		d.users[tu.idx] = u
	}
	return u
}

func (u *failUser) addHour(dd uint16, n uint16) {
	for i := range u.Days {
		if u.Days[i].Day == dd {
			u.Days[i].Sum += n
			u.Days[i].SumSq += uint32(n) * uint32(n)
			return
		}
	}
	u.Days = append(u.Days, failDay{Day: dd, Sum: n, SumSq: uint32(n) * uint32(n)})
	if len(u.Days) > windowDays {
		u.Days = u.Days[len(u.Days)-windowDays:]
	}
}

// hourlyStats: mean and σ of the user's failures per hour over 30 days
// (hours without failures count as zero).
func (u *failUser) hourlyStats(today uint16) (mean, sd float64) {
	var sum, sq float64
	for _, x := range u.Days {
		if inWindow(today, x.Day) {
			sum += float64(x.Sum)
			sq += float64(x.SumSq)
		}
	}
	const hours = windowDays * 24
	mean = sum / hours
	return mean, math.Sqrt(math.Max(0, sq/hours-mean*mean))
}

// sessionP99 is the 99th percentile of the user's recent per-session
// failure counts (0 with fewer than 10 sessions of history).
func (u *failUser) sessionP99() int {
	if len(u.Sess) < 10 {
		return 0
	}
	s := append([]uint16(nil), u.Sess...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(math.Ceil(0.99*float64(len(s)))) - 1
	return int(s[idx])
}

func (d *failedLogins) Prune(now time.Time) {
	ms := now.UnixMilli()
	today := day(now.Unix())
	for ui, u := range d.users {
		changed, empty := d.prune(u, ms, today)
		if empty {
			delete(d.users, ui)
		}
		if changed || empty {
			d.markPart("u", d.base.users[ui].login)
		}
	}
	for login, u := range d.untracked {
		changed, empty := d.prune(u, ms, today)
		if empty {
			delete(d.untracked, login)
		}
		if changed || empty {
			d.markPart("u", login)
		}
	}
}

// prune drops u's expired history; it reports whether that changed u and
// whether nothing is left.
func (d *failedLogins) prune(u *failUser, ms int64, today uint16) (changed, empty bool) {
	before := u.pruneSize()
	keep := u.Days[:0]
	for _, x := range u.Days {
		if inWindow(today, x.Day) || x.Day > today {
			keep = append(keep, x)
		}
	}
	u.Days = keep
	if u.R != nil && (len(u.R.Times) == 0 || ms-u.R.Times[len(u.R.Times)-1] > max(d.window, d.gap).Milliseconds()) {
		u.R = nil
	}
	if u.Slow != nil {
		u.Slow.expire(ms, d.slowWin.Milliseconds())
		if len(u.Slow.Times) == 0 {
			u.Slow = nil
		}
	}
	return u.pruneSize() != before, len(u.Days) == 0 && u.R == nil && u.Slow == nil && ms-u.SessT > 30*secondsPerDay*1000 && ms-u.PwdT > d.grace.Milliseconds()
}

// pruneSize counts what prune can remove from u (days, the recent ring
// and the low-and-slow failures, each ring counting one more when set);
// prune only removes, so a change of the count is a change of u.
func (u *failUser) pruneSize() int {
	n := len(u.Days)
	if u.R != nil {
		n += 1 + len(u.R.Times)
	}
	if u.Slow != nil {
		n += 1 + len(u.Slow.Times)
	}
	return n
}

// MarshalState writes every user's state keyed by login.
func (d *failedLogins) MarshalState() ([]byte, error) {
	m := make(map[string]*failUser, len(d.users)+len(d.untracked))
	for login, u := range d.untracked {
		m[login] = u
	}
	for ui, u := range d.users {
		m[d.base.users[ui].login] = u
	}
	return json.Marshal(m)
}

func (d *failedLogins) UnmarshalState(b []byte) error {
	m := map[string]*failUser{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	users, untracked := make(map[uint32]*failUser, len(m)), map[string]*failUser{}
	for k, u := range m {
		if u == nil {
			return fmt.Errorf("user %q: no state", k)
		}
		if err := u.check(); err != nil {
			return fmt.Errorf("user %q: %w", k, err)
		}
		if tu := d.base.lookup(k); tu != nil {
			users[tu.idx] = u
		} else {
			untracked[k] = u
		}
	}
	d.users, d.untracked = users, untracked
	return nil
}

// The state is one entry per user (entryState), "u/<login>", for tracked
// and untracked actors alike (a tracked user's entry wins, as in
// MarshalState). MarshalState / UnmarshalState keep the whole form of
// older versions loadable.

func (d *failedLogins) stateEntryKeys() []string {
	out := appendPartKeys(make([]string, 0, len(d.users)+len(d.untracked)), "u", d.untracked)
	for ui := range d.users {
		if login := d.base.users[ui].login; d.untracked[login] == nil {
			out = append(out, partKey("u", login))
		}
	}
	return out
}

func (d *failedLogins) marshalEntry(key string) ([]byte, bool, error) {
	part, login, ok := splitPartKey(key)
	if !ok || part != "u" {
		return nil, false, nil
	}
	if tu := d.base.lookup(login); tu != nil {
		if u := d.users[tu.idx]; u != nil {
			return jsonEntry(u, true)
		}
	}
	return lookupEntry(d.untracked, login)
}

func (d *failedLogins) unmarshalEntries(m map[string][]byte) error {
	return loadEntries(m, func(part, login string, b []byte) error {
		if part != "u" {
			return errUnknownEntry
		}
		u := &failUser{}
		if err := json.Unmarshal(b, u); err != nil {
			return err
		}
		if err := u.check(); err != nil {
			return err
		}
		if tu := d.base.lookup(login); tu != nil {
			d.users[tu.idx] = u
		} else {
			d.untracked[login] = u
		}
		return nil
	})
}

// check reports rings whose parallel slices differ in length.
func (u *failUser) check() error {
	if u.R != nil && (len(u.R.Times) != len(u.R.Sigs) || len(u.R.Times) != len(u.R.IDs)) {
		return fmt.Errorf("inconsistent failure ring")
	}
	if u.Slow != nil && (len(u.Slow.Times) != len(u.Slow.IDs) || len(u.Slow.Times) != len(u.Slow.Srcs)) {
		return fmt.Errorf("inconsistent low-and-slow ring")
	}
	return nil
}
