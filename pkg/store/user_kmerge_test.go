package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// randomSegInputs are segments and rows of random actors and countries
// (actors with a NUL or sharing a prefix with a country, ties of
// last-seen), the rows repeating keys as a day's hour rows do.
func randomSegInputs(t *testing.T, rng *rand.Rand, k int) []segInput {
	t.Helper()
	actors := []string{"a@x", "a@x\x00", "a@xF", "b", "", "c@y", "d"}
	countries := []string{"", "F", "rance", "France"}
	var ins []segInput
	for seg := range k {
		bucket := int64(1_700_000_000_000) + int64(seg)*hourMS
		var es []UserSegEntry
		seen := map[[2]string]bool{}
		rows := seg%4 == 3
		for range 40 {
			key := [2]string{actors[rng.IntN(len(actors))], countries[rng.IntN(len(countries))]}
			if seen[key] && !rows {
				continue
			}
			seen[key] = true
			es = append(es, UserSegEntry{Actor: key[0], Country: key[1], ActorID: fmt.Sprint("id", rng.IntN(3)),
				LastIP: fmt.Sprint("10.0.0.", rng.IntN(3)), Events: 1 + int64(rng.IntN(4)), Failures: int64(rng.IntN(2)),
				LastSeen: 1_700_000_000_000 + int64(rng.IntN(3))})
		}
		if rows {
			ins = append(ins, segInput{rows: es})
			continue
		}
		data, err := EncodeUserSeg(bucket, es)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, segInput{seg: true, bucket: bucket, data: data})
	}
	return ins
}

// foldOneByOne is the merge of the inputs one MergeUserSegEntries at a
// time, in input order.
func foldOneByOne(t *testing.T, ins []segInput) []UserSegEntry {
	t.Helper()
	var want []UserSegEntry
	for _, in := range ins {
		if !in.seg {
			want = MergeUserSegEntries(want, in.rows)
			continue
		}
		es, err := DecodeUserSeg(in.bucket, in.data)
		if err != nil {
			t.Fatal(err)
		}
		want = MergeUserSegEntries(want, es)
	}
	data, err := EncodeUserSeg(0, want) // EncodeUserSeg's order
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeUserSeg(0, data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKMergeEqualsMerges: the k-way merge of sorted segments and rows
// gives the entries that merging them one MergeUserSegEntries at a time
// gives (counts, the newest-or-equal last-seen's IP and id, in input
// order), and so does its fallback through segMerger.
func TestKMergeEqualsMerges(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 200 {
		ins := randomSegInputs(t, rng, 1+round%25)
		want := foldOneByOne(t, ins)
		out := int64(1_699_999_000_000)
		for name, merge := range map[string]func(int64, []segInput) ([]byte, int, int, error){
			"kmerge": kmergeSegInputs, "index": mergeSegInputsByIndex} {
			data, n, read, err := merge(out, ins)
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, name, err)
			}
			got, err := DecodeUserSeg(out, data)
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, name, err)
			}
			if n != len(want) || !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %s: %d entries\n%v\nwant %d\n%v", round, name, n, got, len(want), want)
			}
			total := 0
			for _, in := range ins {
				if in.seg {
					es, _ := DecodeUserSeg(in.bucket, in.data)
					total += len(es)
				} else {
					total += len(in.rows)
				}
			}
			if read != total {
				t.Fatalf("round %d, %s: read %d entries, want %d", round, name, read, total)
			}
		}
	}
}

