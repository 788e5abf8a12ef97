package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/oktaguard/oktaguard/pkg/posture"
)

// This file holds the snapshot inputs that are more than one list: the
// engine, the policy types with their rules, users and admins with their
// factors and roles, API tokens with their owners, brands with their
// templates and sign-in page.

// engine reads /.well-known/okta-organization (public, no scope).
func (f *fetcher) engine(ctx context.Context, j *job) {
	const path = "/.well-known/okta-organization"
	var org struct {
		Pipeline string `json:"pipeline"`
	}
	if _, err := f.get(ctx, j, path, &org); err != nil {
		e := fetchError(posture.ResEngine, "", path, err)
		e.Scope = ""
		j.errs = append(j.errs, e)
		return
	}
	j.items = 1
	j.commit = func(s *posture.Snapshot) {
		s.Pipeline = org.Pipeline
		switch org.Pipeline {
		case "idx":
			s.Engine = posture.EngineOIE
		case "v1":
			s.Engine = posture.EngineClassic
		}
		if s.Engine != "" {
			s.EngineSource = fmt.Sprintf("%s: pipeline %q", path, org.Pipeline)
		}
	}
}

// inferEngine decides the engine from the ACCESS_POLICY read when the
// well-known document did not: only Identity Engine serves that type.
func inferEngine(s *posture.Snapshot) {
	if s.Engine != "" {
		return
	}
	for _, in := range s.Inputs {
		if in.Resource != posture.ResPolicyAccess {
			continue
		}
		switch in.State {
		case posture.InputAbsent:
			s.Engine, s.EngineSource = posture.EngineClassic, "inferred: the org does not serve ACCESS_POLICY policies ("+in.Reason+")"
			return
		case posture.InputOK:
			s.Engine, s.EngineSource = posture.EngineOIE, "inferred: the org serves ACCESS_POLICY policies"
			return
		}
	}
	s.Engine, s.EngineSource = posture.EngineUnknown, "not detected: neither /.well-known/okta-organization nor the ACCESS_POLICY policies could be read"
}

func (f *fetcher) inferEngineLocked() { inferEngine(&f.snap) }

// classic reports whether the engine is known to be Classic (detected
// before the other inputs are read).
func (f *fetcher) classic() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap.Engine == posture.EngineClassic
}

// oieOnly marks an Identity Engine-only input absent on a Classic org
// without a request.
func (f *fetcher) oieOnly(res, what string, fn func(context.Context, *job)) func(context.Context, *job) {
	return func(ctx context.Context, j *job) {
		if f.classic() {
			j.absent = &posture.Absence{Resource: res, Reason: "Classic Engine org: " + what + " exist only in Identity Engine"}
			return
		}
		fn(ctx, j)
	}
}

// policiesJob reads the policies of one type, the settings of password and
// enrollment policies the list left out, and each policy's rules (except
// enrollment policies', which no check reads).
func (f *fetcher) policiesJob(typ string) func(context.Context, *job) {
	fn := func(ctx context.Context, j *job) {
		path := "/api/v1/policies?type=" + url.QueryEscape(typ)
		ps, ok := listDecoded(ctx, f, j, path, func(p *posture.Policy, r json.RawMessage) { p.Raw = r })
		if !ok {
			return
		}
		rulesRes := posture.RulesResource(typ)
		settingsDenied, rulesDenied := false, false
		for i := range ps {
			p := &ps[i]
			if (typ == posture.PolicyPassword || typ == posture.PolicyMFAEnroll) && p.Settings == nil && !settingsDenied {
				// Some list responses omit settings: read the policy itself.
				var raw json.RawMessage
				one := "/api/v1/policies/" + url.PathEscape(p.ID)
				if _, err := f.get(ctx, j, one, &raw); err != nil {
					if ctx.Err() != nil {
						return
					}
					j.subFail(j.res, p.ID, one, err)
					settingsDenied = denied(err)
				} else if err := json.Unmarshal(raw, p); err != nil {
					j.subFail(j.res, p.ID, one, unexpectedJSON(one, err))
				} else {
					p.Raw = raw
				}
			}
			if typ == posture.PolicyMFAEnroll || rulesDenied {
				continue
			}
			rpath := "/api/v1/policies/" + url.PathEscape(p.ID) + "/rules"
			rraws, err := f.list(ctx, j, rpath)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				j.subFail(rulesRes, p.ID, rpath, err)
				rulesDenied = denied(err)
				continue
			}
			rules, err := decode(rraws, func(r *posture.PolicyRule, raw json.RawMessage) { r.Raw = raw })
			if err != nil {
				j.subFail(rulesRes, p.ID, rpath, unexpectedJSON(rpath, err))
				continue
			}
			p.Rules = rules
		}
		j.items = len(ps)
		j.commit = func(s *posture.Snapshot) { s.Policies[typ] = ps }
	}
	if typ == posture.PolicyAccess {
		return f.oieOnly(posture.ResPolicyAccess, "authentication policies (ACCESS_POLICY)", fn)
	}
	return fn
}

