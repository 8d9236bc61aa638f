package check_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/internal/fakefs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// ext4Pair makes two bare ext4 images from one mkfs.ext4 -d: m0 as made,
// m1 changed afterwards by change(m1).
func ext4Pair(t *testing.T, change func(t *testing.T, img string)) (m0, m1 string) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "docs"), 0o755)
	for i := range 20 {
		os.WriteFile(filepath.Join(src, "docs", fmt.Sprintf("f%02d.txt", i)), []byte(strings.Repeat(fmt.Sprintf("line %d\n", i), 500*(i+1))), 0o644)
	}
	m0 = filepath.Join(dir, "m0.img")
	os.WriteFile(m0, nil, 0o644)
	os.Truncate(m0, 32<<20)
	mkfs := fixture.Tool(t, "mkfs.ext4", "e2fsprogs")
	if out, err := exec.Command(mkfs, "-q", "-F", "-b", "4096", "-d", src, m0).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	m1 = filepath.Join(dir, "m1.img")
	if out, err := exec.Command("cp", "--sparse=always", m0, m1).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	change(t, m1)
	return m0, m1
}

func sha(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// checkExt4 runs Check over the pair with the default openers and
// returns the result, after proving the inputs unchanged.
func checkExt4(t *testing.T, m0, m1 string) *check.Result {
	h0, h1 := sha(t, m0), sha(t, m1)
	s := fakefs.Group(t, m0, m1)
	r, err := check.Check(context.Background(), s, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sha(t, m0) != h0 || sha(t, m1) != h1 {
		t.Fatal("check changed an input")
	}
	for i, l := range r.Layouts {
		if l == nil || len(l.Volumes) != 1 || l.Volumes[0].Vol.Type() != "ext4" {
			t.Fatalf("member %d: layout %+v", i, l)
		}
	}
	return r
}

// TestExt4DebugfsNewer: m1 was written later by debugfs (a new file, a
// removed one, an inode field; its superblock write time is later): the
// differing ranges are named by file, and m1 is taken as current by the
// superblock's write time, the journal sequence being equal.
func TestExt4DebugfsNewer(t *testing.T) {
	m0, m1 := ext4Pair(t, func(t *testing.T, img string) {
		host := filepath.Join(t.TempDir(), "new")
		os.WriteFile(host, []byte(strings.Repeat("new data\n", 3000)), 0o644)
		cmds := filepath.Join(t.TempDir(), "cmds")
		os.WriteFile(cmds, []byte("write "+host+" /docs/new.txt\nrm /docs/f03.txt\nset_inode_field /docs/f05.txt mtime 20300101000000\n"), 0o644)
		cmd := exec.Command(fixture.Tool(t, "debugfs", "e2fsprogs"), "-w", "-f", cmds, img)
		cmd.Env = append(os.Environ(), fmt.Sprintf("E2FSPROGS_FAKE_TIME=%d", time.Now().Unix()+600))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("debugfs: %v %s", err, out)
		}
	})
	r := checkExt4(t, m0, m1)
	if r.Authority == nil || filepath.Base(r.Authority.Path()) != "m1.img" {
		t.Fatalf("authority %v, reasons %q", r.Authority, r.Reasons)
	}
	all := strings.Join(r.Reasons, "; ")
	if !strings.Contains(all, "jbd2 journal sequence (next transaction ID): equal") || !strings.Contains(all, "latest timestamp") {
		t.Errorf("reasons %q", all)
	}
	paths := map[string]bool{}
	structures := map[string]bool{}
	for _, p := range r.Pieces {
		for _, o := range p.Owners {
			if o.FS != "ext4" {
				t.Errorf("piece at %d: owner %+v", p.Offset, o)
			}
			paths[o.Path] = true
			structures[o.Structure] = true
		}
	}
	for _, want := range []string{"/docs/new.txt", "/docs", "/docs/f05.txt"} {
		if !paths[want] {
			t.Errorf("no differing range owned by %s; paths %v", want, paths)
		}
	}
	for _, want := range []string{"superblock", "group descriptors", "block bitmap of group 0", "inode table of group 0"} {
		if !structures[want] {
			t.Errorf("no differing range owned by %q; structures %v", want, structures)
		}
	}
}

// TestExt4MountedNewer: m1 was loop-mounted, written and unmounted: its
// jbd2 journal sequence moved on, and that decides.
func TestExt4MountedNewer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop mount needs root: the jbd2 evidence case is not exercised")
	}
	m0, m1 := ext4Pair(t, func(t *testing.T, img string) {
		mnt := filepath.Join(t.TempDir(), "mnt")
		os.Mkdir(mnt, 0o755)
		if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			t.Skipf("the kernel refuses the loop mount (%v: %s)", err, out)
		}
		os.WriteFile(filepath.Join(mnt, "docs", "mounted.txt"), []byte(strings.Repeat("x", 50000)), 0o644)
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v %s", err, out)
		}
	})
	r := checkExt4(t, m0, m1)
	if r.Authority == nil || filepath.Base(r.Authority.Path()) != "m1.img" {
		t.Fatalf("authority %v, reasons %q", r.Authority, r.Reasons)
	}
	if all := strings.Join(r.Reasons, "; "); !strings.Contains(all, "jbd2 journal sequence (next transaction ID): ") || strings.Contains(all, "sequence (next transaction ID): equal") {
		t.Errorf("reasons %q", all)
	}
	found := false
	for _, p := range r.Pieces {
		for _, o := range p.Owners {
			found = found || o.Path == "/docs/mounted.txt"
		}
	}
	if !found {
		t.Error("no differing range owned by /docs/mounted.txt")
	}
}
