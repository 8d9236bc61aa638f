package ntfs

// Regression tests from a review of the owners and judgements against
// Sleuth Kit: each once demonstrated a defect and now guards its fix.

import (
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// An in-use INDX block of /dir1 whose first 512-byte sector is lost (zeroed,
// "INDX" magic gone) is skipped by Judge and by checkIndexes: the damaged
// copy is judged "no structure to check" and no problem is listed.
func TestRegressINDXLostFirstSectorJudgedTorn(t *testing.T) {
	img := fixture.ReadUnzstd(t, "ntfs/small.img.zst")
	v := open(t, img)
	// Find the first cluster owned by /dir1 as a directory (its INDX block).
	var off int64 = -1
	for _, e := range v.Owners(0, v.Size()) {
		if e.Owner.Structure == fs.Directory && e.Owner.Path == "/dir1" {
			off = e.Off
			break
		}
	}
	if off < 0 {
		t.Fatal("no INDX block of /dir1")
	}
	if j := v.Judge(off, 512); j.Intact != 1 {
		t.Fatalf("intact INDX block judged %+v", j)
	}
	bad := append([]byte(nil), img...)
	clear(bad[off : off+512])
	w := open(t, bad)
	j := w.Judge(off, 512)
	if j.Intact != -1 {
		t.Errorf("INDX block of /dir1 with its first sector zeroed: Judge = %+v, want Intact -1", j)
	}
	if len(problemsWith(w, "ntfs-torn-index")) == 0 {
		t.Errorf("no ntfs-torn-index problem for the damaged in-use INDX block; problems: %v", w.Problems())
	}
}

// The root directory's non-resident $SECURITY_DESCRIPTOR (LCN 8207..8211 in
// small.img, istat 5: "$SECURITY_DESCRIPTOR (80-2) Non-Resident") is given
// the structure name "/" (systemNames[5]), not a structure.
func TestRegressRootSecurityDescriptorStructure(t *testing.T) {
	img := fixture.ReadUnzstd(t, "ntfs/small.img.zst")
	v := open(t, img)
	for _, e := range v.Owners(0, v.Size()) {
		if e.Owner.Structure == "/" {
			t.Errorf("extent at LCN %d (%d bytes) of record %d has structure %q", e.Owner.Cluster, e.Len, e.Owner.Record, e.Owner.Structure)
		}
	}
}

// On the Windows volume, LCN 35 is $Secure's $SDH index allocation (ifind -d
// 35: 9-160-9; fls: "$Secure:$SDH"). Every non-resident $INDEX_ALLOCATION is
// taken for a directory (check.go buildClaims: case p.typ ==
// AttrIndexAllocation), so the owner reads "directory /$Secure", and the
// blocks of all index streams of one record are merged into one VCN space
// (dirRuns by record), which mixes $SDH with $SII, $O with $Q when both are
// non-resident.
func TestRegressSecureSDHIsNotADirectory(t *testing.T) {
	img := fixture.ReadUnzstd(t, "ntfs/win2008r2-mirror.img.zst")
	v := open(t, img)
	cs := v.Boot().ClusterSize
	for _, e := range v.Owners(35*cs, cs) {
		if e.Owner.Record == 9 && e.Owner.Structure == fs.Directory {
			t.Errorf("$Secure:$SDH at LCN 35 owned as %q %q", e.Owner.Structure, e.Owner.Path)
		}
	}
}
