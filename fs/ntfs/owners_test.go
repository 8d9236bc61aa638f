package ntfs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

// TestOwnersLayout checks the fixed parts of the layout: boot sector,
// $MFT records one extent each (with the record's path), the sectors after
// the last cluster, the backup boot sector, beyond the volume.
func TestOwnersLayout(t *testing.T) {
	img := image(t, fxSmall)
	v := open(t, img)
	b := v.Boot()
	size := v.Size()
	if size != int64(len(img)) {
		t.Errorf("Size %d, image %d", size, len(img))
	}
	tail := v.Owners(b.Clusters()*b.ClusterSize-b.ClusterSize, size-b.Clusters()*b.ClusterSize+b.ClusterSize+1000)
	want := []string{fs.FreeSpace, fs.Unclustered, fs.BackupBoot, fs.BeyondVolume}
	if len(tail) != len(want) {
		t.Fatalf("tail: %+v", tail)
	}
	for i, e := range tail {
		if e.Owner.Structure != want[i] || e.Owner.FS != "ntfs" {
			t.Errorf("tail[%d] = %+v, want %s", i, e, want[i])
		}
	}
	if tail[2].Off != b.TotalSectors*b.BytesPerSector || tail[2].Len != b.BytesPerSector {
		t.Errorf("backup boot extent %+v", tail[2])
	}
	head := v.Owners(0, 2*b.BytesPerSector)
	if head[0].Owner.Structure != fs.BootSector || head[0].Len != b.BytesPerSector || head[1].Owner.Structure != "$Boot" {
		t.Errorf("head: %+v", head)
	}

	p := writeImage(t, img)
	rec := inode(t, p, "/tiny.txt") // resident: lives in its record only
	off := recordOff(t, v, rec)
	ext := v.Owners(off-100, b.RecordSize+200)
	if len(ext) != 3 {
		t.Fatalf("around record %d: %+v", rec, ext)
	}
	mid := ext[1].Owner
	if ext[1].Off != off || ext[1].Len != b.RecordSize || mid.Structure != fmt.Sprintf("$MFT record %d", rec) || mid.Path != "/tiny.txt" || mid.Record != rec || mid.Cluster != off/b.ClusterSize {
		t.Errorf("record %d: %+v", rec, ext[1])
	}
	// An extension record names its base file.
	many := inode(t, p, "/frag/many.bin")
	e := v.Owners(recordOff(t, v, many+1), 1)[0].Owner
	if e.Record != many+1 || e.Path != "/frag/many.bin" {
		t.Errorf("extension record %d: %+v", many+1, e)
	}
	// Directories' index blocks.
	sub := inode(t, p, "/dir1")
	runs, err := v.Runs(sub, AttrIndexAllocation, "$I30")
	if err != nil {
		t.Fatal(err)
	}
	if o := v.Owners(runs[0].LCN*b.ClusterSize, 1)[0].Owner; o.Structure != fs.Directory || o.Path != "/dir1" || o.Record != sub {
		t.Errorf("/dir1 index: %+v", o)
	}
	// Every byte of every image once, in order.
	for _, fx := range allFixtures {
		v := open(t, image(t, fx))
		checkCover(t, v.Owners(0, v.Size()+5000), 0, v.Size()+5000)
		checkCover(t, v.Owners(12345, 777777), 12345, 777777)
	}
}

// TestJudge: structures verify, file data and free space carry no
// evidence, torn INDX and $LogFile pages fail.
func TestJudge(t *testing.T) {
	img := image(t, fxSmall)
	v := open(t, img)
	p := writeImage(t, img)
	cs := v.Boot().ClusterSize
	rec := inode(t, p, "/dir1/f20.bin")
	runs, _ := v.Runs(rec, AttrData, "")
	if j := v.Judge(runs[0].LCN*cs, 3*cs); j.Intact != 0 || j.Reason != "no structure to check" {
		t.Errorf("file data: %+v", j)
	}
	if j := v.Judge(v.Size()-4096-512, 1); j.Intact != 0 {
		t.Errorf("free space: %+v", j)
	}
	if j := v.Judge(v.Boot().MFTMirrLCN*cs, 4096); j.Intact != 1 || !strings.Contains(j.Reason, "$MFTMirr record 0") {
		t.Errorf("$MFTMirr: %+v", j)
	}
	if j := v.Judge(0, v.Size()); j.Intact != 1 {
		t.Errorf("whole volume: %+v", j)
	}

	// Tear block 3 of the first INDX block of /dir1.
	dir := inode(t, p, "/dir1")
	ir, err := v.Runs(dir, AttrIndexAllocation, "$I30")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(img)
	ioff := ir[0].LCN * cs
	bad[ioff+4*FixupStride-2] ^= 0x01
	v = open(t, bad)
	wantProblem(t, v, "ntfs-torn-index", "INDX block 0 of /dir1", "block 3")
	if j := v.Judge(ioff, v.Boot().IndexSize); j.Intact != -1 || !strings.Contains(j.Reason, "INDX block 0 of /dir1: update sequence mismatch in 512-byte block 3") {
		t.Errorf("torn INDX: %+v", j)
	}

	// Tear the second restart page of the Windows $LogFile.
	win := bytes.Clone(image(t, fxWin))
	v = open(t, win)
	lr, _ := v.Runs(recLogFile, AttrData, "")
	loff := lr[0].LCN*v.Boot().ClusterSize + 4096
	win[loff+2*FixupStride-2] ^= 0x01
	v = open(t, win)
	wantProblem(t, v, "ntfs-log-torn", "restart page at 0x1000")
	if j := v.Judge(loff, 4096); j.Intact != -1 || !strings.Contains(j.Reason, "$LogFile page 1: update sequence mismatch in 512-byte block 1") {
		t.Errorf("torn restart page: %+v", j)
	}
	if e := v.Evidence(); e.LogLSN == 0 {
		t.Error("the other restart page still gives the LSN")
	}
}
