package detect

import "github.com/oktaguard/oktaguard/pkg/alert"

// Severity levels of an alert (contract); see package alert.
const (
	SeverityInfo     = alert.SeverityInfo
	SeverityLow      = alert.SeverityLow
	SeverityMedium   = alert.SeverityMedium
	SeverityHigh     = alert.SeverityHigh
	SeverityCritical = alert.SeverityCritical
)

// Alert is the shared alert type, defined in package alert so that storage
// and serving need not import the engine.
type Alert = alert.Alert
