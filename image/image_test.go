package image

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// randBytes returns n reproducible pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	// Each case writes files name -> size into a fresh directory, opens
	// the first one, and expects the concatenation of want's files.
	type file struct {
		name string
		size int
	}
	tests := []struct {
		name  string
		files []file
		open  string
		want  []string // segments, by base name
	}{
		{"plain", []file{{"m0.img", 10000}}, "m0.img", []string{"m0.img"}},
		{"split 001", []file{{"d.001", 4096}, {"d.002", 1000}, {"d.003", 517}}, "d.001", []string{"d.001", "d.002", "d.003"}},
		{"split 000", []file{{"d.000", 512}, {"d.001", 4096}}, "d.000", []string{"d.000", "d.001"}},
		{"split stops at gap", []file{{"d.001", 100}, {"d.002", 100}, {"d.004", 100}}, "d.001", []string{"d.001", "d.002"}},
		{"4 digits", []file{{"d.0001", 100}, {"d.0002", 300}}, "d.0001", []string{"d.0001", "d.0002"}},
		{"lone 001 is plain", []file{{"d.001", 100}}, "d.001", []string{"d.001"}},
		{"002 is plain", []file{{"d.002", 100}, {"d.003", 100}}, "d.002", []string{"d.002"}},
		{"two digits is plain", []file{{"d.01", 100}, {"d.02", 100}}, "d.01", []string{"d.01"}},
		{"no dot is plain", []file{{"d001", 100}, {"d002", 100}}, "d001", []string{"d001"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := map[string][]byte{}
			for j, f := range tt.files {
				data[f.name] = randBytes(uint64(i*10+j), f.size)
				writeFile(t, filepath.Join(dir, f.name), data[f.name])
			}
			path := filepath.Join(dir, tt.open)
			im, err := Open(path)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.open, err)
			}
			defer im.Close()
			if im.Path() != path {
				t.Errorf("Path() = %q; want %q", im.Path(), path)
			}
			var want []byte
			var segs []string
			for _, name := range tt.want {
				want = append(want, data[name]...)
				segs = append(segs, filepath.Join(dir, name))
			}
			if got := im.Segments(); !equalStrings(got, segs) {
				t.Errorf("Segments() = %q; want %q", got, segs)
			}
			if im.Size() != int64(len(want)) {
				t.Fatalf("Size() = %d; want %d", im.Size(), len(want))
			}
			got, err := io.ReadAll(io.NewSectionReader(im, 0, im.Size()))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("contents differ from the concatenation of %q", tt.want)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadAtAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	sizes := []int{4096, 1000, 1, 517}
	var all []byte
	for i, n := range sizes {
		b := randBytes(uint64(100+i), n)
		all = append(all, b...)
		writeFile(t, filepath.Join(dir, fmt.Sprintf("s.%03d", i+1)), b)
	}
	im, err := Open(filepath.Join(dir, "s.001"))
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if len(im.Segments()) != len(sizes) {
		t.Fatalf("Segments() = %q; want %d", im.Segments(), len(sizes))
	}
	size := int64(len(all))
	// Every (offset, length) around the boundaries, including past the end.
	var offs []int64
	for _, b := range []int64{0, 4096, 5096, 5097, size} {
		for d := int64(-3); d <= 3; d++ {
			if b+d >= 0 {
				offs = append(offs, b+d)
			}
		}
	}
	for _, off := range offs {
		for _, n := range []int{0, 1, 2, 7, 1000, 1100, 6000} {
			p := make([]byte, n)
			got, err := im.ReadAt(p, off)
			want := int(max(0, min(int64(n), size-off)))
			if got != want {
				t.Fatalf("ReadAt(%d bytes, %d) = %d; want %d", n, off, got, want)
			}
			if want < n && err != io.EOF {
				t.Errorf("ReadAt(%d bytes, %d) error = %v; want io.EOF", n, off, err)
			}
			if want == n && err != nil {
				t.Errorf("ReadAt(%d bytes, %d) error = %v; want nil", n, off, err)
			}
			if off < size && !bytes.Equal(p[:got], all[off:off+int64(got)]) {
				t.Errorf("ReadAt(%d bytes, %d): wrong bytes", n, off)
			}
		}
	}
	if _, err := im.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("ReadAt at -1: no error")
	}
}

