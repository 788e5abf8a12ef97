package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// Checkpoint is where ingestion resumes: the Okta `next` link of the last
// committed page and what is known about the backfill.
type Checkpoint struct {
	NextURL       string
	MaxPublished  time.Time // newest published time committed so far
	BackfillSince time.Time
	BackfillDone  bool
	UpdatedAt     time.Time // set by Commit when zero
}

// Batch is one unit of pipeline work, committed atomically.
type Batch struct {
	Events     []event.Event
	Alerts     []alert.Alert
	Checkpoint *Checkpoint       // nil: unchanged
	State      map[string][]byte // key -> value; a nil value deletes the key
	// StateReset lists key prefixes whose stored keys are all deleted
	// before State is applied, in the same transaction: a full rewrite of
	// a group of keys (the detector state's first save after a start, a
	// detector rewriting all its entries). An empty prefix is invalid.
	StateReset []string
	// ExceptionHits adds the alerts exceptions suppressed in this batch to
	// their counts (exception id -> alerts) and moves their last hit to
	// HitsAt, in the same transaction as the events whose alerts they
	// suppressed: a crash between pages neither loses nor doubles a hit,
	// and a reader that sees the events sees their hits. An id with no
	// exception (of this org) changes nothing.
	ExceptionHits map[int64]int64
	HitsAt        time.Time
}

// CommitResult tells what a Commit actually added.
type CommitResult struct {
	EventsInserted int
	// Inserted[i] reports whether b.Events[i] was new. False means the uuid
	// was already stored (or appeared earlier in the same batch): the
	// pipeline must not count or detect it again.
	Inserted       []bool
	AlertsInserted int
	// AlertInserted[i] reports whether b.Alerts[i] was new (false: an alert
	// with the same id was already stored).
	AlertInserted []bool
	// AlertUpdated[i] reports whether b.Alerts[i] replaced a stored alert
	// of the same id that differed (an incident that grew); an identical
	// alert is neither inserted nor updated.
	AlertUpdated  []bool
	AlertsUpdated int
	// EventsExpired counts the events not stored because they were
	// published before the org's retention horizon, in a day retention has
	// already pruned (a late event; PostgreSQL only: its retention drops
	// whole day partitions, which a late event must not re-create). Their
	// Inserted is false.
	EventsExpired int
}

const insertEventSQL = `INSERT INTO events (uuid, published, event_type, actor, actor_id, actor_type, actor_name,
	outcome, reason, ip, country, city, lat, lon, session_id, severity, display_message, target, risk_level, ip_categories)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(uuid) DO NOTHING`

// Commit writes a batch in ONE transaction: events (INSERT OR IGNORE by
// uuid), their raw JSON, the roll-ups, alerts (upserted by id: a grown
// incident replaces its stored version) with their event links, the checkpoint and the state keys. On any error —
// invalid content, a cancelled context, a disk error — nothing of the batch
// is kept.
// A write the volume refuses is reported by cause (ErrDiskFull,
// ErrReadOnly, ...), never as a bare SQLite code.
func (s *Store) Commit(ctx context.Context, b Batch) (CommitResult, error) {
	res, err := s.commit(ctx, b)
	return res, s.explainWrite(err)
}

