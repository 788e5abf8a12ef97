package event

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError is malformed JSON at a byte offset of the event's JSON.
type SyntaxError struct {
	Offset int    // byte offset into the event's JSON
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// TypeError is a JSON value of the wrong type for a known LogEvent field.
type TypeError struct {
	Field string // dotted path, e.g. "actor.alternateId"
	Want  string // "string", "object", ...
	Got   string // "number", "array", ...
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("%s: expected %s, got %s", e.Field, e.Want, e.Got)
}

// lowerBit[c] is the bit that turns an ASCII upper-case letter into lower case.
var lowerBit = func() (t [256]byte) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 0x20
	}
	return t
}()

// maxDepth bounds nesting of generic values so hostile input cannot exhaust memory.
const maxDepth = 512

// scanner is a single-pass JSON reader over one event's bytes.
type scanner struct {
	b []byte
	i int
	// The current object key, ASCII-lower-cased (see key). A fixed array
	// rather than a slice into one, so that the decoder, which holds the
	// scanner, has no pointer to itself and can live on the stack.
	keyArr [48]byte
	keyLen int
	// keySlow: some key since it was last cleared was not plain ASCII
	// without escapes (lowerKey's slow path)
	keySlow bool
	buf     []byte    // scratch for unescaping
	fix     []byte    // scratch for UTF-8 repair
	cache   *strCache // the Reader's string cache; nil outside a Reader
}

func (s *scanner) syntax(msg string) error {
	return &SyntaxError{Offset: s.i, Msg: msg}
}

func (s *scanner) eof() error {
	return &SyntaxError{Offset: s.i, Msg: "unexpected end of input"}
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at end of input).
func (s *scanner) peek() byte {
	// Fast path: compact JSON (what Okta sends) has no whitespace between tokens.
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return s.b[s.i]
	}
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// kindAt names the JSON type starting with c, for type errors.
func kindAt(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case 0:
		return "end of input"
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return "number"
		}
		return fmt.Sprintf("invalid character %q", c)
	}
}

func (s *scanner) lit(word string) error {
	if len(s.b)-s.i < len(word) {
		if string(s.b[s.i:]) == word[:len(s.b)-s.i] {
			s.i = len(s.b)
			return s.eof()
		}
		return s.syntax("invalid literal")
	}
	if string(s.b[s.i:s.i+len(word)]) != word {
		return s.syntax("invalid literal")
	}
	s.i += len(word)
	return nil
}

// null consumes a null if one is next; it reports whether it did.
func (s *scanner) null() (bool, error) {
	if s.peek() != 'n' {
		return false, nil
	}
	return true, s.lit("null")
}

// rawString reads a string; the result aliases s.b when it has no escapes,
// else s.buf. Callers copy it before the next scanner call.
func (s *scanner) rawString() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.syntax("expected string")
	}
	s.i++
	start := s.i
	b := s.b
	i := s.i
	var high uint64 // OR of the bytes seen: its top bits tell whether any is non-ASCII
	// 8 bytes at a time while none is '"', '\\' or a control character;
	// the word holding one jumps i straight to it.
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := special(x); m != 0 {
			n := bits.TrailingZeros64(m) / 8
			high |= x & (1<<(8*n) - 1)
			i += n
			break
		}
		high |= x
		i += 8
	}
	for i < len(b) {
		c := b[i]
		if c == '"' {
			s.i = i + 1
			if high&msb != 0 {
				return s.validUTF8(b[start:i]), nil
			}
			return b[start:i], nil
		}
		if c == '\\' {
			s.i = i
			return s.slowString(start)
		}
		if c < 0x20 {
			s.i = i
			return nil, s.syntax("control character in string")
		}
		high |= uint64(c)
		i++
	}
	s.i = i
	return nil, s.eof()
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special flags (top bit of each flagged byte) the bytes of x that end a
// string's fast scan: '"', '\\' and control characters. Borrows can set
// flags above a real one, so only the lowest flag is exact.
func special(x uint64) uint64 {
	return hasLess(x, 0x20) | hasZero(x^(lsb*'"')) | hasZero(x^(lsb*'\\'))
}

// lower8 lower-cases the ASCII letters among the 8 bytes of x. Bytes with
// the top bit set are left alone; no carry crosses a byte boundary.
func lower8(x uint64) uint64 {
	h := x &^ msb
	ge := h + lsb*(0x80-'A')   // top bit set where h >= 'A'
	gt := h + lsb*(0x80-'Z'-1) // top bit set where h > 'Z'
	return x | (ge&^gt&^x&msb)>>2
}

// hasZero is non-zero when some byte of x is 0.
func hasZero(x uint64) uint64 { return (x - lsb) & ^x & msb }

