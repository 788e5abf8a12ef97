package detect

import (
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// registry lists every detector in the order they run. Adding a detector is
// one file (its Registration and implementation) plus one line here. Every
// place a new detector touches:
//
//  1. pkg/detect/<id>.go: the detector and its Registration (Info with id,
//     title, severity, MITRE and description; Params with their defaults;
//     Rearm);
//  2. the line below (a rule of the pack instead goes into the themed list
//     of its rules_<theme>.go, which rules_register.go registers after
//     these);
//  3. pkg/detect/<id>_test.go: its table tests (positive, negative,
//     threshold edges, suppressions);
//  4. docs/detectors.md: a "## <id>" section naming every parameter and
//     where its false positives come from (docs/rules.md "#### `<id>`" for a
//     rule). TestEveryDetectorDocumented and TestEveryRuleDocumented hold
//     the docs to this registry, and TestDetectorsList checks every
//     registration is complete — neither has a list to edit;
//  5. a row of scenarioTable (pkg/oktasim/traffic/scenarios.go) labelling
//     its attack, so the scenario test (pkg/detect/scenario_test.go)
//     measures its recall: required for a detector
//     (TestEveryDetectorHasALabel in pkg/oktasim/traffic derives the ids
//     from this registry), optional for a rule;
//  6. an entry of DETECTORS in src/constants.ts: the config editor's list
//     (id, title, severity, the parameters it offers with their defaults),
//     which the editor needs before the data source is saved and so cannot
//     fetch. TestFrontendDetectorListMatchesRegistry holds it to this
//     registry (a detector only; rules are not listed there).
//
// Nothing else is per detector: config validation, the backend's detector
// list (the plugin's /detectors resource), metrics labels and state keys
// all derive from this registry.
var registry = []Registration{
	impossibleTravelRegistration,
	infrequentCountryRegistration,
	anonymousIPRegistration,
	suspiciousIPRegistration,
	failedLoginsRegistration,
	unusualAdminRegistration,
	massDestructiveRegistration,
	riskyIPLogonRegistration,
	passwordSprayRegistration,
	mfaFatigueRegistration,
	sessionHijackRegistration,
}

// Info describes a detector for the plugin's detector list and the docs.
type Info struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Severity    string   `json:"severity"` // default severity of its alerts
	MITRE       []string `json:"mitre"`
	Description string   `json:"description"`
}

// Registration declares a detector: its description, parameters with their
// defaults, dedup behaviour and constructor.
type Registration struct {
	Info Info
	// Params are the configurable thresholds with their defaults.
	Params []Param
	// Rearm is the default dedup quiet period (24h when zero).
	Rearm time.Duration
	// FixedDedup makes the dedup period count from the first alert rather
	// than from the last occurrence of the condition ("once per 7 days").
	FixedDedup bool
	// GroupSources (> 0) makes one campaign of the detector's
	// source-keyed findings (no actor): a finding from a new source within
	// this time of another source's latest match (its incident still open)
	// joins that incident (the same alert, updated) instead of opening
	// one; evidence.sourceIPs lists the sources (bounded, sourceIPsTotal
	// counts them). Sprays hours apart stay separate incidents.
	GroupSources time.Duration
	// New builds a fresh detector from its effective parameters.
	New func(p Params) (Detector, error)
}

// Detector is one detection. Handle is called for every event in event-time
// order (late events are delivered when they arrive); a detector reports
// through Context.Emit. Detectors are not safe for concurrent use: the
// engine serialises all calls.
type Detector interface {
	Handle(c *Context, ev *event.Event)
	// Prune drops state older than the detector's windows; called about
	// once per hour of event time.
	Prune(now time.Time)
	// MarshalState / UnmarshalState persist the detector's own state.
	MarshalState() ([]byte, error)
	UnmarshalState(data []byte) error
}

// userBound is implemented by detectors that key per-user state by the
// engine's user index (4 bytes instead of a login string per entry).
// NewEngine binds them to its baselines; their MarshalState and
// UnmarshalState translate indices to and from logins, so the persisted
// form stays keyed by login.
type userBound interface {
	bindUsers(b *baselines)
}

// Detectors lists every registered detector.
func Detectors() []Info {
	out := make([]Info, len(registry))
	for i, r := range registry {
		out[i] = r.Info
		out[i].MITRE = append([]string(nil), r.Info.MITRE...)
	}
	return out
}

// DetectorParams lists the parameters (name, default, doc) of a detector;
// nil for an unknown id.
func DetectorParams(id string) []Param {
	r := lookupRegistration(id)
	if r == nil {
		return nil
	}
	return append([]Param(nil), r.Params...)
}

func lookupRegistration(id string) *Registration {
	for i := range registry {
		if registry[i].Info.ID == id {
			return &registry[i]
		}
	}
	return nil
}

func detectorIDs() []string {
	out := make([]string, len(registry))
	for i, r := range registry {
		out[i] = r.Info.ID
	}
	return out
}
