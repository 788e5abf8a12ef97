package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

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
	// OutOfOrder counts events that arrived after later ones beyond the
	// engine's reorder window: they were processed, but out of time order.
	OutOfOrder int
}

// replayDedupHorizon is how far back in event time Replay remembers uuids
// to skip duplicates: overlapping exports repeat an event with the same
// published time, which the merge of the inputs brings next to each other.
// Older uuids are forgotten, so memory stays bounded however long the input.
const replayDedupHorizon = time.Hour

// Replay runs the pipeline's stages (decode → enrich → detect) over
// exported events in event time. The inputs are streamed, never loaded
// whole: they are merged by published time (each input is expected to be
// roughly in time order, as Okta exports are), duplicates by uuid are
// skipped, and the engine's bounded reorder buffer puts the remaining
// disorder into event-time order; events later than its window are still
// processed (counted in OutOfOrder). Each alert (one per incident) is
// passed to emit once, in its final form, after the last event (the
// engine is flushed first). Malformed
// events are counted and skipped; reading goes on. onParseError, when set,
// is called for each of them.
func Replay(ctx context.Context, s config.Settings, inputs []ReplayInput, emit func(alert.Alert) error, onParseError func(input string, err error), opts ...detect.Option) (ReplaySummary, error) {
	sum := ReplaySummary{Alerts: map[string]int{}}
	enr, err := enrich.New(s.EnrichConfig())
	if err != nil {
		return sum, fmt.Errorf("replay: %w", err)
	}
	defer enr.Close()
	loc := enr.Local() // one goroutine: a cache of recent addresses in front
	eng, err := detect.NewEngine(s.Detectors, opts...)
	if err != nil {
		return sum, fmt.Errorf("replay: detectors: %w", err)
	}
	// One incident is one alert: the engine re-emits an incident's alert
	// (same id) as it grows, so replay keeps the latest version of each
	// and writes every alert once, in its final form, after the last
	// event, in the order the incidents opened.
	var raised []alert.Alert
	compactAt := 4096
	out := func(as []alert.Alert) error {
		raised = append(raised, as...)
		if len(raised) >= compactAt { // keep memory near one version per incident
			raised = detect.Final(raised)
			compactAt = max(4096, 2*len(raised))
		}
		return nil
	}
	m := &replayMerge{sum: &sum, onParseError: onParseError}
	for _, in := range inputs {
		m.add(in)
	}
	seen := newRecentUUIDs()
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
		}
		ev, err := m.next()
		if err != nil {
			return sum, err
		}
		if ev == nil {
			break
		}
		if seen.seen(ev.UUID, ev.Published.UnixMilli()) {
			sum.Duplicates++
			continue
		}
		if len(ev.Degraded) > 0 {
			sum.Degraded++
		}
		loc.Enrich(ev)
		if err := out(eng.Process(ev)); err != nil {
			return sum, err
		}
		sum.Events++
	}
	if err := out(eng.Flush()); err != nil {
		return sum, err
	}
	for _, a := range detect.Final(raised) {
		sum.Alerts[a.Detector]++
		if err := emit(a); err != nil {
			return sum, err
		}
	}
	sum.OutOfOrder = int(eng.Stats().Late)
	return sum, nil
}

// replayMerge yields the events of several inputs merged by published
// time, holding one decoded event per input.
type replayMerge struct {
	heads        []*replayHead // inputs with a pending event, a min-heap on published
	sum          *ReplaySummary
	onParseError func(input string, err error)
	// spare is the event handed out last (the engine copies it); the
	// next call decodes into it. Events are decoded in place and handed
	// on by pointer: an Event is about 1 KB, and copying it cost more than
	// one copy per event.
	spare   *event.Event
	started bool
}

type replayHead struct {
	name string
	r    *event.Reader
	ev   *event.Event // the pending event of this input
}

func (m *replayMerge) add(in ReplayInput) {
	m.heads = append(m.heads, &replayHead{name: in.Name, r: event.NewReader(in.R), ev: new(event.Event)})
	if m.spare == nil {
		m.spare = new(event.Event)
	}
}

// next returns the earliest pending event, nil at the end of every input.
func (m *replayMerge) next() (*event.Event, error) {
	if !m.started {
		// first call: read every input's first event
		m.started = true
		live := m.heads[:0]
		for _, h := range m.heads {
			ok, err := m.advance(h)
			if err != nil {
				return nil, err
			}
			if ok {
				live = append(live, h)
			}
		}
		m.heads = live
		sort.SliceStable(m.heads, func(i, j int) bool { return m.heads[i].ev.Published.Before(m.heads[j].ev.Published) })
	}
	if len(m.heads) == 0 {
		return nil, nil
	}
	h := m.heads[0]
	cur := h.ev
	h.ev, m.spare = m.spare, cur
	ok, err := m.advance(h)
	if err != nil {
		return nil, err
	}
	if !ok {
		m.heads = m.heads[1:]
	} else {
		// sift the head down: inputs are few, a linear pass is enough
		i := 0
		for i+1 < len(m.heads) && m.heads[i+1].ev.Published.Before(h.ev.Published) {
			m.heads[i], m.heads[i+1] = m.heads[i+1], m.heads[i]
			i++
		}
	}
	return cur, nil
}

// advance reads h's next event; false at the end of its input.
func (m *replayMerge) advance(h *replayHead) (bool, error) {
	for {
		err := h.r.NextInto(h.ev)
		if errors.Is(err, io.EOF) {
			h.r = nil
			return false, nil
		}
		if err != nil {
			var de *event.DecodeError
			if errors.As(err, &de) {
				if errors.Is(err, event.ErrUnclosed) || errors.Is(err, event.ErrCutLine) {
					// a cut-short input, not a bad event: reported as truncated
					m.sum.Truncated = append(m.sum.Truncated, h.name)
					if m.sum.FirstError == "" {
						m.sum.FirstError = h.name + ": input truncated: " + err.Error()
					}
					continue
				}
				m.sum.ParseErrors++
				if m.sum.FirstError == "" {
					m.sum.FirstError = h.name + ": " + err.Error()
				}
				if m.onParseError != nil {
					m.onParseError(h.name, err)
				}
				continue
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				// a cut-short gzip stream or file: keep what was read
				m.sum.Truncated = append(m.sum.Truncated, h.name)
				if m.sum.FirstError == "" {
					m.sum.FirstError = h.name + ": input truncated: " + err.Error()
				}
				h.r = nil
				return false, nil
			}
			return false, fmt.Errorf("replay: reading %s: %w", h.name, err)
		}
		return true, nil
	}
}
