package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

var stageCols = []string{"seq", "published", "uuid", "event_type", "actor", "actor_id", "actor_type", "actor_name",
	"outcome", "reason", "ip", "country", "city", "lat", "lon", "session_id", "severity", "display_message", "target",
	"risk_level", "ip_categories", "raw"}

// eventCols are the events columns the direct COPY fills.
var eventCols = append([]string{"org"}, stageCols[1:]...)

const eventInsertCols = `published, uuid, event_type, actor, actor_id, actor_type, actor_name, outcome, reason, ip, country, city,
	lat, lon, session_id, severity, display_message, target, risk_level, ip_categories, raw`

// Commit writes a batch in one transaction (see store.Backend). The
// events are COPYed straight into their day partitions: the pipeline hands
// Commit events it has checked against the store (HasEvents), so a stored
// one is rare, and the partitions' primary key refuses it. Then the whole
// transaction is redone on the deduplicating path (COPY into a
// per-connection staging table, INSERT ... SELECT ... ON CONFLICT DO
// NOTHING RETURNING, which tells which events are new). Roll-ups, alerts,
// checkpoint and state follow in the same transaction. With a lease taken
// (Lead), the transaction first locks the org's lease row FOR SHARE and
// checks the token: a takeover waits for this commit, and a deposed
// leader's commit fails with store.ErrFenced.
func (s *Store) Commit(ctx context.Context, b store.Batch) (store.CommitResult, error) {
	if err := validate(b); err != nil {
		return store.CommitResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.CommitResult{}, store.ErrClosed
	}
	if s.cpSeq.resyncDue() {
		if err := s.resync(ctx); err != nil {
			return store.CommitResult{}, s.explainWrite(ctx, err)
		}
	}
	if err := s.ensurePartitions(ctx, b.Events); err != nil {
		return store.CommitResult{}, s.explainWrite(ctx, fmt.Errorf("store: commit: %w", err))
	}
	if err := s.sample(ctx, b.Events); err != nil {
		return store.CommitResult{}, s.explainWrite(ctx, fmt.Errorf("store: commit: %w", err))
	}
	res, err := s.commit(ctx, b, true)
	if errors.Is(err, errStored) {
		res, err = s.commit(ctx, b, false)
	}
	return res, s.explainWrite(ctx, err)
}

// errStored is the direct COPY's failure on an event stored already.
var errStored = errors.New("an event of the batch is stored already")

