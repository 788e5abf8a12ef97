package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
)

// openInput opens a replay input ("-" is stdin) and transparently
// decompresses gzip (detected by its magic bytes, not the file name).
func openInput(name string, stdin io.Reader) (io.Reader, func() error, error) {
	var r io.Reader
	closer := func() error { return nil }
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name) // #nosec G304 -- the CLI reads the file its own user names, with that user's rights
		if err != nil {
			return nil, nil, err
		}
		r, closer = f, f.Close
	}
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			closer()
			return nil, nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		c := closer
		return gz, func() error { gz.Close(); return c() }, nil
	}
	return br, closer, nil
}

// cmdReplay runs enrich + detect over exported events in event time and
// writes alerts as JSON Lines on stdout; the summary goes to stderr.
func cmdReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	cfgPath := fs.String("config", "", "config file (optional: ipLists, geoip and detectors are used)")
	quiet := fs.Bool("quiet", false, "do not list each parse error on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give one or more files (JSON array or JSON Lines, gzip accepted, - for stdin)", errUsage)
	}
	s := config.Defaults()
	if *cfgPath != "" {
		var err error
		s, err = loadOffline(*cfgPath)
		if err != nil {
			return err
		}
	}
	var inputs []pipeline.ReplayInput
	for _, name := range fs.Args() {
		r, closeFn, err := openInput(name, stdin)
		if err != nil {
			return err
		}
		defer closeFn()
		inputs = append(inputs, pipeline.ReplayInput{Name: name, R: r})
	}
	bw := bufio.NewWriter(stdout)
	defer bw.Flush()
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	sum, err := pipeline.Replay(ctx, s, inputs, func(a alert.Alert) error { return enc.Encode(a) },
		func(input string, err error) {
			if !*quiet {
				fmt.Fprintf(stderr, "replay: %s: skipped %v\n", input, err)
			}
		})
	// The summary is printed whatever happened, so that a failed or cut
	// short replay still says how far it got.
	if ferr := bw.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("writing alerts: %w", ferr)
	}
	fmt.Fprintln(stderr, replaySummaryLine(sum))
	if err != nil {
		return err
	}
	if len(sum.Truncated) > 0 {
		return fmt.Errorf("input truncated: %s (the events before the cut were replayed; the replay is incomplete)", strings.Join(sum.Truncated, ", "))
	}
	if sum.Events == 0 {
		if sum.ParseErrors > 0 {
			return fmt.Errorf("no event could be parsed (%d parse errors; first: %s)", sum.ParseErrors, sum.FirstError)
		}
		return errors.New("the input holds no events")
	}
	return nil
}

func replaySummaryLine(sum pipeline.ReplaySummary) string {
	total := 0
	var dets []string
	for d := range sum.Alerts {
		dets = append(dets, d)
	}
	sort.Strings(dets)
	var parts []string
	for _, d := range dets {
		total += sum.Alerts[d]
		parts = append(parts, fmt.Sprintf("%s=%d", d, sum.Alerts[d]))
	}
	line := fmt.Sprintf("replay: %d events, %d alerts", sum.Events, total)
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	line += fmt.Sprintf(", %d parse errors", sum.ParseErrors)
	if sum.Degraded > 0 {
		line += fmt.Sprintf(", %d degraded (an optional field of an unexpected type was ignored)", sum.Degraded)
	}
	if len(sum.Truncated) > 0 {
		line += fmt.Sprintf(", TRUNCATED: %s", strings.Join(sum.Truncated, ", "))
	}
	if sum.Duplicates > 0 {
		line += fmt.Sprintf(", %d duplicates skipped", sum.Duplicates)
	}
	if sum.OutOfOrder > 0 {
		line += fmt.Sprintf(", %d out of order (later than the reorder window: processed, but after newer events)", sum.OutOfOrder)
	}
	return line
}

// loadOffline loads a config for commands that never contact Okta: the
// okta section may be incomplete.
func loadOffline(path string) (config.Settings, error) {
	data, err := os.ReadFile(path) // #nosec G304 G703 -- the CLI reads the config file its own user names, with that user's rights
	if err != nil {
		return config.Settings{}, fmt.Errorf("config: %w", err)
	}
	abs, err := absDir(path)
	if err != nil {
		return config.Settings{}, err
	}
	s, err := config.ParseOffline(data, abs, os.LookupEnv)
	if err := config.Problems(err, s.ValidateOffline); err != nil {
		return config.Settings{}, fmt.Errorf("config %s: %w", path, err)
	}
	return s, nil
}
