package detect

import "iter"

// Per-user and per-key detector state kept by value in slices rather than
// as one heap object per user (a pointer in a map, or a slice of its
// own): the garbage collector marks every live object in every cycle, so
// the state of 100,000 users in objects of their own costs every cycle
// (every commit's allocations start one) time in proportion to the
// users. A slice of values is one object; of pointer-free values, one the
// collector does not even scan.

// userSlots is a value per tracked user, indexed by the user's index
// (userRec.idx): a user past the end or not marked in has holds none.
// The slice grows by an eighth past the highest index set, so a
// population's few last users cost little slack.
type userSlots[T any] struct {
	v   []T
	has []bool
	n   int // users holding a value
}

// get returns the user's value (nil when it holds none); the pointer is
// valid until the next set.
func (s *userSlots[T]) get(i uint32) *T {
	if int(i) >= len(s.v) || !s.has[i] {
		return nil
	}
	return &s.v[i]
}

// set gives the user a value.
func (s *userSlots[T]) set(i uint32, v T) {
	if int(i) >= len(s.v) {
		n := int(i) + 1 + int(i)/8
		if n <= cap(s.v) {
			s.v, s.has = s.v[:n], s.has[:n]
		} else {
			v := make([]T, n)
			copy(v, s.v)
			has := make([]bool, n)
			copy(has, s.has)
			s.v, s.has = v, has
		}
	}
	if !s.has[i] {
		s.has[i] = true
		s.n++
	}
	s.v[i] = v
}

// del drops the user's value.
func (s *userSlots[T]) del(i uint32) {
	if int(i) >= len(s.v) || !s.has[i] {
		return
	}
	var zero T
	s.v[i], s.has[i] = zero, false
	s.n--
}

func (s *userSlots[T]) len() int { return s.n }

// all yields the users holding a value, by index, and the value (which
// the loop may change or del; set only for the user yielded).
func (s *userSlots[T]) all() iter.Seq2[uint32, *T] {
	return func(yield func(uint32, *T) bool) {
		for i := range s.v {
			if s.has[i] && !yield(uint32(i), &s.v[i]) { // #nosec G115 -- user indexes are uint32
				return
			}
		}
	}
}

// valueMap is a map from K to values of T kept in one slice: the map
// holds an index into it (a map of pointer-free entries, which the
// collector does not scan, when K holds no pointer), deleted values'
// places are reused.
type valueMap[K comparable, T any] struct {
	idx  map[K]int32
	v    []T
	free []int32
}

func newValueMap[K comparable, T any](n int) valueMap[K, T] {
	return valueMap[K, T]{idx: make(map[K]int32, n)}
}

// get returns the key's value (nil for none); the pointer is valid until
// the next put.
func (m *valueMap[K, T]) get(k K) *T {
	i, ok := m.idx[k]
	if !ok {
		return nil
	}
	return &m.v[i]
}

// put sets the key's value.
func (m *valueMap[K, T]) put(k K, v T) {
	if i, ok := m.idx[k]; ok {
		m.v[i] = v
		return
	}
	var i int32
	if n := len(m.free); n > 0 {
		i = m.free[n-1]
		m.free = m.free[:n-1]
		m.v[i] = v
	} else {
		i = int32(len(m.v)) // #nosec G115 -- 2^31 values do not fit in memory long before
		m.v = append(m.v, v)
	}
	m.idx[k] = i
}

// del drops the key's value.
func (m *valueMap[K, T]) del(k K) {
	i, ok := m.idx[k]
	if !ok {
		return
	}
	delete(m.idx, k)
	var zero T
	m.v[i] = zero
	m.free = append(m.free, i)
}

func (m *valueMap[K, T]) len() int { return len(m.idx) }

// all yields every key and its value (the loop may del the key yielded).
func (m *valueMap[K, T]) all() iter.Seq2[K, *T] {
	return func(yield func(K, *T) bool) {
		for k, i := range m.idx {
			if !yield(k, &m.v[i]) {
				return
			}
		}
	}
}
