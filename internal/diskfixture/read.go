package diskfixture

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// ReadConcurrently reads d from 4 goroutines at once, at different offsets
// and sizes, and compares with want.
func ReadConcurrently(t *testing.T, d io.ReaderAt, want []byte) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 300000+g*4096)
			for off := int64(g * 777); off < int64(len(want)); off += int64(len(buf)) {
				n, err := d.ReadAt(buf, off)
				if err != nil && err != io.EOF {
					t.Error(err)
					return
				}
				if !bytes.Equal(buf[:n], want[off:off+int64(n)]) {
					t.Errorf("goroutine %d: bytes at %d differ", g, off)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchRead reads the size bytes of r b.N times from one goroutine, 1 MiB
// at a time, as mirrorchk's diff does (b.SetBytes(size)). With extent
// (a Disk's Extent) it reads only the runs extent calls allocated, as the
// diff does when it skips holes.
func BenchRead(b *testing.B, r io.ReaderAt, size int64, extent func(off int64) (bool, int64, error)) {
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	for b.Loop() {
		for off := int64(0); off < size; {
			n := min(int64(len(buf)), size-off)
			if extent != nil {
				a, m, err := extent(off)
				if err != nil {
					b.Fatal(err)
				}
				if !a {
					off += m
					continue
				}
				n = min(n, m)
			}
			if _, err := r.ReadAt(buf[:n], off); err != nil && err != io.EOF {
				b.Fatal(err)
			}
			off += n
		}
	}
}
