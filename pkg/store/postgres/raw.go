package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/zstd"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// The events' raw JSON is stored as zstd frames (events.raw), compressed
// with a raw-content dictionary made of the org's own events, exactly as
// SQLite's store does (pkg/store/raw.go and raw_dict.go, shared through
// store.RawCodec): a frame names its dictionary (raw_dicts.id, unique per
// org), so the frames written before the org had a dictionary (schema < 7:
// no dictionary at all) stay readable as they are. Each org has its own
// dictionaries; a handle loads only its org's, so it cannot decode another
// org's frames (nor is it ever asked to).
//
// A store migrated to schema 7 builds its dictionary at its first commit
// (the leader's: the open writes nothing) from the org's newest stored
// events; a new org builds it from its first
// store.RawDictSamples committed events (normally the first page, which is
// then compressed with it). Rows written before are not rewritten: an
// UPDATE of a full page's rows writes new row versions and index entries
// and leaves the old versions as free space that a past day's partition
// never reuses, so it would grow the store, not shrink it; the old rows go
// with their day partitions (retention).

// rawWorkers is how many goroutines compress a page's raw JSON (the
// encoder runs as many EncodeAll calls at once, see store.NewRawCodec).
var rawWorkers = max(1, min(runtime.GOMAXPROCS(0), 8))

// rawDictsVersion is the schema version that has raw_dicts.
const rawDictsVersion = 7

// rawDictLock serialises the building of an org's dictionary (with the org
// id as the second key), so that instances opening at once store one.
const rawDictLock = 7366424

// rawState is the handle's raw JSON compression state.
type rawState struct {
	mu      sync.Mutex        // guards codec swaps and samples
	codec   *store.RawCodec   // current codec; replaced (never mutated) on a new dictionary
	samples [][]byte          // raw JSON kept to build the org's first dictionary
	stored  bool              // no dictionary at open: the first commit samples the stored events first
	dicts   bool              // the schema has raw_dicts
	ndicts  int               // dictionaries codec knows
	old     []*store.RawCodec // replaced codecs, closed with the handle
}

func (s *Store) codec() *store.RawCodec {
	s.raw.mu.Lock()
	defer s.raw.mu.Unlock()
	return s.raw.codec
}

// openRaw loads the org's dictionaries. Without one, the org's first
// commit builds it (sample), from its newest stored events first (a store
// migrated to schema 7 has events and no dictionary): the open writes
// nothing, so a follower or a read-only role opens as well.
func (s *Store) openRaw(ctx context.Context, version int) error {
	s.raw.dicts = version >= rawDictsVersion && !s.cfg.rawNoDict
	if !s.raw.dicts {
		c, err := store.NewRawCodec(nil, 0)
		if err != nil {
			return err
		}
		s.raw.codec = c
		return nil
	}
	if err := s.loadCodec(ctx); err != nil {
		return err
	}
	if s.codec().DictID() == 0 {
		// the dictionary is built by the org's first commit (the
		// leader's), from the stored events first: the open writes nothing
		s.raw.mu.Lock()
		s.raw.stored = true
		s.raw.mu.Unlock()
	}
	return nil
}

// sampleStored takes the org's newest stored events as the dictionary's
// first samples (a store migrated to schema 7 has events and no
// dictionary).
func (s *Store) sampleStored(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, "SELECT raw FROM events WHERE org = $1 ORDER BY published DESC LIMIT $2", s.org, store.RawDictSamples)
	if err != nil {
		return fmt.Errorf("store: raw JSON samples: %w", err)
	}
	frames, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return fmt.Errorf("store: raw JSON samples: %w", err)
	}
	var samples [][]byte
	for _, f := range frames {
		j, err := s.decompress(ctx, f)
		if err != nil {
			return fmt.Errorf("store: raw JSON samples: %w", err)
		}
		if len(j) > 0 {
			samples = append(samples, j)
		}
	}
	s.raw.mu.Lock()
	s.raw.samples, s.raw.stored = samples, false
	s.raw.mu.Unlock()
	return nil
}