func (s *Store) commit(ctx context.Context, b Batch) (CommitResult, error) {
	res := CommitResult{Inserted: make([]bool, len(b.Events)), AlertInserted: make([]bool, len(b.Alerts)), AlertUpdated: make([]bool, len(b.Alerts))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return CommitResult{}, ErrClosed
	}
	if err := s.corruptErr(); err != nil {
		return CommitResult{}, err // nothing more is written over damaged pages
	}
	if err := s.prepare(ctx); err != nil {
		return CommitResult{}, err
	}
	if len(b.State) > 0 || len(b.StateReset) > 0 {
		if err := s.prepareStateRows(ctx); err != nil {
			return CommitResult{}, err
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return CommitResult{}, fmt.Errorf("store: commit: begin: %w", err)
	}
	s.dropGeoIDs()
	s.geoCheckedPending = s.geoChecked
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.checkFence(ctx, tx); err != nil {
		return CommitResult{}, fmt.Errorf("store: commit: %w", err)
	}

	// database/sql closes a transaction whose context ends; the statement
	// errors that follow must still tell the caller why.
	withCtx := func(err error) error {
		if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
			return fmt.Errorf("%w (%w)", err, ce)
		}
		return err
	}
	if err := s.commitEvents(ctx, tx, b.Events, &res); err != nil {
		return CommitResult{}, withCtx(err)
	}
	if err := commitAlerts(ctx, tx, b.Alerts, &res); err != nil {
		return CommitResult{}, withCtx(err)
	}
	if err := addExceptionHits(ctx, tx, b.ExceptionHits, b.HitsAt); err != nil {
		return CommitResult{}, withCtx(err)
	}
	newCodec, err := s.trainDict(ctx, tx)
	if err != nil {
		return CommitResult{}, withCtx(err)
	}
	now := time.Now().UTC()
	if cp := b.Checkpoint; cp != nil {
		upd := cp.UpdatedAt
		if upd.IsZero() {
			upd = now
		}
		done := 0
		if cp.BackfillDone {
			done = 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoint (id, next_url, max_published, backfill_since, backfill_done, updated_at)
			VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET next_url = excluded.next_url,
			max_published = excluded.max_published, backfill_since = excluded.backfill_since,
			backfill_done = excluded.backfill_done, updated_at = excluded.updated_at`,
			cp.NextURL, ms(cp.MaxPublished), ms(cp.BackfillSince), done, ms(upd)); err != nil {
			return CommitResult{}, fmt.Errorf("store: commit: checkpoint: %w", err)
		}
	}
	s.pendingIdx = nil
	if s.opts.StateInPlace {
		err = commitStateInPlace(ctx, tx, b, now)
	} else {
		err = s.commitState(ctx, tx, b)
	}
	if err != nil {
		return CommitResult{}, withCtx(err)
	}
	if err := ctx.Err(); err != nil {
		return CommitResult{}, fmt.Errorf("store: commit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return CommitResult{}, fmt.Errorf("store: commit: %w", err)
	}
	if s.pendingIdx != nil {
		s.stateIdx, s.pendingIdx = s.pendingIdx, nil
	}
	s.installGeoIDs()
	s.geoChecked = s.geoCheckedPending
	s.installCodec(ctx, newCodec)
	s.vacuumStep(ctx) // gives free pages back, a bounded step when due (vacuum.go)
	return res, nil
}

// eventChunk is how many events one multi-row INSERT carries (20
// parameters each; well under SQLite's 32766-parameter limit).
const eventChunk = maxRows

const eventCols = 20

func (s *Store) commitEvents(ctx context.Context, tx *sql.Tx, evs []event.Event, res *CommitResult) error {
	if len(evs) == 0 {
		return nil
	}
	agg := NewIngestAgg()
	var geo *geoPage
	if s.geoSets {
		geo = newGeoPage()
	}
	args := make([]any, 0, eventChunk*eventCols)
	rawArgs := make([]any, 0, eventChunk*2)
	var ftsFrom, ftsTo int64 // the ids this page inserted (indexText)
	inserted := 0
	cs := make([]cols, eventChunk)
	firstIdx := make(map[string]int, eventChunk)
	// schema 22 writes the raw JSON in blocks (raw_blocks.go); an older
	// schema (tests of the upgrade) one frame per event
	var blocks *rawBlockWriter
	var frames *rawFrames
	if s.rawBlocks {
		blocks = newRawBlockWriter(s.codec())
		defer blocks.close()
	} else {
		frames = compressFrames(s.codec(), evs)
		defer frames.close()
	}
	var blockIDs []int64
	var blockRaws [][]byte
	start := 0
	for _, size := range pieces(len(evs)) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
		first := start
		chunk := evs[first : first+size]
		start += size
		args = args[:0]
		clear(firstIdx)
		for j := range chunk {
			i := first + j
			if s.testHook != nil {
				if err := s.testHook(i); err != nil {
					return fmt.Errorf("store: commit: event %d: %w", i, err)
				}
			}
			ev := &chunk[j]
			if ev.UUID == "" {
				return fmt.Errorf("store: commit: %w: event %d has no uuid", ErrInvalidBatch, i)
			}
			if ev.Published.IsZero() {
				return fmt.Errorf("store: commit: %w: event %d (%s) has no published time", ErrInvalidBatch, i, ev.UUID)
			}
			if _, dup := firstIdx[ev.UUID]; !dup {
				firstIdx[ev.UUID] = i
			}
			c := columnsOf(ev)
			cs[j] = c
			args = append(args, ev.UUID, c.published, ev.EventType, ev.Actor.AlternateID, ev.Actor.ID,
				ev.Actor.Type, ev.Actor.DisplayName, ev.Outcome.Result, ev.Outcome.Reason, c.ip, c.country, c.city,
				c.lat, c.lon, c.session, ev.Severity, ev.DisplayMessage, c.target, ev.Debug.RiskLevel, int64(ev.IP.Categories))
		}
		ins, err := s.stmt(ctx, tx, "events", size)
		if err != nil {
			return err
		}
		rows, err := ins.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("store: commit: events %d..%d: %w", first, start-1, err)
		}
		rawArgs = rawArgs[:0]
		for rows.Next() {
			var id int64
			var u string
			if err := rows.Scan(&id, &u); err != nil {
				rows.Close()
				return fmt.Errorf("store: commit: events %d..%d: %w", first, start-1, err)
			}
			i, ok := firstIdx[u]
			if !ok || res.Inserted[i] {
				rows.Close()
				return fmt.Errorf("store: commit: insert reported unexpected uuid %q", u)
			}
			res.Inserted[i] = true
			res.EventsInserted++
			inserted++
			if inserted == 1 || id < ftsFrom {
				ftsFrom = id
			}
			ftsTo = max(ftsTo, id)
			ev := &evs[i]
			s.sampleRaw(ev.Raw)
			if blocks != nil {
				blockIDs, blockRaws = append(blockIDs, id), append(blockRaws, ev.Raw)
			} else if fr := frames.frame(i); len(fr) == 0 {
				rawArgs = append(rawArgs, id, []byte{})
			} else {
				rawArgs = append(rawArgs, id, fr)
			}

			ec := cs[i-first].columns()
			agg.Add(ev, &ec)
			if geo != nil {
				geo.add(&ec, ev.EventType, ev.Outcome.Result, ev.Actor.AlternateID)
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("store: commit: events %d..%d: %w", first, start-1, err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: commit: events %d..%d: %w", first, start-1, err)
		}
		if blocks != nil {
			// RETURNING's order is not the rows' order
			sortByID(blockIDs, blockRaws)
			blocks.add(blockIDs, blockRaws)
			blockIDs, blockRaws = blockIDs[:0:0], blockRaws[:0:0]
		} else if err := s.multiExec(ctx, tx, "raw", rawArgs); err != nil {
			return fmt.Errorf("store: commit: raw JSON of events %d..%d: %w", first, start-1, err)
		}
	}
	if blocks != nil {
		if err := s.multiExec(ctx, tx, "raw_blocks", blocks.args()); err != nil {
			return fmt.Errorf("store: commit: raw JSON blocks: %w", err)
		}
	}
	if err := indexText(ctx, tx, ftsFrom, ftsTo, inserted); err != nil {
		return err
	}
	if err := s.upsertRollups(ctx, tx, agg); err != nil {
		return err
	}
	if geo != nil {
		if err := s.writeGeoSets(ctx, tx, agg.Geos, geo); err != nil {
			return err
		}
	}
	if s.userSegs {
		// normally the buckets this page closed (an hour, once a day a
		// day); bounded, so a page of late events stays cheap
		budget := sealBudget
		if s.opts.sealBudget > 0 {
			budget = s.opts.sealBudget
		}
		if _, _, err := s.sealUserBuckets(ctx, tx, budget, true); err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
	}
	return nil
}

// upsertRollups writes the page's folded roll-up rows.
func (s *Store) upsertRollups(ctx context.Context, tx *sql.Tx, agg *IngestAgg) error {
	for i, r := range countRollups {
		if err := s.upsertCounts(ctx, tx, r.table, agg.Counts[i]); err != nil {
			return err
		}
		if s.outcomeCounts {
			if err := upsertOutcomeCounts(ctx, tx, r.table, agg.Counts[i]); err != nil {
				return err
			}
		}
	}
	if s.levelCounts {
		if err := upsertLevels(ctx, tx, agg.Levels); err != nil {
			return err
		}
	}
	if err := s.upsertUsers(ctx, tx, agg.Users); err != nil {
		return err
	}
	if !s.geoSets { // schema 18 writes them with their actor sets (writeGeoSets)
		if err := s.upsertGeo(ctx, tx, agg.Geos); err != nil {
			return err
		}
	}
	if s.actorsLog {
		if err := s.appendActors(ctx, tx, agg.Actors); err != nil {
			return err
		}
	} else if len(agg.Actors) > 0 {
		args := make([]any, 0, 4*len(agg.Actors))
		for a, ag := range agg.Actors {
			args = append(args, a, ag.ID, ag.LastSeen, ag.N)
		}
		if err := s.multiExec(ctx, tx, "actors", args); err != nil {
			return fmt.Errorf("store: commit: actors: %w", err)
		}
	}
	if len(agg.Types) > 0 {
		args := make([]any, 0, 3*len(agg.Types))
		for t, ag := range agg.Types {
			args = append(args, t, ag.LastSeen, ag.N)
		}
		if err := s.multiExec(ctx, tx, "event_types", args); err != nil {
			return fmt.Errorf("store: commit: event types: %w", err)
		}
	}
	return nil
}

func (s *Store) upsertCounts(ctx context.Context, tx *sql.Tx, table string, m map[CountKey]int64) error {
	if len(m) == 0 {
		return nil
	}
	args := make([]any, 0, 5*len(m))
	for k, n := range m {
		args = append(args, k.Bucket, k.EventType, k.Outcome, k.Country, n)
	}
	if err := s.multiExec(ctx, tx, table, args); err != nil {
		return fmt.Errorf("store: commit: %s: %w", table, err)
	}
	return nil
}

func commitAlerts(ctx context.Context, tx *sql.Tx, alerts []alert.Alert, res *CommitResult) error {
	if len(alerts) == 0 {
		return nil
	}
	// One incident is one alert: the engine emits the alert again, same id,
	// as its incident grows; the stored row takes the new version (first
	// time, actor and stored_at stay; triage state lives in its own table).
	ins, err := tx.PrepareContext(ctx, `INSERT INTO alerts (id, detector, severity, time, actor, actor_id, ip, country,
		title, summary, json, stored_at, evidence, event_ids, mitre) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, ip = excluded.ip, country = excluded.country,
			title = excluded.title, summary = excluded.summary, json = excluded.json,
			evidence = excluded.evidence, event_ids = excluded.event_ids, mitre = excluded.mitre
		WHERE alerts.json <> excluded.json`)
	if err != nil {
		return fmt.Errorf("store: commit: prepare alerts: %w", err)
	}
	defer ins.Close()
	link, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO alert_events (alert_id, event_uuid) VALUES (?, ?)")
	if err != nil {
		return fmt.Errorf("store: commit: prepare alert links: %w", err)
	}
	defer link.Close()
	exist, err := tx.PrepareContext(ctx, "SELECT COUNT(*) FROM alerts WHERE id = ?")
	if err != nil {
		return fmt.Errorf("store: commit: prepare alert lookup: %w", err)
	}
	defer exist.Close()
	now := time.Now().UnixMilli()
	for i := range alerts {
		a := &alerts[i]
		if a.ID == "" {
			return fmt.Errorf("store: commit: %w: alert %d has no id", ErrInvalidBatch, i)
		}
		if a.Detector == "" {
			return fmt.Errorf("store: commit: %w: alert %s has no detector", ErrInvalidBatch, a.ID)
		}
		if a.Time.IsZero() {
			return fmt.Errorf("store: commit: %w: alert %s has no time", ErrInvalidBatch, a.ID)
		}
		js, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("store: commit: %w: alert %s: %w", ErrInvalidBatch, a.ID, err)
		}
		var exists int
		if err := exist.QueryRowContext(ctx, a.ID).Scan(&exists); err != nil {
			return fmt.Errorf("store: commit: alert %s: %w", a.ID, err)
		}
		evidence, err := json.Marshal(a.Evidence)
		if err != nil {
			return fmt.Errorf("store: commit: %w: alert %s evidence: %w", ErrInvalidBatch, a.ID, err)
		}
		r, err := ins.ExecContext(ctx, a.ID, a.Detector, strings.ToLower(a.Severity), ms(a.Time), a.Actor, a.ActorID,
			a.IP, a.Country, a.Title, a.Summary, js, now, string(evidence), strings.Join(a.EventIDs, ","), strings.Join(a.MITRE, ","))
		if err != nil {
			return fmt.Errorf("store: commit: alert %s: %w", a.ID, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: commit: alert %s: %w", a.ID, err)
		}
		if n == 0 {
			continue // stored already, unchanged
		}
		if exists > 0 {
			res.AlertUpdated[i] = true
			res.AlertsUpdated++
		} else {
			res.AlertInserted[i] = true
			res.AlertsInserted++
		}
		for _, u := range a.EventIDs {
			if u == "" {
				continue
			}
			if _, err := link.ExecContext(ctx, a.ID, u); err != nil {
				return fmt.Errorf("store: commit: alert %s link %s: %w", a.ID, u, err)
			}
		}
	}
	return nil
}

type cols struct {
	published                          int64
	ip, country, city, session, target string
	lat, lon                           any // nil when unknown
	latF, lonF                         float64
	hasGeo                             bool
}

func columnsOf(ev *event.Event) cols {
	c := cols{published: ev.Published.UnixMilli(), country: ev.Country(), session: ev.SessionID()}
	c.ip = ev.Client.IPAddress
	if c.ip == "" && len(ev.IPChain) > 0 {
		c.ip = ev.IPChain[0].IP
	}
	c.city = ev.Client.Geo.City
	if c.city == "" && ev.Client.Geo.Country == "" && len(ev.IPChain) > 0 {
		c.city = ev.IPChain[0].Geo.City
	}
	if lat, lon, ok := ev.GeoPoint(); ok {
		c.lat, c.lon = lat, lon
		c.latF, c.lonF, c.hasGeo = lat, lon, true
	}
	if len(ev.Targets) > 0 {
		t := &ev.Targets[0]
		c.target = t.AlternateID
		if c.target == "" || c.target == "unknown" {
			c.target = t.DisplayName
		}
	}
	return c
}

// LoadCheckpoint returns the stored checkpoint; ok is false when none was
// ever committed (a first start).
func (s *Store) LoadCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	var cp Checkpoint
	var maxPub, since, upd int64
	var done int
	err := s.r.QueryRowContext(ctx, `SELECT next_url, max_published, backfill_since, backfill_done, updated_at
		FROM checkpoint WHERE id = 1`).Scan(&cp.NextURL, &maxPub, &since, &done, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("store: load checkpoint: %w", err)
	}
	cp.MaxPublished, cp.BackfillSince, cp.UpdatedAt = fromMS(maxPub), fromMS(since), fromMS(upd)
	cp.BackfillDone = done != 0
	return cp, true, nil
}

// HasEvents reports which of the uuids are stored (only stored ones appear
// in the map, with true).
func (s *Store) HasEvents(ctx context.Context, uuids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(uuids))
	const chunk = 500
	for start := 0; start < len(uuids); start += chunk {
		part := uuids[start:min(start+chunk, len(uuids))]
		args := make([]any, len(part))
		for i, u := range part {
			args[i] = u
		}
		q := "SELECT uuid FROM events WHERE uuid IN (?" + strings.Repeat(",?", len(part)-1) + ")" // #nosec G202 -- placeholders only; every uuid is a bound parameter
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("store: has events: %w", err)
		}
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: has events: %w", err)
			}
			out[u] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("store: has events: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: has events: %w", err)
		}
	}
	return out, nil
}

// HasEventsAt is HasEvents: the uuid index finds an event whatever its time.
func (s *Store) HasEventsAt(ctx context.Context, uuids []string, _ []time.Time) (map[string]bool, error) {
	return s.HasEvents(ctx, uuids)
}

const dayMS = 24 * hourMS

func (s *Store) upsertUsers(ctx context.Context, tx *sql.Tx, users map[UserKey]*UserRow) error {
	if len(users) == 0 {
		return nil
	}
	// schema 17: a day without a segment is read from its hours; only a
	// sealed day (a late event) gets user_days rows (user_days.go)
	var sealed map[int64]bool
	if s.daysFromHours {
		sealed = map[int64]bool{}
		for k := range users {
			if k.Day {
				sealed[k.Bucket] = false
			}
		}
		if err := sealedDays(ctx, tx, sealed); err != nil {
			return fmt.Errorf("store: commit: user_days: %w", err)
		}
	}
	days := make([]any, 0, 8*len(users)/2)
	hours := make([]any, 0, 8*len(users)/2)
	for k, u := range users {
		if k.Day && sealed != nil && !sealed[k.Bucket] {
			continue
		}
		row := []any{k.Bucket, k.Actor, k.Country, u.ActorID, u.Events, u.Failures, u.LastSeen, u.LastIP}
		if k.Day {
			days = append(days, row...)
		} else {
			hours = append(hours, row...)
		}
	}
	for _, t := range []struct {
		table string
		args  []any
	}{{"user_days", days}, {"user_hours", hours}} {
		if err := s.multiExec(ctx, tx, t.table, t.args); err != nil {
			return fmt.Errorf("store: commit: %s: %w", t.table, err)
		}
	}
	return nil
}

func (s *Store) upsertGeo(ctx context.Context, tx *sql.Tx, geos map[GeoKey]*Seen) error {
	if len(geos) == 0 {
		return nil
	}
	args := make([]any, 0, 9*len(geos))
	for k, g := range geos {
		args = append(args, k.Bucket, k.EventType, k.Outcome, k.Lat, k.Lon, k.Country, k.City, g.N, g.LastSeen)
	}
	if err := s.multiExec(ctx, tx, "geo_hours", args); err != nil {
		return fmt.Errorf("store: commit: geo_hours: %w", err)
	}
	return nil
}
