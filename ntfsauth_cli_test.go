package main

// The authority of bare NTFS images from their FILE records, built here
// with the real tools: mkntfs and ntfscp for the common state, ntfs-3g
// mounts (FUSE) for writes the driver stamps, ntfscp for writes it does
// not; Sleuth Kit's istat reads the records independently.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// ntfsRun runs an ntfs-3g or sleuthkit tool, failing naming its package.
func ntfsRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	pkg := map[string]string{"istat": "sleuthkit"}[name]
	if pkg == "" {
		pkg = "ntfs-3g"
	}
	out, err := exec.Command(fixture.Tool(t, name, pkg), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// ntfsBase makes a 32 MiB NTFS image with mkntfs holding /f1.txt and
// /big.bin (100000 bytes), copied in with ntfscp.
func ntfsBase(t *testing.T, dir string) string {
	t.Helper()
	img := filepath.Join(dir, "base.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	ntfsRun(t, "mkntfs", "-F", "-Q", "-q", img)
	big := make([]byte, 100000)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	ntfsRun(t, "ntfscp", "-f", img, writeFile(t, filepath.Join(dir, "f1.src"), []byte("v1\n")), "f1.txt")
	ntfsRun(t, "ntfscp", "-f", img, writeFile(t, filepath.Join(dir, "big.src"), big), "big.bin")
	return img
}

// ntfsMount mounts img with ntfs-3g, runs f on the mount point, and
// unmounts.
func ntfsMount(t *testing.T, img string, f func(mnt string)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the ntfs-3g (FUSE) mounts of this test need root")
	}
	mnt := t.TempDir()
	ntfsRun(t, "ntfs-3g", img, mnt)
	f(mnt)
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
}

// istatChanged returns what istat says of record rec of img: the
// $STANDARD_INFORMATION MFT change time as istat prints it
// ("2026-12-06 17:01:11.268961800"), the sequence number and whether the
// record is allocated.
func istatChanged(t *testing.T, img string, rec string) (changed, seq string, allocated bool) {
	t.Helper()
	out := ntfsRun(t, "istat", "-f", "ntfs", img, rec)
	si := out[strings.Index(out, "$STANDARD_INFORMATION Attribute Values:"):]
	m := regexp.MustCompile(`MFT Modified:\s+(\S+ \S+)`).FindStringSubmatch(si)
	s := regexp.MustCompile(`Sequence: (\d+)`).FindStringSubmatch(out)
	if m == nil || s == nil {
		t.Fatalf("istat %s %s:\n%s", img, rec, out)
	}
	return m[1], s[1], !strings.Contains(out, "Not Allocated")
}

// rfcOf turns istat's "2026-12-06 17:01:11.268961800" into the report's
// RFC 3339 form, "2026-12-06T17:01:11.2689618Z".
func rfcOf(istat string) string {
	s := strings.Replace(istat, " ", "T", 1)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	return s + "Z"
}

// TestBareNTFSSplitBrain: from one mkntfs image, A.img rewrites /f1.txt
// and C.img, later, deletes /big.bin (ntfs-3g mounts). The latest
// timestamp on each member is C's, but A's copy of $MFT record 64
// (/f1.txt) was changed after C's, and C freed record 65 (/big.bin) and
// changed the root directory after A: each has writes the other lacks, a
// split brain, and repair refuses. Sleuth Kit's istat reads the same
// records, sequence numbers and MFT change times.
func TestBareNTFSSplitBrain(t *testing.T) {
	dir := t.TempDir()
	base := ntfsBase(t, dir)
	a := copyImage(t, base, filepath.Join(dir, "A.img"))
	c := copyImage(t, base, filepath.Join(dir, "C.img"))
	ntfsMount(t, a, func(mnt string) {
		if err := os.WriteFile(filepath.Join(mnt, "f1.txt"), []byte("v2 changed after split\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ntfsMount(t, c, func(mnt string) {
		if err := os.Remove(filepath.Join(mnt, "big.bin")); err != nil {
			t.Fatal(err)
		}
	})
	aTime, aSeq, _ := istatChanged(t, a, "64")
	cTime, _, _ := istatChanged(t, c, "64")
	if aTime <= cTime {
		t.Fatalf("istat: A's record 64 changed %s, C's %s: A's write is not the later", aTime, cTime)
	}
	if _, seq, alloc := istatChanged(t, c, "65"); alloc || seq == aSeq {
		t.Fatalf("istat: C's record 65 allocated %v, sequence %s", alloc, seq)
	}
	if _, seq, alloc := istatChanged(t, a, "65"); !alloc || seq != "1" {
		t.Fatalf("istat: A's record 65 allocated %v, sequence %s", alloc, seq)
	}
	wantSplitBrain(t, []string{a, c}, "/f1.txt ($MFT record 64: MFT change time "+rfcOf(aTime)+" on "+a+", "+rfcOf(cTime)+" on "+c+")",
		c+" has ", "($MFT record 5: MFT change time")
	// The deletion is C's write too, whichever example the problem shows.
	code, rep := scanJSON(t, a, c)
	if code != exitProblems || rep.Sets[0].Verdict != report.VerdictSplitBrain {
		t.Fatalf("exit %d verdict %s", code, rep.Sets[0].Verdict)
	}

	// C's deletion alone (A untouched): C is current.
	u := copyImage(t, base, filepath.Join(dir, "U.img"))
	code, rep = scanJSON(t, u, c)
	s := rep.Sets[0]
	if code != exitProblems || authName(s) != c || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("deletion on C only: exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
}

// TestBareNTFSOneSideWritten: A.img rewrites /f1.txt (ntfs-3g), C.img is
// untouched: A is current, C stale, and a repair makes C's output equal
// to A.
func TestBareNTFSOneSideWritten(t *testing.T) {
	dir := t.TempDir()
	base := ntfsBase(t, dir)
	a := copyImage(t, base, filepath.Join(dir, "A.img"))
	c := copyImage(t, base, filepath.Join(dir, "C.img"))
	ntfsMount(t, a, func(mnt string) {
		if err := os.WriteFile(filepath.Join(mnt, "f1.txt"), []byte("v2 changed after split\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	before := []string{fileSHA256(t, a), fileSHA256(t, c)}
	code, rep := scanJSON(t, a, c)
	s := rep.Sets[0]
	if code != exitProblems || authName(s) != a || s.Authority.Basis != report.BasisFilesystem || s.Verdict == report.VerdictSplitBrain {
		t.Fatalf("exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	for _, m := range s.Members {
		if (m.Path == c) != (m.State == report.StateStale) {
			t.Errorf("%s state %s", m.Path, m.State)
		}
	}
	// The reasons cite the record, its MFT change times as istat reads
	// them, and that C holds no record written after A's.
	aTime, _, _ := istatChanged(t, a, "64")
	cTime, _, _ := istatChanged(t, c, "64")
	if all, want := ftReasons(s), "/f1.txt ($MFT record 64: MFT change time "+rfcOf(aTime)+" on "+a+", "+rfcOf(cTime)+" on "+c+")), and "+c+" none written after"; !strings.Contains(all, want) {
		t.Errorf("reasons do not cite %q:\n%s", want, all)
	}
	out := t.TempDir()
	if code, _, stderr := mirrorchk(t, "repair", "--out", out, a, c); code != exitRepaired {
		t.Fatalf("repair: exit %d %s", code, stderr)
	}
	for _, n := range []string{"A.img", "C.img"} {
		if got := fileSHA256(t, filepath.Join(out, n)); got != before[0] {
			t.Errorf("repaired %s differs from A.img", n)
		}
	}
	if after := []string{fileSHA256(t, a), fileSHA256(t, c)}; after[0] != before[0] || after[1] != before[1] {
		t.Error("an input changed")
	}
}

// TestBareNTFSUnstamped: ntfscp rewrites /f1.txt on A.img without
// stamping any time, and adds /o.txt on C.img, within the same second
// (then: rewrites the non-resident /big.bin in place on B.img).
// Record 64 differs on the two with equal sequence numbers and MFT change
// times: which member wrote it cannot be told, so no member is taken,
// whatever the latest timestamps say, and the times shown for the members
// are never equal when one is called the later.
func TestBareNTFSUnstamped(t *testing.T) {
	dir := t.TempDir()
	base := ntfsBase(t, dir)
	a := copyImage(t, base, filepath.Join(dir, "A.img"))
	c := copyImage(t, base, filepath.Join(dir, "C.img"))
	ntfsRun(t, "ntfscp", "-f", a, writeFile(t, filepath.Join(dir, "f1b.src"), []byte("v2 changed\n")), "f1.txt")
	ntfsRun(t, "ntfscp", "-f", c, writeFile(t, filepath.Join(dir, "o.src"), []byte("other\n")), "o.txt")
	aTime, _, _ := istatChanged(t, a, "64")
	if cTime, _, _ := istatChanged(t, c, "64"); aTime != cTime {
		t.Fatalf("istat: ntfscp stamped record 64: %s on A, %s on C", aTime, cTime)
	}
	code, rep := scanJSON(t, a, c)
	s := rep.Sets[0]
	all := ftReasons(s)
	if code != exitProblems || s.Authority.Member != nil || strings.Contains(all, "written last") {
		t.Fatalf("exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), all)
	}
	if !strings.Contains(all, "/f1.txt ($MFT record 64: the copies differ, but both carry sequence number 1, record LSN 0 and MFT change time "+rfcOf(aTime)+")") {
		t.Errorf("reasons do not name record 64 as written unstamped:\n%s", all)
	}
	// Times shown alike are alike.
	m := regexp.MustCompile(`MFT change time\): \S+ (\S+), \S+ (\S+);`).FindStringSubmatch(all)
	if m == nil || m[1] == m[2] {
		t.Errorf("latest timestamps not shown apart:\n%s", all)
	}
	// So are the members' own evidence lines.
	var latest []string
	for _, mb := range s.Members {
		for _, f := range mb.Filesystems {
			for _, e := range f.Evidence {
				if strings.HasPrefix(e, "latest timestamp ") {
					latest = append(latest, e)
				}
			}
		}
	}
	if len(latest) != 2 || latest[0] == latest[1] {
		t.Errorf("members' latest timestamps %q", latest)
	}
	out := t.TempDir()
	if code, _, _ := mirrorchk(t, "repair", "--out", out, a, c); code != exitProblems {
		t.Errorf("repair without authority: exit %d", code)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("repair without authority wrote %d files", len(left))
	}

	// ntfscp rewrites /big.bin in place on B.img (its record unchanged,
	// its clusters rewritten): against C.img's new /o.txt, the data that
	// differs carries no stamp either.
	b := copyImage(t, base, filepath.Join(dir, "B.img"))
	nb := make([]byte, 100000)
	for i := range nb {
		nb[i] = 'x'
	}
	ntfsRun(t, "ntfscp", "-f", b, writeFile(t, filepath.Join(dir, "bigx.src"), nb), "big.bin")
	if ntfsRun(t, "istat", "-f", "ntfs", b, "65") != ntfsRun(t, "istat", "-f", "ntfs", base, "65") {
		t.Fatal("istat: ntfscp changed record 65 of /big.bin")
	}
	code, rep = scanJSON(t, b, c)
	s = rep.Sets[0]
	if all := ftReasons(s); code != exitProblems || s.Authority.Member != nil || !strings.Contains(all, "/big.bin (data of $MFT record 65: the data differs, but both copies of the record carry sequence number 1") {
		t.Fatalf("in-place rewrite: exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), all)
	}
}

// TestBareNTFSDeleteReuse: C.img deletes /big.bin, then creates
// /small.txt (in big.bin's freed $MFT record 65) and /new.bin (in its
// freed clusters); A.img is untouched. A's /big.bin where C has /new.bin
// is no write of A's: C's copy of record 65 was freed after A's (its
// sequence number is later). C is current, not a split brain.
func TestBareNTFSDeleteReuse(t *testing.T) {
	dir := t.TempDir()
	base := ntfsBase(t, dir)
	a := copyImage(t, base, filepath.Join(dir, "A.img"))
	c := copyImage(t, base, filepath.Join(dir, "C.img"))
	ntfsMount(t, c, func(mnt string) {
		if err := os.Remove(filepath.Join(mnt, "big.bin")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mnt, "small.txt"), []byte("small\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		nb := make([]byte, 100000)
		for i := range nb {
			nb[i] = byte(i*13 + 5)
		}
		if err := os.WriteFile(filepath.Join(mnt, "new.bin"), nb, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	// The reuse as Sleuth Kit reads it: record 65 holds /small.txt with a
	// later sequence number on C.
	if _, seq, alloc := istatChanged(t, c, "65"); !alloc || seq != "2" {
		t.Fatalf("istat: C's record 65 allocated %v, sequence %s", alloc, seq)
	}
	code, rep := scanJSON(t, a, c)
	s := rep.Sets[0]
	if code != exitProblems || authName(s) != c || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	if all := ftReasons(s); !strings.Contains(all, "and "+a+" none written after "+c+"'s") {
		t.Errorf("reasons:\n%s", all)
	}
	for _, m := range s.Members {
		if (m.Path == a) != (m.State == report.StateStale) {
			t.Errorf("%s state %s", m.Path, m.State)
		}
	}
}
