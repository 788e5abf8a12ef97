package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/oktaguard/oktaguard/pkg/posture"
)

// RawGetter is the part of *Client the snapshot uses: a paced, retried GET
// through the SDK request executor, decoding raw JSON.
type RawGetter interface {
	GetRaw(ctx context.Context, target string, v any) (*Response, error)
}

var (
	_ RawGetter       = (*Client)(nil)
	_ posture.Fetcher = (*Client)(nil)
)

// FetchSnapshot reads the org configuration the posture checks need
// (posture.Fetcher).
//
// Every input (each policy type, each endpoint) is read, timed and failed
// on its own, several at once (opts.Workers), as raw JSON through the
// client's request executor (GetRaw: SDK cache off, paced with the
// rate-limit share per endpoint like the log poller, retried):
// okta-sdk-golang v2.20.0 drops fields the checks need (policy settings,
// appSignOn, phishingResistant, ipServiceCategories, enrollment settings)
// and has no resource at all for api-tokens, logStreams,
// first-party-app-settings, iam/assignees, behaviors, device-assurances,
// email settings and the sign-in page; raw JSON is also what the report
// keeps as evidence.
//
// The engine (Classic or Identity Engine) is detected once, first, from
// /.well-known/okta-organization (else inferred from whether the org
// serves ACCESS_POLICY policies). An input that cannot be read (403 for a
// missing OAuth scope or admin role, 5xx after retries) is recorded in
// Snapshot.Errors with the scope it needs and the fetch goes on; so is a
// failed per-resource sub-read (a policy's rules, a user's factors, an
// admin's roles, a brand's template), with its item. An input the org does
// not have (400/404 for an unsupported policy type or Identity
// Engine-only endpoint, E0000015 "feature not enabled", or known absent
// from the engine) is recorded in Snapshot.Absent. The returned error is
// non-nil only when the context ends or the credentials are rejected
// (401), i.e. when no snapshot can be trusted at all.
func (c *Client) FetchSnapshot(ctx context.Context, opts posture.FetchOptions) (posture.Snapshot, error) {
	return FetchSnapshotWith(ctx, c, opts)
}

// FetchSnapshot is c.FetchSnapshot with default options.
func FetchSnapshot(ctx context.Context, c *Client) (posture.Snapshot, error) {
	return c.FetchSnapshot(ctx, posture.FetchOptions{})
}

// defaultSnapshotWorkers leaves the System Log poller's request a place in
// the client's in-flight queue between posture requests.
const defaultSnapshotWorkers = 3