// TestWithhold: a read touching a withheld range returns the bytes before
// it and a *ReadError wrapping ErrWithheld at the first withheld byte (the
// earliest range, whatever their order); reads elsewhere and reads after
// Withhold(nil) are as before.
func TestWithhold(t *testing.T) {
	dir := t.TempDir()
	all := randBytes(7, 8192)
	writeFile(t, filepath.Join(dir, "m.img"), all)
	im, err := Open(filepath.Join(dir, "m.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	im.Withhold([]Range{{Off: 4096, Len: 512}, {Off: 1000, Len: 24}})
	for _, tc := range []struct {
		off     int64
		n       int
		got     int
		errOff  int64
		errLen  int
		withErr bool
	}{
		{0, 1000, 1000, 0, 0, false},
		{0, 1001, 1000, 1000, 1, true},
		{990, 5000, 10, 1000, 24, true}, // both ranges: the first is named
		{1010, 4, 0, 1010, 4, true},
		{1024, 3072, 3072, 0, 0, false},
		{4000, 200, 96, 4096, 104, true},
		{4608, 100, 100, 0, 0, false},
	} {
		p := make([]byte, tc.n)
		got, err := im.ReadAt(p, tc.off)
		var re *ReadError
		switch {
		case got != tc.got:
			t.Errorf("ReadAt(%d, %d) = %d bytes, want %d", tc.n, tc.off, got, tc.got)
		case !bytes.Equal(p[:got], all[tc.off:tc.off+int64(got)]):
			t.Errorf("ReadAt(%d, %d): wrong bytes", tc.n, tc.off)
		case !tc.withErr && err != nil:
			t.Errorf("ReadAt(%d, %d): %v", tc.n, tc.off, err)
		case tc.withErr && (!errors.As(err, &re) || !errors.Is(err, ErrWithheld) || re.Off != tc.errOff || re.Len != tc.errLen):
			t.Errorf("ReadAt(%d, %d): %v, want a ReadError at %d of %d bytes", tc.n, tc.off, err, tc.errOff, tc.errLen)
		}
	}
	im.Withhold(nil)
	p := make([]byte, len(all))
	if n, err := im.ReadAt(p, 0); n != len(all) || err != nil || !bytes.Equal(p, all) {
		t.Errorf("after Withhold(nil): %d bytes, %v", n, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "empty.img"), nil)
	writeFile(t, filepath.Join(dir, "x.000"), []byte{1})
	writeFile(t, filepath.Join(dir, "x.001"), []byte{2})
	writeFile(t, filepath.Join(dir, "y.001"), []byte{1})
	writeFile(t, filepath.Join(dir, "y.002"), nil)
	if err := os.Mkdir(filepath.Join(dir, "dir.img"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.img"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string // substring of the error after the path
		is   error
	}{
		{"missing.img", "no such file or directory", fs.ErrNotExist},
		{"dir.img", "is a directory", nil},
		{"empty.img", "empty file", nil},
		{"fifo.img", "is a named pipe", nil},
		{"x.001", "x.000 exists", nil},
		{"y.001", "empty file", nil}, // an empty segment, named
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			path := filepath.Join(dir, tt.path)
			if tt.path == "y.001" {
				path = filepath.Join(dir, "y.002")
			}
			im, err := Open(filepath.Join(dir, tt.path))
			if err == nil {
				im.Close()
				t.Fatalf("Open(%q): no error", tt.path)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("Open(%q) error = %q; want %q then %q", tt.path, msg, path+": ", tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Open(%q) error %v is not %v", tt.path, err, tt.is)
			}
		})
	}
	if _, err := Open("/dev/null"); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("Open(/dev/null) error = %v; want character device", err)
	}
}

// TestReadOnly proves that Open holds no write-capable handle: every file
// descriptor it opened has access mode O_RDONLY in /proc/self/fdinfo, and
// writing through it fails with EBADF even as root.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"r.001", "r.002"} {
		path := filepath.Join(dir, name)
		writeFile(t, path, randBytes(uint64(i), 4096))
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	im, err := Open(filepath.Join(dir, "r.001"))
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if len(im.segs) != 2 {
		t.Fatalf("opened %d segments; want 2", len(im.segs))
	}
	for _, s := range im.segs {
		fd := s.f.Fd()
		info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.FormatUint(uint64(fd), 10))
		if err != nil {
			t.Skipf("no fdinfo: %v", err)
		}
		var flags uint64
		found := false
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, err = strconv.ParseUint(strings.TrimSpace(v), 8, 64)
				if err != nil {
					t.Fatalf("fdinfo flags %q: %v", v, err)
				}
				found = true
			}
		}
		if !found {
			t.Fatalf("fdinfo of %s has no flags line:\n%s", s.path, info)
		}
		if acc := flags & syscall.O_ACCMODE; acc != syscall.O_RDONLY {
			t.Errorf("%s: access mode %#o; want O_RDONLY", s.path, acc)
		}
		if flags&(syscall.O_APPEND|syscall.O_TRUNC|syscall.O_CREAT) != 0 {
			t.Errorf("%s: flags %#o include a writing flag", s.path, flags)
		}
		if _, err := syscall.Pwrite(int(fd), []byte{0}, 0); err != syscall.EBADF {
			t.Errorf("%s: pwrite through the image's descriptor: %v; want EBADF", s.path, err)
		}
	}
}

