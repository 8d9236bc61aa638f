package xfs

import (
	"bytes"
	"os"
	"testing"
)

// head returns the first n bytes of an image: the primary superblock, the
// AG 0 headers and the first B+tree blocks.
func head(tb testing.TB, img string, n int) []byte {
	tb.Helper()
	f, err := os.Open(img)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzOpen opens arbitrary filesystems: Open either fails or gives a
// volume whose owners cover any range exactly and whose judgement, checks
// and evidence never panic or run away (B+tree loops, directory cycles and
// absurd counts are problems).
func FuzzOpen(f *testing.F) {
	if !fuzzWorker {
		s := fixture(f)
		for _, img := range []string{s.V5, s.V4} {
			f.Add(head(f, img, 64<<10))
			f.Add(head(f, img, 4096))
		}
	}
	f.Fuzz(fuzzOpen)
}

func fuzzOpen(t *testing.T, b []byte) {
	v, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return
	}
	size := v.Size()
	n := min(size, int64(len(b))) + 4096
	checkCover(t, v.Owners(0, n), 0, n)
	checkCover(t, v.Owners(size-1000, 3000), size-1000, 3000)
	v.Judge(0, n)
	v.Problems()
	v.Evidence()
	// The mirror weighing's readers: bounded on any structure.
	if off, tail, _, ok := v.LogTail(); ok && !v.Holds(off, tail) {
		t.Fatal("the volume does not hold its own log tail")
	}
	for rec := int64(0); rec < 200; rec++ {
		v.Identity(rec)
		v.Changed(rec)
	}
	v.CommonBefore(v)
}

// BenchmarkFuzzOpenBody runs FuzzOpen's body on its seeds and on mutated
// copies of them (bytes flipped by a fixed-seed generator), without the
// fuzzing engine: the rate it shows (ns/op) is what the fuzzer can reach
// at most, to be compared with the 1,000 execs/s the brief asks for.
func BenchmarkFuzzOpenBody(b *testing.B) {
	s := fixture(b)
	seeds := [][]byte{head(b, s.V5, 64<<10), head(b, s.V4, 64<<10), head(b, s.V5, 4096), head(b, s.V4, 4096)}
	x := uint32(1)
	rnd := func(n int) int {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		return int(x % uint32(n))
	}
	t := &testing.T{}
	i := 0
	for b.Loop() {
		in := append([]byte(nil), seeds[i%len(seeds)]...)
		if i%2 == 1 {
			for range 1 + rnd(8) {
				in[rnd(len(in))] ^= byte(1 + rnd(255))
			}
		}
		fuzzOpen(t, in)
		i++
	}
}

// FuzzDir decodes arbitrary directory data blocks and short-form
// directories.
func FuzzDir(f *testing.F) {
	if fuzzWorker {
		f.Fuzz(func(t *testing.T, b []byte) { fuzzDir(t, b) })
		return
	}
	s := fixture(f)
	v := openImg(f, s.V5)
	w := v.ensureWalk()
	for _, d := range w.dirs {
		if d.local != nil {
			f.Add(d.local)
			continue
		}
		if len(d.exts) > 0 {
			b := make([]byte, v.bs)
			off, _ := v.fsbOff(d.exts[0].fsb)
			v.readAt(b, off)
			f.Add(b)
		}
		if len(w.dirs) > 8 {
			break
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzDir(t, b) })
}

func fuzzDir(t *testing.T, b []byte) {
	v := &Volume{sb: &Superblock{}, v5: true, pcount: map[string]int{}}
	n := 0
	parseShortDir(b, 1, func(uint64, []byte, byte) { n++ })
	if len(b) >= 64 {
		v.parseDataBlock(b, 0, 0, 1, func(uint64, []byte, byte) { n++ })
	}
	if n > len(b) {
		t.Fatalf("%d entries from %d bytes", n, len(b))
	}
}
