package event

import "testing"

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
