package traffic

import (
	"net/netip"
	"strconv"
	"time"
)

// UA is a parsed user agent as Okta reports it.
type UA struct {
	Raw     string
	OS      string
	Browser string
	Device  string // client.device: Computer, Mobile, Unknown
}

// actorRef is an event actor.
type actorRef struct {
	ID, Type, AltID, Name string
	Detail                [][2]string // nil => null
}

// targetRef is one element of target[].
type targetRef struct {
	ID, Type, AltID, Name string
	Detail                [][2]string // nil => null
	Change                string      // raw JSON object for changeDetails, "" => absent
}

// verifyDevice is the top-level Okta Verify device.
type verifyDevice struct {
	ID, Name, Platform, Version string
	Managed                     bool
}

// ev is one event before rendering.
type ev struct {
	t      time.Time
	uuid   string
	typ    string
	legacy string // "" => null
	msg    string
	sev    string

	actor actorRef

	job      bool // JOB transaction: client is all nulls, ipChain empty
	ip       netip.Addr
	net      *Network
	ua       *UA
	zone     string // "" => from network
	clientID string // "" => null

	device *verifyDevice

	sess                                string // externalSessionId, "" => null... we always set "unknown" for none
	root                                string // rootSessionId, "" => absent
	authProv, credProv, credType, iface string

	result, reason string

	targets []targetRef // nil => null

	txID, txType string
	apiToken     string

	reqURI, url string
	threat      string // "false"/"true"; "" omits
	behaviors   string
	risk        string
	logOnly     string // JSON string content
	dtHash      string
	fingerprint string
	tunnels     string
	extra       [][2]string
	noSecurity  bool // securityContext all nulls
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendNullableString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

func appendKV(b []byte, kv [][2]string) []byte {
	if kv == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, p := range kv {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p[0])
		b = append(b, ':')
		b = appendJSONString(b, p[1])
	}
	return append(b, '}')
}

