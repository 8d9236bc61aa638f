package diskfixture

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	randv2 "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// The two-volume disk of Raw is built once per test process: a raw disk
// with a FAT16 volume (mkfs.fat + mcopy) and an NTFS volume (mkntfs +
// ntfscp) holding random and compressible files.

var (
	rawOnce sync.Once
	rawPath string
	rawErr  error
)

// RawSize is the virtual size of Raw's disk: 40 MiB and 7 sectors, so the
// last cluster of a converted image is partial.
const RawSize = 40<<20 + 7*512

// RandBytes is n pseudo-random bytes from seed.
func RandBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// TextBytes is n bytes of compressible text.
func TextBytes(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d of a compressible file for the mirrorchk container tests\n", i)
	}
	return b.Bytes()[:n]
}

// Raw returns the path of the raw two-volume source disk of RawSize bytes,
// building it on first use; it first fails the test, naming the apt
// package, if a tool the tests need is missing.
func Raw(tb testing.TB) string {
	tb.Helper()
	for _, t := range [][2]string{{"mkfs.fat", "dosfstools"}, {"mcopy", "mtools"}, {"mkntfs", "ntfs-3g"}, {"ntfscp", "ntfs-3g"}, {"qemu-img", "qemu-utils"}, {"qemu-io", "qemu-utils"}} {
		fixture.Tool(tb, t[0], t[1])
	}
	rawOnce.Do(func() { rawPath, rawErr = buildRaw(tb) })
	if rawErr != nil {
		tb.Fatal(rawErr)
	}
	return rawPath
}

func buildRaw(tb testing.TB) (string, error) {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	files := map[string][]byte{
		"random1.bin": RandBytes(1, 3<<20+12345),
		"text1.txt":   TextBytes(1 << 20),
		"small.txt":   []byte("hello from FAT\n"),
		"random2.bin": RandBytes(2, 2<<20+777),
		"text2.txt":   TextBytes(700 << 10),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(src, n), b, 0o644); err != nil {
			return "", err
		}
	}
	fat := filepath.Join(src, "fat.img")
	Run(tb, src, fixture.Tool(tb, "mkfs.fat", "dosfstools"), "-C", "-F", "16", "-n", "MIRRORCHK", fat, "16384")
	Run(tb, src, "mcopy", "-i", fat, "random1.bin", "text1.txt", "small.txt", "::/")
	ntfs := filepath.Join(src, "ntfs.img")
	if err := os.WriteFile(ntfs, nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Truncate(ntfs, 20<<20); err != nil {
		return "", err
	}
	Run(tb, src, fixture.Tool(tb, "mkntfs", "ntfs-3g"), "-F", "-Q", "-q", "-L", "MIRRORCHK", ntfs)
	Run(tb, src, fixture.Tool(tb, "ntfscp", "ntfs-3g"), "-q", ntfs, "random2.bin", "random2.bin")
	Run(tb, src, fixture.Tool(tb, "ntfscp", "ntfs-3g"), "-q", ntfs, "text2.txt", "text2.txt")

	p := filepath.Join(dir, "raw.img")
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := f.Truncate(RawSize); err != nil {
		return "", err
	}
	// Copy the volumes' non-zero 4 KiB blocks, so the raw file stays sparse.
	for _, v := range []struct {
		path string
		at   int64
	}{{fat, 0}, {ntfs, 18 << 20}} {
		b, err := os.ReadFile(v.path)
		if err != nil {
			return "", err
		}
		for i := 0; i < len(b); i += 4096 {
			blk := b[i:min(i+4096, len(b))]
			if !AllZero(blk) {
				if _, err := f.WriteAt(blk, v.at+int64(i)); err != nil {
					return "", err
				}
			}
		}
	}
	// Unaligned random bytes across cluster boundaries, and the last sectors.
	if _, err := f.WriteAt(RandBytes(3, 100<<10+3), 38<<20+1234); err != nil {
		return "", err
	}
	if _, err := f.WriteAt(TextBytes(5*512), RawSize-5*512); err != nil {
		return "", err
	}
	return p, f.Close()
}

