package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/oktaguard/oktaguard/pkg/posture"
)

// RawGetter is the part of *Client the snapshot uses: a paced, retried GET
// through the SDK request executor, decoding raw JSON.
type RawGetter interface {
	GetRaw(ctx context.Context, target string, v any) (*Response, error)
}

var _ RawGetter = (*Client)(nil)

// FetchSnapshot reads the org configuration the posture checks need.
//
// Every resource is read as raw JSON through the client's request executor
// (GetRaw: SDK cache off, paced with the rate-limit share like the log
// poller, retried): okta-sdk-golang v2.20.0 drops fields the checks need
// (policy settings, appSignOn, phishingResistant, ipServiceCategories,
// enrollment settings) and has no resource at all for api-tokens,
// logStreams, first-party-app-settings, iam/assignees, behaviors,
// device-assurances, email settings and the sign-in page; raw JSON is also
// what the report keeps as evidence.
//
// A resource that cannot be read (403 for a missing OAuth scope, 404, 5xx
// after retries) is recorded in Snapshot.Errors with the scope it needs and
// the fetch goes on; checks reading it then report status error. The
// returned error is non-nil only when the context ends or the credentials
// are rejected (401), i.e. when no snapshot can be trusted at all.
func FetchSnapshot(ctx context.Context, c *Client) (posture.Snapshot, error) {
	return FetchSnapshotWith(ctx, c)
}

// FetchSnapshotWith is FetchSnapshot over any RawGetter.
func FetchSnapshotWith(ctx context.Context, g RawGetter) (posture.Snapshot, error) {
	f := &fetcher{g: g, snap: posture.Snapshot{FetchedAt: time.Now().UTC(), Policies: map[string][]posture.Policy{}}}
	steps := []func(context.Context){
		f.pipeline, f.policies, f.authenticators, f.zones, f.apps, f.adminConsole, f.admins, f.users,
		f.apiTokens, f.idps, f.logStreams, f.threatInsight, f.behaviors, f.deviceAssurances, f.brands,
		f.trustedOrigins, f.oktaSupport,
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return f.snap, fmt.Errorf("posture snapshot: %w", err)
		}
		step(ctx)
		if f.fatal != nil {
			return f.snap, fmt.Errorf("posture snapshot: %w", f.fatal)
		}
	}
	if err := ctx.Err(); err != nil {
		return f.snap, fmt.Errorf("posture snapshot: %w", err)
	}
	return f.snap, nil
}

type fetcher struct {
	g     RawGetter
	snap  posture.Snapshot
	fatal error
	// users read by id (admins, token owners), to avoid re-reading.
	byID map[string]*posture.User
}

