package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Admin and privilege rules.

var privilegeGrantTypes = []string{"user.account.privilege.grant", "group.privilege.grant", "iam.resourceset.bindings.add"}

// grantedRole is the role an admin-grant event names (detailEntry
// privilegeGranted, debugData privilegeGranted, or the role target).
func grantedRole(ev *event.Event) string {
	for i := range ev.Targets {
		if r := detailStr(&ev.Targets[i], "privilegeGranted"); r != "" {
			return r
		}
	}
	if r := debugStr(ev, "privilegeGranted"); r != "" {
		return r
	}
	if t := firstTarget(ev, "ROLE", "Role", "CUSTOM_ROLE"); t != nil {
		return targetName(t)
	}
	return ""
}

func isSuperRole(role string) bool {
	r := strings.ToLower(role)
	return strings.Contains(r, "super") || strings.Contains(r, "org admin") || strings.Contains(r, "organization administrator") || strings.Contains(r, "org_admin")
}

// grantee is the user or group receiving a role.
func grantee(ev *event.Event) *event.Target {
	return firstTarget(ev, "User", "UserGroup", "Group")
}

// granteeName is a user grantee's login, else the group's name.
func granteeName(t *event.Target) string {
	if t != nil && t.Type == "User" && t.AlternateID != "" && t.AlternateID != "unknown" {
		return t.AlternateID
	}
	return targetName(t)
}

