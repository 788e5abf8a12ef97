package detect

import (
	"fmt"
	"math"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

var infrequentCountryRegistration = Registration{
	Info: Info{
		ID:       "infrequent_country",
		Title:    "Activity from infrequent country",
		Severity: SeverityMedium,
		MITRE:    []string{"T1078.004"},
		Description: "A successful interactive sign-in from a country the user has not used in 30 days " +
			"and that is rare for the whole tenant.",
	},
	Params: []Param{
		{"minTenantUsers", 2, "the country is rare when fewer than max(minTenantUsers, tenantShare × active users) users used it in 30 days"},
		{"tenantShare", 0.01, "share of the tenant's active users below which a country is rare"},
		{"orgNewOnly", false, "alert only on countries no user of the tenant used in 30 days"},
		{"anyActivity", false, "also consider any authenticated activity of the user, not only sign-ins"},
	},
	Rearm: 30 * 24 * time.Hour,
	New:   newInfrequentCountry,
}

type infrequentCountry struct {
	minUsers    int
	share       float64
	orgNewOnly  bool
	anyActivity bool
}

func newInfrequentCountry(p Params) (Detector, error) {
	if s := p.Float("tenantShare"); s > 1 {
		return nil, fmt.Errorf("params.tenantShare: must be between 0 and 1, got %v", s)
	}
	return &infrequentCountry{minUsers: p.Int("minTenantUsers"), share: p.Float("tenantShare"),
		orgNewOnly: p.Bool("orgNewOnly"), anyActivity: p.Bool("anyActivity")}, nil
}

func (d *infrequentCountry) Handle(c *Context, ev *event.Event) {
	if ev.IsInteractiveSignIn() {
		// fall through
	} else if !(d.anyActivity && ev.IsSuccess() && isUserActor(ev) && !ev.IsAPITokenRequest()) {
		return
	}
	country := ev.Country()
	if country == "" || c.userOf() == nil {
		return
	}
	// system suppressions: corporate / VPN ranges; anonymous IPs (anonymous_ip
	// covers them); private relay (location is approximate)
	if isTrusted(ev) || isAnonymous(ev) || isPrivateRelay(ev) {
		return
	}
	userCount := c.UserCountryCount(country)
	if userCount > 0 {
		return
	}
	active := c.TenantActiveUsers()
	tenantUsers := c.TenantCountryUsers(country)
	limit := max(float64(d.minUsers), math.Ceil(d.share*float64(active)))
	if d.orgNewOnly {
		limit = 1
	}
	if float64(tenantUsers) >= limit {
		return
	}
	sev := SeverityMedium
	var corroboration []string
	if behavior(ev, "New Country") {
		corroboration = append(corroboration, "okta_new_country")
		sev = raise(sev)
	}
	c.Emit(Finding{
		Key: country, Severity: sev, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID,
		IP: ev.Client.IPAddress, Country: country,
		Title: "Activity from infrequent country",
		Summary: fmt.Sprintf("%s signed in from %s, not used by the user in 30 days and used by %d of %d active users of the tenant",
			ev.Actor.AlternateID, country, tenantUsers, active),
		Evidence: map[string]any{
			"country":            country,
			"city":               ev.Client.Geo.City,
			"userSignIns30d":     userCount,
			"tenantUsers30d":     tenantUsers,
			"tenantActiveUsers":  active,
			"rareBelowUsers":     limit,
			"orgNewOnly":         d.orgNewOnly,
			"corroboration":      corroboration,
			"eventType":          ev.EventType,
			"asn":                asnOf(ev),
			"userFirstSeen":      time.Unix(c.userOf().First, 0).UTC().Format(time.RFC3339),
			"learningPeriodDays": c.e.opts.learningPeriod.Hours() / 24,
		},
		EventIDs: []string{ev.UUID},
		Learn:    LearnUser | LearnTenant,
	})
}

func (d *infrequentCountry) Prune(time.Time)               {}
func (d *infrequentCountry) MarshalState() ([]byte, error) { return []byte("{}"), nil }
func (d *infrequentCountry) UnmarshalState([]byte) error   { return nil }
