package oktasim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim"
)

func Example() {
	// A fixed clock keeps the example's dates inside the 90-day retention.
	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	sim := oktasim.New(oktasim.Options{Token: "example-token", Clock: func() time.Time { return now }})
	ts := httptest.NewServer(sim.Handler())
	defer ts.Close()

	_ = sim.Add(json.RawMessage(`{"uuid":"e1","published":"2026-01-01T00:00:00.000Z","eventType":"user.session.start"}`))
	_ = sim.Inject(oktasim.Fault{Kind: oktasim.FaultServerError})

	get := func() (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/logs?since=2025-12-31T00:00:00Z", nil)
		req.Header.Set("Authorization", "SSWS example-token")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, _ := get() // the injected fault
	fmt.Println(res.StatusCode)
	res, body := get()
	fmt.Println(res.StatusCode, strings.Contains(body, `"uuid":"e1"`), len(res.Header.Values("Link")))
	fmt.Println(sim.Stats().Faults[oktasim.FaultServerError])
	// Output:
	// 500
	// 200 true 2
	// 1
}
