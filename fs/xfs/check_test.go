package xfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/internal/xfsfixture"
)

// fullCheck opens an image and maps all of it (so the inode walk runs),
// then returns its problems.
func fullCheck(t *testing.T, img string) []fs.Problem {
	t.Helper()
	v := openImg(t, img)
	checkCover(t, v.Owners(0, v.Size()), 0, v.Size())
	return v.Problems()
}

// TestCleanAgreesWithRepair: every image xfs_repair -n calls clean gets
// no error from the checks.
func TestCleanAgreesWithRepair(t *testing.T) {
	s := fixture(t)
	for _, img := range []string{s.V5, s.V5B, s.V4, s.V4B, s.V5R, s.V5G} {
		rc, out := xfsfixture.Repair(img)
		if rc != 0 {
			t.Fatalf("%s: xfs_repair -n exit %d (fixture not clean):\n%s", img, rc, out)
		}
		if errs := errorsOf(fullCheck(t, img)); len(errs) > 0 {
			t.Errorf("%s: xfs_repair -n finds nothing, we find %+v", img, errs)
		}
	}
}

// TestSeededCorruptions: a field damaged with xfs_db -x is found by
// xfs_repair -n and by the checks, under the expected code.
func TestSeededCorruptions(t *testing.T) {
	s := fixture(t)
	dataIno, err := xfsfixture.Inode(s.V5, "/data")
	if err != nil {
		t.Fatal(err)
	}
	dataIno4, err := xfsfixture.Inode(s.V4, "/data")
	if err != nil {
		t.Fatal(err)
	}
	dataInoR, err := xfsfixture.Inode(s.V5R, "/data")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, base string
		cmds       []string
		code       string
	}{
		// rmap mode: the link count of an inode read as an owner is
		// checked against the directory tree.
		{"v5r-nlink", s.V5R, []string{fmt.Sprintf("inode %d", dataInoR), "write core.nlinkv2 4"}, "xfs-nlink"},
		{"v5-agf-freeblks", s.V5, []string{"agf 1", "write -d freeblks 1234"}, "xfs-agf-freeblks"},
		{"v5-agi-count", s.V5, []string{"agi 2", "write count 4096"}, "xfs-agi-count"},
		{"v5-nlink", s.V5, []string{fmt.Sprintf("inode %d", dataIno), "write core.nlinkv2 7"}, "xfs-nlink"},
		{"v5-agf-crc", s.V5, []string{"agf 3", "write -c longest 17"}, "xfs-agf-bad"},
		{"v5-inode-crc", s.V5, []string{fmt.Sprintf("inode %d", dataIno), "write -c core.gid 77"}, "xfs-inode-bad"},
		{"v5-sb-crc", s.V5, []string{"sb 0", "write -c imax_pct 30"}, "xfs-sb-crc"},
		{"v5-bnobt-crc", s.V5, []string{"agf 0", "addr bnoroot", "write -c numrecs 1"}, "xfs-btree-bad"},
		{"v4-agf-freeblks", s.V4, []string{"agf 0", "write freeblks 77"}, "xfs-agf-freeblks"},
		{"v4-nlink", s.V4, []string{fmt.Sprintf("inode %d", dataIno4), "write core.nlinkv2 3"}, "xfs-nlink"},
		{"v4-agi-freecount", s.V4, []string{"agi 1", "write freecount 9"}, "xfs-agi-count"},
		{"v5-sb-fdblocks", s.V5, []string{"sb 0", "write -d fdblocks 5"}, "xfs-sb-counts"},
		{"v4-sb-icount", s.V4, []string{"sb 0", "write icount 64"}, "xfs-sb-counts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "x.img")
			if err := xfsfixture.Copy(c.base, img); err != nil {
				t.Fatal(err)
			}
			if out, err := xfsfixture.DB(img, true, c.cmds...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			rc, out := xfsfixture.Repair(img)
			if rc == 0 {
				t.Fatalf("xfs_repair -n does not find %v:\n%s", c.cmds, out)
			}
			ps := fullCheck(t, img)
			if !hasCode(ps, c.code) {
				t.Errorf("xfs_repair -n finds it (exit %d), we do not (want %s): %+v\nxfs_repair:\n%s", rc, c.code, ps, lastLines(out, 15))
			}
			if len(errorsOf(ps)) == 0 {
				t.Errorf("no error-level problem: %+v", ps)
			}
		})
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestJudgeDiverged: the members of the mounted v5 pair verify on every
// differing block, and wherever both copies carry an LSN the newer member's
// is higher.
func TestJudgeDiverged(t *testing.T) {
	s := fixture(t)
	if !s.Mounted {
		t.Skip("v5 pair not diverged: ", s.MountWhy)
	}
	a, b := openImg(t, s.V5), openImg(t, s.V5B)
	var higher, withLSN int
	for _, blk := range diffBlocks(t, s.V5, s.V5B, 4096) {
		ja, jb := a.Judge(blk*4096, 4096), b.Judge(blk*4096, 4096)
		if ja.Intact < 0 || jb.Intact < 0 {
			t.Errorf("block %d: a copy fails its checks: old %+v, new %+v", blk, ja, jb)
		}
		if ja.LSN > 0 && jb.LSN > 0 {
			withLSN++
			if ja.LSN > jb.LSN {
				t.Errorf("block %d: the older member's copy carries the higher LSN (%s > %s): %s / %s", blk, lsnString(ja.LSN), lsnString(jb.LSN), ja.Reason, jb.Reason)
			}
			if jb.LSN > ja.LSN {
				higher++
			}
		}
		if jb.LSN == 0 && ja.LSN > 0 {
			t.Errorf("block %d: only the older copy carries an LSN: %+v / %+v", blk, ja, jb)
		}
	}
	if higher == 0 {
		t.Errorf("no differing block where the newer member's LSN is higher (%d with LSNs)", withLSN)
	}
	ea, eb := a.Evidence(), b.Evidence()
	if !(eb.LogLSN > ea.LogLSN) || eb.MaxRecordLSN <= ea.MaxRecordLSN || eb.MaxRecordLSN > eb.LogLSN || ea.MaxRecordLSN > ea.LogLSN {
		t.Errorf("evidence: old log %s max %s, new log %s max %s", lsnString(ea.LogLSN), lsnString(ea.MaxRecordLSN), lsnString(eb.LogLSN), lsnString(eb.MaxRecordLSN))
	}
	if ea.Dirty == nil || *ea.Dirty || eb.Dirty == nil || *eb.Dirty {
		t.Errorf("cleanly unmounted images read as dirty: %+v %+v", ea, eb)
	}
}

// TestJudgeTornAndForeign: a flipped byte in an inode fails its CRC; an
// inode B+tree block copied from another filesystem made by mkfs.xfs
// fails as foreign; the untouched copy verifies.
func TestJudgeTornAndForeign(t *testing.T) {
	s := fixture(t)
	dir := t.TempDir()
	orig := openImg(t, s.V5)
	ino, err := xfsfixture.Inode(s.V5, "/data")
	if err != nil {
		t.Fatal(err)
	}
	ioff, err := orig.inoOff(ino)
	if err != nil {
		t.Fatal(err)
	}
	if j := orig.Judge(ioff, 512); j.Intact != 1 { // mkfs writes LSN 0
		t.Fatalf("intact inode: %+v", j)
	}
	torn := filepath.Join(dir, "torn.img")
	if err := xfsfixture.Copy(s.V5, torn); err != nil {
		t.Fatal(err)
	}
	patch(t, torn, ioff+200, []byte{0x55})
	if j := openImg(t, torn).Judge(ioff, 512); j.Intact != -1 || !strings.Contains(j.Reason, "CRC") {
		t.Errorf("torn inode: %+v", j)
	}
	// A foreign filesystem of the same geometry: its AG 0 inobt root lies
	// where ours does.
	other := filepath.Join(dir, "other.img")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(other, 300<<20)
	if out, err := runTool("mkfs.xfs", "-q", "-f", other); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	root := int64(orig.ags[0].inoRoot) * orig.bs
	if ov := openImg(t, other); int64(ov.ags[0].inoRoot)*ov.bs != root {
		t.Fatalf("the other filesystem's inobt root is elsewhere")
	}
	blk := make([]byte, orig.bs)
	f, _ := os.Open(other)
	f.ReadAt(blk, root)
	f.Close()
	foreign := filepath.Join(dir, "foreign.img")
	if err := xfsfixture.Copy(s.V5, foreign); err != nil {
		t.Fatal(err)
	}
	patch(t, foreign, root, blk)
	if j := orig.Judge(root, orig.bs); j.Intact != 1 {
		t.Errorf("intact inobt root: %+v", j)
	}
	if j := openImg(t, foreign).Judge(root, orig.bs); j.Intact != -1 || !strings.Contains(j.Reason, "UUID") {
		t.Errorf("foreign inobt root: %+v", j)
	}
}

func patch(t *testing.T, img string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestV4SaysWeaker: a v4 filesystem is recognised, its owners mapped, and
// its evidence says it is weaker.
func TestV4SaysWeaker(t *testing.T) {
	s := fixture(t)
	v := openImg(t, s.V4)
	e := v.Evidence()
	if e.MaxRecordLSN != 0 || !strings.Contains(strings.Join(e.Notes, " "), "XFS v4") {
		t.Errorf("v4 evidence: %+v", e)
	}
	if !hasCode(v.Problems(), "xfs-v4") {
		t.Errorf("no xfs-v4 note among %+v", v.Problems())
	}
	if j := v.Judge(0, 4096); j.Intact != 1 || !strings.Contains(j.Reason, "v4") {
		t.Errorf("v4 judgement: %+v", j)
	}
}

// TestDirtyLog: a filesystem shut down after a log flush has no unmount
// record; xfs_repair -n refuses it for its log, and we call it dirty
// (a warning, with the log head's LSN still the evidence).
func TestDirtyLog(t *testing.T) {
	s := fixture(t)
	if !s.Mounted {
		t.Skip("no dirty-log image: ", s.MountWhy)
	}
	rc, out := xfsfixture.Repair(s.V5D)
	if rc == 0 || !strings.Contains(out, "log") {
		t.Fatalf("xfs_repair -n does not see the dirty log (exit %d):\n%s", rc, lastLines(out, 10))
	}
	v := openImg(t, s.V5D)
	e := v.Evidence()
	if e.Dirty == nil || !*e.Dirty || e.LogClean == nil || *e.LogClean {
		t.Errorf("dirty log read as clean: %+v", e)
	}
	if !hasCode(v.Problems(), "xfs-log-dirty") {
		t.Errorf("no xfs-log-dirty among %+v", v.Problems())
	}
	if prev := openImg(t, s.V5B).Evidence(); e.LogLSN <= prev.LogLSN {
		t.Errorf("log LSN %s not past the clean member's %s", lsnString(e.LogLSN), lsnString(prev.LogLSN))
	}
}

// TestRmapbt: with the reverse-mapping B+tree (mkfs.xfs -m rmapbt=1) its
// blocks are mapped and the checks stay quiet.
func TestRmapbt(t *testing.T) {
	s := fixture(t)
	v := openImg(t, s.V5R)
	if v.sb.RoCompat&roRmapbt == 0 {
		t.Fatal("mkfs.xfs -m rmapbt=1 made no rmapbt")
	}
	found := false
	for _, e := range v.Owners(0, v.Size()) {
		if e.Owner.Structure == "reverse-mapping B+tree" {
			found = true
		}
	}
	if !found {
		t.Error("no reverse-mapping B+tree block mapped")
	}
}

// TestLazy: ranges in free space and AG structures are mapped from their
// AG's B+trees alone; only a range owned by a file starts the inode walk.
func TestLazy(t *testing.T) {
	s := fixture(t)
	v := openImg(t, s.V5)
	for a := uint32(0); a < v.sb.AGCount; a++ {
		for _, e := range v.Owners(v.agOff(a, 0), 8*v.bs) {
			if e.Owner.Structure == fs.FileData {
				t.Fatalf("AG %d starts with file data", a)
			}
		}
	}
	last := v.Size() - 5*v.bs
	if ex := v.Owners(last, v.bs); ex[0].Owner.Structure != fs.FreeSpace {
		t.Fatalf("the end is %+v, not free", ex)
	}
	if v.walk != nil {
		t.Fatal("the inode walk ran for AG headers and free space")
	}
	fsb, err := xfsfixture.FirstBlock(s.V5, "/big")
	if err != nil {
		t.Fatal(err)
	}
	off, _ := v.fsbOff(fsb)
	ex := v.Owners(off+100, v.bs)
	if ex[0].Owner.Path != "/big" || v.walk == nil || ex[0].Off != off+100 {
		t.Fatalf("file block: %+v", ex)
	}
	checkCover(t, ex, off+100, v.bs)

	// With the rmap B+tree the owner of a file block comes from its AG's
	// rmap records and the path from the directory tree: no inode walk.
	r := openImg(t, s.V5R)
	fsb, err = xfsfixture.FirstBlock(s.V5R, "/sfdir/a")
	if err != nil {
		t.Fatal(err)
	}
	off, _ = r.fsbOff(fsb)
	ex = r.Owners(off, r.bs)
	if ex[0].Owner.Path != "/sfdir/a" || ex[0].Owner.Structure != fs.FileData || r.walk != nil || r.names == nil {
		t.Fatalf("rmap file block: %+v (walk ran: %v)", ex, r.walk != nil)
	}
	if w := r.names; len(w.parent) >= 1500 || len(w.parent) < 100 {
		t.Logf("directory tree names %d inodes", len(w.parent))
	}
}

// TestRemoteAttrNoLSN: remote attribute value blocks are written outside
// the log with LSN -1 (NULLCOMMITLSN); they verify but carry no order.
func TestRemoteAttrNoLSN(t *testing.T) {
	s := fixture(t)
	if !s.Mounted {
		t.Skip("no attributes: ", s.MountWhy)
	}
	v := openImg(t, s.V5)
	var n int
	for _, e := range v.Owners(0, v.Size()) {
		if e.Owner.Structure != "attribute fork" {
			continue
		}
		n++
		j := v.Judge(e.Off, e.Len)
		if j.Intact != 1 || j.LSN == nullLSN || j.LSN > v.log.lastLSN {
			t.Errorf("attribute blocks at %d: %+v", e.Off, j)
		}
	}
	if n == 0 {
		t.Error("no attribute fork blocks")
	}
	if e := v.Evidence(); e.MaxRecordLSN > e.LogLSN {
		t.Errorf("max record LSN %s past the log's %s", lsnString(e.MaxRecordLSN), lsnString(e.LogLSN))
	}
}

// TestLSNAheadOfLog: an inode stamped (by xfs_db, CRC recomputed) with an
// LSN past the log head verifies by CRC but cannot have been written
// after the log's last record: its copy fails.
func TestLSNAheadOfLog(t *testing.T) {
	s := fixture(t)
	img := filepath.Join(t.TempDir(), "x.img")
	if err := xfsfixture.Copy(s.V5, img); err != nil {
		t.Fatal(err)
	}
	ino, err := xfsfixture.Inode(img, "/data")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := xfsfixture.DB(img, true, fmt.Sprintf("inode %d", ino), "write v3.lsn 0x7000000001"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	v := openImg(t, img)
	off, _ := v.inoOff(ino)
	if j := v.Judge(off, 512); j.Intact != -1 || !strings.Contains(j.Reason, "ahead of the log head") {
		t.Errorf("inode with LSN 0x70:1: %+v", j)
	}
}

// TestEvidenceSymmetric: Evidence does not depend on which ranges were
// judged (check judges one member of each group of identical copies), and
// a walk started from Judge counts as one started from Owners.
func TestEvidenceSymmetric(t *testing.T) {
	s := fixture(t)
	a, b := openImg(t, s.V5B), openImg(t, s.V5B)
	a.Owners(0, a.Size())
	a.Judge(0, a.Size())
	b.Judge(0, b.Size()) // starts the walk from Judge
	ea, eb := a.Evidence(), b.Evidence()
	if ea.MaxRecordLSN != eb.MaxRecordLSN || !ea.Latest.Equal(eb.Latest) || ea.LogLSN != eb.LogLSN {
		t.Errorf("evidence depends on the calls: %+v / %+v", ea, eb)
	}
	c := openImg(t, s.V5B)
	c.Owners(0, c.Size())
	if ec := c.Evidence(); ec.MaxRecordLSN != ea.MaxRecordLSN || !ec.Latest.Equal(ea.Latest) {
		t.Errorf("judging changed the evidence: %+v / %+v", ec, ea)
	}
}
