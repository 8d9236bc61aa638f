package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/set/ddf"
	"github.com/mirrorchk/mirrorchk/set/imsm"
)

// markDDFDisk sets, in both copies of path's DDF metadata, the state of the
// physical disk entry with refno ref (the kernel-written a-clean fixture:
// entries 0 and 1 of the 128-sector phys section), and recomputes the
// section's CRC. The seq is left as it is.
func markDDFDisk(t *testing.T, path string, ref uint32, state uint16) {
	t.Helper()
	idx := -1
	for _, p := range readDDF(t, path).PhysDisks {
		if p.RefNo == ref {
			idx = p.Index
		}
	}
	if idx < 0 {
		t.Fatalf("%s: no physical disk entry %08x", path, ref)
	}
	editDDF(t, path, ddfPhys, 128*512, func(b []byte) {
		e := b[ddfEntries+ddfEntry*idx:][:ddfEntry]
		if got := binary.BigEndian.Uint32(e[24:]); got != ref {
			t.Fatalf("%s: entry %d refnum %08x, want %08x", path, idx, got, ref)
		}
		binary.BigEndian.PutUint16(e[30:], state) // phys_disk_entry.state
	})
}

// TestDDFSameSeqConflict: the two disks of the kernel-written a-clean DDF
// set carry the same seq. When their physical disk records disagree (one
// records the other Failed), neither is the container's current metadata:
// the old code took the first argument's, so the verdict and authority
// followed the input order. The conflict is a ddf-metadata-conflict error,
// the verdict is split-brain whichever order, and repair refuses. When
// both copies agree that m1 failed, m0 is authoritative in either order
// (the old code let the first argument escape its own record of itself).
func TestDDFSameSeqConflict(t *testing.T) {
	dir := "md/md-ddf/a-clean"
	const failed = ddf.PDOnline | ddf.PDFailed
	tests := []struct {
		name      string
		edit      func(t *testing.T, m0, m1 string, r0, r1 uint32)
		examine   []string // what mdadm --examine must show of m0's copy
		conflict  string   // substring of the ddf-metadata-conflict problem, "" for none
		verdict   string
		authority string // base name; "" for none
	}{
		{name: "m0 records m1 failed", edit: func(t *testing.T, m0, m1 string, r0, r1 uint32) {
			markDDFDisk(t, m0, r1, failed)
		}, examine: []string{"1 1d880f16 16384K active/Offline, Failed", "0 3e33c5c6 16384K active/Online"},
			conflict: "physical disk refno 1d880f16: state Online / Offline, Failed", verdict: report.VerdictSplitBrain},
		{name: "each records the other failed", edit: func(t *testing.T, m0, m1 string, r0, r1 uint32) {
			markDDFDisk(t, m0, r1, failed)
			markDDFDisk(t, m1, r0, failed)
		}, conflict: "physical disk refno 3e33c5c6: state Offline, Failed / Online", verdict: report.VerdictSplitBrain},
		{name: "both record m1 failed", edit: func(t *testing.T, m0, m1 string, r0, r1 uint32) {
			markDDFDisk(t, m0, r1, failed)
			markDDFDisk(t, m1, r1, failed)
		}, verdict: report.VerdictDegraded, authority: "m0.img"},
		{name: "unedited", verdict: report.VerdictConsistent, authority: "m1.img"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := members(t, dir)
			r0, r1 := readDDF(t, p[0]).ThisDisk.RefNo, readDDF(t, p[1]).ThisDisk.RefNo
			if r0 != 0x3e33c5c6 || r1 != 0x1d880f16 {
				t.Fatalf("refnos %08x %08x: not the fixture's", r0, r1)
			}
			if tt.edit != nil {
				tt.edit(t, p[0], p[1], r0, r1)
			}
			if tt.examine != nil {
				wantExamine(t, p[0], mustExamineDDF(t, p[0]), tt.examine...)
			}
			if readDDF(t, p[0]).Seq() != readDDF(t, p[1]).Seq() {
				t.Fatal("seqs differ")
			}
			h0, h1 := fileSHA256(t, p[0]), fileSHA256(t, p[1])
			var views []string
			for _, order := range [][]string{{p[0], p[1]}, {p[1], p[0]}} {
				code, rep := scanJSON(t, append([]string{"--hash", "none"}, order...)...)
				if len(rep.Sets) != 1 {
					t.Fatalf("order %v: %d sets", order, len(rep.Sets))
				}
				s := rep.Sets[0]
				views = append(views, setOrderFree(s))
				if s.Verdict != tt.verdict || filepath.Base(authority(s)) != tt.authority && !(tt.authority == "" && authority(s) == "") {
					t.Errorf("order %v: verdict %q authority %q, want %q %q", order, s.Verdict, authority(s), tt.verdict, tt.authority)
				}
				pr := problem(s.Problems, "ddf-metadata-conflict")
				switch {
				case tt.conflict == "" && pr != nil:
					t.Errorf("order %v: unexpected %+v", order, pr)
				case tt.conflict != "" && (pr == nil || pr.Severity != "error" || !strings.Contains(pr.Message, tt.conflict) ||
					!strings.Contains(pr.Message, p[1]+" (refno 1d880f16) and "+p[0]+" (refno 3e33c5c6) are both at seq")):
					t.Errorf("order %v: conflict %+v, want an error naming both disks and %q", order, pr, tt.conflict)
				}
				if tt.conflict != "" {
					out := t.TempDir()
					if code, _, stderr := mirrorchk(t, append([]string{"repair", "--hash", "none", "--out", out}, order...)...); code != exitProblems {
						t.Errorf("order %v: repair exit %d, want 4: %s", order, code, stderr)
					}
					if ents, _ := os.ReadDir(out); len(ents) != 0 {
						t.Errorf("order %v: refused repair wrote %d files", order, len(ents))
					}
					if code != exitProblems {
						t.Errorf("order %v: scan exit %d", order, code)
					}
				}
			}
			if views[0] != views[1] {
				t.Errorf("the report depends on the input order:\n--- m0, m1:\n%s\n--- m1, m0:\n%s", views[0], views[1])
			}
			if fileSHA256(t, p[0]) != h0 || fileSHA256(t, p[1]) != h1 {
				t.Error("an input image changed")
			}
		})
	}
}

