// Package diskfixture builds, in the test and with the real tools, small
// sparse raw disks holding FAT (mkfs.fat + mcopy) and NTFS (mkntfs +
// ntfscp) content, converts them with qemu-img, and compares the container
// readers of package image with qemu-img as the peer. It is imported only
// by _test.go files (of image/qcow2, image/vmdk, image/vhd, image/vhdx);
// each of those keeps its format-specific helpers (its Open) itself.
//
// Nothing under /work/shared is read: every fixture is made in the
// temporary directory of the test binary, created by Main.
package diskfixture

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var dir string

// Main runs the tests of m with a fresh temporary directory (named after
// prefix), removes it, and returns the exit code for os.Exit. A package's
// TestMain is then: os.Exit(diskfixture.Main(m, "qcow2test")).
func Main(m *testing.M, prefix string) int {
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	dir = d
	defer os.RemoveAll(d)
	return m.Run()
}

// Dir is the temporary directory of the test binary, made by Main.
func Dir() string { return dir }

// packages names the Debian package of each peer tool, for a clear failure.
var packages = map[string]string{
	"qemu-img": "qemu-utils", "qemu-io": "qemu-utils",
	"mkfs.fat": "dosfstools", "mcopy": "mtools",
	"mkntfs": "ntfs-3g", "ntfscp": "ntfs-3g",
	"/usr/bin/python3": "python3-libvhdi (and python3)",
}

// Run runs a peer tool in dir ("" is the current directory) and returns
// its standard output; a missing tool (naming its apt package) or a
// failure (with the tool's standard error) is fatal.
func Run(tb testing.TB, dir, name string, args ...string) []byte {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		pkg := packages[filepath.Base(name)]
		if p, ok := packages[name]; ok {
			pkg = p
		}
		tb.Fatalf("peer tool %s missing: apt-get install -y %s", name, pkg)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s %q: %v\n%s", name, args, err, errb.String())
	}
	return out.Bytes()
}

// RequirePyvhdi fails the test unless libvhdi's Python binding, the
// independent reader of differencing disks, is installed.
func RequirePyvhdi(tb testing.TB) {
	tb.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import pyvhdi").Run(); err != nil {
		tb.Fatalf("peer libvhdi (Python module pyvhdi) missing: apt-get install -y python3-libvhdi (%v)", err)
	}
}

// FileSHA is the sha256 of the file p.
func FileSHA(tb testing.TB, p string) string {
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

// AllZero reports whether b holds only zero bytes.
func AllZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Convert makes dst from the raw image src with qemu-img convert -O
// format and the given -o options, once (an existing dst is kept).
func Convert(tb testing.TB, format, src, dst string, opts ...string) string {
	tb.Helper()
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	args := []string{"convert", "-f", "raw", "-O", format}
	if len(opts) > 0 {
		args = append(args, "-o", opts[0])
	}
	Run(tb, "", "qemu-img", append(args, src, dst+".tmp")...)
	if err := os.Rename(dst+".tmp", dst); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// QemuRawSHA is the sha256 of qemu-img convert -O raw of the image p of
// the given qemu format.
func QemuRawSHA(tb testing.TB, p, format string) string {
	tb.Helper()
	out := p + ".qemu.raw"
	Run(tb, "", "qemu-img", "convert", "-f", format, "-O", "raw", p, out)
	defer os.Remove(out)
	return FileSHA(tb, out)
}

// QemuVirtualSize is the virtual-size qemu-img info gives of the image p.
func QemuVirtualSize(tb testing.TB, p, format string) int64 {
	tb.Helper()
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(Run(tb, "", "qemu-img", "info", "-f", format, "--output=json", p), &info); err != nil {
		tb.Fatal(err)
	}
	return info.VirtualSize
}

// MapEntry is one entry of qemu-img map --output=json.
type MapEntry struct {
	Start  int64 `json:"start"`
	Length int64 `json:"length"`
	Data   bool  `json:"data"`
	Zero   bool  `json:"zero"`
}

// QemuMap is qemu-img map of the image p.
func QemuMap(tb testing.TB, p, format string) []MapEntry {
	tb.Helper()
	var m []MapEntry
	if err := json.Unmarshal(Run(tb, "", "qemu-img", "map", "-f", format, "--output=json", p), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// ReadSHA reads the whole disk through ReadAt with chunk-byte reads and
// returns the sha256.
func ReadSHA(tb testing.TB, r io.ReaderAt, size int64, chunk int) string {
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

// DiskSHA reads the whole disk 1 MiB at a time, as the diff does, checks
// that each read makes progress and that a read at size gives 0, io.EOF,
// and returns the sha256.
func DiskSHA(tb testing.TB, r io.ReaderAt, size int64) string {
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

// OSOpen resolves names against dir, read-only; it is what a reader's
// OpenFunc (the type is assignable to it) needs for a file on disk.
func OSOpen(dir string) func(name string) (io.ReaderAt, int64, error) {
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

// Opener is OSOpen whose files are closed when the test ends.
func Opener(tb testing.TB, dir string) func(name string) (io.ReaderAt, int64, error) {
	open := OSOpen(dir)
	return func(name string) (io.ReaderAt, int64, error) {
		r, size, err := open(name)
		if f, ok := r.(*os.File); ok {
			tb.Cleanup(func() { f.Close() })
		}
		return r, size, err
	}
}

// OpenFile opens a fixture read-only as Open's caller would, closed when
// the test ends.
func OpenFile(tb testing.TB, path string) (*os.File, int64) {
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

// HashDir returns one sha256 over the names and contents of the files in
// dir (an image and the files it refers to), to prove reading changes
// nothing. The .qemu.raw outputs of QemuRawSHA are left out.
func HashDir(tb testing.TB, dir string) string {
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
		fmt.Fprintf(h, "%s %s\n", e.Name(), FileSHA(tb, filepath.Join(dir, e.Name())))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// PyvhdiSHA reads the differencing chain through libvhdi's Python binding
// (pyvhdi), an independent reader of VHD and VHDX, and returns the sha256
// and size of the first disk of chain; each further name is the parent of
// the one before it.
func PyvhdiSHA(tb testing.TB, chain ...string) (string, int64) {
	tb.Helper()
	RequirePyvhdi(tb)
	script := `
import hashlib, sys, pyvhdi
chain = []
for n in reversed(sys.argv[1:]):
    f = pyvhdi.file(); f.open(n)
    if chain:
        f.set_parent(chain[-1])
    chain.append(f)
c = chain[-1]
h = hashlib.sha256(); size = c.get_media_size(); off = 0
while off < size:
    b = c.read_buffer_at_offset(min(1 << 20, size - off), off)
    h.update(b); off += len(b)
print(h.hexdigest(), size)
`
	out := strings.Fields(string(Run(tb, "", "/usr/bin/python3", append([]string{"-c", script}, chain...)...)))
	var size int64
	if len(out) != 2 {
		tb.Fatalf("pyvhdi printed %q, want a sha256 and a size", out)
	}
	if _, err := fmt.Sscan(out[1], &size); err != nil {
		tb.Fatalf("pyvhdi size %q: %v", out[1], err)
	}
	return out[0], size
}
