package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
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
	data, err := os.ReadFile(abs) // #nosec G304 -- the config file the operator names
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
	return oneLineEach(errs)
}

// oneLineEach joins errs, one problem per line: a problem that quotes
// the file (a key or path with a newline or another control character
// in it) has those characters escaped, so it never spans lines or
// writes control sequences to a terminal. Identical problems are
// reported once. errors.Is and errors.As still see each problem.
func oneLineEach(errs []error) error {
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		if e == nil {
			continue
		}
		if esc := escapeControls(e.Error()); esc != e.Error() {
			e = escapedError{msg: esc, err: e}
		}
		if seen[e.Error()] {
			continue
		}
		seen[e.Error()] = true
		out = append(out, e)
	}
	return errors.Join(out...)
}

type escapedError struct {
	msg string
	err error
}

func (e escapedError) Error() string { return e.msg }
func (e escapedError) Unwrap() error { return e.err }

// escapeControls writes control characters (C0, DEL, C1 and the Unicode
// line and paragraph separators) as Go escapes: \n, \t, \x1b, \u2028.
func escapeControls(s string) string {
	isControl := func(r rune) bool {
		return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029
	}
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case isControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
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

// file is the layout of the config file: yaml struct tags, decoded with
// KnownFields(true), so an unknown key anywhere is refused. Every leaf is
// a value (the node as written, nil when absent or null): leaves are
// expanded and converted after decoding, each with its key path, so one
// pass reports every problem of the file (a bad duration does not hide an
// unknown key elsewhere).
type file struct {
	Okta          oktaFile    `yaml:"okta"`
	Storage       storageFile `yaml:"storage"`
	GeoIP         geoipFile   `yaml:"geoip"`
	IPLists       ipListsFile `yaml:"ipLists"`
	Detectors     value       `yaml:"detectors"`
	Posture       postureFile `yaml:"posture"`
	Listen        value       `yaml:"listen"`
	WebConfigFile value       `yaml:"webConfigFile"`
}

type oktaFile struct {
	OrgURL           value      `yaml:"orgUrl"`
	APIToken         value      `yaml:"apiToken"`
	Backfill         value      `yaml:"backfill"`
	PollInterval     value      `yaml:"pollInterval"`
	Overlap          value      `yaml:"overlap"`
	RateLimitShare   value      `yaml:"rateLimitShare"`
	RateLimitReserve value      `yaml:"rateLimitReserve"`
	PageLimit        value      `yaml:"pageLimit"`
	RequestTimeout   value      `yaml:"requestTimeout"`
	MaxAttempts      value      `yaml:"maxAttempts"`
	RateLimitWindow  value      `yaml:"rateLimitWindow"`
	OAuth            *oauthFile `yaml:"oauth"`
}

type oauthFile struct {
	ClientID       value `yaml:"clientId"`
	PrivateKeyFile value `yaml:"privateKeyFile"`
	PrivateKey     value `yaml:"privateKey"`
	KeyID          value `yaml:"keyId"`
	Scopes         value `yaml:"scopes"`
}

type storageFile struct {
	Driver       value `yaml:"driver"`
	Path         value `yaml:"path"`
	Retention    value `yaml:"retention"`
	DSN          value `yaml:"dsn"`
	Password     value `yaml:"password"`
	PasswordFile value `yaml:"passwordFile"`
}

type geoipFile struct {
	CityDB      value `yaml:"cityDB"`
	ASNDB       value `yaml:"asnDB"`
	AnonymousDB value `yaml:"anonymousDB"`
}

// ipListsFile has one key per IPListCategories entry (a test holds them
// equal).
type ipListsFile struct {
	Anonymous  value `yaml:"anonymous"`
	Suspicious value `yaml:"suspicious"`
	Risky      value `yaml:"risky"`
	Trusted    value `yaml:"trusted"`
}

func (l *ipListsFile) byCategory() []value {
	return []value{l.Anonymous, l.Suspicious, l.Risky, l.Trusted}
}

type postureFile struct {
	Enabled  value `yaml:"enabled"`
	Profile  value `yaml:"profile"`
	Interval value `yaml:"interval"`
}

// value is one leaf as written in the file. The yaml decoder does not
// call UnmarshalYAML for a null value, so n is nil for an absent or null
// key (the default applies).
type value struct{ n *yaml.Node }

func (v *value) UnmarshalYAML(n *yaml.Node) error {
	v.n = n
	return nil
}

// Parse decodes YAML config text. baseDir resolves relative paths;
// lookup resolves ${NAME} (os.LookupEnv in Load). Parse applies defaults
// but does not call Validate.
func Parse(data []byte, baseDir string, lookup func(string) (string, bool)) (Settings, error) {
	return parse(data, baseDir, lookup, false)
}

// ParseOffline is Parse for the commands that read only the local store
// (export, replay, alerts): an unset environment variable in an Okta
// credential (okta.apiToken, okta.oauth.*) leaves it empty instead of
// failing, so they run where the token is not in the environment. Every
// other unset variable is still a problem (a storage path or password is
// needed to read the store). Use with Settings.ValidateOffline.
func ParseOffline(data []byte, baseDir string, lookup func(string) (string, bool)) (Settings, error) {
	return parse(data, baseDir, lookup, true)
}

func parse(data []byte, baseDir string, lookup func(string) (string, bool), offline bool) (Settings, error) {
	s := Defaults()
	s.BaseDir = baseDir
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return s, fmt.Errorf("%w: %w", errNotYAML, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return s, fmt.Errorf("%w: the file is empty", errNotYAML)
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return s, fmt.Errorf("%w: top level must be a mapping of %s", errNotYAML, strings.Join(yamlKeys(reflect.TypeOf(file{})), ", "))
	}
	p := &parser{base: baseDir, lookup: lookup, paths: indexPaths(doc.Content[0], ""), failed: map[string]bool{}, offline: offline}
	p.errs = append(p.errs, p.paths.badKeys...)
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		p.decodeErrors(err)
	}
	p.settings(&f, &s)
	p.explicitZeros(&f, s)
	s.Okta = s.Okta.WithDefaults()
	if len(p.errs) > 0 {
		return s, errors.Join(p.errs...)
	}
	return s, nil
}

