package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// A commit goes only onto the checkpoint its handle last committed or
// loaded. The database is put back to an earlier commit the way a failover
// to a lagging replica leaves it (the checkpoint row of the commit before,
// the newer page's events gone): the leader's next commit fails with
// ErrDiverged (class "diverged"), keeps nothing, and goes through after
// LoadCheckpoint. A commit stored behind the handle's back (another
// writer; or a COMMIT whose connection broke) fails the same way, as
// "ahead". A handle that never loaded nor wrote a checkpoint (a tool)
// commits as before. pkg/pipeline's TestDatabaseFailoverLosesNothing does
// it with a real streaming replica promoted.
func TestCommitOntoDivergedCheckpoint(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	opens := opener(t, dsn)
	open := func() store.Backend { return opens(storetest.OrgA) }
	// the test's own connection: counts, and the failover's effect
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	page := func(i int) store.Batch {
		evs := storetest.Events("p", i*10, 10, t0.Add(time.Duration(i)*time.Minute), time.Second)
		return store.Batch{Events: evs, Checkpoint: &store.Checkpoint{NextURL: "next-" + string(rune('a'+i)), MaxPublished: evs[9].Published}}
	}
	count := func() int64 {
		var n int64
		if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	admin := func(sql string) {
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	lead := open()
	if _, ok, err := lead.LoadCheckpoint(ctx); err != nil || ok {
		t.Fatalf("fresh org: checkpoint %v, %v", ok, err)
	}
	for i := 0; i < 2; i++ {
		if _, err := lead.Commit(ctx, page(i)); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
	}
	// the replica had page 0 only: its events and its checkpoint
	admin("DELETE FROM events WHERE uuid IN (" + quoted(page(1)) + ")")
	admin("UPDATE checkpoint SET seq = seq - 1, next_url = 'next-a'")
	_, err = lead.Commit(ctx, page(2))
	if !errors.Is(err, store.ErrDiverged) || store.WriteFailureClass(err) != "diverged" || !strings.Contains(err.Error(), "behind") {
		t.Fatalf("commit onto the older database: %v (class %q), want ErrDiverged, behind", err, store.WriteFailureClass(err))
	}
	if n := count(); n != 10 {
		t.Fatalf("%d events stored after the refused commit, want page 0's 10", n)
	}
	cp, ok, err := lead.LoadCheckpoint(ctx)
	if err != nil || !ok || cp.NextURL != "next-a" {
		t.Fatalf("reloaded checkpoint %+v %v %v", cp, ok, err)
	}
	for _, i := range []int{1, 2} { // fetched again from page 0's checkpoint
		if _, err := lead.Commit(ctx, page(i)); err != nil {
			t.Fatalf("page %d after the reload: %v", i, err)
		}
	}
	if n := count(); n != 30 {
		t.Fatalf("%d events, want 30", n)
	}

	// another writer moved the checkpoint on behind the leader's back
	other := open()
	if _, _, err := other.LoadCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Commit(ctx, page(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := lead.Commit(ctx, page(4)); !errors.Is(err, store.ErrDiverged) || !strings.Contains(err.Error(), "ahead of") {
		t.Fatalf("commit after another writer's: %v, want ErrDiverged, ahead of", err)
	}
	// a batch without a checkpoint is checked too, and moves nothing
	if _, err := other.Commit(ctx, store.Batch{Events: page(5).Events}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Commit(ctx, page(6)); err != nil {
		t.Fatalf("a checkpoint after a batch without one: %v", err)
	}
	// a tool's handle (no LoadCheckpoint, no checkpoint written yet) commits
	tool := open()
	if _, err := tool.Commit(ctx, page(7)); err != nil {
		t.Fatalf("a handle that never loaded a checkpoint: %v", err)
	}
	if _, err := tool.Commit(ctx, page(8)); err != nil {
		t.Fatalf("its second commit, onto its own checkpoint: %v", err)
	}
	if _, err := other.Commit(ctx, page(9)); !errors.Is(err, store.ErrDiverged) {
		t.Fatalf("commit after the tool's: %v, want ErrDiverged", err)
	}
}

// quoted is the batch's uuids as a SQL list.
func quoted(b store.Batch) string {
	q := make([]string, len(b.Events))
	for i := range b.Events {
		q[i] = "'" + b.Events[i].UUID + "'"
	}
	return strings.Join(q, ", ")
}
