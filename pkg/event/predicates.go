package event

import "strings"

// OktaSystemActor is the alternateId Okta uses for its own automated actions.
const OktaSystemActor = "system@okta.com"

// IsSuccess reports outcome.result SUCCESS or ALLOW.
func (e *Event) IsSuccess() bool {
	return e.Outcome.Result == "SUCCESS" || e.Outcome.Result == "ALLOW"
}

// IsFailure reports outcome.result FAILURE or DENY.
func (e *Event) IsFailure() bool {
	return e.Outcome.Result == "FAILURE" || e.Outcome.Result == "DENY"
}

// interactiveSignIn reports the event-type set of detections.md §1 block
// 2. (A switch, not a map: detectors ask on every event, and comparing
// with five constants costs less than hashing the type.)
func interactiveSignIn(t string) bool {
	switch t {
	case "user.session.start", "user.authentication.sso", "user.authentication.verify",
		"user.authentication.auth_via_mfa", "user.authentication.auth_via_IDP":
		return true
	}
	return false
}

// IsInteractiveSignIn reports a successful interactive sign-in by a person:
// user.session.start, user.authentication.sso, .verify, .auth_via_mfa or
// .auth_via_IDP with SUCCESS (or ALLOW), by an actor of type User that is
// not Okta itself, and not made with an API token.
func (e *Event) IsInteractiveSignIn() bool {
	return interactiveSignIn(e.EventType) &&
		e.IsSuccess() &&
		e.Actor.Type == "User" &&
		!e.IsOktaInternal() &&
		!e.IsAPITokenRequest()
}

// IsAPITokenRequest reports a request made with an API token
// (transaction.detail.requestApiTokenId present).
func (e *Event) IsAPITokenRequest() bool { return e.Debug.RequestAPITokenID != "" }

// IsOktaInternal reports an action Okta performed itself: actor
// system@okta.com or an actor of type SystemPrincipal.
func (e *Event) IsOktaInternal() bool {
	return isOktaSystemActor(e.Actor.AlternateID) || e.Actor.Type == "SystemPrincipal"
}

// isOktaSystemActor is strings.EqualFold(s, OktaSystemActor), answered
// from the first byte for most logins: only 's', 'S' and the first byte
// of 'ſ' (U+017F, which folds to 's') can start a match. Detectors ask
// several times per event, and EqualFold's call was 1 % of a replay.
func isOktaSystemActor(s string) bool {
	if s == "" || (s[0]|0x20 != 's' && s[0] != 0xc5) {
		return false
	}
	return strings.EqualFold(s, OktaSystemActor)
}

// IsOktaFirstPartyClient reports a request through one of Okta's own apps
// (client.id "okta.<uuid>", e.g. the Admin Console or the End-User Dashboard).
func (e *Event) IsOktaFirstPartyClient() bool { return strings.HasPrefix(e.Client.ID, "okta.") }

// SessionID is authenticationContext.externalSessionId, else rootSessionId.
// Okta's placeholder "unknown" counts as absent.
func (e *Event) SessionID() string {
	if s := e.Auth.ExternalSessionID; s != "" && s != "unknown" {
		return s
	}
	if s := e.Auth.RootSessionID; s != "unknown" {
		return s
	}
	return ""
}

// Country is client.geographicalContext.country, else that of the first hop
// of request.ipChain ("" when neither is known).
func (e *Event) Country() string {
	if e.Client.Geo.Country != "" {
		return e.Client.Geo.Country
	}
	if len(e.IPChain) > 0 {
		return e.IPChain[0].Geo.Country
	}
	return ""
}

// GeoPoint is the best-known location: client geo when it has lat/lon,
// else the first ipChain hop's.
func (e *Event) GeoPoint() (lat, lon float64, ok bool) {
	if e.Client.Geo.HasLatLon {
		return e.Client.Geo.Lat, e.Client.Geo.Lon, true
	}
	if len(e.IPChain) > 0 && e.IPChain[0].Geo.HasLatLon {
		return e.IPChain[0].Geo.Lat, e.IPChain[0].Geo.Lon, true
	}
	return 0, 0, false
}

// adminPrefixes and adminExact are the admin event set of detections.md §1.6
// that count regardless of target.
var adminPrefixes = []string{
	"user.account.privilege.", "group.privilege.", "iam.",
	"policy.lifecycle.", "policy.rule.", "application.policy.sign_on.",
	"zone.", "network_zone.",
	"application.lifecycle.",
	"system.idp.lifecycle.", "system.api_token.", "system.agent.ad.",
	"system.log_stream.", "security.protected_action.",
}

func adminExact(t string) bool {
	switch t {
	case "application.user_membership.show_password", "system.mfa.factor.deactivate",
		"app.oauth2.client.read_client_secret":
		return true
	}
	return false
}

// adminOnOthersExact and adminOnOthersPrefixes count only when the actor
// acts on someone else.
func adminOnOthersExact(t string) bool {
	switch t {
	case "user.mfa.factor.reset_all", "user.mfa.factor.deactivate", "user.mfa.factor.suspend":
		return true
	}
	return false
}

var adminOnOthersPrefixes = []string{"user.lifecycle.", "group.user_membership."}

// adminIndex holds adminPrefixes and adminOnOthersPrefixes by their first
// byte: detectors ask IsAdminAction several times per event, and trying
// every prefix of the two lists on each call was 1.7 % of a replay's
// instructions.
var adminIndex = func() (t [256][]adminPrefix) {
	for _, p := range adminPrefixes {
		t[p[0]] = append(t[p[0]], adminPrefix{p, false})
	}
	for _, p := range adminOnOthersPrefixes {
		t[p[0]] = append(t[p[0]], adminPrefix{p, true})
	}
	return t
}()

type adminPrefix struct {
	p        string
	onOthers bool // from adminOnOthersPrefixes
}

// IsAdminAction reports an administrative event (detections.md §1.6):
// privilege, IAM, policy, zone, app lifecycle, IdP, API token, AD agent,
// log stream and protected-action events, Okta-admin secret reads; and
// factor resets, user lifecycle and group membership changes when the
// actor is not the target user.
func (e *Event) IsAdminAction() bool {
	t := e.EventType
	if t == "" {
		return false
	}
	if adminExact(t) {
		return true
	}
	onOthers := adminOnOthersExact(t)
	for _, p := range adminIndex[t[0]] {
		if strings.HasPrefix(t, p.p) {
			if !p.onOthers {
				return true
			}
			onOthers = true
		}
	}
	return onOthers && !e.actsOnSelf()
}

// actsOnSelf reports whether a User target is the actor itself.
func (e *Event) actsOnSelf() bool {
	for i := range e.Targets {
		t := &e.Targets[i]
		if t.Type != "User" {
			continue
		}
		if (t.ID != "" && t.ID == e.Actor.ID) ||
			(t.AlternateID != "" && strings.EqualFold(t.AlternateID, e.Actor.AlternateID)) {
			return true
		}
	}
	return false
}

// TargetsOfType returns the targets whose type is typ.
func (e *Event) TargetsOfType(typ string) []*Target {
	var out []*Target
	for i := range e.Targets {
		if e.Targets[i].Type == typ {
			out = append(out, &e.Targets[i])
		}
	}
	return out
}
