package event

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotArray is returned by SplitArray for a body that is not one JSON
// array.
var ErrNotArray = errors.New("not a JSON array")

// SplitArray splits a JSON array (a System Log API page) into its elements
// without decoding them: it only tracks strings and bracket depth, with no
// depth limit, so one element that no decoder accepts (nested 20,000 levels
// deep, broken inside) costs that element alone when it is decoded. The
// elements alias body. An error (wrapping ErrNotArray) means the body
// cannot be split: it does not start with '[', an element is empty, the
// array is not closed,
// brackets do not balance, or data follows the closing bracket.
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
		depth := 0
		inStr, esc := false, false
	elem:
		for ; i < len(body); i++ {
			c := body[i]
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					if c == ']' {
						break elem
					}
					return nil, fmt.Errorf("%w: unbalanced '}' at byte %d", ErrNotArray, i)
				}
				depth--
			case ',':
				if depth == 0 {
					break elem
				}
			}
		}
		if i >= len(body) {
			return nil, fmt.Errorf("%w: unexpected end of the body after %d elements (array not closed)", ErrNotArray, len(out))
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
