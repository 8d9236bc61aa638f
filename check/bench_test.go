package check_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/image"
)

// BenchmarkDiff diffs two 256 MiB in-memory members that differ in a few
// sectors; the throughput counts the bytes of both. "dense" has one
// differing sector in every 16, which takes the sector-by-sector path
// everywhere.
func BenchmarkDiff(b *testing.B) {
	const size = 256 << 20
	m0 := randBytes(1, size)
	m1 := bytes.Clone(m0)
	for _, off := range []int{0x1000, 0x1200, 100 << 20, size - 512} {
		m1[off+17] ^= 0xff
	}
	dense := bytes.Clone(m0)
	for off := 0; off < size; off += 16 * 512 {
		dense[off] ^= 1
	}
	tests := []struct {
		name   string
		m1     []byte
		hashes []string
		ranges int64
	}{
		{"few/none", m1, nil, 3},
		{"few/sha256", m1, []string{"sha256"}, 3},
		{"few/sha256,sha1,md5", m1, []string{"sha256", "sha1", "md5"}, 3},
		{"dense/none", dense, nil, size / (16 * 512)},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			srcs := []check.Source{
				{Name: "m0", R: bytes.NewReader(m0), Size: size},
				{Name: "m1", R: bytes.NewReader(tt.m1), Size: size},
			}
			b.SetBytes(2 * size)
			b.ReportAllocs()
			for b.Loop() {
				res, err := check.Diff(context.Background(), srcs, check.DiffOptions{DataSize: size, Hashes: tt.hashes, MaxRanges: 100})
				if err != nil {
					b.Fatal(err)
				}
				if res.RangesTotal != tt.ranges {
					b.Fatalf("RangesTotal = %d; want %d", res.RangesTotal, tt.ranges)
				}
			}
		})
	}
}

// BenchmarkDiffFiles is BenchmarkDiff on two 256 MiB temporary files read
// through package image (pread from the page cache, holes looked up),
// the way mirrorchk scan reads its members.
func BenchmarkDiffFiles(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	m0 := randBytes(2, size)
	var srcs []check.Source
	for i, name := range []string{"m0.img", "m1.img"} {
		data := m0
		if i == 1 {
			data = bytes.Clone(m0)
			data[100<<20] ^= 1
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		im, err := image.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer im.Close()
		srcs = append(srcs, check.Source{Name: path, R: im, Size: im.Size(), Holes: im})
	}
	for _, tt := range []struct {
		name   string
		hashes []string
	}{{"none", nil}, {"sha256", []string{"sha256"}}} {
		hashes := tt.hashes
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(2 * size)
			for b.Loop() {
				res, err := check.Diff(context.Background(), srcs, check.DiffOptions{DataSize: size, Hashes: hashes})
				if err != nil {
					b.Fatal(err)
				}
				if res.RangesTotal != 1 {
					b.Fatalf("RangesTotal = %d; want 1", res.RangesTotal)
				}
			}
		})
	}
}
