package okta

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/posture"
)

// scopeless403 answers every path with an empty list but refuses one with
// a 403 insufficient_scope that names no scope (some Okta endpoints send
// no scope parameter in WWW-Authenticate).
type scopeless403 struct{ refused string }

func (g scopeless403) GetRaw(_ context.Context, target string, v any) (*Response, error) {
	if strings.HasPrefix(target, g.refused) {
		return nil, &APIError{Method: http.MethodGet, Path: g.refused, Status: 403, Code: "insufficient_scope", kind: ErrInsufficientScope}
	}
	if p, ok := v.(*[]json.RawMessage); ok {
		*p = []json.RawMessage{}
	}
	return &Response{Status: 200}, nil
}

// TestFetchErrorNamesTheResourceScope: a refusal that names no scope is
// reported with the scope of the resource that was read, never a guess.
func TestFetchErrorNamesTheResourceScope(t *testing.T) {
	snap, err := FetchSnapshotWith(t.Context(), scopeless403{refused: "/api/v1/behaviors"}, posture.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fe := snap.Err("behaviors")
	if fe == nil || fe.Scope != "okta.behaviors.read" || !strings.Contains(fe.Message, "missing OAuth scope okta.behaviors.read") {
		t.Fatalf("fetch error %+v, want scope okta.behaviors.read", fe)
	}
}
