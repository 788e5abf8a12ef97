// Package config loads the oktaguard CLI's YAML config file into the same
// Settings the Grafana plugin builds from its jsonData (DESIGN.md §3
// "Config file"). Environment variables written as ${NAME} (or
// ${NAME:-default}) are expanded in values, relative paths are taken from
// the config file's folder, durations are Go duration strings ("90s",
// "15m", "168h"), unknown keys are rejected with their key path, and no
// error ever echoes a secret.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/enrich"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/posture"
)

// Defaults of the non-Okta sections.
const (
	DefaultStoragePath     = "oktaguard.db"
	DefaultRetention       = 30 * 24 * time.Hour
	DefaultPostureProfile  = "baseline"
	DefaultPostureInterval = time.Hour
	MinPostureInterval     = time.Minute
	DefaultListen          = ":9842"
)

// IPListCategories are the accepted keys of ipLists.
var IPListCategories = []string{"anonymous", "suspicious", "risky", "trusted"}

// Settings is the whole configuration of one oktaguard instance.
type Settings struct {
	Okta okta.Config
	// OAuthPrivateKeyFile is the resolved path the key was read from
	// (empty when the key came inline or OAuth is not used).
	OAuthPrivateKeyFile string

	Storage   Storage
	GeoIP     GeoIP
	IPLists   map[string][]string // category -> IPs, CIDRs, ASNs or absolute file paths
	Detectors detect.Config
	Posture   Posture
	// Listen is the exporter's listen address (serve).
	Listen string
	// WebConfigFile is an optional exporter-toolkit web config (TLS, basic auth).
	WebConfigFile string
	// BaseDir is the config file's folder; relative paths are resolved against it.
	BaseDir string
}

// Storage is where events, alerts, posture reports and the checkpoint live.
type Storage struct {
	// Driver is the backend: "sqlite" (default: one embedded file per org)
	// or "postgres" (a shared database: many orgs, several instances in HA).
	Driver    string
	Path      string        // SQLite file
	Retention time.Duration // events older than this are pruned; 0 keeps everything
	// DSN is the PostgreSQL connection string or URL (driver postgres).
	// Keep the password out of it: Password or PasswordFile replace the DSN's.
	DSN string
	// Password of the PostgreSQL user, typically "${OKTAGUARD_PG_PASSWORD}"
	// (environment expansion); PasswordFile names a file holding it (a
	// mounted secret). Never printed.
	Password     string
	PasswordFile string
}

// Storage drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// String never prints the password (nor a password inside the DSN).
func (s Storage) String() string {
	pw := ""
	if s.Password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("{Driver:%s Path:%s Retention:%s DSN:%s Password:%s PasswordFile:%s}",
		s.Driver, s.Path, s.Retention, RedactDSN(s.DSN), pw, s.PasswordFile)
}

// RedactDSN masks a password in a URL or key=value DSN.
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
		return dsn
	}
	out := passwordKV.ReplaceAllString(dsn, "password=xxxxx")
	return out
}

var passwordKV = regexp.MustCompile(`password\s*=\s*('([^'\\]|\\.)*'|\S+)`)

// GeoIP names MaxMind-format databases (all optional).
type GeoIP struct {
	CityDB      string
	ASNDB       string
	AnonymousDB string
}

// Posture selects the posture profile and how often it is evaluated.
type Posture struct {
	Enabled  bool // default true
	Profile  string
	Interval time.Duration
}

// Defaults returns Settings with every default filled and no Okta org or
// credentials.
func Defaults() Settings {
	return Settings{
		Okta: okta.Config{}.WithDefaults(),
		Storage: Storage{
			Path:      DefaultStoragePath,
			Retention: DefaultRetention,
		},
		IPLists:   map[string][]string{},
		Detectors: detect.Config{},
		Posture:   Posture{Enabled: true, Profile: DefaultPostureProfile, Interval: DefaultPostureInterval},
		Listen:    DefaultListen,
	}
}

// String never prints secrets.
func (s Settings) String() string {
	return fmt.Sprintf("config.Settings{Okta:%s Storage:%+v GeoIP:%+v IPLists:%v Posture:%+v Listen:%q BaseDir:%q}",
		s.Okta, s.Storage, s.GeoIP, s.IPLists, s.Posture, s.Listen, s.BaseDir)
}

// GoString never prints secrets.
func (s Settings) GoString() string { return s.String() }

// EnrichConfig maps the geoip and ipLists sections onto enrich.Config.
func (s Settings) EnrichConfig() enrich.Config {
	lists := make(map[string][]string, len(s.IPLists))
	for k, v := range s.IPLists {
		lists[k] = append([]string(nil), v...)
	}
	return enrich.Config{
		CityDB:      s.GeoIP.CityDB,
		ASNDB:       s.GeoIP.ASNDB,
		AnonymousDB: s.GeoIP.AnonymousDB,
		Lists:       lists,
		BaseDir:     s.BaseDir,
	}
}