// WriteRandom writes a file of n pseudo-random bytes (fixed seed).
func WriteRandom(tb testing.TB, path string, n int, seed uint64) {
	tb.Helper()
	r := randv2.New(randv2.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// RawFS builds (once per test binary) a sparse raw image of 32 MiB that is
// one volume, fsType "fat" (FAT16) or "ntfs", holding four random files,
// and returns its path.
func RawFS(tb testing.TB, fsType string) string {
	tb.Helper()
	p := filepath.Join(dir, fsType+".raw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		tb.Fatal(err)
	}
	f.Truncate(32 << 20)
	f.Close()
	src := filepath.Join(dir, fsType+"-src")
	switch fsType {
	case "fat":
		Run(tb, "", "mkfs.fat", "-F", "16", "-n", "MIRRORCHK", tmp)
		for i, n := range []int{3000000, 70000, 512, 1 << 20} {
			WriteRandom(tb, src, n, uint64(i))
			Run(tb, "", "mcopy", "-i", tmp, src, fmt.Sprintf("::FILE%d.BIN", i))
		}
	case "ntfs":
		Run(tb, "", "mkntfs", "-F", "-Q", "-q", tmp)
		for i, n := range []int{2000000, 90000, 4096, 5 << 20} {
			WriteRandom(tb, src, n, uint64(10+i))
			Run(tb, "", "ntfscp", "-f", tmp, src, fmt.Sprintf("file%d.bin", i))
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		tb.Fatal(err)
	}
	return p
}

// ExtentDisk is what CheckMap needs of a Disk.
type ExtentDisk interface {
	io.ReaderAt
	Size() int64
	Extent(off int64) (bool, int64, error)
}

// CheckMap compares Extent with qemu-img map: where qemu says data:false
// the disk must say unallocated, where qemu says data:true allocated;
// unallocated runs must read as zeros. strict is false for formats whose
// allocated areas qemu may report as holes of the underlying file.
func CheckMap(t *testing.T, d ExtentDisk, m []MapEntry, strict bool) {
	t.Helper()
	var end int64
	for _, e := range m {
		end = max(end, e.Start+e.Length)
	}
	if end != d.Size() {
		t.Errorf("qemu-img map covers %d bytes, disk is %d", end, d.Size())
	}
	type run struct {
		off, n int64
		a      bool
	}
	var runs []run
	for off := int64(0); off < d.Size(); {
		a, n, err := d.Extent(off)
		if err != nil || n <= 0 {
			t.Fatalf("Extent(%d) = %v, %d, %v", off, a, n, err)
		}
		runs = append(runs, run{off, n, a})
		off += n
	}
	var un int64
	for _, r := range runs {
		if !r.a {
			un += r.n
		}
	}
	t.Logf("%d runs, %d bytes unallocated; qemu-img map: %d entries", len(runs), un, len(m))
	// allocation at each qemu entry, run by run
	i := 0
	for _, e := range m {
		for off := e.Start; off < e.Start+e.Length; {
			for runs[i].off+runs[i].n <= off {
				i++
			}
			r := runs[i]
			if e.Data && !r.a {
				t.Errorf("qemu says data at %d (+%d), Extent(%d) says unallocated (+%d)", e.Start, e.Length, r.off, r.n)
				return
			}
			if !e.Data && r.a && (strict || !e.Zero) {
				t.Errorf("qemu says no data at %d (+%d), Extent(%d) says allocated (+%d)", e.Start, e.Length, r.off, r.n)
				return
			}
			off = min(e.Start+e.Length, r.off+r.n)
		}
	}
	// unallocated reads as zeros
	buf := make([]byte, 1<<20)
	for _, r := range runs {
		if r.a {
			continue
		}
		for off := r.off; off < r.off+r.n; off += int64(len(buf)) {
			b := buf[:min(int64(len(buf)), r.off+r.n-off)]
			if _, err := d.ReadAt(b, off); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !AllZero(b) {
				t.Fatalf("unallocated run at %d (+%d) reads non-zero bytes", r.off, r.n)
			}
		}
	}
}
