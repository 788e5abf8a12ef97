package okta

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOversizedBodyIsRefused: a response body past the cap fails its read
// (retried like any broken body, then ErrRetriesExhausted naming the cap)
// instead of being read whole into memory or cut short and taken as a
// complete page. The cap is lowered to 4 KiB here; MaxResponseBody is the
// same code path at 64 MiB.
func TestOversizedBodyIsRefused(t *testing.T) {
	f := newFakeOkta(t, 5)
	c := testClient(t, f, nil)
	c.tr.maxBody = 4 << 10
	big := func(status int) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `[{"uuid":"big","published":"2025-01-01T00:00:00.000Z","eventType":"user.session.start","pad":%q}]`,
				strings.Repeat("a", 8<<10))
			return true
		}
	}
	for i := 0; i < 4; i++ {
		f.inject(big(http.StatusOK))
	}
	_, err := NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Now()})
	if !errors.Is(err, ErrRetriesExhausted) || !strings.Contains(err.Error(), "response body too large: more than 4096 bytes") {
		t.Fatalf("err = %v, want retries exhausted on a body past the cap", err)
	}
	if f.requests() != 4 {
		t.Fatalf("requests = %d, want MaxAttempts=4", f.requests())
	}

	// An error status with an oversized body is capped too (the SDK reads
	// error bodies whole).
	for i := 0; i < 4; i++ {
		f.inject(big(http.StatusInternalServerError))
	}
	_, err = NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Now()})
	if !errors.Is(err, ErrRetriesExhausted) || !strings.Contains(err.Error(), "more than 4096 bytes") {
		t.Fatalf("err = %v, want the capped 500 body named", err)
	}

	// A body at the cap is read whole.
	c.tr.maxBody = 1 << 20
	page, err := NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Unix(0, 0)})
	if err != nil || len(page.Events) == 0 {
		t.Fatalf("normal page under the cap: %v, %d events", err, len(page.Events))
	}
}

func TestCappedBodyReadsExactlyTheCap(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 4096, 4097, 9000} {
		b := &cappedBody{rc: nopRC{strings.NewReader(strings.Repeat("x", n))}, left: 4096, max: 4096}
		var got int
		var err error
		buf := make([]byte, 1000)
		for {
			var k int
			k, err = b.Read(buf)
			got += k
			if err != nil {
				break
			}
		}
		if n <= 4096 {
			if err.Error() != "EOF" || got != n {
				t.Fatalf("n=%d: got %d bytes, err %v; want all and EOF", n, got, err)
			}
		} else if !errors.Is(err, ErrBodyTooLarge) || got > 4096 {
			t.Fatalf("n=%d: got %d bytes, err %v; want at most the cap and ErrBodyTooLarge", n, got, err)
		}
	}
}

type nopRC struct{ r *strings.Reader }

func (n nopRC) Read(p []byte) (int, error) { return n.r.Read(p) }
func (nopRC) Close() error                 { return nil }