// TestIMSMRebuildSerials: both images hold the identical MPB of a rebuild
// in progress (derived from b-stale-member as in TestDerivedIMSMRebuild)
// and --serial binds each to its disk entry, so the MPB's mark on the
// drive being rebuilt (/dev/vdb, slot 0 out of sync) is known to be m1's.
// The old code exempted the image imsm.Bind read the MPB from, the first
// given of equals, from the MPB's record of it: with m1 first, m1 was
// active and the verdict split-brain; with m0 first, m0 was authoritative.
// Now m1 is rebuilding and m0 authoritative in either order.
func TestIMSMRebuildSerials(t *testing.T) {
	dir := "md/md-imsm/b-stale-member"
	stale := fixtureMPB(t, pristine(t, dir, "m1")).Raw
	p := members(t, dir)
	derived := deriveRebuild(fixtureMPB(t, p[0]).Raw, stale)
	binary.LittleEndian.PutUint32(derived[mpbCheckSum:], imsm.Checksum(derived))
	for _, m := range p {
		writeMPB(t, m, derived)
		checkRebuildMPB(t, m)
	}
	mpb := readMPB(t, p[0])
	if len(mpb.Disks) != 2 || mpb.Disks[0].Serial != "/dev/vda" || mpb.Disks[1].Serial != "/dev/vdb" {
		t.Fatalf("disk table %+v", mpb.Disks)
	}
	serials := []string{"--hash", "none", "--serial", p[0] + "=/dev/vda", "--serial", p[1] + "=/dev/vdb"}
	var views []string
	for _, order := range [][]string{{p[0], p[1]}, {p[1], p[0]}} {
		code, rep := scanJSON(t, append(serials, order...)...)
		s := rep.Sets[0]
		views = append(views, setOrderFree(s))
		if code != exitProblems || s.Verdict != report.VerdictDiverged || authority(s) != p[0] {
			t.Errorf("order %v: exit %d verdict %q authority %q, want 4, diverged, m0", order, code, s.Verdict, authority(s))
		}
		if st := memberState(s, p[1]); st != report.StateRebuilding {
			t.Errorf("order %v: m1 state %q, want rebuilding", order, st)
		}
	}
	if views[0] != views[1] {
		t.Errorf("the report depends on the input order:\n--- m0, m1:\n%s\n--- m1, m0:\n%s", views[0], views[1])
	}
}
