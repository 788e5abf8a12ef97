package enrich

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Categories maps the ipLists config keys to event categories.
var Categories = map[string]event.IPCategory{
	"anonymous":  event.CatAnonymous,
	"suspicious": event.CatSuspicious,
	"risky":      event.CatRisky,
	"trusted":    event.CatTrusted,
}

// maxBadLineSamples is how many bad lines per source Status keeps verbatim.
const maxBadLineSamples = 10

// maxLineBytes caps a list line, its newline included. The longest valid
// line (an NDJSON record of a CIDR or ASN with its metadata, an IPv6 range
// with a comment) is far shorter; a longer line (a binary downloaded by
// mistake has no newline at all) is one bad line, read past without being
// held in memory.
const maxLineBytes = 4096

// readLine returns the next line of r with its newline (the last line may
// have none). A line longer than maxLineBytes is read to its end and
// dropped: long is true and n is its length in bytes. r must buffer
// maxLineBytes (bufio.NewReaderSize).
func readLine(r *bufio.Reader) (line string, long bool, n int, err error) {
	b, err := r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return string(b), false, len(b), err
	}
	n = len(b)
	for errors.Is(err, bufio.ErrBufferFull) {
		b, err = r.ReadSlice('\n')
		n += len(b)
	}
	return "", true, n, err
}

// entryKind is what one list entry holds.
type entryKind int

const (
	kindPrefix entryKind = iota
	kindRange
	kindASN
)

type entry struct {
	kind       entryKind
	prefix     netip.Prefix
	start, end netip.Addr
	asn        uint32
}

var errNotEntry = errors.New("not an IP, CIDR, IP range or AS number")

