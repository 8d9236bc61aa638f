package ext4

import (
	"math/rand"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	f *os.File
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.f.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestLazyOnLargeFilesystem: on a 64 GiB ext4 (512 groups, sparse, a few
// MiB on disk) Open reads the superblock, descriptors and journal only;
// the owner of a file's block is found by reading its own flex group's
// inode tables, not the filesystem's; a free block far away costs one
// bitmap.
func TestLazyOnLargeFilesystem(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "huge.img")
	os.WriteFile(img, nil, 0o644)
	if err := os.Truncate(img, 64<<30); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, "mkfs.ext4", "e2fsprogs", "-q", "-F", "-b", "4096", "-J", "size=4", "-E", "lazy_itable_init=1,lazy_journal_init=1", img); code != 0 {
		t.Fatalf("mkfs.ext4: %d %s", code, out)
	}
	host := filepath.Join(dir, "x")
	data := make([]byte, 40000)
	rand.New(rand.NewSource(1)).Read(data) // debugfs write leaves zero blocks as holes
	os.WriteFile(host, data, 0o644)
	debugfsW(t, img, 0, "mkdir /d", "write "+host+" /d/x")
	blk := bmaps(t, img, "/d/x 0")[0]

	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	c := &countingReader{f: f}
	v, err := Open(c, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if v.groups != 512 {
		t.Fatalf("%d groups", v.groups)
	}
	opened := c.n.Load()
	if opened > 256<<10 {
		t.Errorf("Open read %d bytes", opened)
	}
	o := ownerOfBlock(v, blk)
	if o.Path != "/d/x" || o.Structure != "file data" {
		t.Errorf("owner %+v", o)
	}
	owned := c.n.Load() - opened
	if v.nscanned > 16 || owned > 8<<20 {
		t.Errorf("owner of one block: %d groups read, %d bytes", v.nscanned, owned)
	}
	far := uint64(300)*uint64(v.sb.BlocksPerGroup) + 1000
	before := c.n.Load()
	if o := ownerOfBlock(v, far); o.Structure != "free space" {
		t.Errorf("block %d: %+v", far, o)
	}
	if n := c.n.Load() - before; n > v.bs || v.nscanned > 16 {
		t.Errorf("a free block read %d bytes, %d groups scanned", n, v.nscanned)
	}
	before = c.n.Load()
	if e := errorsOf(v.Problems()); len(e) > 0 {
		t.Errorf("problems %+v", e)
	}
	checked := c.n.Load() - before
	if checked > 4<<20 {
		t.Errorf("the checks read %d bytes", checked)
	}
	t.Logf("Open read %d bytes; the owner of a file block %d bytes (%d of %d groups' inode tables); the checks %d bytes", opened, owned, v.nscanned, v.groups, checked)
}
