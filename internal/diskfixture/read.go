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

// WalkExtents is the body of a reader's fuzz test once Open accepted the
// input: it follows the first 64 runs of d.Extent, reading up to 64 KiB
// of each. Extent must make progress inside the disk, ReadAt must read all
// it is asked or say why, and an unallocated run must read as zeros. An
// error of Extent or ReadAt ends the walk; check, when not nil, is given
// it first (to assert the reader's error types).
func WalkExtents(t *testing.T, d ExtentDisk, check func(*testing.T, error)) {
	t.Helper()
	buf := make([]byte, 64<<10)
	off := int64(0)
	for i := 0; i < 64 && off < d.Size(); i++ {
		a, n, err := d.Extent(off)
		if err != nil {
			if check != nil {
				check(t, err)
			}
			return
		}
		if n <= 0 || n > d.Size()-off {
			t.Fatalf("Extent(%d) = %v, %d", off, a, n)
		}
		m := min(n, int64(len(buf)))
		k, err := d.ReadAt(buf[:m], off)
		if err != nil && err != io.EOF {
			if check != nil {
				check(t, err)
			}
			return
		}
		if int64(k) != m {
			t.Fatalf("ReadAt(%d) read %d of %d bytes without an error", off, k, m)
		}
		if !a && !AllZero(buf[:m]) {
			t.Fatalf("unallocated run at %d does not read as zeros", off)
		}
		off += n
	}
}

// ConcurrentSHA reads the whole disk r (size bytes) from four goroutines
// at once, each with its own read size (64 KiB + 512*i), and fails unless
// each one's sha256 is want.
func ConcurrentSHA(t *testing.T, r io.ReaderAt, size int64, want string) {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = ReadSHA(t, r, size, 64<<10+512*i)
		}()
	}
	wg.Wait()
	for i, g := range got {
		if g != want {
			t.Errorf("reader %d: sha256 %s, want %s", i, g, want)
		}
	}
}

// ReadAllocated reads the whole disk d, 1 MiB at a time, only where Extent
// says it is allocated, and returns the first error.
func ReadAllocated(d ExtentDisk) error {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < d.Size(); {
		a, n, err := d.Extent(off)
		if err != nil {
			return err
		}
		if a {
			for o := off; o < off+n; o += int64(len(buf)) {
				if _, err := d.ReadAt(buf[:min(int64(len(buf)), off+n-o)], o); err != nil && err != io.EOF {
					return err
				}
			}
		}
		off += n
	}
	return nil
}
