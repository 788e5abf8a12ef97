package detect

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Credential attacks and account state.

var resetMessageTypes = []string{"user.account.reset_password", "user.account.unlock", "user.account.unlock_by_admin",
	"system.email.password_reset.sent_message", "system.email.account_unlock.sent_message",
	"system.sms.send_password_reset_message", "system.voice.send_password_reset_call", "system.sms.send_account_unlock_message"}

// resetSubject is the user a reset/unlock concerns: the User target, else
// the actor (self-service messages).
func resetSubject(ev *event.Event) string {
	if k := targetUserKey(ev); k != "" {
		return k
	}
	return actorKey(ev)
}

// looksLikePassword reports a login that is probably a password typed
// into the username field: no '@' or '\', no spaces, at least 8
// characters with at least three of lower, upper, digit, symbol.
func looksLikePassword(s string) bool {
	if len(s) < 8 || len(s) > 128 || strings.ContainsAny(s, "@\\ ") || strings.EqualFold(s, "unknown") {
		return false
	}
	var lo, up, di, sy bool
	for _, r := range s {
		switch {
		case unicode.IsLower(r):
			lo = true
		case unicode.IsUpper(r):
			up = true
		case unicode.IsDigit(r):
			di = true
		default:
			sy = true
		}
	}
	n := 0
	for _, b := range []bool{lo, up, di, sy} {
		if b {
			n++
		}
	}
	return n >= 3
}

// maskSecret keeps only the length and the first character.
func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	r := []rune(s)
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

var inactiveTypes = []string{"user.lifecycle.suspend", "user.lifecycle.deactivate"}

