package enrich

import (
	"encoding/binary"
	"math"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// memoVersion starts every encoded result so a layout change can never be
// misread.
const memoVersion = 1

// encodeResult serializes r for the fastcache memo:
// version, cats, flags, asn(4), lat(8), lon(8), then six length-prefixed strings.
func encodeResult(dst []byte, r *result) []byte {
	dst = append(dst, memoVersion, byte(r.cats), r.flags)
	dst = binary.LittleEndian.AppendUint32(dst, r.asn)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.lat))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.lon))
	for _, s := range [...]string{r.countryISO, r.country, r.state, r.city, r.postal, r.asOrg} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

func decodeResult(b []byte) (result, bool) {
	var r result
	if len(b) < 23 || b[0] != memoVersion {
		return r, false
	}
	r.cats = event.IPCategory(b[1])
	r.flags = b[2]
	r.asn = binary.LittleEndian.Uint32(b[3:])
	r.lat = math.Float64frombits(binary.LittleEndian.Uint64(b[7:]))
	r.lon = math.Float64frombits(binary.LittleEndian.Uint64(b[15:]))
	b = b[23:]
	for _, p := range [...]*string{&r.countryISO, &r.country, &r.state, &r.city, &r.postal, &r.asOrg} {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n { // #nosec G115 -- k > 0 and k <= len(b), so len(b)-k >= 0
			return result{}, false
		}
		*p = string(b[k : k+int(n)]) // #nosec G115 -- n <= len(b)-k, checked just above
		b = b[k+int(n):]             // #nosec G115 -- n <= len(b)-k, checked above
	}
	return r, true
}