func appendGeo(b []byte, c *City, postal bool) []byte {
	b = append(b, `{"city":`...)
	b = appendJSONString(b, c.Name)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, c.State)
	b = append(b, `,"country":`...)
	b = appendJSONString(b, c.Country)
	b = append(b, `,"postalCode":`...)
	if postal {
		b = appendJSONString(b, c.PostalCode)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"geolocation":{"lat":`...)
	b = strconv.AppendFloat(b, c.Lat, 'f', -1, 64)
	b = append(b, `,"lon":`...)
	b = strconv.AppendFloat(b, c.Lon, 'f', -1, 64)
	return append(b, "}}"...)
}

// render appends the event's Okta LogEvent JSON (field order as the API returns it).
func (e *ev) render(b []byte) []byte {
	b = append(b, `{"actor":{"id":`...)
	b = appendJSONString(b, e.actor.ID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, e.actor.Type)
	b = append(b, `,"alternateId":`...)
	b = appendJSONString(b, e.actor.AltID)
	b = append(b, `,"displayName":`...)
	b = appendJSONString(b, e.actor.Name)
	b = append(b, `,"detailEntry":`...)
	b = appendKV(b, e.actor.Detail)

	// client
	if e.job || e.net == nil {
		b = append(b, `},"client":{"userAgent":null,"zone":null,"device":null,"id":`...)
		b = appendNullableString(b, e.clientID)
		b = append(b, `,"ipAddress":null,"geographicalContext":null}`...)
	} else {
		b = append(b, `},"client":{"userAgent":{"rawUserAgent":`...)
		b = appendJSONString(b, e.ua.Raw)
		b = append(b, `,"os":`...)
		b = appendJSONString(b, e.ua.OS)
		b = append(b, `,"browser":`...)
		b = appendJSONString(b, e.ua.Browser)
		b = append(b, `},"zone":`...)
		z := e.zone
		if z == "" {
			z = e.net.Zone
		}
		b = appendJSONString(b, z)
		b = append(b, `,"device":`...)
		b = appendJSONString(b, e.ua.Device)
		b = append(b, `,"id":`...)
		b = appendNullableString(b, e.clientID)
		b = append(b, `,"ipAddress":`...)
		b = appendJSONString(b, e.ip.String())
		b = append(b, `,"geographicalContext":`...)
		b = appendGeo(b, &e.net.City, true)
		b = append(b, '}')
	}

	// top-level device
	b = append(b, `,"device":`...)
	if d := e.device; d != nil {
		b = append(b, `{"id":`...)
		b = appendJSONString(b, d.ID)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, d.Name)
		b = append(b, `,"os_platform":`...)
		b = appendJSONString(b, d.Platform)
		b = append(b, `,"os_version":`...)
		b = appendJSONString(b, d.Version)
		b = append(b, `,"managed":`...)
		b = strconv.AppendBool(b, d.Managed)
		b = append(b, `,"registered":true,"device_integrator":null,"disk_encryption_type":"ALL_INTERNAL_VOLUMES","screen_lock_type":"BIOMETRIC","jailbreak":false,"secure_hardware_present":true}`...)
	} else {
		b = append(b, "null"...)
	}

	// authenticationContext
	b = append(b, `,"authenticationContext":{"authenticationProvider":`...)
	b = appendNullableString(b, e.authProv)
	b = append(b, `,"credentialProvider":`...)
	b = appendNullableString(b, e.credProv)
	b = append(b, `,"credentialType":`...)
	b = appendNullableString(b, e.credType)
	b = append(b, `,"issuer":null,"interface":`...)
	b = appendNullableString(b, e.iface)
	b = append(b, `,"authenticationStep":0`...)
	if e.root != "" {
		b = append(b, `,"rootSessionId":`...)
		b = appendJSONString(b, e.root)
	}
	b = append(b, `,"externalSessionId":`...)
	b = appendNullableString(b, e.sess)
	b = append(b, `},"displayMessage":`...)
	b = appendJSONString(b, e.msg)
	b = append(b, `,"eventType":`...)
	b = appendJSONString(b, e.typ)
	b = append(b, `,"outcome":{"result":`...)
	b = appendJSONString(b, e.result)
	b = append(b, `,"reason":`...)
	b = appendNullableString(b, e.reason)
	b = append(b, `},"published":"`...)
	b = e.t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")

	// securityContext
	b = append(b, `","securityContext":`...)
	if e.noSecurity || e.job || e.net == nil {
		b = append(b, `{"asNumber":null,"asOrg":null,"isp":null,"domain":null,"isProxy":null}`...)
	} else {
		n := e.net
		b = append(b, `{"asNumber":`...)
		b = strconv.AppendInt(b, int64(n.ASN), 10)
		b = append(b, `,"asOrg":`...)
		b = appendJSONString(b, n.ASOrg)
		b = append(b, `,"isp":`...)
		b = appendJSONString(b, n.ISP)
		b = append(b, `,"domain":`...)
		b = appendJSONString(b, n.Domain)
		b = append(b, `,"isProxy":`...)
		b = strconv.AppendBool(b, n.Anonymous)
		b = append(b, '}')
	}
	b = append(b, `,"severity":`...)
	b = appendJSONString(b, e.sev)

	// debugContext
	b = append(b, `,"debugContext":{"debugData":{`...)
	first := true
	kv := func(k, v string) {
		if v == "" {
			return
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	kv("requestId", e.txID)
	kv("requestUri", e.reqURI)
	kv("url", e.url)
	kv("threatSuspected", e.threat)
	kv("behaviors", e.behaviors)
	kv("risk", e.risk)
	kv("logOnlySecurityData", e.logOnly)
	kv("dtHash", e.dtHash)
	kv("deviceFingerprint", e.fingerprint)
	kv("tunnels", e.tunnels)
	for _, p := range e.extra {
		kv(p[0], p[1])
	}
	b = append(b, `}},"legacyEventType":`...)
	b = appendNullableString(b, e.legacy)

	// transaction
	b = append(b, `,"transaction":{"type":`...)
	b = appendJSONString(b, e.txType)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, e.txID)
	b = append(b, `,"detail":{`...)
	if e.apiToken != "" {
		b = append(b, `"requestApiTokenId":`...)
		b = appendJSONString(b, e.apiToken)
	}
	b = append(b, `}},"uuid":`...)
	b = appendJSONString(b, e.uuid)
	b = append(b, `,"version":"0","request":{"ipChain":[`...)
	if !e.job && e.net != nil {
		b = append(b, `{"ip":`...)
		b = appendJSONString(b, e.ip.String())
		b = append(b, `,"geographicalContext":`...)
		b = appendGeo(b, &e.net.City, false)
		b = append(b, `,"version":`...)
		if e.ip.Is6() {
			b = append(b, `"V6"`...)
		} else {
			b = append(b, `"V4"`...)
		}
		b = append(b, `,"source":null}`...)
	}
	b = append(b, `]},"target":`...)
	if e.targets == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range e.targets {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendJSONString(b, t.ID)
			b = append(b, `,"type":`...)
			b = appendJSONString(b, t.Type)
			b = append(b, `,"alternateId":`...)
			b = appendJSONString(b, t.AltID)
			b = append(b, `,"displayName":`...)
			b = appendJSONString(b, t.Name)
			b = append(b, `,"detailEntry":`...)
			b = appendKV(b, t.Detail)
			if t.Change != "" {
				b = append(b, `,"changeDetails":`...)
				b = append(b, t.Change...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