// parseEntry parses one token: IP, CIDR, start-end range, AS123 or 123.
func parseEntry(tok string) (entry, error) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return entry{}, errNotEntry
	}
	if len(tok) > 2 && (tok[0] == 'A' || tok[0] == 'a') && (tok[1] == 'S' || tok[1] == 's') {
		n, err := strconv.ParseUint(tok[2:], 10, 32)
		if err != nil {
			return entry{}, fmt.Errorf("bad AS number %q", tok)
		}
		return entry{kind: kindASN, asn: uint32(n)}, nil
	}
	if isDigits(tok) {
		n, err := strconv.ParseUint(tok, 10, 32)
		if err != nil {
			return entry{}, fmt.Errorf("bad AS number %q", tok)
		}
		return entry{kind: kindASN, asn: uint32(n)}, nil
	}
	if a, b, ok := strings.Cut(tok, "-"); ok {
		s, err1 := netip.ParseAddr(strings.TrimSpace(a))
		e, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil {
			return entry{}, fmt.Errorf("bad IP range %q", tok)
		}
		s, e = s.Unmap().WithZone(""), e.Unmap().WithZone("")
		if s.Is4() != e.Is4() || e.Less(s) {
			return entry{}, fmt.Errorf("bad IP range %q: start after end or mixed families", tok)
		}
		return entry{kind: kindRange, start: s, end: e}, nil
	}
	if strings.Contains(tok, "/") {
		p, err := netip.ParsePrefix(tok)
		if err != nil {
			return entry{}, fmt.Errorf("bad CIDR %q", tok)
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return entry{}, fmt.Errorf("bad CIDR %q", tok)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		return entry{kind: kindPrefix, prefix: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(tok)
	if err != nil {
		return entry{}, errNotEntry
	}
	a = a.Unmap().WithZone("")
	return entry{kind: kindPrefix, prefix: netip.PrefixFrom(a, a.BitLen())}, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseLine parses one line of a list file. skip reports a line that holds
// nothing (blank, comment, NDJSON metadata).
func parseLine(line string) (e entry, skip bool, err error) {
	line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
	if strings.HasPrefix(line, "{") {
		return parseNDJSON(line)
	}
	if i := strings.IndexAny(line, "#;"); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return entry{}, true, nil
	}
	// first CSV column, then first whitespace-separated field
	if i := strings.IndexByte(line, ','); i >= 0 {
		line = line[:i]
	}
	line = strings.Trim(strings.TrimSpace(line), `"'`)
	if strings.Contains(line, "-") { // "start - end" with spaces
		if e, err := parseEntry(line); err == nil {
			return e, false, nil
		}
	}
	if f := strings.Fields(line); len(f) > 0 {
		line = f[0]
	}
	e, err = parseEntry(line)
	return e, false, err
}

// parseNDJSON reads a Spamhaus DROP / ASN-DROP style line.
func parseNDJSON(line string) (entry, bool, error) {
	var rec struct {
		CIDR string          `json:"cidr"`
		ASN  json.RawMessage `json:"asn"`
		Type string          `json:"type"`
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		return entry{}, false, fmt.Errorf("bad JSON line: %w", err)
	}
	switch {
	case rec.Type == "metadata":
		return entry{}, true, nil
	case rec.CIDR != "":
		e, err := parseEntry(rec.CIDR)
		return e, false, err
	case len(rec.ASN) > 0:
		e, err := parseEntry(strings.Trim(string(rec.ASN), `"`))
		return e, false, err
	}
	return entry{}, false, errors.New(`JSON line without "cidr" or "asn"`)
}

// source is one configured list entry: a file or an inline value.
type source struct {
	category string
	cat      event.IPCategory
	spec     string // as configured
	path     string // resolved file path; "" for inline
	inline   entry
}

// sourceData is what one source contributed at its last load.
type sourceData struct {
	entries  []entry
	modTime  time.Time
	size     int64
	badLines int
	samples  []string
	err      error // last load error (the previous data is kept)
	loaded   bool
}

// loadFile parses a list file.
func loadFile(path string) (sourceData, error) {
	f, err := os.Open(path) // #nosec G304 -- ipLists file path from the operator's config
	if err != nil {
		return sourceData{}, fmt.Errorf("ip list: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return sourceData{}, fmt.Errorf("ip list: %w", err)
	}
	if st.IsDir() {
		return sourceData{}, fmt.Errorf("ip list %s: is a directory", path)
	}
	d := sourceData{modTime: st.ModTime(), size: st.Size(), loaded: true}
	r := bufio.NewReaderSize(f, maxLineBytes)
	lineNo := 0
	csvHeaderAllowed := true
	for {
		line, long, n, rerr := readLine(r)
		if n > 0 {
			lineNo++
			var e entry
			var skip bool
			var perr error
			if long {
				perr = fmt.Errorf("line of %d bytes, longer than %d (not a list file?)", n, maxLineBytes)
			} else {
				e, skip, perr = parseLine(line)
			}
			switch {
			case perr != nil && !long && csvHeaderAllowed && looksLikeHeader(line):
				// a CSV header such as "ASN,Entity"
			case perr != nil:
				d.badLines++
				if len(d.samples) < maxBadLineSamples {
					d.samples = append(d.samples, fmt.Sprintf("%s:%d: %v", path, lineNo, perr))
				}
			case !skip:
				d.entries = append(d.entries, e)
			}
			if !skip {
				csvHeaderAllowed = false
			}
		}
		if rerr != nil {
			if rerr != io.EOF {
				return sourceData{}, fmt.Errorf("ip list %s: %w", path, rerr)
			}
			break
		}
	}
	if len(d.entries) == 0 {
		// a list that yields nothing is a mistake (wrong file, a download
		// cut short, a format not understood), never silently "no match"
		if d.badLines > 0 {
			return sourceData{}, fmt.Errorf("ip list %s: no valid line (%d bad lines; first: %s)", path, d.badLines, strings.Join(d.samples, "; "))
		}
		return sourceData{}, fmt.Errorf("ip list %s: no IP, CIDR, range or ASN in the file (%d bytes)", path, st.Size())
	}
	return d, nil
}

func looksLikeHeader(line string) bool {
	line = strings.TrimSpace(line)
	if !strings.Contains(line, ",") {
		return false
	}
	first, _, _ := strings.Cut(line, ",")
	first = strings.Trim(strings.TrimSpace(first), `"`)
	for _, c := range first {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ' ') {
			return false
		}
	}
	return first != ""
}

// rangeSet answers "is this address in any of these ranges". It is
// go4.org/netipx's IPSet: ranges are merged by IPSetBuilder and looked up
// by binary search (IPv4 and IPv6, 4-in-6 addresses unmapped).
type rangeSet struct {
	b   netipx.IPSetBuilder
	set *netipx.IPSet
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr { return netipx.PrefixLastIP(p.Masked()) }

// The IPv4-mapped block (::ffff:0:0/96): lookups unmap its addresses
// (contains), so they are IPv4 addresses here.
var mappedLo, mappedHi = netip.MustParseAddr("::ffff:0.0.0.0"), netip.MustParseAddr("::ffff:255.255.255.255")

func (s *rangeSet) add(lo, hi netip.Addr) {
	if lo.Is4() || lo.Is4In6() && hi.Is4In6() {
		s.b.AddRange(netipx.IPRangeFrom(lo.Unmap(), hi.Unmap()))
		return
	}
	// an IPv6 range; the part of it inside the IPv4-mapped block (::/80
	// ends there) is the IPv4 range those addresses stand for
	s.b.AddRange(netipx.IPRangeFrom(lo, hi))
	if lo.Compare(mappedHi) <= 0 && hi.Compare(mappedLo) >= 0 {
		from, to := lo, hi
		if from.Less(mappedLo) {
			from = mappedLo
		}
		if mappedHi.Less(to) {
			to = mappedHi
		}
		s.b.AddRange(netipx.IPRangeFrom(from.Unmap(), to.Unmap()))
	}
}

// finish builds the set; add must not be called afterwards.
func (s *rangeSet) finish() {
	s.set, _ = s.b.IPSet() // errors only for invalid ranges, which add never gets
}

func (s *rangeSet) contains(a netip.Addr) bool {
	return s.set != nil && s.set.Contains(a.Unmap())
}

// counts is the number of merged IPv4 and IPv6 ranges.
func (s *rangeSet) counts() (v4, v6 int) {
	if s.set == nil {
		return 0, 0
	}
	for _, r := range s.set.Ranges() {
		if r.From().Is4() {
			v4++
		} else {
			v6++
		}
	}
	return v4, v6
}

func (s *rangeSet) size() int { v4, v6 := s.counts(); return v4 + v6 }

// lists is an immutable snapshot of every category's matcher.
type lists struct {
	ranges [4]rangeSet                 // by category bit index
	asns   map[uint32]event.IPCategory // AS number -> categories
}

func catIndex(c event.IPCategory) int {
	for i := 0; i < 4; i++ {
		if c == 1<<i {
			return i
		}
	}
	return 0
}

func buildLists(srcs []*source, data []sourceData) *lists {
	l := &lists{asns: map[uint32]event.IPCategory{}}
	for i, src := range srcs {
		idx := catIndex(src.cat)
		var entries []entry
		if src.path == "" {
			entries = []entry{src.inline}
		} else {
			entries = data[i].entries
		}
		for _, e := range entries {
			switch e.kind {
			case kindASN:
				l.asns[e.asn] |= src.cat
			case kindRange:
				l.ranges[idx].add(e.start, e.end)
			case kindPrefix:
				l.ranges[idx].add(e.prefix.Addr(), lastAddr(e.prefix))
			}
		}
	}
	for i := range l.ranges {
		l.ranges[i].finish()
	}
	return l
}

// matchIP returns the categories whose ranges contain a.
func (l *lists) matchIP(a netip.Addr) event.IPCategory {
	var c event.IPCategory
	for i := range l.ranges {
		if l.ranges[i].contains(a) {
			c |= 1 << i
		}
	}
	return c
}

// resolveSources turns the configured lists into sources.
func resolveSources(cfg map[string][]string, baseDir string) ([]*source, error) {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []*source
	for _, k := range keys {
		cat, ok := Categories[strings.ToLower(k)]
		if !ok {
			return nil, fmt.Errorf("ip list category %q: want one of anonymous, suspicious, risky, trusted", k)
		}
		for _, spec := range cfg[k] {
			spec = strings.TrimSpace(spec)
			if spec == "" {
				continue
			}
			src := &source{category: strings.ToLower(k), cat: cat, spec: spec}
			if e, err := parseEntry(spec); err == nil {
				src.inline = e
			} else {
				p := spec
				if !filepath.IsAbs(p) && baseDir != "" {
					p = filepath.Join(baseDir, p)
				}
				src.path = p
			}
			out = append(out, src)
		}
	}
	return out, nil
}
