package vhdx

// Fixtures built by the real tools in a temporary directory: raw images with
// FAT (mkfs.fat + mcopy) and NTFS (mkntfs + ntfscp) content, converted to VHDX
// by qemu-img. Nothing under /work/shared is read.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var fixDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vhdxtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fixDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tools names the Debian package of each peer tool, for a clear failure.
var tools = map[string]string{
	"qemu-img": "qemu-utils", "qemu-io": "qemu-utils",
	"mkfs.fat": "dosfstools", "mcopy": "mtools",
	"mkntfs": "ntfs-3g", "ntfscp": "ntfs-3g",
	"/usr/bin/python3": "python3-libvhdi (and python3)",
}

// requirePyvhdi fails the test unless libvhdi's Python binding, the
// independent reader of differencing disks, is installed.
func requirePyvhdi(tb testing.TB) {
	tb.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import pyvhdi").Run(); err != nil {
		tb.Fatalf("peer libvhdi (Python module pyvhdi) missing: apt-get install -y python3-libvhdi (%v)", err)
	}
}

// run runs a peer tool and returns its standard output; a missing tool or
// a failure is fatal.
func run(tb testing.TB, name string, args ...string) []byte {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		tb.Fatalf("peer tool %s missing: apt-get install -y %s", name, tools[name])
	}
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %q: %v\n%s", name, args, err, stderr.Bytes())
	}
	return out
}

// writeRandom writes a file of n pseudo-random bytes (fixed seed).
func writeRandom(tb testing.TB, path string, n int, seed uint64) {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// rawFixture builds (once per test binary) a sparse raw image of 32 MiB
// with real FAT or NTFS content and returns its path.
func rawFixture(tb testing.TB, fsType string) string {
	tb.Helper()
	p := filepath.Join(fixDir, fsType+".raw")
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
	src := filepath.Join(fixDir, fsType+"-src")
	switch fsType {
	case "fat":
		run(tb, "mkfs.fat", "-F", "16", "-n", "MIRRORCHK", tmp)
		for i, n := range []int{3000000, 70000, 512, 1 << 20} {
			writeRandom(tb, src, n, uint64(i))
			run(tb, "mcopy", "-i", tmp, src, fmt.Sprintf("::FILE%d.BIN", i))
		}
	case "ntfs":
		run(tb, "mkntfs", "-F", "-Q", "-q", tmp)
		for i, n := range []int{2000000, 90000, 4096, 5 << 20} {
			writeRandom(tb, src, n, uint64(10+i))
			run(tb, "ntfscp", "-f", tmp, src, fmt.Sprintf("file%d.bin", i))
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		tb.Fatal(err)
	}
	return p
}

// convert makes dst from the raw image src with qemu-img convert -O vhdx and
// the given options, once.
func convert(tb testing.TB, src, dst string, opts ...string) string {
	tb.Helper()
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	args := []string{"convert", "-f", "raw", "-O", "vhdx"}
	if len(opts) > 0 {
		args = append(args, "-o", opts[0])
	}
	run(tb, "qemu-img", append(args, src, dst+".tmp")...)
	if err := os.Rename(dst+".tmp", dst); err != nil {
		tb.Fatal(err)
	}
	return dst
}

func fileSHA(tb testing.TB, path string) string {
	tb.Helper()
	f, err := os.Open(path)
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

// peerRaw is the sha256 of `qemu-img convert -O raw` of a VHDX.
func peerRaw(tb testing.TB, path string) string {
	tb.Helper()
	out := path + ".peer.raw"
	run(tb, "qemu-img", "convert", "-f", "vhdx", "-O", "raw", path, out)
	defer os.Remove(out)
	return fileSHA(tb, out)
}

func peerSize(tb testing.TB, path, format string) int64 {
	tb.Helper()
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(run(tb, "qemu-img", "info", "-f", format, "--output=json", path), &info); err != nil {
		tb.Fatal(err)
	}
	return info.VirtualSize
}

type mapEntry struct {
	Start  int64 `json:"start"`
	Length int64 `json:"length"`
	Zero   bool  `json:"zero"`
	Data   bool  `json:"data"`
}

func peerMap(tb testing.TB, path, format string) []mapEntry {
	tb.Helper()
	var m []mapEntry
	if err := json.Unmarshal(run(tb, "qemu-img", "map", "-f", format, "--output=json", path), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// openFile opens a fixture read-only as Open's caller would.
func openFile(tb testing.TB, path string) (*os.File, int64) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return f, fi.Size()
}

// opener resolves names against dir, read-only, as package image will.
func opener(tb testing.TB, dir string) OpenFunc {
	return func(name string) (io.ReaderAt, int64, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, 0, err
		}
		tb.Cleanup(func() { f.Close() })
		fi, err := f.Stat()
		if err != nil {
			return nil, 0, err
		}
		return f, fi.Size(), nil
	}
}

// diskSHA reads the whole disk 1 MiB at a time, as the diff does.
func diskSHA(tb testing.TB, r io.ReaderAt, size int64) string {
	tb.Helper()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		n, err := r.ReadAt(buf, off)
		if off+int64(n) == size && err == io.EOF {
			err = nil
		}
		if err != nil {
			tb.Fatalf("ReadAt(%d): %v", off, err)
		}
		if n == 0 {
			tb.Fatalf("ReadAt(%d): no progress", off)
		}
		h.Write(buf[:n])
		off += int64(n)
	}
	if n, err := r.ReadAt(buf[:1], size); n != 0 || err != io.EOF {
		tb.Fatalf("ReadAt(Size) = %d, %v; want 0, io.EOF", n, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
