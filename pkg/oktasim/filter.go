package oktasim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The System Log `filter` parameter: a SCIM filter expression with the
// operators eq, ne, co, sw, ew, pr, gt, ge, lt, le, combined with and / or /
// not and parentheses (Okta rejects `[ ]` value paths). `published` may not
// be used (it clashes with since/until/after).

// filterError is an invalid filter; code is the Okta error code to return.
type filterError struct {
	code string
	msg  string
}

func (e *filterError) Error() string { return e.msg }

func badFilter(format string, a ...any) error {
	return &filterError{code: CodeInvalidFilter, msg: fmt.Sprintf(format, a...)}
}

// logEventAttrs are the top-level LogEvent attributes a filter may name.
var logEventAttrs = map[string]bool{
	"uuid": true, "eventtype": true, "version": true, "severity": true, "legacyeventtype": true,
	"displaymessage": true, "actor": true, "client": true, "device": true, "outcome": true,
	"target": true, "transaction": true, "debugcontext": true, "authenticationcontext": true,
	"securitycontext": true, "request": true,
}

type filterNode interface {
	eval(doc any) bool
}

type andNode struct{ l, r filterNode }
type orNode struct{ l, r filterNode }
type notNode struct{ x filterNode }
type cmpNode struct {
	path []string
	op   string
	val  any // string, float64, bool or nil
}

func (n andNode) eval(d any) bool { return n.l.eval(d) && n.r.eval(d) }
func (n orNode) eval(d any) bool  { return n.l.eval(d) || n.r.eval(d) }
func (n notNode) eval(d any) bool { return !n.x.eval(d) }

func (n cmpNode) eval(d any) bool {
	vals := lookup(d, n.path)
	if n.op == "pr" {
		for _, v := range vals {
			if v != nil {
				if s, ok := v.(string); !ok || s != "" {
					return true
				}
			}
		}
		return false
	}
	if n.op == "ne" {
		for _, v := range vals {
			if compare(v, "eq", n.val) {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if compare(v, n.op, n.val) {
			return true
		}
	}
	return false
}

// lookup walks a dotted attribute path; arrays fan out (any element may match).
// Attribute names match case-insensitively, as in SCIM.
func lookup(d any, path []string) []any {
	if len(path) == 0 {
		if arr, ok := d.([]any); ok {
			return arr
		}
		return []any{d}
	}
	switch v := d.(type) {
	case map[string]any:
		child, ok := v[path[0]]
		if !ok {
			for k, c := range v {
				if strings.EqualFold(k, path[0]) {
					child, ok = c, true
					break
				}
			}
		}
		if !ok {
			return nil
		}
		return lookup(child, path[1:])
	case []any:
		var out []any
		for _, e := range v {
			out = append(out, lookup(e, path)...)
		}
		return out
	}
	return nil
}

func compare(have any, op string, want any) bool {
	switch w := want.(type) {
	case nil:
		return op == "eq" && have == nil
	case bool:
		switch h := have.(type) {
		case bool:
			return op == "eq" && h == w
		case string: // Okta's debugData carries booleans as strings
			return op == "eq" && strings.EqualFold(h, strconv.FormatBool(w))
		}
		return false
	case float64:
		var h float64
		switch hv := have.(type) {
		case float64:
			h = hv
		case string:
			f, err := strconv.ParseFloat(hv, 64)
			if err != nil {
				return false
			}
			h = f
		default:
			return false
		}
		switch op {
		case "eq":
			return h == w
		case "gt":
			return h > w
		case "ge":
			return h >= w
		case "lt":
			return h < w
		case "le":
			return h <= w
		}
		return false
	case string:
		var h string
		switch hv := have.(type) {
		case string:
			h = hv
		case float64:
			h = strconv.FormatFloat(hv, 'f', -1, 64)
		case bool:
			h = strconv.FormatBool(hv)
		default:
			return false
		}
		hl, wl := strings.ToLower(h), strings.ToLower(w)
		switch op {
		case "eq":
			return hl == wl
		case "co":
			return strings.Contains(hl, wl)
		case "sw":
			return strings.HasPrefix(hl, wl)
		case "ew":
			return strings.HasSuffix(hl, wl)
		}
		// gt/ge/lt/le on strings: timestamps compare as times, else lexically.
		ht, e1 := time.Parse(time.RFC3339Nano, h)
		wt, e2 := time.Parse(time.RFC3339Nano, w)
		c := strings.Compare(hl, wl)
		if e1 == nil && e2 == nil {
			c = ht.Compare(wt)
		}
		switch op {
		case "gt":
			return c > 0
		case "ge":
			return c >= 0
		case "lt":
			return c < 0
		case "le":
			return c <= 0
		}
	}
	return false
}

// ---- lexer / parser ----

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tWord   // attribute path, operator or keyword
	tString // quoted string
	tNumber
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lexFilter(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == '[' || c == ']':
			return nil, badFilter("Invalid filter: value paths with '[ ]' are not supported (position %d)", i)
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, badFilter("Invalid filter: unterminated string at position %d", i)
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:j+1]), &v); err != nil {
				return nil, badFilter("Invalid filter: bad string at position %d", i)
			}
			toks = append(toks, token{tString, v, i})
			i = j + 1
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && (s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '+' || s[j] == '-' || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j], i})
			i = j
		case c == '_' || c == '$' || unicode.IsLetter(rune(c)):
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] == '.' || s[j] == '-' || s[j] == ':' ||
				unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			toks = append(toks, token{tWord, s[i:j], i})
			i = j
		default:
			return nil, badFilter("Invalid filter: unexpected character %q at position %d", c, i)
		}
	}
	toks = append(toks, token{tEOF, "", len(s)})
	return toks, nil
}

