package main

// The authority of bare images from filesystem evidence, where the
// evidence cannot tell: two members that each allocated a new file from
// one common state into the same inode and blocks (ext4, XFS), and a FAT
// file rewritten with its old dates kept. Each case is built here with the
// real tools (mkfs.ext4 and debugfs, mkfs.xfs and a loop mount, mkfs.fat
// and mtools).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// authRun runs a real tool and fails naming its Debian package when it is
// missing or fails.
func authRun(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	pkg := map[string]string{"mkfs.ext4": "e2fsprogs", "debugfs": "e2fsprogs", "mkfs.fat": "dosfstools", "mcopy": "mtools",
		"mtype": "mtools", "mkfs.xfs": "xfsprogs"}[name]
	cmd := exec.Command(fixture.Tool(t, name, pkg), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// authName is the set's authority, "" for none.
func authName(s report.Set) string {
	if s.Authority.Member == nil {
		return ""
	}
	return *s.Authority.Member
}

// copyImage copies src to dst, keeping it sparse.
func copyImage(t *testing.T, src, dst string) string {
	t.Helper()
	if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

// ext4Base makes an 8 MiB ext4 image with mkfs.ext4 in dir.
func ext4Base(t *testing.T, dir string) string {
	t.Helper()
	img := filepath.Join(dir, "base.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	authRun(t, nil, "mkfs.ext4", "-q", "-F", img)
	return img
}

// debugfsWrite writes a host file of content into img as name with
// debugfs, with the clock at when (E2FSPROGS_FAKE_TIME).
func debugfsWrite(t *testing.T, img, name, content string, when time.Time) {
	t.Helper()
	host := writeFile(t, filepath.Join(t.TempDir(), "src"), []byte(content))
	authRun(t, []string{fmt.Sprintf("E2FSPROGS_FAKE_TIME=%d", when.Unix())}, "debugfs", "-w", "-R", "write "+host+" "+name, img)
}

// lines returns the numbers from..to, one a line, as seq prints them.
func lines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}

// wantSplitBrain checks a scan that must find a split brain: verdict, exit
// code, no authority, no member called stale, and a split-brain problem
// citing each of the given strings; and that repair refuses without
// --prefer and writes nothing.
func wantSplitBrain(t *testing.T, imgs []string, cite ...string) {
	t.Helper()
	before := []string{fileSHA256(t, imgs[0]), fileSHA256(t, imgs[1])}
	code, rep := scanJSON(t, imgs...)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictSplitBrain || s.Authority.Member != nil {
		t.Fatalf("exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	for _, m := range s.Members {
		if m.State == report.StateStale {
			t.Errorf("%s is called stale in a split brain", m.Path)
		}
	}
	p := ftProblem(s.Problems, "split-brain")
	if p == nil {
		t.Fatalf("no split-brain problem: %+v", s.Problems)
	}
	for _, c := range cite {
		if !strings.Contains(p.Message, c) {
			t.Errorf("split-brain problem does not cite %q: %s", c, p.Message)
		}
	}
	out := t.TempDir()
	if code, _, stderr := mirrorchk(t, "repair", "--out", out, imgs[0], imgs[1]); code != exitProblems || !strings.Contains(stderr, "split brain") {
		t.Errorf("repair: exit %d %s", code, stderr)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("repair without authority wrote %d files", len(left))
	}
	code, stdout, _ := mirrorchk(t, "repair", "--dry-run", imgs[0], imgs[1])
	if code != exitProblems || strings.Contains(stdout, "Bytes to copy:  1") || !strings.Contains(stdout, "Verdict: split brain") {
		t.Errorf("repair --dry-run: exit %d\n%s", code, stdout)
	}
	if after := []string{fileSHA256(t, imgs[0]), fileSHA256(t, imgs[1])}; after[0] != before[0] || after[1] != before[1] {
		t.Error("an input changed")
	}
}

// TestBareExt4SameInodeSplitBrain: from one mkfs.ext4 image, debugfs
// writes /g.txt on s1 and, a second later, /h.txt on s0: both take inode
// 12 and the same blocks. Neither member is the later writer of the
// other's file: a split brain whose problem names both files and the
// inode, however the timestamps fall. The same with one name on both
// sides (/x.txt, created at different times). Written on one side only, the
// writer is current.
func TestBareExt4SameInodeSplitBrain(t *testing.T) {
	dir := t.TempDir()
	base := ext4Base(t, dir)
	t0 := time.Now().Truncate(time.Second).Add(time.Minute) // after mkfs.ext4, before the scan
	s0 := copyImage(t, base, filepath.Join(dir, "s0.img"))
	s1 := copyImage(t, base, filepath.Join(dir, "s1.img"))
	debugfsWrite(t, s1, "g.txt", lines(5, 3004), t0)
	debugfsWrite(t, s0, "h.txt", lines(1, 3000), t0.Add(time.Second))
	wantSplitBrain(t, []string{s0, s1}, "/h.txt in inode 12", "/g.txt in inode 12", "which holds /g.txt", "which holds /h.txt")

	// One name, one inode, two files.
	x0 := copyImage(t, base, filepath.Join(dir, "x0.img"))
	x1 := copyImage(t, base, filepath.Join(dir, "x1.img"))
	debugfsWrite(t, x1, "x.txt", lines(5, 3004), t0)
	debugfsWrite(t, x0, "x.txt", lines(1, 3000), t0.Add(time.Second))
	wantSplitBrain(t, []string{x0, x1}, "/x.txt in inode 12")

	// Written on s0 only: s0 is current, the untouched copy stale.
	o1 := copyImage(t, base, filepath.Join(dir, "o1.img"))
	code, rep := scanJSON(t, s0, o1)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member == nil || *s.Authority.Member != s0 || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("one side written: exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	for _, m := range s.Members {
		if (m.Path == o1) != (m.State == report.StateStale) {
			t.Errorf("%s state %s", m.Path, m.State)
		}
	}
}

// TestBareExt4MountedSplitBrain: the same split brain written by the
// kernel (loop mounts): each member's jbd2 journal sequence moved on from
// the common state, so neither sequence shows the other member has no
// writes of its own; the new files share inode 12 with different
// generations and creation times.
func TestBareExt4MountedSplitBrain(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop mount needs root: the kernel-written split brain is not exercised")
	}
	dir := t.TempDir()
	base := ext4Base(t, dir)
	k0 := copyImage(t, base, filepath.Join(dir, "k0.img"))
	k1 := copyImage(t, base, filepath.Join(dir, "k1.img"))
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	write := func(img string, files ...string) { // name, content, name, content...
		if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			t.Skipf("the kernel refuses the loop mount (%v: %s)", err, out)
		}
		for k := 0; k+1 < len(files); k += 2 {
			name, content := files[k], files[k+1]
			os.MkdirAll(filepath.Dir(filepath.Join(mnt, name)), 0o755)
			if err := os.WriteFile(filepath.Join(mnt, name), []byte(content), 0o644); err != nil {
				t.Error(err)
			}
		}
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v %s", err, out)
		}
	}
	write(k1, "g.txt", lines(5, 3004))
	write(k0, "h.txt", lines(1, 3000), "d/more.txt", lines(1, 9000))
	wantSplitBrain(t, []string{k0, k1}, "/g.txt in inode 12", "/h.txt in inode 12")
}

// TestBareExt4MountedReuse: the opposite case, which the inode identity
// alone cannot tell from a split brain: r1 went on from r0's state,
// deleted /a.txt and created /b.txt in its inode 12 (kernel, loop
// mounts). r0's last journal commit lies unchanged in r1's journal, so r1
// went on from r0's last journalled state: r1 is current, r0 stale, and
// the reasons say why r0's /a.txt in inode 12 is no write of its own.
// (A guard: the verdict was right before inode identities were read.)
// With the journal wrapped since, the inodes both members hold unchanged
// date the common state after /a.txt's last change. Then from the same
// journalled state, debugfs writes on both copies: the journals end alike
// and show nothing, a split brain.
func TestBareExt4MountedReuse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop mount needs root: the kernel-written inode reuse is not exercised")
	}
	dir := t.TempDir()
	base := ext4Base(t, dir)
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	mount := func(img string, f func()) {
		if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			t.Skipf("the kernel refuses the loop mount (%v: %s)", err, out)
		}
		f()
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v %s", err, out)
		}
	}
	mount(base, func() { os.WriteFile(filepath.Join(mnt, "a.txt"), []byte(lines(1, 3000)), 0o644) })
	r0 := copyImage(t, base, filepath.Join(dir, "r0.img"))
	r1 := copyImage(t, base, filepath.Join(dir, "r1.img"))
	mount(r1, func() {
		os.Remove(filepath.Join(mnt, "a.txt"))
		exec.Command("sync").Run()
		os.WriteFile(filepath.Join(mnt, "b.txt"), []byte(lines(7, 4000)), 0o644)
	})
	code, rep := scanJSON(t, r0, r1)
	s := rep.Sets[0]
	if code != exitProblems || s.Authority.Member == nil || *s.Authority.Member != r1 || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	all := ftReasons(s)
	if !strings.Contains(all, "/a.txt in inode 12") || !strings.Contains(all, "lies unchanged in "+r1+"'s log") {
		t.Errorf("reasons do not say why r0's /a.txt is no write of its own:\n%s", all)
	}
	for _, m := range s.Members {
		if (m.Path == r0) != (m.State == report.StateStale) {
			t.Errorf("%s state %s", m.Path, m.State)
		}
	}

	// The same reuse, but w1's journal wraps afterwards (300 more
	// commits), so its log no longer holds w0's last commit. Inodes both
	// hold unchanged (x1..x3, stamped by the kernel to the nanosecond)
	// were changed after w0's /a.txt: /a.txt is the common state's, and w1
	// deleted it. From that same base, a new file on each side in one
	// inode is still a split brain: both were made after every inode the
	// members share.
	wbase := ext4Base(t, t.TempDir())
	mount(wbase, func() {
		os.WriteFile(filepath.Join(mnt, "a.txt"), []byte(lines(1, 3000)), 0o644)
		exec.Command("sync").Run()
		for k := 1; k <= 3; k++ {
			os.WriteFile(filepath.Join(mnt, fmt.Sprintf("x%d", k)), []byte("x"), 0o644)
		}
	})
	w0 := copyImage(t, wbase, filepath.Join(dir, "w0.img"))
	w1 := copyImage(t, wbase, filepath.Join(dir, "w1.img"))
	mount(w1, func() {
		os.Remove(filepath.Join(mnt, "a.txt"))
		exec.Command("sync").Run()
		os.WriteFile(filepath.Join(mnt, "b.txt"), []byte(lines(7, 4000)), 0o644)
		for k := range 300 {
			os.WriteFile(filepath.Join(mnt, fmt.Sprintf("t%d", k)), nil, 0o644)
			exec.Command("sync").Run()
		}
	})
	code, rep = scanJSON(t, w0, w1)
	s = rep.Sets[0]
	if code != exitProblems || authName(s) != w1 || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("wrapped journal: exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	if all := ftReasons(s); !strings.Contains(all, "what "+w0+" seems to hold that "+w1+" lacks in files it last changed before the members diverged") || !strings.Contains(all, "/a.txt in inode 12") {
		t.Errorf("wrapped journal: reasons do not say why w0's /a.txt is no write of its own:\n%s", all)
	}
	v0 := copyImage(t, wbase, filepath.Join(dir, "v0.img"))
	v1 := copyImage(t, wbase, filepath.Join(dir, "v1.img"))
	mount(v1, func() { os.WriteFile(filepath.Join(mnt, "g.txt"), []byte(lines(5, 3004)), 0o644) })
	mount(v0, func() { os.WriteFile(filepath.Join(mnt, "h.txt"), []byte(lines(1, 3000)), 0o644) })
	wantSplitBrain(t, []string{v0, v1}, "/h.txt in inode", "/g.txt in inode")

	// From the same journalled state, debugfs (which writes outside the
	// journal) writes a new file into inode 13 on each copy: both
	// journals end alike, which shows nothing of writes made outside
	// them: a split brain.
	d0 := copyImage(t, base, filepath.Join(dir, "d0.img"))
	d1 := copyImage(t, base, filepath.Join(dir, "d1.img"))
	t0 := time.Now().Truncate(time.Second).Add(time.Minute)
	debugfsWrite(t, d1, "g.txt", lines(5, 3004), t0)
	debugfsWrite(t, d0, "h.txt", lines(1, 3000), t0.Add(time.Second))
	wantSplitBrain(t, []string{d0, d1}, "/h.txt in inode 13", "/g.txt in inode 13")
}