var adminRules = []*Rule{
	{
		ID: "admin_role_granted", Title: "Administrator role granted", Severity: SeverityHigh, Theme: "admin",
		MITRE: []string{"T1098.003", "T1078.004"},
		Description: "An administrator role (or a custom role binding) was granted to a user or a group. New admins are the " +
			"first persistence step after an admin account takeover. Check that a change request exists, that the actor " +
			"normally administers roles, and that the grantee should hold this role; critical for Super / Org administrator. " +
			"A grant of another role to someone else that is the admin's routine work (it granted this kind of role before, " +
			"from a familiar network, no attack signal) is info.",
		FalsePositives: []string{"the identity team granting roles as part of its work: a grant of a role other than Super / Org administrator, to someone else, by an admin who granted this kind of role on an earlier day of the last 30 (or is in its learning period), from a trusted range or a network familiar to it, with no attack signal, is info (`routine`: false makes it alert)",
			"planned onboarding of a new administrator by an admin who never granted roles before (close the alert with the change request)",
			"just-in-time access tooling granting time-bound roles (scope its actor out with `exclude`)"},
		Rearm:  time.Hour,
		Params: []Param{routineParam},
		On: []Pattern{{
			Name: "grant",
			Match: Match{Types: privilegeGrantTypes, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) },
				Baseline: func(c *Context, ev *event.Event, p Params) bool { return !routineGrant(c, ev, p) }},
			Key:   grantKey,
			Alert: grantFinding,
		}, {
			Name: "routine_grant",
			Match: Match{Types: privilegeGrantTypes, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) },
				Baseline: routineGrant},
			Key: grantKey,
			Alert: func(h *Hit) Finding {
				f := grantFinding(h)
				routineFinding(&f)
				return f
			},
		}},
	},
	{
		ID: "new_user_created", Title: "User account created outside the usual path", Severity: SeverityLow, Theme: "admin",
		MITRE: []string{"T1136.003"},
		Description: "A person (not the provisioning integration) created an Okta user from a network new to that person " +
			"(not among the networks it signed in from over the last 30 days before today) or from an anonymous, suspicious " +
			"or risky address, or a user created in the last 24 h was granted an administrator role (the 2023 breach pattern: " +
			"create a backdoor user, make it admin). Verify the creator and the new account with HR / the requester.",
		FalsePositives: []string{"administrators creating users from home for the first time, on the device and in the place Okta knows for the session (New Device and New Geo-Location NEGATIVE), outside hosting providers: not an alert (`knownDevice`: false alerts)",
			"administrators creating users from a hotel or another new network on a new device (one low incident per admin per day; add the range to `trusted` or `exclude` the admin)",
			"break-glass accounts created during an incident (`exclude` the responders for the incident)"},
		Params: []Param{knownDeviceParam},
		On: []Pattern{
			{
				Name: "untrusted_creator",
				Match: Match{Types: []string{"user.lifecycle.create"}, Where: func(ev *event.Event, _ Params) bool {
					return notFailed(ev) && isPerson(ev) && ev.Transaction.Type != "JOB" && !isTrusted(ev) && ev.Client.IPAddress != ""
				}, Baseline: newOrHostileNetwork},
				Key: targetUserKey,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Learn = LearnUser
					f.Summary = fmt.Sprintf("%s created user %s from %s, %s", h.Ev.Actor.AlternateID, targetUserKey(h.Ev), h.Ev.Client.IPAddress, networkWhy(h.Ev))
					f.Evidence["createdUser"] = targetUserKey(h.Ev)
					networkEvidence(&f, h.Ev)
					return f
				},
			},
			{
				Name:   "created_then_admin",
				Window: 24 * time.Hour,
				Key:    targetUserKey,
				Steps: []Step{
					{Name: "created", Match: Match{Types: []string{"user.lifecycle.create"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }}},
					{Name: "admin_granted", Match: Match{Types: []string{"user.account.privilege.grant"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }}},
				},
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Severity = SeverityHigh
					f.Summary = fmt.Sprintf("user %s was created at %s and granted %s by %s within 24 h", h.Key, h.Steps[0].Time().Format(time.RFC3339), orDefault(grantedRole(h.Ev), "an admin role"), h.Ev.Actor.AlternateID)
					f.Evidence["createdUser"] = h.Key
					f.Evidence["role"] = grantedRole(h.Ev)
					return f
				},
			},
		},
	},
	{
		ID: "admin_activity_untrusted_ip", Title: "Administrative activity from a network new to the admin", Severity: SeverityMedium, Theme: "admin",
		MITRE: []string{"T1078.004"},
		Description: "A person used the Admin Console or performed an administrative action from a network new to that " +
			"admin — neither its /24 (/64) nor, outside hosting / datacenter ASNs, its ISP in the same country is among " +
			"the networks the admin signed in from over the last 30 days before today — or from an anonymous, suspicious " +
			"or risky address (high). Each admin's home and mobile networks are learned like any other; the `trusted` " +
			"list stays an allow-list (never alerts). Silent during the admin's learning period. One incident per admin " +
			"per day: a stolen admin session or credentials used from the attacker's own network.",
		FalsePositives: []string{"an admin working from home or the phone for the first time: on the device and in the place Okta knows for the session (New Device and New Geo-Location NEGATIVE at its sign-in), outside hosting providers and with no attack signal, it is info (`knownDevice`: false alerts)",
			"automation (API tokens) running from its usual cloud project: the networks an account's API-token admin requests come from are learned like sign-in networks (familiar from the day after the first use)",
			"an admin working from a new network on a new device (hotel, new laptop): one medium incident per admin per day; add the range to `trusted` or `exclude` the admin while travelling",
			"a new office or VPN egress before it is learned: add it to `trusted`"},
		Params: []Param{knownDeviceParam},
		On: []Pattern{{
			Name:  "untrusted",
			Match: Match{Where: adminActivity, Baseline: newOrHostileNetwork},
			Key:   func(*event.Event) string { return "" },
			Alert: adminNetworkFinding,
		}, {
			Name:  "known_device",
			Match: Match{Where: adminActivity, Baseline: knownDeviceNewNetwork},
			Key:   func(*event.Event) string { return "" },
			Alert: func(h *Hit) Finding {
				return flagFinding(adminNetworkFinding(h), SeverityInfo, "knownDevice", " — on the device and in the place Okta knows for this session")
			},
		}},
	},
	{
		ID: "admin_console_access_denied", Title: "Admin Console access denied", Severity: SeverityMedium, Theme: "admin",
		MITRE: []string{"T1078.004"},
		Description: "Okta refused a user access to the Admin Console (user.session.access_admin_app FAILURE). After an account " +
			"takeover attackers probe the console; a denial by the admin app policy (network zone, MFA) stops them but " +
			"says the credentials work.",
		FalsePositives: []string{"a user who is not an admin clicking the Admin button", "an admin blocked by a stricter admin policy while off-network"},
		Rearm:          6 * time.Hour,
		On: []Pattern{{
			Name:  "denied",
			Match: Match{Types: []string{"user.session.access_admin_app"}, Where: func(ev *event.Event, _ Params) bool { return ev.IsFailure() }},
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s was denied Admin Console access from %s (%s)", h.Ev.Actor.AlternateID, h.Ev.Client.IPAddress, orDefault(h.Ev.Outcome.Reason, "no reason"))
				f.Evidence["reason"] = h.Ev.Outcome.Reason
				return f
			},
		}},
	},
	{
		ID: "admin_console_weak_mfa", Title: "Admin Console reached with a weak or no second factor", Severity: SeverityHigh, Theme: "admin",
		MITRE: []string{"T1078.004", "T1556"},
		Description: "The Admin Console was reached with only a password / email / SMS / security question " +
			"(user.authentication.verify to the Okta Admin Console with a weak methodTypeUsed), or in a session " +
			"that started with a password and saw no successful MFA (logged before or after the session start) " +
			"before the console was opened. Admin access " +
			"should require phishing-resistant MFA; this is how stolen passwords become admin sessions.",
		FalsePositives: []string{"break-glass accounts exempted from MFA", "orgs whose admin app policy deliberately allows a single factor"},
		On: []Pattern{
			{
				Name: "weak_method",
				Match: Match{Types: []string{"user.authentication.verify"}, Where: func(ev *event.Event, _ Params) bool {
					if !ev.IsSuccess() {
						return false
					}
					admin, weak := false, false
					for i := range ev.Targets {
						t := &ev.Targets[i]
						n := strings.ToLower(t.DisplayName)
						if strings.Contains(n, "okta admin console") || strings.Contains(n, "okta administration") {
							admin = true
						}
						switch strings.ToLower(detailStr(t, "methodTypeUsed")) {
						case "password", "email", "sms", "security_question", "security question":
							weak = true
						}
					}
					return admin && weak
				}},
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Summary = fmt.Sprintf("%s reached the Admin Console with a weak factor from %s", h.Ev.Actor.AlternateID, h.Ev.Client.IPAddress)
					return f
				},
			},
			{
				Name:         "no_mfa_session",
				Window:       12 * time.Hour,
				Key:          sessKey,
				CancelBefore: true,
				Steps: []Step{
					{Name: "password_session", Match: Match{Types: []string{"user.session.start"}, Where: func(ev *event.Event, _ Params) bool {
						return ev.IsSuccess() && isPerson(ev) && !ev.IsAPITokenRequest()
					}}},
					{Name: "admin_console", Match: Match{Types: []string{"user.session.access_admin_app"}, Where: isOK}},
				},
				Cancel: []Match{{Types: []string{"user.authentication.auth_via_mfa", "user.authentication.verify"}, Where: func(ev *event.Event, _ Params) bool {
					return ev.IsSuccess() && (ev.EventType == "user.authentication.auth_via_mfa" || !strings.EqualFold(ev.Auth.CredentialType, "PASSWORD"))
				}}},
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Summary = fmt.Sprintf("%s opened the Admin Console in a session with no successful MFA since its password sign-in at %s", h.Ev.Actor.AlternateID, h.Steps[0].Time().Format(time.RFC3339))
					f.Evidence["session"] = h.Key
					return f
				},
			},
		},
	},
	{
		ID: "okta_support_reset", Title: "Password or factors reset by Okta Support", Severity: SeverityHigh, Theme: "admin",
		MITRE: []string{"T1098", "T1199"},
		Description: "A user's password was reset, or a factor reset or deactivated, by Okta itself (actor system@okta.com) " +
			"from no client (no user agent, no location): the trace of an Okta Support action, which social engineers request " +
			"to take over an account. Confirm a support case exists and that the user asked for it.",
		FalsePositives: []string{"a support case the org opened for the user (one incident per day with the users as targets; `exclude` nothing — close the alert with the case number)"},
		On: []Pattern{{
			Name: "support_reset",
			Match: Match{Types: []string{"user.account.reset_password", "user.mfa.factor.reset_all", "user.mfa.factor.deactivate", "system.mfa.factor.deactivate", "user.mfa.factor.update"},
				Where: func(ev *event.Event, _ Params) bool {
					return notFailed(ev) && strings.EqualFold(ev.Actor.AlternateID, event.OktaSystemActor) &&
						ev.Client.UserAgent.Raw == "" && ev.Country() == "" && ev.Transaction.Type != "JOB"
				}},
			Key: targetUserKey,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("Okta Support (%s) performed %s on %s", h.Ev.Actor.AlternateID, h.Ev.EventType, orDefault(targetUserKey(h.Ev), "an unknown user"))
				f.Evidence["eventType"] = h.Ev.EventType
				f.Evidence["user"] = targetUserKey(h.Ev)
				return f
			},
		}},
	},
	{
		ID: "support_impersonation", Title: "Okta Support impersonation", Severity: SeverityHigh, Theme: "admin",
		MITRE: []string{"T1078.004", "T1199"},
		Description: "An admin granted Okta Support access to the org (user.session.impersonation.grant, medium) or a Support " +
			"engineer started an impersonation session (user.session.impersonation.initiate, high). Support access should " +
			"match an open support case; an unexpected grant or session is a trust-relationship abuse.",
		FalsePositives: []string{"a support case the org opened and approved"},
		On: []Pattern{{
			Name:  "impersonation",
			Match: Match{Types: []string{"user.session.impersonation.grant", "user.session.impersonation.initiate", "user.session.impersonation.extend"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
			Key:   func(ev *event.Event) string { return ev.EventType },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				orig := debugStr(h.Ev, "originalPrincipal")
				if h.Ev.EventType == "user.session.impersonation.initiate" {
					f.Summary = fmt.Sprintf("Okta Support started an impersonation session as %s from %s", h.Ev.Actor.AlternateID, h.Ev.Client.IPAddress)
				} else {
					f.Severity = SeverityMedium
					f.Summary = fmt.Sprintf("%s %s Okta Support access (%s)", h.Ev.Actor.AlternateID, eventVerb(h.Ev), orDefault(debugStr(h.Ev, "grantDurationHours")+" h", "duration unknown"))
				}
				f.Evidence["eventType"] = h.Ev.EventType
				if orig != "" {
					f.Evidence["originalPrincipal"] = orig
				}
				return f
			},
		}},
	},
}

