package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/enrich"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// ReplayInput is one stream of exported events (a JSON array or JSON Lines).
type ReplayInput struct {
	Name string
	R    io.Reader
}

// ReplaySummary is what a replay saw.
type ReplaySummary struct {
	Events      int            // distinct events processed
	Duplicates  int            // events whose uuid was already seen (skipped)
	ParseErrors int            // events that could not be decoded (skipped)
	Degraded    int            // events kept with an optional field treated as absent (event.Event.Degraded)
	Alerts      map[string]int // per detector
	FirstError  string         // the first parse error, for the summary line
	// Truncated names the inputs that ended early (a JSON array not
	// closed, a gzip stream or a file cut short): what was read before
	// the cut is processed, and the replay is not complete.
	Truncated []string
}

// replayChunk is how many events Replay allocates at once. A chunk lives
// until the last of its events is processed; events mostly arrive in
// published order, so that is soon after its first.
const replayChunk = 64

// Replay runs the pipeline's stages (decode → enrich → detect) over
// exported events in event time: every input is read, events are
// de-duplicated by uuid and sorted by published, and each alert is passed
// to emit as soon as the engine raises it (the engine is flushed at the
// end). Malformed events are counted and skipped; reading goes on.
// onParseError, when set, is called for each of them.
func Replay(ctx context.Context, s config.Settings, inputs []ReplayInput, emit func(alert.Alert) error, onParseError func(input string, err error), opts ...detect.Option) (ReplaySummary, error) {
	sum := ReplaySummary{Alerts: map[string]int{}}
	enr, err := enrich.New(s.EnrichConfig())
	if err != nil {
		return sum, fmt.Errorf("replay: %w", err)
	}
	defer enr.Close()
	eng, err := detect.NewEngine(s.Detectors, opts...)
	if err != nil {
		return sum, fmt.Errorf("replay: detectors: %w", err)
	}
	// Pointers, not values: an Event is ~1 KB, and growing or sorting a
	// month of them by value spends more time moving memory than detecting.
	// They point into chunks of replayChunk events, one allocation each
	// rather than one per event.
	var evs []*event.Event
	var chunk []event.Event
	seen := map[string]struct{}{}
	for _, in := range inputs {
		r := event.NewReader(in.R)
		for {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var de *event.DecodeError
				if errors.As(err, &de) {
					if errors.Is(err, event.ErrUnclosed) {
						sum.Truncated = append(sum.Truncated, in.Name)
					}
					sum.ParseErrors++
					if sum.FirstError == "" {
						sum.FirstError = in.Name + ": " + err.Error()
					}
					if onParseError != nil {
						onParseError(in.Name, err)
					}
					continue
				}
				if errors.Is(err, io.ErrUnexpectedEOF) {
					// a cut-short gzip stream or file: keep what was read
					sum.Truncated = append(sum.Truncated, in.Name)
					if sum.FirstError == "" {
						sum.FirstError = in.Name + ": input truncated: " + err.Error()
					}
					break
				}
				return sum, fmt.Errorf("replay: reading %s: %w", in.Name, err)
			}
			if _, dup := seen[ev.UUID]; dup {
				sum.Duplicates++
				continue
			}
			seen[ev.UUID] = struct{}{}
			if len(ev.Degraded) > 0 {
				sum.Degraded++
			}
			if len(chunk) == cap(chunk) {
				chunk = make([]event.Event, 0, replayChunk)
			}
			chunk = append(chunk, ev)
			evs = append(evs, &chunk[len(chunk)-1])
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Published.Before(evs[j].Published) })
	out := func(as []alert.Alert) error {
		for _, a := range as {
			sum.Alerts[a.Detector]++
			if err := emit(a); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range evs {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
		}
		enr.Enrich(evs[i])
		if err := out(eng.Process(evs[i])); err != nil {
			return sum, err
		}
		evs[i] = nil // release memory as we go
		sum.Events++
	}
	if err := out(eng.Flush()); err != nil {
		return sum, err
	}
	return sum, nil
}
