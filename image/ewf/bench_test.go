package ewf

import (
	"crypto/md5"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRead reads the media as the diff does: 1 MiB ReadAt calls in
// order from one goroutine. The image is the "fast-split-meta" fixture
// (16 MiB, deflate fast, 1 MiB segments), or the first segment named by
// $EWF_BENCH (bench/ewf.sh passes a 1 GiB set).
func BenchmarkRead(b *testing.B) {
	benchRead(b, false)
}

// BenchmarkReadMD5 also hashes what it reads (MD5), as ewfverify does.
func BenchmarkReadMD5(b *testing.B) {
	benchRead(b, true)
}

func benchRead(b *testing.B, hash bool) {
	first := os.Getenv("EWF_BENCH")
	if first == "" {
		need(b)
		first = filepath.Join(fixDir, "fast-split-meta", "img.E01")
	}
	d := mustOpen(b, first)
	b.SetBytes(d.Size())
	buf := make([]byte, 1<<20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A new Disk each time: nothing cached from the last pass.
		d := mustOpen(b, first)
		h := md5.New()
		for off := int64(0); ; {
			n, err := d.ReadAt(buf, off)
			if hash {
				h.Write(buf[:n])
			}
			off += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
