package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/okta"
)

// Load reads a YAML config file, expands ${ENV}, resolves relative paths
// against the file's folder, applies defaults and validates the result.
func Load(path string) (Settings, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Settings{}, fmt.Errorf("config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return Settings{}, fmt.Errorf("config: %w", err)
	}
	s, err := Parse(data, filepath.Dir(abs), os.LookupEnv)
	if err := Problems(err, s.Validate); err != nil {
		return Settings{}, fmt.Errorf("config %s: %w", path, err)
	}
	return s, nil
}

// Problems joins the problems of Parse (parseErr) and of validate, run on
// what was parsed, so that one pass reports every problem of a file at
// once. Identical messages are reported once. A file that is not YAML at
// all is reported alone.
func Problems(parseErr error, validate func() error) error {
	var errs []error
	if parseErr != nil {
		if errors.Is(parseErr, errNotYAML) {
			return parseErr
		}
		errs = append(errs, unjoin(parseErr)...)
	}
	errs = append(errs, unjoin(validate())...)
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		if e == nil || seen[e.Error()] {
			continue
		}
		seen[e.Error()] = true
		out = append(out, e)
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

var errNotYAML = errors.New("not valid YAML")

// Parse decodes YAML config text. baseDir resolves relative paths;
// lookup resolves ${NAME} (os.LookupEnv in Load). Parse applies defaults
// but does not call Validate.
func Parse(data []byte, baseDir string, lookup func(string) (string, bool)) (Settings, error) {
	s := Defaults()
	s.BaseDir = baseDir
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return s, fmt.Errorf("%w: %w", errNotYAML, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return s, fmt.Errorf("%w: the file is empty", errNotYAML)
	}
	root := doc.Content[0]
	p := &parser{base: baseDir, lookup: lookup}
	if root.Kind != yaml.MappingNode {
		return s, fmt.Errorf("%w: top level must be a mapping of okta, storage, geoip, ipLists, detectors, posture, listen", errNotYAML)
	}
	var oauth *oauthFile
	var privateKeyInline string
	p.mapping(root, "", map[string]func(*yaml.Node, string){
		"okta": func(n *yaml.Node, path string) {
			p.mapping(n, path, map[string]func(*yaml.Node, string){
				"orgUrl":           func(n *yaml.Node, k string) { s.Okta.OrgURL = p.str(n, k) },
				"apiToken":         func(n *yaml.Node, k string) { s.Okta.APIToken = strings.TrimSpace(p.secret(n, k)) },
				"backfill":         func(n *yaml.Node, k string) { s.Okta.Backfill = p.dur(n, k) },
				"pollInterval":     func(n *yaml.Node, k string) { s.Okta.PollInterval = p.dur(n, k) },
				"overlap":          func(n *yaml.Node, k string) { s.Okta.Overlap = p.dur(n, k) },
				"rateLimitShare":   func(n *yaml.Node, k string) { s.Okta.RateLimitShare = p.float(n, k) },
				"rateLimitReserve": func(n *yaml.Node, k string) { s.Okta.RateLimitReserve = p.float(n, k) },
				"pageLimit":        func(n *yaml.Node, k string) { s.Okta.PageLimit = p.int(n, k) },
				"requestTimeout":   func(n *yaml.Node, k string) { s.Okta.RequestTimeout = p.dur(n, k) },
				"maxAttempts":      func(n *yaml.Node, k string) { s.Okta.MaxAttempts = p.int(n, k) },
				"rateLimitWindow":  func(n *yaml.Node, k string) { s.Okta.RateLimitWindow = p.dur(n, k) },
				"oauth": func(n *yaml.Node, path string) {
					oauth = &oauthFile{}
					p.mapping(n, path, map[string]func(*yaml.Node, string){
						"clientId":       func(n *yaml.Node, k string) { oauth.clientID = p.str(n, k) },
						"privateKeyFile": func(n *yaml.Node, k string) { oauth.keyFile = resolvePath(p.base, p.str(n, k)) },
						"privateKey":     func(n *yaml.Node, k string) { privateKeyInline = p.secret(n, k) },
						"keyId":          func(n *yaml.Node, k string) { oauth.keyID = p.str(n, k) },
						"scopes":         func(n *yaml.Node, k string) { oauth.scopes = p.strList(n, k) },
					})
				},
			})
		},
		"storage": func(n *yaml.Node, path string) {
			p.mapping(n, path, map[string]func(*yaml.Node, string){
				"driver":       func(n *yaml.Node, k string) { s.Storage.Driver = strings.ToLower(p.str(n, k)) },
				"path":         func(n *yaml.Node, k string) { s.Storage.Path = resolvePath(p.base, p.str(n, k)) },
				"retention":    func(n *yaml.Node, k string) { s.Storage.Retention = p.dur(n, k) },
				"dsn":          func(n *yaml.Node, k string) { s.Storage.DSN = p.secret(n, k) },
				"password":     func(n *yaml.Node, k string) { s.Storage.Password = p.secret(n, k) },
				"passwordFile": func(n *yaml.Node, k string) { s.Storage.PasswordFile = resolvePath(p.base, p.str(n, k)) },
			})
		},
		"geoip": func(n *yaml.Node, path string) {
			p.mapping(n, path, map[string]func(*yaml.Node, string){
				"cityDB":      func(n *yaml.Node, k string) { s.GeoIP.CityDB = resolvePath(p.base, p.str(n, k)) },
				"asnDB":       func(n *yaml.Node, k string) { s.GeoIP.ASNDB = resolvePath(p.base, p.str(n, k)) },
				"anonymousDB": func(n *yaml.Node, k string) { s.GeoIP.AnonymousDB = resolvePath(p.base, p.str(n, k)) },
			})
		},
		"ipLists": func(n *yaml.Node, path string) {
			fields := map[string]func(*yaml.Node, string){}
			for _, cat := range IPListCategories {
				cat := cat
				fields[cat] = func(n *yaml.Node, k string) {
					var out []string
					for _, e := range p.strList(n, k) {
						if IsInlineListEntry(e) {
							out = append(out, strings.TrimSpace(e))
						} else {
							out = append(out, resolvePath(p.base, e))
						}
					}
					s.IPLists[cat] = out
				}
			}
			p.mapping(n, path, fields)
		},
		"detectors": func(n *yaml.Node, path string) {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return
			}
			if n.Kind != yaml.MappingNode {
				p.fail(path, n, "must be a mapping of detector id to settings")
				return
			}
			if err := p.expandTree(n, path); err != nil {
				return
			}
			s.Detectors = p.detectors(n, path)
		},
		"posture": func(n *yaml.Node, path string) {
			p.mapping(n, path, map[string]func(*yaml.Node, string){
				"enabled":  func(n *yaml.Node, k string) { s.Posture.Enabled = p.bool(n, k) },
				"profile":  func(n *yaml.Node, k string) { s.Posture.Profile = p.str(n, k) },
				"interval": func(n *yaml.Node, k string) { s.Posture.Interval = p.dur(n, k) },
			})
		},
		"listen":        func(n *yaml.Node, k string) { s.Listen = p.str(n, k) },
		"webConfigFile": func(n *yaml.Node, k string) { s.WebConfigFile = resolvePath(p.base, p.str(n, k)) },
	})
	if s.Storage.Path == DefaultStoragePath {
		s.Storage.Path = resolvePath(baseDir, DefaultStoragePath)
	}
	if oauth != nil {
		o := &okta.OAuthConfig{ClientID: oauth.clientID, KeyID: oauth.keyID, Scopes: oauth.scopes}
		switch {
		case oauth.keyFile != "" && privateKeyInline != "":
			p.errs = append(p.errs, errors.New("okta.oauth: set privateKeyFile or privateKey, not both"))
		case oauth.keyFile != "":
			b, err := os.ReadFile(oauth.keyFile)
			if err != nil {
				p.errs = append(p.errs, fmt.Errorf("okta.oauth.privateKeyFile: %w", err))
			}
			o.PrivateKeyPEM = b
			s.OAuthPrivateKeyFile = oauth.keyFile
		case privateKeyInline != "":
			o.PrivateKeyPEM = []byte(privateKeyInline)
			o.KeySetting = "okta.oauth.privateKey"
		}
		s.Okta.OAuth = o
	}
	p.explicitZeros(s)
	s.Okta = s.Okta.WithDefaults()
	if len(p.errs) > 0 {
		return s, errors.Join(p.errs...)
	}
	return s, nil
}

