package postgres

import (
	"math"
	"strconv"
)

// roundNumeric rounds v to places decimals as PostgreSQL's
// round(v::numeric, places) does: v converted to its 15 significant
// digits (float8 to numeric), rounded half away from zero, back to the
// nearest float8. The geo roll-up is rounded here at ingest and the raw
// edges of a geo query by PostgreSQL, so an event lands on the same point
// either way (math.Round(v*100)/100 put 4.825 on 4.82, PostgreSQL on 4.83).
func roundNumeric(v float64, places int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	s := strconv.FormatFloat(math.Abs(v), 'e', 14, 64) // d.dddddddddddddde±XX
	exp, err := strconv.Atoi(s[17:])
	if err != nil {
		return math.Round(v*math.Pow10(places)) / math.Pow10(places)
	}
	digits := s[:1] + s[2:16] // 15 significant digits; the first is the 10^exp place
	keep := exp + 1 + places  // digits down to the 10^-places place
	if keep >= len(digits) {
		return v // nothing beyond the places
	}
	var n int64
	if keep > 0 {
		n, _ = strconv.ParseInt(digits[:keep], 10, 64)
	}
	if keep >= 0 && digits[keep] >= '5' {
		n++
	}
	r, _ := strconv.ParseFloat(strconv.FormatInt(n, 10)+"e-"+strconv.Itoa(places), 64)
	if v < 0 {
		r = -r
	}
	return r
}

// round2 rounds the geo roll-up's coordinates at ingest.
func round2(v float64) float64 { return roundNumeric(v, 2) }