var credentialRules = []*Rule{
	{
		ID: "account_lockouts", Title: "Account lockouts", Severity: SeverityMedium, Theme: "credential",
		MITRE: []string{"T1110"},
		Description: "Accounts are being locked out (user.account.lock): at least 5 different users within 30 minutes " +
			"(an org-wide guessing campaign), or the same user 3 times within 3 hours (a targeted brute force that keeps " +
			"going after each unlock); or a single lockout of an administrator (someone who opened the Admin Console in the " +
			"30 days before) from a network that admin never signs in from or a hostile address — admins are worth a slow, " +
			"careful guess, and one lockout may be all an attacker risks.",
		FalsePositives: []string{"a broken integration retrying an old password for several service accounts",
			"an administrator locking themselves out while travelling (a network new to them)"},
		On: []Pattern{
			{
				Name:     "many_users",
				Match:    Match{Types: []string{"user.account.lock"}},
				Key:      orgKey,
				Distinct: func(ev *event.Event) string { return resetSubject(ev) },
				Count:    5,
				Window:   30 * time.Minute,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Actor, f.ActorID = "", ""
					f.Summary = fmt.Sprintf("%d accounts locked out within %s: %s", len(h.Values), h.Window(), strings.Join(topValues(h.Values, 10), ", "))
					return f
				},
			},
			{
				Name:   "same_user",
				Match:  Match{Types: []string{"user.account.lock"}},
				Key:    resetSubject,
				Count:  3,
				Window: 3 * time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Summary = fmt.Sprintf("%s was locked out %d times within 3 h", h.Key, len(h.Steps))
					return f
				},
			},
			{
				// a lone lockout of an admin: the Admin Console access in
				// the 30 days before marks the account as an admin (each
				// access restarts the window)
				Name: "admin",
				Steps: []Step{
					{Name: "admin_console", Match: Match{Types: []string{"user.session.access_admin_app"}, Where: isOK, Key: actorKey}},
					{Name: "lockout", Match: Match{Types: []string{"user.account.lock"}, Baseline: newOrHostileNetwork}},
				},
				Key:    resetSubject,
				Window: 30 * 24 * time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Severity = SeverityHigh
					f.Summary = fmt.Sprintf("administrator %s was locked out from %s (%s)", h.Key, h.Ev.Client.IPAddress, networkWhy(h.Ev))
					networkEvidence(&f, h.Ev)
					f.Evidence["lastAdminConsole"] = h.Steps[0].Time().Format(time.RFC3339)
					return f
				},
			},
		},
	},
	{
		ID: "password_in_username", Title: "Password typed into the username field", Severity: SeverityMedium, Theme: "credential",
		MITRE: []string{"T1552"},
		Description: "A failed sign-in's username looks like a password (no @, ≥8 characters, three character classes). The " +
			"user's password is now in the System Log and every system it is exported to: have the user change it. The " +
			"alert masks the value (first character and length only).",
		FalsePositives: []string{"orgs whose usernames are not e-mail addresses and contain digits and symbols"},
		On: []Pattern{{
			Name: "password_like_login",
			Match: Match{Types: []string{"user.session.start", "user.authentication.verify", "user.authentication.auth_via_mfa"}, Where: func(ev *event.Event, _ Params) bool {
				return ev.IsFailure() && looksLikePassword(ev.Actor.AlternateID)
			}},
			Key: ipKey,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Actor, f.ActorID = maskSecret(h.Ev.Actor.AlternateID), ""
				f.Summary = fmt.Sprintf("a failed sign-in from %s used a password-like username (%d characters); the password is exposed in the log", h.Ev.Client.IPAddress, len([]rune(h.Ev.Actor.AlternateID)))
				f.Evidence["maskedLogin"] = f.Actor
				return f
			},
		}},
	},
	{
		ID: "reset_unlock_flood", Title: "Password reset or unlock flood", Severity: SeverityMedium, Theme: "credential",
		MITRE: []string{"T1110", "T1098"},
		Description: "At least 5 password-reset or unlock requests / messages for one user within an hour (someone is " +
			"bombing or abusing self-service recovery), or one person resetting or unlocking at least 10 different users " +
			"within an hour. Okta's own automatic actions (system@okta.com) are ignored.",
		FalsePositives: []string{"a user repeatedly failing self-service recovery", "help desk bulk unlocks after a password policy change"},
		On: []Pattern{
			{
				Name:   "per_user",
				Match:  Match{Types: resetMessageTypes, Where: func(ev *event.Event, _ Params) bool { return !ev.IsOktaInternal() }},
				Key:    resetSubject,
				Count:  5,
				Window: time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Actor = h.Key
					f.Summary = fmt.Sprintf("%d password-reset / unlock requests for %s within an hour", len(h.Steps), h.Key)
					return f
				},
			},
			{
				Name:     "per_actor",
				Match:    Match{Types: resetMessageTypes, Where: func(ev *event.Event, _ Params) bool { return isPerson(ev) && onOtherUser(ev) }},
				Key:      actorKey,
				Distinct: targetUserKey,
				Count:    10,
				Window:   time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Summary = fmt.Sprintf("%s reset or unlocked %d users within an hour", h.Ev.Actor.AlternateID, len(h.Values))
					return f
				},
			},
		},
	},
	{
		ID: "rate_limit_violation", Title: "Okta rate limit or concurrency limit exceeded", Severity: SeverityInfo, Theme: "credential",
		MITRE: []string{"T1498", "T1110"},
		Description: "Okta reported that an org, operation, client or concurrency rate limit was exceeded (violation). " +
			"Warnings (a limit approached) are not alerts. An exceeded limit is info — integrations and bulk jobs hit " +
			"limits routinely — and medium when it comes with an attack signal: Okta's threatSuspected, or a source " +
			"address that is anonymous, suspicious or risky.",
		FalsePositives: []string{"bulk imports and misconfigured integrations exceeding a limit (info; silence with `enabled: false` or `severity`)",
			"a load test from an address in the `suspicious` list (medium; exclude its IP with `exclude`)"},
		On: []Pattern{{
			Name: "limit",
			Match: Match{Types: []string{"application.integration.rate_limit_exceeded",
				"system.client.concurrency_rate_limit.*", "system.client.rate_limit.*", "system.operation.rate_limit.*", "system.org.rate_limit.*", "core.concurrency.org.limit.violation"},
				Where: func(ev *event.Event, _ Params) bool {
					return !strings.Contains(strings.ToLower(ev.EventType), "warning")
				}},
			Key: func(ev *event.Event) string { return ev.EventType },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s: %s", h.Ev.EventType, orDefault(h.Ev.DisplayMessage, "rate limit exceeded"))
				if sig := attackSignal(h.Ev); sig != "" {
					f.Severity = SeverityMedium
					f.Evidence["attackSignal"] = sig
				}
				return f
			},
		}},
	},
	{
		ID: "denylist_country", Title: "Sign-in from a deny-listed country", Severity: SeverityHigh, Theme: "credential",
		MITRE: []string{"T1078.004"},
		Description: "A successful interactive sign-in from a country in the `countries` parameter (Okta's country names, e.g. " +
			"\"North Korea\"). Empty by default: the rule is idle until the org lists the countries it never does business from.",
		FalsePositives: []string{"travellers to listed countries", "GeoIP errors"},
		Params:         []Param{{Name: "countries", Default: []string(nil), Doc: "country names (as Okta writes them) that must never sign in"}},
		On: []Pattern{{
			Name: "country",
			Match: Match{Where: func(ev *event.Event, p Params) bool {
				list := p.Strings("countries")
				if len(list) == 0 || !ev.IsInteractiveSignIn() {
					return false
				}
				c := ev.Country()
				for _, x := range list {
					if strings.EqualFold(strings.TrimSpace(x), c) && c != "" {
						return true
					}
				}
				return false
			}},
			Key: func(ev *event.Event) string { return ev.Country() },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s signed in from %s (deny-listed) at %s", h.Ev.Actor.AlternateID, h.Ev.Country(), h.Ev.Client.IPAddress)
				return f
			},
		}},
	},
	{
		ID: "dormant_account_activity", Title: "Activity by a suspended, deactivated or dormant account", Severity: SeverityHigh, Theme: "credential",
		MITRE: []string{"T1078", "T1078.004"},
		Description: "A successful action by an account after it was suspended or deactivated (and not reactivated since), or " +
			"a sign-in after at least `idle` (90 days) without any sign-in. Terminated and forgotten accounts are favourite " +
			"footholds: nobody notices them being used. The idle pattern needs history older than `idle` (backfill or " +
			"months of running).",
		FalsePositives: []string{"a user returning from long leave", "an account reactivated outside Okta (directory sync) before its own reactivation event arrives"},
		Params:         []Param{{Name: "idle", Default: 90 * 24 * time.Hour, Doc: "sign-in gap that makes an account dormant"}},
		On: []Pattern{
			{
				Name:   "after_suspend_or_deactivate",
				Window: 366 * 24 * time.Hour,
				Steps: []Step{
					{Name: "suspended_or_deactivated", Match: Match{Types: inactiveTypes, Key: targetUserKey, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }}},
					{Name: "used", Match: Match{Key: actorKey, Where: func(ev *event.Event, _ Params) bool {
						return ev.IsSuccess() && ev.Actor.Type == "User" && !ev.IsOktaInternal() && !ev.IsAPITokenRequest()
					}}},
				},
				Cancel: []Match{{Types: []string{"user.lifecycle.activate", "user.lifecycle.reactivate", "user.lifecycle.unsuspend"}, Key: targetUserKey, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }}},
				Alert: func(h *Hit) Finding {
					f := h.Base()
					s := h.Steps[0]
					f.Summary = fmt.Sprintf("%s was %s by %s at %s and then performed %s from %s", h.Ev.Actor.AlternateID, strings.TrimPrefix(s.Type, "user.lifecycle."), s.Actor,
						s.Time().Format(time.RFC3339), h.Ev.EventType, h.Ev.Client.IPAddress)
					f.Evidence["state"] = strings.TrimPrefix(s.Type, "user.lifecycle.")
					f.Evidence["changedBy"] = s.Actor
					return f
				},
			},
			{
				Name:  "dormant",
				Match: Match{Where: func(ev *event.Event, _ Params) bool { return ev.IsInteractiveSignIn() }},
				Idle:  90 * 24 * time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Severity = SeverityMedium
					f.Summary = fmt.Sprintf("%s signed in after %d days without a sign-in", h.Ev.Actor.AlternateID, int(h.Gap.Hours()/24))
					return f
				},
			},
		},
	},
}
