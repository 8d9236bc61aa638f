package ntfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

// attrValueOff returns the volume offset of the resident value of
// attribute typ in record rec.
func attrValueOff(t *testing.T, img []byte, v *Volume, rec int64, typ uint32) int64 {
	t.Helper()
	r, err := v.Record(rec)
	if err != nil {
		t.Fatal(err)
	}
	a := r.find(typ, "")
	if a == nil || !a.Resident {
		t.Fatalf("record %d has no resident %#x", rec, typ)
	}
	off := recordOff(t, v, rec) + int64(a.Off)
	return off + int64(binary.LittleEndian.Uint16(img[off+0x14:]))
}

func wantProblem(t *testing.T, v *Volume, code string, words ...string) fs.Problem {
	t.Helper()
	ps := problemsWith(v, code)
	for _, p := range ps {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(p.Message, w)
		}
		if ok {
			return p
		}
	}
	t.Fatalf("no %s problem saying %q; problems: %+v", code, words, v.Problems())
	return fs.Problem{}
}

// TestTornRecord tears block 1 of a user file's record: we name the record
// and block and Judge fails it; TSK istat fails on it too, ntfsfix -n is
// blind (it checks records 0-3 only).
func TestTornRecord(t *testing.T) {
	img := bytes.Clone(image(t, fxSmall))
	v := open(t, img)
	p := writeImage(t, img)
	rec := inode(t, p, "/dir1/f5.bin")
	off := recordOff(t, v, rec)
	img[off+2*FixupStride-2] ^= 0xFF
	img[off+2*FixupStride-1] ^= 0xFF
	v = open(t, img)
	pr := wantProblem(t, v, "ntfs-torn-record", fmt.Sprintf("record %d", rec), "block 1")
	if pr.Off != off+2*FixupStride-2 || pr.Severity != fs.Error {
		t.Errorf("problem %+v: want error at %#x", pr, off+2*FixupStride-2)
	}
	j := v.Judge(off, v.Boot().RecordSize)
	if j.Intact != -1 || !strings.Contains(j.Reason, fmt.Sprintf("$MFT record %d: update sequence mismatch in 512-byte block 1", rec)) {
		t.Errorf("Judge: %+v", j)
	}
	// The neighbours still verify.
	if j := v.Judge(off-v.Boot().RecordSize, v.Boot().RecordSize); j.Intact != 1 {
		t.Errorf("Judge previous record: %+v", j)
	}
	p = writeImage(t, img)
	if out, _ := run(t, "istat", "sleuthkit", "-f", "ntfs", p, fmt.Sprint(rec)); !strings.Contains(out, "update sequence") {
		t.Errorf("istat on the torn record: %s", out)
	}
	if out, rc := run(t, "ntfsfix", "ntfs-3g", "-n", p); rc != 0 {
		t.Errorf("ntfsfix -n was thought blind to torn user records: exit %d\n%s", rc, out)
	}
}

// TestBitmapBitCleared clears the $Bitmap bit of a file's first cluster:
// TSK blkstat confirms the cluster now reads "Not Allocated"; ntfsfix -n
// does not notice; we report it.
func TestBitmapBitCleared(t *testing.T) {
	img := bytes.Clone(image(t, fxSmall))
	v := open(t, img)
	p := writeImage(t, img)
	rec := inode(t, p, "/dir1/f10.bin")
	runs, err := v.Runs(rec, AttrData, "")
	if err != nil {
		t.Fatal(err)
	}
	lcn := runs[0].LCN
	bmRuns, err := v.Runs(recBitmap, AttrData, "")
	if err != nil {
		t.Fatal(err)
	}
	boff := v.volOff(bmRuns, lcn/8)
	img[boff] &^= 1 << (lcn % 8)
	v = open(t, img)
	wantProblem(t, v, "ntfs-bitmap-mismatch", fmt.Sprintf("LCN %d", lcn), "/dir1/f10.bin", "free in $Bitmap")
	if len(v.Problems()) != 1 {
		t.Errorf("want one problem: %+v", v.Problems())
	}
	p = writeImage(t, img)
	if out, _ := run(t, "blkstat", "sleuthkit", "-f", "ntfs", p, fmt.Sprint(lcn)); !strings.Contains(out, "Not Allocated") {
		t.Errorf("blkstat %d: %s", lcn, out)
	}
	if out, rc := run(t, "ntfsfix", "ntfs-3g", "-n", p); rc != 0 {
		t.Errorf("ntfsfix -n: exit %d\n%s", rc, out)
	}
	// And the reverse: a bit set for a free cluster is a lost cluster.
	img = bytes.Clone(image(t, fxSmall))
	v = open(t, img)
	all := v.Owners(0, v.Size())
	var free fs.Extent
	for _, e := range all {
		if e.Owner.Structure == fs.FreeSpace {
			free = e // the last free extent
		}
	}
	if free.Len == 0 {
		t.Fatal("no free space")
	}
	c := free.Owner.Cluster
	img[v.volOff(bmRuns, c/8)] |= 1 << (c % 8)
	v = open(t, img)
	wantProblem(t, v, "ntfs-bitmap-mismatch", fmt.Sprintf("1 cluster from LCN %d set in $Bitmap but claimed by no attribute", c))
	if o := v.Owners(c*v.Boot().ClusterSize, 1)[0].Owner; o.Structure != fs.LostClusters {
		t.Errorf("owner of the lost cluster: %+v", o)
	}
}

