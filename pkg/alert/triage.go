package alert

import "time"

// Statuses lists the triage statuses in their usual order.
var Statuses = []string{StatusOpen, StatusAcknowledged, StatusResolved, StatusDismissed}

// ValidStatus reports whether s is one of Statuses.
func ValidStatus(s string) bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

// Triage is an alert's current triage state. An alert that was never
// triaged is open, with no assignee.
type Triage struct {
	AlertID   string    `json:"alertId"`
	Status    string    `json:"status"`
	Assignee  string    `json:"assignee,omitempty"`
	Note      string    `json:"note,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}

// Change is one entry of an alert's triage history: who moved it from
// which status to which, when, with what note (and the exception a
// dismissal created, if any).
type Change struct {
	ID          int64     `json:"id"`
	AlertID     string    `json:"alertId"`
	Time        time.Time `json:"time"`
	User        string    `json:"user"`
	Role        string    `json:"role,omitempty"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Note        string    `json:"note,omitempty"`
	Assignee    string    `json:"assignee,omitempty"`
	ExceptionID int64     `json:"exceptionId,omitempty"`
}

// Exception scopes: what, besides the detector, an exception matches.
const (
	ScopeActor  = "actor"  // the alert's actor login (case-insensitive)
	ScopeIP     = "ip"     // one client IP address
	ScopeSubnet = "subnet" // an IPv4 /24 (IPv6 /64) network
	ScopeASN    = "asn"    // an autonomous system number
	ScopeApp    = "app"    // an app instance (id, name or label) the event targets
)

// Scopes lists the exception scopes.
var Scopes = []string{ScopeActor, ScopeIP, ScopeSubnet, ScopeASN, ScopeApp}

// Exception suppresses one detector's alerts for one scope until it
// expires or is removed. Removed exceptions are kept (RemovedAt set) as
// the record of who silenced what.
type Exception struct {
	ID        int64     `json:"id"`
	Detector  string    `json:"detector"`
	Scope     string    `json:"scope"`
	Value     string    `json:"value"`
	Reason    string    `json:"reason"`
	AlertID   string    `json:"alertId,omitempty"` // the dismissed alert it came from
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	RemovedAt time.Time `json:"removedAt,omitzero"`
	RemovedBy string    `json:"removedBy,omitempty"`
	Hits      int64     `json:"hits"`             // alerts it suppressed
	LastHit   time.Time `json:"lastHit,omitzero"` // time of the last one
}

// Active reports whether the exception suppresses alerts at now.
func (x Exception) Active(now time.Time) bool {
	return x.RemovedAt.IsZero() && now.Before(x.ExpiresAt)
}

// State is "active", "expired" or "removed" at now.
func (x Exception) State(now time.Time) string {
	switch {
	case !x.RemovedAt.IsZero():
		return "removed"
	case !now.Before(x.ExpiresAt):
		return "expired"
	}
	return "active"
}
