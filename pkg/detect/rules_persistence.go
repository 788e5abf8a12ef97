package detect

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Persistence via API tokens, apps, IdPs and AD agents.

func tokenTarget(ev *event.Event) *event.Target { return firstTarget(ev, "Token") }

func tokenID(ev *event.Event) string {
	if t := tokenTarget(ev); t != nil {
		return t.ID
	}
	return ""
}

// network is a coarse network identity: the ASN, else the /24 (IPv4) or
// the first four groups (IPv6).
func network(ip string, asn int) string {
	if asn > 0 {
		return "AS" + strconv.Itoa(asn)
	}
	if i := strings.LastIndexByte(ip, '.'); i > 0 && !strings.Contains(ip, ":") {
		return ip[:i] + ".0/24"
	}
	parts := strings.Split(ip, ":")
	if len(parts) > 4 {
		return strings.Join(parts[:4], ":") + "::/64"
	}
	return ip
}

func evNetwork(ev *event.Event) string {
	asn := ev.IP.ASN
	if asn == 0 {
		asn = ev.Security.ASNumber
	}
	return network(ev.Client.IPAddress, asn)
}

func idpKey(ev *event.Event) string { return targetName(firstTarget(ev, "IdentityProvider")) }

// routineIdPUpdate: an update of an existing IdP that is the actor's
// routine work (creating or activating one never is).
func routineIdPUpdate(c *Context, ev *event.Event, p Params) bool {
	return ev.EventType == "system.idp.lifecycle.update" && isRoutineAdmin(c, ev, p)
}

func idpFinding(h *Hit) Finding {
	f := h.Base()
	idp := firstTarget(h.Ev, "IdentityProvider")
	f.Summary = fmt.Sprintf("%s %s identity provider %q (%s)", h.Ev.Actor.AlternateID, eventVerb(h.Ev), targetName(idp), orDefault(detailStr(idp, "idpType"), "type unknown"))
	f.Evidence["idp"] = targetName(idp)
	f.Evidence["idpType"] = detailStr(idp, "idpType")
	f.Evidence["action"] = eventVerb(h.Ev)
	return f
}

// tokenCondition is the network condition of a created token (debugData
// tokenNetworkCondition: ANYWHERE, ZONE, ...; "" when not logged).
func tokenCondition(ev *event.Event) string { return debugStr(ev, "tokenNetworkCondition") }

// zoneToken reports a token restricted to a network zone (Okta refuses it
// elsewhere).
func zoneToken(ev *event.Event) bool {
	c := strings.ToUpper(tokenCondition(ev))
	return c == "ZONE" || c == "IN_ZONE"
}

// routineToken: a zone-restricted token created as the actor's routine
// work (a token usable from anywhere never is).
func routineToken(c *Context, ev *event.Event, p Params) bool {
	return zoneToken(ev) && isRoutineAdmin(c, ev, p)
}

func tokenFinding(h *Hit) Finding {
	f := h.Base()
	cond := tokenCondition(h.Ev)
	f.Severity = sevIf(strings.EqualFold(cond, "ANYWHERE") || attackSignal(h.Ev) != "", SeverityHigh, SeverityMedium)
	f.Summary = fmt.Sprintf("%s created API token %q (network: %s)", h.Ev.Actor.AlternateID, targetName(tokenTarget(h.Ev)), orDefault(cond, "unknown"))
	f.Evidence["token"] = targetName(tokenTarget(h.Ev))
	f.Evidence["tokenId"] = tokenID(h.Ev)
	f.Evidence["networkCondition"] = cond
	return f
}

func appTarget(ev *event.Event) *event.Target { return firstTarget(ev, "AppInstance") }

func isOrg2Org(t *event.Target) bool {
	if t == nil {
		return false
	}
	for _, s := range []string{t.DisplayName, t.AlternateID, detailStr(t, "appName"), detailStr(t, "name")} {
		s = strings.ToLower(s)
		if strings.Contains(s, "org2org") || strings.Contains(s, "okta_org2org") {
			return true
		}
	}
	return false
}

