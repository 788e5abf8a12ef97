package detect

import (
	"fmt"
	"net/url"
	"strings"
)

// Where an entry is stored: keys clustered by subject.
//
// A commit writes the entries its ~1,000 events touched. Stored as
// "detect.<owner>/<part>/<subject>" (owner: "engine" or a detector id),
// one user's entries of every detector lie far apart in the state table's
// key order, so on SQLite a commit dirtied about one B-tree page per key
// (7,500 keys, ~3,500 pages at 100k users). Entries are therefore stored
// by subject first:
//
//	detect.s/<subject>/<owner>/<part>   an entry "<part>/<subject>"
//	detect.s/<subject>/<owner>          an entry without a slash (its
//	                                    path-escaped text is the subject)
//
// where the subject is the path-escaped map key (a login, an address, a
// session): one user's baseline and the entries of every detector and rule
// keyed by that login are neighbours, and so are an address's entries. An
// entry whose subject would hold a slash keeps the layout it always had,
// "detect.<owner>/<entry>", as do the engine header, the whole-saved
// detectors, the incidents' dedup entries and the reorder buffer (written
// in order already). LoadState reads both layouts (legacyStateKey); the
// first save after a start resets the prefix, rewriting a store of an
// older version in this layout.
const stateSubjectPrefix = StateKeyPrefix + "s/"

// subjectOwner is the owner name no detector may have: its old-layout keys
// would share the prefix of the clustered ones.
const subjectOwner = "s"

// entryStateKey is the stored key of an owner's entry.
func entryStateKey(owner, entry string) string {
	part, subj, ok := strings.Cut(entry, "/")
	switch {
	case !ok:
		return stateSubjectPrefix + url.PathEscape(entry) + "/" + owner
	case !strings.Contains(subj, "/"):
		return stateSubjectPrefix + subj + "/" + owner + "/" + part
	default:
		return StateKeyPrefix + owner + "/" + entry
	}
}

// userStateKey is the stored key of a user's baseline: entry
// "u/<login, path-escaped>" of the engine, next to the detectors' entries
// of the same login.
func userStateKey(login string) string {
	return stateSubjectPrefix + url.PathEscape(login) + "/engine/u"
}

// LegacyStateKey returns the key a state key had before entries were
// clustered by subject ("detect.<owner>/<entry>", a user's baseline
// "detect.engine/u/<login>"); any other key is returned as it is. Tests
// and benchmarks use it to build a store of an older version and to read
// keys by owner; LoadState uses it to read both layouts.
func LegacyStateKey(k string) (string, error) {
	rest, ok := strings.CutPrefix(k, stateSubjectPrefix)
	if !ok {
		return k, nil
	}
	subj, rest, ok := strings.Cut(rest, "/")
	if !ok || rest == "" {
		return "", fmt.Errorf("detect: state key %q: no owner", k)
	}
	owner, part, hasPart := strings.Cut(rest, "/")
	if strings.Contains(part, "/") {
		return "", fmt.Errorf("detect: state key %q: malformed", k)
	}
	if owner == "engine" {
		login, err := url.PathUnescape(subj)
		if err != nil || !hasPart || part != "u" {
			return "", fmt.Errorf("detect: state key %q: not a user baseline", k)
		}
		return stateUserPrefix + login, nil
	}
	if hasPart {
		return StateKeyPrefix + owner + "/" + part + "/" + subj, nil
	}
	entry, err := url.PathUnescape(subj)
	if err != nil {
		return "", fmt.Errorf("detect: state key %q: %w", k, err)
	}
	return StateKeyPrefix + owner + "/" + entry, nil
}

// ClusteredStateKey is the inverse of LegacyStateKey: the key a state key
// of the older layout has now (tests compare a store of an older version,
// once rewritten, with it).
func ClusteredStateKey(k string) string {
	rest, ok := strings.CutPrefix(k, StateKeyPrefix)
	if !ok {
		return k
	}
	owner, entry, ok := strings.Cut(rest, "/")
	if !ok || owner == subjectOwner {
		return k
	}
	if owner == "engine" {
		if login, ok := strings.CutPrefix(entry, "u/"); ok {
			return userStateKey(login)
		}
		return k
	}
	return entryStateKey(owner, entry)
}

// legacyStateMap returns m with every clustered key turned into its
// legacy key (LoadState's input); a key present in both layouts is an
// error.
func legacyStateMap(m map[string][]byte) (map[string][]byte, error) {
	clustered := false
	for k := range m {
		if strings.HasPrefix(k, stateSubjectPrefix) {
			clustered = true
			break
		}
	}
	if !clustered {
		return m, nil
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		if !strings.HasPrefix(k, stateSubjectPrefix) {
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("detect: load state %q: stored in both key layouts", k)
			}
			out[k] = v
			continue
		}
		lk, err := LegacyStateKey(k)
		if err != nil {
			return nil, err
		}
		if _, dup := out[lk]; dup {
			return nil, fmt.Errorf("detect: load state %q: stored in both key layouts", lk)
		}
		out[lk] = v
	}
	return out, nil
}
