package posture

import "strings"

// relevantPrefixes are System Log event types (prefixes) that change what
// the posture checks read; such an event should trigger a re-evaluation.
var relevantPrefixes = []string{
	"policy.lifecycle.",              // policy create/update/delete/activate/deactivate
	"policy.rule.",                   // rule add/update/delete/activate/deactivate
	"zone.",                          // network zone changes (zone.update, zone.make_blacklist, ...)
	"security.authenticator.",        // authenticator lifecycle / settings
	"system.mfa.factor.",             // org factor activate/deactivate (Classic)
	"system.api_token.",              // API token create/revoke/update
	"user.account.privilege.",        // admin role grant/revoke to a user
	"group.privilege.",               // admin role grant/revoke to a group
	"iam.role.",                      // custom role / resource-set changes
	"system.idp.lifecycle.",          // identity provider changes
	"system.log_stream.",             // log stream changes
	"security.threat.configuration.", // ThreatInsight configuration
	"security.behavior.",             // behavior detection changes
	"device.assurance.",              // device assurance policies
	"application.lifecycle.",         // app create/update/activate/deactivate
	"application.policy.",            // app sign-on policy changes
	"user.session.impersonation.",    // Okta Support access grant/initiate
	"system.org.",                    // org settings (e.g. support access, notification toggles)
	"system.email.",                  // email template settings
	"brand.",                         // brand / sign-in page customization
	"trusted_origin.",                // trusted origins
}

// RelevantEventType reports whether a System Log event type may change the
// org's posture (policy, rule, zone, authenticator, API token, privilege,
// IdP, log stream, ThreatInsight, app, org-setting changes).
func RelevantEventType(eventType string) bool {
	for _, p := range relevantPrefixes {
		if strings.HasPrefix(eventType, p) {
			return true
		}
	}
	return eventType == "user.account.report_suspicious_activity_by_enduser"
}