// fail records a resource error unless it is fatal (401, context end).
func (f *fetcher) fail(ctx context.Context, resource, path string, err error) {
	if ctx.Err() != nil || errors.Is(err, ErrUnauthorized) {
		if f.fatal == nil {
			f.fatal = err
		}
		return
	}
	if f.snap.Err(resource) != nil {
		return
	}
	fe := posture.FetchError{Resource: resource, Path: path, Message: err.Error(), Scope: posture.ResourceScopes[resource]}
	var ae *APIError
	if errors.As(err, &ae) {
		fe.Status = ae.Status
		if ae.Scope != "" {
			fe.Scope = ae.Scope
		}
	}
	if errors.Is(err, ErrInsufficientScope) {
		fe.Message = "missing OAuth scope " + fe.Scope + " (HTTP 403 insufficient_scope on " + path + ")"
	} else if errors.Is(err, ErrForbidden) {
		fe.Message = "access denied on " + path + ": the principal's admin role cannot read it (needs " + fe.Scope + ")"
	}
	f.snap.AddError(fe)
}

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// list reads every page of a list endpoint (Link rel="next").
func (f *fetcher) list(ctx context.Context, path string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	next := path
	for pages := 0; next != ""; pages++ {
		if pages > 10000 {
			return all, fmt.Errorf("okta: %s: more than 10000 pages", path)
		}
		var page []json.RawMessage
		resp, err := f.g.GetRaw(ctx, next, &page)
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

func (f *fetcher) get(ctx context.Context, path string, v any) error {
	_, err := f.g.GetRaw(ctx, path, v)
	return err
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

func (f *fetcher) listInto(ctx context.Context, resource, path string, decodeFn func([]json.RawMessage) error) {
	raws, err := f.list(ctx, path)
	if err != nil {
		f.fail(ctx, resource, path, err)
		return
	}
	if err := decodeFn(raws); err != nil {
		f.fail(ctx, resource, path, fmt.Errorf("okta: %s: unexpected JSON: %w", path, err))
	}
}

func (f *fetcher) pipeline(ctx context.Context) {
	var org struct {
		Pipeline string `json:"pipeline"`
	}
	if err := f.get(ctx, "/.well-known/okta-organization", &org); err == nil {
		f.snap.Pipeline = org.Pipeline
	} else if errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
		f.fail(ctx, posture.ResPolicies, "/.well-known/okta-organization", err)
	}
	// Otherwise unknown: the pipeline is inferred from the policies.
}

func (f *fetcher) policies(ctx context.Context) {
	for _, typ := range posture.PolicyTypes {
		path := "/api/v1/policies?type=" + url.QueryEscape(typ)
		raws, err := f.list(ctx, path)
		if err != nil {
			if typ == posture.PolicyAccess && statusOf(err) == http.StatusBadRequest {
				continue // Classic org: no ACCESS_POLICY type
			}
			f.fail(ctx, posture.ResPolicies, path, err)
			if f.fatal != nil {
				return
			}
			continue
		}
		ps, err := decode(raws, func(p *posture.Policy, r json.RawMessage) { p.Raw = r })
		if err != nil {
			f.fail(ctx, posture.ResPolicies, path, fmt.Errorf("okta: %s: unexpected JSON: %w", path, err))
			continue
		}
		for i := range ps {
			p := &ps[i]
			if (typ == posture.PolicyPassword || typ == posture.PolicyMFAEnroll) && p.Settings == nil {
				// Some list responses omit settings: read the policy itself.
				var raw json.RawMessage
				one := "/api/v1/policies/" + url.PathEscape(p.ID)
				if err := f.get(ctx, one, &raw); err != nil {
					f.fail(ctx, posture.ResPolicies, one, err)
				} else if err := json.Unmarshal(raw, p); err == nil {
					p.Raw = raw
				}
			}
			rpath := "/api/v1/policies/" + url.PathEscape(p.ID) + "/rules"
			rraws, err := f.list(ctx, rpath)
			if err != nil {
				f.fail(ctx, posture.ResPolicies, rpath, err)
				continue
			}
			rules, err := decode(rraws, func(r *posture.PolicyRule, raw json.RawMessage) { r.Raw = raw })
			if err != nil {
				f.fail(ctx, posture.ResPolicies, rpath, fmt.Errorf("okta: %s: unexpected JSON: %w", rpath, err))
				continue
			}
			p.Rules = rules
		}
		f.snap.Policies[typ] = ps
	}
}

func (f *fetcher) authenticators(ctx context.Context) {
	f.listInto(ctx, posture.ResAuthenticators, "/api/v1/authenticators", func(raws []json.RawMessage) (err error) {
		f.snap.Authenticators, err = decode(raws, func(a *posture.Authenticator, r json.RawMessage) { a.Raw = r })
		return err
	})
}

func (f *fetcher) zones(ctx context.Context) {
	f.listInto(ctx, posture.ResZones, "/api/v1/zones?limit=200", func(raws []json.RawMessage) (err error) {
		f.snap.Zones, err = decode(raws, func(z *posture.NetworkZone, r json.RawMessage) { z.Raw = r })
		return err
	})
}

func (f *fetcher) apps(ctx context.Context) {
	f.listInto(ctx, posture.ResApps, "/api/v1/apps?limit=200", func(raws []json.RawMessage) (err error) {
		f.snap.Apps, err = decode(raws, func(a *posture.App, r json.RawMessage) { a.Raw = r })
		return err
	})
}

func (f *fetcher) adminConsole(ctx context.Context) {
	const path = "/api/v1/first-party-app-settings/admin-console"
	var raw json.RawMessage
	if err := f.get(ctx, path, &raw); err != nil {
		if statusOf(err) == http.StatusNotFound {
			return // Classic Engine: no first-party app settings
		}
		f.fail(ctx, posture.ResAdminConsole, path, err)
		return
	}
	var s posture.AdminConsoleSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		f.fail(ctx, posture.ResAdminConsole, path, fmt.Errorf("okta: %s: unexpected JSON: %w", path, err))
		return
	}
	s.Raw = raw
	f.snap.AdminConsoleSettings = &s
}

// user reads one user by id (cached).
func (f *fetcher) user(ctx context.Context, id string) (*posture.User, error) {
	if u, ok := f.byID[id]; ok {
		return u, nil
	}
	var raw json.RawMessage
	path := "/api/v1/users/" + url.PathEscape(id)
	if err := f.get(ctx, path, &raw); err != nil {
		return nil, err
	}
	var u posture.User
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, fmt.Errorf("okta: %s: unexpected JSON: %w", path, err)
	}
	u.Raw = raw
	if f.byID == nil {
		f.byID = map[string]*posture.User{}
	}
	f.byID[id] = &u
	return &u, nil
}