type oauthFile struct {
	clientID, keyFile, keyID string
	scopes                   []string
}

type parser struct {
	base   string
	lookup func(string) (string, bool)
	errs   []error
	set    map[string]*yaml.Node // key path -> value node of every key present
	failed map[string]bool       // key paths already reported
}

// explicitZeros refuses tuning values written as 0 (or 0s): in the
// settings a zero means "use the default", so an explicit 0 would silently
// become the default instead of what was written. Negative values are
// refused by Validate.
func (p *parser) explicitZeros(s Settings) {
	zero := []struct {
		key    string
		isZero bool
		want   string
	}{
		{"okta.pageLimit", s.Okta.PageLimit == 0, "1..1000 (default 1000)"},
		{"okta.rateLimitShare", s.Okta.RateLimitShare == 0, "a fraction in (0, 1] (default 0.5)"},
		{"okta.pollInterval", s.Okta.PollInterval == 0, "a positive duration (default 30s)"},
		{"okta.maxAttempts", s.Okta.MaxAttempts == 0, "at least 1 (default 8)"},
		{"okta.requestTimeout", s.Okta.RequestTimeout == 0, "a positive duration (default 60s)"},
		{"okta.backfill", s.Okta.Backfill == 0, "a positive duration up to 2160h (default 168h)"},
		{"okta.overlap", s.Okta.Overlap == 0, "a positive duration (default 15m)"},
		{"okta.rateLimitReserve", s.Okta.RateLimitReserve == 0, "a fraction in (0, 1) (default 0.1)"},
		{"okta.rateLimitWindow", s.Okta.RateLimitWindow == 0, "a positive duration (default 1m)"},
	}
	for _, z := range zero {
		n, ok := p.set[z.key]
		if !ok || !z.isZero || p.failed[z.key] || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
			continue
		}
		p.fail(z.key, n, fmt.Sprintf("%q is out of range: want %s; remove the key to use the default", strings.TrimSpace(n.Value), z.want))
	}
}

