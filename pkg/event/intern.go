package event

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// internTable holds strings that repeat in almost every event (keys of the
// free-form maps, enum values, common event types). Decoding returns the
// shared copy instead of allocating a new string. The table is built once
// at package init and only read afterwards, so it is safe for concurrent use.
var internTable = func() map[string]string {
	words := []string{
		// enum values
		"DEBUG", "INFO", "WARN", "ERROR",
		"SUCCESS", "FAILURE", "SKIPPED", "ALLOW", "DENY", "CHALLENGE", "UNKNOWN",
		"User", "PublicClientApp", "SystemPrincipal", "AppInstance", "AppUser", "UserGroup",
		"Policy", "PolicyRule", "Rule", "Token", "Session", "Factor",
		"WEB", "JOB", "V4", "V6", "Computer", "Mobile", "Unknown", "null",
		"POSITIVE", "NEGATIVE", "BAD_REQUEST", "LOW", "MEDIUM", "HIGH", "true", "false", "0",
		"FIREFOX", "CHROME", "SAFARI", "EDGE", "UNKNOWN", "Mac OS X", "Windows 10", "Windows", "Linux", "iOS", "Android",
		"OKTA_AUTHENTICATION_PROVIDER", "ACTIVE_DIRECTORY", "FEDERATION", "SOCIAL",
		"OKTA_CREDENTIAL_PROVIDER", "PASSWORD", "OTP", "SMS", "EMAIL", "ASSERTION", "IWA", "JWT", "OAUTH2",
		"INVALID_CREDENTIALS", "VERIFICATION_ERROR", "LOCKED_OUT", "system@okta.com", "Okta System",
		// debugData / detail keys
		"requestId", "requestUri", "url", "threatSuspected", "authnRequestId", "deviceFingerprint", "dtHash",
		"behaviors", "risk", "logOnlySecurityData", "tunnels", "factor", "grantType", "grantedScopes",
		"requestedScopes", "clientAuthType", "clientSecret", "responseTime", "promptingPolicyTypes",
		"oktaUserAgentExtended", "originalPrincipal", "signOnMode", "initiationType", "redirectUri",
		"requestApiTokenId", "id", "type", "alternateId", "displayName", "detailEntry",
		"anonymous", "operator", "level", "reasons",
		"New Geo-Location", "New Device", "New IP", "New State", "New Country", "Velocity", "New City",
		"Velocity Behavior",
		// common event types
		"user.session.start", "user.session.end", "user.authentication.sso", "user.authentication.verify",
		"user.authentication.auth_via_mfa", "user.authentication.auth_via_IDP", "user.authentication.authenticate",
		"policy.evaluate_sign_on", "user.account.lock", "system.push.send_factor_verify_push",
		"user.mfa.okta_verify.deny_push", "app.oauth2.signon", "user.session.access_admin_app",
		"user.account.update_password", "user.account.reset_password", "user.lifecycle.create",
		"user.lifecycle.deactivate", "group.user_membership.add", "group.user_membership.remove",
		"application.user_membership.add", "security.threat.detected", "user.mfa.factor.activate",
		"user.mfa.factor.deactivate", "user.mfa.factor.reset_all", "system.api_token.create",
		"core.user_auth.login_success", "core.user_auth.login_failed", "core.user_auth.logout_success",
		"core.user.factor.attempt_success", "core.user.factor.attempt_fail", "app.auth.sso",
		"United States", "Germany", "France", "United Kingdom", "Canada", "India", "Japan", "Australia",
		"Netherlands", "Ireland", "Brazil", "Spain", "Italy",
	}
	m := make(map[string]string, len(words))
	for _, w := range words {
		m[w] = w
	}
	return m
}()

// internIndex is internTable as a small hash table with a cheap hash, so
// that the common miss costs a few nanoseconds rather than a map lookup.
// Each word is also kept boxed in an interface: storing a string in an any
// (the values of the generic maps) allocates its header otherwise.
var internIndex = func() (t [internSlots][]internEntry) {
	for w := range internTable {
		h := internHash([]byte(w))
		t[h] = append(t[h], internEntry{w, w})
	}
	return t
}()

type internEntry struct {
	s string
	v any // s, boxed
}

const internSlots = 1024

func internHash(b []byte) uint32 {
	n := len(b)
	return (uint32(n)*2654435761 ^ uint32(b[0])*40503 ^ uint32(b[n-1])*9973 ^ uint32(b[n/2])*31) % internSlots // #nosec G115 -- a hash: wrapping is intended
}

// lookupIntern returns the shared entry for b, or nil. b is not empty.
func lookupIntern(b []byte) *internEntry {
	if len(b) > 40 {
		return nil
	}
	slot := internIndex[internHash(b)]
	for i := range slot {
		if slot[i].s == string(b) {
			return &slot[i]
		}
	}
	return nil
}