// commit runs the page transaction; direct chooses the COPY into the
// partitions (it fails with errStored on a stored event) over the
// deduplicating insert.
func (s *Store) commit(ctx context.Context, b store.Batch, direct bool) (store.CommitResult, error) {
	res := store.CommitResult{Inserted: make([]bool, len(b.Events)), AlertInserted: make([]bool, len(b.Alerts)),
		AlertUpdated: make([]bool, len(b.Alerts))}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return store.CommitResult{}, fmt.Errorf("store: commit: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if err := s.checkFence(ctx, tx); err != nil {
		return store.CommitResult{}, fmt.Errorf("store: commit: %w", err)
	}
	// The org's retention horizon, read FOR SHARE: a Prune of this org (on
	// any instance) waits for this commit before it moves the horizon and
	// drops partitions, so no event lands in a day being dropped.
	// With the geo sets, the org's days without sets yet come with it
	// (geo_sets.go: a build step holds the row FOR UPDATE meanwhile).
	// With it, the checkpoint's commit sequence (checkpoint_seq.go): the
	// commit goes onto the checkpoint this handle last wrote or read.
	var horizon, seq int64
	var ub unbuilt
	cols, dest := "retained_from", []any{&horizon}
	if s.geoSets {
		cols, dest = cols+", geo_unbuilt_lo, geo_unbuilt_hi", append(dest, &ub.lo, &ub.hi)
	}
	if s.cpSeq.enabled {
		cols, dest = cols+", COALESCE((SELECT seq FROM checkpoint WHERE org = $1), 0)", append(dest, &seq)
	}
	if err := tx.QueryRow(ctx, "SELECT "+cols+" FROM orgs WHERE id = $1 FOR SHARE", s.org).Scan(dest...); err != nil {
		return store.CommitResult{}, fmt.Errorf("store: commit: retention horizon: %w", err)
	}
	if err := s.cpSeq.check(seq); err != nil {
		return store.CommitResult{}, fmt.Errorf("store: commit: %w", err)
	}
	gc := &geoCommit{ub: ub, pending: map[string]int32{}, maxDay: -1}
	// the statements after the events' COPY go to the server in one
	// round trip (pgx Batch), in order
	q := &stmtBatch{}
	if err := s.commitEvents(ctx, tx, q, b.Events, horizon, direct, &res, gc); err != nil {
		return store.CommitResult{}, err
	}
	if err := s.commitAlerts(ctx, tx, b.Alerts, &res); err != nil {
		return store.CommitResult{}, err
	}
	if len(b.ExceptionHits) > 0 {
		ids, ns := make([]int64, 0, len(b.ExceptionHits)), make([]int64, 0, len(b.ExceptionHits))
		for id, n := range b.ExceptionHits {
			ids, ns = append(ids, id), append(ns, n)
		}
		q.add("exception hits", `UPDATE alert_exceptions x SET hits = x.hits + h.n, last_hit = GREATEST(x.last_hit, $4)
			FROM unnest($2::bigint[], $3::bigint[]) AS h(id, n) WHERE x.org = $1 AND x.id = h.id`, s.org, ids, ns, store.MS(b.HitsAt))
	}
	now := time.Now().UTC()
	if cp := b.Checkpoint; cp != nil {
		upd := cp.UpdatedAt
		if upd.IsZero() {
			upd = now
		}
		args := []any{s.org, cp.NextURL, store.MS(cp.MaxPublished), store.MS(cp.BackfillSince), cp.BackfillDone, store.MS(upd)}
		cols, vals, set := "", "", ""
		if s.cpSeq.enabled {
			cols, vals, set, args = ", seq", ", $7", ", seq = excluded.seq", append(args, seq+1)
		}
		q.add("checkpoint", `INSERT INTO checkpoint (org, next_url, max_published, backfill_since, backfill_done, updated_at`+cols+`)
			VALUES ($1, $2, $3, $4, $5, $6`+vals+`) ON CONFLICT (org) DO UPDATE SET next_url = excluded.next_url,
			max_published = excluded.max_published, backfill_since = excluded.backfill_since,
			backfill_done = excluded.backfill_done, updated_at = excluded.updated_at`+set, args...)
	}
	for _, p := range b.StateReset {
		q.add(fmt.Sprintf("state reset %q", p), "DELETE FROM state WHERE org = $1 AND starts_with(key, $2)", s.org, p)
	}
	if len(b.State) > 0 {
		var keys, dels []string
		var vals [][]byte
		for _, k := range store.SortedStateKeys(b.State) { // key order: neighbouring index entries together
			v := b.State[k]
			if v == nil {
				dels = append(dels, k)
				continue
			}
			keys = append(keys, k)
			vals = append(vals, v)
		}
		if len(dels) > 0 {
			q.add("state", "DELETE FROM state WHERE org = $1 AND key = ANY($2)", s.org, dels)
		}
		if len(keys) > 0 {
			q.add("state", `INSERT INTO state (org, key, value, updated_at) SELECT $1, k, v, $4
				FROM unnest($2::text[], $3::bytea[]) AS u(k, v)
				ON CONFLICT (org, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
				s.org, keys, vals, now.UnixMilli())
		}
	}
	if err := q.run(ctx, tx); err != nil {
		return store.CommitResult{}, err
	}
	if s.userSegs && res.EventsInserted > 0 {
		// after the roll-up upserts ran: normally the buckets this page
		// closed (an hour, once a day a day); bounded, so a page of late
		// events stays cheap
		budget := sealBudget
		if s.userParts {
			budget = s.sealBudgetFor(int(res.EventsInserted))
		}
		work, _, err := s.sealUserBuckets(ctx, tx, budget)
		if err != nil {
			return store.CommitResult{}, fmt.Errorf("store: commit: %w", err)
		}
		s.sealWork = work
	}
	if s.geoSets && gc.maxDay > s.geo.sealedTo {
		// the first page of a new day: seal the days before it
		if err := s.sealNewGeoDays(ctx, tx, gc.maxDay, gc.ub); err != nil {
			return store.CommitResult{}, fmt.Errorf("store: commit: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return store.CommitResult{}, fmt.Errorf("store: commit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return store.CommitResult{}, fmt.Errorf("store: commit: %w", err)
	}
	if b.Checkpoint != nil && s.cpSeq.enabled {
		s.cpSeq.committed(seq + 1)
	}
	if s.geoSets {
		s.installIDs(gc.pending)
		s.geo.sealedTo = max(s.geo.sealedTo, gc.maxDay)
	}
	return res, nil
}

// stmtBatch queues statements whose results are not read (roll-up,
// checkpoint and state upserts) and sends them in one round trip; each is
// named for its error.
type stmtBatch struct {
	b    pgx.Batch
	what []string
}

func (q *stmtBatch) add(what, sql string, args ...any) {
	q.b.Queue(sql, args...)
	q.what = append(q.what, what)
}

func (q *stmtBatch) run(ctx context.Context, tx pgx.Tx) error {
	if q.b.Len() == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, &q.b)
	for _, w := range q.what {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("store: commit: %s: %w", w, err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func validate(b store.Batch) error {
	for i := range b.Events {
		ev := &b.Events[i]
		if ev.UUID == "" {
			return fmt.Errorf("store: commit: %w: event %d has no uuid", store.ErrInvalidBatch, i)
		}
		if ev.Published.IsZero() {
			return fmt.Errorf("store: commit: %w: event %d (%s) has no published time", store.ErrInvalidBatch, i, ev.UUID)
		}
	}
	for i := range b.Alerts {
		a := &b.Alerts[i]
		switch {
		case a.ID == "":
			return fmt.Errorf("store: commit: %w: alert %d has no id", store.ErrInvalidBatch, i)
		case a.Detector == "":
			return fmt.Errorf("store: commit: %w: alert %s has no detector", store.ErrInvalidBatch, a.ID)
		case a.Time.IsZero():
			return fmt.Errorf("store: commit: %w: alert %s has no time", store.ErrInvalidBatch, a.ID)
		}
	}
	return store.ValidateStateChange(b)
}

// commitEvents stores the events published at or after horizon (the
// org's retention horizon; older ones are counted as expired): COPY into
// each day partition when direct, else through the staging table.
func (s *Store) commitEvents(ctx context.Context, tx pgx.Tx, q *stmtBatch, evs []event.Event, horizon int64, direct bool, res *store.CommitResult, gc *geoCommit) error {
	if len(evs) == 0 {
		return nil
	}
	cols := make([]store.EventColumns, len(evs))
	raws := s.compressAll(evs)
	seen := make(map[string]struct{}, len(evs))
	days := map[int64][][]any{} // direct: rows per partition day
	var staged [][]any
	for i := range evs {
		ev := &evs[i]
		c := store.ColumnsOf(ev)
		cols[i] = c
		if c.Published < horizon {
			res.EventsExpired++
			continue
		}
		var lat, lon any
		if c.HasGeo {
			lat, lon = c.Lat, c.Lon
		}
		if !direct {
			staged = append(staged, []any{int32(i), c.Published, ev.UUID, ev.EventType, ev.Actor.AlternateID, ev.Actor.ID, ev.Actor.Type,
				ev.Actor.DisplayName, ev.Outcome.Result, ev.Outcome.Reason, c.IP, c.Country, c.City, lat, lon, c.Session,
				ev.Severity, ev.DisplayMessage, c.Target, ev.Debug.RiskLevel, int16(ev.IP.Categories), raws[i]})
			continue
		}
		// a uuid's first occurrence in the batch is the one stored
		if _, dup := seen[ev.UUID]; dup {
			continue
		}
		seen[ev.UUID] = struct{}{}
		d := store.FloorTo(c.Published, store.DayMS)
		days[d] = append(days[d], []any{s.org, c.Published, ev.UUID, ev.EventType, ev.Actor.AlternateID, ev.Actor.ID, ev.Actor.Type,
			ev.Actor.DisplayName, ev.Outcome.Result, ev.Outcome.Reason, c.IP, c.Country, c.City, lat, lon, c.Session,
			ev.Severity, ev.DisplayMessage, c.Target, ev.Debug.RiskLevel, int16(ev.IP.Categories), raws[i]})
		res.Inserted[i] = true
		res.EventsInserted++
	}
	if direct {
		for d, rows := range days {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{partName(d)}, eventCols, pgx.CopyFromRows(rows)); err != nil {
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
					return errStored
				}
				return fmt.Errorf("store: commit: events: %w", err)
			}
		}
		return s.rollups(ctx, tx, q, evs, cols, res.Inserted, gc)
	}
	if len(staged) == 0 {
		return nil
	}
	// the connection's staging table, made on its first use (postgres.go)
	if _, err := tx.Exec(ctx, stageDDL); err != nil {
		return fmt.Errorf("store: commit: staging table: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage_events"}, stageCols, pgx.CopyFromRows(staged)); err != nil {
		return fmt.Errorf("store: commit: events: %w", err)
	}
	// DISTINCT ON keeps a uuid's first occurrence in the batch
	r, err := tx.Query(ctx, `INSERT INTO events (org, `+eventInsertCols+`)
		SELECT $1, `+eventInsertCols+` FROM (SELECT DISTINCT ON (uuid) * FROM stage_events ORDER BY uuid, seq) d
		ON CONFLICT DO NOTHING RETURNING uuid`, s.org)
	if err != nil {
		return fmt.Errorf("store: commit: events: %w", err)
	}
	first := make(map[string]int, len(evs))
	for i := len(evs) - 1; i >= 0; i-- {
		first[evs[i].UUID] = i
	}
	for r.Next() {
		var u string
		if err := r.Scan(&u); err != nil {
			r.Close()
			return fmt.Errorf("store: commit: events: %w", err)
		}
		i, ok := first[u]
		if !ok || res.Inserted[i] {
			r.Close()
			return fmt.Errorf("store: commit: insert reported unexpected uuid %q", u)
		}
		res.Inserted[i] = true
		res.EventsInserted++
	}
	r.Close()
	if err := r.Err(); err != nil {
		return fmt.Errorf("store: commit: events: %w", err)
	}
	return s.rollups(ctx, tx, q, evs, cols, res.Inserted, gc)
}

// geoCommit is a page commit's part of the geo sets (geo_sets.go).
type geoCommit struct {
	ub      unbuilt          // the org's days without sets, read with the horizon
	pending map[string]int32 // actor numbers given in this transaction
	maxDay  int64            // start of the newest day of the inserted events, -1 if none
}

// rollups folds the inserted events into the roll-ups and dictionaries
// (the same ones as SQLite's, see pkg/store/commit.go), one statement per
// table (rollup_sql.go); with the geo sets, the geo rows carry their
// actors (geo_sets.go).
func (s *Store) rollups(ctx context.Context, tx pgx.Tx, q *stmtBatch, evs []event.Event, cols []store.EventColumns, inserted []bool, gc *geoCommit) error {
	g := store.NewIngestAgg()
	g.RoundGeo = round2 // one unnest upsert cannot merge two rows into one
	var page *geoPage
	if s.geoSets {
		page = newGeoPage()
	}
	for i := range evs {
		if inserted[i] {
			g.Add(&evs[i], &cols[i])
			if page != nil {
				page.add(&evs[i], &cols[i])
			}
		}
	}
	if page != nil {
		gc.maxDay = page.maxDay
	}
	plain := s.cfg.rollupsOnConflict
	for j, l := range store.CountRollups() {
		if len(g.Counts[j]) == 0 {
			continue
		}
		var b, n []int64
		var et, oc, co []string
		for k, v := range g.Counts[j] {
			b, et, oc, co, n = append(b, k.Bucket), append(et, k.EventType), append(oc, k.Outcome), append(co, k.Country), append(n, v)
		}
		q.add(l.Table, countRollupSQL(l.Table).upsertSQL(plain), s.org, b, et, oc, co, n)
		if s.outcomeCounts {
			s.queueOutcomeCounts(q, l.Table, g.Counts[j])
		}
	}
	if s.levelCounts && len(g.Levels) > 0 {
		queueLevels(q, s.org, plain, g.Levels)
	}
	for _, day := range []bool{true, false} {
		table := "user_hours"
		if day {
			table = "user_days"
		}
		var b, ev, fl, ls []int64
		var ac, co, id, ip []string
		for k, u := range g.Users {
			if k.Day != day {
				continue
			}
			b, ac, co, id = append(b, k.Bucket), append(ac, k.Actor), append(co, k.Country), append(id, u.ActorID)
			ev, fl, ls, ip = append(ev, u.Events), append(fl, u.Failures), append(ls, u.LastSeen), append(ip, u.LastIP)
		}
		if len(b) == 0 {
			continue
		}
		q.add(table, userRollupSQL(table).upsertSQL(plain), s.org, b, ac, co, id, ev, fl, ls, ip)
	}
	if page != nil {
		if err := s.queueGeoSets(ctx, tx, q, g.Geos, page, gc.pending); err != nil {
			return err
		}
	} else if len(g.Geos) > 0 {
		var b, n, ls []int64
		var et, oc, co, ci []string
		var la, lo []float64
		for k, v := range g.Geos {
			b, et, oc, la, lo = append(b, k.Bucket), append(et, k.EventType), append(oc, k.Outcome), append(la, k.Lat), append(lo, k.Lon)
			co, ci, n, ls = append(co, k.Country), append(ci, k.City), append(n, v.N), append(ls, v.LastSeen)
		}
		q.add("geo_hours", geoRollup.upsertSQL(plain), s.org, b, et, oc, la, lo, co, ci, n, ls)
	}
	if len(g.Actors) > 0 {
		var ac, id []string
		var ls, n []int64
		for a, v := range g.Actors {
			ac, id, ls, n = append(ac, a), append(id, v.ID), append(ls, v.LastSeen), append(n, v.N)
		}
		q.add("actors", actorRollup.upsertSQL(plain), s.org, ac, id, ls, n)
	}
	if len(g.Types) > 0 {
		var et []string
		var ls, n []int64
		for t, v := range g.Types {
			et, ls, n = append(et, t), append(ls, v.LastSeen), append(n, v.N)
		}
		q.add("event types", typeRollup.upsertSQL(plain), s.org, et, ls, n)
	}
	return nil
}

func (s *Store) commitAlerts(ctx context.Context, tx pgx.Tx, alerts []alert.Alert, res *store.CommitResult) error {
	now := time.Now().UnixMilli()
	for i := range alerts {
		a := &alerts[i]
		js, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("store: commit: %w: alert %s: %w", store.ErrInvalidBatch, a.ID, err)
		}
		evidence, err := json.Marshal(a.Evidence)
		if err != nil {
			return fmt.Errorf("store: commit: %w: alert %s evidence: %w", store.ErrInvalidBatch, a.ID, err)
		}
		// one incident is one alert: a grown incident (same id) replaces the
		// stored version; first time, actor and stored_at stay
		var inserted bool
		err = tx.QueryRow(ctx, `INSERT INTO alerts AS a (org, id, detector, severity, time, actor, actor_id, ip, country,
			title, summary, json, stored_at, evidence, event_ids, mitre) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
			ON CONFLICT (org, id) DO UPDATE SET severity = excluded.severity, ip = excluded.ip, country = excluded.country,
				title = excluded.title, summary = excluded.summary, json = excluded.json,
				evidence = excluded.evidence, event_ids = excluded.event_ids, mitre = excluded.mitre
			WHERE a.json <> excluded.json
			RETURNING (xmax = 0)`,
			s.org, a.ID, a.Detector, strings.ToLower(a.Severity), store.MS(a.Time), a.Actor, a.ActorID, a.IP, a.Country,
			a.Title, a.Summary, js, now, string(evidence), strings.Join(a.EventIDs, ","), strings.Join(a.MITRE, ",")).Scan(&inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // stored already, unchanged
		}
		if err != nil {
			return fmt.Errorf("store: commit: alert %s: %w", a.ID, err)
		}
		if inserted {
			res.AlertInserted[i] = true
			res.AlertsInserted++
		} else {
			res.AlertUpdated[i] = true
			res.AlertsUpdated++
		}
		var links []string
		for _, u := range a.EventIDs {
			if u != "" {
				links = append(links, u)
			}
		}
		if len(links) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO alert_events (org, alert_id, event_uuid) SELECT $1, $2, u FROM unnest($3::text[]) u
				ON CONFLICT DO NOTHING`, s.org, a.ID, links); err != nil {
				return fmt.Errorf("store: commit: alert %s links: %w", a.ID, err)
			}
		}
	}
	return nil
}