// Validate checks every section and returns all problems, each naming its
// key path. Secrets are never part of a message.
func (s Settings) Validate() error {
	var errs []error
	if err := s.Okta.WithDefaults().Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.validateLocal()...)
	return errors.Join(errs...)
}

// ValidateOffline is Validate without the okta section (for commands that
// never contact Okta, such as replay).
func (s Settings) ValidateOffline() error {
	return errors.Join(s.validateLocal()...)
}

func (s Settings) validateLocal() []error {
	var errs []error
	switch s.Storage.Driver {
	case "", DriverSQLite:
		if strings.TrimSpace(s.Storage.Path) == "" {
			errs = append(errs, errors.New("storage.path is empty"))
		}
	case DriverPostgres:
		if strings.TrimSpace(s.Storage.DSN) == "" {
			errs = append(errs, errors.New("storage.dsn is empty (driver postgres needs a PostgreSQL connection string or URL)"))
		}
		if s.Storage.Password != "" && s.Storage.PasswordFile != "" {
			errs = append(errs, errors.New("storage.password and storage.passwordFile are both set; keep one"))
		}
	default:
		errs = append(errs, fmt.Errorf("storage.driver %q is not sqlite or postgres", s.Storage.Driver))
	}
	if s.Storage.Retention < 0 {
		errs = append(errs, fmt.Errorf("storage.retention %s is negative (0 keeps everything)", s.Storage.Retention))
	}
	for key, p := range map[string]string{"geoip.cityDB": s.GeoIP.CityDB, "geoip.asnDB": s.GeoIP.ASNDB, "geoip.anonymousDB": s.GeoIP.AnonymousDB} {
		if p == "" {
			continue
		}
		if err := fileReadable(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	for cat, entries := range s.IPLists {
		if !validCategory(cat) {
			errs = append(errs, fmt.Errorf("ipLists.%s: unknown category (use %s)", cat, strings.Join(IPListCategories, ", ")))
			continue
		}
		for i, e := range entries {
			if strings.TrimSpace(e) == "" {
				errs = append(errs, fmt.Errorf("ipLists.%s[%d]: empty entry", cat, i))
				continue
			}
			if IsInlineListEntry(e) {
				continue
			}
			if err := fileReadable(e); err != nil {
				errs = append(errs, fmt.Errorf("ipLists.%s[%d]: not an IP, CIDR, range or ASN, and not a readable file: %w", cat, i, err))
			}
		}
	}
	if s.Detectors != nil {
		if err := s.Detectors.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("detectors: %w", err))
		}
	}
	if s.Posture.Profile != "" {
		if _, err := posture.ProfileByName(s.Posture.Profile); err != nil {
			errs = append(errs, fmt.Errorf("posture.profile: %w", err))
		}
	}
	if s.Posture.Interval != 0 && s.Posture.Interval < MinPostureInterval {
		errs = append(errs, fmt.Errorf("posture.interval %s is shorter than %s", s.Posture.Interval, MinPostureInterval))
	}
	if s.Listen != "" {
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen %q: want host:port or :port: %v", s.Listen, err))
		}
	}
	if s.WebConfigFile != "" {
		if err := fileReadable(s.WebConfigFile); err != nil {
			errs = append(errs, fmt.Errorf("webConfigFile: %w", err))
		}
	}
	return errs
}

func validCategory(c string) bool {
	for _, k := range IPListCategories {
		if c == k {
			return true
		}
	}
	return false
}

func fileReadable(p string) error {
	f, err := os.Open(p) // #nosec G304 -- checks a path the operator's config names, with the operator's rights
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	return nil
}

var asnRe = regexp.MustCompile(`^(?i:AS)?[0-9]{1,10}$`)

// IsInlineListEntry reports whether an ipLists entry is an inline value
// (IP, CIDR, start-end range, or ASN such as AS13335) rather than a file.
func IsInlineListEntry(e string) bool {
	e = strings.TrimSpace(e)
	if _, err := netip.ParseAddr(e); err == nil {
		return true
	}
	if _, err := netip.ParsePrefix(e); err == nil {
		return true
	}
	if lo, hi, ok := strings.Cut(e, "-"); ok {
		_, e1 := netip.ParseAddr(strings.TrimSpace(lo))
		_, e2 := netip.ParseAddr(strings.TrimSpace(hi))
		if e1 == nil && e2 == nil {
			return true
		}
	}
	return asnRe.MatchString(e)
}

// resolvePath makes p absolute against base ("" stays "").
func resolvePath(base, p string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		return ""
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	if filepath.IsAbs(p) || base == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}
