package posture

import (
	"fmt"
	"time"
)

// lastActivity is lastLogin, else activated, else created.
func lastActivity(u User) time.Time {
	switch {
	case u.LastLogin != nil && !u.LastLogin.IsZero():
		return *u.LastLogin
	case u.Activated != nil && !u.Activated.IsZero():
		return *u.Activated
	}
	return u.Created
}

func daysSince(now, t time.Time) int {
	if t.IsZero() {
		return -1
	}
	return int(now.Sub(t).Hours() / 24)
}

func dormancy(e env, users []User, kind string, maxDays int) outcome {
	exp := fmt.Sprintf("last sign-in ≤ %d days ago", maxDays)
	var o outcome
	for _, u := range users {
		if !active(u.Status) {
			continue
		}
		d := daysSince(e.now, lastActivity(u))
		obs := fmt.Sprintf("%d days idle", d)
		if u.LastLogin == nil {
			obs += " (never signed in; since activation)"
		}
		o.findings = append(o.findings, finding(userRes(kind, u), d >= 0 && d <= maxDays, obs, exp,
			map[string]any{"lastLogin": u.LastLogin, "activated": u.Activated, "created": u.Created}))
	}
	if len(o.findings) == 0 {
		return naOutcome("no ACTIVE "+kind+"s", exp)
	}
	return o
}

func adminUsers(s *Snapshot) []User {
	out := make([]User, 0, len(s.Admins))
	for _, a := range s.Admins {
		out = append(out, a.User)
	}
	return out
}

func roleTypes(a Admin) []string {
	var t []string
	for _, r := range a.Roles {
		t = append(t, r.Type+"/"+r.AssignmentType)
	}
	return t
}

