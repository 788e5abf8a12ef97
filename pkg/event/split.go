package event

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotArray is returned by SplitArray for a body that is not one JSON
// array.
var ErrNotArray = errors.New("not a JSON array")

// elemScanner finds where one element of a JSON array ends, a chunk at a
// time: it only tracks strings and bracket depth, with no depth limit, so
// one element that no decoder accepts (nested 20,000 levels deep, broken
// inside) costs that element alone when it is decoded. SplitArray (a whole
// API page in memory) and Reader.readElement (a stream) both use it.
type elemScanner struct {
	depth      int
	inStr, esc bool
	// lines counts the newlines scanned (inside strings too), for the
	// Reader's line numbers.
	lines int
}

// scan returns the index in b of the first byte at depth zero outside
// strings that ends the element or breaks it: ',' or ']' (the element's
// terminator) or '}' (unbalanced). It returns -1 when b ends first; the
// state carries over to the next chunk. Bytes up to the returned index are
// consumed (counted in lines); the byte at the index is not.
func (s *elemScanner) scan(b []byte) int {
	for i, c := range b {
		if s.inStr {
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				s.inStr = false
			case c == '\n':
				s.lines++
			}
			continue
		}
		switch c {
		case '"':
			s.inStr = true
		case '{', '[':
			s.depth++
		case '}', ']':
			if s.depth == 0 {
				return i
			}
			s.depth--
		case ',':
			if s.depth == 0 {
				return i
			}
		case '\n':
			s.lines++
		}
	}
	return -1
}

// SplitArray splits a JSON array (a System Log API page) into its elements
// without decoding them (see elemScanner). The elements alias body. An
// error (wrapping ErrNotArray) means the body cannot be split: it does not
// start with '[', an element is empty, the array is not closed, brackets
// do not balance, or data follows the closing bracket.
func SplitArray(body []byte) ([]json.RawMessage, error) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '[' {
		return nil, fmt.Errorf("%w: the body does not start with '['", ErrNotArray)
	}
	i = skipSpace(body, i+1)
	out := []json.RawMessage{}
	if i < len(body) && body[i] == ']' {
		return out, trailing(body, i+1)
	}
	for {
		start := i
		var s elemScanner
		n := s.scan(body[i:])
		if n < 0 {
			return nil, fmt.Errorf("%w: unexpected end of the body after %d elements (array not closed)", ErrNotArray, len(out))
		}
		i += n
		if body[i] == '}' {
			return nil, fmt.Errorf("%w: unbalanced '}' at byte %d", ErrNotArray, i)
		}
		el := trimSpace(body[start:i])
		if len(el) == 0 {
			return nil, fmt.Errorf("%w: empty element %d", ErrNotArray, len(out))
		}
		out = append(out, json.RawMessage(el))
		if body[i] == ']' {
			return out, trailing(body, i+1)
		}
		i = skipSpace(body, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func trailing(b []byte, i int) error {
	if i = skipSpace(b, i); i < len(b) {
		return fmt.Errorf("%w: data after the closing ']' at byte %d", ErrNotArray, i)
	}
	return nil
}