// TestKMergeOutOfOrderFallsBack: a segment whose entries are not in key
// order (EncodeUserSeg never writes one) is merged through segMerger,
// with the same answer; a corrupt one is an error, not an empty merge.
func TestKMergeOutOfOrderFallsBack(t *testing.T) {
	enc, _, err := userSegCodec()
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte{userSegVersion}
	plain = binary.AppendUvarint(plain, 2)
	for _, a := range []string{"z", "a"} {
		for _, s := range []string{a, "F", "id", "10.0.0.1"} {
			plain = binary.AppendUvarint(plain, uint64(len(s)))
			plain = append(plain, s...)
		}
		plain = binary.AppendVarint(plain, 2)
		plain = binary.AppendVarint(plain, 1)
		plain = binary.AppendVarint(plain, 5)
	}
	unsorted := segInput{seg: true, bucket: 100, data: enc.EncodeAll(plain, nil)}
	rows := segInput{rows: []UserSegEntry{{Actor: "a", Country: "F", ActorID: "id2", LastIP: "10.0.0.2", Events: 1, LastSeen: 105}}}
	if _, _, _, err := kmergeSegInputs(0, []segInput{unsorted, rows}); err != errSegOrder {
		t.Fatalf("k-way merge of an unsorted segment: %v, want errSegOrder", err)
	}
	data, n, read, err := mergeSegInputs(0, []segInput{unsorted, rows})
	if err != nil || n != 2 || read != 3 {
		t.Fatalf("merge: %d entries, %d read, %v; want 2, 3", n, read, err)
	}
	got, err := DecodeUserSeg(0, data)
	if err != nil {
		t.Fatal(err)
	}
	want := []UserSegEntry{{Actor: "a", Country: "F", ActorID: "id2", LastIP: "10.0.0.2", Events: 3, Failures: 1, LastSeen: 105},
		{Actor: "z", Country: "F", ActorID: "id", LastIP: "10.0.0.1", Events: 2, Failures: 1, LastSeen: 105}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged %v, want %v", got, want)
	}
	if _, _, _, err := mergeSegInputs(0, []segInput{{seg: true, bucket: 1, data: []byte("not zstd")}}); err == nil {
		t.Fatal("a corrupt segment merged without an error")
	}
}

// BenchmarkSegMerge: the seal's merges at 100 000 users (the shape of
// BenchmarkStateCommit's pages: 3 600 events an hour of random users):
// a day from its 24 hour segments (~86 000 entries read, ~58 000
// written) and a 4-day segment from its days (~230 000 read), by the
// k-way merge and by segMerger with EncodeUserSeg's sort (the path
// before). cpu-ns/entry is the process's CPU time per entry read
// (garbage collection included), cpu-ms/op per merge.
func BenchmarkSegMerge(b *testing.B) {
	const users = 100000
	rng := rand.New(rand.NewPCG(7, 8))
	seg := func(bucket, span int64, events int) segInput {
		m := map[int]*UserSegEntry{}
		for range events {
			u := rng.IntN(users)
			e := m[u]
			if e == nil {
				e = &UserSegEntry{Actor: fmt.Sprintf("user%d@example.com", u), Country: "United States", ActorID: fmt.Sprintf("00u%d", u)}
				m[u] = e
			}
			e.Events++
			e.LastSeen = bucket + rng.Int64N(span)
			e.LastIP = fmt.Sprintf("198.51.%d.%d", u/250%250, 1+u%250)
		}
		es := make([]UserSegEntry, 0, len(m))
		for _, e := range m {
			es = append(es, *e)
		}
		data, err := EncodeUserSeg(bucket, es)
		if err != nil {
			b.Fatal(err)
		}
		return segInput{seg: true, bucket: bucket, data: data}
	}
	day0 := int64(1_700_006_400_000) // a multiple of 4 days
	var hours, days []segInput
	for h := range 24 {
		hours = append(hours, seg(day0+int64(h)*hourMS, hourMS, 3600))
	}
	for d := range 4 {
		days = append(days, seg(day0+int64(d)*dayMS, dayMS, 86400))
	}
	for _, c := range []struct {
		name string
		ins  []segInput
	}{{"day-from-24-hours", hours}, {"4-days-from-days", days}} {
		for name, merge := range map[string]func(int64, []segInput) ([]byte, int, int, error){
			"kmerge": kmergeSegInputs, "index": mergeSegInputsByIndex} {
			b.Run(c.name+"/"+name, func(b *testing.B) {
				read := 0
				cpu0 := cpumeter.Process()
				for range b.N {
					_, _, k, err := merge(day0, c.ins)
					if err != nil {
						b.Fatal(err)
					}
					read += k
				}
				cpu := cpumeter.Process() - cpu0
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(read), "cpu-ns/entry")
				b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			})
		}
	}
}
