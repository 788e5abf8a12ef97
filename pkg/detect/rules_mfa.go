package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// MFA abuse rules, including the help-desk social-engineering chain.

var factorResetTypes = []string{"user.mfa.factor.reset_all", "user.mfa.factor.deactivate", "user.mfa.factor.suspend"}

// resetByOther: a person acted on another user's factors or password.
func resetByOther(ev *event.Event, _ Params) bool {
	return notFailed(ev) && isPerson(ev) && onOtherUser(ev)
}

var enrolTypes = []string{"user.mfa.factor.activate", "user.mfa.factor.update", "device.user.add", "device.enrollment.create", "system.mfa.factor.activate"}

// enrolledDevice is the device a factor or device enrolment names: the
// top-level Okta Verify device, else a UDDevice target (oktaDeviceId).
func enrolledDevice(ev *event.Event) string {
	if ev.Device != nil && ev.Device.ID != "" {
		return ev.Device.ID
	}
	if t := firstTarget(ev, "UDDevice", "Device"); t != nil {
		if id := detailStr(t, "oktaDeviceId"); id != "" {
			return id
		}
		return t.ID
	}
	return ""
}

// resetFollowUpTypes: what a user does after a factor reset — sign in and
// enrol a factor or device.
var resetFollowUpTypes = append([]string{"user.session.start", "user.authentication.verify", "user.authentication.sso"}, enrolTypes...)

// routineReset: a reset that is the resetter's routine work and whose
// target does not administer the org.
func routineReset(c *Context, ev *event.Event, p Params) bool {
	return isRoutineAdmin(c, ev, p) && !c.UserAdministers(targetUserKey(ev))
}

// resetFinding is the finding of the reset itself, on the resetter.
func resetFinding(h *Hit) Finding {
	f := h.Base()
	f.Key = "reset"
	f.Summary = fmt.Sprintf("%s %s the MFA factors of %s", h.Ev.Actor.AlternateID, strings.ReplaceAll(eventVerb(h.Ev), "_", " "), targetUserKey(h.Ev))
	f.Evidence["targetUser"] = targetUserKey(h.Ev)
	f.Evidence["action"] = h.Ev.EventType
	return f
}

// resetFollowUp is the finding of what followed a reset: the resetter's
// incident (same key as the reset), raised.
func resetFollowUp(h *Hit) Finding {
	f := h.Base()
	r := h.Steps[0]
	f.Key = "reset"
	f.Time = r.Time()
	f.Actor, f.ActorID, f.IP, f.Country = r.Actor, "", r.IP, r.Country
	f.Targets = []string{h.Key}
	f.Evidence["targetUser"] = h.Key
	f.Evidence["action"] = r.Type
	return f
}

// userNewOrHostileNetwork: the user's event comes from a hostile address,
// or from a network the user never signed in from (before this event);
// while the user is in its learning period, from a hosting network only.
func userNewOrHostileNetwork(c *Context, ev *event.Event, _ Params) bool {
	if attackSignal(ev) != "" {
		return true
	}
	if familiar, _ := c.NetworkFamiliar(ev, false); familiar {
		return false
	}
	return isCloud(ev) || !c.UserLearning(ev.Actor.AlternateID)
}

// userNetWhy says why a user's follow-up network is suspicious.
func userNetWhy(ev *event.Event) string {
	if sig := attackSignal(ev); sig != "" {
		return "a hostile address (" + sig + ")"
	}
	if isCloud(ev) {
		return "a hosting network new to the user"
	}
	return "a network new to the user"
}

