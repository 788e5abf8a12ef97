package detect

import "strconv"

// markPart is mark(partKey(part, key)) that builds the entry key only when
// changes are recorded: an engine never saved (a replay) records none, and
// building the key (a concatenation and a path escape) on every event
// cost it ~1 % of its CPU and an allocation per event and detector.
func (c *changeSet) markPart(part, key string) {
	if c.on {
		c.mark(partKey(part, key))
	}
}

// markPartUint is markPart with k written in base (2 to 36) as the key.
func (c *changeSet) markPartUint(part string, k uint64, base int) {
	if c.on {
		c.mark(partKey(part, strconv.FormatUint(k, base)))
	}
}

// markUint is mark with k written in base (2 to 36) as the entry key.
func (c *changeSet) markUint(k uint64, base int) {
	if c.on {
		c.mark(strconv.FormatUint(k, base))
	}
}

// recording reports whether changes are recorded (see markPart).
func (c *changeSet) recording() bool { return c.on }
