package store

// The raw JSON codec and its dictionaries, shared with the PostgreSQL
// backend (pkg/store/postgres), so that both stores write the same frames
// with the same raw-content dictionaries (raw.go, raw_dict.go).

// RawDictSamples is how many events a raw-content dictionary is built from.
const RawDictSamples = rawDictSamples

// RawCodec compresses and decompresses raw JSON as zstd frames that name
// their dictionary (0: none). Safe for concurrent use.
type RawCodec struct{ c *rawCodec }

// NewRawCodec builds a codec that decodes frames of every dictionary in
// dicts (by id) and encodes new frames with dicts[newest] (newest 0: no
// dictionary).
func NewRawCodec(dicts map[uint32][]byte, newest uint32) (*RawCodec, error) {
	c, err := newRawCodec(dicts, newest)
	if err != nil {
		return nil, err
	}
	return &RawCodec{c}, nil
}

// DictID is the dictionary new frames use (0: none).
func (c *RawCodec) DictID() uint32 { return c.c.dictID }

// Knows tells whether the codec decodes frames of dictionary id.
func (c *RawCodec) Knows(id uint32) bool { _, ok := c.c.dicts[id]; return ok }

// Compress appends raw's frame to dst; empty raw JSON appends nothing.
func (c *RawCodec) Compress(dst, raw []byte) []byte { return c.c.compress(dst, raw) }

// Decompress returns the JSON of a stored value (a frame decoded, anything
// else as is).
func (c *RawCodec) Decompress(b []byte) ([]byte, error) { return c.c.decompress(b) }

// Close releases the encoder and decoder.
func (c *RawCodec) Close() { c.c.close() }

// BuildRawDict builds a raw-content dictionary from samples (nil when
// there are none); see raw_dict.go.
func BuildRawDict(samples [][]byte) []byte { return buildRawDict(samples) }

// NewRawDictID draws a raw-content dictionary id none of taken has.
func NewRawDictID(taken map[uint32][]byte) uint32 { return newRawDictID(taken) }