type filterParser struct {
	toks  []token
	i     int
	depth int
}

// maxFilterDepth bounds parenthesis / not nesting (a deeply nested filter
// would otherwise recurse without limit).
const maxFilterDepth = 64

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func isWord(t token, w string) bool { return t.kind == tWord && strings.EqualFold(t.text, w) }

// parseFilter parses a System Log filter expression.
func parseFilter(s string) (filterNode, error) {
	if strings.TrimSpace(s) == "" {
		return nil, badFilter("Invalid filter: empty expression")
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, badFilter("Invalid filter: unexpected %q at position %d", t.text, t.pos)
	}
	return n, nil
}

func (p *filterParser) parseOr() (filterNode, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *filterParser) parseAnd() (filterNode, error) {
	l, err := p.parseFactor()
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "and") {
		p.next()
		r, err := p.parseFactor()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

var filterOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "pr": true, "gt": true, "ge": true, "lt": true, "le": true}

func (p *filterParser) parseFactor() (filterNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, badFilter("Invalid filter: nested more than %d levels", maxFilterDepth)
	}
	t := p.next()
	switch {
	case isWord(t, "not"):
		if p.peek().kind != tLParen {
			return nil, badFilter("Invalid filter: 'not' must be followed by '(' at position %d", t.pos)
		}
		x, err := p.parseFactor()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case t.kind == tLParen:
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, badFilter("Invalid filter: missing ')' at position %d", c.pos)
		}
		return n, nil
	case t.kind == tWord:
		path := strings.Split(t.text, ".")
		for _, seg := range path {
			if seg == "" {
				return nil, badFilter("Invalid filter: bad attribute %q", t.text)
			}
		}
		if strings.EqualFold(path[0], "published") {
			return nil, badFilter("Invalid filter: 'published' cannot be used in a filter; use since and until")
		}
		if !logEventAttrs[strings.ToLower(path[0])] {
			return nil, badFilter("Invalid filter: unknown attribute %q", t.text)
		}
		opTok := p.next()
		if opTok.kind != tWord || !filterOps[strings.ToLower(opTok.text)] {
			return nil, badFilter("Invalid filter: expected an operator after %q at position %d", t.text, opTok.pos)
		}
		op := strings.ToLower(opTok.text)
		if op == "pr" {
			return cmpNode{path: path, op: op}, nil
		}
		if op == "co" && len(path) == 3 && strings.EqualFold(path[0], "debugContext") && strings.EqualFold(path[1], "debugData") &&
			(strings.EqualFold(path[2], "url") || strings.EqualFold(path[2], "requestUri")) {
			return nil, &filterError{code: CodeSearchCriteria, msg: "Invalid search criteria: 'co' is not supported on " + t.text}
		}
		vt := p.next()
		var val any
		switch {
		case vt.kind == tString:
			val = vt.text
		case vt.kind == tNumber:
			f, err := strconv.ParseFloat(vt.text, 64)
			if err != nil {
				return nil, badFilter("Invalid filter: bad number %q at position %d", vt.text, vt.pos)
			}
			val = f
		case isWord(vt, "true"):
			val = true
		case isWord(vt, "false"):
			val = false
		case isWord(vt, "null"):
			val = nil
		default:
			return nil, badFilter("Invalid filter: expected a value after %q at position %d", opTok.text, vt.pos)
		}
		if val == nil && op != "eq" {
			return nil, badFilter("Invalid filter: null can only be compared with eq")
		}
		if _, isBool := val.(bool); isBool && op != "eq" && op != "ne" {
			return nil, badFilter("Invalid filter: booleans can only be compared with eq or ne")
		}
		if _, isNum := val.(float64); isNum && (op == "co" || op == "sw" || op == "ew") {
			return nil, badFilter("Invalid filter: %s needs a string value", op)
		}
		return cmpNode{path: path, op: op, val: val}, nil
	case t.kind == tEOF:
		return nil, badFilter("Invalid filter: unexpected end of expression")
	}
	return nil, badFilter("Invalid filter: unexpected %q at position %d", t.text, t.pos)
}

// ---- q (keyword search) ----

// parseQ splits q into keywords: at most 10, each at most 40 characters.
func parseQ(q string) ([]string, error) {
	words := strings.Fields(q)
	if len(words) > 10 {
		return nil, errors.New("q: at most 10 keywords are allowed")
	}
	for i, w := range words {
		if len([]rune(w)) > 40 {
			return nil, fmt.Errorf("q: keyword %q is longer than 40 characters", w)
		}
		words[i] = strings.ToLower(w)
	}
	return words, nil
}

// matchQ reports whether every keyword matches an attribute value exactly
// (case-insensitive). A value also matches through its whitespace-separated
// words and the parts of hyphenated words.
func matchQ(doc any, keywords []string) bool {
	if len(keywords) == 0 {
		return true
	}
	need := make(map[string]bool, len(keywords))
	for _, k := range keywords {
		need[k] = true
	}
	var walk func(v any)
	check := func(s string) {
		s = strings.ToLower(s)
		delete(need, s)
		for _, f := range strings.Fields(s) {
			delete(need, f)
			if strings.Contains(f, "-") {
				for _, part := range strings.Split(f, "-") {
					delete(need, part)
				}
			}
		}
	}
	walk = func(v any) {
		if len(need) == 0 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		case string:
			check(x)
		case float64:
			check(strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			check(strconv.FormatBool(x))
		}
	}
	walk(doc)
	return len(need) == 0
}
