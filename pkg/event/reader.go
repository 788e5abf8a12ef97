package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DecodeError is one event that could not be decoded. Reading continues
// with the next event after it.
type DecodeError struct {
	Index int    // 0-based position of the event in the input (array element or non-blank line)
	Line  int    // 1-based line where the event starts (0 when unknown, e.g. DecodePage)
	UUID  string // the event's uuid when it could be read before the error
	Err   error
}

func (e *DecodeError) Error() string {
	msg := fmt.Sprintf("event %d", e.Index)
	if e.Line > 0 {
		msg += fmt.Sprintf(" (line %d)", e.Line)
	}
	if e.UUID != "" {
		msg += fmt.Sprintf(" uuid %s", e.UUID)
	}
	return msg + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrTooLarge: an event is larger than the Reader's MaxEventSize.
var ErrTooLarge = errors.New("event larger than the size limit")

// DefaultMaxEventSize bounds one event's JSON in a Reader (64 MiB).
const DefaultMaxEventSize = 64 << 20

// Reader decodes a stream of LogEvents: either one JSON array (the API's
// page format) or JSON Lines (one object a line; blank lines are skipped).
// The format is detected from the first non-blank byte. A malformed event
// is returned as a *DecodeError and reading continues with the next one.
type Reader struct {
	// MaxEventSize bounds one event's JSON; larger events are skipped with
	// a *DecodeError wrapping ErrTooLarge. Zero means DefaultMaxEventSize.
	MaxEventSize int

	br    *bufio.Reader
	mode  int // 0 undetected, 1 lines, 2 array
	line  int // 1-based current line (lines consumed so far + 1)
	index int
	buf   []byte // array mode: the element being read, the start of free
	free  []byte // array mode: unused tail of the current block (len 0)
	// JSON Lines mode reads straight into blk, a block of readerBlock
	// bytes (or more for a longer line): blk[pos:] is read but not yet
	// returned. A line's event keeps its slice of the block; a new block
	// starts (with the unfinished line copied over) when less than
	// readerBlockMin is free.
	blk     []byte
	pos     int
	drained bool  // br's buffered bytes were moved into blk
	srcErr  error // the error (io.EOF at the end) that ended reading into blk
	done    bool
	readErr error
	pending error // returned by the next call before io.EOF
	cache   *strCache
}

const (
	modeLines = 1
	modeArray = 2
)

// Events read by a Reader keep their JSON (Event.Raw) in blocks of
// readerBlock bytes shared by neighbouring events, rather than in one
// allocation per event and a second copy: a block is freed when the last
// event in it is. A new block starts when less than readerBlockMin is free.
// JSON Lines are read from the input straight into the block (no copy
// through the bufio.Reader: its buffer is no larger than readerBlockMin, so
// it hands reads of the block's free space straight to the input).
const (
	readerBlock    = 1 << 20
	readerBlockMin = 64 << 10
	readerBufio    = readerBlockMin
)

// NewReader returns a Reader over r. Each event's Raw is a slice of a block
// of memory shared with the events read around it, never written to again.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readerBufio), line: 1, cache: newStrCache()}
}

func (r *Reader) maxSize() int {
	if r.MaxEventSize > 0 {
		return r.MaxEventSize
	}
	return DefaultMaxEventSize
}

// Next returns the next event, io.EOF at the end, a *DecodeError for an
// event that could not be decoded (call Next again to continue), or
// another error when the underlying reader fails.
func (r *Reader) Next() (Event, error) {
	var ev Event
	if err := r.NextInto(&ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// NextInto is Next decoding into *ev (overwritten whole, also on error,
// when its content is unspecified), for a caller that keeps the event in
// place: an Event is about 1 KB, and Next's result is copied on its way.
func (r *Reader) NextInto(ev *Event) error {
	*ev = Event{}
	if r.pending != nil {
		err := r.pending
		r.pending = nil
		return err
	}
	if r.done {
		if r.readErr != nil {
			return r.readErr
		}
		return io.EOF
	}
	if r.mode == 0 {
		if err := r.detect(); err != nil {
			return r.finish(err)
		}
		if r.done {
			return io.EOF
		}
	}
	if r.mode == modeArray {
		return r.nextArray(ev)
	}
	return r.nextLine(ev)
}

func (r *Reader) finish(err error) error {
	r.done = true
	if err == io.EOF {
		return io.EOF
	}
	r.readErr = err
	return err
}

// detect skips leading whitespace and a UTF-8 BOM and picks the format.
func (r *Reader) detect() error {
	if b, err := r.br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		_, _ = r.br.Discard(3)
	}
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				r.done = true
				return nil
			}
			return err
		}
		switch c {
		case '\n':
			r.line++
		case ' ', '\t', '\r':
		case '[':
			r.mode = modeArray
			return nil
		default:
			_ = r.br.UnreadByte()
			r.mode = modeLines
			return nil
		}
	}
}