// detectors decodes the detectors section one detector and one field at
// a time, so that every problem is reported with its key path (a bad
// rearm does not hide a bad sensitivity). Detectors with a problem are
// left out of the result.
func (p *parser) detectors(n *yaml.Node, path string) detect.Config {
	dc := detect.Config{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		idNode, v := n.Content[i], n.Content[i+1]
		id := idNode.Value
		idPath := join(path, id)
		if err := (detect.Config{id: {}}).Validate(); err != nil {
			p.errs = append(p.errs, fmt.Errorf("%s (line %d): %s", idPath, idNode.Line, strings.TrimPrefix(err.Error(), idPath+": ")))
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			dc[id] = detect.DetectorConfig{}
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.fail(idPath, v, "must be a mapping of enabled, sensitivity, include, exclude, rearm, learningAlerts, params")
			continue
		}
		ok := true
		for j := 0; j+1 < len(v.Content); j += 2 {
			k, val := v.Content[j], v.Content[j+1]
			pairs := []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{k, val}}}
			if k.Value == "params" && val.Kind == yaml.MappingNode {
				pairs = pairs[:0]
				for m := 0; m+1 < len(val.Content); m += 2 {
					pairs = append(pairs, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k,
						{Kind: yaml.MappingNode, Content: []*yaml.Node{val.Content[m], val.Content[m+1]}}}})
				}
			}
			for _, one := range pairs {
				var c detect.DetectorConfig
				if err := decodeKnown(one, &c); err != nil {
					p.errs = append(p.errs, fmt.Errorf("%s (line %d): %s", join(idPath, k.Value), k.Line, yamlMsg(err)))
					ok = false
					continue
				}
				if err := (detect.Config{id: c}).Validate(); err != nil {
					p.errs = append(p.errs, err)
					ok = false
				}
			}
		}
		if !ok {
			continue
		}
		var c detect.DetectorConfig
		if err := decodeKnown(v, &c); err != nil {
			p.errs = append(p.errs, fmt.Errorf("%s: %s", idPath, yamlMsg(err)))
			continue
		}
		dc[id] = c
	}
	return dc
}

// ParseDetectors decodes a detectors configuration given as YAML or JSON
// (the plugin's jsonData.detectors) with the rules of the config file's
// detectors section: every problem is reported, each with its key path
// under "detectors".
func ParseDetectors(data []byte) (detect.Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("detectors: not valid JSON or YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return detect.Config{}, nil
	}
	n := doc.Content[0]
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return detect.Config{}, nil
	}
	p := &parser{lookup: func(string) (string, bool) { return "", false }}
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("detectors: must be an object of detector id to settings")
	}
	dc := p.detectors(n, "detectors")
	return dc, errors.Join(p.errs...)
}