// TestDirtyFlag sets the $Volume dirty flag: ntfsinfo -m refuses the
// volume, ntfsinfo -f -m shows the flag; we report it as evidence.
func TestDirtyFlag(t *testing.T) {
	img := bytes.Clone(image(t, fxSmall))
	v := open(t, img)
	off := attrValueOff(t, img, v, recVolume, AttrVolumeInformation)
	img[off+10] |= 1
	// As Windows does, in $MFTMirr too.
	img[v.Boot().MFTMirrLCN*v.Boot().ClusterSize+off+10-recordOff(t, v, 0)] |= 1
	v = open(t, img)
	wantProblem(t, v, "ntfs-dirty", "dirty")
	if len(v.Problems()) != 1 {
		t.Errorf("want only the dirty flag: %+v", v.Problems())
	}
	if e := v.Evidence(); e.Dirty == nil || !*e.Dirty {
		t.Errorf("Evidence.Dirty %v", e.Dirty)
	}
	p := writeImage(t, img)
	if out, rc := run(t, "ntfsinfo", "ntfs-3g", "-m", p); rc == 0 {
		t.Errorf("ntfsinfo -m accepted a dirty volume:\n%s", out)
	}
	if out, _ := run(t, "ntfsinfo", "ntfs-3g", "-f", "-m", p); !strings.Contains(out, "Volume Flags: 0x0001 DIRTY") {
		t.Errorf("ntfsinfo -f -m:\n%s", out)
	}
}

// TestMirrorDiffers changes $MFTMirr record 0 in its used bytes (ntfsfix -n
// fails) and only in its unused tail (ntfsfix -n passes); we tell which.
func TestMirrorDiffers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      int64
		words   string
		sev     string
		ntfsfix int
	}{
		{"used", 0x60, "in its used bytes", fs.Error, 1},
		{"tail", 0x3F0, "only in the unused tail", fs.Warning, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := bytes.Clone(image(t, fxSmall))
			v := open(t, img)
			moff := v.Boot().MFTMirrLCN * v.Boot().ClusterSize
			if used := int64(binary.LittleEndian.Uint32(img[moff+0x18:])); (tc.at < used) != (tc.name == "used") {
				t.Fatalf("record 0 uses %d bytes; byte %#x is on the wrong side", used, tc.at)
			}
			img[moff+tc.at] ^= 0x5A
			v = open(t, img)
			pr := wantProblem(t, v, "ntfs-mftmirr-differs", "$MFTMirr record 0", tc.words)
			if pr.Severity != tc.sev {
				t.Errorf("severity %s", pr.Severity)
			}
			if out, rc := run(t, "ntfsfix", "ntfs-3g", "-n", writeImage(t, img)); rc != tc.ntfsfix {
				t.Errorf("ntfsfix -n: exit %d, want %d\n%s", rc, tc.ntfsfix, out)
			}
		})
	}
}

