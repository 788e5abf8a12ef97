package event

import (
	"hash/maphash"
	"maps"
	"strings"
)

// parseDebugData fills the typed fields of dbg from m, debugData as a map
// (keys match case-insensitively), sharing strings through cache (nil for
// none). Nothing here fails: a value that cannot be parsed leaves its
// typed field empty.
func parseDebugData(dbg *Debug, m map[string]any, cache *strCache) {
	var los any
	var kb [32]byte
	for k, v := range m {
		debugField(dbg, lowerASCII(kb[:0], k), v, &los, cache)
	}
	debugFinish(dbg, los, cache)
}

// debugTyped reports whether the lower-cased debugData key lk fills a
// typed field of Debug (the decoder decodes only those values).
func debugTyped(lk []byte) bool {
	switch string(lk) {
	case "behaviors", "risk", "threatsuspected", "tunnels", "logonlysecuritydata",
		"requesturi", "url", "devicefingerprint", "dthash", "requestapitokenid":
		return true
	}
	return false
}

// debugField fills the typed field of the debugData member lk (its key,
// lower-cased) with value v; logOnlySecurityData is kept in *los for
// debugFinish. cache (nil for none) remembers parsed behaviours.
func debugField(dbg *Debug, lk []byte, v any, los *any, cache *strCache) {
	switch string(lk) {
	case "behaviors":
		switch x := v.(type) {
		case string:
			dbg.Behaviors = cache.behaviors(x)
		case map[string]any:
			dbg.Behaviors = stringMap(x)
		case []any:
			// some exporters split Okta's "{New IP=POSITIVE, ...}" string
			// into a list of "New IP=POSITIVE" items
			dbg.Behaviors = behaviorList(x)
		}
	case "risk":
		switch x := v.(type) {
		case string:
			dbg.RiskLevel, dbg.RiskReasons = ParseRisk(x)
		case map[string]any:
			dbg.RiskLevel, dbg.RiskReasons = riskFromMap(x)
		}
	case "threatsuspected":
		switch x := v.(type) {
		case string:
			dbg.ThreatSuspected = strings.EqualFold(strings.TrimSpace(x), "true")
		case bool:
			dbg.ThreatSuspected = x
		}
	case "tunnels":
		dbg.Tunnels = ParseTunnels(v)
	case "logonlysecuritydata":
		*los = v
	case "requesturi":
		dbg.RequestURI, _ = v.(string)
	case "url":
		dbg.URL, _ = v.(string)
	case "devicefingerprint":
		dbg.DeviceFingerprint, _ = v.(string)
	case "dthash":
		dbg.DTHash, _ = v.(string)
	case "requestapitokenid":
		dbg.RequestAPITokenID, _ = v.(string)
	}
}

// debugFinish parses logOnlySecurityData (los, nil when absent) and takes
// the risk and behaviours from it when debugData had none.
func debugFinish(dbg *Debug, los any, cache *strCache) {
	if los == nil {
		return
	}
	var m map[string]any
	switch x := los.(type) {
	case string:
		m = parseJSONObject(x, cache)
	case map[string]any:
		m = x
	}
	if m == nil {
		return
	}
	dbg.LogOnlySecurity = m
	if dbg.RiskLevel == "" && dbg.RiskReasons == "" {
		if r, ok := lookupFold(m, "risk").(map[string]any); ok {
			dbg.RiskLevel, dbg.RiskReasons = riskFromMap(r)
		}
	}
	if dbg.Behaviors == nil {
		if b, ok := lookupFold(m, "behaviors").(map[string]any); ok {
			dbg.Behaviors = stringMap(b)
		}
	}
}

func lowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// lookupFold returns m[key], matching the key case-insensitively.
func lookupFold(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func stringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			if x {
				out[k] = "true"
			} else {
				out[k] = "false"
			}
		}
	}
	return out
}

func riskFromMap(m map[string]any) (level, reasons string) {
	level, _ = lookupFold(m, "level").(string)
	reasons, _ = lookupFold(m, "reasons").(string)
	return strings.TrimSpace(level), strings.TrimSpace(reasons)
}

// parseJSONObject decodes a JSON object held in a string, sharing strings
// through cache (nil for none); nil when it is not one.
func parseJSONObject(s string, cache *strCache) map[string]any {
	sc := scanner{b: []byte(s), cache: cache}
	if sc.peek() != '{' {
		return nil
	}
	v, err := sc.value(1, true)
	if err != nil || sc.peek() != 0 {
		return nil
	}
	m, _ := v.(map[string]any)
	return m
}

// behaviorList reads behaviours given as a list of "Name=VALUE" strings;
// other items are ignored.
func behaviorList(items []any) map[string]string {
	var m map[string]string
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			continue
		}
		for k, v := range ParseBehaviors(s) {
			if m == nil {
				m = make(map[string]string, len(items))
			}
			m[k] = v
		}
	}
	return m
}

