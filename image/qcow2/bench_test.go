package qcow2

import (
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// BenchmarkRead reads the whole virtual disk of each fixture (40 MiB, FAT
// and NTFS content, about 8 MiB allocated) from one goroutine, 1 MiB at a
// time, as mirrorchk's diff does; "all" reads every byte, "skip" only the
// runs Extent calls allocated. bench/qcow2.sh compares with qemu-img on
// 1 GiB.
func BenchmarkRead(b *testing.B) {
	for _, name := range []string{"v3", "v3-compressed", "zstd", "backing"} {
		var v variant
		for _, x := range variants {
			if x.name == name {
				v = x
			}
		}
		p := v.path(b)
		for _, skip := range []bool{false, true} {
			mode := "all"
			if skip {
				mode = "skip"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				d, err := openFile(b, p)
				if err != nil {
					b.Fatal(err)
				}
				var extent func(int64) (bool, int64, error)
				if skip {
					extent = d.Extent
				}
				diskfixture.BenchRead(b, d, d.Size(), extent)
			})
		}
	}
}