// TestBootSectors: a changed backup boot sector is reported (ntfsfix -n
// fails too); a destroyed primary opens from the backup; both destroyed
// is not NTFS.
func TestBootSectors(t *testing.T) {
	clean := image(t, fxSmall)
	v := open(t, clean)
	boff := v.Boot().TotalSectors * v.Boot().BytesPerSector

	img := bytes.Clone(clean)
	img[boff+0x48] ^= 0xFF // serial number
	v = open(t, img)
	wantProblem(t, v, "ntfs-backup-boot-differs", "differs")
	if j := v.Judge(boff, 512); j.Intact != 1 {
		t.Errorf("Judge backup (still a valid boot sector): %+v", j)
	}
	if out, rc := run(t, "ntfsfix", "ntfs-3g", "-n", writeImage(t, img)); rc != 1 || !strings.Contains(out, "BAD") {
		t.Errorf("ntfsfix -n: exit %d\n%s", rc, out)
	}

	img = bytes.Clone(clean)
	clear(img[:512])
	v = open(t, img)
	if !v.FromBackup || v.Boot() != open(t, clean).Boot() {
		t.Errorf("FromBackup %v, boot %+v", v.FromBackup, v.Boot())
	}
	wantProblem(t, v, "ntfs-backup-boot-differs", "opened from the backup")
	if j := v.Judge(0, 512); j.Intact != -1 {
		t.Errorf("Judge zeroed boot sector: %+v", j)
	}
	if o := v.Owners(0, 1)[0].Owner; o.Structure != fs.BootSector {
		t.Errorf("owner of sector 0: %+v", o)
	}

	clear(img[boff : boff+512])
	_, err := Open(bytes.NewReader(img), int64(len(img)))
	var fe *FormatError
	if !errors.Is(err, ErrNotNTFS) || !errors.As(err, &fe) || fe.Field != "OEM ID" || fe.Off != 3 {
		t.Errorf("both boot sectors zero: err %v", err)
	}
}

// TestRunPastVolume points a file's first run far past the last cluster.
func TestRunPastVolume(t *testing.T) {
	img := bytes.Clone(image(t, fxSmall))
	v := open(t, img)
	p := writeImage(t, img)
	// A file whose first run has a 3-byte LCN field (not on a fixup word):
	// set it to 0x7FFFFF.
	for _, path := range []string{"/dir1/f20.bin", "/dir1/f19.bin", "/dir2/a.bin", "/dir2/b.bin"} {
		rec, off, n := firstRunField(t, img, v, p, path)
		rel := off - recordOff(t, v, rec)
		if n != 3 || rel%FixupStride > FixupStride-2-3 {
			continue
		}
		img[off], img[off+1], img[off+2] = 0xFF, 0xFF, 0x7F
		v = open(t, img)
		wantProblem(t, v, "ntfs-run-out-of-range", fmt.Sprintf("record %d (%s)", rec, path), "LCN 8388607")
		checkCover(t, v.Owners(0, v.Size()), 0, v.Size())
		return
	}
	t.Fatal("no file with a 3-byte LCN field")
}

// TestAttributeListLoop makes an $ATTRIBUTE_LIST entry list an attribute
// list (a self-reference), and another point to a record that has a list
// of its own.
func TestAttributeListLoop(t *testing.T) {
	img := bytes.Clone(image(t, fxSmall))
	v := open(t, img)
	p := writeImage(t, img)
	rec := inode(t, p, "/frag/many.bin")
	r, _ := v.Record(rec)
	al := r.find(AttrAttributeList, "")
	if al == nil || al.Resident {
		t.Fatal("many.bin has no non-resident attribute list")
	}
	loff := v.volOff(al.Runs, 0)
	// Second entry: set its type to $ATTRIBUTE_LIST and its record to the
	// base itself.
	e1 := loff + int64(binary.LittleEndian.Uint16(img[loff+4:]))
	binary.LittleEndian.PutUint32(img[e1:], AttrAttributeList)
	binary.LittleEndian.PutUint64(img[e1+0x10:], uint64(rec))
	v = open(t, img)
	wantProblem(t, v, "ntfs-attribute-list-loop", fmt.Sprintf("record %d", rec), "lists an attribute list")
	if _, err := v.Runs(rec, AttrData, ""); err != nil {
		t.Errorf("Runs after the loop: %v", err)
	}
}

