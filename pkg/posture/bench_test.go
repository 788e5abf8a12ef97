package posture

import (
	"fmt"
	"testing"
	"time"
)

// bigSnapshot is a large org: 5 000 active users with factors, 50 admins,
// 300 apps sharing 20 authentication policies, 20 password policies.
func bigSnapshot() Snapshot {
	now := time.Now()
	s := Snapshot{Pipeline: "idx", Policies: map[string][]Policy{}}
	for i := 0; i < 20; i++ {
		p := pwPolicy(fmt.Sprintf("00p%03d", i), fmt.Sprintf("Password %d", i), i == 19, 10+i%6)
		s.Policies[PolicyPassword] = append(s.Policies[PolicyPassword], p)
		ap := Policy{ID: fmt.Sprintf("rst%03d", i), Name: fmt.Sprintf("Apps %d", i), Type: PolicyAccess, Status: "ACTIVE"}
		for j := 0; j < 5; j++ {
			ap.Rules = append(ap.Rules, PolicyRule{ID: fmt.Sprintf("rul%d-%d", i, j), Name: "r", Status: "ACTIVE", Priority: j + 1,
				Conditions: &RuleConditions{Network: &NetworkCondition{Connection: "ZONE", Include: []string{"nzo1"}}},
				Actions:    &RuleActions{AppSignOn: &AppSignOnAction{Access: "ALLOW", VerificationMethod: &VerificationMethod{Type: "ASSURANCE", FactorMode: "2FA"}}}})
		}
		s.Policies[PolicyAccess] = append(s.Policies[PolicyAccess], ap)
	}
	for i := 0; i < 300; i++ {
		a := App{ID: fmt.Sprintf("0oa%d", i), Name: "app", Label: fmt.Sprintf("App %d", i), Status: "ACTIVE", SignOnMode: "SAML_2_0"}
		a.Links = &struct {
			AccessPolicy *struct {
				Href string `json:"href"`
			} `json:"accessPolicy,omitempty"`
		}{AccessPolicy: &struct {
			Href string `json:"href"`
		}{Href: fmt.Sprintf("https://x/api/v1/policies/rst%03d", i%20)}}
		s.Apps = append(s.Apps, a)
	}
	for i := 0; i < 5000; i++ {
		ll := now.Add(-time.Duration(i%120) * 24 * time.Hour)
		u := User{ID: fmt.Sprintf("00u%d", i), Status: "ACTIVE", Created: now.AddDate(-1, 0, 0), LastLogin: &ll, PasswordChanged: &ll,
			FactorsRead: true, Factors: []Factor{{ID: "f", FactorType: "push", Status: "ACTIVE"}}}
		u.Profile.Login = fmt.Sprintf("user%d@example.com", i)
		s.Users = append(s.Users, u)
		if i < 50 {
			s.Admins = append(s.Admins, Admin{User: u, Roles: []Role{{Type: "ORG_ADMIN", AssignmentType: "USER"}}})
		}
	}
	return s
}

func BenchmarkEvaluateLargeOrg(b *testing.B) {
	s := bigSnapshot()
	p, _ := ProfileByName("baseline")
	b.ReportAllocs()
	for b.Loop() {
		r := EvaluateAt(s, p, time.Now())
		if len(r.Checks) != 62 {
			b.Fatal("checks")
		}
	}
}

func BenchmarkDiff(b *testing.B) {
	s := bigSnapshot()
	p, _ := ProfileByName("baseline")
	r1 := EvaluateAt(s, p, time.Now())
	s.Users[7].Factors = nil
	r2 := EvaluateAt(s, p, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if len(Diff(r1, r2)) == 0 {
			b.Fatal("no change")
		}
	}
}