// decodeKnown decodes n into v refusing unknown fields.
func decodeKnown(n *yaml.Node, v any) error {
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(n); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	return dec.Decode(v)
}

// yamlMsg strips the yaml package's prefixes and the line number of the
// re-encoded fragment (the caller names the line in the file).
func yamlMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = lineRe.ReplaceAllString(msg, "")
	return strings.TrimSpace(msg)
}

var lineRe = regexp.MustCompile(`(?m)^\s*line \d+: `)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) fail(path string, n *yaml.Node, msg string) {
	if p.failed == nil {
		p.failed = map[string]bool{}
	}
	p.failed[path] = true
	p.errs = append(p.errs, fmt.Errorf("%s (line %d): %s", path, n.Line, msg))
}

// mapping walks a mapping node, dispatching known keys and rejecting
// unknown or duplicate ones by key path.
func (p *parser) mapping(n *yaml.Node, path string, fields map[string]func(*yaml.Node, string)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(path, n, "must be a mapping")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		kp := join(path, key)
		if seen[key] {
			p.fail(kp, k, "duplicate key")
			continue
		}
		seen[key] = true
		if p.set == nil {
			p.set = map[string]*yaml.Node{}
		}
		p.set[kp] = v
		fn, ok := fields[key]
		if !ok {
			var known []string
			for f := range fields {
				known = append(known, f)
			}
			sortStrings(known)
			p.fail(kp, k, "unknown key (known keys here: "+strings.Join(known, ", ")+")")
			continue
		}
		fn(v, kp)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

var envRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand replaces ${NAME} and ${NAME:-default}. An unset variable without
// a default is an error naming the variable (never its value).
func (p *parser) expand(s, path string, n *yaml.Node) (string, bool) {
	ok := true
	out := envRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRe.FindStringSubmatch(m)
		if v, found := p.lookup(sub[1]); found && v != "" {
			return v
		} else if found && sub[2] == "" {
			return v
		}
		if sub[2] != "" {
			return sub[3]
		}
		p.fail(path, n, "environment variable "+sub[1]+" is not set")
		ok = false
		return ""
	})
	return out, ok
}

func (p *parser) expandTree(n *yaml.Node, path string) error {
	var bad error
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.ScalarNode:
			if strings.Contains(n.Value, "${") {
				v, ok := p.expand(n.Value, path, n)
				if !ok {
					bad = errors.New("unset variable")
				}
				n.Value = v
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], join(path, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(n, path)
	return bad
}

func (p *parser) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.fail(path, n, "must be a single value")
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return p.expand(n.Value, path, n)
}

func (p *parser) str(n *yaml.Node, path string) string {
	v, _ := p.scalar(n, path)
	return strings.TrimSpace(v)
}

// secret is str whose errors never show the value.
func (p *parser) secret(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode {
		p.fail(path, n, "must be a string (value not shown)")
		return ""
	}
	v, _ := p.scalar(n, path)
	return v
}

func (p *parser) dur(n *yaml.Node, path string) time.Duration {
	v, ok := p.scalar(n, path)
	if !ok || v == "" {
		return 0
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		p.fail(path, n, fmt.Sprintf("%q is not a Go duration (examples: 90s, 15m, 168h)", v))
		return 0
	}
	return d
}

func (p *parser) float(n *yaml.Node, path string) float64 {
	v, ok := p.scalar(n, path)
	if !ok || v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		p.fail(path, n, fmt.Sprintf("%q is not a number", v))
	}
	return f
}

func (p *parser) int(n *yaml.Node, path string) int {
	v, ok := p.scalar(n, path)
	if !ok || v == "" {
		return 0
	}
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		p.fail(path, n, fmt.Sprintf("%q is not an integer", v))
	}
	return i
}

func (p *parser) bool(n *yaml.Node, path string) bool {
	v, ok := p.scalar(n, path)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.fail(path, n, fmt.Sprintf("%q is not true or false", v))
	}
	return b
}

// strList accepts a sequence of scalars or one scalar.
func (p *parser) strList(n *yaml.Node, path string) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		v, _ := p.scalar(n, path)
		return []string{strings.TrimSpace(v)}
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for i, c := range n.Content {
			v, ok := p.scalar(c, fmt.Sprintf("%s[%d]", path, i))
			if ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
		return out
	default:
		p.fail(path, n, "must be a list")
		return nil
	}
}
