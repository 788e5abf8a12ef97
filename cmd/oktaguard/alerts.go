package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/exception"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/backend"
)

const alertsUsage = `Usage:
  oktaguard alerts list --config F [--status open,acknowledged|all] [--detector D] [--actor A] [--since 168h] [--limit 100] [--format table|json]
  oktaguard alerts show ID --config F                      the alert, its triage state and history (JSON)
  oktaguard alerts ack|resolve|dismiss|reopen ID --config F [--note N] [--assignee A] [--user U]
  oktaguard alerts dismiss ID --config F --exception actor|ip|subnet|asn|app [--value V] --reason R [--expires 30d]
  oktaguard alerts exceptions --config F [--all] [--format table|json]
  oktaguard alerts except --config F --detector D --scope S --value V --reason R [--expires 30d]
  oktaguard alerts unexcept EXCEPTION_ID --config F [--user U]
`

// statusVerbs maps the CLI's verbs to triage statuses.
var statusVerbs = map[string]string{"ack": alert.StatusAcknowledged, "resolve": alert.StatusResolved, "dismiss": alert.StatusDismissed, "reopen": alert.StatusOpen}

// cmdAlerts lists alerts and changes their triage state in the store of
// the config file (the same SQLite file a running serve uses: WAL lets
// both work at once, and the running pipeline picks up exceptions at its
// next page).
func cmdAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, alertsUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: a subcommand is required", errUsage)
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("alerts "+sub, stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	format := fs.String("format", "table", "output format: table or json")
	who := fs.String("user", defaultUser(), "who makes the change (recorded in the history)")
	var id string
	// The id may come before or after the flags.
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	var run func(st triageStore) error
	switch sub {
	case "list":
		status := fs.String("status", "open,acknowledged", "statuses to list (comma-separated) or all")
		det := fs.String("detector", "", "only this detector")
		actor := fs.String("actor", "", "only this actor (login)")
		since := fs.Duration("since", 7*24*time.Hour, "alerts of this far back")
		limit := fs.Int("limit", 100, "at most this many alerts")
		run = func(st triageStore) error {
			q := store.TriageQuery{From: time.Now().Add(-*since), Detector: *det, Actor: *actor, Limit: *limit}
			if *status != "all" {
				for _, s := range strings.Split(*status, ",") {
					if s = strings.TrimSpace(s); s != "" {
						if !alert.ValidStatus(s) {
							return fmt.Errorf("%w: --status %q is unknown (%s or all)", errUsage, s, strings.Join(alert.Statuses, ", "))
						}
						q.Statuses = append(q.Statuses, s)
					}
				}
			}
			as, err := st.QueryTriagedAlerts(ctx, q)
			if err != nil {
				return err
			}
			return printAlerts(stdout, *format, as)
		}
	case "show":
		run = func(st triageStore) error {
			ta, err := st.AlertTriage(ctx, id)
			if err != nil {
				return err
			}
			h, err := st.AlertHistory(ctx, store.HistoryQuery{AlertID: id, Limit: 1000})
			if err != nil {
				return err
			}
			if h == nil {
				h = []alert.Change{}
			}
			return json.NewEncoder(stdout).Encode(map[string]any{"alert": ta.Alert, "triage": ta.Triage, "history": h})
		}
	case "ack", "resolve", "dismiss", "reopen":
		note := fs.String("note", "", "a note for the history")
		assignee := fs.String("assignee", "", "assign the alert to this user")
		var in exception.Input
		if sub == "dismiss" {
			fs.StringVar(&in.Scope, "exception", "", "also create an exception of this scope: actor, ip, subnet, asn or app")
			fs.StringVar(&in.Value, "value", "", "the exception's value (default: the alert's)")
			fs.StringVar(&in.Reason, "reason", "", "why the pattern is benign (required with --exception)")
			fs.StringVar(&in.ExpiresIn, "expires", "30d", "the exception's lifetime")
		}
		run = func(st triageStore) error {
			now := time.Now().UTC()
			c := store.StatusChange{AlertID: id, To: statusVerbs[sub], Note: *note, Assignee: *assignee, User: *who, Role: "cli", Time: now}
			if in.Scope != "" {
				ta, err := st.AlertTriage(ctx, id)
				if err != nil {
					return err
				}
				x, err := in.Build(*who, now, &ta.Alert, knownDetector)
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				c.Exception = &x
			} else if in.Value != "" || in.Reason != "" {
				return fmt.Errorf("%w: --value and --reason need --exception SCOPE", errUsage)
			}
			ch, err := st.SetAlertStatus(ctx, c)
			if err != nil {
				return err
			}
			return json.NewEncoder(stdout).Encode(ch)
		}
	case "exceptions":
		all := fs.Bool("all", false, "include expired and removed exceptions")
		run = func(st triageStore) error {
			q := store.ExceptionQuery{ActiveAt: time.Now(), Limit: 1000}
			if *all {
				q.ActiveAt = time.Time{}
			}
			xs, err := st.Exceptions(ctx, q)
			if err != nil {
				return err
			}
			return printExceptions(stdout, *format, xs)
		}
	case "except":
		var in exception.Input
		fs.StringVar(&in.Detector, "detector", "", "the detector id")
		fs.StringVar(&in.Scope, "scope", "", "actor, ip, subnet, asn or app")
		fs.StringVar(&in.Value, "value", "", "the scope's value")
		fs.StringVar(&in.Reason, "reason", "", "why the pattern is benign")
		fs.StringVar(&in.ExpiresIn, "expires", "30d", "lifetime")
		run = func(st triageStore) error {
			x, err := in.Build(*who, time.Now().UTC(), nil, knownDetector)
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			if x, err = st.AddException(ctx, x); err != nil {
				return err
			}
			return json.NewEncoder(stdout).Encode(x)
		}
	case "unexcept":
		run = func(st triageStore) error {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("%w: exception id %q is not a positive integer", errUsage, id)
			}
			x, err := st.RemoveException(ctx, n, *who, time.Now().UTC())
			if err != nil {
				return err
			}
			return json.NewEncoder(stdout).Encode(x)
		}
	default:
		fmt.Fprint(stderr, alertsUsage)
		return fmt.Errorf("%w: unknown alerts subcommand %q", errUsage, sub)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	needsID := sub != "list" && sub != "exceptions" && sub != "except"
	if needsID && id == "" {
		return fmt.Errorf("%w: alerts %s needs an id", errUsage, sub)
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("%w: --format %q: use table or json", errUsage, *format)
	}
	if err := requireConfig(*cfgPath); err != nil {
		return err
	}
	st, err := openConfiguredStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	err = run(st)
	if errors.Is(err, store.ErrInvalidInput) {
		err = fmt.Errorf("%w: %v", errUsage, err)
	}
	return err
}

