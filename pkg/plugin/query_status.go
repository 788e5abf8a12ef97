package plugin

import (
	"fmt"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// defaultAlertStatuses is what the alerts table shows when the query
// names no status: the alerts still to work on.
var defaultAlertStatuses = []string{alert.StatusOpen, alert.StatusAcknowledged}

// parseStatus validates the model's status filter for the query type:
// posture check statuses for posture, alert triage statuses (a
// comma-separated list, or "all") for alerts, alert_history and
// timeseries of alerts.
func (q *queryModel) parseStatus() error {
	q.Status = strings.TrimSpace(q.Status)
	switch {
	case q.QueryType == QueryAlerts || q.QueryType == QueryAlertHistory || q.QueryType == QueryTimeseries && q.Source == "alerts":
		if q.Status == "" || q.Status == "all" {
			return nil
		}
		for _, s := range splitList(strings.ToLower(q.Status)) {
			if !alert.ValidStatus(s) {
				return fmt.Errorf("status %q is unknown (%s, or all)", s, strings.Join(alert.Statuses, ", "))
			}
			q.statuses = append(q.statuses, s)
		}
	case q.Status != "" && !validStatuses[q.Status]:
		return fmt.Errorf("status %q is unknown (pass, fail, error, not_applicable, manual, partial)", q.Status)
	}
	return nil
}

// alertStatuses is the status filter of a query over alerts: the one the
// model names; else open + acknowledged for the alerts table, open only
// for alert rules (a resolved or dismissed incident stops paging), all
// for dashboard time series.
func (q queryModel) alertStatuses() []string {
	switch {
	case q.statuses != nil:
		return q.statuses
	case q.Status == "all":
		return nil
	case q.fromAlert && q.Source == "alerts":
		return []string{alert.StatusOpen}
	case q.QueryType == QueryAlerts:
		return defaultAlertStatuses
	}
	return nil
}
