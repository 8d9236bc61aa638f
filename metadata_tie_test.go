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

// TestFTHivesDisagree: two clean hives (the fixtures orphaned-shadow and
// orphaned-primary, or healthy) describe the same mirror with different
// member states, and nothing says which was written last. The old code
// used the first --hive given, so with identical data the two orders named
// opposite members stale and authoritative. Now a member whose state the
// hives disagree on is unknown, whatever the order: with one orphaning
// each member, the registry names no authority (identical data: verdict
// unknown; differing data: the filesystem evidence decides, the same in
// both orders); with healthy against orphaned-shadow, disk 0 is Healthy in
// both and is taken (degraded: the other member's state is unknown).
func TestFTHivesDisagree(t *testing.T) {
	tests := []struct {
		name      string
		hives     [2]string
		write     bool // a file written to disk 0 only
		verdict   string
		authority int    // member index, -1 for none
		basis     string // authority basis
	}{
		{"each orphans another member, data identical", [2]string{"orphaned-shadow", "orphaned-primary"}, false, report.VerdictUnknown, -1, "none"},
		{"each orphans another member, disk 0 written", [2]string{"orphaned-shadow", "orphaned-primary"}, true, report.VerdictDiverged, 0, "filesystem"},
		{"healthy against orphaned shadow", [2]string{"healthy", "orphaned-shadow"}, false, report.VerdictDegraded, 0, "set-metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := [2]string{}
			d[0], d[1] = ftMirror(t, "87")
			if tt.write {
				ftWrite(t, d[0], ftStart, "after.txt", "written after the other member was orphaned")
			}
			var views []string
			for _, hs := range [][2]string{tt.hives, {tt.hives[1], tt.hives[0]}} {
				_, rep := scanJSON(t, "--hive", ftHive(hs[0]), "--hive", ftHive(hs[1]), d[0], d[1])
				s := rep.Sets[0]
				views = append(views, setOrderFree(s))
				want := ""
				if tt.authority >= 0 {
					want = d[tt.authority]
				}
				if s.Verdict != tt.verdict || authority(s) != want || s.Authority.Basis != tt.basis {
					t.Errorf("hives %v: verdict %q authority %q basis %q, want %q %q %q", hs, s.Verdict, authority(s), s.Authority.Basis, tt.verdict, want, tt.basis)
				}
				if !hasCode(rep.Problems, "hive-disagree") {
					t.Errorf("hives %v: no hive-disagree: %+v", hs, rep.Problems)
				}
				unknown := 0
				for _, m := range s.Members {
					if strings.Contains(strings.Join(m.Evidence, "\n"), "the hives disagree about") {
						unknown++
					}
				}
				if unknown == 0 {
					t.Errorf("hives %v: no member says the hives disagree about it", hs)
				}
			}
			if views[0] != views[1] {
				t.Errorf("the report depends on the order of --hive:\n--- %v:\n%s\n--- reversed:\n%s", tt.hives, views[0], views[1])
			}
		})
	}
}
