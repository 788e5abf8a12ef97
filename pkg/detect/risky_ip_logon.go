package detect

import (
	"fmt"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var riskyIPLogonRegistration = Registration{
	Info: Info{
		ID:       "risky_ip_logon",
		Title:    "Logon from a risky IP address",
		Severity: SeverityMedium,
		MITRE:    []string{"T1078.004", "T1090"},
		Description: "A successful interactive sign-in from an IP classified Risky: the `risky` IP list, " +
			"or the built-in anonymous / Tor tags (optionally also `suspicious`). Deterministic, no learning.",
	},
	Params: []Param{
		{"includeSuspicious", false, "also treat the `suspicious` IP list as risky"},
		{"includeAnonymous", true, "treat anonymizers (Tor, anonymous VPN, proxies, the `anonymous` list) as risky"},
	},
	Rearm: 24 * time.Hour,
	New: func(p Params) (Detector, error) {
		return &riskyIPLogon{suspicious: p.Bool("includeSuspicious"), anonymous: p.Bool("includeAnonymous")}, nil
	},
}

type riskyIPLogon struct{ suspicious, anonymous bool }

// riskyReason classifies the IP as Risky; user categories win: a trusted
// range is never risky.
func (d *riskyIPLogon) riskyReason(ev *event.Event) string {
	if isTrusted(ev) {
		return ""
	}
	switch {
	case ev.IP.Categories.Has(event.CatRisky):
		return "risky_list"
	case d.suspicious && ev.IP.Categories.Has(event.CatSuspicious):
		return "suspicious_list"
	case d.anonymous && ev.IP.Tor:
		return "tor"
	case d.anonymous:
		if s := anonymousSignal(ev); s != "" {
			return "anonymous:" + s
		}
	}
	return ""
}

func (d *riskyIPLogon) Handle(c *Context, ev *event.Event) {
	if !ev.IsInteractiveSignIn() {
		return
	}
	reason := d.riskyReason(ev)
	if reason == "" {
		return
	}
	ip := ev.Client.IPAddress
	c.Emit(Finding{
		Key: ip, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, IP: ip, Country: ev.Country(),
		Title:   "Logon from a risky IP address",
		Summary: fmt.Sprintf("%s signed in from risky IP %s (%s)", ev.Actor.AlternateID, ip, reason),
		Evidence: map[string]any{
			"classification": reason,
			"categories":     categoryNames(ev.IP.Categories),
			"asn":            asnOf(ev),
			"asOrg":          ev.IP.ASOrg,
			"eventType":      ev.EventType,
		},
		EventIDs: []string{ev.UUID},
	})
}

func categoryNames(c event.IPCategory) []string {
	out := []string{}
	for _, x := range []struct {
		c event.IPCategory
		n string
	}{{event.CatAnonymous, "anonymous"}, {event.CatSuspicious, "suspicious"}, {event.CatRisky, "risky"}, {event.CatTrusted, "trusted"}} {
		if c.Has(x.c) {
			out = append(out, x.n)
		}
	}
	return out
}

func (d *riskyIPLogon) Prune(time.Time)               {}
func (d *riskyIPLogon) MarshalState() ([]byte, error) { return []byte("{}"), nil }
func (d *riskyIPLogon) UnmarshalState([]byte) error   { return nil }
