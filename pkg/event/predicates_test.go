package event

import (
	"strings"
	"testing"
)

func TestPredicates(t *testing.T) {
	user := Actor{ID: "00u1", Type: "User", AlternateID: "alice@example.com"}
	other := Target{ID: "00u2", Type: "User", AlternateID: "bob@example.com"}
	self := Target{ID: "00u1", Type: "User", AlternateID: "alice@example.com"}
	cases := []struct {
		name                            string
		ev                              Event
		interactive, admin, ok, failure bool
	}{
		{"session start success", Event{EventType: "user.session.start", Actor: user, Outcome: Outcome{Result: "SUCCESS"}}, true, false, true, false},
		{"sso allow", Event{EventType: "user.authentication.sso", Actor: user, Outcome: Outcome{Result: "ALLOW"}}, true, false, true, false},
		{"verify", Event{EventType: "user.authentication.verify", Actor: user, Outcome: Outcome{Result: "SUCCESS"}}, true, false, true, false},
		{"auth_via_mfa", Event{EventType: "user.authentication.auth_via_mfa", Actor: user, Outcome: Outcome{Result: "SUCCESS"}}, true, false, true, false},
		{"auth_via_IDP", Event{EventType: "user.authentication.auth_via_IDP", Actor: user, Outcome: Outcome{Result: "SUCCESS"}}, true, false, true, false},
		{"session start failure", Event{EventType: "user.session.start", Actor: user, Outcome: Outcome{Result: "FAILURE"}}, false, false, false, true},
		{"deny", Event{EventType: "user.session.start", Actor: user, Outcome: Outcome{Result: "DENY"}}, false, false, false, true},
		{"challenge", Event{EventType: "user.session.start", Actor: user, Outcome: Outcome{Result: "CHALLENGE"}}, false, false, false, false},
		{"session end", Event{EventType: "user.session.end", Actor: user, Outcome: Outcome{Result: "SUCCESS"}}, false, false, true, false},
		{"public client app", Event{EventType: "user.session.start", Actor: Actor{Type: "PublicClientApp"}, Outcome: Outcome{Result: "SUCCESS"}}, false, false, true, false},
		{"system@okta.com", Event{EventType: "user.session.start", Actor: Actor{Type: "User", AlternateID: "system@okta.com"}, Outcome: Outcome{Result: "SUCCESS"}}, false, false, true, false},
		{"api token", Event{EventType: "user.session.start", Actor: user, Outcome: Outcome{Result: "SUCCESS"}, Debug: Debug{RequestAPITokenID: "t"}}, false, false, true, false},
		{"privilege grant", Event{EventType: "user.account.privilege.grant", Actor: user, Targets: []Target{self}}, false, true, false, false},
		{"policy rule update", Event{EventType: "policy.rule.update", Actor: user}, false, true, false, false},
		{"iam role", Event{EventType: "iam.role.create", Actor: user}, false, true, false, false},
		{"zone", Event{EventType: "zone.update", Actor: user}, false, true, false, false},
		{"api token create", Event{EventType: "system.api_token.create", Actor: user}, false, true, false, false},
		{"read client secret", Event{EventType: "app.oauth2.client.read_client_secret", Actor: user}, false, true, false, false},
		{"log stream", Event{EventType: "system.log_stream.lifecycle.deactivate", Actor: user}, false, true, false, false},
		{"factor reset on other", Event{EventType: "user.mfa.factor.reset_all", Actor: user, Targets: []Target{other}}, false, true, false, false},
		{"factor reset on self", Event{EventType: "user.mfa.factor.deactivate", Actor: user, Targets: []Target{self}}, false, false, false, false},
		{"lifecycle on other", Event{EventType: "user.lifecycle.deactivate", Actor: user, Targets: []Target{other}}, false, true, false, false},
		{"lifecycle on self by login", Event{EventType: "user.lifecycle.activate", Actor: user, Targets: []Target{{Type: "User", AlternateID: "ALICE@example.com"}}}, false, false, false, false},
		{"group membership other", Event{EventType: "group.user_membership.add", Actor: user, Targets: []Target{other, {Type: "UserGroup", ID: "00g"}}}, false, true, false, false},
		{"group membership self", Event{EventType: "group.user_membership.add", Actor: user, Targets: []Target{self, {Type: "UserGroup", ID: "00g"}}}, false, false, false, false},
		{"factor activate is not admin", Event{EventType: "user.mfa.factor.activate", Actor: user, Targets: []Target{other}}, false, false, false, false},
		{"user.account.update_password not admin", Event{EventType: "user.account.update_password", Actor: user}, false, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.ev.IsInteractiveSignIn(); got != c.interactive {
				t.Errorf("IsInteractiveSignIn = %v", got)
			}
			if got := c.ev.IsAdminAction(); got != c.admin {
				t.Errorf("IsAdminAction = %v", got)
			}
			if got := c.ev.IsSuccess(); got != c.ok {
				t.Errorf("IsSuccess = %v", got)
			}
			if got := c.ev.IsFailure(); got != c.failure {
				t.Errorf("IsFailure = %v", got)
			}
		})
	}
}

