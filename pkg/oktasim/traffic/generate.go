package traffic

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"time"
)

// Generate builds a deterministic dataset for cfg.
func Generate(cfg Config) (*Dataset, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	g, err := newGen(cfg)
	if err != nil {
		return nil, err
	}
	g.planTrips()
	if cfg.Attacks {
		if err := g.runScenarios(); err != nil {
			return nil, err
		}
	}
	g.leaveAndIncidentResponse()
	for d := 0; d < cfg.Days; d++ {
		for _, u := range g.o.users {
			g.userDay(u, d)
		}
		g.automationDay(d)
		g.serviceDay(d)
		g.pentestDay(d)
	}
	g.sortRecs()
	end := cfg.Start.AddDate(0, 0, cfg.Days)
	ds := &Dataset{Config: cfg, Start: cfg.Start, End: end}
	// Events spilling past the last local day (late time zones) are kept:
	// their published time is still inside End + 14 h at most.
	ds.Events = make([]json.RawMessage, len(g.recs))
	ds.Delays = make([]time.Duration, len(g.recs))
	for i := range g.recs {
		ds.Events[i] = g.recs[i].raw
		ds.Delays[i] = g.recs[i].delay
	}
	ds.Labels = g.labels
	sort.SliceStable(ds.Labels, func(i, j int) bool { return ds.Labels[i].Start.Before(ds.Labels[j].Start) })
	ds.NearMisses = g.near
	sort.SliceStable(ds.NearMisses, func(i, j int) bool { return ds.NearMisses[i].Start.Before(ds.NearMisses[j].Start) })
	ds.Traps = g.traps
	sort.SliceStable(ds.Traps, func(i, j int) bool { return ds.Traps[i].Start.Before(ds.Traps[j].Start) })
	ds.Users = g.o.exportUsers()
	ds.Lists = g.lists()
	for _, n := range g.w.nets {
		ds.Networks = append(ds.Networks, *n)
	}
	ds.PenTester = g.o.pentest.login
	ds.Automation = []string{g.o.provApp.AltID, g.o.svcUser.login, g.o.ciUser.login, g.o.syncUser.login}
	ds.Scenarios = ScenarioKinds()
	return ds, nil
}

func (o *org) exportUsers() []User {
	out := make([]User, 0, len(o.users))
	for _, u := range o.users {
		x := User{ID: u.id, Login: u.login, Name: u.name, City: u.home.Name, Country: u.home.Country, UTCOffset: u.home.UTCOffset}
		for _, ip := range u.homeIPs {
			x.HomeIPs = append(x.HomeIPs, ip.String())
		}
		for _, rp := range []struct {
			p    persona
			name string
		}{{pTraveller, "traveller"}, {pVPN, "vpn"}, {pRelay, "private_relay"}, {pMobile, "mobile"}, {pOffice, "office"},
			{pAdmin, "admin"}, {pSecAdmin, "security_admin"}, {pHelpdesk, "helpdesk"}, {pPentest, "pentest"}} {
			if u.p.has(rp.p) {
				x.Roles = append(x.Roles, rp.name)
			}
		}
		out = append(out, x)
	}
	return out
}

// lists builds the IP lists from the network table.
func (g *gen) lists() Lists {
	var l Lists
	for _, n := range g.w.nets {
		switch n.Kind {
		case NetAnonVPN, NetTor:
			l.Anonymous = append(l.Anonymous, n.CIDR)
		case NetPrivateRelay:
			l.PrivateRelay = append(l.PrivateRelay, n.CIDR)
		case NetCorporate:
			l.Trusted = append(l.Trusted, n.CIDR)
		case NetDatacenter:
			// only the org's own /28 in the cloud provider is trusted
			p := netip.PrefixFrom(g.o.dcIP, 28).Masked()
			l.Trusted = append(l.Trusted, p.String())
		}
		switch n.CIDR {
		case "203.0.113.0/24":
			l.Suspicious = append(l.Suspicious, n.CIDR)
		case "198.51.100.0/24", "192.0.2.0/24":
			l.Risky = append(l.Risky, n.CIDR)
		}
	}
	l.Suspicious = append(l.Suspicious, g.threatIPs()...)
	return l
}

// threatIPs are single hosting IPs on the threat-intel feed, one per hosting city.
func (g *gen) threatIPs() []string {
	var out []string
	for _, n := range g.w.byKind[NetHosting] {
		if n.ASN == 14061 { // DigitalOcean droplets seen in the feed
			out = append(out, hostAt(n, 666).String())
		}
	}
	return out
}

func (g *gen) threatIP(city string) (*Network, netip.Addr) {
	for _, n := range g.w.byKind[NetHosting] {
		if n.ASN == 14061 && n.City.Name == city {
			return n, hostAt(n, 666)
		}
	}
	n := g.w.byKind[NetHosting][0]
	return n, hostAt(n, 666)
}

func (g *gen) String() string { return fmt.Sprintf("gen(seed=%d)", g.cfg.Seed) }
