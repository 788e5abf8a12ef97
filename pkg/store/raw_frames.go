package store

import (
	"sync"
	"sync/atomic"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// rawFrameBlock is how many events one compression task covers.
const rawFrameBlock = 64

// rawFrames compresses a batch's raw JSON, a frame per event, on
// rawEncoders goroutines while Commit's goroutine writes the rows: the
// layout of events_raw, which Commit writes only below schema 22 (the
// upgrade tests' stores; raw_blocks.go is the current layout). Blocks are
// taken in order, so the first are ready first.
type rawFrames struct {
	frames [][]byte
	done   []chan struct{} // closed when block i is compressed
	stop   atomic.Bool
	wg     sync.WaitGroup
}

// compressFrames starts compressing evs' raw JSON with c. The caller must
// call close (after which frame must not be called).
func compressFrames(c *rawCodec, evs []event.Event) *rawFrames {
	nb := (len(evs) + rawFrameBlock - 1) / rawFrameBlock
	f := &rawFrames{frames: make([][]byte, len(evs)), done: make([]chan struct{}, nb)}
	for i := range f.done {
		f.done[i] = make(chan struct{})
	}
	var next atomic.Int64
	workers := min(rawEncoders, nb)
	f.wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer f.wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= nb || f.stop.Load() {
					return
				}
				lo, hi := b*rawFrameBlock, min((b+1)*rawFrameBlock, len(evs))
				var buf []byte
				for i := lo; i < hi; i++ {
					at := len(buf)
					buf = c.compress(buf, evs[i].Raw)
					f.frames[i] = buf[at:len(buf):len(buf)]
				}
				// frames of one block share buf; a reallocation moved the
				// earlier ones, so slice them again from the final buffer
				at := 0
				for i := lo; i < hi; i++ {
					n := len(f.frames[i])
					f.frames[i] = buf[at : at+n : at+n]
					at += n
				}
				close(f.done[b])
			}
		}()
	}
	return f
}

// frame returns event i's compressed raw JSON (empty for empty raw JSON),
// waiting for its block.
func (f *rawFrames) frame(i int) []byte {
	<-f.done[i/rawFrameBlock]
	return f.frames[i]
}

// close stops the workers and waits for them.
func (f *rawFrames) close() {
	f.stop.Store(true)
	f.wg.Wait()
}
