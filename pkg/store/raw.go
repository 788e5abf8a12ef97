package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The events' raw JSON is stored as zstd frames (events_raw.raw), compressed
// with a dictionary made of this store's own first events (raw_dict.go): an
// Okta event of ~2.4 KB takes ~210 bytes with it and ~1.2 KB without. A
// frame names its dictionary (the zstd dictionary id = raw_dicts.id), so
// rows written before a dictionary existed, or under an older one, stay
// readable. Rows written by versions before schema 6 hold plain JSON;
// readers tell the two apart by the zstd magic number, and a background
// pass rewrites them (see recompressBatch).
const (
	// rawDictSamples is how many events a dictionary is trained on.
	rawDictSamples = 256
	// rawRecompressBatch is how many legacy rows one recompression
	// transaction rewrites (the writer lock is released in between).
	rawRecompressBatch = 1000
)

// rawEncoders is how many events Commit compresses at once (one zstd
// encoder each).
var rawEncoders = max(1, min(runtime.GOMAXPROCS(0), 8))

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// rawCodec compresses and decompresses raw JSON. Both directions are safe
// for concurrent use.
type rawCodec struct {
	dictID  uint32            // the dictionary new frames use; 0: none yet
	trained bool              // dictID is a trained dictionary (see raw_dict.go)
	dicts   map[uint32][]byte // every dictionary the decoder knows, by id
	enc     *zstd.Encoder
	dec     *zstd.Decoder
}

// needsDict tells whether the store should sample events for a new
// raw-content dictionary: it has none, or only a trained one.
func (c *rawCodec) needsDict() bool { return c.dictID == 0 || c.trained }

func newRawCodec(dicts map[uint32][]byte, newest uint32) (*rawCodec, error) {
	eopts := []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(rawEncoders),
		zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false)}
	dopts := []zstd.DOption{zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256 << 20)}
	for id, d := range dicts {
		if isTrainedDict(d) {
			dopts = append(dopts, zstd.WithDecoderDicts(d))
		} else {
			dopts = append(dopts, zstd.WithDecoderDictRaw(id, d))
		}
	}
	trained := false
	if newest != 0 {
		d := dicts[newest]
		if trained = isTrainedDict(d); trained {
			eopts = append(eopts, zstd.WithEncoderDict(d))
		} else {
			eopts = append(eopts, zstd.WithEncoderDictRaw(newest, d))
		}
	}
	enc, err := zstd.NewWriter(nil, eopts...)
	if err != nil {
		return nil, fmt.Errorf("store: raw JSON encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, dopts...)
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("store: raw JSON decoder: %w", err)
	}
	return &rawCodec{dictID: newest, trained: trained, dicts: dicts, enc: enc, dec: dec}, nil
}

func (c *rawCodec) close() {
	c.enc.Close()
	c.dec.Close()
}

// compress appends raw's frame to dst. Empty raw JSON stays empty.
func (c *rawCodec) compress(dst, raw []byte) []byte {
	if len(raw) == 0 {
		return dst
	}
	return c.enc.EncodeAll(raw, dst)
}

// decompress returns the JSON of a stored value: plain JSON (schema < 6)
// as is, a zstd frame decoded.
func (c *rawCodec) decompress(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, zstdMagic) {
		return b, nil
	}
	return c.decompressTo(nil, b)
}

// decompressTo appends the decoded zstd frame b to dst.
func (c *rawCodec) decompressTo(dst, b []byte) ([]byte, error) {
	out, err := c.dec.DecodeAll(b, dst)
	if err != nil {
		return nil, fmt.Errorf("store: decompress raw JSON: %w", err)
	}
	return out, nil
}

// rawState is the Store's compression state; guarded by Store.mu except
// codec, which readers load atomically.
type rawState struct {
	samples [][]byte // raw JSON kept to train the first dictionary
	noDicts bool     // schema < 6 (tests): no dictionary table
	bgStop  context.CancelFunc
	bgDone  chan struct{}
	bgErr   error
}

func (s *Store) codec() *rawCodec { return s.rawCodec.Load() }