// hasLess is non-zero when some byte of x is < n (n <= 128).
func hasLess(x, n uint64) uint64 { return (x - lsb*n) & ^x & msb }

func (s *scanner) slowString(start int) ([]byte, error) {
	s.buf = append(s.buf[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.validUTF8(s.buf), nil
		case c < 0x20:
			return nil, s.syntax("control character in string")
		case c != '\\':
			s.buf = append(s.buf, c)
			s.i++
			continue
		}
		// escape
		if s.i+1 >= len(s.b) {
			s.i = len(s.b)
			return nil, s.eof()
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.syntax("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				save := s.i
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					r2, ok2 := s.hex4()
					if ok2 {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							r = utf8.RuneError
							s.i = save
						}
					} else {
						r = utf8.RuneError
						s.i = save
					}
				} else {
					r = utf8.RuneError
				}
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			s.i--
			return nil, s.syntax("invalid escape character")
		}
	}
	return nil, s.eof()
}

// validUTF8 returns b, or a copy in which each invalid byte is replaced by
// U+FFFD, as encoding/json does.
func (s *scanner) validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	s.fix = out
	return out
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// numberBytes scans a JSON number and returns its text.
func (s *scanner) numberBytes() ([]byte, error) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return nil, s.eof()
	}
	switch c := s.b[s.i]; {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
	default:
		return nil, s.syntax("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		d := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			if s.i >= len(s.b) {
				return nil, s.eof()
			}
			return nil, s.syntax("invalid number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		d := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			if s.i >= len(s.b) {
				return nil, s.eof()
			}
			return nil, s.syntax("invalid number")
		}
	}
	return s.b[start:s.i], nil
}

func (s *scanner) number() (float64, error) {
	nb, err := s.numberBytes()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(nb), 64)
	if err != nil {
		// Only range errors reach here; keep the saturated value like encoding/json would reject.
		return 0, &SyntaxError{Offset: s.i - len(nb), Msg: "number out of range"}
	}
	return f, nil
}

// objStart consumes '{'. The caller has checked peek() == '{'.
func (s *scanner) objStart() { s.i++ }

// next advances to the next member of an object being read. It returns
// false at the closing brace. On true, s.key() is the lower-cased key and
// the scanner sits on the member's value.
func (s *scanner) next(first *bool) (bool, error) {
	c := s.peek()
	if c == '}' {
		s.i++
		return false, nil
	}
	if !*first {
		if c != ',' {
			if c == 0 {
				return false, s.eof()
			}
			return false, s.syntax("expected ',' or '}' in object")
		}
		s.i++
		c = s.peek()
	}
	*first = false
	if c != '"' {
		if c == 0 {
			return false, s.eof()
		}
		return false, s.syntax("expected object key")
	}
	if err := s.lowerKey(); err != nil {
		return false, err
	}
	if c := s.peek(); c != ':' {
		if c == 0 {
			return false, s.eof()
		}
		return false, s.syntax("expected ':' after object key")
	}
	s.i++
	if s.peek() == 0 {
		return false, s.eof()
	}
	return true, nil
}

// key returns the current object key, ASCII-lower-cased.
func (s *scanner) key() []byte { return s.keyArr[:s.keyLen] }

// lowerKey reads the object key at s.i into s.keyArr, ASCII-lower-cased.
// No field this package decodes has a key longer than keyArr, so a longer
// key is recorded as "", which matches no field either.
func (s *scanner) lowerKey() error {
	// Fast path for a plain ASCII key: scan and lower-case it 8 bytes at a
	// time, storing whole words into keyArr (bytes past the key's end are
	// garbage cut off by keyLen). With a whole keyArr's worth of input
	// left (all but an event's last bytes), the words are read from a
	// fixed-size array: no bounds check per word.
	if rest := s.b[s.i+1:]; len(rest) >= len(s.keyArr) {
		a := (*[len(s.keyArr)]byte)(rest)
		var high uint64
		for j := 0; j < len(a); j += 8 {
			x := binary.LittleEndian.Uint64(a[j : j+8])
			binary.LittleEndian.PutUint64(s.keyArr[j:j+8], lower8(x))
			if m := special(x); m != 0 {
				end := j + bits.TrailingZeros64(m)/8
				if a[end] != '"' || (high|x&firstBytes(end-j))&msb != 0 {
					break // an escape, a control character or non-ASCII in the key: slow path
				}
				s.keyLen = end
				s.i += end + 2
				return nil
			}
			high |= x
		}
	} else {
		b := rest
		var high uint64
		j := 0
		for ; j+8 <= len(s.keyArr) && j+8 <= len(b); j += 8 {
			x := binary.LittleEndian.Uint64(b[j:])
			binary.LittleEndian.PutUint64(s.keyArr[j:], lower8(x))
			if m := special(x); m != 0 {
				end := j + bits.TrailingZeros64(m)/8
				if b[end] != '"' || (high|x&firstBytes(end-j))&msb != 0 {
					j = len(b) // slow path
					break
				}
				s.keyLen = end
				s.i += end + 2
				return nil
			}
			high |= x
		}
		// The input's last bytes, fewer than a word, one at a time: a
		// plain key near the end is read here as anywhere else, so
		// keySlow (Debug's plain-keys flag) does not depend on how many
		// bytes follow the key, nor on whether a Reader remembered it.
		for ; j < len(b) && j < len(s.keyArr) && high&msb == 0; j++ {
			c := b[j]
			if c == '"' {
				s.keyLen = j
				s.i += j + 2
				return nil
			}
			if c == '\\' || c < 0x20 || c >= 0x80 {
				break
			}
			s.keyArr[j] = c | lowerBit[c]
		}
	}
	s.keySlow = true
	kb, err := s.rawString()
	if err != nil {
		return err
	}
	if len(kb) > len(s.keyArr) {
		s.keyLen = 0
		return nil
	}
	s.keyLen = len(kb)
	for j, ch := range kb {
		s.keyArr[j] = ch | lowerBit[ch]
	}
	return nil
}

