package store

import (
	"testing"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"

	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// On generated Okta traffic (many event types, varied clients), a
// raw-content dictionary of the first rawDictSamples events compresses the
// later events to less than the trained dictionary of earlier versions did.
// The figures are in docs/performance.md (go test -run TestRawDictionaryOnGeneratedTraffic -v).
func TestRawDictionaryOnGeneratedTraffic(t *testing.T) {
	ds, err := traffic.Generate(traffic.Config{Seed: 1, Users: 100, Days: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Events) < 2*rawDictSamples {
		t.Fatalf("only %d generated events", len(ds.Events))
	}
	var train [][]byte
	for _, e := range ds.Events[:rawDictSamples] {
		train = append(train, e)
	}
	later := ds.Events[len(ds.Events)/2:]
	trained, err := dict.BuildZstdDict(train, dict.Options{MaxDictSize: 32 << 10, HashBytes: 6, ZstdLevel: zstd.SpeedFastest})
	if err != nil {
		t.Fatal(err)
	}
	rawContent := buildRawDict(train)
	if len(rawContent) == 0 || len(rawContent) > rawDictContentMax {
		t.Fatalf("raw-content dictionary of %d bytes, want 1..%d", len(rawContent), rawDictContentMax)
	}
	size := func(d map[uint32][]byte, id uint32) int {
		c, err := newRawCodec(d, id)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		var tot int
		var buf []byte
		for _, e := range later {
			buf = c.compress(buf[:0], e)
			tot += len(buf)
			if back, err := c.decompress(buf); err != nil || string(back) != string(e) {
				t.Fatalf("round trip: %v", err)
			}
		}
		return tot / len(later)
	}
	var plain int
	for _, e := range later {
		plain += len(e)
	}
	const rawID = rawDictIDMin + 7
	none, withTrained, withRaw := size(nil, 0), size(map[uint32][]byte{trainedID(t, trained): trained}, trainedID(t, trained)),
		size(map[uint32][]byte{rawID: rawContent}, rawID)
	t.Logf("%d generated events of %d B: %d B/event without a dictionary, %d trained, %d raw content (%d B dictionary)",
		len(later), plain/len(later), none, withTrained, withRaw, len(rawContent))
	if withRaw*10 > withTrained*8 {
		t.Fatalf("raw content %d B/event, trained %d: want at most 80%%", withRaw, withTrained)
	}
	// what Commit writes (schema 22): blocks of rawBlockEvents events
	c, err := newRawCodec(map[uint32][]byte{rawID: rawContent}, rawID)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var inBlocks int
	var content []byte
	for at := 0; at < len(later); at += rawBlockEvents {
		block := make([][]byte, 0, rawBlockEvents)
		for _, e := range later[at:min(at+rawBlockEvents, len(later))] {
			block = append(block, e)
		}
		content = appendBlockContent(content[:0], block)
		frame := c.compress(nil, content)
		inBlocks += len(frame)
		back, err := c.decompress(frame)
		if err != nil {
			t.Fatal(err)
		}
		if raws, err := splitBlock(back, len(block)); err != nil || string(raws[len(raws)-1]) != string(block[len(block)-1]) {
			t.Fatalf("block round trip: %v", err)
		}
	}
	inBlocks /= len(later)
	t.Logf("in blocks of %d events with the raw-content dictionary: %d B/event", rawBlockEvents, inBlocks)
	if inBlocks*10 > withRaw*8 {
		t.Fatalf("blocks %d B/event, a frame per event %d: want at most 80%%", inBlocks, withRaw)
	}
}

func trainedID(t *testing.T, d []byte) uint32 {
	t.Helper()
	if !isTrainedDict(d) || len(d) < 8 {
		t.Fatal("not a formatted zstd dictionary")
	}
	return uint32(d[4]) | uint32(d[5])<<8 | uint32(d[6])<<16 | uint32(d[7])<<24
}
