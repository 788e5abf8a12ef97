package store

import "time"

// Background builds are work a backend does after Open to bring existing
// data up to a new schema (PostgreSQL's Geomap actor sets of a store
// migrated from schema 7): resumable steps, run only by the instance that
// leads the org, retried with a bounded backoff after an error. A backend
// that has such work reports it (BuildReporter); the pipeline publishes it
// in its status (health) and metrics.

// Build states (Build.State).
const (
	// BuildWaiting: work is left, but this instance does not lead the org
	// (the leader builds; a follower must not compete with its commits).
	BuildWaiting = "waiting"
	// BuildRunning: this instance is building.
	BuildRunning = "running"
	// BuildRetrying: the last step failed (Build.LastError); the build
	// tries again after a backoff.
	BuildRetrying = "retrying"
	// BuildDone: nothing is left to build.
	BuildDone = "done"
)

// BuildStates are the values of Build.State (the state label of
// oktaguard_store_background_build).
var BuildStates = []string{BuildWaiting, BuildRunning, BuildRetrying, BuildDone}

// Build is the state of one background build.
type Build struct {
	Name  string // e.g. "geo_sets"
	State string
	// Remaining is the work left in Unit, as of this instance's last step
	// or, on a follower, its open.
	Remaining int64
	Unit      string
	// LastError is the last failed step's error (kept after a later
	// success: compare LastErrorAt with the state), never a secret;
	// Failures counts the failures since the last successful step.
	LastError   string
	LastErrorAt time.Time
	Failures    int64
}

// BuildReporter is a backend with background builds (PostgreSQL).
type BuildReporter interface {
	// Builds is the state of each background build.
	Builds() []Build
	// OnBuild calls f after every change of a build's state (a step done
	// or failed, a start, a stop), from the build's goroutine or the
	// caller of Lead or Resign: f must not block.
	OnBuild(f func(Build))
}
