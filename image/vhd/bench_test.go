package vhd

import (
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// BenchmarkRead reads a 64 MiB disk of random data 1 MiB at a time, as the
// diff does, from a dynamic and a fixed VHD made by qemu-img (page cache).
// bench/vhd.sh compares the same reads on 1 GiB with qemu-img.
func BenchmarkRead(b *testing.B) {
	raw := filepath.Join(diskfixture.Dir(), "bench.raw")
	diskfixture.WriteRandom(b, raw, 64<<20, 42)
	b.Run("raw-baseline", func(b *testing.B) {
		// The same reads from the raw file itself: the floor.
		f, size := diskfixture.OpenFile(b, raw)
		diskfixture.BenchRead(b, f, size, nil)
	})
	for _, v := range []string{"dynamic", "fixed"} {
		path := diskfixture.Convert(b, "vpc", raw, filepath.Join(diskfixture.Dir(), "bench-"+v+".vhd"), "subformat="+v)
		b.Run(v, func(b *testing.B) {
			f, size := diskfixture.OpenFile(b, path)
			d, err := Open(f, size, path, nil)
			if err != nil {
				b.Fatal(err)
			}
			diskfixture.BenchRead(b, d, d.Size(), nil)
		})
	}
}
