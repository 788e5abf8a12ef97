package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Sensitivity selects which suppression sets a detector applies
// (detections.md §1.5): low = system + tenant + user suppressions,
// medium = system + user (the default), high = system only.
type Sensitivity string

// Sensitivity tiers.
const (
	SensitivityLow    Sensitivity = "low"
	SensitivityMedium Sensitivity = "medium"
	SensitivityHigh   Sensitivity = "high"
)

// Config is the detector configuration: detector id -> settings. A detector
// that is not listed runs with its defaults. It maps one-to-one onto the
// `detectors:` key of the config file and the plugin's jsonData.detectors.
type Config map[string]DetectorConfig

// DetectorConfig is the configuration of one detector. Every field is
// optional; the zero value means "defaults".
type DetectorConfig struct {
	// Enabled turns the detector off when false (default true).
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	// Sensitivity is low, medium (default) or high.
	Sensitivity Sensitivity `json:"sensitivity,omitempty" yaml:"sensitivity,omitempty"`
	// Include limits alerts to actors (login) or source IPs matching one of
	// these glob patterns (path.Match syntax, case-insensitive). Empty = all.
	Include []string `json:"include,omitempty" yaml:"include,omitempty"`
	// Exclude drops alerts whose actor or source IP matches one of these
	// patterns (frequent travellers, pen-testers, service accounts).
	Exclude []string `json:"exclude,omitempty" yaml:"exclude,omitempty"`
	// Rearm is the dedup quiet period after which the same detector, actor
	// and key may alert again (default per detector, mostly 24h).
	Rearm Duration `json:"rearm,omitempty" yaml:"rearm,omitempty"`
	// LearningAlerts, when true, emits alerts during the learning period at
	// severity info instead of recording silently.
	LearningAlerts bool `json:"learningAlerts,omitempty" yaml:"learningAlerts,omitempty"`
	// Params are the detector's thresholds (see docs/detectors.md); unknown
	// names and values of the wrong type are errors.
	Params map[string]any `json:"params,omitempty" yaml:"params,omitempty"`
}

// Duration is a time.Duration that reads and writes Go duration strings
// ("15m", "24h") in JSON and YAML; JSON numbers are taken as seconds.
type Duration time.Duration

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses a Go duration string (also "7d" day notation).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON accepts a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return d.UnmarshalText([]byte(s))
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a string like \"15m\" or a number of seconds", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return v, nil
}