// settings converts the decoded leaves onto s.
func (p *parser) settings(f *file, s *Settings) {
	o := &f.Okta
	set(o.OrgURL, p.str, &s.Okta.OrgURL)
	set(o.APIToken, func(v value) string { return strings.TrimSpace(p.secret(v)) }, &s.Okta.APIToken)
	set(o.Backfill, p.dur, &s.Okta.Backfill)
	set(o.PollInterval, p.dur, &s.Okta.PollInterval)
	set(o.Overlap, p.dur, &s.Okta.Overlap)
	set(o.RateLimitShare, p.float, &s.Okta.RateLimitShare)
	set(o.RateLimitReserve, p.float, &s.Okta.RateLimitReserve)
	set(o.PageLimit, p.int, &s.Okta.PageLimit)
	set(o.RequestTimeout, p.dur, &s.Okta.RequestTimeout)
	set(o.MaxAttempts, p.int, &s.Okta.MaxAttempts)
	set(o.RateLimitWindow, p.dur, &s.Okta.RateLimitWindow)
	if o.OAuth != nil {
		p.oauth(o.OAuth, s)
	}

	st := &s.Storage
	set(f.Storage.Driver, func(v value) string { return strings.ToLower(p.str(v)) }, &st.Driver)
	set(f.Storage.Path, p.path, &st.Path)
	set(f.Storage.Retention, p.dur, &st.Retention)
	set(f.Storage.DSN, p.secret, &st.DSN)
	set(f.Storage.Password, p.secret, &st.Password)
	set(f.Storage.PasswordFile, p.path, &st.PasswordFile)
	if st.Path == DefaultStoragePath {
		st.Path = resolvePath(p.base, DefaultStoragePath)
	}

	set(f.GeoIP.CityDB, p.path, &s.GeoIP.CityDB)
	set(f.GeoIP.ASNDB, p.path, &s.GeoIP.ASNDB)
	set(f.GeoIP.AnonymousDB, p.path, &s.GeoIP.AnonymousDB)

	for i, v := range f.IPLists.byCategory() {
		if v.n == nil {
			continue
		}
		var out []string
		for _, e := range p.strList(v) {
			if IsInlineListEntry(e) {
				out = append(out, strings.TrimSpace(e))
			} else {
				out = append(out, resolvePath(p.base, e))
			}
		}
		s.IPLists[IPListCategories[i]] = out
	}

	if n := f.Detectors.n; n != nil {
		path := p.pathOf(n)
		if n.Kind != yaml.MappingNode {
			p.fail(path, n, "must be a mapping of detector id to settings")
		} else if err := p.expandTree(n, path); err == nil {
			s.Detectors = p.detectors(n, path)
		}
	}

	set(f.Posture.Enabled, p.bool, &s.Posture.Enabled)
	set(f.Posture.Profile, p.str, &s.Posture.Profile)
	set(f.Posture.Interval, p.dur, &s.Posture.Interval)
	set(f.Listen, p.str, &s.Listen)
	set(f.WebConfigFile, p.path, &s.WebConfigFile)
}

