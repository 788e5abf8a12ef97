package traffic

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// LearningPeriod is the per-entity baseline period during which detectors
// only learn; the generator places no attack before Start+LearningPeriod.
const LearningPeriod = 7 * 24 * time.Hour

// DefaultStart is the Start used when Config.Start is zero (a Monday).
var DefaultStart = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

// Config selects what to generate.
type Config struct {
	Seed  int64
	Users int       // number of human users; default 300, minimum 40
	Start time.Time // first day (truncated to midnight UTC); default DefaultStart
	Days  int       // default 30; with Attacks at least 10
	// Attacks adds the labelled attack scenarios.
	Attacks bool
	// AttackKinds restricts the scenarios to those whose scenario id or
	// (required) detector id is listed; empty means all.
	AttackKinds []string
	// Late is the fraction (0..0.5) of events delivered late: Dataset.Delays
	// holds their delivery delay (published stays the event time).
	Late float64
	// Domain is the users' login domain; default "example.com".
	Domain string
	// Extended adds the near-threshold and evasion scenarios (issue 11):
	// default on when Days >= 21; set NoExtended to leave them out.
	NoExtended bool
	// LiveAttackEvery is the interval between live attacks of a Stream
	// (only when Attacks is set); default 20 minutes.
	LiveAttackEvery time.Duration
}

// Label marks the events of one attack that a detector should alert on.
type Label struct {
	Detector string `json:"detector"` // detector or rule id
	Actor    string `json:"actor"`    // actor.alternateId the alert should name ("" when keyed by IP only)
	Target   string `json:"target,omitempty"`
	IP       string `json:"ip"` // source IP of the attack ("" when not IP-keyed)
	// IPs are further source IPs of the same attack (distributed sprays,
	// rotating low-and-slow sources); an alert naming any of them matches.
	IPs      []string  `json:"ips,omitempty"`
	Start    time.Time `json:"start"`    // first event of the attack
	End      time.Time `json:"end"`      // last event of the attack
	EventIDs []string  `json:"eventIds"` // uuids of the events behind it
	Scenario string    `json:"scenario"` // scenario instance id, e.g. "impossible_travel#1"
	// Optional marks a detector that may legitimately alert on this attack
	// as a side effect (not counted for recall; an alert matching it is not
	// a false positive either).
	Optional bool `json:"optional,omitempty"`
}

// Trap is a documented benign pattern that looks suspicious but must not
// alert (it is not labelled; an alert on it is a false positive).
type Trap struct {
	Kind  string    `json:"kind"`
	Actor string    `json:"actor"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Note  string    `json:"note"`
}

// User describes one generated account.
type User struct {
	ID        string   `json:"id"`
	Login     string   `json:"login"`
	Name      string   `json:"name"`
	City      string   `json:"city"`
	Country   string   `json:"country"`
	UTCOffset float64  `json:"utcOffset"`
	HomeIPs   []string `json:"homeIps"`
	// Roles: traveller, vpn, private_relay, mobile, admin, security_admin,
	// helpdesk, pentest, service (API-token automation user).
	Roles []string `json:"roles"`
}

// Lists are the IP lists of DESIGN.md's ipLists config (IPs and CIDRs).
type Lists struct {
	Anonymous    []string `json:"anonymous"`    // commercial VPN exits and Tor exit ranges
	Suspicious   []string `json:"suspicious"`   // the threat-intel feed
	Risky        []string `json:"risky"`        // user-defined Risky ranges
	Trusted      []string `json:"trusted"`      // corporate offices, VPN egress, datacenter
	PrivateRelay []string `json:"privateRelay"` // Apple iCloud Private Relay egress (informational)
}

// Map returns the lists keyed by DESIGN.md category (anonymous, suspicious,
// risky, trusted), ready for enrich.Config.Lists.
func (l Lists) Map() map[string][]string {
	return map[string][]string{
		"anonymous":  append([]string(nil), l.Anonymous...),
		"suspicious": append([]string(nil), l.Suspicious...),
		"risky":      append([]string(nil), l.Risky...),
		"trusted":    append([]string(nil), l.Trusted...),
	}
}

// Dataset is a generated month of traffic.
type Dataset struct {
	Config Config            // normalised config
	Start  time.Time         // first day
	End    time.Time         // end of the last day (exclusive)
	Events []json.RawMessage // sorted by published (ties keep generation order)
	// Delays is parallel to Events: how long after its published time the
	// event becomes visible in the API (0 for most; >0 for late events).
	Delays []time.Duration
	Labels []Label
	// NearMisses are attacks placed just below one detector's threshold
	// (Label.Detector): that detector must NOT alert on them. They are kept
	// apart from Labels so that "every label alerts" checks stay true; an
	// alert matching one is a false positive (Scorecard.Add).
	NearMisses []Label
	Traps      []Trap
	Users      []User
	Lists      Lists
	Networks   []Network // the ASN/geo table (for .mmdb fixtures)
	PenTester  string    // login of the authorised pen-test account (scope it out of detectors)
	// Automation lists the non-human actors (alternateId): the provisioning
	// app and the API-token service user.
	Automation []string
	Scenarios  []string // every scenario id the generator knows
}

// Delivery is one event with the time it becomes visible in the API.
type Delivery struct {
	At    time.Time
	Event json.RawMessage
}

// DeliveryOrder returns the events in the order the API would persist them
// (published + delay), for feeding a simulator that supports late events.
func (d *Dataset) DeliveryOrder() ([]Delivery, error) {
	out := make([]Delivery, len(d.Events))
	for i, raw := range d.Events {
		var h struct {
			Published time.Time `json:"published"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("traffic: event %d: %w", i, err)
		}
		var delay time.Duration
		if i < len(d.Delays) {
			delay = d.Delays[i]
		}
		out[i] = Delivery{At: h.Published.Add(delay), Event: raw}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// LabelsFor returns the labels of one detector.
