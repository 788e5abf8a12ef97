package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/backend"
)

// Defaults of the HA lease (Options.LeaseTTL, Options.LeaseRetry).
const (
	DefaultLeaseTTL   = 15 * time.Second
	DefaultLeaseRetry = time.Second
)

// Roles of Status.Role.
const (
	RoleLeader   = "leader"
	RoleFollower = "follower"
)

// errLeaseLost ends the leader's loop when the lease is gone.
var errLeaseLost = errors.New("pipeline: the org's lease was lost")

// errStartOver ends the leader's loop when it must start over from what
// the store holds: the store is not at its last commit
// (store.ErrDiverged), or it could not be read back after a failed commit
// (the database is down). lead takes the lease again (at once, or as soon
// as the store answers) and takeover reloads.
var errStartOver = errors.New("pipeline: starting over from the store")

// errStateCorrupt is a takeover's failure that retrying cannot mend: the
// stored detector state does not decode.
var errStateCorrupt = errors.New("pipeline: restoring detector state")

// StorageConfig maps the storage settings onto the backend opener for org.
func StorageConfig(s config.Storage, org string) backend.Config {
	return backend.Config{Driver: s.Driver, Path: s.Path, DSN: s.DSN, Password: s.Password, PasswordFile: s.PasswordFile, Org: org}
}

// NewInstanceID names an instance: host/pid/random.
func NewInstanceID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown"
	}
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

func (p *Pipeline) leaseParams() (ttl, retry time.Duration) {
	ttl, retry = p.o.LeaseTTL, p.o.LeaseRetry
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if retry <= 0 {
		retry = DefaultLeaseRetry
	}
	return ttl, retry
}

// lead alternates between following (trying to take the org's lease every
// LeaseRetry) and leading (ingesting under the lease, renewed every
// LeaseTTL/3). Every instance on the same org and store runs this; exactly
// one ingests. A clean shutdown resigns the lease so a follower takes over
// at once.
func (p *Pipeline) lead(ctx context.Context) error {
	ttl, retry := p.leaseParams()
	id := p.o.InstanceID
	var startedOver time.Time
	for {
		if ctx.Err() != nil {
			return nil
		}
		l, err := p.st.Lead(ctx, id, ttl)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.writeFailed(ctx, err)
			p.setError(fmt.Errorf("pipeline: lease: %w", err))
			p.log.Warn("cannot read or take the org's lease; retrying", "error", err)
			if sleep(ctx, retry) != nil {
				return nil
			}
			continue
		}
		p.setLease(l)
		if !l.Leader {
			if sleep(ctx, retry) != nil {
				return nil
			}
			continue
		}
		p.log.Info("leading the org: ingesting and evaluating posture", "instance", id, "token", l.Token)
		if err := p.takeover(ctx); err != nil {
			p.resign(id)
			if ctx.Err() != nil {
				return nil // stopped while taking over: not an error
			}
			if errors.Is(err, errStateCorrupt) {
				return err
			}
			// the store could not be read (down, failing over):
			// handed over, and tried again as any follower would
			p.setError(err)
			p.log.Warn("cannot reload the org's state from the store to lead it; retrying", "error", err)
			if sleep(ctx, retry) != nil {
				return nil
			}
			continue
		}
		lctx, cancel := context.WithCancelCause(ctx)
		renewed := make(chan struct{})
		go func() { defer close(renewed); p.renew(lctx, cancel, id, ttl) }()
		err = p.ingest(lctx)
		cancel(nil)
		<-renewed
		if ctx.Err() != nil {
			p.resign(id)
			return nil
		}
		if errors.Is(err, errStartOver) {
			// still the holder: Lead renews, takeover reloads; at once
			// the first time, after the retry wait when it repeats
			// within a minute (something keeps moving the store)
			if time.Since(startedOver) < time.Minute && sleep(ctx, retry) != nil {
				return nil
			}
			startedOver = time.Now()
			continue
		}
		if err != nil && !errors.Is(err, errLeaseLost) {
			p.resign(id)
			return err
		}
		p.log.Warn("no longer leading the org; following", "instance", id)
		p.setRole(RoleFollower)
	}
}

// renew keeps the lease until ctx ends; when it cannot (another holder, or
// no successful renewal for most of the TTL) it cancels the leader's loop,
// so a leader cut off from the database stops before its lease expires.
func (p *Pipeline) renew(ctx context.Context, stop context.CancelCauseFunc, id string, ttl time.Duration) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, ttl/3)
		l, err := p.st.Lead(rctx, id, ttl)
		cancel()
		p.writeFailed(ctx, err)
		if err != nil && ctx.Err() == nil {
			// health shows why (the store names the cause: disk full,
			// read-only, ...), not only the counter
			p.setError(fmt.Errorf("pipeline: lease renewal: %w", err))
			p.log.Warn("cannot renew the org's lease; retrying", "error", err, "class", store.WriteFailureClass(err))
		}
		switch {
		case err == nil && l.Leader:
			lastOK = time.Now()
			p.setLease(l)
		case err == nil:
			p.setLease(l)
			stop(errLeaseLost)
			return
		case time.Since(lastOK) > ttl-ttl/6:
			p.log.Warn("cannot renew the org's lease; stopping ingestion before it expires", "error", err)
			stop(errLeaseLost)
			return
		}
	}
}

// takeover reloads what the previous leader committed: the detector state
// (baselines and alert grouping continue without a re-alert storm) and
// the checkpoint. The uuids this instance saw are forgotten: the store
// answers for each event again, since it may lack some this instance
// committed (a database failover that lost commits, noticed by a commit
// as store.ErrDiverged or not at all when the failover outlasted the
// lease and this instance took it again).
func (p *Pipeline) takeover(ctx context.Context) error {
	if err := p.resetEngine(ctx); err != nil {
		return err
	}
	p.seen.Reset()
	cp, ok, err := p.st.LoadCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	p.mu.Lock()
	p.cp, p.haveCP = cp, ok
	p.status.BackfillDone = ok && cp.BackfillDone
	p.status.BackfillSince = cp.BackfillSince
	p.status.MaxPublished = cp.MaxPublished
	p.mu.Unlock()
	return nil
}

func (p *Pipeline) resign(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.st.Resign(ctx, id); err != nil && !errors.Is(err, store.ErrClosed) {
		p.log.Warn("could not resign the org's lease (a follower takes over when it expires)", "error", err)
	}
	p.setRole("")
}

func (p *Pipeline) setLease(l store.Lease) {
	role := RoleFollower
	if l.Leader {
		role = RoleLeader
	}
	p.mu.Lock()
	changed := p.status.Role != role || p.status.Leader != l.Holder
	p.status.Role, p.status.Leader, p.status.LeaseToken, p.status.ReadOnly = role, l.Holder, l.Token, l.ReadOnly
	p.mu.Unlock()
	if changed {
		p.m.Leadership(l.Leader, l.Holder)
		if !l.Leader {
			p.log.Info("following the org", "leader", l.Holder, "readOnly", l.ReadOnly)
		}
	}
}

func (p *Pipeline) setRole(role string) {
	p.mu.Lock()
	p.status.Role = role
	p.mu.Unlock()
}