var persistenceRules = []*Rule{
	{
		ID: "api_token_created", Title: "Okta API token created", Severity: SeverityMedium, Theme: "persistence",
		MITRE: []string{"T1098.001", "T1528"},
		Description: "An admin created an SSWS API token (system.api_token.create): it acts with the creator's admin rights and " +
			"survives password and MFA resets. High when the token may be used from ANYWHERE (no network restriction). " +
			"The same alert is raised to the created_then_used_elsewhere pattern (high, one incident) when a token usable from anywhere is used within " +
			"24 h from a network (ASN) other than the one it was created from and not in the trusted ranges — the script " +
			"running elsewhere than the admin who made it. A zone-restricted token created as the admin's routine work " +
			"(it created tokens before, from a familiar network, no attack signal) is info.",
		FalsePositives: []string{"the identity team creating or rotating a network-restricted token for an integration: a token limited to a network zone, created by an admin who created tokens on an earlier day of the last 30 (or is in its learning period), from a trusted range or a network familiar to it, with no attack signal, is info (`routine`: false makes it alert); a token usable from ANYWHERE always alerts",
			"an integration using its zone-restricted token from its cloud project: created_then_used_elsewhere follows only tokens usable from anywhere, since Okta itself refuses a zone-restricted token outside its zone (`followZoneTokens`: true follows them too; api_token_new_source still alerts when a token moves to a network new to it)",
			"a new integration being set up by an admin who never created a token before (close the alert with the change request)"},
		Rearm: time.Hour,
		Params: []Param{routineParam,
			{Name: "followZoneTokens", Default: false, Doc: "created_then_used_elsewhere also follows tokens restricted to a network zone"}},
		On: []Pattern{
			{
				Name: "created",
				Match: Match{Types: []string{"system.api_token.create"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) },
					Baseline: func(c *Context, ev *event.Event, p Params) bool { return !routineToken(c, ev, p) }},
				Key:   tokenID,
				Alert: tokenFinding,
			},
			{
				Name: "routine_created",
				Match: Match{Types: []string{"system.api_token.create"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) },
					Baseline: routineToken},
				Key: tokenID,
				Alert: func(h *Hit) Finding {
					f := tokenFinding(h)
					routineFinding(&f)
					return f
				},
			},
			{
				Name:   "created_then_used_elsewhere",
				Window: 24 * time.Hour,
				Steps: []Step{
					{Name: "created", Match: Match{Types: []string{"system.api_token.create"}, Key: tokenID, Where: func(ev *event.Event, p Params) bool {
						return notFailed(ev) && (p.Bool("followZoneTokens") || !zoneToken(ev))
					}}},
					{Name: "used", Match: Match{Key: func(ev *event.Event) string { return ev.Debug.RequestAPITokenID }, Where: func(ev *event.Event, _ Params) bool {
						return ev.IsAPITokenRequest() && ev.Client.IPAddress != "" && !isTrusted(ev)
					}}, Check: func(prev []Snap, ev *event.Event, _ Params) bool {
						return network(prev[0].IP, prev[0].ASN) != evNetwork(ev)
					}},
				},
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Severity = SeverityHigh
					c := h.Steps[0]
					f.Summary = fmt.Sprintf("API token %s created by %s from %s was used %s later from %s (%s)", h.Key, c.Actor, network(c.IP, c.ASN),
						h.Ev.Published.Sub(c.Time()).Round(time.Minute), h.Ev.Client.IPAddress, evNetwork(h.Ev))
					f.Evidence["tokenId"] = h.Key
					f.Evidence["createdFrom"] = network(c.IP, c.ASN)
					f.Evidence["usedFrom"] = evNetwork(h.Ev)
					return f
				},
			},
		},
	},
	{
		ID: "api_token_revoked", Title: "Okta API token revoked", Severity: SeverityLow, Theme: "persistence",
		MITRE: []string{"T1531"},
		Description: "An API token was revoked (system.api_token.revoke). Usually hygiene; after a compromise it may be an " +
			"attacker cutting off an integration (or the defenders' tooling), or covering a token they used.",
		FalsePositives: []string{"routine token rotation", "offboarding of an integration"},
		Rearm:          time.Hour,
		On: []Pattern{{
			Name:  "revoked",
			Match: Match{Types: []string{"system.api_token.revoke"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
			Key:   tokenID,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s revoked API token %q", h.Ev.Actor.AlternateID, targetName(tokenTarget(h.Ev)))
				f.Evidence["token"] = targetName(tokenTarget(h.Ev))
				f.Evidence["tokenId"] = tokenID(h.Ev)
				return f
			},
		}},
	},
	{
		ID: "api_token_new_source", Title: "API token used from a new network", Severity: SeverityHigh, Theme: "persistence",
		MITRE: []string{"T1550.001", "T1078.004"},
		Description: "An API token seen for at least `learn` (7 days) was used from a network (ASN, else /24) it has not used in " +
			"the last 30 days, outside the trusted ranges. Integrations run from fixed infrastructure; a stolen token runs " +
			"from the thief's.",
		FalsePositives: []string{"an integration moved to a new cloud region or provider", "a token shared between environments"},
		Params:         []Param{{Name: "learn", Default: 7 * 24 * time.Hour, Doc: "how long a token is observed before new networks alert"}},
		On: []Pattern{{
			Name: "new_network",
			Match: Match{Where: func(ev *event.Event, _ Params) bool {
				return ev.IsAPITokenRequest() && ev.Client.IPAddress != "" && !isTrusted(ev)
			}},
			Key:   func(ev *event.Event) string { return ev.Debug.RequestAPITokenID },
			Term:  evNetwork,
			Learn: 7 * 24 * time.Hour,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("API token %s (acting as %s) used from new network %s (%s); first seen %s", h.Key, h.Ev.Actor.AlternateID, h.Term, h.Ev.Client.IPAddress, h.Steps[0].Time().Format("2006-01-02"))
				f.Evidence["tokenId"] = h.Key
				return f
			},
		}},
	},
	{
		ID: "idp_lifecycle", Title: "Identity provider created or changed", Severity: SeverityHigh, Theme: "persistence",
		MITRE: []string{"T1484.002", "T1556.007"},
		Description: "An identity provider was created, changed, activated, deactivated or deleted (system.idp.lifecycle.*). " +
			"A rogue inbound-federation IdP lets an attacker sign in as any user without their password or MFA " +
			"(the 2023 cross-tenant impersonation attacks). An update of an existing IdP that is the admin's routine work " +
			"(it updated IdPs before, from a familiar network, no attack signal) is info.",
		FalsePositives: []string{"the identity team maintaining an existing IdP (certificate rotation): an update by an admin who updated IdPs on an earlier day of the last 30 (or is in its learning period), from a trusted range or a network familiar to it, with no attack signal, is info (`routine`: false makes it alert); creating, activating, deactivating or deleting an IdP always alerts",
			"a planned federation with a partner or a new social login (close the alert with the change request)"},
		Params: []Param{routineParam},
		On: []Pattern{{
			Name: "lifecycle",
			Match: Match{Types: []string{"system.idp.lifecycle.*"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) },
				Baseline: func(c *Context, ev *event.Event, p Params) bool { return !routineIdPUpdate(c, ev, p) }},
			Key:   idpKey,
			Alert: idpFinding,
		}, {
			Name: "routine_update",
			Match: Match{Types: []string{"system.idp.lifecycle.update"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) },
				Baseline: routineIdPUpdate},
			Key: idpKey,
			Alert: func(h *Hit) Finding {
				f := idpFinding(h)
				routineFinding(&f)
				return f
			},
		}},
	},
	{
		ID: "idp_signin_new", Title: "Sign-in through an identity provider new for the user", Severity: SeverityMedium, Theme: "persistence",
		MITRE: []string{"T1199", "T1078.004"},
		Description: "A user signed in through an external identity provider (user.authentication.auth_via_IDP) that they have " +
			"not used before (after a 7-day learning period of the user's IdP sign-ins). With a rogue IdP the attacker " +
			"picks whom to impersonate.",
		FalsePositives: []string{"a new federation rolled out to existing users"},
		On: []Pattern{{
			Name:  "new_idp",
			Match: Match{Types: []string{"user.authentication.auth_via_IDP"}, Where: isOK},
			Term: func(ev *event.Event) string {
				if t := firstTarget(ev, "IdentityProvider"); t != nil {
					return targetName(t)
				}
				if ev.Auth.IssuerID != "" {
					return ev.Auth.IssuerID
				}
				return ev.Auth.AuthenticationProvider
			},
			Learn: 7 * 24 * time.Hour,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s signed in through identity provider %q for the first time", h.Ev.Actor.AlternateID, h.Term)
				return f
			},
		}},
	},
	{
		ID: "app_lifecycle", Title: "Application created, changed, deactivated or deleted", Severity: SeverityLow, Theme: "persistence",
		MITRE: []string{"T1098", "T1562"},
		Description: "A person created, updated, deactivated or deleted an application (application.lifecycle.*). New or " +
			"modified SAML/OIDC apps can redirect sign-ins or add a backdoor; deactivating or deleting apps disrupts access " +
			"(medium). One alert per app per day.",
		FalsePositives: []string{"application onboarding and configuration by the identity team"},
		On: []Pattern{{
			Name: "lifecycle",
			Match: Match{Types: []string{"application.lifecycle.create", "application.lifecycle.update", "application.lifecycle.deactivate", "application.lifecycle.delete"},
				Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) && isPerson(ev) }},
			Key: func(ev *event.Event) string { return targetName(appTarget(ev)) },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Severity = sevIf(destructiveVerb(h.Ev), SeverityMedium, SeverityLow)
				f.Summary = fmt.Sprintf("%s %s application %q", h.Ev.Actor.AlternateID, eventVerb(h.Ev), targetName(appTarget(h.Ev)))
				f.Evidence["app"] = targetName(appTarget(h.Ev))
				f.Evidence["action"] = eventVerb(h.Ev)
				return f
			},
		}},
	},
	{
		ID: "org2org_app", Title: "Org2Org application created or changed", Severity: SeverityHigh, Theme: "persistence",
		MITRE: []string{"T1199", "T1484.002"},
		Description: "An Okta Org2Org application was created, changed or activated. Org2Org connects this org to another Okta " +
			"org; attackers (Scattered Spider) used it to sign in to the victim org from an org they control.",
		FalsePositives: []string{"hub-and-spoke Okta architectures adding a spoke"},
		On: []Pattern{{
			Name: "org2org",
			Match: Match{Types: []string{"application.lifecycle.*"}, Where: func(ev *event.Event, _ Params) bool {
				return notFailed(ev) && isOrg2Org(appTarget(ev))
			}},
			Key: func(ev *event.Event) string { return targetName(appTarget(ev)) },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s %s Org2Org application %q", h.Ev.Actor.AlternateID, eventVerb(h.Ev), targetName(appTarget(h.Ev)))
				f.Evidence["app"] = targetName(appTarget(h.Ev))
				return f
			},
		}},
	},
	{
		ID: "scim_password_push", Title: "Application set to push user passwords", Severity: SeverityHigh, Theme: "persistence",
		MITRE: []string{"T1556", "T1552"},
		Description: "An application's provisioning was set to push user passwords (outcome reason or change mentioning password " +
			"push). An attacker-controlled SCIM endpoint then receives every user's password.",
		FalsePositives: []string{"legacy apps that genuinely need password sync"},
		On: []Pattern{{
			Name: "password_push",
			Match: Match{Types: []string{"application.lifecycle.*", "application.provision.*", "app.*"}, Where: func(ev *event.Event, _ Params) bool {
				if !notFailed(ev) {
					return false
				}
				if reasonHas(ev, "pushing user passwords") || reasonHas(ev, "push password") {
					return true
				}
				for i := range ev.Targets {
					if cd := ev.Targets[i].ChangeDetails; cd != nil {
						for k, v := range cd.To {
							if strings.Contains(strings.ToLower(k), "pushpassword") || strings.Contains(strings.ToLower(k), "password_push") {
								if b, ok := v.(bool); ok && b {
									return true
								}
							}
						}
					}
				}
				return false
			}},
			Key: func(ev *event.Event) string { return targetName(appTarget(ev)) },
		}},
	},
	{
		ID: "ad_agent_created", Title: "Active Directory agent added", Severity: SeverityMedium, Theme: "persistence",
		MITRE: []string{"T1556.007"},
		Description: "A new AD agent was registered or reactivated (system.agent.ad.create / .reactivate). An agent under an " +
			"attacker's control can authenticate delegated users (pass-through) and import users.",
		FalsePositives: []string{"adding or replacing AD agents during maintenance"},
		On: []Pattern{{
			Name:  "agent",
			Match: Match{Types: []string{"system.agent.ad.create", "system.agent.ad.reactivate"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
			Key:   func(ev *event.Event) string { return ev.EventType },
		}},
	},
}
