package detect

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// State keys written by SaveState: "detect.engine" for the engine (user
// and tenant baselines, dedup memory, the reorder buffer) and
// "detect.<detector id>" for each detector.
const (
	StateKeyPrefix = "detect."
	stateEngineKey = StateKeyPrefix + "engine"
	stateVersion   = 1
)

type userState struct {
	L string                       `json:"l"`
	F int64                        `json:"f"`
	S int64                        `json:"s"`
	C [][2 + countryBuckets]uint16 `json:"c,omitempty"`
	A [][2]uint32                  `json:"a,omitempty"`
	N [][3]uint32                  `json:"n,omitempty"` // networks: hash, first day, last day
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
	Users       []userState           `json:"users"`
	Dedup       map[string]dedupEntry `json:"dedup"`
	// TenantCountry: [country id, user index, last day] per user and country
	TenantCountry [][3]uint32    `json:"tenantCountry"`
	Pending       []pendingState `json:"pending,omitempty"`
	Seq           uint64         `json:"seq"`
	MaxSeen       int64          `json:"maxSeen"`
	Watermark     int64          `json:"watermark"`
	LastPrune     int64          `json:"lastPrune"`
}

// SaveState serialises the engine and every detector (JSON per key). The
// pipeline stores the map in the same transaction as the events and
// alerts it has processed, so a restart resumes without forgetting
// baselines and without re-alerting. Events still in the reorder buffer
// are part of the state.
func (e *Engine) SaveState() (map[string][]byte, error) {
	st := engineState{
		Version:     stateVersion,
		TenantFirst: e.base.tenantFirst,
		Countries:   e.base.countries,
		Users:       make([]userState, len(e.base.users)),
		Dedup:       e.dedup,
		Seq:         e.seq,
		MaxSeen:     e.maxSeen,
		Watermark:   e.watermark,
		LastPrune:   e.lastPrune,
	}
	for i, u := range e.base.users {
		us := userState{L: u.login, F: u.First, S: u.Last, D: u.devSess}
		for _, c := range u.countries {
			var x [2 + countryBuckets]uint16
			x[0], x[1] = c.C, c.B
			for i, n := range c.N {
				x[2+i] = uint16(n)
			}
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
		st.Users[i] = us
	}
	for c, m := range e.base.tenantCountry {
		for ui, d := range m {
			st.TenantCountry = append(st.TenantCountry, [3]uint32{uint32(c), ui, uint32(d)})
		}
	}
	sort.Slice(st.TenantCountry, func(i, j int) bool {
		a, b := st.TenantCountry[i], st.TenantCountry[j]
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		return a[1] < b[1]
	})
	for _, p := range e.buf {
		st.Pending = append(st.Pending, pendingState{Seq: p.seq, Ev: p.ev})
	}
	out := make(map[string][]byte, len(e.all)+1)
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("detect: save engine state: %w", err)
	}
	out[stateEngineKey] = b
	for _, d := range e.all {
		b, err := d.det.MarshalState()
		if err != nil {
			return nil, fmt.Errorf("detect: save state of %s: %w", d.reg.Info.ID, err)
		}
		out[StateKeyPrefix+d.reg.Info.ID] = b
	}
	return out, nil
}

// LoadState restores what SaveState wrote. Call it on a fresh engine,
// before Process. Keys without the "detect." prefix and keys of detectors
// that no longer exist are ignored; a corrupt value is an error naming
// its key (the engine is then left as it was before the call only for the
// engine key; detectors already loaded keep their state).
func (e *Engine) LoadState(m map[string][]byte) error {
	if b, ok := m[stateEngineKey]; ok && len(b) > 0 {
		var st engineState
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("detect: load state %q: %w", stateEngineKey, err)
		}
		if st.Version != stateVersion {
			return fmt.Errorf("detect: load state %q: unsupported version %d", stateEngineKey, st.Version)
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
		for _, us := range st.Users {
			if us.L == "" {
				return fmt.Errorf("detect: load state %q: user without login", stateEngineKey)
			}
			if _, dup := base.byLogin[us.L]; dup {
				return fmt.Errorf("detect: load state %q: duplicate user %q", stateEngineKey, us.L)
			}
			u := base.addUser(us.L, us.F, us.S)
			u.devSess = us.D
			for _, c := range us.C {
				if int(c[0]) >= len(base.countries) {
					return fmt.Errorf("detect: load state %q: user %q: country id %d out of range", stateEngineKey, us.L, c[0])
				}
				h := countryHist{C: c[0], B: c[1]}
				for i := range h.N {
					h.N[i] = uint8(min(c[2+i], 255))
				}
				u.countries = append(u.countries, h)
			}
			for _, a := range us.A {
				u.asns = append(u.asns, asnDay{ASN: a[0], Day: uint16(a[1])})
			}
			for _, n := range us.N {
				if n[1] > 65535 || n[2] > 65535 {
					return fmt.Errorf("detect: load state %q: user %q: network day out of range", stateEngineKey, us.L)
				}
				u.nets = append(u.nets, netSeen{H: n[0], F: uint16(n[1]), L: uint16(n[2])})
			}
			for _, n := range us.K {
				if n[1] > 65535 || n[2] > 65535 {
					return fmt.Errorf("detect: load state %q: user %q: admin action day out of range", stateEngineKey, us.L)
				}
				u.acts = append(u.acts, netSeen{H: n[0], F: uint16(n[1]), L: uint16(n[2])})
			}
		}
		for _, tc := range st.TenantCountry {
			if tc[0] == 0 || int(tc[0]) >= len(base.countries) || int(tc[1]) >= len(base.users) || tc[2] > 65535 {
				return fmt.Errorf("detect: load state %q: tenant country entry %v out of range", stateEngineKey, tc)
			}
			m := base.tenantCountry[uint16(tc[0])]
			if m == nil {
				m = make(map[uint32]uint16)
				base.tenantCountry[uint16(tc[0])] = m
			}
			m[tc[1]] = uint16(tc[2])
		}
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
	}
	for _, d := range e.all {
		key := StateKeyPrefix + d.reg.Info.ID
		b, ok := m[key]
		if !ok || len(b) == 0 {
			continue
		}
		if err := d.det.UnmarshalState(b); err != nil {
			return fmt.Errorf("detect: load state %q: %w", key, err)
		}
	}
	return nil
}
