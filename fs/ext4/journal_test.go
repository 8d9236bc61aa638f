package ext4

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// mountedCopies mounts a copy of the ext4 fixture through a loop device,
// writes a file and syncs; crash is a copy of the image taken while still
// mounted (needs_recovery, a live jbd2 log), after the copy after umount.
// It skips, saying why, when the kernel or the user cannot loop-mount.
func mountedCopies(t *testing.T) (base, crash, after string) {
	base = copyImage(t, fixturePath(t, "ext4"), "m0.img")
	after = copyImage(t, base, "m1.img")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	if os.Geteuid() != 0 {
		t.Skip("loop mount needs root: the jbd2 journal case is not exercised")
	}
	if out, err := exec.Command("mount", "-o", "loop", after, mnt).CombinedOutput(); err != nil {
		t.Skipf("the kernel refuses the loop mount (%v: %s): the jbd2 journal case is not exercised", err, out)
	}
	mounted := true
	defer func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	}()
	if err := os.WriteFile(filepath.Join(mnt, "a", "journalled"), make([]byte, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(mnt, "c", "jdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sync").CombinedOutput(); err != nil {
		t.Fatalf("sync: %v %s", err, out)
	}
	crash = copyImage(t, after, "crash.img")
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	mounted = false
	return base, crash, after
}

// TestJournal: in a copy taken while mounted, every differing block of the
// journal is named with the transaction debugfs logdump finds there, the
// sequence evidence matches logdump and dumpe2fs, needs_recovery is
// reported (a warning: e2fsck -fn passes it); after umount the journal's
// sequence shows that copy written later than the original.
func TestJournal(t *testing.T) {
	base, crash, after := mountedCopies(t)
	v0, vc, va := openFile(t, base), openFile(t, crash), openFile(t, after)

	// logdump: journal block -> transaction.
	out := debugfsR(t, crash, "logdump -a")
	seqAt := map[uint64]uint32{}
	var last uint32
	cur := uint32(0)
	reFound := regexp.MustCompile(`Found expected sequence (\d+), type (\d+) \([^)]*\) at block (\d+)`)
	reLogged := regexp.MustCompile(`logged at journal block (\d+)`)
	for _, l := range strings.Split(out, "\n") {
		if m := reFound.FindStringSubmatch(l); m != nil {
			s, _ := strconv.ParseUint(m[1], 10, 32)
			j, _ := strconv.ParseUint(m[3], 10, 64)
			cur = uint32(s)
			seqAt[j] = cur
			if m[2] == "2" {
				last = cur
			}
		}
		if m := reLogged.FindStringSubmatch(l); m != nil {
			j, _ := strconv.ParseUint(m[1], 10, 64)
			seqAt[j] = cur
		}
	}
	if last == 0 {
		t.Fatalf("logdump found no committed transaction:\n%s", out)
	}
	if got := vc.Evidence().LogLSN; got != uint64(last)+1 {
		t.Errorf("crash copy: LogLSN %d, logdump's last commit %d", got, last)
	}
	if e := vc.Evidence(); e.Dirty == nil || !*e.Dirty || e.LogClean == nil || *e.LogClean {
		t.Errorf("crash copy: evidence %+v, want dirty and a live log", e)
	}
	ps := vc.Problems()
	if !hasCode(ps, "ext4-needs-recovery") {
		t.Errorf("crash copy: no ext4-needs-recovery in %+v", ps)
	}
	if o, code := run(t, "e2fsck", "e2fsprogs", "-fn", crash); code != 0 {
		t.Fatalf("e2fsck -fn crash copy: %d %s", code, o)
	} else if e := errorsOf(ps); len(e) > 0 {
		t.Errorf("crash copy passes e2fsck -fn, mirrorchk says %+v", e)
	}

	// Journal block -> filesystem block, through debugfs bmap <8>.
	var js []uint64
	var args []string
	for j := range seqAt {
		js = append(js, j)
		args = append(args, "<8> "+strconv.FormatUint(j, 10))
	}
	fsb := bmaps(t, crash, args...)
	where := map[uint64]uint32{}
	for i, j := range js {
		where[fsb[i]] = seqAt[j]
	}
	named := 0
	for _, b := range diffBlocks(t, base, crash, vc.bs) {
		o := ownerOfBlock(vc, b)
		seq, inLog := where[b]
		if !inLog {
			if strings.HasPrefix(o.Structure, "journal (transaction") {
				t.Errorf("block %d: %q but logdump has it in no transaction", b, o.Structure)
			}
			continue
		}
		want := "journal (transaction " + strconv.FormatUint(uint64(seq), 10) + ")"
		if o.Structure != want || o.Record != 8 {
			t.Errorf("block %d: owner %+v, logdump says %s", b, o, want)
		}
		named++
	}
	if named < 3 {
		t.Errorf("only %d journal blocks differ", named)
	}

	// After umount: the sequence moved on; dumpe2fs agrees.
	d, _ := run(t, "dumpe2fs", "e2fsprogs", "-h", after)
	m := regexp.MustCompile(`Journal sequence:\s+0x([0-9a-f]+)`).FindStringSubmatch(d)
	if m == nil {
		t.Fatalf("dumpe2fs -h: no journal sequence\n%s", d)
	}
	seq, _ := strconv.ParseUint(m[1], 16, 32)
	e0, ea := v0.Evidence(), va.Evidence()
	if ea.LogLSN != seq || ea.LogLSN <= e0.LogLSN {
		t.Errorf("after umount: LogLSN %d (dumpe2fs %d), original %d", ea.LogLSN, seq, e0.LogLSN)
	}
	if *ea.Dirty || !*ea.LogClean || ea.Latest.Before(e0.Latest) {
		t.Errorf("after umount: evidence %+v against the original's %+v", ea, e0)
	}
}

// kernelFS returns a copy of the ext4 fixture after the kernel wrote to it
// through a loop mount: a directory of 2,000 entries (an htree the kernel
// builds), a preallocated file (unwritten extents), two files grown in
// turns (fragmented extents, an extent tree), a removed file, a hard link.
// It skips, saying why, when the loop mount is refused.
func kernelFS(t *testing.T) string {
	img := copyImage(t, fixturePath(t, "ext4"), "kernel.img")
	if os.Geteuid() != 0 {
		t.Skip("loop mount needs root: the kernel-written case is not exercised")
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("the kernel refuses the loop mount (%v: %s)", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	k := filepath.Join(mnt, "k")
	os.Mkdir(k, 0o755)
	for i := range 2000 {
		os.WriteFile(filepath.Join(k, "kernel-made-entry-"+strconv.Itoa(i)), []byte(strconv.Itoa(i)), 0o644)
	}
	if out, err := exec.Command("fallocate", "-l", "3M", filepath.Join(mnt, "prealloc")).CombinedOutput(); err != nil {
		t.Fatalf("fallocate: %v %s", err, out)
	}
	a, _ := os.Create(filepath.Join(mnt, "frag-a"))
	b, _ := os.Create(filepath.Join(mnt, "frag-b"))
	chunk := make([]byte, 8192)
	for i := range 200 {
		chunk[0] = byte(i)
		a.Write(chunk)
		a.Sync()
		b.Write(chunk)
		b.Sync()
	}
	a.Close()
	b.Close()
	os.Remove(filepath.Join(mnt, "a", "f7"))
	os.Link(filepath.Join(mnt, "a", "f8"), filepath.Join(mnt, "k", "hard-f8"))
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	return img
}
