package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Helpers for detectors whose per-entry state (entryState) spans several
// maps: each map is a "part" with a short name, and an entry key is
// "<part>/<map key, path-escaped>" (so keys are never empty, parts never
// collide, and a login or address with a slash, a NUL or invalid UTF-8
// still makes a valid ASCII store key).

// partKey is the entry key of key in part.
func partKey(part, key string) string { return part + "/" + url.PathEscape(key) }

// splitPartKey splits an entry key into its part and map key (ok false:
// not an entry key).
func splitPartKey(k string) (part, key string, ok bool) {
	part, esc, ok := strings.Cut(k, "/")
	if !ok {
		return "", "", false
	}
	key, err := url.PathUnescape(esc)
	return part, key, err == nil
}

// appendPartKeys appends the entry keys of every key of m in part.
func appendPartKeys[V any](out []string, part string, m map[string]V) []string {
	for k := range m {
		out = append(out, partKey(part, k))
	}
	return out
}

// jsonEntry is marshalEntry's answer for one value: absent (ok false, the
// stored key is deleted) or its JSON.
func jsonEntry(v any, ok bool) ([]byte, bool, error) {
	if !ok {
		return nil, false, nil
	}
	b, err := json.Marshal(v)
	return b, true, err
}

// lookupEntry returns jsonEntry of m[k] (absent when missing or nil).
func lookupEntry[V any](m map[string]*V, k string) ([]byte, bool, error) {
	v := m[k]
	return jsonEntry(v, v != nil)
}

var errUnknownEntry = errors.New("unknown entry")

// loadEntries calls load with every stored entry's part, map key and
// bytes (unmarshalEntries); an error names the entry.
func loadEntries(m map[string][]byte, load func(part, key string, b []byte) error) error {
	for k, b := range m {
		part, key, ok := splitPartKey(k)
		if !ok {
			return fmt.Errorf("entry %q: malformed key", k)
		}
		if err := load(part, key, b); err != nil {
			return fmt.Errorf("entry %q: %w", k, err)
		}
	}
	return nil
}

// decodeInto unmarshals b into a new V and hands it to put.
func decodeInto[V any](b []byte, put func(*V)) error {
	v := new(V)
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	put(v)
	return nil
}