// ParseBehaviors parses Okta's debugData.behaviors string, e.g.
// "{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=NEGATIVE}",
// into "New Geo-Location" -> "NEGATIVE" and so on. Braces are optional;
// entries without "=" are ignored. It returns nil when no entry is found.
func ParseBehaviors(s string) map[string]string {
	body := trimBraces(s)
	if body == "" {
		return nil
	}
	var m map[string]string
	for part := range strings.SplitSeq(body, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			continue
		}
		if m == nil {
			m = make(map[string]string, 8)
		}
		m[internString(k)] = internString(v)
	}
	return m
}

// behaviorSlots is the size of a strCache's table of parsed behaviours
// strings (direct-mapped): a month of generated traffic has 17 distinct
// ones in the 33 456 events that have one.
const (
	behaviorBits  = 6
	behaviorSlots = 1 << behaviorBits
)

type behaviorSlot struct {
	s string
	m map[string]string // ParseBehaviors(s), never handed out
}

// behaviors is ParseBehaviors(s), remembered by c (nil: not remembered):
// the string repeats from event to event, and copying a parsed map costs a
// fraction of splitting, trimming and inserting seven entries. Each call
// returns a map of its own.
func (c *strCache) behaviors(s string) map[string]string {
	if c == nil {
		return ParseBehaviors(s)
	}
	e := &c.behavior[maphash.String(c.seed, s)&(behaviorSlots-1)]
	if e.m == nil || e.s != s {
		m := ParseBehaviors(s)
		if m == nil {
			return nil
		}
		e.s, e.m = s, m
	}
	return maps.Clone(e.m)
}

func internString(s string) string {
	if v, ok := internTable[s]; ok {
		return v
	}
	return s
}

func trimBraces(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "{")
	s = strings.TrimSuffix(s, "}")
	return strings.TrimSpace(s)
}

// ParseRisk parses Okta's debugData.risk string, e.g.
// "{level=HIGH, reasons=Anomalous Device, Anomalous Location}" or
// "{reasons=Anomalous Device, Anomalous Location, level=HIGH}". The reasons
// text may itself contain commas: it runs from "reasons=" to the next
// "key=" entry or the closing brace. Either result is "" when absent.
func ParseRisk(s string) (level, reasons string) {
	body := trimBraces(s)
	if body == "" {
		return "", ""
	}
	// Entries start at the beginning or after a comma, with a key made of
	// letters, digits or '_' followed by '='. Anything else is a
	// continuation of the previous value.
	type entry struct{ key, val string }
	var entries [4]entry
	list := entries[:0]
	start := 0 // start of the current segment
	cur := -1  // index in list of the entry being extended
	for start <= len(body) {
		end := strings.IndexByte(body[start:], ',')
		if end < 0 {
			end = len(body)
		} else {
			end += start
		}
		seg := body[start:end]
		if k, v, ok := cutEntry(seg); ok {
			list = append(list, entry{k, v})
			cur = len(list) - 1
		} else if cur >= 0 {
			list[cur].val += "," + seg
		}
		start = end + 1
	}
	for _, e := range list {
		switch strings.ToLower(e.key) {
		case "level":
			level = strings.TrimSpace(e.val)
		case "reasons":
			reasons = strings.TrimSpace(e.val)
		}
	}
	return internString(level), reasons
}

// cutEntry splits " key=value" when key is an identifier.
func cutEntry(seg string) (key, val string, ok bool) {
	t := strings.TrimLeft(seg, " ")
	eq := strings.IndexByte(t, '=')
	if eq <= 0 {
		return "", "", false
	}
	for i := 0; i < eq; i++ {
		c := t[i]
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return "", "", false
		}
	}
	return t[:eq], t[eq+1:], true
}

// ParseTunnels reads debugData.tunnels: a JSON string holding an array of
// {"anonymous":true,"operator":"WARP_VPN","type":"VPN"} objects (or that
// array already decoded). It returns nil when the value is not such an array.
func ParseTunnels(v any) []Tunnel {
	var arr []any
	switch x := v.(type) {
	case string:
		sc := scanner{b: []byte(x)}
		if sc.peek() != '[' {
			return nil
		}
		val, err := sc.value(1, true)
		if err != nil || sc.peek() != 0 {
			return nil
		}
		arr, _ = val.([]any)
	case []any:
		arr = x
	default:
		return nil
	}
	var out []Tunnel
	for _, el := range arr {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		var t Tunnel
		switch a := lookupFold(m, "anonymous").(type) {
		case bool:
			t.Anonymous = a
		case string:
			t.Anonymous = strings.EqualFold(a, "true")
		}
		t.Operator, _ = lookupFold(m, "operator").(string)
		t.Type, _ = lookupFold(m, "type").(string)
		out = append(out, t)
	}
	return out
}