// TestNoWriteCalls checks the package source for anything that could open
// or change a file for writing, so that a later edit cannot add one quietly.
func TestNoWriteCalls(t *testing.T) {
	forbidden := map[string]bool{
		"O_WRONLY": true, "O_RDWR": true, "O_APPEND": true, "O_CREATE": true, "O_CREAT": true, "O_TRUNC": true,
		"Create": true, "WriteFile": true, "WriteAt": true, "Write": true, "WriteString": true,
		"Truncate": true, "Ftruncate": true, "Pwrite": true, "Fallocate": true, "Chmod": true,
		"Remove": true, "Rename": true, "Mmap": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && forbidden[sel.Sel.Name] {
				t.Errorf("%s: uses %s", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

// TestHoles writes a sparse file and a sparse split set and checks
// NextData and NextHole: always that every byte the answers call a hole
// reads as zero and that no written byte lies in one; and, where the file
// system reports holes at all (tmpfs, ext4, xfs, btrfs), the exact extents.
func TestHoles(t *testing.T) {
	const blk = 64 << 10 // larger than any file system block in use
	type extent struct{ off, len int64 }
	tests := []struct {
		name    string
		segs    []int64 // segment sizes; one for a plain file
		written []extent
	}{
		{"plain", []int64{64 * blk}, []extent{{0, blk}, {10 * blk, 2 * blk}, {40 * blk, blk}}},
		{"leading hole", []int64{32 * blk}, []extent{{8 * blk, blk}}},
		{"all hole", []int64{16 * blk}, nil},
		{"trailing data", []int64{16 * blk}, []extent{{15 * blk, blk}}},
		{"split", []int64{16 * blk, 16 * blk, 8 * blk}, []extent{{2 * blk, blk}, {15 * blk, 2 * blk}, {36 * blk, blk}}},
		{"split holes at joins", []int64{8 * blk, 8 * blk, 8 * blk}, []extent{{0, blk}, {20 * blk, blk}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var size int64
			for _, n := range tt.segs {
				size += n
			}
			want := make([]byte, size)
			for i, e := range tt.written {
				copy(want[e.off:e.off+e.len], randBytes(uint64(i+1), int(e.len)))
			}
			first := ""
			var start int64
			for i, n := range tt.segs {
				path := filepath.Join(dir, "h.img")
				if len(tt.segs) > 1 {
					path = filepath.Join(dir, fmt.Sprintf("h.%03d", i+1))
				}
				if first == "" {
					first = path
				}
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Truncate(n); err != nil {
					t.Fatal(err)
				}
				for _, e := range tt.written {
					lo, hi := max(e.off, start), min(e.off+e.len, start+n)
					if lo < hi {
						if _, err := f.WriteAt(want[lo:hi], lo-start); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				start += n
			}
			im, err := Open(first)
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()

			// Walk the image extent by extent.
			type span struct {
				off, end int64
				hole     bool
			}
			var spans []span
			for off := int64(0); off < size; {
				d, err := im.NextData(off)
				if err != nil {
					t.Fatal(err)
				}
				if d < off || d > size {
					t.Fatalf("NextData(%d) = %d; out of [%d, %d]", off, d, off, size)
				}
				if d > off {
					spans = append(spans, span{off, d, true})
				}
				if d == size {
					break
				}
				h, err := im.NextHole(d)
				if err != nil {
					t.Fatal(err)
				}
				if h <= d || h > size {
					t.Fatalf("NextHole(%d) = %d; out of (%d, %d]", d, h, d, size)
				}
				spans = append(spans, span{d, h, false})
				off = h
			}
			got, err := io.ReadAll(io.NewSectionReader(im, 0, size))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("contents differ")
			}
			var wantSpans []span
			for off := int64(0); off < size; off += blk {
				hole := bytes.Count(want[off:off+blk], []byte{0}) == blk
				if n := len(wantSpans); n > 0 && wantSpans[n-1].hole == hole {
					wantSpans[n-1].end = off + blk
					continue
				}
				wantSpans = append(wantSpans, span{off, off + blk, hole})
			}
			holes, wantHoles := false, false
			for _, s := range spans {
				if s.hole {
					holes = true
					if i := bytes.IndexFunc(got[s.off:s.end], func(r rune) bool { return r != 0 }); i >= 0 {
						t.Errorf("hole [%#x, %#x) has data at %#x", s.off, s.end, s.off+int64(i))
					}
				}
			}
			for _, s := range wantSpans {
				wantHoles = wantHoles || s.hole
			}
			if wantHoles && !holes {
				t.Skip("file system reports no holes; checked only that none hides data")
			}
			if len(spans) != len(wantSpans) {
				t.Fatalf("extents %v; want %v", spans, wantSpans)
			}
			for i := range spans {
				if spans[i] != wantSpans[i] {
					t.Fatalf("extents %v; want %v", spans, wantSpans)
				}
			}
			// Answers from inside extents, and at and past the end.
			for _, s := range spans {
				mid := s.off + (s.end-s.off)/2
				d, _ := im.NextData(mid)
				h, _ := im.NextHole(mid)
				if s.hole && (d != s.end || h != mid) {
					t.Errorf("inside hole [%#x, %#x): NextData(%#x) = %#x, NextHole = %#x", s.off, s.end, mid, d, h)
				}
				if !s.hole && (d != mid || h != s.end) {
					t.Errorf("inside data [%#x, %#x): NextData(%#x) = %#x, NextHole = %#x", s.off, s.end, mid, d, h)
				}
			}
			for _, off := range []int64{size, size + 1} {
				if d, err := im.NextData(off); d != size || err != nil {
					t.Errorf("NextData(%d) = %d, %v; want %d", off, d, err, size)
				}
				if h, err := im.NextHole(off); h != size || err != nil {
					t.Errorf("NextHole(%d) = %d, %v; want %d", off, h, err, size)
				}
			}
		})
	}
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.img", "b.img", "s.001", "s.002"} {
		writeFile(t, filepath.Join(dir, name), []byte(name))
	}
	if err := os.Link(filepath.Join(dir, "a.img"), filepath.Join(dir, "a-link.img")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("s.002", filepath.Join(dir, "s2-sym.img")); err != nil {
		t.Fatal(err)
	}
	open := func(name string) *Image {
		im, err := Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { im.Close() })
		return im
	}
	tests := []struct {
		a, b string
		want bool
	}{
		{"a.img", "a.img", true},
		{"a.img", "a-link.img", true},
		{"a.img", "b.img", false},
		{"s.001", "s2-sym.img", true}, // a segment of the set, through a symlink
		{"s.001", "b.img", false},
	}
	for _, tt := range tests {
		a, b := open(tt.a), open(tt.b)
		if got := a.SameFile(b); got != tt.want {
			t.Errorf("%s.SameFile(%s) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
		if got := b.SameFile(a); got != tt.want {
			t.Errorf("%s.SameFile(%s) = %v; want %v", tt.b, tt.a, got, tt.want)
		}
	}
	s := open("s.001")
	for _, tt := range []struct {
		name string
		want bool
	}{{"s.002", true}, {"s2-sym.img", true}, {"a.img", false}} {
		fi, err := os.Stat(filepath.Join(dir, tt.name))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Contains(fi); got != tt.want {
			t.Errorf("Contains(%s) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestReadError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shrinks.img")
	writeFile(t, path, randBytes(1, 8192))
	im, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	// The file shrinks behind our back: bytes the image should hold are
	// gone, which is an error, not zeros and not io.EOF.
	if err := os.Truncate(path, 5000); err != nil {
		t.Fatal(err)
	}
	n, err := im.ReadAt(make([]byte, 4096), 4096)
	var re *ReadError
	if !errors.As(err, &re) {
		t.Fatalf("ReadAt = %d, %v; want *ReadError", n, err)
	}
	if n != 904 || re.Path != path || re.Off != 5000 || re.Len != 4096-904 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadAt = %d, %#v", n, re)
	}
	want := path + ": read 3192 bytes at byte 0x1388: short read"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q; want prefix %q", err, want)
	}
	im.Close()
	if _, err := im.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadAt after Close: %v; want os.ErrClosed", err)
	}
}