// loadRawCodec reads the dictionaries (writer connection, at open) and,
// while there is none, the latest rows as training samples.
func (s *Store) loadRawCodec(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, "SELECT id, dict FROM raw_dicts ORDER BY created_at, id")
	if err != nil {
		return fmt.Errorf("store: raw dictionaries: %w", err)
	}
	dicts := map[uint32][]byte{}
	var newest uint32
	for rows.Next() {
		var id int64
		var d []byte
		if err := rows.Scan(&id, &d); err != nil {
			rows.Close()
			return fmt.Errorf("store: raw dictionaries: %w", err)
		}
		dicts[uint32(id)] = d // #nosec G115 -- raw_dicts ids are 32768..65535 (raw_dict.go: the two-byte id of the frame header)
		newest = uint32(id)   // #nosec G115 -- as above
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: raw dictionaries: %w", err)
	}
	c, err := newRawCodec(dicts, newest)
	if err != nil {
		return err
	}
	s.rawCodec.Store(c)
	if !c.needsDict() {
		return nil
	}
	s.raw.samples = s.raw.samples[:0]
	if s.hasRawBlocks(ctx) {
		// the newest events are in blocks, older ones in events_raw
		if s.raw.samples, err = newestBlockRaws(ctx, s.w, c, rawDictSamples); err != nil {
			return err
		}
	}
	rows, err = s.w.QueryContext(ctx, "SELECT raw FROM events_raw ORDER BY id DESC LIMIT ?", rawDictSamples-len(s.raw.samples))
	if err != nil {
		return fmt.Errorf("store: raw samples: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("store: raw samples: %w", err)
		}
		j, err := c.decompress(b)
		if err != nil {
			return err
		}
		if len(j) > 0 {
			s.raw.samples = append(s.raw.samples, bytes.Clone(j))
		}
	}
	return rows.Err()
}

// sampleRaw keeps raw JSON for the first dictionary (Store.mu held).
func (s *Store) sampleRaw(j []byte) {
	if !s.raw.noDicts && s.codec().needsDict() && len(s.raw.samples) < rawDictSamples && len(j) > 0 {
		s.raw.samples = append(s.raw.samples, bytes.Clone(j))
	}
}

// trainDict builds a raw-content dictionary (raw_dict.go) from the samples
// once there are enough and stores it in tx. It returns the codec to
// install after tx commits (nil: nothing to do). Store.mu held.
func (s *Store) trainDict(ctx context.Context, tx *sql.Tx) (*rawCodec, error) {
	cur := s.codec()
	if s.raw.noDicts || !cur.needsDict() || len(s.raw.samples) < rawDictSamples {
		return nil, nil
	}
	d := buildRawDict(s.raw.samples)
	if d == nil {
		// a dictionary is an optimisation: keep compressing without one
		s.raw.samples = nil
		return nil, nil
	}
	id := newRawDictID(cur.dicts)
	if _, err := tx.ExecContext(ctx, "INSERT INTO raw_dicts (id, dict, created_at) VALUES (?, ?, ?)",
		int64(id), d, time.Now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("store: store raw dictionary: %w", err)
	}
	return newRawCodec(map[uint32][]byte{id: d}, id)
}

// installCodec switches to a codec after the transaction that stored its
// dictionary committed. The old decoder knows every older dictionary but
// not the new one; the new codec knows all of them.
func (s *Store) installCodec(ctx context.Context, c *rawCodec) {
	if c == nil {
		return
	}
	s.raw.samples = nil
	// rebuild with every stored dictionary so that older frames decode too
	c.close()
	if err := s.loadRawCodec(ctx); err != nil {
		// keep the old codec: it still decodes everything stored before
		// the new dictionary, and frames naming the new one fail loudly
		s.raw.bgErr = err
	}
}

// startRecompress rewrites, in the background, the raw JSON stored as plain
// text by versions before schema 6, rawRecompressBatch rows per
// transaction. Progress is stored with each batch (raw_recompress), so a
// restart resumes where the last run stopped. Close stops it.
func (s *Store) startRecompress() {
	ctx, cancel := context.WithCancel(context.Background())
	s.raw.bgStop = cancel
	s.raw.bgDone = make(chan struct{})
	go func() {
		defer close(s.raw.bgDone)
		for {
			more, err := s.recompressBatch(ctx)
			if err == nil && !more {
				// the plain rows' pages go back to the disk (vacuum.go)
				err = s.reclaim(ctx)
			}
			if err != nil || !more {
				if err != nil && ctx.Err() == nil {
					s.mu.Lock()
					s.raw.bgErr = err
					s.mu.Unlock()
				}
				return
			}
		}
	}()
}