// loadCodec reads the org's dictionaries and installs a codec that knows
// all of them and encodes with the newest.
func (s *Store) loadCodec(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, "SELECT id, dict FROM raw_dicts WHERE org = $1 ORDER BY created_at, id", s.org)
	if err != nil {
		return fmt.Errorf("store: raw dictionaries: %w", err)
	}
	type dictRow struct {
		ID   int32
		Dict []byte
	}
	stored, err := pgx.CollectRows(rows, pgx.RowToStructByPos[dictRow])
	if err != nil {
		return fmt.Errorf("store: raw dictionaries: %w", err)
	}
	dicts := make(map[uint32][]byte, len(stored))
	var newest uint32 // the last created
	for _, d := range stored {
		dicts[uint32(d.ID)], newest = d.Dict, uint32(d.ID) // #nosec G115 -- the integer column holds a uint32 id bit for bit (written with int32())
	}
	c, err := store.NewRawCodec(dicts, newest)
	if err != nil {
		return err
	}
	s.raw.mu.Lock()
	defer s.raw.mu.Unlock()
	if cur := s.raw.codec; cur != nil && s.raw.ndicts == len(dicts) && cur.DictID() == newest {
		c.Close() // nothing new (a frame of an unknown dictionary): keep the codec
		return nil
	}
	if s.raw.codec != nil {
		// readers may still hold it: closed with the handle
		s.raw.old = append(s.raw.old, s.raw.codec)
	}
	s.raw.codec, s.raw.ndicts = c, len(dicts)
	if newest != 0 {
		s.raw.samples = nil
	}
	return nil
}

// sample keeps the raw JSON of a page's events while the org has no
// dictionary; once there are store.RawDictSamples it builds the
// dictionary, so that the page is compressed with it. Store.mu held.
func (s *Store) sample(ctx context.Context, evs []event.Event) error {
	if !s.raw.dicts || s.codec().DictID() != 0 {
		return nil
	}
	s.raw.mu.Lock()
	stored := s.raw.stored
	s.raw.mu.Unlock()
	if stored {
		if err := s.sampleStored(ctx); err != nil {
			return err
		}
	}
	s.raw.mu.Lock()
	for i := range evs {
		if len(s.raw.samples) >= store.RawDictSamples {
			break
		}
		if len(evs[i].Raw) > 0 {
			s.raw.samples = append(s.raw.samples, bytes.Clone(evs[i].Raw))
		}
	}
	enough := len(s.raw.samples) >= store.RawDictSamples
	s.raw.mu.Unlock()
	if !enough {
		return nil
	}
	return s.buildDict(ctx)
}

// buildDict stores a dictionary built from the samples (unless another
// instance stored the org's first one meanwhile) and installs the org's
// dictionaries. Too few samples: nothing to do.
func (s *Store) buildDict(ctx context.Context) error {
	s.raw.mu.Lock()
	d := store.BuildRawDict(s.raw.samples)
	enough := len(s.raw.samples) >= store.RawDictSamples
	s.raw.mu.Unlock()
	if !enough || d == nil {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", rawDictLock, s.org); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT id FROM raw_dicts WHERE org = $1", s.org)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil || len(ids) > 0 {
			return err // another instance built it: load that one
		}
		id := store.NewRawDictID(nil)
		_, err = tx.Exec(ctx, "INSERT INTO raw_dicts (org, id, dict, created_at) VALUES ($1, $2, $3, $4)",
			s.org, int32(id), d, time.Now().UnixMilli()) // #nosec G115 -- a uint32 id stored in an integer column bit for bit; read back with uint32() (loadRawDicts)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: store raw dictionary: %w", err)
	}
	return s.loadCodec(ctx)
}

// compressAll compresses the events' raw JSON, on up to one goroutine per
// core (the encoder is safe for concurrent EncodeAll calls). Empty raw
// JSON is stored as an empty value.
func (s *Store) compressAll(evs []event.Event) [][]byte {
	c := s.codec()
	out := make([][]byte, len(evs))
	workers := min(rawWorkers, (len(evs)+63)/64)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(evs); i += workers {
				out[i] = c.Compress(make([]byte, 0, len(evs[i].Raw)/4+16), evs[i].Raw)
			}
		}(w)
	}
	wg.Wait()
	return out
}

// decompress returns a stored value's JSON (nil for an empty value). A
// frame naming a dictionary the handle does not know yet (built by
// another instance of the org after this one loaded its codec) reloads the
// org's dictionaries once.
func (s *Store) decompress(ctx context.Context, b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	j, err := s.codec().Decompress(b)
	if errors.Is(err, zstd.ErrUnknownDictionary) && s.raw.dicts {
		if lerr := s.loadCodec(ctx); lerr != nil {
			return nil, lerr
		}
		j, err = s.codec().Decompress(b)
	}
	return j, err
}

// closeRaw releases the codecs (Store.mu held, the pool closed).
func (s *Store) closeRaw() {
	s.raw.mu.Lock()
	defer s.raw.mu.Unlock()
	for _, c := range append(s.raw.old, s.raw.codec) {
		if c != nil {
			c.Close()
		}
	}
	s.raw.old = nil // the closed codec stays: a late reader gets an error, not a nil codec
}
