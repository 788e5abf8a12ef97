package oktasim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// record is one stored LogEvent with its persistence sequence.
type record struct {
	seq       int64 // 1-based persistence sequence, = base+index+1 in eventLog.recs
	persisted int64 // persistence time, unix milliseconds (non-decreasing in seq)
	pubMs     int64 // published, unix milliseconds
	uuid      string
	raw       json.RawMessage // the event's JSON as added (trimmed copy)
	doc       any             // parsed lazily for filter / q
}

func (r *record) parsed() any {
	if r.doc == nil {
		var v any
		if err := json.Unmarshal(r.raw, &v); err != nil {
			v = map[string]any{}
		}
		r.doc = v
	}
	return r.doc
}

// eventLog holds every event in persistence order plus a published-order index.
type eventLog struct {
	mu          sync.Mutex
	recs        []*record // retained events in persistence order
	base        int64     // events dropped by MaxEvents (seq of recs[0] is base+1)
	maxEvents   int       // 0 = unlimited
	byPub       []*record // sorted by (pubMs, seq); rebuilt lazily
	byPubDirty  bool
	lastPersist int64
}

type eventHead struct {
	UUID      string          `json:"uuid"`
	Published json.RawMessage `json:"published"`
}

// parseEvent validates one raw LogEvent and extracts what the store indexes.
func parseEvent(raw json.RawMessage) (uuid string, published time.Time, compact []byte, err error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return "", time.Time{}, nil, errors.New("event is not a JSON object")
	}
	var h eventHead
	// Unmarshal validates the whole object, so a stored event is always
	// valid JSON; the bytes are kept as given (a private copy), not re-encoded.
	if err := json.Unmarshal(trimmed, &h); err != nil {
		return "", time.Time{}, nil, fmt.Errorf("invalid JSON: %w", err)
	}
	compact = bytes.Clone(trimmed)
	if h.UUID == "" {
		return "", time.Time{}, nil, errors.New("event has no uuid")
	}
	var ps string
	if err := json.Unmarshal(h.Published, &ps); err != nil || ps == "" {
		return "", time.Time{}, nil, fmt.Errorf("event %s: published is missing or not a string", h.UUID)
	}
	published, err = time.Parse(time.RFC3339Nano, ps)
	if err != nil {
		return "", time.Time{}, nil, fmt.Errorf("event %s: published %q: %w", h.UUID, ps, err)
	}
	return h.UUID, published, compact, nil
}

func (l *eventLog) add(now time.Time, raws []json.RawMessage) (int, error) {
	type parsed struct {
		uuid string
		pub  time.Time
		raw  []byte
	}
	ok := make([]parsed, 0, len(raws))
	var errs []error
	for i, raw := range raws {
		u, p, c, err := parseEvent(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("oktasim: event %d: %w", i, err))
			continue
		}
		ok = append(ok, parsed{u, p, c})
	}
	l.mu.Lock()
	persist := now.UnixMilli()
	if persist < l.lastPersist {
		persist = l.lastPersist // persistence time never goes backwards
	}
	l.lastPersist = persist
	for _, p := range ok {
		r := &record{
			seq:       l.base + int64(len(l.recs)) + 1,
			persisted: persist,
			pubMs:     p.pub.UnixMilli(),
			uuid:      p.uuid,
			raw:       p.raw,
		}
		l.recs = append(l.recs, r)
	}
	if len(ok) > 0 {
		l.byPubDirty = true
	}
	if l.maxEvents > 0 && len(l.recs) > l.maxEvents {
		drop := len(l.recs) - l.maxEvents
		clear(l.recs[:drop]) // let the dropped events be collected
		l.recs = l.recs[drop:]
		l.base += int64(drop)
		l.byPub = nil // rebuilt (and re-sorted) by the next bounded query
	}
	l.mu.Unlock()
	return len(ok), errors.Join(errs...)
}

// bySeq returns the retained record with sequence seq, or nil; l.mu held.
func (l *eventLog) bySeq(seq int64) *record {
	i := seq - l.base - 1
	if i < 0 || i >= int64(len(l.recs)) {
		return nil
	}
	return l.recs[i]
}

// sortedByPub returns the published-order index; l.mu must be held.
func (l *eventLog) sortedByPub() []*record {
	if l.byPubDirty || len(l.byPub) != len(l.recs) {
		n := len(l.byPub)
		l.byPub = append(l.byPub, l.recs[n:]...)
		if n == 0 || !slices.IsSortedFunc(l.byPub, cmpPub) {
			slices.SortFunc(l.byPub, cmpPub)
		}
		l.byPubDirty = false
	}
	return l.byPub
}

func cmpPub(a, b *record) int {
	if c := cmp.Compare(a.pubMs, b.pubMs); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// EventCount returns how many events the simulator holds (retained ones, see
// Options.MaxEvents).
func (s *Server) EventCount() int {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return len(s.events.recs)
}

// UUIDs returns the uuid of every retained event in persistence order (the
// order polling delivers them), for exactly-once assertions.
func (s *Server) UUIDs() []string {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	out := make([]string, len(s.events.recs))
	for i, r := range s.events.recs {
		out[i] = r.uuid
	}
	return out
}

// Add appends LogEvent JSON objects. Each event's persistence time is the
// simulator clock's now, whatever its `published` says, so an event with an
// old `published` is a late event: polling still delivers it (out of
// published order) while bounded queries place it by `published`. Events
// that are not JSON objects with a `uuid` and an RFC 3339 `published` are
// skipped; the returned error names each of them (the valid ones are stored).
func (s *Server) Add(raws ...json.RawMessage) error {
	_, err := s.events.add(s.now(), raws)
	return err
}

// AddEvents marshals each value with encoding/json and adds it as Add does.
func (s *Server) AddEvents(events ...any) error {
	raws := make([]json.RawMessage, 0, len(events))
	var errs []error
	for i, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("oktasim: event %d: marshal: %w", i, err))
			continue
		}
		raws = append(raws, b)
	}
	if err := s.Add(raws...); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
