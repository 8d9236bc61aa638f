package ntfs

import (
	"bytes"
	"testing"
)

// BenchmarkOpen10k interprets the 512 MiB, 10,000-file volume: Open (all
// checks), the owner index over the whole volume and a Judge of it.
func BenchmarkOpen10k(b *testing.B) {
	img := image(b, fxBig)
	r := bytes.NewReader(img)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		v, err := Open(r, int64(len(img)))
		if err != nil {
			b.Fatal(err)
		}
		if ext := v.Owners(0, v.Size()); len(ext) < 10000 {
			b.Fatalf("%d extents", len(ext))
		}
		if j := v.Judge(0, v.Size()); j.Intact != 1 {
			b.Fatal(j)
		}
	}
}

// TestOpen10k reads the 10,000-file volume the benchmark times: every
// file is found and owns its clusters. The speed itself is shown by
// BenchmarkOpen10k (go test -bench Open10k ./fs/ntfs), not asserted here.
func TestOpen10k(t *testing.T) {
	img := image(t, fxBig)
	v := open(t, img)
	ext := v.Owners(0, v.Size())
	j := v.Judge(0, v.Size())
	if j.Intact != 1 || len(ext) < 10000 || v.Evidence().Files < 10000 {
		t.Fatalf("judgement %+v, %d extents, %d files", j, len(ext), v.Evidence().Files)
	}
}
