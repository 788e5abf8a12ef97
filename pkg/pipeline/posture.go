package pipeline

import (
	"context"
	"errors"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// ErrPostureUnavailable is returned by RefreshPosture when no posture
// snapshot source is wired.
var ErrPostureUnavailable = errors.New("pipeline: posture evaluation is not available")

// postureState schedules posture evaluations: on start, every
// posture.interval and soon after a posture-relevant event.
type postureState struct {
	p    *Pipeline
	kick chan struct{}
}

func newPostureState(p *Pipeline) *postureState {
	return &postureState{p: p, kick: make(chan struct{}, 1)}
}

// notice requests an early evaluation when a committed event changes
// something the posture checks read (policies, authenticators, admin
// roles, apps, zones, API tokens, IdPs, org settings).
func (ps *postureState) notice(evs []event.Event) {
	for i := range evs {
		if PostureRelevant(evs[i].EventType) {
			select {
			case ps.kick <- struct{}{}:
			default:
			}
			return
		}
	}
}

func (ps *postureState) loop(ctx context.Context) {
	<-ctx.Done()
}