func (f *fetcher) factors(ctx context.Context, u *posture.User) {
	if u.FactorsRead {
		return
	}
	path := "/api/v1/users/" + url.PathEscape(u.ID) + "/factors"
	var fs []posture.Factor
	if err := f.get(ctx, path, &fs); err != nil {
		f.fail(ctx, posture.ResUserFactors, path, err)
		return
	}
	u.Factors, u.FactorsRead = fs, true
}

func (f *fetcher) admins(ctx context.Context) {
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
		resp, err := f.g.GetRaw(ctx, next, &page)
		if err != nil {
			f.fail(ctx, posture.ResAdmins, next, err)
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
	for _, id := range ids {
		u, err := f.user(ctx, id)
		if err != nil {
			f.fail(ctx, posture.ResAdmins, "/api/v1/users/"+id, err)
			return
		}
		rpath := "/api/v1/users/" + url.PathEscape(id) + "/roles"
		var roles []posture.Role
		if err := f.get(ctx, rpath, &roles); err != nil {
			f.fail(ctx, posture.ResAdmins, rpath, err)
			return
		}
		f.factors(ctx, u)
		if f.fatal != nil {
			return
		}
		admins = append(admins, posture.Admin{User: *u, Roles: roles})
	}
	f.snap.Admins = admins
}

func (f *fetcher) users(ctx context.Context) {
	path := "/api/v1/users?limit=200&filter=" + url.QueryEscape(`status eq "ACTIVE"`)
	raws, err := f.list(ctx, path)
	if err != nil {
		f.fail(ctx, posture.ResUsers, path, err)
		return
	}
	users, err := decode(raws, func(u *posture.User, r json.RawMessage) { u.Raw = r })
	if err != nil {
		f.fail(ctx, posture.ResUsers, path, fmt.Errorf("okta: %s: unexpected JSON: %w", path, err))
		return
	}
	for i := range users {
		u := &users[i]
		if cached, ok := f.byID[u.ID]; ok && cached.FactorsRead {
			u.Factors, u.FactorsRead = cached.Factors, true
			continue
		}
		f.factors(ctx, u)
		if f.fatal != nil {
			return
		}
	}
	f.snap.Users = users
}

func (f *fetcher) apiTokens(ctx context.Context) {
	f.listInto(ctx, posture.ResAPITokens, "/api/v1/api-tokens", func(raws []json.RawMessage) (err error) {
		f.snap.APITokens, err = decode(raws, func(t *posture.APIToken, r json.RawMessage) { t.Raw = r })
		return err
	})
	for i := range f.snap.APITokens {
		t := &f.snap.APITokens[i]
		if t.UserID == "" {
			continue
		}
		u, err := f.user(ctx, t.UserID)
		if err != nil {
			if statusOf(err) != http.StatusNotFound {
				f.fail(ctx, posture.ResUsers, "/api/v1/users/"+t.UserID, err)
			}
			continue
		}
		t.Owner = u
	}
}

func (f *fetcher) idps(ctx context.Context) {
	f.listInto(ctx, posture.ResIdPs, "/api/v1/idps?limit=200", func(raws []json.RawMessage) (err error) {
		f.snap.IdPs, err = decode(raws, func(i *posture.IdP, r json.RawMessage) { i.Raw = r })
		return err
	})
}

func (f *fetcher) logStreams(ctx context.Context) {
	f.listInto(ctx, posture.ResLogStreams, "/api/v1/logStreams", func(raws []json.RawMessage) (err error) {
		f.snap.LogStreams, err = decode(raws, func(l *posture.LogStream, r json.RawMessage) { l.Raw = r })
		return err
	})
}

func (f *fetcher) threatInsight(ctx context.Context) {
	const path = "/api/v1/threats/configuration"
	var raw json.RawMessage
	if err := f.get(ctx, path, &raw); err != nil {
		f.fail(ctx, posture.ResThreatInsight, path, err)
		return
	}
	var t posture.ThreatInsight
	if err := json.Unmarshal(raw, &t); err != nil {
		f.fail(ctx, posture.ResThreatInsight, path, fmt.Errorf("okta: %s: unexpected JSON: %w", path, err))
		return
	}
	t.Raw = raw
	f.snap.ThreatInsight = &t
}

func (f *fetcher) behaviors(ctx context.Context) {
	f.listInto(ctx, posture.ResBehaviors, "/api/v1/behaviors", func(raws []json.RawMessage) (err error) {
		f.snap.Behaviors, err = decode(raws, func(b *posture.Behavior, r json.RawMessage) { b.Raw = r })
		return err
	})
}

func (f *fetcher) deviceAssurances(ctx context.Context) {
	f.listInto(ctx, posture.ResDeviceAssurances, "/api/v1/device-assurances", func(raws []json.RawMessage) (err error) {
		f.snap.DeviceAssurances, err = decode(raws, func(d *posture.DeviceAssurance, r json.RawMessage) { d.Raw = r })
		return err
	})
}

func (f *fetcher) brands(ctx context.Context) {
	f.listInto(ctx, posture.ResBrands, "/api/v1/brands", func(raws []json.RawMessage) (err error) {
		f.snap.Brands, err = decode(raws, func(b *posture.Brand, r json.RawMessage) { b.Raw = r })
		return err
	})
	for i := range f.snap.Brands {
		b := &f.snap.Brands[i]
		b.EmailRecipients = map[string]string{}
		for _, tmpl := range posture.NotificationTemplates {
			path := "/api/v1/brands/" + url.PathEscape(b.ID) + "/templates/email/" + tmpl + "/settings"
			var s struct {
				Recipients string `json:"recipients"`
			}
			if err := f.get(ctx, path, &s); err != nil {
				if statusOf(err) != http.StatusNotFound {
					f.fail(ctx, posture.ResEmailSettings, path, err)
				}
				continue
			}
			b.EmailRecipients[tmpl] = s.Recipients
		}
		var page struct {
			PageContent string `json:"pageContent"`
		}
		base := "/api/v1/brands/" + url.PathEscape(b.ID) + "/pages/sign-in/"
		err := f.get(ctx, base+"customized", &page)
		if statusOf(err) == http.StatusNotFound {
			err = f.get(ctx, base+"default", &page)
		}
		if err != nil {
			f.fail(ctx, posture.ResSignInPage, base+"customized", err)
			continue
		}
		b.SignInPageContent = page.PageContent
	}
}

func (f *fetcher) trustedOrigins(ctx context.Context) {
	f.listInto(ctx, posture.ResTrustedOrigins, "/api/v1/trustedOrigins?limit=200", func(raws []json.RawMessage) (err error) {
		f.snap.TrustedOrigins, err = decode(raws, func(t *posture.TrustedOrigin, r json.RawMessage) { t.Raw = r })
		return err
	})
}

func (f *fetcher) oktaSupport(ctx context.Context) {
	const path = "/api/v1/org/privacy/oktaSupport"
	var raw json.RawMessage
	if err := f.get(ctx, path, &raw); err != nil {
		f.fail(ctx, posture.ResOktaSupport, path, err)
		return
	}
	var s posture.OktaSupport
	if err := json.Unmarshal(raw, &s); err != nil {
		f.fail(ctx, posture.ResOktaSupport, path, fmt.Errorf("okta: %s: unexpected JSON: %w", path, err))
		return
	}
	s.Raw = raw
	f.snap.OktaSupport = &s
}