// adminActivity: a person's successful Admin Console access or admin
// action from a known, untrusted address.
func adminActivity(ev *event.Event, _ Params) bool {
	if !isPerson(ev) || ev.IsFailure() || ev.Client.IPAddress == "" || isTrusted(ev) {
		return false
	}
	return ev.EventType == "user.session.access_admin_app" || ev.IsAdminAction()
}

func adminNetworkFinding(h *Hit) Finding {
	f := h.Base()
	f.Learn = LearnUser
	f.Summary = fmt.Sprintf("%s performed %s from %s (%s), %s", h.Ev.Actor.AlternateID, h.Ev.EventType, h.Ev.Client.IPAddress, orDefault(h.Ev.Country(), "unknown country"), networkWhy(h.Ev))
	f.Evidence["eventType"] = h.Ev.EventType
	f.Evidence["apiToken"] = h.Ev.IsAPITokenRequest()
	networkEvidence(&f, h.Ev)
	return f
}

// routineParam is the knob of every rule that tells an admin's routine
// work from the rest (adminRoutine).
var routineParam = Param{Name: "routine", Default: true,
	Doc: "an established admin repeating an action it performed on an earlier day of the last 30 (or still in its learning period), from a trusted range or a network familiar to it, with no attack signal, raises info instead of an alert; false: always alert"}