func (f *fetcher) adminConsoleJob(ctx context.Context, j *job) {
	f.oieOnly(posture.ResAdminConsole, "first-party app settings (Admin Console)",
		objectJob(f, "/api/v1/first-party-app-settings/admin-console",
			func(a *posture.AdminConsoleSettings, r json.RawMessage) { a.Raw = r },
			func(s *posture.Snapshot, v *posture.AdminConsoleSettings) { s.AdminConsoleSettings = v }))(ctx, j)
}

func (f *fetcher) deviceAssurancesJob(ctx context.Context, j *job) {
	f.oieOnly(posture.ResDeviceAssurances, "device assurance policies", listJob(f, "/api/v1/device-assurances",
		func(d *posture.DeviceAssurance, r json.RawMessage) { d.Raw = r },
		func(s *posture.Snapshot, v []posture.DeviceAssurance) { s.DeviceAssurances = v }))(ctx, j)
}

// readOnce makes each user and factor list read once per snapshot,
// whichever input asks first (admins, users and token owners overlap).
type readOnce[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func once[T any](ctx context.Context, mu *sync.Mutex, m map[string]*readOnce[T], key string, read func() (T, error)) (T, error) {
	mu.Lock()
	e, ok := m[key]
	if !ok {
		e = &readOnce[T]{done: make(chan struct{})}
		m[key] = e
	}
	mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e.v, e.err
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	defer close(e.done)
	e.v, e.err = read()
	return e.v, e.err
}

// user reads one user by id (once per snapshot).
func (f *fetcher) user(ctx context.Context, j *job, id string) (*posture.User, error) {
	return once(ctx, &f.cmu, f.users, id, func() (*posture.User, error) {
		var raw json.RawMessage
		path := "/api/v1/users/" + url.PathEscape(id)
		if _, err := f.get(ctx, j, path, &raw); err != nil {
			return nil, err
		}
		var u posture.User
		if err := json.Unmarshal(raw, &u); err != nil {
			return nil, unexpectedJSON(path, err)
		}
		u.Raw = raw
		return &u, nil
	})
}

// factorsOf reads a user's enrolled factors (once per snapshot).
func (f *fetcher) factorsOf(ctx context.Context, j *job, id string) ([]posture.Factor, error) {
	return once(ctx, &f.cmu, f.factors, id, func() ([]posture.Factor, error) {
		var fs []posture.Factor
		_, err := f.get(ctx, j, "/api/v1/users/"+url.PathEscape(id)+"/factors", &fs)
		return fs, err
	})
}

// usersJob reads the ACTIVE users and each one's factors.
func (f *fetcher) usersJob(ctx context.Context, j *job) {
	path := "/api/v1/users?limit=200&filter=" + url.QueryEscape(`status eq "ACTIVE"`)
	users, ok := listDecoded(ctx, f, j, path, func(u *posture.User, r json.RawMessage) { u.Raw = r })
	if !ok {
		return
	}
	factorsDenied := false
	for i := range users {
		u := &users[i]
		if factorsDenied {
			break
		}
		fs, err := f.factorsOf(ctx, j, u.ID)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if statusOf(err) == http.StatusNotFound {
				continue // deactivated or deleted since the list was read
			}
			j.subFail(posture.ResUserFactors, u.ID, "/api/v1/users/"+u.ID+"/factors", err)
			factorsDenied = denied(err)
			continue
		}
		u.Factors, u.FactorsRead = fs, true
	}
	j.items = len(users)
	j.commit = func(s *posture.Snapshot) { s.Users = users }
}

