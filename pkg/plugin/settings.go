package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/okta"
)

// Settings are one data source's settings: jsonData plus decrypted
// secureJsonData (contract names of DESIGN.md "Plugin settings").
type Settings struct {
	UID  string
	Name string

	OrgURL         string
	AuthType       string // apiToken | oauth
	ClientID       string
	KeyID          string // kid of the service app's key, for apps with several keys
	Scopes         []string
	Backfill       time.Duration
	PollInterval   time.Duration
	RateLimitShare float64
	IPLists        map[string][]string
	GeoIPCityDB    string
	GeoIPASNDB     string
	// GeoIPAnonymousDB is a GeoIP2 Anonymous-IP database (the CLI's
	// geoip.anonymousDB): anonymizer flags (VPN, Tor, hosting, proxy).
	GeoIPAnonymousDB string
	Detectors        json.RawMessage
	PostureProfile   string
	StoragePath      string
	// StorageDriver is "sqlite" (default: one file per data source under
	// StoragePath) or "postgres" (StorageDSN, shared by every Grafana
	// replica; the password comes from secureJsonData.storagePassword).
	StorageDriver   string
	StorageDSN      string
	StoragePassword string // secureJsonData.storagePassword
	// Demo runs an in-process Okta simulator with a labelled attack
	// scenario instead of connecting to a real org (docker-compose demo).
	Demo bool

	APIToken   string // secureJsonData.apiToken
	PrivateKey string // secureJsonData.privateKey (PEM)
}

// jsonData is the wire form; numbers may arrive as strings from older
// provisioning files, scopes as a list or a space/comma separated string.
type jsonData struct {
	OrgURL         string              `json:"orgUrl"`
	AuthType       string              `json:"authType"`
	ClientID       string              `json:"clientId"`
	KeyID          string              `json:"keyId"`
	Scopes         flexStrings         `json:"scopes"`
	Backfill       string              `json:"backfill"`
	PollInterval   string              `json:"pollInterval"`
	RateLimitShare flexFloat           `json:"rateLimitShare"`
	IPLists        map[string][]string `json:"ipLists"`
	GeoIPCityDB    string              `json:"geoipCityDB"`
	GeoIPASNDB     string              `json:"geoipAsnDB"`
	GeoIPAnonDB    string              `json:"geoipAnonymousDB"`
	Detectors      json.RawMessage     `json:"detectors"`
	PostureProfile string              `json:"postureProfile"`
	StoragePath    string              `json:"storagePath"`
	StorageDriver  string              `json:"storageDriver"`
	StorageDSN     string              `json:"storageDsn"`
	Demo           bool                `json:"demo"`
}

type flexStrings []string

func (f *flexStrings) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*f = list
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("must be a list of strings or a space-separated string")
	}
	*f = strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	return nil
}

type flexFloat struct {
	set bool
	v   float64
}

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		var s string
		if err2 := json.Unmarshal(b, &s); err2 != nil {
			return errors.New("must be a number")
		}
		if strings.TrimSpace(s) == "" {
			return nil
		}
		v, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("must be a number, got %q", s)
		}
	}
	f.set, f.v = true, v
	return nil
}

// Defaults (DESIGN.md and okta-ingest.md).
const (
	DefaultBackfill       = 168 * time.Hour
	DefaultPollInterval   = 30 * time.Second
	MinPollInterval       = 5 * time.Second
	DefaultRateLimitShare = 0.5
)

// configFields maps the config file's key paths to this data source's
// jsonData fields (secureJsonData for the password), for the problems of
// the shared validation.
var configFields = []struct{ key, field string }{
	{"storage.driver", "storageDriver"},
	{"storage.dsn", "storageDsn"},
	{"storage.password", "storagePassword"},
	{"storage.path", "storagePath"},
	{"geoip.cityDB", "geoipCityDB"},
	{"geoip.asnDB", "geoipAsnDB"},
	{"geoip.anonymousDB", "geoipAnonymousDB"},
	{"posture.profile", "postureProfile"},
}

// pluginFieldNames renames the key path that starts each problem of
// config.Settings validation to the data source's field.
func pluginFieldNames(err error) []error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		msg := e.Error()
		for _, f := range configFields {
			if strings.HasPrefix(msg, f.key) {
				msg = f.field + msg[len(f.key):]
				break
			}
		}
		out = append(out, errors.New(msg))
	}
	return out
}

var uidRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// LoadSettings parses and validates a data source's settings. Errors are
// precise (they name the field) and never contain a secret.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var jd jsonData
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &jd); err != nil {
			return Settings{}, fmt.Errorf("settings: jsonData is not valid: %w", err)
		}
	}
	out := Settings{
		UID:              s.UID,
		Name:             s.Name,
		OrgURL:           strings.TrimSpace(jd.OrgURL),
		AuthType:         strings.TrimSpace(jd.AuthType),
		ClientID:         strings.TrimSpace(jd.ClientID),
		KeyID:            strings.TrimSpace(jd.KeyID),
		Scopes:           jd.Scopes,
		IPLists:          jd.IPLists,
		GeoIPCityDB:      strings.TrimSpace(jd.GeoIPCityDB),
		GeoIPASNDB:       strings.TrimSpace(jd.GeoIPASNDB),
		GeoIPAnonymousDB: strings.TrimSpace(jd.GeoIPAnonDB),
		Detectors:        jd.Detectors,
		PostureProfile:   strings.TrimSpace(jd.PostureProfile),
		StoragePath:      strings.TrimSpace(jd.StoragePath),
		StorageDriver:    strings.ToLower(strings.TrimSpace(jd.StorageDriver)),
		StorageDSN:       strings.TrimSpace(jd.StorageDSN),
		StoragePassword:  s.DecryptedSecureJSONData["storagePassword"],
		Demo:             jd.Demo,
		APIToken:         strings.TrimSpace(s.DecryptedSecureJSONData["apiToken"]),
		PrivateKey:       s.DecryptedSecureJSONData["privateKey"],
		Backfill:         DefaultBackfill,
		PollInterval:     DefaultPollInterval,
		RateLimitShare:   DefaultRateLimitShare,
	}
	var errs []error
	if out.UID == "" || !uidRe.MatchString(out.UID) {
		errs = append(errs, fmt.Errorf("data source uid %q is not usable as a storage key (letters, digits, - and _ only)", out.UID))
	}
	if out.AuthType == "" {
		out.AuthType = "apiToken"
	}
	if jd.Backfill != "" {
		d, err := time.ParseDuration(jd.Backfill)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("backfill %q is not a duration (examples: 24h, 168h)", jd.Backfill))
		case d <= 0 || d > okta.MaxBackfill:
			errs = append(errs, fmt.Errorf("backfill %s is out of range: Okta keeps 90 days, so use a value in (0, 2160h]", jd.Backfill))
		default:
			out.Backfill = d
		}
	}
	if jd.PollInterval != "" {
		d, err := time.ParseDuration(jd.PollInterval)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("pollInterval %q is not a duration (example: 30s)", jd.PollInterval))
		case d < MinPollInterval || d > time.Hour:
			errs = append(errs, fmt.Errorf("pollInterval %s is out of range [5s, 1h]", jd.PollInterval))
		default:
			out.PollInterval = d
		}
	}
	if jd.RateLimitShare.set {
		if v := jd.RateLimitShare.v; v <= 0 || v > 1 {
			errs = append(errs, fmt.Errorf("rateLimitShare %v is out of range (0, 1]: it is the share of the org's System Log rate limit this data source may use", v))
		} else {
			out.RateLimitShare = v
		}
	}
	if out.PostureProfile == "" {
		out.PostureProfile = config.DefaultPostureProfile
	}
	if !out.Demo {
		if out.OrgURL == "" {
			errs = append(errs, errors.New("orgUrl is required (your Okta domain, e.g. https://example.okta.com)"))
		}
		switch out.AuthType {
		case "apiToken":
			if out.APIToken == "" {
				errs = append(errs, errors.New("authType apiToken needs an API token in the secure settings"))
			}
		case "oauth":
			if out.ClientID == "" {
				errs = append(errs, errors.New("authType oauth needs clientId (the OAuth 2.0 service app's client id)"))
			}
			if strings.ContainsFunc(out.KeyID, unicode.IsSpace) {
				errs = append(errs, fmt.Errorf("keyId %q contains whitespace: use the key's kid exactly as the service app's Public keys list shows it", out.KeyID))
			}
			if strings.TrimSpace(out.PrivateKey) == "" {
				errs = append(errs, errors.New("authType oauth needs a private key (PEM, RSA) in the secure settings"))
			}
		default:
			errs = append(errs, fmt.Errorf("authType %q is unknown (use apiToken or oauth)", out.AuthType))
		}
	}
	if out.StoragePath == "" {
		out.StoragePath = defaultStorageDir()
	}
	if out.StorageDriver == "" {
		out.StorageDriver = config.DriverSQLite
	}
	if len(jd.Detectors) > 0 {
		// every detector problem at once, each with its key path (a bad
		// rearm does not hide a bad sensitivity)
		if _, err := config.ParseDetectors(jd.Detectors); err != nil {
			errs = append(errs, err)
		}
	}
	// The settings shared with the CLI's config file (storage, GeoIP
	// databases, IP lists, posture profile) by the config file's rules,
	// reported under this data source's field names. Detectors were
	// checked above.
	shared := out
	shared.Detectors = nil
	if cs, err := shared.toConfig(); err == nil {
		errs = append(errs, pluginFieldNames(cs.ValidateOffline())...)
	}
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("invalid data source settings: %w", errors.Join(errs...))
	}
	return out, nil
}

// DBPath is the SQLite file of this data source: one per UID, so a
// replaced instance resumes from the same file.
func (s Settings) DBPath() string {
	return filepath.Join(s.StoragePath, "oktaguard-"+s.UID+".db")
}

// defaultStorageDir picks a writable folder: Grafana's data path when the
// plugin gets it, else the user cache dir, else the temp dir.
func defaultStorageDir() string {
	if d := os.Getenv("GF_PATHS_DATA"); d != "" {
		return filepath.Join(d, "plugins-data", "oktaguard")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "oktaguard")
	}
	return filepath.Join(os.TempDir(), "oktaguard")
}