// TestBareXFSSameInodeSplitBrain: the XFS split brain, written by the
// kernel on two copies of one mkfs.xfs image: both new files take the
// same inode and blocks, with different di_gen and di_crtime. And the
// case it must not be confused with: one member deleted a file of the
// common state and reused its inode (a guard: decided before inode
// identities were read, now with the reason).
func TestBareXFSSameInodeSplitBrain(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop mount needs root: the XFS split brain is not exercised")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.img")
	os.WriteFile(base, nil, 0o644)
	if err := os.Truncate(base, 300<<20); err != nil { // mkfs.xfs's minimum
		t.Fatal(err)
	}
	authRun(t, nil, "mkfs.xfs", "-q", base)
	x0 := copyImage(t, base, filepath.Join(dir, "x0.img"))
	x1 := copyImage(t, base, filepath.Join(dir, "x1.img"))
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	for img, f := range map[string][2]string{x1: {"g.txt", lines(5, 3004)}, x0: {"h.txt", lines(1, 3000)}} {
		if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			t.Skipf("the kernel refuses the loop mount (%v: %s)", err, out)
		}
		if err := os.WriteFile(filepath.Join(mnt, f[0]), []byte(f[1]), 0o644); err != nil {
			t.Error(err)
		}
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v %s", err, out)
		}
	}
	wantSplitBrain(t, []string{x0, x1}, "/h.txt in inode", "/g.txt in inode", "generation")

	// Not a split brain: from a base whose /small was written before x1..x3,
	// c1 deleted /small and reused its inode for /newfile, while c0 was
	// only mounted and unmounted. x1..x3, which both hold unchanged, were
	// changed after /small: /small is the common state's on c0.
	cbase := filepath.Join(dir, "cbase.img")
	os.WriteFile(cbase, nil, 0o644)
	if err := os.Truncate(cbase, 300<<20); err != nil {
		t.Fatal(err)
	}
	authRun(t, nil, "mkfs.xfs", "-q", cbase)
	mount := func(img string, f func()) {
		if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			t.Fatalf("mount: %v %s", err, out)
		}
		f()
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v %s", err, out)
		}
	}
	mount(cbase, func() {
		os.WriteFile(filepath.Join(mnt, "small"), []byte("small\n"), 0o644)
		exec.Command("sync").Run()
		for k := 1; k <= 3; k++ {
			os.WriteFile(filepath.Join(mnt, fmt.Sprintf("x%d", k)), []byte("x"), 0o644)
		}
	})
	c0 := copyImage(t, cbase, filepath.Join(dir, "c0.img"))
	c1 := copyImage(t, cbase, filepath.Join(dir, "c1.img"))
	os.Remove(cbase)
	mount(c0, func() {})
	mount(c1, func() {
		os.Remove(filepath.Join(mnt, "small"))
		exec.Command("sync").Run()
		os.WriteFile(filepath.Join(mnt, "newfile"), []byte("new\n"), 0o644)
	})
	code, rep := scanJSON(t, c0, c1)
	s := rep.Sets[0]
	if code != exitProblems || authName(s) != c1 || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("reuse: exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	// Whether XFS gives /newfile the inode /small had varies from run to
	// run; when /small shows as c0's apparent write, the reasons must say
	// why it is none.
	if all := ftReasons(s); strings.Contains(all, "/small") && (!strings.Contains(all, "what "+c0+" seems to hold that "+c1+" lacks in files it last changed before the members diverged") || !strings.Contains(all, "/small in inode")) {
		t.Errorf("reuse: reasons do not say why c0's /small is no write of its own:\n%s", all)
	}
}