// set stores conv(v) in *dst when the key is present (a null or absent
// key keeps the default).
func set[T any](v value, conv func(value) T, dst *T) {
	if v.n != nil {
		*dst = conv(v)
	}
}

func (p *parser) oauth(of *oauthFile, s *Settings) {
	o := &okta.OAuthConfig{}
	var keyFile, keyInline string
	set(of.ClientID, p.str, &o.ClientID)
	set(of.KeyID, p.str, &o.KeyID)
	set(of.Scopes, p.strList, &o.Scopes)
	set(of.PrivateKeyFile, p.path, &keyFile)
	set(of.PrivateKey, p.secret, &keyInline)
	switch {
	case keyFile != "" && keyInline != "":
		p.errs = append(p.errs, errors.New("okta.oauth: set privateKeyFile or privateKey, not both"))
	case keyFile != "":
		b, err := os.ReadFile(keyFile) // #nosec G304 -- okta.oauth.privateKeyFile, named by the operator's config
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("okta.oauth.privateKeyFile: %w", err))
		}
		o.PrivateKeyPEM = b
		s.OAuthPrivateKeyFile = keyFile
	case keyInline != "":
		o.PrivateKeyPEM = []byte(keyInline)
		o.KeySetting = "okta.oauth.privateKey"
	}
	s.Okta.OAuth = o
}

type parser struct {
	base   string
	lookup func(string) (string, bool)
	errs   []error
	paths  pathIndex
	failed map[string]bool // key paths already reported
	// offline: unset variables in Okta credentials are left empty
	// (ParseOffline)
	offline bool
}

