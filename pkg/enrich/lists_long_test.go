package enrich

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A line longer than maxLineBytes (here 8 MB with no newline: a binary
// downloaded by mistake in the middle of a list) is one bad line, counted
// and sampled with its length, read past without being held in memory;
// the lines before and after it load, and their line numbers stay right.
func TestListLongLineIsOneBadLine(t *testing.T) {
	for _, c := range []struct {
		name string
		long string
	}{
		{"8 MB", strings.Repeat("\x00\xffbinary", 1<<20)},
		{"just over the cap", strings.Repeat("1", maxLineBytes)},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "list.txt")
			writeFile(t, path, "198.51.100.7\n203.0.113.0/24\n"+c.long+"\n10.0.0.1\n# comment\n192.0.2.1-192.0.2.9\n"+c.long)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			d, err := loadFile(path)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("loading allocated %d bytes for a %d-byte line", alloc, len(c.long))
			}
			if len(d.entries) != 4 || d.badLines != 2 || len(d.samples) != 2 {
				t.Fatalf("%d entries, %d bad lines, samples %q; want 4 entries and 2 bad lines", len(d.entries), d.badLines, d.samples)
			}
			for i, line := range []int{3, 7} {
				want := fmt.Sprintf("%s:%d: line of %d bytes, longer than %d", path, line, len(c.long)+1-i, maxLineBytes)
				if !strings.HasPrefix(d.samples[i], want) {
					t.Errorf("sample %q, want it to start with %q", d.samples[i], want)
				}
			}
			ls := buildLists([]*source{{category: "suspicious", cat: 1, path: path}}, []sourceData{d})
			for _, ip := range []string{"198.51.100.7", "203.0.113.200", "10.0.0.1", "192.0.2.5"} {
				if ls.matchIP(netip.MustParseAddr(ip)) == 0 {
					t.Errorf("%s: not matched", ip)
				}
			}
		})
	}
	// A file that is one long line holds nothing: an error naming the file.
	path := filepath.Join(t.TempDir(), "blob.bin")
	writeFile(t, path, strings.Repeat("\x7fELF", 1<<20))
	if _, err := loadFile(path); err == nil || !strings.Contains(err.Error(), "ip list "+path+": no valid line (1 bad lines") ||
		!strings.Contains(err.Error(), "longer than") {
		t.Fatalf("a binary file: %v", err)
	}
}
