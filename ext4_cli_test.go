package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// TestScanExt4Pair: two bare ext4 images from one mkfs.ext4 -d, m1 later
// changed by debugfs (a new file, a removal, an inode field) at a later
// clock. scan names ext4 on both, m1 current by the superblock's write
// time (the jbd2 sequence being equal), the touched files by path, and
// leaves both inputs as they were.
func TestScanExt4Pair(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "docs")
	os.MkdirAll(src, 0o755)
	for i := range 10 {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d.txt", i)), []byte(strings.Repeat("text\n", 1000*(i+1))), 0o644)
	}
	m0, m1 := filepath.Join(dir, "m0.img"), filepath.Join(dir, "m1.img")
	os.WriteFile(m0, nil, 0o644)
	os.Truncate(m0, 32<<20)
	if out, err := exec.Command(fixture.Tool(t, "mkfs.ext4", "e2fsprogs"), "-q", "-F", "-b", "4096", "-d", filepath.Join(dir, "src"), m0).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	if out, err := exec.Command("cp", "--sparse=always", m0, m1).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	host := filepath.Join(dir, "new")
	os.WriteFile(host, []byte(strings.Repeat("new\n", 5000)), 0o644)
	cmds := filepath.Join(dir, "cmds")
	os.WriteFile(cmds, []byte("write "+host+" /docs/new.txt\nrm /docs/f02.txt\n"), 0o644)
	cmd := exec.Command(fixture.Tool(t, "debugfs", "e2fsprogs"), "-w", "-f", cmds, m1)
	cmd.Env = append(os.Environ(), fmt.Sprintf("E2FSPROGS_FAKE_TIME=%d", time.Now().Unix()+600))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v %s", err, out)
	}
	h0, h1 := fileSHA256(t, m0), fileSHA256(t, m1)

	_, rep := scanJSON(t, m0, m1)
	if len(rep.Sets) != 1 {
		t.Fatalf("%d sets", len(rep.Sets))
	}
	s := rep.Sets[0]
	for _, m := range s.Members {
		if len(m.Filesystems) != 1 || m.Filesystems[0].Type != "ext4" {
			t.Fatalf("%s: filesystems %+v", m.Path, m.Filesystems)
		}
		if !slices.Contains(m.Filesystems[0].Evidence, "jbd2 journal sequence (next transaction ID) 1") {
			t.Errorf("%s: evidence %q", m.Path, m.Filesystems[0].Evidence)
		}
	}
	if s.Authority.Member == nil || *s.Authority.Member != m1 || s.Authority.Basis != report.BasisFilesystem {
		t.Fatalf("authority %v (%s): %q", s.Authority.Member, s.Authority.Basis, s.Authority.Reasons)
	}
	reasons := strings.Join(s.Authority.Reasons, "; ")
	if !strings.Contains(reasons, "jbd2 journal sequence (next transaction ID): equal") || !strings.Contains(reasons, "latest timestamp") {
		t.Errorf("reasons %q", reasons)
	}
	var files []string
	for _, f := range s.Files {
		files = append(files, f.Path)
	}
	for _, want := range []string{"/docs/new.txt", "/docs"} {
		if !slices.Contains(files, want) {
			t.Errorf("files %q lack %s", files, want)
		}
	}
	if fileSHA256(t, m0) != h0 || fileSHA256(t, m1) != h1 {
		t.Fatal("scan changed an input")
	}
}