// stopRecompress waits for the background pass to stop (Store.mu NOT held).
func (s *Store) stopRecompress() {
	if s.raw.bgStop == nil {
		return
	}
	s.raw.bgStop()
	<-s.raw.bgDone
}

// RecompressStatus tells how far the rewrite of plain raw JSON has come:
// rows left and the error that stopped it, if any.
func (s *Store) RecompressStatus(ctx context.Context) (left int64, err error) {
	s.mu.Lock()
	bgErr := s.raw.bgErr
	s.mu.Unlock()
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM events_raw WHERE id > (SELECT next_id FROM raw_recompress)
		AND id <= (SELECT end_id FROM raw_recompress)`).Scan(&left); err != nil {
		return 0, fmt.Errorf("store: recompress status: %w", err)
	}
	return left, bgErr
}

// recompressBatch rewrites one batch; more is false when nothing is left.
func (s *Store) recompressBatch(ctx context.Context) (more bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: recompress raw JSON: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var next, end int64
	if err := tx.QueryRowContext(ctx, "SELECT next_id, end_id FROM raw_recompress WHERE id = 1").Scan(&next, &end); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("store: recompress raw JSON: %w", err)
	}
	if next >= end {
		return false, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, raw FROM events_raw WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
		next, end, rawRecompressBatch)
	if err != nil {
		return false, fmt.Errorf("store: recompress raw JSON: %w", err)
	}
	type row struct {
		id  int64
		raw []byte
	}
	var batch []row
	last := end
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.raw); err != nil {
			rows.Close()
			return false, fmt.Errorf("store: recompress raw JSON: %w", err)
		}
		batch = append(batch, r)
	}
	if err := rows.Close(); err != nil {
		return false, fmt.Errorf("store: recompress raw JSON: %w", err)
	}
	if len(batch) == rawRecompressBatch {
		last = batch[len(batch)-1].id
	}
	for _, r := range batch {
		s.sampleRaw(r.raw)
	}
	newCodec, err := s.trainDict(ctx, tx)
	if err != nil {
		return false, err
	}
	c := s.codec()
	if newCodec != nil {
		c = newCodec
	}
	upd, err := tx.PrepareContext(ctx, "UPDATE events_raw SET raw = ? WHERE id = ?")
	if err != nil {
		return false, fmt.Errorf("store: recompress raw JSON: %w", err)
	}
	defer upd.Close()
	var buf []byte
	for _, r := range batch {
		if len(r.raw) == 0 || bytes.HasPrefix(r.raw, zstdMagic) {
			continue
		}
		buf = c.compress(buf[:0], r.raw)
		if _, err := upd.ExecContext(ctx, buf, r.id); err != nil {
			return false, fmt.Errorf("store: recompress raw JSON of row %d: %w", r.id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE raw_recompress SET next_id = ? WHERE id = 1", last); err != nil {
		return false, fmt.Errorf("store: recompress raw JSON: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: recompress raw JSON: %w", err)
	}
	s.installCodec(ctx, newCodec)
	return last < end, nil
}

// openRaw sets up compression at open and starts the background pass when
// rows written before schema 6 remain. A database kept at an older schema
// (tests) has no dictionaries: its rows are compressed without one.
func (s *Store) openRaw(ctx context.Context, upTo int) error {
	if upTo < 6 {
		c, err := newRawCodec(nil, 0)
		if err != nil {
			return err
		}
		s.rawCodec.Store(c)
		s.raw.noDicts = true
		return nil
	}
	if err := s.loadRawCodec(ctx); err != nil {
		return err
	}
	var left int
	if err := s.w.QueryRowContext(ctx, "SELECT next_id < end_id FROM raw_recompress WHERE id = 1").Scan(&left); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: raw JSON recompression: %w", err)
	}
	if left != 0 && !s.opts.noBackground {
		s.startRecompress()
	}
	return nil
}
