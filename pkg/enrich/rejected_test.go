package enrich

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every rejected IP-list line is reported with file:line and its reason;
// a list with no valid line is an error.
func TestBadListLinesReported(t *testing.T) {
	dir := t.TempDir()
	mixed := filepath.Join(dir, "mixed.txt")
	os.WriteFile(mixed, []byte("198.51.100.7\n300.1.1.1\n1.2.3.4/99\n{\"cidr\": \"203.0.113.0/24\"\n203.0.113.0/24\n"), 0o600)
	e, err := New(Config{Lists: map[string][]string{"suspicious": {mixed}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st := e.Status()
	if st.RejectedLines() != 3 {
		t.Fatalf("rejected %d lines, want 3: %+v", st.RejectedLines(), st.Lists)
	}
	probs := st.Problems()
	if len(probs) != 1 {
		t.Fatalf("problems %q", probs)
	}
	for _, want := range []string{
		"ipLists.suspicious " + mixed + ": 3 lines ignored (",
		mixed + ":2: not an IP, CIDR, IP range or AS number",
		mixed + `:3: bad CIDR "1.2.3.4/99"`,
		mixed + ":4: bad JSON line",
	} {
		if !strings.Contains(probs[0], want) {
			t.Errorf("missing %q in %q", want, probs[0])
		}
	}
	t.Logf("reported: %s", probs[0])

	junk := make([]byte, 4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range junk {
		junk[i] = byte(r.IntN(256))
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"binary.bin":   {junk, "no valid line ("},
		"all bad.txt":  {[]byte("300.1.1.1\n1.2.3.4/99\n{broken\n"), "no valid line (3 bad lines; first: "},
		"empty.txt":    {nil, "no IP, CIDR, range or ASN in the file (0 bytes)"},
		"comments.txt": {[]byte("# nothing here\n\n"), "no IP, CIDR, range or ASN in the file"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, c.data, 0o600)
		_, err := New(Config{Lists: map[string][]string{"anonymous": {p}}})
		if err == nil || !strings.Contains(err.Error(), "enrich: anonymous list: ip list "+p+": "+c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
