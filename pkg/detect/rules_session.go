package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Session, token and application-access abuse.

// appUserLogin is the login of the AppUser (or User) whose app password
// was revealed.
func appUserLogin(ev *event.Event) string {
	if t := firstTarget(ev, "AppUser"); t != nil && t.AlternateID != "" {
		return t.AlternateID
	}
	return targetUserKey(ev)
}

// ownAppPassword reports a password reveal of the actor's own app
// account: the Okta user the app account belongs to (the event's User
// target) is the actor, by id or login, or the app account carries the
// actor's id. The app account's own name (AppUser alternateId) may be a
// display name or an app-specific username and proves nothing alone; it
// decides only when the event names no owner.
func ownAppPassword(ev *event.Event) bool {
	owner := false
	for i := range ev.Targets {
		t := &ev.Targets[i]
		if t.Type != "User" && t.Type != "AppUser" {
			continue
		}
		if t.ID != "" && t.ID == ev.Actor.ID {
			return true
		}
		if t.Type == "User" {
			if strings.EqualFold(t.AlternateID, ev.Actor.AlternateID) {
				return true
			}
			owner = true
		}
	}
	return !owner && strings.EqualFold(appUserLogin(ev), ev.Actor.AlternateID)
}

var sessionRules = []*Rule{
	{
		ID: "app_password_reveal", Title: "Application password revealed", Severity: SeverityMedium, Theme: "session",
		MITRE: []string{"T1555", "T1552"},
		Description: "A user revealed the stored password of a SWA application (application.user_membership.show_password): " +
			"high when it is another user's app account (the event's User target, or the app account, is not the actor), " +
			"medium when one user reveals passwords of 3 or more apps within an " +
			"hour (a stolen dashboard session harvesting credentials).",
		FalsePositives: []string{"shared team accounts in SWA apps", "users checking a password they forgot"},
		On: []Pattern{
			{
				Name: "other_users_password",
				Match: Match{Types: []string{"application.user_membership.show_password"}, Where: func(ev *event.Event, _ Params) bool {
					return notFailed(ev) && appUserLogin(ev) != "" && !ownAppPassword(ev)
				}},
				Key: func(ev *event.Event) string { return appUserLogin(ev) + "|" + targetName(appTarget(ev)) },
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Severity = SeverityHigh
					f.Summary = fmt.Sprintf("%s revealed the %q password of %s", h.Ev.Actor.AlternateID, targetName(appTarget(h.Ev)), appUserLogin(h.Ev))
					f.Evidence["app"] = targetName(appTarget(h.Ev))
					f.Evidence["appUser"] = appUserLogin(h.Ev)
					return f
				},
			},
			{
				Name:     "many_apps",
				Match:    Match{Types: []string{"application.user_membership.show_password"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
				Distinct: func(ev *event.Event) string { return targetName(appTarget(ev)) },
				Count:    3,
				Window:   time.Hour,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Summary = fmt.Sprintf("%s revealed passwords of %d apps within an hour: %s", h.Ev.Actor.AlternateID, len(h.Values), strings.Join(topValues(h.Values, 10), ", "))
					return f
				},
			},
		},
	},
	{
		ID: "client_secret_read", Title: "OAuth client secret read", Severity: SeverityMedium, Theme: "session",
		MITRE: []string{"T1552", "T1528"},
		Description: "An admin displayed an OAuth client's secret (app.oauth2.client.read_client_secret). With the secret an " +
			"attacker can mint tokens as the application, outside any user's MFA.",
		FalsePositives: []string{"developers configuring an integration"},
		On: []Pattern{{
			Name:  "read",
			Match: Match{Types: []string{"app.oauth2.client.read_client_secret"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
			Key: func(ev *event.Event) string {
				return targetName(firstTarget(ev, "AppInstance", "PublicClientApp", "Client"))
			},
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s read the client secret of %q", h.Ev.Actor.AlternateID, targetName(firstTarget(h.Ev, "AppInstance", "PublicClientApp", "Client")))
				return f
			},
		}},
	},
	{
		ID: "oauth_client_abuse", Title: "Suspicious OAuth token request", Severity: SeverityMedium, Theme: "session",
		MITRE: []string{"T1528", "T1550.001"},
		Description: "An OAuth token grant failed because of a redirect URI that is not registered (a phishing site in the " +
			"middle of the flow) or because a client asked for scopes it is not granted (probing a stolen client).",
		FalsePositives: []string{"developers misconfiguring a new app"},
		On: []Pattern{{
			Name: "grant_refused",
			Match: Match{Types: []string{"app.oauth2.token.grant", "app.oauth2.as.token.grant", "app.oauth2.authorize", "app.oauth2.as.authorize", "app.oauth2.as.authorize.scope_denied", "app.oauth2.authorize.scope_denied"}, Where: func(ev *event.Event, _ Params) bool {
				if strings.HasSuffix(ev.EventType, "scope_denied") {
					return true
				}
				return ev.IsFailure() && (reasonHas(ev, "mismatched_redirect_uri") || reasonHas(ev, "no_matching_scope") || reasonHas(ev, "invalid_scope"))
			}},
			Key: func(ev *event.Event) string { return ev.Client.ID + "|" + ev.Outcome.Reason },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("OAuth %s refused for client %s: %s", h.Ev.EventType, orDefault(h.Ev.Client.ID, "unknown"), orDefault(h.Ev.Outcome.Reason, "scope denied"))
				f.Evidence["clientId"] = h.Ev.Client.ID
				f.Evidence["reason"] = h.Ev.Outcome.Reason
				return f
			},
		}},
	},
	{
		ID: "refresh_token_reuse", Title: "OAuth refresh token reuse", Severity: SeverityHigh, Theme: "session",
		MITRE: []string{"T1550.001", "T1528"},
		Description: "Okta detected a refresh token being reused after rotation (app.oauth2.as.token.detect_reuse, " +
			"app.oauth2.token.detect_reuse): two parties hold the same token, one of them a thief.",
		FalsePositives: []string{"clients retrying a refresh after a network error"},
		On: []Pattern{{
			Name:  "reuse",
			Match: Match{Types: []string{"app.oauth2.as.token.detect_reuse", "app.oauth2.token.detect_reuse"}},
			Key:   func(ev *event.Event) string { return ev.Client.ID },
		}},
	},
	{
		ID: "denied_app_access", Title: "Repeated denied application access", Severity: SeverityMedium, Theme: "session",
		MITRE: []string{"T1078.004", "T1538"},
		Description: "A user was refused access to applications they are not assigned to (app.generic.unauth_app_access_attempt) " +
			"at least 3 times within an hour: someone sweeping the dashboard with a stolen session or account.",
		FalsePositives: []string{"users following stale bookmarks after an app reassignment"},
		On: []Pattern{{
			Name:   "sweep",
			Match:  Match{Types: []string{"app.generic.unauth_app_access_attempt"}},
			Count:  3,
			Window: time.Hour,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s was denied access to applications %d times within an hour", h.Ev.Actor.AlternateID, len(h.Steps))
				return f
			},
		}},
	},
	{
		ID: "dt_hash_multiple_os", Title: "One device token with several operating systems", Severity: SeverityMedium, Theme: "session",
		MITRE: []string{"T1539", "T1550.004"},
		Description: "The same Okta device token (debugData.dtHash) appeared with two or more operating systems (Okta's " +
			"\"Unknown\" for unparsed user agents is ignored) within 24 h. A " +
			"device token belongs to one browser on one device; seeing it on another OS means it was copied with the session.",
		FalsePositives: []string{"user-agent spoofing extensions", "OS upgrades that change the reported name"},
		On: []Pattern{{
			Name: "os",
			Match: Match{Where: func(ev *event.Event, _ Params) bool {
				os := ev.Client.UserAgent.OS
				return ev.Debug.DTHash != "" && os != "" && !strings.EqualFold(os, "unknown") && ev.Actor.Type == "User"
			}},
			Key:      func(ev *event.Event) string { return ev.Debug.DTHash },
			Distinct: func(ev *event.Event) string { return strings.ToLower(ev.Client.UserAgent.OS) },
			Count:    2,
			Window:   24 * time.Hour,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("device token %.12s… of %s seen with %s", h.Key, h.Ev.Actor.AlternateID, strings.Join(topValues(h.Values, 5), " and "))
				return f
			},
		}},
	},
	{
		ID: "concurrent_sessions", Title: "Many sessions from different IPs", Severity: SeverityMedium, Theme: "session",
		MITRE: []string{"T1078.004", "T1539"},
		Description: "One user started Okta sessions from at least 4 different IPs within an hour (successful " +
			"user.session.start). A person has one or two devices; more means shared or stolen credentials.",
		FalsePositives: []string{"test accounts used by automation", "users behind rotating carrier-grade NAT"},
		On: []Pattern{{
			Name: "ips",
			Match: Match{Types: []string{"user.session.start"}, Where: func(ev *event.Event, _ Params) bool {
				return ev.IsInteractiveSignIn() && ev.Client.IPAddress != "" && !isTrusted(ev)
			}},
			Distinct: ipKey,
			Count:    4,
			Window:   time.Hour,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s started sessions from %d IPs within an hour: %s", h.Ev.Actor.AlternateID, len(h.Values), strings.Join(topValues(h.Values, 10), ", "))
				return f
			},
		}},
	},
}
