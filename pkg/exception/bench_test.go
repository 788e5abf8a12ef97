package exception

import (
	"fmt"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// BenchmarkMatch: one alert against 1,000 exceptions of its detector (the
// worst case: exceptions are grouped by detector, and none matches).
func BenchmarkMatch(b *testing.B) {
	now := time.Now()
	xs := make([]alert.Exception, 0, 1000)
	scopes := []string{alert.ScopeActor, alert.ScopeIP, alert.ScopeSubnet, alert.ScopeASN, alert.ScopeApp}
	for i := 0; i < 1000; i++ {
		sc := scopes[i%len(scopes)]
		v := map[string]string{alert.ScopeActor: fmt.Sprintf("u%d@example.com", i), alert.ScopeIP: fmt.Sprintf("10.%d.%d.1", i/250, i%250),
			alert.ScopeSubnet: fmt.Sprintf("10.%d.%d.0/24", i/250, i%250), alert.ScopeASN: fmt.Sprint(64000 + i), alert.ScopeApp: fmt.Sprintf("app%d", i)}[sc]
		xs = append(xs, alert.Exception{ID: int64(i + 1), Detector: "suspicious_ip", Scope: sc, Value: v, ExpiresAt: now.Add(time.Hour)})
	}
	set := New(xs)
	sub := Subject{Detector: "suspicious_ip", Actor: "nobody@example.com", IP: "192.0.2.7", ASN: 13335, Apps: []string{"Salesforce"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := set.Match(sub, now); ok {
			b.Fatal("matched")
		}
	}
}