func (r *Reader) decodeErr(line int, uuid string, err error) error {
	e := &DecodeError{Index: r.index, Line: line, UUID: uuid, Err: err}
	r.index++
	return e
}

// nextLine reads JSON Lines.
func (r *Reader) nextLine(ev *Event) error {
	for {
		line := r.line
		b, tooBig, err := r.readLine()
		if err != nil && err != io.EOF {
			return r.finish(err)
		}
		atEOF := err == io.EOF
		if tooBig {
			return r.decodeErr(line, "", fmt.Errorf("%w (%d bytes)", ErrTooLarge, r.maxSize()))
		}
		if len(trimSpace(b)) > 0 {
			derr := decodeOwned(ev, b, r.cache)
			var syn *SyntaxError
			if derr != nil && atEOF && errors.As(derr, &syn) {
				// the last line, without its newline, is not whole JSON:
				// the input was cut mid-line
				derr = fmt.Errorf("%w: %w", ErrCutLine, derr)
			}
			if derr != nil {
				return r.decodeErr(line, ev.UUID, derr)
			}
			r.index++
			return nil
		}
		if atEOF {
			return r.finish(io.EOF)
		}
	}
}

// readLine returns the next line without its newline, a slice of the
// current block (its capacity ends with it: appending to it never writes
// over the next line). tooBig reports a line over the size limit (its
// bytes are discarded). err is io.EOF with the last line when the input
// ends without a newline.
func (r *Reader) readLine() (line []byte, tooBig bool, err error) {
	if !r.drained {
		// detect may have buffered the start of the input in br
		r.drained = true
		n := r.br.Buffered()
		r.blk = make([]byte, 0, max(readerBlock, n))
		b, _ := r.br.Peek(n)
		r.blk = append(r.blk, b...)
		_, _ = r.br.Discard(n)
	}
	limit := r.maxSize()
	scanned := 0 // r.blk[r.pos:r.pos+scanned] holds no newline
	empty := 0   // reads in a row that returned nothing
	for {
		data := r.blk[r.pos:]
		if i := bytes.IndexByte(data[scanned:], '\n'); i >= 0 {
			end := r.pos + scanned + i
			line = r.blk[r.pos:end:end]
			r.pos = end + 1
			r.line++
			if tooBig || len(line) > limit {
				return nil, true, nil
			}
			return line, false, nil
		}
		scanned = len(data)
		if r.srcErr != nil {
			r.pos = len(r.blk)
			if tooBig || len(data) > limit {
				return nil, true, r.srcErr
			}
			return data[:len(data):len(data)], false, r.srcErr
		}
		if len(data) > limit {
			// over the limit already: drop what was read of this line and
			// reuse its room
			tooBig = true
			r.blk = r.blk[:r.pos]
			scanned = 0
		}
		if cap(r.blk)-len(r.blk) < readerBlockMin {
			// a new block, with the unfinished line moved to its start
			data = r.blk[r.pos:]
			nb := make([]byte, len(data), max(readerBlock, 2*len(data)+readerBlockMin))
			copy(nb, data)
			r.blk, r.pos = nb, 0
		}
		n, err := r.br.Read(r.blk[len(r.blk):cap(r.blk)])
		r.blk = r.blk[:len(r.blk)+n]
		switch {
		case err != nil:
			r.srcErr = err
		case n == 0:
			if empty++; empty >= 100 {
				r.srcErr = io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
}

// startElem points buf at the free tail of the current block, starting a
// new block when little is left.
func (r *Reader) startElem() {
	if cap(r.free) < readerBlockMin {
		r.free = make([]byte, 0, readerBlock)
	}
	r.buf = r.free
}

// keepElem leaves the element just decoded (buf) to its event: the free
// tail starts after it. An element larger than the free space was moved to
// its own array by append; what follows it there is free all the same.
func (r *Reader) keepElem() {
	r.free = r.buf[len(r.buf):len(r.buf)]
	r.buf = nil
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// nextArray reads the next element of a top-level JSON array. Elements are
// split on commas at nesting depth zero outside strings, so a malformed
// element only costs that element.
func (r *Reader) nextArray(ev *Event) error {
	c, err := r.skipWS()
	if err != nil {
		if err == io.EOF {
			r.done = true
			return r.decodeErr(r.line, "", ErrUnclosed)
		}
		return r.finish(err)
	}
	switch c {
	case ']':
		_, _ = r.br.Discard(1)
		r.done = true
		return r.trailer()
	case ',':
		_, _ = r.br.Discard(1)
		return r.decodeErr(r.line, "", errors.New("empty array element"))
	}
	line := r.line
	elem, term, tooBig, err := r.readElement()
	if err != nil && err != io.EOF {
		return r.finish(err)
	}
	if err == io.EOF || term == ']' {
		r.done = true
		if err == io.EOF {
			r.pending = r.decodeErrAt(r.index+1, r.line, ErrUnclosed)
		} else if terr := r.trailer(); terr != io.EOF {
			if de, ok := terr.(*DecodeError); ok {
				de.Index = r.index + 1 // after this element
			}
			r.pending = terr
		}
	}
	var derr error
	if tooBig {
		derr = fmt.Errorf("%w (%d bytes)", ErrTooLarge, r.maxSize())
	} else {
		derr = decodeOwned(ev, elem, r.cache)
	}
	if derr != nil {
		return r.decodeErr(line, ev.UUID, derr)
	}
	r.keepElem()
	r.index++
	return nil
}

// ErrCutLine is a JSON Lines input whose last line has no newline and is
// not valid JSON: the input was cut mid-line (a truncated export); the
// DecodeError of the Reader wraps it.
var ErrCutLine = errors.New("unexpected end of input: last line cut short (no newline, not valid JSON)")

// ErrUnclosed is a JSON array input that ends before its closing bracket
// (a truncated export); the DecodeError of the Reader wraps it.
var ErrUnclosed = errors.New("unexpected end of input: JSON array not closed")

func (r *Reader) decodeErrAt(index, line int, err error) *DecodeError {
	return &DecodeError{Index: index, Line: line, Err: err}
}

// trailer checks that only whitespace follows the closing bracket; it
// returns io.EOF when so.
func (r *Reader) trailer() error {
	_, err := r.skipWS()
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return err
	}
	return &DecodeError{Index: r.index, Line: r.line, Err: errors.New("unexpected data after the JSON array")}
}

func (r *Reader) skipWS() (byte, error) {
	for {
		b, err := r.br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case '\n':
			r.line++
			fallthrough
		case ' ', '\t', '\r':
			_, _ = r.br.Discard(1)
		default:
			return b[0], nil
		}
	}
}

// readElement reads bytes up to a ',' or ']' at depth zero outside strings
// (elemScanner), consuming the terminator, which it returns. An unbalanced
// '}' stays in the element (which then fails to decode alone) and the
// scan goes on.
func (r *Reader) readElement() (elem []byte, term byte, tooBig bool, err error) {
	r.startElem()
	limit := r.maxSize()
	var s elemScanner
	for {
		chunk, e := r.br.Peek(r.br.Buffered())
		if len(chunk) == 0 {
			if _, e = r.br.Peek(1); e != nil {
				return r.buf, 0, tooBig, e
			}
			continue
		}
		from := 0
		for {
			i := s.scan(chunk[from:])
			if i < 0 {
				break
			}
			i += from
			if c := chunk[i]; c != '}' {
				r.line += s.lines
				r.appendLimited(chunk[:i], limit, &tooBig)
				_, _ = r.br.Discard(i + 1)
				return r.buf, c, tooBig, nil
			}
			from = i + 1
		}
		r.line += s.lines
		s.lines = 0
		r.appendLimited(chunk, limit, &tooBig)
		_, _ = r.br.Discard(len(chunk))
	}
}

func (r *Reader) appendLimited(b []byte, limit int, tooBig *bool) {
	if *tooBig {
		return
	}
	if len(r.buf)+len(b) > limit {
		*tooBig = true
		r.buf = r.buf[:0]
		return
	}
	r.buf = append(r.buf, b...)
}

// DecodePage decodes the events of one API page. Events that fail are
// returned in errs as *DecodeError (Index is the position in raws) and left
// out of events.
func DecodePage(raws []json.RawMessage) (events []Event, errs []error) {
	// each event is decoded in its slot (an Event is ~1 KB: no copy)
	events = make([]Event, len(raws))
	n := 0
	for i, raw := range raws {
		ev := &events[n]
		if err := decodeInto(ev, raw, nil); err != nil {
			errs = append(errs, &DecodeError{Index: i, UUID: ev.UUID, Err: err})
			*ev = Event{}
			continue
		}
		n++
	}
	return events[:n], errs
}