func privilegedChecks() []Check {
	return []Check{
		{
			ID: "okta.users.inactivity_automation", Title: "Auto-suspend inactive users", Category: CatPrivileged, Severity: Medium,
			Needs: []string{ResPolicyLifecycle, ResRulesLifecycle}, Optional: []string{ResUsers}, AnySuffices: true, NAWhen: "every user is sourced from AD/LDAP",
			Remediation: "Workflow > Automations: add an ACTIVE automation 'User inactivity in Okta' of the threshold days or fewer that suspends (or deactivates) the user.",
			References:  References{"stig": "V-273188", "howToHarden": "1.6"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("ACTIVE inactivity automation ≤ %d days", p.Params.UserInactivityMaxDays)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("ACTIVE automation, inactivity ≤ %d days, action SUSPENDED/DEACTIVATED", e.p.UserInactivityMaxDays)
				dir, total := 0, 0
				for _, u := range e.s.Users {
					total++
					if u.Credentials != nil && u.Credentials.Provider != nil &&
						(eqFold(u.Credentials.Provider.Type, "ACTIVE_DIRECTORY") || eqFold(u.Credentials.Provider.Type, "LDAP")) {
						dir++
					}
				}
				if total > 0 && dir == total {
					return naOutcome("all users are sourced from AD/LDAP (inactivity handled by the directory)", exp)
				}
				var o outcome
				for _, p := range e.s.ActivePolicies(PolicyUserLifecycle) {
					var in *InactivityCondition
					if p.Conditions != nil && p.Conditions.People != nil && p.Conditions.People.Users != nil {
						in = p.Conditions.People.Users.Inactivity
					}
					if in == nil {
						o.findings = append(o.findings, finding(policyRes(p), false, "no inactivity condition", exp, p.Raw))
						continue
					}
					actionOK := len(p.ActiveRules()) == 0
					var actions []string
					for _, r := range p.ActiveRules() {
						if r.Actions != nil && r.Actions.Lifecycle != nil {
							actions = append(actions, r.Actions.Lifecycle.Action)
							if contains([]string{"SUSPENDED", "DEACTIVATED", "DELETED"}, r.Actions.Lifecycle.Action) {
								actionOK = true
							}
						}
					}
					d := in.Days()
					o.findings = append(o.findings, finding(policyRes(p), d > 0 && d <= e.p.UserInactivityMaxDays && actionOK,
						map[string]any{"inactivityDays": d, "actions": actions}, exp, p.Raw))
				}
				if len(o.findings) == 0 {
					return orgFinding(false, "no ACTIVE user-inactivity automation", exp, nil)
				}
				// One compliant automation covers the org.
				o.status, o.credit = Fail, 0
				for _, f := range o.findings {
					if f.Status == Pass {
						o.status, o.credit = Pass, 1
					}
				}
				return o
			},
		},
		{
			ID: "okta.users.dormant", Title: "Dormant active accounts", Category: CatPrivileged, Severity: Medium,
			Needs: []string{ResUsers}, NAWhen: "the org has no ACTIVE users",
			Remediation: "Suspend or deactivate the listed ACTIVE users who have not signed in within the threshold, and add an inactivity automation.",
			References:  References{"other": "GRCEngClub (90 d)"},
			Expected:    func(p Profile) string { return fmt.Sprintf("no ACTIVE user idle > %d days", p.Params.DormantUserDays) },
			eval: func(e env) outcome {
				return dormancy(e, e.s.Users, "user", e.p.DormantUserDays)
			},
		},
		{
			ID: "okta.admins.dormant", Title: "Dormant privileged accounts", Category: CatPrivileged, Severity: High,
			Needs: []string{ResAdmins}, NAWhen: "the org has no ACTIVE admins",
			Remediation: "Remove admin roles from (or deactivate) the listed administrators who have not signed in within the threshold.",
			References:  References{"mdi": "Dormant privileged Okta accounts"},
			Expected:    func(p Profile) string { return fmt.Sprintf("no admin idle > %d days", p.Params.DormantAdminDays) },
			eval: func(e env) outcome {
				return dormancy(e, adminUsers(e.s), "admin", e.p.DormantAdminDays)
			},
		},
		{
			ID: "okta.admins.mfa", Title: "Admins have MFA", Category: CatPrivileged, Severity: Critical,
			Needs: []string{ResAdmins, ResUserFactors}, NAWhen: "the org has no ACTIVE admins",
			Remediation: "Make every administrator enroll the required number of non-password factors (prefer phishing-resistant ones).",
			References:  References{"mdi": "Okta admins without MFA", "secureScore": "Enable multi-factor authentication (MFA)"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("≥ %d ACTIVE non-password factor(s) per admin", p.Params.AdminMinFactors)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("≥ %d ACTIVE non-password factor(s)", e.p.AdminMinFactors)
				var o outcome
				for _, a := range e.s.Admins {
					if !active(a.User.Status) {
						continue
					}
					if !a.User.FactorsRead {
						o.findings = append(o.findings, errFinding(userRes("admin", a.User), "factors not read", exp))
						continue
					}
					n := activeFactors(a.User)
					var types []string
					for _, f := range a.User.Factors {
						if active(f.Status) {
							types = append(types, f.FactorType)
						}
					}
					o.findings = append(o.findings, finding(userRes("admin", a.User), n >= e.p.AdminMinFactors, fmt.Sprintf("%d factor(s)", n), exp, map[string]any{"factors": types}))
				}
				if len(o.findings) == 0 {
					return naOutcome("no ACTIVE admins", exp)
				}
				return o
			},
		},
		{
			ID: "okta.admins.stale_password", Title: "Admin password rotated", Category: CatPrivileged, Severity: Medium,
			Needs: []string{ResAdmins}, NAWhen: "the org has no ACTIVE admins",
			Remediation: "Have the listed administrators change their password (or move them to passwordless / federated sign-in).",
			References:  References{"mdi": "Okta admin with stale password"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("passwordChanged ≤ %d days ago", p.Params.AdminPasswordMaxAgeDays)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("passwordChanged ≤ %d days ago", e.p.AdminPasswordMaxAgeDays)
				var o outcome
				for _, a := range e.s.Admins {
					if !active(a.User.Status) {
						continue
					}
					if a.User.PasswordChanged == nil {
						o.findings = append(o.findings, Finding{Resource: userRes("admin", a.User), Status: NotApplicable, Observed: "no Okta password (federated or passwordless)", Expected: exp})
						continue
					}
					d := daysSince(e.now, *a.User.PasswordChanged)
					o.findings = append(o.findings, finding(userRes("admin", a.User), d <= e.p.AdminPasswordMaxAgeDays, fmt.Sprintf("%d days", d), exp, map[string]any{"passwordChanged": a.User.PasswordChanged}))
				}
				if len(o.findings) == 0 {
					return naOutcome("no ACTIVE admins", exp)
				}
				return o
			},
		},
		{
			ID: "okta.admins.super_admin_count", Title: "Few Super Admins", Category: CatPrivileged, Severity: High,
			Needs:       []string{ResAdmins},
			Remediation: "Reduce Super Administrators (direct and via groups) to the threshold; give others narrower standard or custom roles.",
			References:  References{"healthInsight": "Limit Super Admins (Critical)", "mdi": "More than 5 Super Admins"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("≤ %d Super Admins and ≤ %d %% of admins", p.Params.SuperAdminMax, p.Params.SuperAdminMaxPercent)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("≤ %d Super Admins and ≤ %d %% of admins", e.p.SuperAdminMax, e.p.SuperAdminMaxPercent)
				var supers []string
				for _, a := range e.s.Admins {
					if a.HasRole("SUPER_ADMIN") {
						supers = append(supers, a.User.Login())
					}
				}
				total := len(e.s.Admins)
				if total == 0 {
					return orgFinding(false, "no admin found", exp, nil)
				}
				pct := 100 * len(supers) / total
				ok := len(supers) <= e.p.SuperAdminMax && pct <= e.p.SuperAdminMaxPercent
				return orgFinding(ok, fmt.Sprintf("%d Super Admins of %d admins (%d %%)", len(supers), total, pct), exp, map[string]any{"superAdmins": supers})
			},
		},
		{
			ID: "okta.admins.privileged_count", Title: "Few other admins", Category: CatPrivileged, Severity: Medium,
			Needs:       []string{ResAdmins},
			Remediation: "Review the admins holding standard or custom roles and remove roles that are no longer needed.",
			References:  References{"mdi": "More than 25 privileged Okta accounts"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("≤ %d non-Super-Admin role holders", p.Params.PrivilegedAdminMax)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("≤ %d non-Super-Admin role holders", e.p.PrivilegedAdminMax)
				n := 0
				for _, a := range e.s.Admins {
					if !a.HasRole("SUPER_ADMIN") {
						n++
					}
				}
				return orgFinding(n <= e.p.PrivilegedAdminMax, fmt.Sprintf("%d admin(s) without Super Admin", n), exp, nil)
			},
		},
	}
}
