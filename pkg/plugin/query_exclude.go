package plugin

import (
	"fmt"
	"slices"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// labelFilter is one "filter out" of a query model: {"key": a log label
// (logLabelKeys), "value": the value to drop}. Explore's "filter out value"
// button and `!=` ad hoc filters add them (the frontend's modifyQuery and
// applyTemplateVariables).
type labelFilter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func checkExclusions(ex []labelFilter) error {
	if len(ex) > store.MaxExclusions {
		return fmt.Errorf("exclude has %d filters, at most %d", len(ex), store.MaxExclusions)
	}
	for _, f := range ex {
		if !slices.Contains(logLabelKeys, f.Key) {
			return fmt.Errorf("exclude key %q is unknown (%s)", f.Key, strings.Join(logLabelKeys, ", "))
		}
		if len(f.Value) > 512 {
			return fmt.Errorf("exclude %s value is longer than 512 characters", f.Key)
		}
	}
	return nil
}

// exclusions are the store's form of the model's exclude filters.
func (q *queryModel) exclusions() []store.Exclusion {
	if len(q.Exclude) == 0 {
		return nil
	}
	out := make([]store.Exclusion, len(q.Exclude))
	for i, f := range q.Exclude {
		out[i] = store.Exclusion{Field: f.Key, Value: f.Value}
	}
	return out
}
