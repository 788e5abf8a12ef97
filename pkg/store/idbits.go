package store

import "math/bits"

// IDBits is a set of small ids (the store's own actor numbers, counted up
// from 0 or 1) as a bitmap: the distinct actors of a geo point, in both
// backends' geo aggregation.
type IDBits []uint64

// Add puts id in the set.
func (s *IDBits) Add(id uint32) {
	w := int(id >> 6)
	if w >= len(*s) {
		*s = append(*s, make([]uint64, w+1-len(*s))...)
	}
	(*s)[w] |= 1 << (id & 63)
}

// Count is the number of ids in the set.
func (s IDBits) Count() int64 {
	var n int
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// Merge folds p, a point at the same place and outcome, into a: counts
// and failures add up, the later last-seen time and the larger country
// and city names are kept (Actors is left to the caller: distinct actors
// do not add up).
func (a *GeoPoint) Merge(p *GeoPoint) {
	a.Count += p.Count
	a.Failures += p.Failures
	if p.LastSeen.After(a.LastSeen) {
		a.LastSeen = p.LastSeen
	}
	a.Country, a.City = max(a.Country, p.Country), max(a.City, p.City)
}