// TestTruncatedAndZeroed: damaged images open, report, and still cover
// every byte.
func TestTruncatedAndZeroed(t *testing.T) {
	clean := image(t, fxSmall)
	v := open(t, clean)
	mftOff := v.Boot().MFTLCN * v.Boot().ClusterSize
	for _, tc := range []struct {
		name string
		img  []byte
		code string
	}{
		{"truncated", bytes.Clone(clean[:40<<20]), "ntfs-truncated"},
		{"zeroed-mft", func() []byte {
			b := bytes.Clone(clean)
			clear(b[mftOff : mftOff+98*1024])
			return b
		}(), "ntfs-bad-record"},
		{"zeroed-mft-and-mirror", func() []byte {
			b := bytes.Clone(clean)
			clear(b[mftOff : mftOff+98*1024])
			m := v.Boot().MFTMirrLCN * v.Boot().ClusterSize
			clear(b[m : m+4096])
			return b
		}(), "ntfs-bad-record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := open(t, tc.img)
			wantProblem(t, v, tc.code)
			checkCover(t, v.Owners(0, v.Size()+1<<20), 0, v.Size()+1<<20)
			v.Judge(0, v.Size())
			v.Evidence()
		})
	}
}

// checkCover checks that ext covers [off, off+n) in order without gaps.
func checkCover(t *testing.T, ext []fs.Extent, off, n int64) {
	t.Helper()
	pos := off
	for _, e := range ext {
		if e.Off != pos || e.Len <= 0 {
			t.Fatalf("extent %+v at %#x", e, pos)
		}
		pos += e.Len
	}
	if pos != off+n {
		t.Fatalf("extents end at %#x, want %#x", pos, off+n)
	}
}

// firstRunField returns the volume offset and size of the LCN field of
// the first run of path's $DATA.
func firstRunField(t *testing.T, img []byte, v *Volume, p, path string) (rec, off, size int64) {
	t.Helper()
	rec = inode(t, p, path)
	r, err := v.Record(rec)
	if err != nil {
		t.Fatal(err)
	}
	a := r.find(AttrData, "")
	roff := recordOff(t, v, rec)
	mp := roff + int64(a.Off) + int64(binary.LittleEndian.Uint16(img[roff+int64(a.Off)+0x20:]))
	h := img[mp]
	return rec, mp + 1 + int64(h&0xF), int64(h >> 4)
}

// TestCrossLink points f19.bin's first run at f20.bin's clusters.
func TestCrossLink(t *testing.T) {
	img := bytes.Clone(image(t, fxSmall))
	v := open(t, img)
	p := writeImage(t, img)
	_, off19, n19 := firstRunField(t, img, v, p, "/dir1/f19.bin")
	_, off20, n20 := firstRunField(t, img, v, p, "/dir1/f20.bin")
	if n19 != n20 {
		t.Fatalf("LCN fields of %d and %d bytes", n19, n20)
	}
	copy(img[off19:off19+n19], img[off20:off20+n20])
	v = open(t, img)
	wantProblem(t, v, "ntfs-cross-link", "/dir1/f19.bin", "/dir1/f20.bin")
	wantProblem(t, v, "ntfs-bitmap-mismatch", "set in $Bitmap but claimed by no attribute")
}

// TestParentCycle makes /dir1's parent its own subdirectory: the paths
// below it resolve to "/?/…" and nothing loops.
func TestParentCycle(t *testing.T) {
	img := bytes.Clone(image(t, fxSmall))
	v := open(t, img)
	p := writeImage(t, img)
	dir1, sub := inode(t, p, "/dir1"), inode(t, p, "/dir1/sub")
	f1 := inode(t, p, "/dir1/f1.bin")
	off := attrValueOff(t, img, v, dir1, AttrFileName)
	binary.LittleEndian.PutUint32(img[off:], uint32(sub))
	v = open(t, img)
	if got := v.Path(f1); got != "/?/sub/dir1/f1.bin" && got != "/?/dir1/f1.bin" {
		t.Errorf("path in a cycle: %q", got)
	}
	if got := v.Path(inode(t, p, "/tiny.txt")); got != "/tiny.txt" {
		t.Errorf("path outside the cycle: %q", got)
	}
}