// adminRoutine reports why an admin action is the actor's routine work
// ("" when it is not): no anonymous / suspicious / risky signal, from a
// trusted range or a network the actor signed in from on an earlier day
// of the last 30 (Context.NetworkFamiliar; during the actor's learning
// period, outside hosting providers, earlier the same day), and either the actor performed
// this event type on an earlier day of the last 30 ("repeat") or the
// actor is still in its learning period, when only the network can be
// judged ("learning"). Off when the rule's `routine` param is false.
func adminRoutine(c *Context, ev *event.Event, p Params) string {
	if !p.Bool("routine") || !isPerson(ev) || ev.Client.IPAddress == "" || attackSignal(ev) != "" {
		return ""
	}
	learning := c.UserLearning(ev.Actor.AlternateID)
	if !isTrusted(ev) {
		familiar, _ := c.NetworkFamiliar(ev, true)
		if !familiar && learning && !isCloud(ev) {
			// the first days: a network seen earlier today counts
			familiar, _ = c.NetworkFamiliar(ev, false)
		}
		if !familiar {
			return ""
		}
	}
	if c.ActorDidBefore(ev.EventType) {
		return "repeat"
	}
	if learning {
		return "learning"
	}
	return ""
}

func isRoutineAdmin(c *Context, ev *event.Event, p Params) bool { return adminRoutine(c, ev, p) != "" }

