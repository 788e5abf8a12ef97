package detect

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// State keys (all under StateKeyPrefix, "detect."):
//
//	detect.engine             the engine's header: tenant facts, country
//	                          names, dedup memory, the reorder buffer
//	detect.s/<login>/engine/u one user's baseline (the login
//	                          path-escaped; detect.engine/u/<login> before
//	                          keys were clustered by subject, see
//	                          state_layout.go)
//	detect.engine/d/<key>     one open incident's dedup entry (the dedup
//	                          key, path-escaped: detector, actor, key)
//	detect.engine/p/<seq>     one event waiting in the reorder buffer
//	                          (its arrival number, hexadecimal)
//	detect.<id>               a detector saved whole
//	detect.s/<subject>/<id>/<part>
//	                          one entry "<part>/<subject>" of a detector
//	                          with per-entry state (see entryState),
//	                          clustered by subject (state_layout.go)
//	detect.<id>/<entry>       such an entry whose subject holds a slash
//	                          (and every entry, in older versions)
//
// SaveStateDelta returns only the keys changed since its previous call, so
// a commit writes the users and entries its events touched; the first
// call on an engine (after a start or a reload) rewrites everything under
// the prefix, which also compacts away keys of removed detectors and the
// single-blob layout of older versions.
const (
	StateKeyPrefix   = "detect."
	stateEngineKey   = StateKeyPrefix + "engine"
	stateUserPrefix  = stateEngineKey + "/u/"
	stateDedupPrefix = stateEngineKey + "/d/"
	statePendPrefix  = stateEngineKey + "/p/"
	stateVersion     = 1
)

type userState struct {
	I uint32                       `json:"i"`
	L string                       `json:"l"`
	F int64                        `json:"f"`
	S int64                        `json:"s"`
	C [][3 + countryBuckets]uint16 `json:"c,omitempty"` // countries: id, newest bucket, the buckets' counts, last day (absent before it was kept: 0)
	A [][2]uint32                  `json:"a,omitempty"`
	N [][3]uint32                  `json:"n,omitempty"` // networks: hash, first day, last day
	T [][2]uint32                  `json:"t,omitempty"` // tenant countries: country id, last day
	K [][3]uint32                  `json:"k,omitempty"` // admin action types: hash, first day, last day
	D uint32                       `json:"d,omitempty"` // session signed in from a known device and place (hash)
}

type pendingState struct {
	Seq uint64      `json:"seq"`
	Ev  event.Event `json:"ev"`
}

type engineState struct {
	Version     int                   `json:"version"`
	TenantFirst int64                 `json:"tenantFirst"`
	Countries   []string              `json:"countries"`
	Users       []userState           `json:"users,omitempty"` // before per-user keys
	Dedup       map[string]dedupEntry `json:"dedup,omitempty"` // before per-incident keys
	// TenantCountry (before per-user keys): [country id, user index, last day]
	TenantCountry [][3]uint32    `json:"tenantCountry,omitempty"`
	Pending       []pendingState `json:"pending,omitempty"` // before per-event keys
	Seq           uint64         `json:"seq"`
	MaxSeen       int64          `json:"maxSeen"`
	Watermark     int64          `json:"watermark"`
	LastPrune     int64          `json:"lastPrune"`
}

// StateDelta is a change of the persisted detector state: first delete
// every stored key starting with one of Reset, then write Put (a nil value
// deletes the key). The pipeline commits it in the same transaction as the
// events and alerts it results from (store.Batch StateReset and State).
type StateDelta struct {
	Reset []string
	Put   map[string][]byte
}