func (d *Dataset) LabelsFor(detector string) []Label {
	var out []Label
	for _, l := range d.Labels {
		if l.Detector == detector {
			out = append(out, l)
		}
	}
	return out
}

// Detectors lists every detector id the scenarios label as required.
func Detectors() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range scenarioTable {
		for _, d := range s.detectors {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out
}

// ScenarioKinds lists the scenario kinds (ids without the #n suffix).
func ScenarioKinds() []string {
	out := make([]string, 0, len(scenarioTable))
	for _, s := range scenarioTable {
		out = append(out, s.kind)
	}
	return out
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("traffic: invalid config")

func (c Config) normalize() (Config, error) {
	if c.Users == 0 {
		c.Users = 300
	}
	if c.Users < 40 {
		return c, fmt.Errorf("%w: Users=%d, need at least 40", ErrConfig, c.Users)
	}
	if c.Users > 100000 {
		return c, fmt.Errorf("%w: Users=%d, at most 100000", ErrConfig, c.Users)
	}
	if c.Days == 0 {
		c.Days = 30
	}
	if c.Days < 1 || c.Days > 400 {
		return c, fmt.Errorf("%w: Days=%d, need 1..400", ErrConfig, c.Days)
	}
	if c.Attacks && c.Days < 10 {
		return c, fmt.Errorf("%w: Days=%d with Attacks, need at least 10 (7 learning days + attacks)", ErrConfig, c.Days)
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(24 * time.Hour)
	if c.Late < 0 || c.Late > 0.5 {
		return c, fmt.Errorf("%w: Late=%v, need 0..0.5", ErrConfig, c.Late)
	}
	if c.Domain == "" {
		c.Domain = "example.com"
	}
	if strings.ContainsAny(c.Domain, "@ \"\\") {
		return c, fmt.Errorf("%w: Domain %q", ErrConfig, c.Domain)
	}
	if c.LiveAttackEvery == 0 {
		c.LiveAttackEvery = 20 * time.Minute
	}
	if c.LiveAttackEvery < time.Minute {
		return c, fmt.Errorf("%w: LiveAttackEvery=%v, need at least 1m", ErrConfig, c.LiveAttackEvery)
	}
	known := map[string]bool{}
	for _, s := range scenarioTable {
		known[s.kind] = true
		for _, d := range s.detectors {
			known[d] = true
		}
	}
	for _, k := range c.AttackKinds {
		if !known[k] {
			return c, fmt.Errorf("%w: unknown attack kind %q", ErrConfig, k)
		}
	}
	return c, nil
}

// WriteJSONL writes the events as JSON Lines (one event a line, the format of
// `oktaguard export` and `replay`).
func (d *Dataset) WriteJSONL(w io.Writer) error {
	nl := []byte{'\n'}
	for i, raw := range d.Events {
		if _, err := w.Write(raw); err != nil {
			return fmt.Errorf("traffic: write event %d: %w", i, err)
		}
		if _, err := w.Write(nl); err != nil {
			return fmt.Errorf("traffic: write event %d: %w", i, err)
		}
	}
	return nil
}