// triageStore is a store backend with its triage side (both backends).
type triageStore interface {
	store.Backend
	store.Triager
}

// openConfiguredStore opens the existing store a config file names: its
// SQLite file, or its PostgreSQL database bound to the config's org
// (triage needs no lease: the CLI may triage while instances ingest).
func openConfiguredStore(ctx context.Context, cfgPath string) (triageStore, error) {
	s, err := loadOffline(cfgPath)
	if err != nil {
		return nil, err
	}
	var b store.Backend
	switch d := strings.ToLower(s.Storage.Driver); d {
	case "", "sqlite":
		if _, err := os.Stat(s.Storage.Path); err != nil {
			return nil, fmt.Errorf("store %s: %w", s.Storage.Path, err)
		}
		b, err = store.Open(ctx, s.Storage.Path)
	default:
		org, oerr := okta.NormalizeOrgURL(s.Okta.OrgURL)
		if oerr != nil {
			return nil, oerr
		}
		b, err = backend.Open(ctx, pipeline.StorageConfig(s.Storage, org.String()))
	}
	if err != nil {
		return nil, err
	}
	t, err := store.AsTriager(b)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return struct {
		store.Backend
		store.Triager
	}{b, t}, nil
}

func knownDetector(id string) bool {
	for _, d := range detect.Detectors() {
		if d.ID == id {
			return true
		}
	}
	return false
}

func defaultUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func printAlerts(w io.Writer, format string, as []store.TriagedAlert) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		for _, a := range as {
			if err := enc.Encode(map[string]any{"alert": a.Alert, "triage": a.Triage}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tSEVERITY\tDETECTOR\tACTOR\tSTATUS\tASSIGNEE\tTITLE")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Time.Format(time.RFC3339), a.Severity, a.Detector, a.Actor,
			a.Triage.Status, a.Triage.Assignee, a.Title)
	}
	return tw.Flush()
}

func printExceptions(w io.Writer, format string, xs []alert.Exception) error {
	now := time.Now()
	if format == "json" {
		enc := json.NewEncoder(w)
		for _, x := range xs {
			if err := enc.Encode(map[string]any{"exception": x, "state": x.State(now)}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDETECTOR\tSCOPE\tVALUE\tSTATE\tEXPIRES\tHITS\tBY\tREASON")
	for _, x := range xs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", x.ID, x.Detector, x.Scope, x.Value, x.State(now),
			x.ExpiresAt.Format(time.RFC3339), x.Hits, x.CreatedBy, x.Reason)
	}
	return tw.Flush()
}