// LoadCheckpoint returns the org's checkpoint; ok is false before the first commit.
func (s *Store) LoadCheckpoint(ctx context.Context) (store.Checkpoint, bool, error) {
	var cp store.Checkpoint
	var maxPub, since, upd, seq int64
	seqCol := "0"
	if s.cpSeq.enabled {
		seqCol = "seq"
	}
	err := s.pool.QueryRow(ctx, `SELECT next_url, max_published, backfill_since, backfill_done, updated_at, `+seqCol+`
		FROM checkpoint WHERE org = $1`, s.org).Scan(&cp.NextURL, &maxPub, &since, &cp.BackfillDone, &upd, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		s.cpSeq.loaded(0) // the handle's commits go onto no checkpoint, then its own
		return store.Checkpoint{}, false, nil
	}
	if err != nil {
		return store.Checkpoint{}, false, fmt.Errorf("store: load checkpoint: %w", err)
	}
	s.cpSeq.loaded(seq) // the handle's commits go onto this checkpoint (checkpoint_seq.go)
	cp.MaxPublished, cp.BackfillSince, cp.UpdatedAt = store.FromMS(maxPub), store.FromMS(since), store.FromMS(upd)
	return cp, true, nil
}

// HasEvents reports which of the uuids the org has stored. Without the
// events' times it looks in every day partition's primary key; the
// statement runs with a generic plan (plan_cache_mode is per transaction
// here: the pool plans everything else with its values), since a custom
// plan of it considers every index of every partition and, at 31
// partitions, took longer to plan than to run (EXPLAIN on a 30-day
// store, 1 000 uuids, load ~17: 148-189 ms planning + 66-77 ms execution
// against 0.2 ms + 102-107 ms).
func (s *Store) HasEvents(ctx context.Context, uuids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(uuids))
	if len(uuids) == 0 {
		return out, nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT uuid FROM events WHERE org = $1 AND uuid = ANY($2)", s.org, uuids)
		if err != nil {
			return err
		}
		return collectUUIDs(rows, out)
	})
	if err != nil {
		return nil, fmt.Errorf("store: has events: %w", err)
	}
	return out, nil
}

