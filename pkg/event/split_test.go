package event

import (
	"errors"
	"strings"
	"testing"
)

func TestSplitArray(t *testing.T) {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	ok := []struct {
		in   string
		want []string
	}{
		{` [ ] `, nil},
		{`[{"a":1}]`, []string{`{"a":1}`}},
		{"[ {\"a\":\"x,]}\\\"\"} ,\n{\"b\":[1,2]} ]\n", []string{`{"a":"x,]}\""}`, `{"b":[1,2]}`}},
		{`[{"d":` + deep + `},{"e":2}]`, []string{`{"d":` + deep + `}`, `{"e":2}`}},
		{`[1,"s",null]`, []string{`1`, `"s"`, `null`}},
	}
	for _, c := range ok {
		got, err := SplitArray([]byte(c.in))
		if err != nil {
			t.Fatalf("%.40q: %v", c.in, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%.40q: %d elements, want %d", c.in, len(got), len(c.want))
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Fatalf("%.40q: element %d = %.40q, want %.40q", c.in, i, got[i], c.want[i])
			}
		}
	}
	bad := map[string]string{
		``:                   "does not start with '['",
		`{"a":1}`:            "does not start with '['",
		`[{"a":1},`:          "array not closed",
		`[{"a":1}`:           "array not closed",
		`[{"a":1},,{"b":2}]`: "empty element 1",
		`[{"a":1}}]`:         "unbalanced '}'",
		`[{"a":1}] x`:        "data after the closing ']'",
		`[{"a":"]`:           "array not closed",
	}
	for in, want := range bad {
		_, err := SplitArray([]byte(in))
		if !errors.Is(err, ErrNotArray) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", in, err, want)
		}
	}
}
