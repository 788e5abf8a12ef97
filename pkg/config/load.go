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
	if err != nil {
		return Settings{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, fmt.Errorf("config %s: %w", path, err)
	}
	return s, nil
}

// Parse decodes YAML config text. baseDir resolves relative paths;
// lookup resolves ${NAME} (os.LookupEnv in Load). Parse applies defaults
// but does not call Validate.
func Parse(data []byte, baseDir string, lookup func(string) (string, bool)) (Settings, error) {
	s := Defaults()
	s.BaseDir = baseDir
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return s, fmt.Errorf("not valid YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return s, errors.New("the file is empty")
	}
	root := doc.Content[0]
	p := &parser{base: baseDir, lookup: lookup}
	if root.Kind != yaml.MappingNode {
		return s, errors.New("top level must be a mapping of okta, storage, geoip, ipLists, detectors, posture, listen")
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
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			if err := enc.Encode(n); err != nil {
				p.fail(path, n, "cannot be re-encoded: "+err.Error())
				return
			}
			var dc detect.Config
			dec := yaml.NewDecoder(&buf)
			dec.KnownFields(true)
			if err := dec.Decode(&dc); err != nil {
				p.errs = append(p.errs, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: ")))
				return
			}
			s.Detectors = dc
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
		}
		s.Okta.OAuth = o
	}
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
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) fail(path string, n *yaml.Node, msg string) {
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
