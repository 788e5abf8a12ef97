package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// checkpointSeqVersion is the schema version whose checkpoint has seq.
const checkpointSeqVersion = 12

// seqState is the checkpoint's commit sequence as this handle last wrote
// or read it.
//
// Why: a PostgreSQL server with asynchronous replication may fail over to
// a replica that had not received its last commits. The lease and the
// fencing token come back as they were (the same holder, the same token),
// so the leader's next commit would land on the older data, with the
// checkpoint of its newer page: the pages in between would be missing
// for good. Each commit that writes the checkpoint moves checkpoint.seq on
// by one, and a commit goes through only when the stored seq is the one
// this handle expects; otherwise it fails with store.ErrDiverged, and the
// pipeline reloads the checkpoint and the detector state and fetches from
// there (nothing lost, nothing stored twice). The same check catches a
// commit that landed although its COMMIT reported a lost connection.
type seqState struct {
	enabled bool // the schema has checkpoint.seq

	mu    sync.Mutex
	known bool  // the handle committed or loaded a checkpoint in its current lease term
	seq   int64 // the seq it expects (0: no checkpoint row)
	// resync: the handle's caches of the database may hold what the
	// database lost; the next commit reloads them first (Store.resync)
	resync bool
}

// committed records the seq a commit wrote.
func (q *seqState) committed(seq int64) {
	q.mu.Lock()
	q.seq, q.known = seq, true
	q.mu.Unlock()
}

// loaded records the seq LoadCheckpoint read. One other than the seq the
// handle expects in the same lease term means the database lost commits
// (a failover that outlasted the lease, so that no commit noticed it):
// the caches are reloaded before the next commit.
func (q *seqState) loaded(seq int64) {
	q.mu.Lock()
	if q.known && seq != q.seq {
		q.resync = true
	}
	q.seq, q.known = seq, true
	q.mu.Unlock()
}

// newTerm drops the expectation when the handle takes the lease with a
// new token: other instances may have committed since it last did, so its
// commits go onto what it loads next, and its caches are reloaded (the
// database may have failed over meanwhile).
func (q *seqState) newTerm() {
	q.mu.Lock()
	q.known, q.resync = false, true
	q.mu.Unlock()
}

// resyncDue reports whether the caches are to be reloaded.
func (q *seqState) resyncDue() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.resync
}

// check is nil when a commit may go onto stored, the seq read inside its
// transaction: the handle expects stored, or has not committed or loaded
// a checkpoint yet (a tool's first commit).
func (q *seqState) check(stored int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.enabled || !q.known || stored == q.seq {
		return nil
	}
	q.resync = true
	how := "behind"
	cause := "the database lost commits this instance made (a failover to a replica that had not received them)"
	if stored > q.seq {
		how = "ahead of"
		cause = "a commit whose outcome this instance did not learn (its connection was lost during COMMIT) was stored, or another writer committed"
	}
	return fmt.Errorf("%w: the stored commit sequence %d is %s this instance's %d: %s; nothing of this batch was written, the checkpoint and detector state are reloaded from the store",
		store.ErrDiverged, stored, how, q.seq, cause)
}

// resync drops what the handle remembers of the database (Store.mu held),
// once the checkpoint was found diverged or a new lease term began: the
// database may lack what the handle saw it create. The day partitions are checked again
// (and created) as the next pages need them; the actor numbers of the geo
// sets are read again (one numbered in a lost commit is numbered anew);
// the days' geo seals are checked again; the raw JSON dictionaries are
// reloaded (a dictionary stored in a lost transaction is built again,
// from the stored events, before the next page is compressed with one).
func (s *Store) resync(ctx context.Context) error {
	s.partMu.Lock()
	s.parts = map[int64]bool{}
	s.partMu.Unlock()
	s.geo.idMu.Lock()
	s.geo.ids = nil
	s.geo.idMu.Unlock()
	s.geo.sealedTo = 0
	if s.raw.dicts {
		if err := s.loadCodec(ctx); err != nil {
			return fmt.Errorf("store: commit: reloading after a diverged checkpoint: %w", err)
		}
		if s.codec().DictID() == 0 {
			s.raw.mu.Lock()
			s.raw.stored, s.raw.samples = true, nil
			s.raw.mu.Unlock()
		}
	}
	s.cpSeq.mu.Lock()
	s.cpSeq.resync = false
	s.cpSeq.mu.Unlock()
	return nil
}