// HasEventsAt is HasEvents given the events' published times: it looks
// only in the partitions of the times' range (normally one day, two at
// midnight; up to hasEventsAtMaxSpan), planned with the values (the
// pool's force_custom_plan), so the planner prunes the other partitions
// and the probe no longer grows with the days kept. An event is stored
// once per (uuid, published), the partitions' primary key. Without a time
// for each uuid it is HasEvents.
func (s *Store) HasEventsAt(ctx context.Context, uuids []string, published []time.Time) (map[string]bool, error) {
	if len(published) != len(uuids) || len(uuids) == 0 {
		return s.HasEvents(ctx, uuids)
	}
	lo, hi := int64(0), int64(0)
	for i, t := range published {
		if t.IsZero() {
			return s.HasEvents(ctx, uuids)
		}
		ms := store.MS(t)
		if i == 0 || ms < lo {
			lo = ms
		}
		if i == 0 || ms > hi {
			hi = ms
		}
	}
	if hi-lo > hasEventsAtMaxSpan {
		// planning with the values considers every partition of the range:
		// over many days, the generic plan over all of them is cheaper
		return s.HasEvents(ctx, uuids)
	}
	out := make(map[string]bool, len(uuids))
	rows, err := s.pool.Query(ctx, hasEventsAtSQL, s.org, lo, hi, uuids)
	if err == nil {
		err = collectUUIDs(rows, out)
	}
	if err != nil {
		return nil, fmt.Errorf("store: has events: %w", err)
	}
	return out, nil
}

