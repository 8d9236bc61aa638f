package ext4

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// putLE writes the low n bytes of v, little-endian, at off of img.
func putLE(t *testing.T, img string, off int64, v uint64, n int) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, v)
	if _, err := f.WriteAt(b[:n], off); err != nil {
		t.Fatal(err)
	}
}

// TestDamaged: damaged structures give a Problem (or, for an impossible
// superblock, an Open error), never a hang or a panic; e2fsck -fn finds
// each of them too.
func TestDamaged(t *testing.T) {
	base := fixturePath(t, "ext4-nocsum") // no checksums: the damage itself is seen, not a checksum
	v0 := openFile(t, base)
	bs := v0.bs
	v0.Owners(0, v0.Size())
	var leaf uint64
	var sparse uint32
	for _, r := range v0.rev {
		if r.kind == rExtent {
			leaf, sparse = r.start, r.ino
		}
	}
	if leaf == 0 {
		t.Fatal("no extent tree block in the fixture")
	}
	inoOff, _ := v0.inodeOff(sparse)

	t.Run("extent loop", func(t *testing.T) {
		// The leaf claims depth 1 and indexes itself.
		img := copyImage(t, base, "bad.img")
		putLE(t, img, int64(leaf)*bs+6, 1, 2)       // eh_depth
		putLE(t, img, int64(leaf)*bs+12+4, leaf, 4) // ei_leaf_lo
		putLE(t, img, int64(leaf)*bs+12+8, 0, 2)    // ei_leaf_hi
		want(t, img, bs, []uint64{leaf}, "ext4-blockmap-bad", "depth")
	})
	t.Run("absurd extent count", func(t *testing.T) {
		img := copyImage(t, base, "bad.img")
		putLE(t, img, inoOff+0x28+2, 60000, 2) // eh_entries in the inode's root
		want(t, img, bs, []uint64{uint64(inoOff / bs)}, "ext4-blockmap-bad", "entries")
	})
	t.Run("directory cycle", func(t *testing.T) {
		// /c/d/e/back names /c/d, and /c no longer does: the paths above
		// /c/d run in a circle.
		img := copyImage(t, base, "bad.img")
		debugfsW(t, img, 0, "link /c/d /c/d/e/back", "unlink /c/d")
		d := bmaps(t, base, "/c/d 0")[0]
		want(t, img, bs, []uint64{d}, "ext4-dir-loop", "loop")
	})
	t.Run("primary superblock lost", func(t *testing.T) {
		// 1 KiB blocks: the primary superblock and descriptors zeroed,
		// the backups in group 1 stand in.
		img := copyImage(t, fixturePath(t, "ext4-1k"), "bad.img")
		putLE(t, img, 1024, 0, 8)
		putLE(t, img, 1024+0x38, 0, 2)
		putLE(t, img, 2048, 0, 8)
		v := openFile(t, img)
		if !v.FromBackup || !hasCode(v.Problems(), "ext4-superblock-bad") {
			t.Fatalf("from backup %v, problems %+v", v.FromBackup, v.Problems())
		}
		found := false
		for _, e := range v.Owners(0, v.Size()) {
			found = found || e.Owner.Path == "/a/f10" && e.Owner.Structure == "file data"
		}
		if !found {
			t.Error("/a/f10 not found through the backup superblock and descriptors")
		}
		if out, c := run(t, "e2fsck", "e2fsprogs", "-fn", img); c == 0 && !strings.Contains(out, "? no") && !strings.Contains(out, "backup") {
			t.Errorf("e2fsck -fn finds nothing:\n%s", out)
		}
	})
	t.Run("absurd inodes per group", func(t *testing.T) {
		img := copyImage(t, base, "bad.img")
		putLE(t, img, 1024+0x28, 0xFFFFFFFF, 4)
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		_, err = Open(f, st.Size())
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != "s_inodes_per_group" {
			t.Errorf("Open: %v", err)
		}
	})
}

// want opens img, asks the owners of blocks and expects a problem code
// whose message holds word; e2fsck -fn must find damage too.
func want(t *testing.T, img string, bs int64, blocks []uint64, code, word string) {
	t.Helper()
	v := openFile(t, img)
	ownBlocks(v, blocks)
	v.Owners(0, v.Size())
	v.Judge(0, v.Size())
	ps := v.Problems()
	found := false
	for _, p := range ps {
		found = found || p.Code == code && strings.Contains(p.Message, word)
	}
	if !found {
		t.Errorf("no %s (%q) in %+v", code, word, ps)
	}
	if out, c := run(t, "e2fsck", "e2fsprogs", "-fn", img); c == 0 && !strings.Contains(out, "? no") {
		t.Errorf("e2fsck -fn finds nothing:\n%s", out)
	}
}
