package main

// Regression tests from a review of the NT FT wiring: each comment says
// the defect the test once demonstrated; each now guards its fix.

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/set/ftdisk"
)

func ftReviewPoke(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func ftReviewRepairStatus(t *testing.T, args ...string) (string, *report.Report) {
	t.Helper()
	code, out, stderr := mirrorchk(t, append([]string{"repair", "--json", "--dry-run", "--out", t.TempDir()}, args...)...)
	if code >= 8 {
		t.Fatalf("repair: exit %d %s", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sets) == 0 || rep.Sets[0].Repair == nil {
		return "", rep
	}
	return rep.Sets[0].Repair.Status, rep
}

// Regression (from review): SYSTEM and SYSTEM.ALT, both clean, disagree on which member is
// orphaned (orphaned-shadow vs orphaned-primary); the members differ in a
// sector no file uses. The authority and the repair follow whichever hive
// was named first: swapping the --hive flags swaps the member that repair
// would overwrite.
func TestFTRegressHiveOrderDecides(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	ftReviewPoke(t, d1, ftStart+ftLen-512, []byte("only on disk 1"))
	a, b := ftHive("orphaned-shadow"), ftHive("orphaned-primary")
	_, r1 := scanJSON(t, "--hive", a, "--hive", b, d0, d1)
	_, r2 := scanJSON(t, "--hive", b, "--hive", a, d0, d1)
	auth := func(r *report.Report) string {
		if m := r.Sets[0].Authority.Member; m != nil {
			return *m + " (" + string(r.Sets[0].Authority.Basis) + ")"
		}
		return "none"
	}
	if auth(r1) != auth(r2) {
		t.Errorf("authority depends on the order of --hive: %s vs %s", auth(r1), auth(r2))
	}
	for _, order := range [][]string{{a, b}, {b, a}} {
		st, _ := ftReviewRepairStatus(t, "--hive", order[0], "--hive", order[1], d0, d1)
		if st == "planned" {
			t.Errorf("hives %v disagree on the orphan, yet repair is planned from the first hive's story", order)
		}
	}
}

// Regression (from review): the states look swapped between two sets (ft-states-swapped,
// whose message says "the registry is not trusted alone here"), and each
// set's differences lie in free sectors (no filesystem evidence). The
// authority is still the registry's and repair is planned, overwriting the
// member the registry may have swapped.
func TestFTRegressSwappedStillTrusted(t *testing.T) {
	v, di := ftValue(t, "two-sets")
	put := func(off int64, x uint32) { binary.LittleEndian.PutUint32(v[off:], x) }
	for _, fs := range di.FtSets {
		put(fs.Off+8, uint32(ftdisk.FtHasOrphan))
		for _, m := range fs.Members {
			st := ftdisk.Healthy
			if (m.Partition.FtGroup == 0 && m.Partition.FtMember == 1) || (m.Partition.FtGroup == 1 && m.Partition.FtMember == 0) {
				st = ftdisk.Orphaned
			}
			put(m.Partition.Off+4, uint32(st))
		}
	}
	hive := ftHiveWith(t, v)
	d0, d1 := ftTwoSets(t)
	ftReviewPoke(t, d1, (63+8001-1)*512, []byte("D: on disk 1"))
	ftReviewPoke(t, d0, (8064+8001-1)*512, []byte("E: on disk 0"))
	_, rep := scanJSON(t, "--hive", hive, d0, d1)
	for _, s := range rep.Sets {
		if ftProblem(s.Problems, "ft-states-swapped") == nil {
			t.Fatalf("%s: no ft-states-swapped", s.Name)
		}
		if s.Authority.Basis == report.BasisSetMetadata {
			t.Errorf("%s: states flagged swapped, yet the registry is followed: authority %v (%s)", s.Name, *s.Authority.Member, s.Authority.Basis)
		}
	}
	code, out, _ := mirrorchk(t, "repair", "--json", "--dry-run", "--hive", hive, "--out", t.TempDir(), d0, d1)
	rr, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rr.Sets {
		if s.Repair != nil && s.Repair.Status == "planned" {
			t.Errorf("%s: repair planned from swapped registry states (exit %d)", s.Name, code)
		}
	}
}

// Regression (from review): a DISK\Information whose StartingOffset is garbage (bit 63 set)
// for the member on disk 1: a damaged registry must give problems, not an
// operational failure or a panic.
func TestFTRegressNegativeOffset(t *testing.T) {
	for _, x := range []uint64{0x8000000000000000, 0xFFFFFFFFFFFFFE00} {
		v, di := ftValue(t, "orphaned-shadow")
		p := di.Disks[1].Partitions[0]
		binary.LittleEndian.PutUint64(v[p.Off+8:], x)
		hive := ftHiveWith(t, v)
		d0, d1 := ftMirror(t, "87")
		code, out, stderr := mirrorchk(t, "scan", "--json", "--hive", hive, d0, d1)
		if code >= 8 {
			t.Errorf("StartingOffset %#x: exit %d: %s", x, code, stderr)
			continue
		}
		rep, err := report.ReadJSON(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rep.Sets {
			for _, m := range s.Members {
				if m.DataOffset < 0 {
					t.Errorf("StartingOffset %#x: member %s at negative offset %d", x, m.Path, m.DataOffset)
				}
			}
		}
	}
}

// Regression (from review): the NT registry keeps no per-member generation (Generation is
// nil), yet the authority reason for an orphaned set says the Healthy
// member "holds the highest generation".
func TestFTRegressInventedGeneration(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	ftReviewPoke(t, d0, ftStart+ftLen-512, []byte("only on disk 0"))
	_, rep := scanJSON(t, "--hive", ftHive("orphaned-shadow"), d0, d1)
	if r := ftReasons(rep.Sets[0]); strings.Contains(r, "highest generation") {
		t.Errorf("reasons invent a generation the registry does not keep:\n%s", r)
	}
}

// Regression (from review): the MBRs point at the other disk than the registry
// (ft-mbr-mark-on-orphan: 0xC7 on the Orphaned shadow, 0x87 on the Healthy
// primary; the message says "the data decides"), the members differ in a
// free sector. The registry is followed anyway and repair is planned.
func TestFTRegressMarkOnOrphanStillTrusted(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	ftRun(t, "sfdisk", "-q", "--part-type", d1, "1", "c7")
	ftReviewPoke(t, d1, ftStart+ftLen-512, []byte("only on disk 1"))
	_, rep := scanJSON(t, "--hive", ftHive("orphaned-shadow"), d0, d1)
	s := rep.Sets[0]
	if ftProblem(s.Problems, "ft-mbr-mark-on-orphan") == nil {
		t.Fatalf("problems %+v", s.Problems)
	}
	if s.Authority.Basis == report.BasisSetMetadata {
		t.Errorf("MBR and registry point at different disks, yet the registry is followed: %s", *s.Authority.Member)
	}
	if st, _ := ftReviewRepairStatus(t, "--hive", ftHive("orphaned-shadow"), d0, d1); st == "planned" {
		t.Errorf("repair planned over the MBR/registry conflict")
	}
}

// Regression (from review): --member given twice for one image was silently overwritten.
func TestFTRegressMemberTwice(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	code, _, stderr := mirrorchk(t, "scan", "--hive", ftHive("healthy"), "--member", d1+"=5D0E9F11:32256", "--member", d1+"=1C7A3B52:32256", d0, d1)
	if code != exitUsage || !strings.Contains(stderr, "twice") {
		t.Errorf("exit %d %q, want 16", code, stderr)
	}
}
