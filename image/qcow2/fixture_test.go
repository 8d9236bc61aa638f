package qcow2

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// The fixtures are built once per test process, in a temporary directory,
// with the real tools: a raw disk with a FAT16 volume (mkfs.fat + mcopy)
// and an NTFS volume (mkntfs + ntfscp) holding random and compressible
// files, then converted with qemu-img.

var (
	tmpDir  string
	rawOnce sync.Once
	rawPath string
	rawErr  error
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "qcow2test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// run runs a tool in dir and returns its standard output.
func run(tb testing.TB, dir, name string, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// rawSize is the virtual size: 40 MiB and 7 sectors, so the last cluster
// is partial.
const rawSize = 40<<20 + 7*512

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func textBytes(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d of a compressible file for the mirrorchk container tests\n", i)
	}
	return b.Bytes()[:n]
}

// raw returns the path of the raw source image, building it on first use.
func raw(tb testing.TB) string {
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
	dir := filepath.Join(tmpDir, "src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string][]byte{
		"random1.bin": randBytes(1, 3<<20+12345),
		"text1.txt":   textBytes(1 << 20),
		"small.txt":   []byte("hello from FAT\n"),
		"random2.bin": randBytes(2, 2<<20+777),
		"text2.txt":   textBytes(700 << 10),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return "", err
		}
	}
	fat := filepath.Join(dir, "fat.img")
	run(tb, dir, fixture.Tool(tb, "mkfs.fat", "dosfstools"), "-C", "-F", "16", "-n", "MIRRORCHK", fat, "16384")
	run(tb, dir, "mcopy", "-i", fat, "random1.bin", "text1.txt", "small.txt", "::/")
	ntfs := filepath.Join(dir, "ntfs.img")
	if err := os.WriteFile(ntfs, nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Truncate(ntfs, 20<<20); err != nil {
		return "", err
	}
	run(tb, dir, fixture.Tool(tb, "mkntfs", "ntfs-3g"), "-F", "-Q", "-q", "-L", "MIRRORCHK", ntfs)
	run(tb, dir, fixture.Tool(tb, "ntfscp", "ntfs-3g"), "-q", ntfs, "random2.bin", "random2.bin")
	run(tb, dir, fixture.Tool(tb, "ntfscp", "ntfs-3g"), "-q", ntfs, "text2.txt", "text2.txt")

	p := filepath.Join(tmpDir, "raw.img")
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := f.Truncate(rawSize); err != nil {
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
			if !allZero(blk) {
				if _, err := f.WriteAt(blk, v.at+int64(i)); err != nil {
					return "", err
				}
			}
		}
	}
	// Unaligned random bytes across cluster boundaries, and the last sectors.
	if _, err := f.WriteAt(randBytes(3, 100<<10+3), 38<<20+1234); err != nil {
		return "", err
	}
	if _, err := f.WriteAt(textBytes(5*512), rawSize-5*512); err != nil {
		return "", err
	}
	return p, f.Close()
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func sha256File(tb testing.TB, p string) string {
	tb.Helper()
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// qemuRawSHA is the sha256 of qemu-img convert -O raw of the image p.
func qemuRawSHA(tb testing.TB, p, format string) string {
	tb.Helper()
	out := p + ".qemu.raw"
	run(tb, filepath.Dir(p), "qemu-img", "convert", "-f", format, "-O", "raw", p, out)
	defer os.Remove(out)
	return sha256File(tb, out)
}

func qemuVirtualSize(tb testing.TB, p, format string) int64 {
	tb.Helper()
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(run(tb, filepath.Dir(p), "qemu-img", "info", "-f", format, "--output=json", p), &info); err != nil {
		tb.Fatal(err)
	}
	return info.VirtualSize
}

type mapEntry struct {
	Start  int64 `json:"start"`
	Length int64 `json:"length"`
	Data   bool  `json:"data"`
	Zero   bool  `json:"zero"`
}

func qemuMap(tb testing.TB, p, format string) []mapEntry {
	tb.Helper()
	var m []mapEntry
	if err := json.Unmarshal(run(tb, filepath.Dir(p), "qemu-img", "map", "-f", format, "--output=json", p), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// readSHA reads the whole disk through ReadAt with chunk-byte reads and
// returns the sha256.
func readSHA(tb testing.TB, r io.ReaderAt, size int64, chunk int) string {
	tb.Helper()
	h := sha256.New()
	buf := make([]byte, chunk)
	for off := int64(0); off < size; {
		n, err := r.ReadAt(buf, off)
		if err != nil && !(err == io.EOF && off+int64(n) == size) {
			tb.Fatalf("ReadAt(%d bytes at %d): %d, %v", len(buf), off, n, err)
		}
		h.Write(buf[:n])
		off += int64(n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// extentDisk is what checkMap needs of a Disk.
type extentDisk interface {
	io.ReaderAt
	Size() int64
	Extent(off int64) (bool, int64, error)
}

// checkMap compares Extent with qemu-img map: where qemu says data:false
// the disk must say unallocated, where qemu says data:true allocated;
// unallocated runs must read as zeros. strict is false for formats whose
// allocated areas qemu may report as holes of the underlying file.
func checkMap(t *testing.T, d extentDisk, m []mapEntry, strict bool) {
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
			if !allZero(b) {
				t.Fatalf("unallocated run at %d (+%d) reads non-zero bytes", r.off, r.n)
			}
		}
	}
}

// osOpen is an OpenFunc over the files of dir.
func osOpen(dir string) OpenFunc {
	return func(name string) (io.ReaderAt, int64, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, 0, err
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, 0, err
		}
		return f, fi.Size(), nil
	}
}

func openFile(tb testing.TB, p string) (*Disk, error) {
	tb.Helper()
	r, size, err := osOpen(filepath.Dir(p))(filepath.Base(p))
	if err != nil {
		tb.Fatal(err)
	}
	return Open(r, size, filepath.Base(p), osOpen(filepath.Dir(p)))
}

// hashDir returns one sha256 over the names and contents of the files in
// dir (the image and the files it refers to), to prove reading changes
// nothing.
func hashDir(tb testing.TB, dir string) string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.New()
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".qemu.raw") {
			continue
		}
		fmt.Fprintf(h, "%s %s\n", e.Name(), sha256File(tb, filepath.Join(dir, e.Name())))
	}
	return hex.EncodeToString(h.Sum(nil))
}
