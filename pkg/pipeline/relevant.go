package pipeline

import "strings"

// postureEventPrefixes are eventType prefixes of changes the posture
// checks read (okta-ingest.md §1.8: policy, zone, authenticator/factor
// lifecycle, admin roles, API tokens, IdPs, apps, org settings).
var postureEventPrefixes = []string{
	"policy.lifecycle.",
	"policy.rule.",
	"zone.",
	"security.zone.",
	"security.authenticator.lifecycle.",
	"user.account.privilege.",
	"group.privilege.",
	"iam.role.",
	"iam.resourceset.",
	"system.api_token.",
	"system.idp.lifecycle.",
	"application.lifecycle.",
	"app.oauth2.as.",
	"oauth2.",
	"security.trusted_origin.",
	"system.feature.",
	"support.org.update",
	"org.",
	"system.org.",
	"event_hook.",
	"system.log_stream.lifecycle.",
	"security.threat.configuration.",
	"user.session.impersonation.grant",
}

// PostureRelevant reports whether an event type changes configuration the
// posture checks evaluate, so the pipeline re-evaluates posture soon.
func PostureRelevant(eventType string) bool {
	if strings.HasPrefix(eventType, "system.org.rate_limit.") {
		return false
	}
	for _, p := range postureEventPrefixes {
		if strings.HasPrefix(eventType, p) {
			return true
		}
	}
	return false
}