// FetchSnapshotWith is FetchSnapshot over any RawGetter.
func FetchSnapshotWith(ctx context.Context, g RawGetter, opts posture.FetchOptions) (posture.Snapshot, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &fetcher{g: g, cancel: cancel, started: time.Now(),
		snap:    posture.Snapshot{FetchedAt: time.Now().UTC(), Policies: map[string][]posture.Policy{}},
		users:   map[string]*readOnce[*posture.User]{},
		factors: map[string]*readOnce[[]posture.Factor]{},
		state:   map[string]*job{}}

	f.run(ctx, &job{res: posture.ResEngine, fn: f.engine})
	if f.fatal != nil {
		return f.snap, fmt.Errorf("posture snapshot: %w", f.fatal)
	}
	jobs := []*job{
		// the per-user reads first: they take longest
		{res: posture.ResUsers, fn: f.usersJob},
		{res: posture.ResAdmins, fn: f.adminsJob},
	}
	for _, typ := range posture.PolicyTypes {
		jobs = append(jobs, &job{res: posture.PolicyResource(typ), fn: f.policiesJob(typ)})
	}
	jobs = append(jobs,
		&job{res: posture.ResApps, fn: listJob(f, "/api/v1/apps?limit=200",
			func(a *posture.App, r json.RawMessage) { a.Raw = r }, func(s *posture.Snapshot, v []posture.App) { s.Apps = v })},
		&job{res: posture.ResAuthenticators, fn: listJob(f, "/api/v1/authenticators",
			func(a *posture.Authenticator, r json.RawMessage) { a.Raw = r }, func(s *posture.Snapshot, v []posture.Authenticator) { s.Authenticators = v })},
		&job{res: posture.ResZones, fn: listJob(f, "/api/v1/zones?limit=200",
			func(z *posture.NetworkZone, r json.RawMessage) { z.Raw = r }, func(s *posture.Snapshot, v []posture.NetworkZone) { s.Zones = v })},
		&job{res: posture.ResAdminConsole, fn: f.adminConsoleJob},
		&job{res: posture.ResAPITokens, fn: f.apiTokensJob},
		&job{res: posture.ResBrands, fn: f.brandsJob},
		&job{res: posture.ResIdPs, fn: listJob(f, "/api/v1/idps?limit=200",
			func(i *posture.IdP, r json.RawMessage) { i.Raw = r }, func(s *posture.Snapshot, v []posture.IdP) { s.IdPs = v })},
		&job{res: posture.ResLogStreams, fn: listJob(f, "/api/v1/logStreams",
			func(l *posture.LogStream, r json.RawMessage) { l.Raw = r }, func(s *posture.Snapshot, v []posture.LogStream) { s.LogStreams = v })},
		&job{res: posture.ResThreatInsight, fn: objectJob(f, "/api/v1/threats/configuration",
			func(t *posture.ThreatInsight, r json.RawMessage) { t.Raw = r }, func(s *posture.Snapshot, v *posture.ThreatInsight) { s.ThreatInsight = v })},
		&job{res: posture.ResBehaviors, fn: listJob(f, "/api/v1/behaviors",
			func(b *posture.Behavior, r json.RawMessage) { b.Raw = r }, func(s *posture.Snapshot, v []posture.Behavior) { s.Behaviors = v })},
		&job{res: posture.ResDeviceAssurances, fn: f.oieOnly(posture.ResDeviceAssurances, "device assurance policies", listJob(f, "/api/v1/device-assurances",
			func(d *posture.DeviceAssurance, r json.RawMessage) { d.Raw = r }, func(s *posture.Snapshot, v []posture.DeviceAssurance) { s.DeviceAssurances = v }))},
		&job{res: posture.ResTrustedOrigins, fn: listJob(f, "/api/v1/trustedOrigins?limit=200",
			func(t *posture.TrustedOrigin, r json.RawMessage) { t.Raw = r }, func(s *posture.Snapshot, v []posture.TrustedOrigin) { s.TrustedOrigins = v })},
		&job{res: posture.ResOktaSupport, fn: objectJob(f, "/api/v1/org/privacy/oktaSupport",
			func(o *posture.OktaSupport, r json.RawMessage) { o.Raw = r }, func(s *posture.Snapshot, v *posture.OktaSupport) { s.OktaSupport = v })},
	)
	for _, j := range jobs {
		f.state[j.res] = j
	}

	workers := opts.Workers
	if workers <= 0 {
		workers = defaultSnapshotWorkers
	}
	queue := make(chan *job)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				f.run(ctx, j)
			}
		}()
	}
	done := make(chan struct{})
	var partialWG sync.WaitGroup
	if opts.PartialAfter > 0 && opts.OnPartial != nil {
		partialWG.Add(1)
		go func() {
			defer partialWG.Done()
			t := time.NewTimer(opts.PartialAfter)
			defer t.Stop()
			select {
			case <-done:
			case <-ctx.Done():
			case <-t.C:
				opts.OnPartial(f.partial())
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	close(done)
	partialWG.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inferEngineLocked()
	if f.fatal != nil {
		return f.snap, fmt.Errorf("posture snapshot: %w", f.fatal)
	}
	if err := ctx.Err(); err != nil {
		return f.snap, fmt.Errorf("posture snapshot: %w", err)
	}
	return f.snap, nil
}

// job reads one input.
type job struct {
	res string
	fn  func(ctx context.Context, j *job)

	// written by fn (its goroutine only)
	requests int
	items    int
	errs     []posture.FetchError // the input's own error and failed sub-reads
	absent   *posture.Absence
	commit   func(*posture.Snapshot) // stores what was read

	// guarded by fetcher.mu
	started, finished bool
	startedAt         time.Time
}

type fetcher struct {
	g       RawGetter
	cancel  context.CancelFunc
	started time.Time

	mu    sync.Mutex
	snap  posture.Snapshot
	fatal error
	state map[string]*job

	cmu     sync.Mutex // users and factors caches
	users   map[string]*readOnce[*posture.User]
	factors map[string]*readOnce[[]posture.Factor]
}

// run executes one job and commits its outcome under the lock.
func (f *fetcher) run(ctx context.Context, j *job) {
	f.mu.Lock()
	j.started, j.startedAt = true, time.Now()
	f.mu.Unlock()
	if ctx.Err() == nil {
		j.fn(ctx, j)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j.finished = true
	if f.fatal != nil || ctx.Err() != nil {
		return
	}
	st := posture.InputStatus{Resource: j.res, State: posture.InputOK, Items: j.items, Requests: j.requests,
		Millis: float64(time.Since(j.startedAt).Microseconds()) / 1000}
	for _, e := range j.errs {
		f.snap.AddError(e)
		if e.Resource == j.res && e.Item == "" {
			st.State, st.Reason, st.Scope = posture.InputError, e.Message, f.snap.Errors[len(f.snap.Errors)-1].Scope
		} else {
			st.SubErrors++
		}
	}
	if j.absent != nil {
		f.snap.AddAbsent(*j.absent)
		st.State, st.Reason = posture.InputAbsent, j.absent.Reason
	}
	if j.commit != nil {
		j.commit(&f.snap)
	}
	f.snap.Inputs = append(f.snap.Inputs, st)
}

// partial is the snapshot so far, with every input not yet read marked
// pending (an error naming it as still being read).
func (f *fetcher) partial() posture.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap.Clone()
	s.Partial = true
	elapsed := time.Since(f.started).Round(time.Second)
	for _, res := range sortedKeys(f.state) {
		f.markPendingLocked(&s, res, elapsed)
	}
	inferEngine(&s)
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (f *fetcher) markPendingLocked(s *posture.Snapshot, res string, elapsed time.Duration) {
	j := f.state[res]
	if j == nil || j.finished || s.Err(res) != nil {
		return
	}
	msg := fmt.Sprintf("still being read when this first evaluation was published (%s after the start); the next report has it", elapsed)
	s.AddError(posture.FetchError{Resource: res, Message: msg})
	s.Inputs = append(s.Inputs, posture.InputStatus{Resource: res, State: posture.InputPending, Reason: msg})
}

// get performs one counted GET.
func (f *fetcher) get(ctx context.Context, j *job, target string, v any) (*Response, error) {
	j.requests++
	resp, err := f.g.GetRaw(ctx, target, v)
	if err != nil && (errors.Is(err, ErrUnauthorized) || ctx.Err() != nil) {
		f.mu.Lock()
		if f.fatal == nil {
			f.fatal = err
			if ctx.Err() != nil {
				f.fatal = ctx.Err()
			}
		}
		f.mu.Unlock()
		f.cancel()
	}
	return resp, err
}

// list reads every page of a list endpoint (Link rel="next").
func (f *fetcher) list(ctx context.Context, j *job, path string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	next := path
	for pages := 0; next != ""; pages++ {
		if pages > 10000 {
			return all, fmt.Errorf("okta: %s: more than 10000 pages", path)
		}
		var page []json.RawMessage
		resp, err := f.get(ctx, j, next, &page)
		if err != nil {
			return all, err
		}
		all = append(all, page...)
		if resp == nil || resp.Next == "" || resp.Next == next {
			break
		}
		next = resp.Next
	}
	return all, nil
}

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func codeOf(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// fetchError describes a failed read of resource (item "" for the input
// itself).
func fetchError(resource, item, path string, err error) posture.FetchError {
	fe := posture.FetchError{Resource: resource, Item: item, Path: path, Message: err.Error(), Scope: scopeForPath(resource, path)}
	var ae *APIError
	if errors.As(err, &ae) {
		fe.Status, fe.Code = ae.Status, ae.Code
		if ae.Scope != "" {
			fe.Scope = ae.Scope
		}
	}
	switch {
	case errors.Is(err, ErrInsufficientScope):
		fe.Denied = true
		fe.Message = "missing OAuth scope " + fe.Scope + " (HTTP 403 insufficient_scope on " + path + ")"
	case errors.Is(err, ErrForbidden) && fe.Code != "E0000015":
		fe.Denied = true
		fe.Message = "access denied on " + path + ": the principal's admin role cannot read it (needs " + fe.Scope + ")"
	}
	return fe
}

// denied reports whether a failure is a permission refusal: every further
// sub-read of the same kind would be refused too.
func denied(err error) bool {
	return errors.Is(err, ErrInsufficientScope) || (errors.Is(err, ErrForbidden) && codeOf(err) != "E0000015")
}

// absence classifies a failed read of an input the org may not have: 400
// or 404 (unsupported type, Identity Engine-only endpoint) or E0000015
// (feature not enabled). nil when the failure is an error.
func absence(resource, path string, err error) *posture.Absence {
	if !posture.Absentable(resource) {
		return nil
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return nil
	}
	a := &posture.Absence{Resource: resource, Status: ae.Status, Code: ae.Code, Path: path}
	detail := fmt.Sprintf("HTTP %d", ae.Status)
	if ae.Code != "" {
		detail += " " + ae.Code
	}
	if ae.Summary != "" {
		detail += ": " + ae.Summary
	}
	switch {
	case ae.Code == "E0000015":
		a.Reason = "feature not enabled for this org (" + detail + ")"
	case ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound:
		a.Reason = "not supported by this org (" + detail + ")"
	default:
		return nil
	}
	return a
}

// fail records the job's input as failed, or absent when the org does not
// have it.
func (f *fetcher) fail(j *job, path string, err error) {
	if a := absence(j.res, path, err); a != nil {
		j.absent = a
		return
	}
	j.errs = append(j.errs, fetchError(j.res, "", path, err))
}

// subFail records a failed sub-read; a permission refusal is recorded as
// the failure of the whole sub-input (resource without item).
func (j *job) subFail(resource, item, path string, err error) {
	if denied(err) {
		for _, e := range j.errs {
			if e.Resource == resource && e.Item == "" {
				return
			}
		}
		item = ""
	}
	j.errs = append(j.errs, fetchError(resource, item, path, err))
}

// decode unmarshals each raw element into T and lets keep store the raw.
func decode[T any](raws []json.RawMessage, keep func(*T, json.RawMessage)) ([]T, error) {
	out := make([]T, 0, len(raws))
	for i, r := range raws {
		var v T
		if err := json.Unmarshal(r, &v); err != nil {
			return out, fmt.Errorf("element %d: %w", i, err)
		}
		keep(&v, r)
		out = append(out, v)
	}
	return out, nil
}

func unexpectedJSON(path string, err error) error {
	return fmt.Errorf("okta: %s: unexpected JSON: %w", path, err)
}

// listDecoded reads every page of a list input and decodes it; on failure
// it records the input's error (or absence) and returns false.
func listDecoded[T any](ctx context.Context, f *fetcher, j *job, path string, keep func(*T, json.RawMessage)) ([]T, bool) {
	raws, err := f.list(ctx, j, path)
	if err != nil {
		f.fail(j, path, err)
		return nil, false
	}
	v, err := decode(raws, keep)
	if err != nil {
		f.fail(j, path, unexpectedJSON(path, err))
		return nil, false
	}
	return v, true
}

// listJob reads a list endpoint (every page) into the snapshot.
func listJob[T any](f *fetcher, path string, keep func(*T, json.RawMessage), set func(*posture.Snapshot, []T)) func(context.Context, *job) {
	return func(ctx context.Context, j *job) {
		v, ok := listDecoded(ctx, f, j, path, keep)
		if !ok {
			return
		}
		j.items = len(v)
		j.commit = func(s *posture.Snapshot) { set(s, v) }
	}
}

// objectJob reads a single-object endpoint into the snapshot.
func objectJob[T any](f *fetcher, path string, keep func(*T, json.RawMessage), set func(*posture.Snapshot, *T)) func(context.Context, *job) {
	return func(ctx context.Context, j *job) {
		var raw json.RawMessage
		if _, err := f.get(ctx, j, path, &raw); err != nil {
			f.fail(j, path, err)
			return
		}
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			f.fail(j, path, unexpectedJSON(path, err))
			return
		}
		keep(v, raw)
		j.items = 1
		j.commit = func(s *posture.Snapshot) { set(s, v) }
	}
}