// explicitZeros refuses tuning values written as 0 (or 0s): in the
// settings a zero means "use the default", so an explicit 0 would silently
// become the default instead of what was written. Negative values are
// refused by Validate.
func (p *parser) explicitZeros(f *file, s Settings) {
	o := &f.Okta
	zero := []struct {
		v      value
		isZero bool
		want   string
	}{
		{o.PageLimit, s.Okta.PageLimit == 0, "1..1000 (default 1000)"},
		{o.RateLimitShare, s.Okta.RateLimitShare == 0, "a fraction in (0, 1] (default 0.5)"},
		{o.PollInterval, s.Okta.PollInterval == 0, "a positive duration (default 30s)"},
		{o.MaxAttempts, s.Okta.MaxAttempts == 0, "at least 1 (default 8)"},
		{o.RequestTimeout, s.Okta.RequestTimeout == 0, "a positive duration (default 60s)"},
		{o.Backfill, s.Okta.Backfill == 0, "a positive duration up to 2160h (default 168h)"},
		{o.Overlap, s.Okta.Overlap == 0, "a positive duration (default 15m)"},
		{o.RateLimitReserve, s.Okta.RateLimitReserve == 0, "a fraction in (0, 1) (default 0.1)"},
		{o.RateLimitWindow, s.Okta.RateLimitWindow == 0, "a positive duration (default 1m)"},
	}
	for _, z := range zero {
		if z.v.n == nil || !z.isZero {
			continue
		}
		key := p.pathOf(z.v.n)
		if p.failed[key] {
			continue
		}
		p.fail(key, z.v.n, fmt.Sprintf("%q is out of range: want %s; remove the key to use the default", strings.TrimSpace(z.v.n.Value), z.want))
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
		if keyShape(idNode) != "" {
			continue // reported by indexPaths
		}
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
			if keyShape(k) != "" {
				ok = false // reported by indexPaths
				continue
			}
			pairs := []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{k, val}}}
			if k.Value == "params" && val.Kind == yaml.MappingNode {
				pairs = pairs[:0]
				for m := 0; m+1 < len(val.Content); m += 2 {
					if keyShape(val.Content[m]) != "" {
						ok = false // reported by indexPaths
						continue
					}
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
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("detectors: must be an object of detector id to settings")
	}
	p := &parser{lookup: func(string) (string, bool) { return "", false }, paths: indexPaths(n, "detectors")}
	p.errs = append(p.errs, p.paths.badKeys...)
	dc := p.detectors(n, "detectors")
	return dc, oneLineEach(p.errs)
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

// pathIndex names the key path of every node of the file, by position:
// the yaml decoder's nodes and the parsed document's are the same text,
// so positions match.
type pathIndex struct {
	values map[[2]int]string  // line, column of a value -> key path
	keys   map[lineKey]string // line and name of a key -> key path
	lines  map[int]string     // line -> key path of the first value starting there
	// badKeys are keys that are not a name: a mapping, list or alias
	// written as a key ("? {a: 1}", "[a]: 1", "*x : 1") or a null key
	// ("~: 1", ": 1"), which the decoder would otherwise reject with a
	// Go type name or silently ignore. badKeyLines are their lines: the
	// decoder's own message there is dropped.
	badKeys     []error
	badKeyLines map[int]bool
}

// keyShape says what a mapping key is when it is not a name, or "".
func keyShape(k *yaml.Node) string {
	switch {
	case k.Kind == yaml.MappingNode:
		return "a mapping"
	case k.Kind == yaml.SequenceNode:
		return "a list"
	case k.Kind == yaml.AliasNode:
		return "an alias (*" + k.Value + ")"
	case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!null":
		return "null"
	}
	return ""
}

// where names a key path in a problem; the file's top level has none.
func where(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

type lineKey struct {
	line int
	name string
}

func indexPaths(root *yaml.Node, rootPath string) pathIndex {
	ix := pathIndex{values: map[[2]int]string{}, keys: map[lineKey]string{}, lines: map[int]string{}, badKeyLines: map[int]bool{}}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		ix.values[[2]int{n.Line, n.Column}] = path
		if _, ok := ix.lines[n.Line]; !ok && path != "" {
			ix.lines[n.Line] = path
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if shape := keyShape(k); shape != "" {
					ix.badKeys = append(ix.badKeys, fmt.Errorf("%s (line %d): a key must be a name, not %s", where(path), k.Line, shape))
					ix.badKeyLines[k.Line] = true
					continue
				}
				kp := join(path, k.Value)
				lk := lineKey{k.Line, k.Value}
				if _, ok := ix.keys[lk]; !ok {
					ix.keys[lk] = kp
				}
				walk(n.Content[i+1], kp)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(root, rootPath)
	return ix
}

// pathOf is the key path of a value node of the file.
func (p *parser) pathOf(n *yaml.Node) string {
	if path, ok := p.paths.values[[2]int{n.Line, n.Column}]; ok {
		return path
	}
	return p.paths.lines[n.Line]
}

var (
	unknownFieldRe = regexp.MustCompile(`(?s)^line (\d+): field (.*) not found in type (.+)$`) // an empty key too (`"": x` or a bare tag)
	duplicateRe    = regexp.MustCompile(`(?s)^line (\d+): mapping key "(.+)" already defined at line (\d+)$`)
	lineNumRe      = regexp.MustCompile(`^line (\d+): `)
	notMappingRe   = regexp.MustCompile(`(?s)^line (\d+): cannot unmarshal (!\S*).* into (.+)$`) // !!str, !!seq, or a local tag (!x)
)

// decodeErrors turns the yaml decoder's errors into problems with a key
// path: unknown keys (with the keys allowed there), duplicate keys (the
// decoder then skips that mapping), and a scalar or list where a section
// is expected.
func (p *parser) decodeErrors(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		p.errs = append(p.errs, fmt.Errorf("%w: %w", errNotYAML, err))
		return
	}
	for _, msg := range te.Errors {
		if m := lineNumRe.FindStringSubmatch(msg); m != nil {
			if line, _ := strconv.Atoi(m[1]); p.paths.badKeyLines[line] {
				continue // reported as a key that is not a name
			}
		}
		if m := unknownFieldRe.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			known := "known keys here: " + strings.Join(yamlKeys(fileTypes[m[3]]), ", ")
			path := p.paths.keys[lineKey{line, m[2]}]
			if path == "" || strings.HasSuffix(path, ".") {
				path += `""` // an empty key: name it as the file writes it
			}
			p.errs = append(p.errs, fmt.Errorf("%s (line %d): unknown key (%s)", path, line, known))
			continue
		}
		if m := duplicateRe.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			key := m[2] // the decoder quotes it with %q
			if k, err := strconv.Unquote(`"` + key + `"`); err == nil {
				key = k
			}
			p.errs = append(p.errs, fmt.Errorf("%s (line %d): duplicate key (first at line %s)", where(p.paths.keys[lineKey{line, key}]), line, m[3]))
			continue
		}
		if m := notMappingRe.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			p.failed[p.paths.lines[line]] = true
			p.errs = append(p.errs, fmt.Errorf("%s (line %d): must be a mapping of %s, not %s", where(p.paths.lines[line]), line,
				strings.Join(yamlKeys(fileTypes[m[3]]), ", "), m[2]))
			continue
		}
		if m := lineNumRe.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			msg = fmt.Sprintf("%s (line %d): %s", where(p.paths.lines[line]), line, strings.TrimPrefix(msg, m[0]))
		}
		p.errs = append(p.errs, errors.New(msg))
	}
}