// adminsJob reads every user holding a role, with the user record, the
// roles and the factors.
func (f *fetcher) adminsJob(ctx context.Context, j *job) {
	next := "/api/v1/iam/assignees/users?limit=200"
	var ids []string
	for pages := 0; next != "" && pages < 10000; pages++ {
		var page struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			Links struct {
				Next *struct {
					Href string `json:"href"`
				} `json:"next"`
			} `json:"_links"`
		}
		resp, err := f.get(ctx, j, next, &page)
		if err != nil {
			f.fail(j, next, err)
			return
		}
		for _, v := range page.Value {
			ids = append(ids, v.ID)
		}
		n := ""
		if page.Links.Next != nil {
			n = page.Links.Next.Href
		} else if resp != nil {
			n = resp.Next
		}
		if n == next {
			break
		}
		next = n
	}
	admins := make([]posture.Admin, 0, len(ids))
	factorsDenied := false
	for _, id := range ids {
		upath := "/api/v1/users/" + url.PathEscape(id)
		u, err := f.user(ctx, j, id)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if statusOf(err) == http.StatusNotFound {
				continue
			}
			j.subFail(j.res, id, upath, err)
			if denied(err) {
				return
			}
			continue
		}
		rpath := upath + "/roles"
		var roles []posture.Role
		if _, err := f.get(ctx, j, rpath, &roles); err != nil {
			if ctx.Err() != nil {
				return
			}
			j.subFail(j.res, id, rpath, err)
			if denied(err) {
				return
			}
			continue
		}
		a := posture.Admin{User: *u, Roles: roles}
		if !factorsDenied {
			fs, err := f.factorsOf(ctx, j, id)
			switch {
			case err == nil:
				a.User.Factors, a.User.FactorsRead = fs, true
			case ctx.Err() != nil:
				return
			default:
				j.subFail(posture.ResUserFactors, id, upath+"/factors", err)
				factorsDenied = denied(err)
			}
		}
		admins = append(admins, a)
	}
	j.items = len(admins)
	j.commit = func(s *posture.Snapshot) { s.Admins = admins }
}

// apiTokensJob reads the API tokens and each owner's user record. An
// owner that cannot be read for lack of permission is left nil (the users
// input records that refusal); another failure is an error of that token.
func (f *fetcher) apiTokensJob(ctx context.Context, j *job) {
	const path = "/api/v1/api-tokens"
	tokens, ok := listDecoded(ctx, f, j, path, func(t *posture.APIToken, r json.RawMessage) { t.Raw = r })
	if !ok {
		return
	}
	for i := range tokens {
		t := &tokens[i]
		if t.UserID == "" {
			continue
		}
		u, err := f.user(ctx, j, t.UserID)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !denied(err) && statusOf(err) != http.StatusNotFound {
				j.subFail(j.res, t.ID, "/api/v1/users/"+t.UserID, err)
			}
			continue
		}
		t.Owner = u
	}
	j.items = len(tokens)
	j.commit = func(s *posture.Snapshot) { s.APITokens = tokens }
}

// brandsJob reads the brands, each one's notification template settings
// and its sign-in page.
func (f *fetcher) brandsJob(ctx context.Context, j *job) {
	const path = "/api/v1/brands"
	brands, ok := listDecoded(ctx, f, j, path, func(b *posture.Brand, r json.RawMessage) { b.Raw = r })
	if !ok {
		return
	}
	tmplDenied, pageDenied := false, false
	for i := range brands {
		b := &brands[i]
		b.EmailRecipients = map[string]string{}
		for _, tmpl := range posture.NotificationTemplates {
			if tmplDenied {
				break
			}
			tpath := "/api/v1/brands/" + url.PathEscape(b.ID) + "/templates/email/" + tmpl + "/settings"
			var s struct {
				Recipients string `json:"recipients"`
			}
			if _, err := f.get(ctx, j, tpath, &s); err != nil {
				if ctx.Err() != nil {
					return
				}
				if statusOf(err) != http.StatusNotFound {
					j.subFail(posture.ResEmailSettings, b.ID+"/"+tmpl, tpath, err)
					tmplDenied = denied(err)
				}
				continue
			}
			b.EmailRecipients[tmpl] = s.Recipients
		}
		if pageDenied {
			continue
		}
		var page struct {
			PageContent string `json:"pageContent"`
		}
		base := "/api/v1/brands/" + url.PathEscape(b.ID) + "/pages/sign-in/"
		_, err := f.get(ctx, j, base+"customized", &page)
		if statusOf(err) == http.StatusNotFound {
			_, err = f.get(ctx, j, base+"default", &page)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			j.subFail(posture.ResSignInPage, b.ID, base+"customized", err)
			pageDenied = denied(err)
			continue
		}
		b.SignInPageContent = page.PageContent
	}
	j.items = len(brands)
	j.commit = func(s *posture.Snapshot) { s.Brands = brands }
}

// scopeForPath names the OAuth scope a sub-read's path needs when Okta's
// refusal did not say: roles and users are read under other inputs.
func scopeForPath(resource, path string) string {
	switch {
	case strings.Contains(path, "/roles"):
		return "okta.roles.read"
	case strings.HasPrefix(path, "/api/v1/users"):
		return "okta.users.read"
	}
	return posture.ResourceScopes[resource]
}
