package ext4

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

// fuzzSeeds makes tiny real filesystems, 1 KiB blocks, 128-byte inodes,
// and keeps the first seedSize bytes of each: a 64 KiB ext4
// (metadata_csum, extents), a 64 KiB ext2, and a 3 MiB ext3 layout
// (indirect blocks, a journal).
func fuzzSeeds(tb testing.TB) [][]byte {
	dir := tb.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "d", "e"), 0o755)
	os.WriteFile(filepath.Join(src, "x"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(src, "y"), bytes.Repeat([]byte("0123456789"), 1300), 0o644)
	os.WriteFile(filepath.Join(src, "d", "z"), bytes.Repeat([]byte("z"), 3000), 0o644)
	var out [][]byte
	for i, c := range []struct {
		mkfs string
		size int64
		args []string
	}{
		{"mkfs.ext4", 64 << 10, []string{"-O", "^has_journal,^resize_inode,^flex_bg"}},
		{"mkfs.ext2", 64 << 10, []string{"-O", "^resize_inode"}},
		{"mkfs.ext4", 3 << 20, []string{"-O", "^extent,^64bit,^resize_inode,^flex_bg", "-J", "size=1"}},
	} {
		p := filepath.Join(dir, string(rune('a'+i))+".img")
		os.WriteFile(p, nil, 0o644)
		os.Truncate(p, c.size)
		args := append([]string{"-q", "-F", "-b", "1024", "-N", "16", "-I", "128", "-d", src}, c.args...)
		if o, code := run(tb, c.mkfs, "e2fsprogs", append(args, p)...); code != 0 {
			tb.Fatalf("%s: %d %s", c.mkfs, code, o)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b[:seedSize])
	}
	return out
}

// seedSize is how much of each seed image is kept: the fuzzer minimizes
// every new input, and large inputs stall it.
const seedSize = 16 << 10

// checkCover asserts that extents cover [off, off+n) in order, without
// gaps or overlaps.
func checkCover(t *testing.T, ext []fs.Extent, off, n int64) {
	t.Helper()
	pos := off
	for _, e := range ext {
		if e.Off != pos || e.Len <= 0 {
			t.Fatalf("extent %+v at %d", e, pos)
		}
		pos += e.Len
	}
	if pos != off+n {
		t.Fatalf("extents end at %d, want %d", pos, off+n)
	}
}

// FuzzOpen opens arbitrary images: Open either fails or gives a volume
// whose owners cover any range exactly and whose judgement, checks and
// evidence never panic.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		size := v.Size()
		n := min(size, int64(len(b))) + 4096
		checkCover(t, v.Owners(0, n), 0, n)
		checkCover(t, v.Owners(size-1000, 3000), size-1000, 3000)
		v.Judge(0, n)
		v.Problems()
		v.Evidence()
		// The mirror weighing's readers: bounded on any structure.
		if off, tail, _, ok := v.LogTail(); ok && !v.Holds(off, tail) {
			t.Fatal("the volume does not hold its own log tail")
		}
		for rec := int64(0); rec < 200; rec++ {
			v.Identity(rec)
			v.Changed(rec)
		}
		v.CommonBefore(v)
	})
}

// TestSeedsOpen: the fuzz seeds are real filesystems this reader opens,
// their files are found, and e2fsck would call them clean.
func TestSeedsOpen(t *testing.T) {
	for i, s := range fuzzSeeds(t) {
		v, err := Open(bytes.NewReader(s), int64(len(s)))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		found := false
		for _, e := range v.Owners(0, int64(len(s))) {
			if e.Owner.Path == "/x" || e.Owner.Path == "/d/z" {
				found = true
			}
		}
		if !found {
			t.Errorf("seed %d: no file found", i)
		}
	}
}