// hasEventsAtMaxSpan is the widest range of times HasEventsAt probes by
// partition; a wider page (a sparse org's backfill) is probed by uuid.
const hasEventsAtMaxSpan = 7 * store.DayMS

// hasEventsAtSQL is HasEventsAt's probe (TestHasEventsAtPrunesPartitions
// holds its plan to the partitions of the range).
const hasEventsAtSQL = "SELECT uuid FROM events WHERE org = $1 AND published BETWEEN $2 AND $3 AND uuid = ANY($4)"

// collectUUIDs adds the rows' uuids to out and closes rows.
func collectUUIDs(rows pgx.Rows, out map[string]bool) error {
	defer rows.Close()
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return err
		}
		out[u] = true
	}
	return rows.Err()
}

// GetState returns one state key.
func (s *Store) GetState(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, "SELECT value FROM state WHERE org = $1 AND key = $2", s.org, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get state %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// AllState returns every state key with the prefix.
func (s *Store) AllState(ctx context.Context, prefix string) (map[string][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM state WHERE org = $1 AND starts_with(key, $2) ORDER BY key`, s.org, prefix)
	if err != nil {
		return nil, fmt.Errorf("store: state: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("store: state: %w", err)
		}
		if v == nil {
			v = []byte{}
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: state: %w", err)
	}
	return out, nil
}