// fileTypes are the sections of file by the type name the yaml decoder's
// messages use.
var fileTypes = func() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, v := range []any{file{}, oktaFile{}, oauthFile{}, storageFile{}, geoipFile{}, ipListsFile{}, postureFile{}} {
		t := reflect.TypeOf(v)
		out[t.String()] = t
		out[reflect.PointerTo(t).String()] = t
	}
	return out
}()

// yamlKeys lists the keys of a section (its yaml tags), sorted.
func yamlKeys(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		out = append(out, strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
	}
	sort.Strings(out)
	return out
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
		if p.offline && (path == "okta.apiToken" || strings.HasPrefix(path, "okta.oauth.")) {
			return "" // not needed to read the store
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

func (p *parser) scalar(v value) (string, bool) {
	n := v.n
	if n.Kind != yaml.ScalarNode {
		p.fail(p.pathOf(n), n, "must be a single value")
		return "", false
	}
	return p.expand(n.Value, p.pathOf(n), n)
}

func (p *parser) str(v value) string {
	s, _ := p.scalar(v)
	return strings.TrimSpace(s)
}

// path is a str resolved against the config file's folder.
func (p *parser) path(v value) string { return resolvePath(p.base, p.str(v)) }

// secret is str whose errors never show the value.
func (p *parser) secret(v value) string {
	if v.n.Kind != yaml.ScalarNode {
		p.fail(p.pathOf(v.n), v.n, "must be a string (value not shown)")
		return ""
	}
	s, _ := p.scalar(v)
	return s
}

// number converts a scalar with parse; "" (an empty expansion) is zero.
func number[T any](p *parser, v value, parse func(string) (T, error), what string) T {
	var zero T
	s, ok := p.scalar(v)
	if !ok || s == "" {
		return zero
	}
	out, err := parse(strings.TrimSpace(s))
	if err != nil {
		p.fail(p.pathOf(v.n), v.n, fmt.Sprintf("%q is not %s", s, what))
		return zero
	}
	return out
}

func (p *parser) dur(v value) time.Duration {
	return number(p, v, time.ParseDuration, "a Go duration (examples: 90s, 15m, 168h)")
}

func (p *parser) float(v value) float64 {
	return number(p, v, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, "a number")
}

func (p *parser) int(v value) int { return number(p, v, strconv.Atoi, "an integer") }

func (p *parser) bool(v value) bool { return number(p, v, strconv.ParseBool, "true or false") }

// strList accepts a sequence of scalars or one scalar.
func (p *parser) strList(v value) []string {
	switch v.n.Kind {
	case yaml.ScalarNode:
		return []string{p.str(v)}
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.n.Content))
		for _, c := range v.n.Content {
			if c.Kind == yaml.ScalarNode && c.Tag == "!!null" {
				continue
			}
			if s, ok := p.scalar(value{c}); ok {
				out = append(out, strings.TrimSpace(s))
			}
		}
		return out
	default:
		p.fail(p.pathOf(v.n), v.n, "must be a list")
		return nil
	}
}