// ApplyTo applies the delta to a key/value map the way a store applies
// it: the reset prefixes first, then the keys (a nil value deletes).
func (d StateDelta) ApplyTo(m map[string][]byte) {
	for _, p := range d.Reset {
		for k := range m {
			if strings.HasPrefix(k, p) {
				delete(m, k)
			}
		}
	}
	for k, v := range d.Put {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}

// SaveState returns the whole state, one value per key (see the key layout
// above). It does not change what the next SaveStateDelta returns.
func (e *Engine) SaveState() (map[string][]byte, error) {
	out := make(map[string][]byte, len(e.all)+1+len(e.base.users))
	b, err := e.marshalHeader()
	if err != nil {
		return nil, err
	}
	out[stateEngineKey] = b
	for _, u := range e.base.users {
		b, err := e.marshalUser(u)
		if err != nil {
			return nil, err
		}
		out[userStateKey(u.login)] = b
	}
	for k := range e.dedup {
		b, _, err := e.marshalDedup(k)
		if err != nil {
			return nil, err
		}
		out[stateDedupPrefix+url.PathEscape(k)] = b
	}
	for _, p := range e.buf {
		b, err := marshalPending(p)
		if err != nil {
			return nil, err
		}
		out[pendKey(p.seq)] = b
	}
	for _, d := range e.all {
		id := d.reg.Info.ID
		es, ok := d.det.(entryState)
		if !ok {
			b, err := d.det.MarshalState()
			if err != nil {
				return nil, fmt.Errorf("detect: save state of %s: %w", id, err)
			}
			out[StateKeyPrefix+id] = b
			continue
		}
		if err := putEntries(out, id, es, es.stateEntryKeys(), false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SaveStateDelta returns what changed since its previous call: the header
// and whole-saved detectors when their bytes changed, the users whose
// baseline changed and the entries detectors marked. Its first call on an
// engine returns everything with Reset of the whole prefix. If the commit
// of a delta fails, the caller must rebuild the engine from the store
// (the pipeline does), since the change tracking has moved on.
func (e *Engine) SaveStateDelta() (StateDelta, error) {
	if !e.stateSaved {
		m, err := e.SaveState()
		if err != nil {
			return StateDelta{}, err
		}
		clear(e.base.dirty)
		e.dedupChanged.take()
		clear(e.pendChanged)
		e.stateHash = make(map[string]uint64, len(e.all)+1)
		for _, d := range e.all {
			if es, ok := d.det.(entryState); ok {
				es.stateChanges().take()
			} else {
				k := StateKeyPrefix + d.reg.Info.ID
				e.stateHash[k] = hashBytes(m[k])
			}
		}
		e.stateHash[stateEngineKey] = hashBytes(m[stateEngineKey])
		e.stateSaved = true
		return StateDelta{Reset: []string{StateKeyPrefix}, Put: m}, nil
	}
	d, err := e.stateDelta()
	if err != nil {
		e.stateSaved = false // the next save rewrites everything
		return StateDelta{}, err
	}
	return d, nil
}

func (e *Engine) stateDelta() (StateDelta, error) {
	put := make(map[string][]byte, len(e.base.dirty)+2)
	whole := func(key string, b []byte) {
		if h := hashBytes(b); e.stateHash[key] != h {
			e.stateHash[key] = h
			put[key] = b
		}
	}
	b, err := e.marshalHeader()
	if err != nil {
		return StateDelta{}, err
	}
	whole(stateEngineKey, b)
	for ui := range e.base.dirty {
		u := e.base.users[ui]
		b, err := e.marshalUser(u)
		if err != nil {
			return StateDelta{}, err
		}
		put[userStateKey(u.login)] = b
	}
	clear(e.base.dirty)
	for _, k := range e.dedupChanged.take() {
		b, ok, err := e.marshalDedup(k)
		if err != nil {
			return StateDelta{}, err
		}
		if !ok {
			b = nil
		}
		put[stateDedupPrefix+url.PathEscape(k)] = b
	}
	if len(e.pendChanged) > 0 {
		live := make(map[uint64]*pending, len(e.buf))
		for _, p := range e.buf {
			live[p.seq] = p
		}
		for seq := range e.pendChanged {
			var b []byte
			if p := live[seq]; p != nil {
				if b, err = marshalPending(p); err != nil {
					return StateDelta{}, err
				}
			}
			put[pendKey(seq)] = b
		}
		clear(e.pendChanged)
	}
	for _, d := range e.all {
		id := d.reg.Info.ID
		es, ok := d.det.(entryState)
		if !ok {
			b, err := d.det.MarshalState()
			if err != nil {
				return StateDelta{}, fmt.Errorf("detect: save state of %s: %w", id, err)
			}
			whole(StateKeyPrefix+id, b)
			continue
		}
		if err := putEntries(put, id, es, es.stateChanges().take(), true); err != nil {
			return StateDelta{}, err
		}
	}
	return StateDelta{Put: put}, nil
}

// putEntries marshals the detector's entries under keys into out; an
// entry that no longer exists is a nil value (a delete) when deletes is
// set, else left out.
func putEntries(out map[string][]byte, id string, es entryState, keys []string, deletes bool) error {
	for _, k := range keys {
		b, ok, err := es.marshalEntry(k)
		if err != nil {
			return fmt.Errorf("detect: save state of %s entry %q: %w", id, k, err)
		}
		if ok {
			out[entryStateKey(id, k)] = b
		} else if deletes {
			out[entryStateKey(id, k)] = nil
		}
	}
	return nil
}

func hashBytes(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// marshalDedup returns the bytes of the dedup entry under key (ok false:
// it no longer exists).
func (e *Engine) marshalDedup(key string) ([]byte, bool, error) {
	de, ok := e.dedup[key]
	if !ok {
		return nil, false, nil
	}
	b, err := json.Marshal(de)
	if err != nil {
		return nil, false, fmt.Errorf("detect: save dedup entry %q: %w", key, err)
	}
	return b, true, nil
}

// markPending records that the event seq entered (pushed) or left the
// reorder buffer, only once a save was made (before it, the next save is
// a full one). An event that entered and left since the last save was
// never stored: it is forgotten, not deleted.
func (e *Engine) markPending(seq uint64, pushed bool) {
	if !e.stateSaved {
		return
	}
	if e.pendChanged == nil {
		e.pendChanged = make(map[uint64]bool)
	}
	if pushed {
		e.pendChanged[seq] = true
	} else if e.pendChanged[seq] {
		delete(e.pendChanged, seq)
	} else {
		e.pendChanged[seq] = false
	}
}

func pendKey(seq uint64) string { return statePendPrefix + strconv.FormatUint(seq, 16) }

func marshalPending(p *pending) ([]byte, error) {
	b, err := json.Marshal(pendingState{Seq: p.seq, Ev: p.ev})
	if err != nil {
		return nil, fmt.Errorf("detect: save buffered event %d: %w", p.seq, err)
	}
	return b, nil
}

func (e *Engine) marshalHeader() ([]byte, error) {
	st := engineState{
		Version:     stateVersion,
		TenantFirst: e.base.tenantFirst,
		Countries:   e.base.countries,
		Seq:         e.seq,
		MaxSeen:     e.maxSeen,
		Watermark:   e.watermark,
		LastPrune:   e.lastPrune,
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("detect: save engine state: %w", err)
	}
	return b, nil
}

func (e *Engine) marshalUser(u *userRec) ([]byte, error) {
	us := userState{I: u.idx, L: u.login, F: u.First, S: u.Last, D: u.devSess}
	for _, c := range u.countries {
		var x [3 + countryBuckets]uint16
		x[0], x[1] = c.C, c.B
		for i, n := range c.N {
			x[2+i] = uint16(n)
		}
		x[2+countryBuckets] = c.L
		us.C = append(us.C, x)
	}
	for _, a := range u.asns {
		us.A = append(us.A, [2]uint32{a.ASN, uint32(a.Day)})
	}
	for _, n := range u.nets {
		us.N = append(us.N, [3]uint32{n.H, uint32(n.F), uint32(n.L)})
	}
	for _, n := range u.acts {
		us.K = append(us.K, [3]uint32{n.H, uint32(n.F), uint32(n.L)})
	}
	for c := range e.base.countries { // in id order: the bytes are deterministic
		if d, ok := e.base.tenantCountry[uint16(c)][u.idx]; ok {
			us.T = append(us.T, [2]uint32{uint32(c), uint32(d)})
		}
	}
	b, err := json.Marshal(us)
	if err != nil {
		return nil, fmt.Errorf("detect: save state of user %q: %w", u.login, err)
	}
	return b, nil
}

// LoadState restores what SaveState (or the deltas of SaveStateDelta, as
// the store holds them) wrote; the single-blob layout of older versions
// loads too. Call it on a fresh engine, before Process. Keys without the
// "detect." prefix and keys of detectors that no longer exist are
// ignored; a corrupt value is an error naming its key (the engine is then
// left as it was before the call only for the engine keys; detectors
// already loaded keep their state).
func (e *Engine) LoadState(m map[string][]byte) error {
	m, err := legacyStateMap(m)
	if err != nil {
		return err
	}
	hb, hasHeader := m[stateEngineKey]
	hasHeader = hasHeader && len(hb) > 0
	var users []userState
	for k, v := range m {
		login, ok := strings.CutPrefix(k, stateUserPrefix)
		if !ok {
			continue
		}
		var us userState
		if err := json.Unmarshal(v, &us); err != nil {
			return fmt.Errorf("detect: load state %q: %w", k, err)
		}
		if us.L != login {
			return fmt.Errorf("detect: load state %q: entry of user %q", k, us.L)
		}
		users = append(users, us)
	}
	if hasHeader || len(users) > 0 {
		if err := e.loadEngine(hb, users); err != nil {
			return err
		}
	}
	for k, v := range m {
		ek, ok := strings.CutPrefix(k, stateDedupPrefix)
		if !ok {
			continue
		}
		key, err := url.PathUnescape(ek)
		if err != nil {
			return fmt.Errorf("detect: load state %q: %w", k, err)
		}
		var de dedupEntry
		if err := json.Unmarshal(v, &de); err != nil {
			return fmt.Errorf("detect: load state %q: %w", k, err)
		}
		e.dedup[key] = de
	}
	pend := false
	for k, v := range m {
		hs, ok := strings.CutPrefix(k, statePendPrefix)
		if !ok {
			continue
		}
		var ps pendingState
		if err := json.Unmarshal(v, &ps); err != nil {
			return fmt.Errorf("detect: load state %q: %w", k, err)
		}
		if seq, err := strconv.ParseUint(hs, 16, 64); err != nil || seq != ps.Seq {
			return fmt.Errorf("detect: load state %q: entry of buffered event %d", k, ps.Seq)
		}
		e.buf = append(e.buf, &pending{ev: ps.Ev, seq: ps.Seq})
		if ps.Ev.UUID != "" {
			e.pendingIDs[ps.Ev.UUID] = struct{}{}
		}
		pend = true
	}
	if pend {
		heap.Init(&e.buf)
	}
	clear(e.pendChanged)
	e.dedupChanged.take()
	entries := map[string]map[string][]byte{}
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, StateKeyPrefix)
		if !ok {
			continue
		}
		if id, ek, ok := strings.Cut(rest, "/"); ok && id != "engine" {
			if entries[id] == nil {
				entries[id] = map[string][]byte{}
			}
			entries[id][ek] = v
		}
	}
	for _, d := range e.all {
		key := StateKeyPrefix + d.reg.Info.ID
		if b, ok := m[key]; ok && len(b) > 0 {
			if err := d.det.UnmarshalState(b); err != nil {
				return fmt.Errorf("detect: load state %q: %w", key, err)
			}
		}
		es, ok := d.det.(entryState)
		if !ok {
			continue
		}
		if em := entries[d.reg.Info.ID]; len(em) > 0 {
			if err := es.unmarshalEntries(em); err != nil {
				return fmt.Errorf("detect: load state %q: %w", key+"/", err)
			}
		}
		es.stateChanges().take()
	}
	e.stateSaved = false
	return nil
}

// loadEngine rebuilds the baselines and the engine's header from the
// header (hb, may be empty) and the per-user entries.
func (e *Engine) loadEngine(hb []byte, users []userState) error {
	var st engineState
	if len(hb) > 0 {
		if err := json.Unmarshal(hb, &st); err != nil {
			return fmt.Errorf("detect: load state %q: %w", stateEngineKey, err)
		}
		if st.Version != stateVersion {
			return fmt.Errorf("detect: load state %q: unsupported version %d", stateEngineKey, st.Version)
		}
	}
	if len(st.Users) > 0 && len(users) > 0 {
		return fmt.Errorf("detect: load state %q: users both in the header and under %q", stateEngineKey, stateUserPrefix)
	}
	var base baselines
	base.init()
	base.labels = e.base.labels // ids held by detectors stay valid
	base.tenantFirst = st.TenantFirst
	for i, name := range st.Countries {
		if i == 0 {
			continue
		}
		base.countryID(name)
	}
	key := func(us *userState) string {
		if len(st.Users) > 0 {
			return stateEngineKey
		}
		return stateUserPrefix + us.L
	}
	if len(st.Users) > 0 { // older layout: users by position
		users = st.Users
		for i := range users {
			users[i].I = uint32(i)
		}
	} else {
		sort.Slice(users, func(i, j int) bool { return users[i].I < users[j].I })
	}
	for i := range users {
		us := &users[i]
		if us.L == "" {
			return fmt.Errorf("detect: load state %q: user without login", key(us))
		}
		if us.I != uint32(i) {
			return fmt.Errorf("detect: load state %q: user index %d, want %d (users missing)", key(us), us.I, i)
		}
		if _, dup := base.byLogin[us.L]; dup {
			return fmt.Errorf("detect: load state %q: duplicate user %q", key(us), us.L)
		}
		u := base.addUser(us.L, us.F, us.S)
		u.devSess = us.D
		for _, c := range us.C {
			if int(c[0]) >= len(base.countries) {
				return fmt.Errorf("detect: load state %q: user %q: country id %d out of range", key(us), us.L, c[0])
			}
			h := countryHist{C: c[0], B: c[1], L: c[2+countryBuckets]}
			for i := range h.N {
				h.N[i] = uint8(min(c[2+i], 255))
			}
			u.countries = append(u.countries, h)
		}
		for _, a := range us.A {
			if a[1] > 65535 {
				return fmt.Errorf("detect: load state %q: user %q: AS number day out of range", key(us), us.L)
			}
			u.asns = append(u.asns, asnDay{ASN: a[0], Day: uint16(a[1])}) // #nosec G115 -- checked just above
		}
		for _, n := range us.N {
			if n[1] > 65535 || n[2] > 65535 {
				return fmt.Errorf("detect: load state %q: user %q: network day out of range", key(us), us.L)
			}
			u.nets = append(u.nets, netSeen{H: n[0], F: uint16(n[1]), L: uint16(n[2])}) // #nosec G115 -- checked just above
		}
		for _, n := range us.K {
			if n[1] > 65535 || n[2] > 65535 {
				return fmt.Errorf("detect: load state %q: user %q: admin action day out of range", key(us), us.L)
			}
			u.acts = append(u.acts, netSeen{H: n[0], F: uint16(n[1]), L: uint16(n[2])}) // #nosec G115 -- checked just above
		}
		for _, tc := range us.T {
			st.TenantCountry = append(st.TenantCountry, [3]uint32{tc[0], u.idx, tc[1]})
		}
	}
	for _, tc := range st.TenantCountry {
		if tc[0] == 0 || int(tc[0]) >= len(base.countries) || int(tc[1]) >= len(base.users) || tc[2] > 65535 {
			return fmt.Errorf("detect: load state %q: tenant country entry %v out of range", stateEngineKey, tc)
		}
		m := base.tenantCountry[uint16(tc[0])] // #nosec G115 -- tc[0] < len(countries) <= 65535, checked above
		if m == nil {
			m = make(map[uint32]uint16)
			base.tenantCountry[uint16(tc[0])] = m // #nosec G115 -- as above
		}
		m[tc[1]] = uint16(tc[2]) // #nosec G115 -- tc[2] <= 65535, checked above
	}
	clear(base.dirty)
	e.base = base
	e.dedup = st.Dedup
	if e.dedup == nil {
		e.dedup = make(map[string]dedupEntry)
	}
	e.buf = e.buf[:0]
	e.pendingIDs = make(map[string]struct{})
	for _, p := range st.Pending {
		e.buf = append(e.buf, &pending{ev: p.Ev, seq: p.Seq})
		if p.Ev.UUID != "" {
			e.pendingIDs[p.Ev.UUID] = struct{}{}
		}
	}
	heap.Init(&e.buf)
	e.seq, e.maxSeen, e.watermark, e.lastPrune = st.Seq, st.MaxSeen, st.Watermark, st.LastPrune
	return nil
}
