package ext4

import (
	"strings"
	"testing"
)

// TestJudgeTorn: with metadata_csum, a copy whose inode, directory block,
// extent tree block, bitmap, descriptor or superblock was damaged after
// its checksum was written is judged torn (-1) with the checksum as the
// reason; the intact copy of the same range verifies (+1); file data
// carries no evidence (0). The damaged copy also fails e2fsck -fn.
func TestJudgeTorn(t *testing.T) {
	base := fixturePath(t, "ext4")
	v0 := openFile(t, base)
	bs := v0.bs
	sparseIno := uint32(0)
	for _, e := range v0.Owners(0, v0.Size()) {
		if e.Owner.Path == "/sparse" {
			sparseIno = uint32(e.Owner.Record)
		}
	}
	var extentBlock uint64
	for _, r := range v0.rev {
		if r.ino == sparseIno && r.kind == rExtent {
			extentBlock = r.start
		}
	}
	if extentBlock == 0 {
		t.Fatalf("/sparse (inode %d) has no extent tree block", sparseIno)
	}
	f10Inode, _ := v0.inodeOff(uint32(v0.Owners(int64(bmaps(t, base, "/a/f10 0")[0])*bs, 1)[0].Owner.Record))
	cases := []struct {
		name   string
		off    int64 // byte damaged
		reason string
	}{
		{"inode", f10Inode + 0x10, "inode"},
		{"directory block", int64(bmaps(t, base, "/c/d 0")[0])*bs + 20, "directory block"},
		{"extent tree block", int64(extentBlock)*bs + 12 + 12*100, "extent tree block"}, // an unused slot
		{"block bitmap", int64(v0.gds[0].BlockBitmap)*bs + 1000, "block bitmap"},
		{"group descriptor", int64(v0.descBlock(0))*bs + 0xC, "group descriptor 0"},
		{"superblock", 1024 + 0x30, "superblock"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := copyImage(t, base, "torn.img")
			pokeByte(t, img, c.off)
			blk := c.off / bs * bs
			v := openFile(t, img)
			v.Owners(blk, bs)
			j := v.Judge(blk, bs)
			if j.Intact != -1 || !strings.Contains(j.Reason, c.reason) || !strings.Contains(j.Reason, "checksum") {
				t.Errorf("torn copy judged %+v", j)
			}
			v0.Owners(blk, bs)
			if j0 := v0.Judge(blk, bs); j0.Intact != 1 {
				t.Errorf("intact copy judged %+v", j0)
			}
			if out, code := run(t, "e2fsck", "e2fsprogs", "-fn", img); code == 0 && !strings.Contains(out, "? no") && !strings.Contains(out, "IGNORED") {
				t.Errorf("e2fsck -fn finds nothing:\n%s", out)
			}
		})
	}
	// A backup superblock (1 KiB blocks, sparse_super2: groups 1 and 3).
	b1 := fixturePath(t, "ext4-1k")
	v1 := openFile(t, b1)
	at := int64(v1.groupStart(1)) * v1.bs
	img := copyImage(t, b1, "torn.img")
	pokeByte(t, img, at+0x30)
	if j := openFile(t, img).Judge(at, v1.bs); j.Intact != -1 || !strings.Contains(j.Reason, "superblock of group 1: checksum") {
		t.Errorf("torn backup superblock judged %+v", j)
	}
	if j := v1.Judge(at, v1.bs); j.Intact != 1 {
		t.Errorf("intact backup superblock judged %+v", j)
	}
	b := int64(bmaps(t, base, "/big 0")[0]) * bs
	v0.Owners(b, bs)
	if j := v0.Judge(b, bs); j.Intact != 0 {
		t.Errorf("file data judged %+v", j)
	}
}