func TestSessionCountryHelpers(t *testing.T) {
	e := Event{Auth: AuthContext{ExternalSessionID: "ext", RootSessionID: "root"}}
	if e.SessionID() != "ext" {
		t.Error("externalSessionId first")
	}
	e.Auth.ExternalSessionID = "unknown"
	if e.SessionID() != "root" {
		t.Error("unknown externalSessionId falls back to root")
	}
	e.Auth.RootSessionID = ""
	if e.SessionID() != "" {
		t.Error("no session")
	}
	e.IPChain = []IPChainEntry{{Geo: Geo{Country: "Peru", Lat: 1, Lon: 2, HasLatLon: true}}}
	if e.Country() != "Peru" {
		t.Error("ipChain country fallback")
	}
	if lat, lon, ok := e.GeoPoint(); !ok || lat != 1 || lon != 2 {
		t.Error("ipChain geo point fallback")
	}
	e.Client.Geo = Geo{Country: "Chile"}
	if e.Country() != "Chile" {
		t.Error("client country first")
	}
	e.Client.ID = "okta.2b1959c8-bcc0-56eb-a589-cfcfb7422f26"
	if !e.IsOktaFirstPartyClient() {
		t.Error("okta.* client id")
	}
	e.Actor = Actor{Type: "SystemPrincipal"}
	if !e.IsOktaInternal() {
		t.Error("SystemPrincipal is internal")
	}
}

// TestIsAdminActionIndex: IsAdminAction, which tries only the prefixes
// that start with the type's first byte, answers as trying every prefix of
// both lists in turn does, for each prefix (and a type one byte short of
// it, and other types), acting on someone else and on oneself.
func TestIsAdminActionIndex(t *testing.T) {
	linear := func(e *Event) bool {
		t := e.EventType
		if adminExact(t) {
			return true
		}
		for _, p := range adminPrefixes {
			if strings.HasPrefix(t, p) {
				return true
			}
		}
		onOthers := adminOnOthersExact(t)
		for _, p := range adminOnOthersPrefixes {
			if strings.HasPrefix(t, p) {
				onOthers = true
			}
		}
		return onOthers && !e.actsOnSelf()
	}
	types := []string{"", "u", "user.session.start", "application.user_membership.show_password",
		"system.mfa.factor.deactivate", "app.oauth2.client.read_client_secret",
		"user.mfa.factor.reset_all", "user.mfa.factor.deactivate", "user.mfa.factor.suspend"}
	for _, p := range append(append([]string{}, adminPrefixes...), adminOnOthersPrefixes...) {
		types = append(types, p, p+"update", p[:len(p)-1], strings.ToUpper(p)+"x")
	}
	user := Actor{ID: "00u1", Type: "User", AlternateID: "alice@example.com"}
	admins := 0
	for _, typ := range types {
		for _, tg := range []Target{{ID: "00u2", Type: "User"}, {ID: "00u1", Type: "User"}} {
			ev := Event{EventType: typ, Actor: user, Targets: []Target{tg}}
			got, want := ev.IsAdminAction(), linear(&ev)
			if got != want {
				t.Errorf("%q on %s: IsAdminAction %v, every prefix in turn %v", typ, tg.ID, got, want)
			}
			if got {
				admins++
			}
		}
	}
	if admins < 2*len(adminPrefixes) {
		t.Fatalf("only %d admin cases: the test lost its prefixes", admins)
	}
}

// TestIsOktaSystemActor: the first-byte shortcut answers as
// strings.EqualFold with the Okta system actor, Unicode folds included
// (U+017F LATIN SMALL LETTER LONG S and U+212A KELVIN SIGN fold to ASCII
// letters of it).
func TestIsOktaSystemActor(t *testing.T) {
	for _, s := range []string{"", "s", "system@okta.com", "SYSTEM@OKTA.COM", "System@Okta.Com",
		"\u017fystem@okta.com", "system@o\u212ata.com", "system@okta.co", "system@okta.comx",
		"alice@example.com", "Stefan@example.com", "\u00e9", "\xc5", "ssystem@okta.com"} {
		if got, want := isOktaSystemActor(s), strings.EqualFold(s, OktaSystemActor); got != want {
			t.Errorf("isOktaSystemActor(%q) = %v, EqualFold %v", s, got, want)
		}
	}
	if !isOktaSystemActor("\u017fystem@okta.com") {
		t.Fatal("the long s no longer folds: the test lost its Unicode case")
	}
}
