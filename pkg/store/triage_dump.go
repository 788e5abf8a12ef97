package store

import (
	"context"
	"fmt"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// TriageDump is a store's whole triage record: every alert's current
// state, the full history (oldest first) and every exception, removed
// and expired ones included (by id). `oktaguard store migrate` copies it.
type TriageDump struct {
	States     []alert.Triage
	History    []alert.Change
	Exceptions []alert.Exception
}

// TriageCounts counts a store's triage rows (to verify a migration).
type TriageCounts struct {
	States, History, Exceptions int64
}

// TriageImporter is a backend that takes a TriageDump verbatim.
type TriageImporter interface {
	// ImportTriage writes the dump in one transaction if the org has no
	// triage record yet, and reports whether it did (false: the org has
	// one already, e.g. from an earlier run, and nothing was written).
	ImportTriage(ctx context.Context, d TriageDump) (bool, error)
	TriageCounts(ctx context.Context) (TriageCounts, error)
}

// DumpTriage reads the whole triage record (no limit).
func (s *Store) DumpTriage(ctx context.Context) (TriageDump, error) {
	var d TriageDump
	rows, err := s.r.QueryContext(ctx, "SELECT alert_id, status, assignee, note, updated_at, updated_by FROM alert_triage ORDER BY alert_id")
	if err != nil {
		return d, fmt.Errorf("store: dump triage: %w", err)
	}
	for rows.Next() {
		var t alert.Triage
		var upd int64
		if err := rows.Scan(&t.AlertID, &t.Status, &t.Assignee, &t.Note, &upd, &t.UpdatedBy); err != nil {
			rows.Close()
			return d, fmt.Errorf("store: dump triage: %w", err)
		}
		t.UpdatedAt = fromMS(upd)
		d.States = append(d.States, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("store: dump triage: %w", err)
	}
	rows, err = s.r.QueryContext(ctx, `SELECT id, alert_id, time, user, role, from_status, to_status, note, assignee, exception_id
		FROM alert_history ORDER BY id`)
	if err != nil {
		return d, fmt.Errorf("store: dump triage history: %w", err)
	}
	d.History, err = ScanHistory(rows)
	rows.Close()
	if err != nil {
		return d, fmt.Errorf("store: dump triage history: %w", err)
	}
	rows, err = s.r.QueryContext(ctx, "SELECT "+ExceptionCols+" FROM alert_exceptions ORDER BY id")
	if err != nil {
		return d, fmt.Errorf("store: dump exceptions: %w", err)
	}
	d.Exceptions, err = ScanExceptions(rows)
	rows.Close()
	if err != nil {
		return d, fmt.Errorf("store: dump exceptions: %w", err)
	}
	return d, nil
}

// TriageCounts counts the triage rows.
func (s *Store) TriageCounts(ctx context.Context) (TriageCounts, error) {
	var c TriageCounts
	err := s.r.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM alert_triage), (SELECT COUNT(*) FROM alert_history),
		(SELECT COUNT(*) FROM alert_exceptions)`).Scan(&c.States, &c.History, &c.Exceptions)
	if err != nil {
		return c, fmt.Errorf("store: triage counts: %w", err)
	}
	return c, nil
}
