// Package event holds the normalized Okta System Log event and its decoders.
//
// An Event is one Okta LogEvent (GET /api/v1/logs) decoded into typed fields,
// with the string-encoded debugData fields parsed and the original JSON kept
// in Raw for drill-down and export.
package event

import (
	"encoding/json"
	"time"
)

// Event is one normalized Okta System Log event.
//
// Every string in an Event (fields and map keys and values) is its own
// allocation or a shared interned constant; none is a slice of Raw or of
// the decoder's input, so whoever keeps one (detector state for 30 days)
// keeps only that string. (Debug keeps debugData's JSON as a slice of Raw,
// unexported: the values Debug.Value returns are copies.)
type Event struct {
	UUID            string    // unique per event; the dedup key
	Published       time.Time // event time (UTC)
	EventType       string
	Version         string
	Severity        string // DEBUG INFO WARN ERROR
	LegacyEventType string
	DisplayMessage  string

	Actor       Actor
	Client      Client
	Device      *Device // top-level Okta Verify device (newer events); nil when absent
	Outcome     Outcome
	Targets     []Target // nil when Okta sent "target": null
	Transaction Transaction
	Debug       Debug
	Auth        AuthContext
	Security    SecurityContext
	IPChain     []IPChainEntry // request.ipChain

	// IP is filled by pkg/enrich (zero value when not enriched): categories
	// from the configured IP lists, ASN and anonymizer flags from GeoIP.
	IP IPInfo

	// Degraded lists the paths of optional fields that had an unexpected
	// type ("" or a JSON string where an object belongs, ...) and were
	// treated as absent (nil for a clean event). Callers count such events
	// as degraded.
	Degraded []string

	// Raw is the event's original JSON exactly as received.
	Raw json.RawMessage
}

// Actor is who performed the action.
type Actor struct {
	ID          string
	Type        string // User, PublicClientApp, SystemPrincipal, ...
	AlternateID string // login, e.g. user@example.com
	DisplayName string
	Detail      map[string]any
}

// Client is where the request came from.
type Client struct {
	UserAgent UserAgent
	Zone      string // network zone name; "" when Okta sent null or the string "null"
	Device    string // Computer, Mobile, ...
	ID        string // OAuth client id
	IPAddress string
	Geo       Geo
}

// UserAgent as Okta parses it.
type UserAgent struct {
	Raw     string
	OS      string
	Browser string
}

// Geo is a geographical context (Okta's own, or filled by enrichment).
type Geo struct {
	City       string
	State      string
	Country    string // full name as Okta writes it, e.g. "United States"
	PostalCode string
	Lat, Lon   float64
	HasLatLon  bool
}

// Device is the top-level Okta Verify device of newer events.
type Device struct {
	ID         string
	Name       string
	OSPlatform string
	OSVersion  string
	Managed    bool
	Registered bool
}

// Outcome of the action.
type Outcome struct {
	Result string // SUCCESS FAILURE SKIPPED ALLOW DENY CHALLENGE UNKNOWN
	Reason string
}

// Target is one object acted upon.
type Target struct {
	ID            string
	Type          string
	AlternateID   string
	DisplayName   string
	Detail        map[string]any
	ChangeDetails *ChangeDetails // nil when absent
}

// ChangeDetails holds before/after values of a changed target.
type ChangeDetails struct {
	From map[string]any
	To   map[string]any
}

// Transaction groups the events of one request or job.
type Transaction struct {
	ID     string
	Type   string // WEB, JOB
	Detail map[string]any
}

// Debug is debugContext.debugData with its string-encoded fields parsed.
// debugData itself (values mostly strings) is read with Value and Data: a
// decoded event keeps it as its JSON (a slice of Event.Raw) and decodes it
// on demand, since detectors read a few keys of a few event types.
type Debug struct {
	raw       []byte         // debugData's JSON object; nil when absent
	plainKeys bool           // every key of raw is written as is (ASCII, no escapes)
	keyBits   uint64         // with plainKeys: keyBit of each member's lower-cased key
	data      map[string]any // debugData set with SetData; nil when absent

	Behaviors         map[string]string // "{New IP=POSITIVE, ...}" parsed: "New IP" -> "POSITIVE"
	RiskLevel         string            // from "{level=HIGH, reasons=...}" or logOnlySecurityData
	RiskReasons       string
	ThreatSuspected   bool
	Tunnels           []Tunnel
	LogOnlySecurity   map[string]any // logOnlySecurityData JSON string parsed
	RequestURI        string
	URL               string
	DeviceFingerprint string
	DTHash            string
	RequestAPITokenID string // transaction.detail.requestApiTokenId, copied here for convenience
}

// Tunnel is one entry of debugData.tunnels.
type Tunnel struct {
	Anonymous bool
	Operator  string
	Type      string // VPN, PROXY, TOR, ...
}

// AuthContext is authenticationContext.
type AuthContext struct {
	AuthenticationProvider string
	CredentialProvider     string
	CredentialType         string
	IssuerID               string
	IssuerType             string
	ExternalSessionID      string
	RootSessionID          string
	Interface              string
}

// SecurityContext is securityContext.
type SecurityContext struct {
	ASNumber int
	ASOrg    string
	ISP      string
	Domain   string
	IsProxy  bool
}

// IPChainEntry is one hop of request.ipChain.
type IPChainEntry struct {
	IP      string
	Version string
	Source  string
	Geo     Geo
}

// IPCategory is a bit set of the IP-list categories of DESIGN.md.
type IPCategory uint8

// IP-list categories (config keys anonymous, suspicious, risky, trusted).
const (
	CatAnonymous IPCategory = 1 << iota
	CatSuspicious
	CatRisky
	CatTrusted
)

// Has reports whether every bit of x is set in c.
func (c IPCategory) Has(x IPCategory) bool { return c&x == x && x != 0 }

// IPInfo is what enrichment learned about the client IP.
type IPInfo struct {
	Enriched   bool
	Categories IPCategory
	GeoSource  string // "okta" when Okta sent geo, "geoip" when filled from the City DB, "" when unknown
	CountryISO string // ISO 3166-1 alpha-2 when known (GeoIP), else ""
	ASN        int    // from securityContext.asNumber, else the ASN DB
	ASOrg      string
	// Flags from an Anonymous-IP database or Okta's own signals.
	Tor, AnonymousVPN, HostingProvider, PublicProxy, ResidentialProxy, PrivateRelay bool
}