func notRoutineAdmin(c *Context, ev *event.Event, p Params) bool { return adminRoutine(c, ev, p) == "" }

// routineFinding turns a routine action's finding into context: info
// severity, the reason in the evidence and the summary.
func routineFinding(f *Finding) {
	*f = flagFinding(*f, SeverityInfo, "routine", " — routine: an action this admin performed before (or in its learning period), from a network familiar to it, no attack signal")
}

// flagFinding sets a finding's severity, marks flag in its evidence and
// appends note to its summary.
func flagFinding(f Finding, sev, flag, note string) Finding {
	f.Severity = sev
	f.Evidence[flag] = true
	f.Summary += note
	return f
}

func grantKey(ev *event.Event) string { return granteeName(grantee(ev)) + "|" + grantedRole(ev) }

func selfGrant(ev *event.Event) bool {
	who := grantee(ev)
	return who != nil && who.Type == "User" && !onOtherUser(ev)
}

// routineGrant: a grant that is the actor's routine work — never a Super /
// Org administrator role, never to itself.
func routineGrant(c *Context, ev *event.Event, p Params) bool {
	return !isSuperRole(grantedRole(ev)) && !selfGrant(ev) && isRoutineAdmin(c, ev, p)
}

func grantFinding(h *Hit) Finding {
	f := h.Base()
	role, who := grantedRole(h.Ev), grantee(h.Ev)
	f.Severity = sevIf(isSuperRole(role), SeverityCritical, SeverityHigh)
	kind := "user"
	if who != nil && who.Type != "User" {
		kind = "group"
	}
	if h.Ev.EventType == "iam.resourceset.bindings.add" {
		kind = "custom role binding"
	}
	if role == "" {
		role = "an administrator role"
	}
	f.Summary = fmt.Sprintf("%s granted %s to %s %s", h.Ev.Actor.AlternateID, role, kind, granteeName(who))
	f.Evidence["role"] = role
	f.Evidence["granteeType"] = kind
	f.Evidence["grantee"] = granteeName(who)
	f.Evidence["selfGrant"] = selfGrant(h.Ev)
	return f
}

// newOrHostileNetwork matches an event from a network new to its actor
// (not first seen before today; see Context.NetworkFamiliar) or from a
// hostile address.
// A network new to the actor in a session Okta signed in from a known
// device and place (knownDeviceNewNetwork) does not match when the rule's
// `knownDevice` param is true.
func newOrHostileNetwork(c *Context, ev *event.Event, p Params) bool {
	if attackSignal(ev) != "" {
		return true
	}
	familiar, _ := c.NetworkFamiliar(ev, true)
	return !familiar && !knownDeviceNewNetwork(c, ev, p)
}

// knownDeviceParam is the knob of the admin-network rules for a known
// device on a new network.
var knownDeviceParam = Param{Name: "knownDevice", Default: true,
	Doc: "a network new to the admin is not an alert when Okta signed the session in from a known device and place (behaviours New Device and New Geo-Location NEGATIVE), the network is not a hosting provider and nothing is hostile (an admin working from home for the first time); false: alert"}

// knownDeviceNewNetwork: a network new to the actor, not a hosting
// provider, no attack signal, in the actor's session that Okta signed in
// from a known device and a known place.
func knownDeviceNewNetwork(c *Context, ev *event.Event, p Params) bool {
	if !p.Bool("knownDevice") || attackSignal(ev) != "" || isCloud(ev) || !c.SessionDeviceKnown(ev) {
		return false
	}
	familiar, _ := c.NetworkFamiliar(ev, true)
	return !familiar
}

func networkWhy(ev *event.Event) string {
	if sig := attackSignal(ev); sig != "" {
		return "a hostile address (" + sig + ")"
	}
	return "a network new to this admin"
}

// networkEvidence adds the network facts; a hostile address raises the
// finding to high.
func networkEvidence(f *Finding, ev *event.Event) {
	f.Evidence["asn"] = asnOf(ev)
	f.Evidence["hosting"] = isCloud(ev)
	if sig := attackSignal(ev); sig != "" {
		f.Evidence["attackSignal"] = sig
		f.Severity = SeverityHigh
	}
}

func orDefault(s, def string) string {
	if s == "" || s == " h" {
		return def
	}
	return s
}