// fatBase makes an 8 MiB FAT12 image holding /keep.txt.
func fatBase(t *testing.T, dir string) string {
	t.Helper()
	img := filepath.Join(dir, "base.img")
	os.WriteFile(img, nil, 0o644)
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	authRun(t, nil, "mkfs.fat", "-F", "12", "-i", "12345678", "-n", "TESTVOL", img)
	authRun(t, nil, "mcopy", "-i", img, writeFile(t, filepath.Join(t.TempDir(), "keep.txt"), []byte(lines(1, 5000))), "::/keep.txt")
	return img
}

// mcopyDated copies content into img as name with mcopy -m -o, the host
// file dated when: the dates a cp -p, rsync -a or unzip would keep.
func mcopyDated(t *testing.T, img, name, content string, when time.Time) {
	t.Helper()
	f := writeFile(t, filepath.Join(t.TempDir(), strings.TrimPrefix(name, "/")), []byte(content))
	if err := os.Chtimes(f, when, when); err != nil {
		t.Fatal(err)
	}
	authRun(t, nil, "mcopy", "-m", "-o", "-i", img, f, "::"+name)
}

// TestBareFATKeptDates: n0 rewrote /keep.txt (same size, same clusters)
// from a file dated 2020, the way cp -p, rsync -a or unzip keep a file's
// old dates; n1 is the untouched copy. The only evidence is that n0's
// directory entries are dated earlier, which a program chose: no
// authority, the reasons say which dates differ and why they cannot
// decide, repair refuses, and --prefer n0 keeps n0's /keep.txt. A new
// file on one side only, in clusters the other has free, decides.
func TestBareFATKeptDates(t *testing.T) {
	dir := t.TempDir()
	base := fatBase(t, dir)
	n0 := copyImage(t, base, filepath.Join(dir, "n0.img"))
	n1 := copyImage(t, base, filepath.Join(dir, "n1.img"))
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	newer := lines(5001, 10000)[:23893]
	mcopyDated(t, n0, "/keep.txt", newer, old)

	code, rep := scanJSON(t, n0, n1)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member != nil || ftProblem(s.Problems, "no-authority") == nil {
		t.Fatalf("exit %d verdict %s authority %q problems %+v\n%s", code, s.Verdict, authName(s), s.Problems, ftReasons(s))
	}
	for _, m := range s.Members {
		if m.State == report.StateStale {
			t.Errorf("%s is called stale by dates a program set", m.Path)
		}
	}
	all := ftReasons(s)
	for _, want := range []string{"latest timestamp in the directory entries: " + n0 + " 2020-01-01T00:00:00Z", "not used, these are dates the writing programs set",
		"(/keep.txt, dated ", "and 2020-01-01T00:00:00Z on " + n0} {
		if !strings.Contains(all, want) {
			t.Errorf("reasons do not say %q:\n%s", want, all)
		}
	}
	out := t.TempDir()
	if code, _, stderr := mirrorchk(t, "repair", "--out", out, n0, n1); code != exitProblems || !strings.Contains(stderr, "no authoritative member") {
		t.Errorf("repair: exit %d %s", code, stderr)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("repair without authority wrote %d files", len(left))
	}
	if code, _, stderr := mirrorchk(t, "repair", "--out", out, "--prefer", n0, n0, n1); code != exitRepaired {
		t.Fatalf("repair --prefer: exit %d %s", code, stderr)
	}
	for _, m := range []string{"n0.img", "n1.img"} {
		if got := authRun(t, nil, "mtype", "-i", filepath.Join(out, m), "::/keep.txt"); got != newer {
			t.Errorf("repaired %s: /keep.txt is not n0's (starts %q)", m, got[:min(len(got), 20)])
		}
	}

	// n0 also wrote a new file, old-dated as well: it holds clusters that
	// n1 has free. That shows a write n1 lacks, but n1's /keep.txt is
	// still dated later than n0's, and whether that is n1's own rewrite
	// or n0's kept dates no evidence says: still no authority, and no
	// split brain claimed on dates.
	mcopyDated(t, n0, "/added.txt", lines(1, 2000), old)
	code, rep = scanJSON(t, n0, n1)
	s = rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member != nil {
		t.Fatalf("n0 added a file: exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	if all := ftReasons(s); !strings.Contains(all, n0+" holds 9216 bytes of files that "+n1+" lacks (e.g. /added.txt), but "+n1+" holds 24064 bytes of files dated later than on "+n0+" (e.g. /keep.txt, dated") || !strings.Contains(all, "cannot be taken over") {
		t.Errorf("reasons do not say why the allocation cannot decide:\n%s", all)
	}

	// Only a new file on a0, dated 2020 (cp -p): a0 holds clusters a1 has
	// free and a1 nothing a0 lacks; the dates are equal (the newest is
	// the common state's). a0 is current, a1 stale.
	a0 := copyImage(t, base, filepath.Join(dir, "a0.img"))
	a1 := copyImage(t, base, filepath.Join(dir, "a1.img"))
	mcopyDated(t, a0, "/added.txt", lines(1, 2000), old)
	code, rep = scanJSON(t, a0, a1)
	s = rep.Sets[0]
	if code != exitProblems || s.Authority.Member == nil || *s.Authority.Member != a0 || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("a0 added a file: exit %d verdict %s authority %q\n%s", code, s.Verdict, authName(s), ftReasons(s))
	}
	if all := ftReasons(s); !strings.Contains(all, a0+" holds 9216 bytes of files that "+a1+" lacks (e.g. /added.txt), and "+a1+" none") {
		t.Errorf("reasons do not cite the allocation:\n%s", all)
	}
	for _, m := range s.Members {
		if (m.Path == a1) != (m.State == report.StateStale) {
			t.Errorf("%s state %s", m.Path, m.State)
		}
	}
}