// nextElem advances to the next element of an array being read.
func (s *scanner) nextElem(first *bool) (bool, error) {
	c := s.peek()
	if c == ']' {
		s.i++
		return false, nil
	}
	if !*first {
		if c != ',' {
			if c == 0 {
				return false, s.eof()
			}
			return false, s.syntax("expected ',' or ']' in array")
		}
		s.i++
		c = s.peek()
	}
	*first = false
	if c == 0 {
		return false, s.eof()
	}
	return true, nil
}

// skip consumes one value of any type.
func (s *scanner) skip() error {
	_, err := s.value(0, false)
	return err
}

// value decodes one value into the shapes encoding/json uses for `any`
// (map[string]any, []any, string, float64, bool, nil). With build false it
// only validates and skips.
func (s *scanner) value(depth int, build bool) (any, error) {
	if depth > maxDepth {
		return nil, s.syntax("nesting too deep")
	}
	switch c := s.peek(); c {
	case '{':
		s.objStart()
		var m map[string]any
		if build {
			m = make(map[string]any)
		}
		first := true
		for {
			c := s.peek()
			if c == '}' {
				s.i++
				return m, nil
			}
			if !first {
				if c != ',' {
					if c == 0 {
						return nil, s.eof()
					}
					return nil, s.syntax("expected ',' or '}' in object")
				}
				s.i++
			}
			first = false
			if c := s.peek(); c != '"' {
				if c == 0 {
					return nil, s.eof()
				}
				return nil, s.syntax("expected object key")
			}
			kb, err := s.rawString()
			if err != nil {
				return nil, err
			}
			var k string
			if build {
				k = intern(kb, s.cache)
			}
			if c := s.peek(); c != ':' {
				if c == 0 {
					return nil, s.eof()
				}
				return nil, s.syntax("expected ':' after object key")
			}
			s.i++
			v, err := s.value(depth+1, build)
			if err != nil {
				return nil, err
			}
			if build {
				m[k] = v
			}
		}
	case '[':
		s.i++
		var a []any
		if build {
			a = []any{}
		}
		first := true
		for {
			ok, err := s.nextElem(&first)
			if err != nil {
				return nil, err
			}
			if !ok {
				return a, nil
			}
			v, err := s.value(depth+1, build)
			if err != nil {
				return nil, err
			}
			if build {
				a = append(a, v)
			}
		}
	case '"':
		b, err := s.rawString()
		if err != nil || !build {
			return nil, err
		}
		return internAny(b, s.cache), nil
	case 't':
		return true, s.lit("true")
	case 'f':
		return false, s.lit("false")
	case 'n':
		return nil, s.lit("null")
	case 0:
		return nil, s.eof()
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			if !build {
				_, err := s.numberBytes()
				return nil, err
			}
			return s.number()
		}
		return nil, s.syntax(fmt.Sprintf("invalid character %q looking for a value", c))
	}
}

// firstBytes masks the first n (0-7) bytes of a little-endian word: only
// the key's own bytes, before its closing quote, decide whether it is
// plain, so a non-ASCII byte just after a key (in its value) does not send
// it to the slow path, as it does not when a Reader remembered the key's
// token (FuzzDecode found the difference in Debug's plain-keys flag).
func firstBytes(n int) uint64 { return 1<<(8*uint(n)) - 1 }
