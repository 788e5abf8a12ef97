package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/backend"
)

// migratePage is how many events one destination commit carries.
const migratePage = 5000

// EnvPGPassword is read for the destination's password when no
// --password-file is given.
const EnvPGPassword = "OKTAGUARD_PG_PASSWORD" // #nosec G101 -- the name of the environment variable that holds the password, not a password

func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compact" {
		return cmdStoreCompact(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "info" {
		return cmdStoreInfo(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "migrate" {
		return fmt.Errorf("%w: store needs a subcommand: migrate --from sqlite:PATH --to postgres:DSN, compact --path PATH or info --path PATH", errUsage)
	}
	fs := newFlags("store migrate", stderr)
	from := fs.String("from", "", "source store, sqlite:PATH")
	to := fs.String("to", "", "destination store, postgres:DSN (password from $"+EnvPGPassword+" or --password-file)")
	org := fs.String("org", "", "org URL the rows belong to (default: the one the SQLite file is bound to)")
	pwFile := fs.String("password-file", "", "file holding the destination's password")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	path, ok := strings.CutPrefix(*from, "sqlite:")
	if !ok || path == "" {
		return fmt.Errorf("%w: --from must be sqlite:PATH", errUsage)
	}
	dsn, ok := strings.CutPrefix(*to, "postgres:")
	if !ok || dsn == "" {
		return fmt.Errorf("%w: --to must be postgres:DSN", errUsage)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("source %s: %w", path, errors.Unwrap(err))
	}
	src, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer src.Close()
	if *org == "" {
		if *org, err = src.Org(ctx); err != nil || *org == "" {
			return fmt.Errorf("%w: %s is not bound to an org; name it with --org https://<your-org>.okta.com", errUsage, path)
		}
	}
	dst, err := backend.Open(ctx, backend.Config{Driver: "postgres", DSN: dsn, Password: os.Getenv(EnvPGPassword), PasswordFile: *pwFile, Org: *org})
	if err != nil {
		return err
	}
	defer dst.Close()
	return migrateStore(ctx, src, dst, stdout)
}

// migrateStore copies src into dst and verifies by counts. It is
// resumable: events resume from the newest one dst holds (duplicates are
// skipped by uuid), alerts are keyed by id, triage is copied in one
// transaction (or not at all), posture reports and regressions resume
// after dst's newest, and the checkpoint is written
// last, so a pipeline started on dst resumes where src stopped.
func migrateStore(ctx context.Context, src *store.Store, dst store.Backend, out io.Writer) error {
	start := time.Now()
	dstStats, err := dst.Stats(ctx)
	if err != nil {
		return err
	}
	var pub, id int64
	if !dstStats.MaxPublished.IsZero() {
		pub = dstStats.MaxPublished.UnixMilli() - 1 // re-read that millisecond; duplicates are skipped
		id = 1<<63 - 1
		fmt.Fprintf(out, "resuming after %s (%d events already in the destination)\n", dstStats.MaxPublished.Format(time.RFC3339), dstStats.Events)
	}
	var copied int64
	for {
		rows, p, i, err := src.EventsAfter(ctx, pub, id, migratePage)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		evs := make([]event.Event, len(rows))
		for k := range rows {
			evs[k] = rows[k].AsEvent()
		}
		res, err := dst.Commit(ctx, store.Batch{Events: evs})
		if err != nil {
			return fmt.Errorf("copying events after %s: %w", time.UnixMilli(pub).UTC().Format(time.RFC3339), err)
		}
		copied += int64(res.EventsInserted)
		pub, id = p, i
		fmt.Fprintf(out, "events: %d copied (up to %s)\n", copied, time.UnixMilli(pub).UTC().Format(time.RFC3339))
	}
	// alerts, in time windows of at most MaxLimit
	var alerts int64
	from := time.Time{}
	for {
		as, err := src.QueryAlertsAsc(ctx, from, store.DefaultMaxLimit)
		if err != nil {
			return err
		}
		if len(as) == 0 {
			break
		}
		for k := 0; k < len(as); k += 1000 {
			part := as[k:min(k+1000, len(as))]
			res, err := dst.Commit(ctx, store.Batch{Alerts: part})
			if err != nil {
				return fmt.Errorf("copying alerts: %w", err)
			}
			alerts += int64(res.AlertsInserted)
		}
		last := as[len(as)-1].Time
		if len(as) < store.DefaultMaxLimit {
			break
		}
		from = last
	}
	fmt.Fprintf(out, "alerts: %d copied\n", alerts)
	// posture reports and regressions after the destination's newest
	latest, ok, err := dst.LatestPostureReport(ctx, "")
	if err != nil {
		return err
	}
	var after int64
	if ok {
		after = latest.Time.UnixMilli()
	}
	reps, err := src.PostureReports(ctx, after)
	if err != nil {
		return err
	}
	for _, r := range reps {
		if err := dst.SavePostureReport(ctx, r); err != nil {
			return fmt.Errorf("copying posture reports: %w", err)
		}
	}
	dregs, err := dst.Regressions(ctx, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	regs, err := src.Regressions(ctx, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	for k := len(regs) - 1; k >= 0; k-- { // oldest first
		if len(dregs) > 0 && !regs[k].Time.After(dregs[0].Time) {
			continue
		}
		if err := dst.SaveRegression(ctx, regs[k]); err != nil {
			return fmt.Errorf("copying regressions: %w", err)
		}
	}
	if err := migrateTriage(ctx, src, dst, out); err != nil {
		return err
	}
	state, err := src.AllState(ctx, "")
	if err != nil {
		return err
	}
	b := store.Batch{State: state}
	if cp, ok, err := src.LoadCheckpoint(ctx); err != nil {
		return err
	} else if ok {
		b.Checkpoint = &cp
	}
	if _, err := dst.Commit(ctx, b); err != nil {
		return fmt.Errorf("copying state and checkpoint: %w", err)
	}
	return verifyMigration(ctx, src, dst, out, time.Since(start))
}

func verifyMigration(ctx context.Context, src *store.Store, dst store.Backend, out io.Writer, took time.Duration) error {
	ss, err := src.Stats(ctx)
	if err != nil {
		return err
	}
	ds, err := dst.Stats(ctx)
	if err != nil {
		return err
	}
	sp, err := src.PostureHistory(ctx, time.Time{}, time.Time{}, "")
	if err != nil {
		return err
	}
	dp, err := dst.PostureHistory(ctx, time.Time{}, time.Time{}, "")
	if err != nil {
		return err
	}
	sr, _ := src.Regressions(ctx, time.Time{}, time.Time{})
	dr, _ := dst.Regressions(ctx, time.Time{}, time.Time{})
	fmt.Fprintf(out, "verify (source / destination): events %d / %d, alerts %d / %d, posture reports %d / %d, regressions %d / %d (%s)\n",
		ss.Events, ds.Events, ss.Alerts, ds.Alerts, len(sp), len(dp), len(sr), len(dr), took.Round(time.Millisecond))
	if ss.Events != ds.Events || ss.Alerts != ds.Alerts || len(sp) != len(dp) || len(sr) != len(dr) {
		return errors.New("verification failed: the counts differ (run the migration again to resume)")
	}
	if ti, ok := dst.(store.TriageImporter); ok {
		st, err := src.TriageCounts(ctx)
		if err != nil {
			return err
		}
		dt, err := ti.TriageCounts(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "verify triage (source / destination): triaged alerts %d / %d, history entries %d / %d, exceptions %d / %d\n",
			st.States, dt.States, st.History, dt.History, st.Exceptions, dt.Exceptions)
		if st != dt {
			return errors.New("verification failed: the triage counts differ (the destination had a triage record of its own before the copy; " +
				"migrate into an org without one)")
		}
	}
	fmt.Fprintln(out, "migration verified")
	return nil
}

// migrateTriage copies the alerts' triage state, history and exceptions
// in one destination transaction, unless the destination's org has a
// triage record already (a resumed migration copied it before).
func migrateTriage(ctx context.Context, src *store.Store, dst store.Backend, out io.Writer) error {
	ti, ok := dst.(store.TriageImporter)
	if !ok {
		return fmt.Errorf("copying triage: %w (%s)", store.ErrTriageUnsupported, dst.Describe())
	}
	d, err := src.DumpTriage(ctx)
	if err != nil {
		return err
	}
	copied, err := ti.ImportTriage(ctx, d)
	if err != nil {
		return fmt.Errorf("copying triage: %w", err)
	}
	if !copied {
		fmt.Fprintln(out, "triage: the destination has a triage record already (copied by an earlier run); not copied again")
		return nil
	}
	fmt.Fprintf(out, "triage: %d alert states, %d history entries, %d exceptions copied\n", len(d.States), len(d.History), len(d.Exceptions))
	return nil
}