// ParseConfig reads a Config from YAML or JSON (JSON is valid YAML) and
// validates it.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && err.Error() != "EOF" {
		return nil, fmt.Errorf("detectors config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks every detector id, sensitivity, pattern and parameter and
// returns the first problem as a precise error naming the key.
func (c Config) Validate() error {
	_, err := c.resolve()
	return err
}

// resolved is the effective configuration of one detector.
type resolved struct {
	reg            *Registration
	enabled        bool
	sens           Sensitivity
	include        []string
	exclude        []string
	rearm          time.Duration
	learningAlerts bool
	params         Params
}

func (c Config) resolve() ([]resolved, error) {
	ids := make([]string, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if lookupRegistration(id) == nil {
			return nil, fmt.Errorf("detectors.%s: unknown detector (known: %s)", id, strings.Join(detectorIDs(), ", "))
		}
	}
	out := make([]resolved, 0, len(registry))
	for i := range registry {
		reg := &registry[i]
		dc := c[reg.Info.ID]
		r := resolved{reg: reg, enabled: true, sens: SensitivityMedium, rearm: reg.Rearm, learningAlerts: dc.LearningAlerts}
		if dc.Enabled != nil {
			r.enabled = *dc.Enabled
		}
		switch s := Sensitivity(strings.ToLower(string(dc.Sensitivity))); s {
		case "":
		case SensitivityLow, SensitivityMedium, SensitivityHigh:
			r.sens = s
		default:
			return nil, fmt.Errorf("detectors.%s.sensitivity: %q is not one of low, medium, high", reg.Info.ID, dc.Sensitivity)
		}
		if dc.Rearm < 0 {
			return nil, fmt.Errorf("detectors.%s.rearm: must not be negative", reg.Info.ID)
		}
		if dc.Rearm > 0 {
			r.rearm = time.Duration(dc.Rearm)
		}
		for k, list := range map[string][]string{"include": dc.Include, "exclude": dc.Exclude} {
			for j, p := range list {
				if _, err := path.Match(strings.ToLower(p), ""); err != nil || p == "" {
					return nil, fmt.Errorf("detectors.%s.%s[%d]: invalid pattern %q", reg.Info.ID, k, j, p)
				}
			}
		}
		r.include = lowerAll(dc.Include)
		r.exclude = lowerAll(dc.Exclude)
		p, err := buildParams(reg, dc.Params)
		if err != nil {
			return nil, err
		}
		r.params = p
		out = append(out, r)
	}
	return out, nil
}

func lowerAll(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

// Param declares one detector parameter. Its Default fixes its type:
// float64, int, bool, string, time.Duration or []string.
type Param struct {
	Name    string
	Default any
	Doc     string
}

// Params holds a detector's effective parameters (defaults overlaid with
// the configured values, already type-checked).
type Params struct {
	id string
	v  map[string]any
}

func buildParams(reg *Registration, raw map[string]any) (Params, error) {
	p := Params{id: reg.Info.ID, v: make(map[string]any, len(reg.Params))}
	for _, d := range reg.Params {
		p.v[d.Name] = d.Default
	}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var decl *Param
		for i := range reg.Params {
			if reg.Params[i].Name == k {
				decl = &reg.Params[i]
				break
			}
		}
		if decl == nil {
			known := make([]string, len(reg.Params))
			for i, d := range reg.Params {
				known[i] = d.Name
			}
			return p, fmt.Errorf("detectors.%s.params.%s: unknown parameter (known: %s)", reg.Info.ID, k, strings.Join(known, ", "))
		}
		v, err := coerce(decl.Default, raw[k])
		if err != nil {
			return p, fmt.Errorf("detectors.%s.params.%s: %w", reg.Info.ID, k, err)
		}
		p.v[k] = v
	}
	return p, nil
}

func coerce(def, v any) (any, error) {
	switch def.(type) {
	case float64:
		f, ok := toFloat(v)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want a number, got %v (%T)", v, v)
		}
		if f < 0 {
			return nil, fmt.Errorf("must not be negative, got %v", f)
		}
		return f, nil
	case int:
		f, ok := toFloat(v)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
			return nil, fmt.Errorf("want an integer, got %v (%T)", v, v)
		}
		if f < 0 {
			return nil, fmt.Errorf("must not be negative, got %v", f)
		}
		return int(f), nil
	case bool:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if x, err := strconv.ParseBool(b); err == nil {
				return x, nil
			}
		}
		return nil, fmt.Errorf("want true or false, got %v (%T)", v, v)
	case string:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %v (%T)", v, v)
		}
		return s, nil
	case time.Duration:
		switch x := v.(type) {
		case string:
			d, err := parseDuration(x)
			if err != nil {
				return nil, err
			}
			if d < 0 {
				return nil, fmt.Errorf("must not be negative, got %s", x)
			}
			return d, nil
		case time.Duration:
			return x, nil
		}
		if f, ok := toFloat(v); ok && f >= 0 {
			return time.Duration(f * float64(time.Second)), nil
		}
		return nil, fmt.Errorf("want a duration like \"15m\", got %v (%T)", v, v)
	case []string:
		switch x := v.(type) {
		case []string:
			return x, nil
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("item %d: want a string, got %v (%T)", i, e, e)
				}
				out[i] = s
			}
			return out, nil
		case string:
			if x == "" {
				return []string(nil), nil
			}
			return strings.Split(x, ","), nil
		}
		return nil, fmt.Errorf("want a list of strings, got %v (%T)", v, v)
	}
	return nil, fmt.Errorf("unsupported parameter type %T", def)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// Float returns a float64 parameter.
func (p Params) Float(name string) float64 { f, _ := p.v[name].(float64); return f }

// Int returns an int parameter.
func (p Params) Int(name string) int { i, _ := p.v[name].(int); return i }

// Bool returns a bool parameter.
func (p Params) Bool(name string) bool { b, _ := p.v[name].(bool); return b }

// String returns a string parameter.
func (p Params) String(name string) string { s, _ := p.v[name].(string); return s }

// Duration returns a duration parameter.
func (p Params) Duration(name string) time.Duration { d, _ := p.v[name].(time.Duration); return d }

// Strings returns a list parameter.
func (p Params) Strings(name string) []string { s, _ := p.v[name].([]string); return s }

// matchAny reports whether any of s (lower-cased) matches one of the patterns.
func matchAny(patterns []string, s ...string) bool {
	for _, x := range s {
		if x == "" {
			continue
		}
		x = strings.ToLower(x)
		for _, p := range patterns {
			if ok, _ := path.Match(p, x); ok {
				return true
			}
		}
	}
	return false
}