// strCacheSlots is the size of a Reader's string cache. A month of exports
// from a few hundred users has some thousands of distinct recurring values;
// fewer slots let the per-event unique values (request ids, session ids)
// evict them before they recur.
const (
	strCacheBits  = 14
	strCacheSlots = 1 << strCacheBits
)

// maxCached bounds the strings a strCache keeps: longer ones rarely recur,
// and hashing and comparing them costs more than it saves.
const maxCached = 256

// strCache remembers recently decoded strings, so that the values that
// recur from event to event (logins, names, IPs, user agents, app names,
// cities) are allocated once per Reader instead of once per event. It is
// direct-mapped: a colliding string replaces the slot's occupant. Strings
// are exact-size copies, never substrings of an event's JSON, so keeping
// one (say, as a map key) does not keep anything else alive.
//
// Almost every lookup hits (a month of generated traffic: 57 lookups per
// event, 3% misses) and two thirds are of strings of at most 16 bytes
// (keys, enum values, IPs): a slot keeps such a string's bytes inline, so
// that the lookup hashes two machine words and compares them with the
// slot's, without reading the string itself from elsewhere in memory.
type strCache struct {
	seed  maphash.Seed // hash of strings longer than 16 bytes
	key   uint64       // random key of the short strings' hash
	slots [strCacheSlots]cacheSlot
	boxed [strCacheSlots]any // slots[i].s boxed, filled on first use as an any
	memo  *memos             // the Reader's decoded sub-objects (memo.go)
	// parsed debugData.behaviors strings (debug.go)
	behavior [behaviorSlots]behaviorSlot
}

// cacheSlot is one string of a strCache. For a string of up to 16 bytes,
// w0 and w1 hold its bytes (little-endian, zero-padded).
type cacheSlot struct {
	w0, w1 uint64
	s      string
}

func newStrCache() *strCache {
	seed := maphash.MakeSeed()
	return &strCache{seed: seed, key: maphash.String(seed, "strCache"), memo: newMemos(seed)}
}

// shortWords returns the bytes of b (at most 16) as two little-endian
// words, zero-padded.
func shortWords(b []byte) (w0, w1 uint64) {
	n := len(b)
	if n < 8 {
		for i := n - 1; i >= 0; i-- {
			w0 = w0<<8 | uint64(b[i])
		}
		return w0, 0
	}
	w0 = binary.LittleEndian.Uint64(b)
	if n > 8 {
		// the last 8 bytes, shifted so that b[8] is the lowest byte
		w1 = binary.LittleEndian.Uint64(b[n-8:]) >> (8 * (16 - n))
	}
	return w0, w1
}

// lookup returns the index of the slot holding b (1 to maxCached bytes),
// filling the slot when b is not there.
func (c *strCache) lookup(b []byte) int {
	n := len(b)
	if n <= 16 {
		w0, w1 := shortWords(b)
		h := bits.RotateLeft64((w0^c.key)*0x9e3779b97f4a7c15, 31) ^ (w1+uint64(n))*0xc2b2ae3d27d4eb4f
		i := int((h * 0xbf58476d1ce4e5b9) >> (64 - strCacheBits))
		e := &c.slots[i]
		if len(e.s) != n || e.w0 != w0 || e.w1 != w1 {
			*e = cacheSlot{w0: w0, w1: w1, s: string(b)}
			c.boxed[i] = nil
		}
		return i
	}
	i := int(maphash.Bytes(c.seed, b) & (strCacheSlots - 1))
	e := &c.slots[i]
	if e.s != string(b) {
		*e = cacheSlot{s: string(b)}
		c.boxed[i] = nil
	}
	return i
}

// intern returns b as a string, sharing a common copy when one exists in
// c (which may be nil) or the intern table. The cache is asked first and
// alone: it soon holds the table's words that occur, and one lookup is
// cheaper than two.
func intern(b []byte, c *strCache) string {
	switch {
	case len(b) == 0:
		return ""
	case c != nil && len(b) <= maxCached:
		return c.slots[c.lookup(b)].s
	}
	if e := lookupIntern(b); e != nil {
		return e.s
	}
	return string(b)
}

// internAny is intern for a value stored in an any, sharing the boxed copy too.
func internAny(b []byte, c *strCache) any {
	switch {
	case len(b) == 0:
		return ""
	case c != nil && len(b) <= maxCached:
		i := c.lookup(b)
		if c.boxed[i] == nil {
			c.boxed[i] = c.slots[i].s
		}
		return c.boxed[i]
	}
	if e := lookupIntern(b); e != nil {
		return e.v
	}
	return string(b)
}