var mfaRules = []*Rule{
	{
		ID: "mfa_factor_reset_by_other", Title: "MFA factors reset or deactivated by another user", Severity: SeverityMedium, Theme: "mfa",
		MITRE: []string{"T1556.006", "T1098"},
		Description: "Someone reset, deactivated or suspended another user's MFA factors (user.mfa.factor.reset_all / " +
			"deactivate / suspend, actor ≠ target). This is the help-desk step of social-engineering attacks: the caller " +
			"then enrols their own factor. Alerts at once when the resetter never did this before (on an earlier day of " +
			"the last 30, outside its learning period), works from a network new to it or a hostile address (high), or " +
			"the target administers the org (high). A routine reset (otherwise) is info and is then judged by what " +
			"follows: the user signing in or enrolling from a network new to them or a hostile address within `window` " +
			"raises the incident to high; no sign-in or enrolment by the user within `quiet` raises it to medium (an " +
			"unconfirmed reset); the user back on a familiar network closes it. Confirm the request came through a " +
			"verified channel.",
		FalsePositives: []string{"the help desk resetting a lost phone: a reset by an actor who resets routinely, followed within `quiet` by the user signing in or enrolling from their own familiar network, stays info (`routine`: false alerts on every reset)",
			"a user who is reset but re-enrols only the next day (medium after `quiet`; raise `quiet`); a reset during offboarding, when the user is suspended or deactivated within `quiet`, does not alert",
			"a user re-enrolling from a hotel or a new ISP (high: confirm with the user)"},
		Rearm: 8 * time.Hour,
		Params: []Param{routineParam,
			{Name: "quiet", Default: 4 * time.Hour, Doc: "how long a routine reset waits for the user to sign in or enrol before it alerts as unconfirmed"},
			{Name: "window", Default: 24 * time.Hour, Doc: "how long after a reset a sign-in or enrolment by the user from a new or hostile network raises it"}},
		On: []Pattern{{
			Name: "reset",
			Match: Match{Types: factorResetTypes, Where: resetByOther, Baseline: func(c *Context, ev *event.Event, p Params) bool {
				return !routineReset(c, ev, p) && !c.UserAdministers(targetUserKey(ev))
			}},
			Key: targetUserKey,
			Alert: func(h *Hit) Finding {
				f := resetFinding(h)
				if sig := attackSignal(h.Ev); sig != "" {
					f.Severity = SeverityHigh
					f.Evidence["attackSignal"] = sig
				}
				return f
			},
		}, {
			Name: "reset_of_admin",
			Match: Match{Types: factorResetTypes, Where: resetByOther, Baseline: func(c *Context, ev *event.Event, _ Params) bool {
				return c.UserAdministers(targetUserKey(ev))
			}},
			Key: targetUserKey,
			Alert: func(h *Hit) Finding {
				return flagFinding(resetFinding(h), SeverityHigh, "targetAdministers", ", who administers the org")
			},
		}, {
			Name:  "routine_reset",
			Match: Match{Types: factorResetTypes, Where: resetByOther, Baseline: routineReset},
			Key:   targetUserKey,
			Alert: func(h *Hit) Finding {
				return flagFinding(resetFinding(h), SeverityInfo, "routine", " — routine reset by an actor who resets; watching the user's next sign-in")
			},
		}, {
			Name:   "reset_then_new_network",
			Window: 24 * time.Hour,
			Steps: []Step{
				{Name: "reset", Match: Match{Types: factorResetTypes, Key: targetUserKey, Where: resetByOther}},
				{Name: "user_from_new_network", Match: Match{Types: resetFollowUpTypes, Key: actorKey, Where: isOK, Baseline: userNewOrHostileNetwork}},
			},
			Alert: func(h *Hit) Finding {
				f := resetFollowUp(h)
				f.Severity = SeverityHigh
				f.Summary = fmt.Sprintf("%s reset the MFA factors of %s; %s later %s performed %s from %s, %s", h.Steps[0].Actor, h.Key,
					h.Ev.Published.Sub(h.Steps[0].Time()).Round(time.Minute), h.Key, h.Ev.EventType, h.Ev.Client.IPAddress, userNetWhy(h.Ev))
				f.Evidence["followUpIP"] = h.Ev.Client.IPAddress
				f.Evidence["followUpType"] = h.Ev.EventType
				f.Evidence["followUpASN"] = asnOf(h.Ev)
				f.Evidence["followUpHosting"] = isCloud(h.Ev)
				if sig := attackSignal(h.Ev); sig != "" {
					f.Evidence["attackSignal"] = sig
				}
				return f
			},
		}, {
			Name:   "reset_unconfirmed",
			Window: 24 * time.Hour,
			Quiet:  4 * time.Hour,
			Steps:  []Step{{Name: "reset", Match: Match{Types: factorResetTypes, Key: targetUserKey, Where: resetByOther}}},
			Cancel: []Match{{Types: resetFollowUpTypes, Key: actorKey, Where: isOK},
				// offboarding: the user is suspended or deactivated, nobody is expected back
				{Types: []string{"user.lifecycle.suspend", "user.lifecycle.deactivate"}, Key: targetUserKey, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }}},
			Alert: func(h *Hit) Finding {
				f := resetFollowUp(h)
				f.Severity = SeverityMedium
				f.Summary = fmt.Sprintf("%s reset the MFA factors of %s at %s and the user has not signed in or enrolled in the %s since", h.Steps[0].Actor, h.Key,
					h.Steps[0].Time().Format(time.RFC3339), h.At.Sub(h.Steps[0].Time()).Round(time.Minute))
				f.Evidence["unconfirmedFor"] = h.At.Sub(h.Steps[0].Time()).Round(time.Second).String()
				return f
			},
		}},
	},
	{
		ID: "helpdesk_chain", Title: "Help-desk social-engineering chain", Severity: SeverityCritical, Theme: "mfa",
		MITRE: []string{"T1656", "T1556.006", "T1078.004", "T1098"},
		Description: "Another person reset a user's password or MFA; within an hour a new factor or device was enrolled for that " +
			"user from an untrusted IP other than the resetter's; within the next hour the account opened the Admin Console " +
			"or performed an admin action. This is the Scattered Spider / ShinyHunters playbook: call the help desk, get a " +
			"reset, enrol your own MFA, use the admin rights. Suspend the account, revoke its sessions and factors, and " +
			"review everything it did.",
		FalsePositives: []string{"an admin who lost their phone, is reset by the help desk and enrols a new one from home before working (confirm with the admin directly)"},
		Params:         []Param{{Name: "window", Default: 3 * time.Hour, Doc: "the whole chain, from the reset to the admin access"}},
		On: []Pattern{{
			Name:   "chain",
			Window: 3 * time.Hour,
			Steps: []Step{
				{Name: "reset_by_other", Match: Match{Types: append([]string{"user.account.reset_password", "user.account.expire_password"}, factorResetTypes...), Key: targetUserKey, Where: resetByOther}},
				{Name: "enrolled_from_new_ip", Within: time.Hour, Match: Match{Types: enrolTypes, Key: actorKey, Where: func(ev *event.Event, _ Params) bool {
					return notFailed(ev) && ev.Client.IPAddress != "" && !isTrusted(ev)
				}}, Check: func(prev []Snap, ev *event.Event, _ Params) bool {
					return prev[0].IP != ev.Client.IPAddress
				}},
				{Name: "admin_access", Within: time.Hour, Match: Match{Key: actorKey, Where: func(ev *event.Event, _ Params) bool {
					return isPerson(ev) && notFailed(ev) && (ev.EventType == "user.session.access_admin_app" || ev.IsAdminAction())
				}}},
			},
			Alert: func(h *Hit) Finding {
				f := h.Base()
				r, e := h.Steps[0], h.Steps[1]
				f.IP, f.Country = e.IP, e.Country
				f.Summary = fmt.Sprintf("%s reset %s (%s); %s later a factor/device was enrolled from %s; then %s", r.Actor, h.Ev.Actor.AlternateID, r.Type,
					e.Time().Sub(r.Time()).Round(time.Minute), e.IP, h.Ev.EventType)
				f.Evidence["resetBy"] = r.Actor
				f.Evidence["enrolIP"] = e.IP
				return f
			},
		}},
	},
	{
		ID: "fastpass_phishing", Title: "Okta FastPass blocked a phishing attempt", Severity: SeverityHigh, Theme: "mfa",
		MITRE: []string{"T1566.002", "T1557"},
		Description: "FastPass refused to sign in because the request came from a site other than the Okta org (outcome reason " +
			"\"FastPass declined phishing attempt\"): the user was on an adversary-in-the-middle phishing page. The user's " +
			"password may have been typed into it; reset it and hunt for the phishing domain (debugData origin).",
		FalsePositives: []string{"misconfigured custom domains or reverse proxies in front of Okta"},
		On: []Pattern{{
			Name: "phishing_blocked",
			Match: Match{Where: func(ev *event.Event, _ Params) bool {
				return ev.IsFailure() && reasonHas(ev, "FastPass declined phishing attempt")
			}},
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("FastPass blocked a phishing sign-in for %s (origin %s)", h.Ev.Actor.AlternateID, orDefault(debugStr(h.Ev, "origin"), "unknown"))
				f.Evidence["origin"] = debugStr(h.Ev, "origin")
				return f
			},
		}},
	},
	{
		ID: "fastpass_suspicious_binary", Title: "FastPass answered for an unexpected program", Severity: SeverityMedium, Theme: "mfa",
		MITRE: []string{"T1604", "T1550"},
		Description: "A FastPass (SIGNED_NONCE) sign-in succeeded over the loopback binding for a program that is not a known " +
			"browser, or without a signature (authenticationContext.authenticatorContext). Malware on the device can " +
			"proxy FastPass. Needs the raw event (authenticatorContext is read from it).",
		FalsePositives: []string{"approved native apps using FastPass (add them to `allowedBinaries`)"},
		Params:         []Param{{Name: "allowedBinaries", Default: []string{"edge", "chrome", "firefox", "safari", "brave", "microsoft"}, Doc: "substrings of binaryIdentifier that are expected"}},
		On: []Pattern{{
			Name: "binary",
			Match: Match{Where: func(ev *event.Event, p Params) bool {
				if !ev.IsSuccess() || !strings.EqualFold(debugStr(ev, "factor"), "SIGNED_NONCE") {
					return false
				}
				ac := authenticatorContext(ev)
				if !strings.EqualFold(ac.BindingMethod, "LOOPBACK") {
					return false
				}
				if strings.EqualFold(ac.ValidationStatus, "NO_SIGNATURE") {
					return true
				}
				b := strings.ToLower(ac.BinaryIdentifier)
				for _, ok := range p.Strings("allowedBinaries") {
					if ok != "" && strings.Contains(b, strings.ToLower(ok)) {
						return false
					}
				}
				return true
			}},
			Alert: func(h *Hit) Finding {
				f := h.Base()
				ac := authenticatorContext(h.Ev)
				f.Summary = fmt.Sprintf("FastPass signed in %s for %q (validation %s)", h.Ev.Actor.AlternateID, ac.BinaryIdentifier, orDefault(ac.ValidationStatus, "unknown"))
				f.Evidence["binaryIdentifier"] = ac.BinaryIdentifier
				f.Evidence["validationStatus"] = ac.ValidationStatus
				return f
			},
		}},
	},
	{
		ID: "number_challenge_failed", Title: "Okta Verify number challenge failed", Severity: SeverityMedium, Theme: "mfa",
		MITRE: []string{"T1621"},
		Description: "The user picked the wrong number in an Okta Verify number challenge (user.authentication.auth_via_mfa " +
			"with pushWithNumberChallengeResponseType OV_WITH_CHALLENGE_RESPONSE_INVALID). The push was most likely started by " +
			"someone else holding the password; high when it happens twice within an hour.",
		FalsePositives: []string{"a user tapping the wrong number by mistake"},
		On: []Pattern{
			{
				Name:  "invalid_answer",
				Match: Match{Types: numberChallengeTypes, Where: func(ev *event.Event, _ Params) bool { return numberChallengeFailed(ev) }},
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Summary = fmt.Sprintf("%s failed an Okta Verify number challenge started from %s", h.Ev.Actor.AlternateID, h.Ev.Client.IPAddress)
					return f
				},
			},
			{
				Name:   "repeated",
				Match:  Match{Types: numberChallengeTypes, Where: func(ev *event.Event, _ Params) bool { return numberChallengeFailed(ev) }},
				Count:  2,
				Window: time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Severity = SeverityHigh
					f.Summary = fmt.Sprintf("%s failed %d Okta Verify number challenges within an hour", h.Ev.Actor.AlternateID, len(h.Steps))
					return f
				},
			},
		},
	},
	{
		ID: "mfa_abandonment", Title: "MFA prompts abandoned after a password sign-in from a new place", Severity: SeverityMedium, Theme: "mfa",
		MITRE: []string{"T1621", "T1110"},
		Description: "A password was accepted from a new IP or new device (Okta behaviours) outside the trusted ranges, MFA was " +
			"prompted, and the session never completed MFA within `quiet` (30 min): someone has the password but not the " +
			"factor. Also Okta's own ABANDONED / UNANSWERED MFA outcomes: ≥5 from one IP for one user, or for ≥5 users, " +
			"within an hour.",
		FalsePositives: []string{"a user who gives up signing in on a new laptop", "users ignoring prompts on a shared VPN IP"},
		Params:         []Param{{Name: "quiet", Default: 30 * time.Minute, Doc: "how long after the last prompt without MFA success before alerting"}},
		On: []Pattern{
			{
				Name:   "prompt_never_completed",
				Window: 2 * time.Hour,
				Quiet:  30 * time.Minute,
				Key:    sessKey,
				Steps: []Step{
					{Name: "password_from_new_place", Match: Match{Types: []string{"user.session.start", "user.authentication.verify"}, Where: func(ev *event.Event, _ Params) bool {
						return ev.IsSuccess() && isPerson(ev) && !isTrusted(ev) && !ev.IsAPITokenRequest() &&
							(behavior(ev, "New IP") || behavior(ev, "New Device"))
					}}},
					{Name: "mfa_prompted", Match: Match{Types: []string{"system.push.send_factor_verify_push", "user.authentication.auth_via_mfa", "system.sms.send_factor_verify_message", "system.voice.send_mfa_challenge_call"}, Where: func(ev *event.Event, _ Params) bool {
						return !ev.IsSuccess() || ev.EventType != "user.authentication.auth_via_mfa"
					}}},
				},
				Cancel: []Match{{Types: []string{"user.authentication.auth_via_mfa", "user.authentication.sso", "user.session.access_admin_app", "user.authentication.verify"}, Where: func(ev *event.Event, _ Params) bool {
					return ev.IsSuccess() && (ev.EventType != "user.authentication.verify" || !strings.EqualFold(ev.Auth.CredentialType, "PASSWORD"))
				}}},
				Alert: func(h *Hit) Finding {
					f := h.Base()
					s := h.Steps[0]
					f.Actor, f.IP, f.Country = s.Actor, s.IP, s.Country
					f.Summary = fmt.Sprintf("%s's password was accepted from %s (new IP/device) but MFA was never completed", s.Actor, s.IP)
					f.Evidence["session"] = h.Key
					return f
				},
			},
			{
				Name:     "okta_abandoned_per_user",
				Match:    Match{Types: []string{"user.authentication.auth_via_mfa"}, Where: mfaAbandoned},
				Key:      func(ev *event.Event) string { return ev.Client.IPAddress + "|" + actorKey(ev) },
				Count:    5,
				Window:   time.Hour,
				Distinct: func(ev *event.Event) string { return ev.UUID },
			},
			{
				Name:     "okta_abandoned_many_users",
				Match:    Match{Types: []string{"user.authentication.auth_via_mfa"}, Where: mfaAbandoned},
				Key:      ipKey,
				Count:    5,
				Window:   time.Hour,
				Distinct: actorKey,
			},
		},
	},
	{
		ID: "mfa_bypass_attempt", Title: "Attempt to bypass MFA", Severity: SeverityHigh, Theme: "mfa",
		MITRE:          []string{"T1111", "T1556"},
		Description:    "Okta logged an MFA bypass attempt (user.mfa.attempt_bypass): a sign-in tried to skip the second factor.",
		FalsePositives: []string{"rare client bugs in legacy authentication flows"},
		On: []Pattern{{
			Name:  "bypass",
			Match: Match{Types: []string{"user.mfa.attempt_bypass"}},
		}},
	},
	{
		ID: "mfa_last_factor_removed", Title: "User removed their own MFA factors", Severity: SeverityHigh, Theme: "mfa",
		MITRE: []string{"T1556.006", "T1098"},
		Description: "A user's own session removed their MFA: reset all of their factors (user.mfa.factor.reset_all, " +
			"actor = target), or deactivated factors twice within 2 hours (user.mfa.factor.deactivate, actor = target) with no " +
			"factor enrolled in the 2 hours before or the 30 minutes after. An account without a second factor is one password " +
			"away from takeover; an attacker who signed in with a stolen session removes the owner's factors first. Ask the " +
			"user; if they did not, reset the password and sessions and re-enrol MFA.",
		FalsePositives: []string{"a user cleaning up old factors and enrolling new ones more than 30 minutes later",
			"a user leaving the company removing their authenticators"},
		Params: []Param{
			{"window", 2 * time.Hour, "two self-deactivations within this time (and no enrolment within it before the first)"},
			{"quiet", 30 * time.Minute, "alert when no factor is enrolled within this time after the second deactivation"},
		},
		On: []Pattern{
			{
				Name:  "self_reset_all",
				Match: Match{Types: []string{"user.mfa.factor.reset_all"}, Where: selfFactorChange},
				Key:   actorKey,
				Alert: selfRemovalAlert,
			},
			{
				Name: "self_deactivations",
				Steps: []Step{
					{Name: "deactivate", Match: Match{Types: []string{"user.mfa.factor.deactivate"}, Where: selfFactorChange}},
					{Name: "deactivate_another", Match: Match{Types: []string{"user.mfa.factor.deactivate"}, Where: selfFactorChange}},
				},
				// an enrolment by the user before (CancelBefore) or after
				// is a replaced phone, not a removal
				Cancel:       []Match{{Types: enrolTypes, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) && isPerson(ev) }}},
				CancelBefore: true,
				Quiet:        30 * time.Minute,
				Window:       2 * time.Hour,
				Key:          actorKey,
				Alert:        selfRemovalAlert,
			},
		},
	},
	{
		ID: "device_multiple_users", Title: "Device or phone registered to several users", Severity: SeverityHigh, Theme: "mfa",
		MITRE: []string{"T1556.006", "T1098.005"},
		Description: "The same device (Okta Verify device id / oktaDeviceId) or SMS phone was enrolled for MFA by two or more users " +
			"within 30 days. Attackers enrol their own phone on every account they take over.",
		FalsePositives: []string{"shared kiosk or lab devices", "service accounts sharing a phone"},
		On: []Pattern{
			{
				Name: "device",
				Match: Match{Types: enrolTypes, Where: func(ev *event.Event, _ Params) bool {
					return notFailed(ev) && enrolledDevice(ev) != "" && ev.Actor.Type == "User"
				}},
				Key:      enrolledDevice,
				Distinct: actorKey,
				Count:    2,
				Window:   30 * 24 * time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Summary = fmt.Sprintf("device %s was enrolled by %d users: %s", h.Key, len(h.Values), strings.Join(topValues(h.Values, 10), ", "))
					f.Evidence["device"] = h.Key
					return f
				},
			},
			{
				Name: "phone",
				Match: Match{Types: []string{"system.sms.send_phone_verification_message", "system.voice.send_phone_verification_call"}, Where: func(ev *event.Event, _ Params) bool {
					return firstTarget(ev, "MobilePhone") != nil && ev.Actor.Type == "User"
				}},
				Key:      func(ev *event.Event) string { return firstTarget(ev, "MobilePhone").ID },
				Distinct: actorKey,
				Count:    2,
				Window:   30 * 24 * time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Summary = fmt.Sprintf("phone %s was verified by %d users: %s", h.Key, len(h.Values), strings.Join(topValues(h.Values, 10), ", "))
					f.Evidence["phone"] = h.Key
					return f
				},
			},
		},
	},
}

