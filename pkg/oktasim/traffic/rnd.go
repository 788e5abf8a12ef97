package traffic

import (
	"math/rand/v2"
	"time"
)

// rnd is a deterministic random source with helpers.
type rnd struct {
	*rand.Rand
	src *rand.PCG
}

func newRnd(seed, stream uint64) *rnd {
	src := rand.NewPCG(seed^0x9e3779b97f4a7c15, stream*0xbf58476d1ce4e5b9+0x94d049bb133111eb)
	return &rnd{Rand: rand.New(src), src: src} // #nosec G404 -- simulator: seeded, reproducible traffic, not a secret
}

const b62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (r *rnd) base62(n int) string {
	b := make([]byte, n)
	for i := 0; i < n; {
		v := r.Uint64()
		for k := 0; k < 10 && i < n; k++ {
			b[i] = b62[v%62]
			v /= 62
			i++
		}
	}
	return string(b)
}

func (r *rnd) hex(n int) string {
	const h = "0123456789abcdef"
	b := make([]byte, n)
	for i := 0; i < n; {
		v := r.Uint64()
		for k := 0; k < 16 && i < n; k++ {
			b[i] = h[v&15]
			v >>= 4
			i++
		}
	}
	return string(b)
}

// uuid returns a random (version 4) UUID.
func (r *rnd) uuid() string {
	const h = "0123456789abcdef"
	var b [36]byte
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^0xf000 | 0x4000                // version 4
	lo = lo&^(0xc<<60) | (0x8 << 60)        // variant 10
	put := func(off int, v uint64, n int) { // n hex digits from the top of v
		for i := 0; i < n; i++ {
			b[off+i] = h[(v>>(60-4*uint(i)))&15]
		}
	}
	put(0, hi, 8)
	b[8] = '-'
	put(9, hi<<32, 4)
	b[13] = '-'
	put(14, hi<<48, 4)
	b[18] = '-'
	put(19, lo, 4)
	b[23] = '-'
	put(24, lo<<16, 12)
	return string(b[:])
}

// reqID is an Okta request/transaction id (27 chars like "XkccyyMli2Uay2I93ZgRzQAAB0c").
func (r *rnd) reqID() string { return r.base62(23) + "AAA" + string(b62[r.IntN(26)]) }

// sessID is an externalSessionId ("102" + 22 chars, or idx sessions).
func (r *rnd) sessID() string { return "102" + r.base62(22) }

func (r *rnd) chance(p float64) bool { return r.Float64() < p }

// dur returns a uniform duration in [a, b).
func (r *rnd) dur(a, b time.Duration) time.Duration {
	if b <= a {
		return a
	}
	return a + time.Duration(r.Int64N(int64(b-a)))
}
