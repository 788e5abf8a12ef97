package store

import "github.com/oktaguard/oktaguard/pkg/event"

// IngestAgg folds a page's newly inserted events into the roll-ups and
// dictionaries every backend maintains at ingest: the event counts per
// roll-up level (CountRollups), the per-actor day and hour rows, the
// per-hour geo rows, the actors and the event types. Each backend then
// upserts the folded rows with its own SQL (one row per key).
type IngestAgg struct {
	Counts []map[CountKey]int64 // parallel to CountRollups()
	Users  map[UserKey]*UserRow
	Geos   map[GeoKey]*Seen
	Actors map[string]*Seen // actor login -> events, last seen, actor id
	Types  map[string]*Seen // event type -> events, last seen
	// Levels counts the events per minute and severity (volume.go).
	Levels map[LevelKey]int64
	// RoundGeo, when set, rounds a geo key's coordinates in Go (a backend
	// whose upsert cannot merge two rows of one statement into one row);
	// nil keeps them as they are (SQLite rounds in its INSERT).
	RoundGeo func(float64) float64
}

// CountKey is one row of an event-count roll-up.
type CountKey struct {
	Bucket                      int64
	EventType, Outcome, Country string
}

// UserKey is one row of user_days (Day) or user_hours.
type UserKey struct {
	Day            bool
	Bucket         int64
	Actor, Country string
}

// UserRow is the folded value of a UserKey.
type UserRow struct {
	ActorID, LastIP  string
	Events, Failures int64
	LastSeen         int64
}

// GeoKey is one row of geo_hours.
type GeoKey struct {
	Bucket             int64
	EventType, Outcome string
	Lat, Lon           float64
	Country, City      string
}

// Seen counts events with the last time one was seen (and, for actors,
// the newest non-empty actor id).
type Seen struct {
	ID       string
	N        int64
	LastSeen int64
}

// NewIngestAgg returns an empty aggregate.
func NewIngestAgg() *IngestAgg {
	g := &IngestAgg{Counts: make([]map[CountKey]int64, len(countRollups)), Users: map[UserKey]*UserRow{},
		Geos: map[GeoKey]*Seen{}, Actors: map[string]*Seen{}, Types: map[string]*Seen{}, Levels: map[LevelKey]int64{}}
	for i := range g.Counts {
		g.Counts[i] = map[CountKey]int64{}
	}
	return g
}

// Add folds one inserted event with its derived columns.
func (g *IngestAgg) Add(ev *event.Event, c *EventColumns) {
	p, country := c.Published, c.Country
	for i, r := range countRollups {
		g.Counts[i][CountKey{p - p%r.width, ev.EventType, ev.Outcome.Result, country}]++
	}
	g.Levels[LevelKey{p - p%minuteMS, ev.Severity}]++
	if a := ev.Actor.AlternateID; a != "" {
		var failed int64
		if ev.IsFailure() {
			failed = 1
		}
		for _, k := range [2]UserKey{{true, p - p%dayMS, a, country}, {false, p - p%hourMS, a, country}} {
			u := g.Users[k]
			if u == nil {
				u = &UserRow{}
				g.Users[k] = u
			}
			u.Events++
			u.Failures += failed
			if p >= u.LastSeen {
				u.LastSeen, u.LastIP, u.ActorID = p, c.IP, ev.Actor.ID
			}
		}
		ag := seen(g.Actors, a)
		ag.N++
		if p >= ag.LastSeen {
			ag.LastSeen = p
			if ev.Actor.ID != "" {
				ag.ID = ev.Actor.ID
			}
		}
	}
	if c.HasGeo {
		lat, lon := c.Lat, c.Lon
		if g.RoundGeo != nil {
			lat, lon = g.RoundGeo(lat), g.RoundGeo(lon)
		}
		gs := g.Geos[GeoKey{p - p%hourMS, ev.EventType, ev.Outcome.Result, lat, lon, country, c.City}]
		if gs == nil {
			gs = &Seen{}
			g.Geos[GeoKey{p - p%hourMS, ev.EventType, ev.Outcome.Result, lat, lon, country, c.City}] = gs
		}
		gs.N++
		gs.LastSeen = max(gs.LastSeen, p)
	}
	t := seen(g.Types, ev.EventType)
	t.N++
	t.LastSeen = max(t.LastSeen, p)
}

func seen(m map[string]*Seen, k string) *Seen {
	s := m[k]
	if s == nil {
		s = &Seen{}
		m[k] = s
	}
	return s
}