// numberChallengeTypes: Okta records the answer to an Okta Verify number
// challenge (debugData.pushWithNumberChallengeResponseType) on the factor
// verification, user.authentication.auth_via_mfa (legacy
// core.user.factor.attempt_fail / _success); no other type carries it.
var numberChallengeTypes = []string{"user.authentication.auth_via_mfa"}

func numberChallengeFailed(ev *event.Event) bool {
	return strings.EqualFold(debugStr(ev, "pushWithNumberChallengeResponseType"), "OV_WITH_CHALLENGE_RESPONSE_INVALID")
}

func mfaAbandoned(ev *event.Event, _ Params) bool {
	r := strings.ToUpper(ev.Outcome.Result)
	return r == "ABANDONED" || r == "UNANSWERED"
}

// authnContext is authenticationContext.authenticatorContext, read from
// the raw event (the normalized Event does not carry it).
type authnContext struct {
	BindingMethod    string `json:"bindingMethod"`
	ValidationStatus string `json:"validationStatus"`
	BinaryIdentifier string `json:"binaryIdentifier"`
}

func authenticatorContext(ev *event.Event) authnContext {
	var m struct {
		A struct {
			C *authnContext `json:"authenticatorContext"`
		} `json:"authenticationContext"`
	}
	if len(ev.Raw) == 0 || json.Unmarshal(ev.Raw, &m) != nil || m.A.C == nil {
		return authnContext{}
	}
	return *m.A.C
}

// selfFactorChange: a person's successful change of their own factors
// (the User target, when there is one, is the actor).
func selfFactorChange(ev *event.Event, _ Params) bool {
	return notFailed(ev) && isPerson(ev) && !onOtherUser(ev)
}

func selfRemovalAlert(h *Hit) Finding {
	f := h.Base()
	how := "reset all of their MFA factors"
	if len(h.Pattern.Steps) > 0 {
		how = fmt.Sprintf("deactivated %d of their MFA factors and enrolled none", len(h.Steps))
	}
	f.Summary = fmt.Sprintf("%s %s from %s", f.Actor, how, orDefault(f.IP, "an unknown address"))
	return f
}
