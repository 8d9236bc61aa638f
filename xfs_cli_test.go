package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/xfsfixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// TestXFSScanRepair: scan and repair of two bare XFS v5 members, m1 a copy
// of m0 that was loop-mounted and changed afterwards (mkfs.xfs protofile,
// mount, umount). The scan names m1 by the log LSN and lists the files the
// divergence touches; repair writes images xfs_repair -n calls clean; the
// inputs are never modified.
func TestXFSScanRepair(t *testing.T) {
	dir := t.TempDir()
	fx, err := xfsfixture.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fx.Mounted {
		t.Skip(fx.MountWhy)
	}
	m0, m1 := filepath.Join(dir, "m0.img"), filepath.Join(dir, "m1.img")
	if err := os.Rename(fx.V5, m0); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fx.V5B, m1); err != nil {
		t.Fatal(err)
	}
	before := []string{fileSHA256(t, m0), fileSHA256(t, m1)}

	code, rep := scanJSON(t, m0, m1)
	s := rep.Sets[0]
	if s.Authority.Member == nil || *s.Authority.Member != m1 || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("exit %d: authority %v (%s): %q", code, s.Authority.Member, s.Authority.Basis, s.Authority.Reasons)
	}
	for _, m := range s.Members {
		if len(m.Filesystems) != 1 || m.Filesystems[0].Type != "xfs" {
			t.Errorf("%s: filesystems %+v", m.Path, m.Filesystems)
		}
	}
	files := map[string]bool{}
	for _, f := range s.Files {
		if f.FS != "xfs" {
			t.Errorf("file %+v not on xfs", f)
		}
		files[f.Path] = true
	}
	for _, want := range []string{"/newfile", "/newdir/inner", "/big", "/blockdir"} {
		if !files[want] {
			t.Errorf("%s not among the files the divergence touches: %v", want, s.Files)
		}
	}

	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, m0, m1)
	if code != exitRepaired {
		t.Fatalf("repair: exit %d: %s\n%s", code, stderr, stdout)
	}
	for _, n := range []string{"m0.img", "m1.img"} {
		p := filepath.Join(out, n)
		if rc, msg := xfsfixture.Repair(p); rc != 0 {
			t.Errorf("xfs_repair -n %s: exit %d\n%s", n, rc, msg)
		}
		if got := fileSHA256(t, p); got != before[1] {
			t.Errorf("repaired %s differs from the authority m1", n)
		}
	}
	if after := []string{fileSHA256(t, m0), fileSHA256(t, m1)}; strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("inputs changed: %v -> %v", before, after)
	}
}
