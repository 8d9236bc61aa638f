package vmdk

import (
	"io"
	"testing"
)

// BenchmarkRead reads the whole virtual disk of each fixture (40 MiB, FAT
// and NTFS content, about 8 MiB allocated) from one goroutine, 1 MiB at a
// time, as mirrorchk's diff does; "all" reads every byte, "skip" only the
// runs Extent calls allocated. bench/vmdk.sh compares with qemu-img on
// 1 GiB.
func BenchmarkRead(b *testing.B) {
	for _, name := range []string{"monolithicSparse", "streamOptimized", "monolithicFlat", "parent"} {
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
				buf := make([]byte, 1<<20)
				b.SetBytes(d.Size())
				for b.Loop() {
					for off := int64(0); off < d.Size(); {
						n := min(int64(len(buf)), d.Size()-off)
						if skip {
							a, m, err := d.Extent(off)
							if err != nil {
								b.Fatal(err)
							}
							if !a {
								off += m
								continue
							}
							n = min(n, m)
						}
						if _, err := d.ReadAt(buf[:n], off); err != nil && err != io.EOF {
							b.Fatal(err)
						}
						off += n
					}
				}
			})
		}
	}
}
