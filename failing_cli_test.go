package main

// Failing disks (issue 13): members imaged with the real GNU ddrescue and
// given holes the way a failing disk leaves them, real I/O errors through
// a FUSE file, interrupted repairs, and reports for operational errors.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/image/mapfile"
	"github.com/mirrorchk/mirrorchk/internal/eiofs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/internal/fsfixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// hole is a region a failing disk did not give up: ddrescue leaves zeros
// in the image and the status in the mapfile.
type hole struct {
	off, n int64 // image offsets
	st     byte  // '-', '/', '*' or '?'
}

// ddrescueImage images src with the real ddrescue into dst (and dst.map
// beside it), then zeroes each hole in dst and marks it in the mapfile as
// a failing disk leaves it.
func ddrescueImage(t *testing.T, src, dst string, holes []hole) {
	t.Helper()
	ddrescue := fixture.Tool(t, "ddrescue", "gddrescue")
	mp := dst + ".map"
	if out, err := exec.Command(ddrescue, "-q", src, dst, mp).CombinedOutput(); err != nil {
		t.Fatalf("ddrescue: %v\n%s", err, out)
	}
	if len(holes) == 0 {
		return
	}
	b := mustRead(t, dst)
	text := string(mustRead(t, mp))
	head := text[:strings.Index(text, "#      pos")]
	var blocks strings.Builder
	blocks.WriteString(head + "#      pos        size  status\n")
	var at int64
	for _, h := range holes {
		clear(b[h.off : h.off+h.n])
		if h.off > at {
			fmt.Fprintf(&blocks, "0x%08X  0x%08X  +\n", at, h.off-at)
		}
		fmt.Fprintf(&blocks, "0x%08X  0x%08X  %c\n", h.off, h.n, h.st)
		at = h.off + h.n
	}
	if size := int64(len(b)); at < size {
		fmt.Fprintf(&blocks, "0x%08X  0x%08X  +\n", at, size-at)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mp, []byte(blocks.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// ddrescuelog reads the failing disk's mapfile as we wrote it.
	log := fixture.Tool(t, "ddrescuelog", "gddrescue")
	if out, err := exec.Command(log, "-t", mp).CombinedOutput(); err != nil {
		t.Fatalf("ddrescuelog -t %s: %v\n%s", mp, err, out)
	}
}

type salvage struct {
	off, n int64
	source string // "" when lost
	basis  string
}

func salvagesOf(rs []report.Salvage) []salvage {
	var out []salvage
	for _, r := range rs {
		s := salvage{off: r.VolumeOffset, n: r.Length, basis: r.Basis}
		if r.Source != nil {
			s.source = filepath.Base(*r.Source)
		}
		out = append(out, s)
	}
	return out
}

// readMapfile parses a mapfile and returns its bad ranges.
func readMapfile(t *testing.T, path string, size int64) []mapfile.Range {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mapfile.Parse(f, path)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := m.Unreadable(path, size)
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// A real md RAID-1 pair with a write-intent bitmap whose current member
// m0 came off a failing disk (imaged with ddrescue, holes of every kind),
// the stale m1 readable: holes outside the bitmap's dirty chunks are
// recovered from m1, holes in dirty chunks are lost; the repair writes
// every recoverable byte, leaves the lost ones, marks them in a mapfile
// beside each output, and exits 4.
func TestFailingDiskMD(t *testing.T) {
	const dataOff, chunk = 1 << 20, 64 << 10
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	dir := t.TempDir()
	m0, m1 := filepath.Join(dir, "m0.img"), filepath.Join(dir, "m1.img")
	ddrescueImage(t, src[0], m0, []hole{
		{dataOff + 2*chunk, 4096, '-'},           // clean chunk: m1's copy is current
		{dataOff + 5*chunk + 512, 1536, '*'},     // clean chunk, non-trimmed
		{dataOff + 16*chunk + 0x1000, 1024, '/'}, // dirty chunk, written after the split: lost
		{dataOff + 63*chunk + 8192, 512, '?'},    // dirty chunk, past the bytes written: lost all the same
		{dataOff + 100*chunk, 8192, '-'},         // clean chunk, but m1 cannot read half of it either
	})
	ddrescueImage(t, src[1], m1, []hole{{dataOff + 100*chunk + 4096, 8192, '-'}})
	before := []string{fileSHA256(t, m0), fileSHA256(t, m1)}

	code, rep := scanJSON(t, m0, m1)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || *s.Authority.Member != m0 {
		t.Fatalf("exit %d verdict %s authority %v", code, s.Verdict, s.Authority.Member)
	}
	wantRec := []salvage{
		{2 * chunk, 4096, "m1.img", report.SalvageBitmap},
		{5*chunk + 512, 1536, "m1.img", report.SalvageBitmap},
		{100 * chunk, 4096, "m1.img", report.SalvageBitmap},
		{100*chunk + 8192, 4096, "m0.img", report.SalvageAuthority},
	}
	wantLost := []salvage{
		{16*chunk + 0x1000, 1024, "", report.SalvageLost},
		{63*chunk + 8192, 512, "", report.SalvageLost},
		{100*chunk + 4096, 4096, "", report.SalvageLost},
	}
	if got := salvagesOf(s.Recovered); !slices.Equal(got, wantRec) {
		t.Errorf("recovered\n%v\nwant\n%v", got, wantRec)
	}
	if got := salvagesOf(s.Lost); !slices.Equal(got, wantLost) {
		t.Errorf("lost\n%v\nwant\n%v", got, wantLost)
	}
	if s.LostBytes != 5632 || s.RecoveredBytes != 13824 || !hasCode(s.Problems, "data-lost") {
		t.Errorf("lost %d recovered %d problems %v", s.LostBytes, s.RecoveredBytes, s.Problems)
	}
	if v := report.SetBottom(rep, &s).Verdict; !strings.Contains(v, "; 5632 bytes (5.5 KiB) lost: no copy the evidence vouches for") {
		t.Errorf("the bottom line does not say what is lost: %q", v)
	}
	u := s.Members[0].Unreadable
	if u.Bytes != 4096+1536+1024+512+8192 || u.DeclaredBytes != u.Bytes || u.ReadErrorBytes != 0 || !strings.Contains(u.DeclaredBy, "m0.img.map (found beside the image)") ||
		len(u.List) != 5 || u.List[0].Offset != dataOff+2*chunk || *u.List[0].VolumeOffset != 2*chunk || u.List[0].Cause != report.CauseDeclared {
		t.Errorf("m0 unreadable %+v", u)
	}
	for _, m := range s.Members {
		if m.Hashes["sha256"] == "" {
			t.Errorf("%s: a declared hole is still read and hashed", m.Path)
		}
	}

	// The repair: into a directory that does not exist yet.
	out := filepath.Join(t.TempDir(), "fixed")
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, m0, m1)
	if code != exitProblems {
		t.Fatalf("repair exit %d, want 4 (not fully repaired): %s", code, stderr)
	}
	rr, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	r := rr.Sets[0].Repair
	if r.Status != "partial" || len(r.Outputs) != 2 {
		t.Fatalf("repair %+v", r)
	}
	truth := mustRead(t, src[0]) // m0 before its disk failed
	inLost := func(off int64) bool {
		return slices.ContainsFunc(wantLost, func(l salvage) bool { return off >= dataOff+l.off && off < dataOff+l.off+l.n })
	}
	for i, o := range r.Outputs {
		if !o.Verified || o.LostBytes != 5632 || o.Mapfile != filepath.Join(out, filepath.Base(o.Member)+".map") {
			t.Errorf("output %s: verified %v lost %d mapfile %q", o.Path, o.Verified, o.LostBytes, o.Mapfile)
		}
		got := mustRead(t, o.Path)
		// Everywhere recoverable the data area is the truth; in lost
		// ranges the output holds what its own member held.
		own := [][]byte{mustRead(t, m0), mustRead(t, m1)}[i]
		for off := int64(dataOff); off < int64(len(got)); off += 512 {
			want := truth[off : off+512]
			if inLost(off) {
				want = own[off : off+512]
			}
			if !bytes.Equal(got[off:off+512], want) {
				t.Fatalf("%s: sector at %#x differs from the truth (lost: %v)", o.Path, off, inLost(off))
			}
		}
		bad := readMapfile(t, o.Mapfile, int64(len(got)))
		var want []mapfile.Range
		for _, l := range wantLost {
			want = append(want, mapfile.Range{Off: dataOff + l.off, Len: l.n})
		}
		if !slices.Equal(bad, want) {
			t.Errorf("%s: '-' blocks %x, want the lost ranges %x", o.Mapfile, bad, want)
		}
		// ddrescuelog agrees.
		log := fixture.Tool(t, "ddrescuelog", "gddrescue")
		lo, err := exec.Command(log, "-l-", "-b", "512", o.Mapfile).Output()
		if err != nil || len(strings.Fields(string(lo))) != 11 {
			t.Errorf("ddrescuelog -l- %s: %v: %q", o.Mapfile, err, lo)
		}
	}
	if after := []string{fileSHA256(t, m0), fileSHA256(t, m1)}; !slices.Equal(before, after) {
		t.Error("an input changed")
	}
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"m0.img", "m0.img.map", "m1.img", "m1.img.map"}) {
		t.Errorf("output directory holds %v", names)
	}
}

// A failing disk scanned directly: m0 of a real md pair is served through
// FUSE with EIO in chosen ranges, and scanned as a regular file and as a
// block device (a read-only loop device on it). The read errors are
// retried down to the sector, reported as unreadable, never compared as
// zeros, and the scan and the repair go on.
func TestFailingDiskEIO(t *testing.T) {
	const dataOff, chunk = 1 << 20, 64 << 10
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	bad := []eiofs.Range{
		{Off: 0x80000, Len: 4096},                     // metadata area, past the superblock and bitmap
		{Off: dataOff + 3*chunk + 8192, Len: 4096},    // clean chunk: recovered from m1
		{Off: dataOff + 17*chunk + 0x2000, Len: 4096}, // dirty chunk: lost
	}
	disk := eiofs.Serve(t, src[0], "m0.img", bad)
	if _, err := os.ReadFile(disk.Path); err == nil {
		t.Fatal("the FUSE file reads without error")
	}
	check := func(t *testing.T, m0 string) {
		code, stdout, stderr := mirrorchk(t, "scan", "--json", m0, src[1])
		if code != exitProblems {
			t.Fatalf("scan exit %d: %s", code, stderr)
		}
		rep, err := report.ReadJSON(strings.NewReader(stdout))
		if err != nil {
			t.Fatal(err)
		}
		s := rep.Sets[0]
		u := s.Members[0].Unreadable
		if u.ReadErrorBytes != 3*4096 || u.Bytes != 3*4096 || u.DataBytes != 2*4096 || len(u.List) != 3 || u.List[0].VolumeOffset != nil || u.List[1].Cause != report.CauseReadError {
			t.Errorf("unreadable %+v", u)
		}
		if len(s.Members[0].Hashes) != 0 || !hasCode(s.Problems, "hash-incomplete") || s.Members[1].Hashes["sha256"] == "" {
			t.Errorf("hashes %v %v", s.Members[0].Hashes, s.Problems)
		}
		wantRec := []salvage{{3*chunk + 8192, 4096, "m1.img", report.SalvageBitmap}}
		wantLost := []salvage{{17*chunk + 0x2000, 4096, "", report.SalvageLost}}
		if got := salvagesOf(s.Recovered); !slices.Equal(got, wantRec) {
			t.Errorf("recovered %v, want %v", got, wantRec)
		}
		if got := salvagesOf(s.Lost); !slices.Equal(got, wantLost) {
			t.Errorf("lost %v, want %v", got, wantLost)
		}
		// The bytes m0 could not read are not "different": the divergence
		// is the fixture's, less the 4 KiB m0 lost in chunk 17.
		if s.Divergence.Bytes != 274432-4096 {
			t.Errorf("divergence %d bytes", s.Divergence.Bytes)
		}
	}
	t.Run("file", func(t *testing.T) { check(t, disk.Path) })
	t.Run("block device", func(t *testing.T) {
		losetup := fixture.Tool(t, "losetup", "mount")
		out, err := exec.Command(losetup, "-r", "--show", "-f", disk.Path).CombinedOutput()
		if err != nil {
			t.Skipf("no loop device on a FUSE file here: %v: %s", err, out)
		}
		dev := strings.TrimSpace(string(out))
		t.Cleanup(func() { exec.Command(losetup, "-d", dev).Run() })
		check(t, dev)
	})
	t.Run("repair", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "fixed")
		code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, disk.Path, src[1])
		if code != exitProblems {
			t.Fatalf("repair exit %d: %s", code, stderr)
		}
		rep, _ := report.ReadJSON(strings.NewReader(stdout))
		if r := rep.Sets[0].Repair; r.Status != "partial" {
			t.Fatalf("repair %+v", r)
		}
		truth := mustRead(t, src[0])
		got := mustRead(t, filepath.Join(out, "m0.img"))
		lost := [2]int64{dataOff + 17*chunk + 0x2000, 4096}
		for off := int64(dataOff); off < int64(len(got)); off += 512 {
			want := truth[off : off+512]
			if off >= lost[0] && off < lost[0]+lost[1] {
				want = make([]byte, 512) // nothing could be read: nothing written
			}
			if !bytes.Equal(got[off:off+512], want) {
				t.Fatalf("m0 output differs at %#x", off)
			}
		}
		// Its own unreadable metadata bytes are marked too.
		bad := readMapfile(t, filepath.Join(out, "m0.img.map"), int64(len(got)))
		if want := []mapfile.Range{{Off: 0x80000, Len: 4096}, {Off: lost[0], Len: lost[1]}}; !slices.Equal(bad, want) {
			t.Errorf("m0 mapfile %x, want %x", bad, want)
		}
	})
}

// TestMain lets a test run the command in a child process (to kill it):
// with MIRRORCHK_TEST_MAIN=1 the test binary is mirrorchk.

// dirState lists a directory's names.
func dirState(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// An interrupted repair: the child is killed with SIGKILL while it reads
// (the plan's marker only), while it writes m0's partial file, and while it
// writes m1's after m0 was published. No file ever has a final name and
// incomplete content; a rerun of the same command removes the leftovers
// and writes exactly what an uninterrupted repair writes.
func TestRepairKilled(t *testing.T) {
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	// A slow disk, so that each stage lasts long enough to be caught.
	disk := eiofs.ServeSlow(t, src[0], "m0.img", nil, 3*time.Millisecond)
	args := func(out string) []string {
		return []string{"repair", "--hash", "sha256", "--out", out, disk.Path, src[1]}
	}

	want := filepath.Join(t.TempDir(), "want")
	if code, _, stderr := mirrorchk(t, args(want)...); code != exitRepaired {
		t.Fatalf("uninterrupted repair: exit %d: %s", code, stderr)
	}
	wantSum := map[string]string{}
	for _, n := range []string{"m0.img", "m1.img"} {
		wantSum[n] = fileSHA256(t, filepath.Join(want, n))
	}
	has := func(names []string, pred func(string) bool) bool { return slices.ContainsFunc(names, pred) }
	points := []struct {
		name string
		when func([]string) bool
	}{
		{"reading", func(n []string) bool {
			return has(n, func(s string) bool { return strings.HasPrefix(s, ".mirrorchk-plan-") && !strings.HasSuffix(s, ".tmp") }) &&
				!has(n, func(s string) bool { return strings.Contains(s, "mirrorchk-partial") })
		}},
		{"writing m0", func(n []string) bool {
			return has(n, func(s string) bool { return strings.HasPrefix(s, ".m0.img.mirrorchk-partial-") })
		}},
		{"writing m1", func(n []string) bool {
			return slices.Contains(n, "m0.img") && has(n, func(s string) bool { return strings.HasPrefix(s, ".m1.img.mirrorchk-partial-") })
		}},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "fixed")
			cmd := exec.Command(os.Args[0], args(out)...)
			cmd.Env = append(os.Environ(), "MIRRORCHK_TEST_MAIN=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			killed := false
			for !killed {
				select {
				case err := <-exited:
					t.Fatalf("the repair ended (%v) before the point was reached; the directory held %v", err, dirState(out))
				default:
				}
				if pt.when(dirState(out)) {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
				}
				time.Sleep(200 * time.Microsecond)
			}
			<-exited
			names := dirState(out)
			for _, n := range []string{"m0.img", "m1.img"} {
				if slices.Contains(names, n) && fileSHA256(t, filepath.Join(out, n)) != wantSum[n] {
					t.Errorf("killed %s: %s has its final name but not its final content", pt.name, n)
				}
			}
			code, _, stderr := mirrorchk(t, args(out)...)
			if code != exitRepaired {
				t.Fatalf("rerun after kill while %s (directory %v): exit %d: %s", pt.name, names, code, stderr)
			}
			if got := dirState(out); !slices.Equal(got, []string{"m0.img", "m1.img"}) {
				t.Errorf("after the rerun the directory holds %v", got)
			}
			for _, n := range []string{"m0.img", "m1.img"} {
				if fileSHA256(t, filepath.Join(out, n)) != wantSum[n] {
					t.Errorf("rerun: %s differs from the uninterrupted repair's", n)
				}
			}
		})
	}

	// A different plan (another option) refuses the leftovers, naming them.
	out := filepath.Join(t.TempDir(), "fixed")
	os.Mkdir(out, 0o755)
	leftover := filepath.Join(out, ".m0.img.mirrorchk-partial-0123456789abcdef")
	os.WriteFile(leftover, []byte("x"), 0o600)
	code, _, stderr := mirrorchk(t, append([]string{"repair", "--sector-size", "4096", "--out", out}, disk.Path, src[1])...)
	if code != exitUsage || !strings.Contains(stderr, filepath.Base(leftover)) {
		t.Errorf("another plan's leftover: exit %d: %s", code, stderr)
	}
}

// A walked batch repair writes each set into its own subdirectory of --out;
// killed there after one output was published and while the next was being
// written, a rerun of the same command removes those leftovers too (the
// plan's marker in --out lists "SET/NAME") and writes what an uninterrupted
// run writes.
func TestBatchRepairKilled(t *testing.T) {
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	disk := eiofs.ServeSlow(t, src[0], "m0.img", nil, 3*time.Millisecond)
	in := filepath.Join(t.TempDir(), "seized")
	os.Mkdir(in, 0o755)
	if err := os.Symlink(disk.Path, filepath.Join(in, "m0.img")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(src[1], filepath.Join(in, "m1.img")); err != nil {
		t.Fatal(err)
	}
	args := func(out string) []string { return []string{"repair", "--out", out, in} }

	want := filepath.Join(t.TempDir(), "want")
	if code, _, stderr := mirrorchk(t, args(want)...); code != exitRepaired {
		t.Fatalf("uninterrupted repair: exit %d: %s", code, stderr)
	}
	sets := dirState(want)
	if len(sets) != 1 {
		t.Fatalf("the walked repair wrote %v into --out, want one set's subdirectory", sets)
	}
	sub := sets[0]
	wantFiles := dirState(filepath.Join(want, sub))
	wantSum := map[string]string{}
	for _, n := range wantFiles {
		wantSum[n] = fileSHA256(t, filepath.Join(want, sub, n))
	}

	out := filepath.Join(t.TempDir(), "fixed")
	cmd := exec.Command(os.Args[0], args(out)...)
	cmd.Env = append(os.Environ(), "MIRRORCHK_TEST_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for killed := false; !killed; time.Sleep(200 * time.Microsecond) {
		select {
		case err := <-exited:
			t.Fatalf("the repair ended (%v) before one output was published; %s held %v", err, sub, dirState(filepath.Join(out, sub)))
		default:
		}
		n := dirState(filepath.Join(out, sub))
		if slices.Contains(n, "m0.img") && slices.ContainsFunc(n, func(s string) bool { return strings.HasPrefix(s, ".m1.img.mirrorchk-partial-") }) {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	<-exited
	left := dirState(filepath.Join(out, sub))
	code, _, stderr := mirrorchk(t, args(out)...)
	if code != exitRepaired {
		t.Fatalf("rerun after the kill (%s held %v): exit %d: %s", sub, left, code, stderr)
	}
	if got := dirState(out); !slices.Equal(got, []string{sub}) {
		t.Errorf("after the rerun --out holds %v, want [%s]", got, sub)
	}
	if got := dirState(filepath.Join(out, sub)); !slices.Equal(got, wantFiles) {
		t.Errorf("after the rerun %s holds %v, want %v (it held %v after the kill)", sub, got, wantFiles, left)
	}
	for _, n := range wantFiles {
		if fileSHA256(t, filepath.Join(out, sub, n)) != wantSum[n] {
			t.Errorf("rerun: %s/%s differs from the uninterrupted repair's", sub, n)
		}
	}
}

// mountTmpfs mounts a small tmpfs (options e.g. "size=1m" or "ro") for the
// test.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	os.Mkdir(dir, 0o755)
	mount := fixture.Tool(t, "mount", "mount")
	if out, err := exec.Command(mount, "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(fixture.Tool(t, "umount", "mount"), dir).Run() })
	return dir
}

// Everything about --out is checked before the read pass: a missing
// directory is created when its parent exists, and a missing parent, a
// read-only directory, an output already there and too little free space
// stop the repair before the members are read (a counting FUSE disk shows
// how much was read), with a dry run noticing the same.
func TestRepairOutChecks(t *testing.T) {
	src := members(t, "md/md-1.2/b-stale-member")
	disk := eiofs.Serve(t, src[0], "m0.img", nil)
	size := int64(len(mustRead(t, src[0])))
	run := func(t *testing.T, args ...string) (int, string, int64) {
		t.Helper()
		before := disk.Read.Load()
		code, _, stderr := mirrorchk(t, append(append([]string{"repair"}, args...), disk.Path, src[1])...)
		return code, stderr, disk.Read.Load() - before
	}
	t.Run("created", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "fixed")
		if code, stderr, _ := run(t, "--dry-run", "--out", out); code != exitProblems {
			t.Fatalf("dry run: exit %d: %s", code, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatal("a dry run created --out")
		}
		if code, stderr, _ := run(t, "--out", out); code != exitRepaired {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got := dirState(out); !slices.Equal(got, []string{"m0.img", "m1.img"}) {
			t.Errorf("--out holds %v", got)
		}
	})
	ro := mountTmpfs(t, "ro,size=1m")
	full := mountTmpfs(t, "size=4m")
	exists := t.TempDir()
	os.WriteFile(filepath.Join(exists, "m1.img"), []byte("mine"), 0o644)
	for _, tc := range []struct {
		name, out string
		code      int
		want      string
	}{
		{"parent missing", filepath.Join(t.TempDir(), "no", "fixed"), exitUsage, "does not exist and its parent"},
		{"read-only", ro, exitUsage, "not writable"},
		{"read-only parent", filepath.Join(ro, "fixed"), exitUsage, "cannot be created"},
		{"output exists", exists, exitUsage, "m1.img already exists"},
		{"no room", full, exitOperation, "not enough free space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dry := range []bool{false, true} {
				args := []string{"--out", tc.out}
				if dry {
					args = append(args, "--dry-run")
				}
				code, stderr, read := run(t, args...)
				if code != tc.code || !strings.Contains(stderr, tc.want) {
					t.Errorf("dry run %v: exit %d, want %d and %q: %s", dry, code, tc.code, tc.want, stderr)
				}
				if read >= size/2 {
					t.Errorf("dry run %v: %d bytes of m0 were read before the refusal: not before the read pass", dry, read)
				}
			}
		})
	}
	if code, stderr, _ := run(t, "--out", full); !strings.Contains(stderr, fmt.Sprint(2*size+2<<20)) {
		t.Errorf("no room: exit %d, the message does not give the bytes needed (%d): %s", code, 2*size+2<<20, stderr)
	}
	if got := dirState(exists); !slices.Equal(got, []string{"m1.img"}) || string(mustRead(t, filepath.Join(exists, "m1.img"))) != "mine" {
		t.Errorf("a refused repair touched --out: %v", got)
	}
	if got := dirState(full); len(got) != 0 {
		t.Errorf("a refused repair left %v", got)
	}
}

// With --json (and --report), an operational error still writes a
// complete, valid JSON report whose problems carry the error; exit 8.
func TestOperationalErrorReport(t *testing.T) {
	dir := t.TempDir()
	good := members(t, "md/md-1.2/b-stale-member")
	empty := writeFile(t, filepath.Join(dir, "empty.img"), nil)
	badMap := writeFile(t, filepath.Join(dir, "bad.map"), []byte("# x\n0x0 +\n0x0 0x200 +\nnot a block\n"))
	full := mountTmpfs(t, "size=1m")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"scan", filepath.Join(dir, "nope.img")}, "nope.img"},
		{"directory holding an empty image", []string{"scan", dir}, "empty file"},
		{"empty file", []string{"scan", empty}, "empty"},
		{"bad mapfile", []string{"scan", "--mapfile", good[0] + "=" + badMap, good[0], good[1]}, "bad.map:4: ddrescue mapfile"},
		{"repair, no room", []string{"repair", "--out", full, good[0], good[1]}, "not enough free space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rf := filepath.Join(t.TempDir(), "report.json")
			args := append([]string{tc.args[0], "--json", "--report", rf}, tc.args[1:]...)
			code, stdout, stderr := mirrorchk(t, args...)
			if code != exitOperation || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want 8: %s", code, stderr)
			}
			for what, doc := range map[string]string{"stdout": stdout, "--report": string(mustRead(t, rf))} {
				rep, err := report.ReadJSON(strings.NewReader(doc))
				if err != nil {
					t.Fatalf("%s: %v\n%s", what, err, doc)
				}
				// The error is a problem of the report: of the run
				// (operational-error), or of the set whose input could not
				// be read (batch rules: the other sets are still checked).
				all := rep.Problems
				for _, st := range rep.Sets {
					all = append(all, st.Problems...)
				}
				found := false
				for _, p := range all {
					found = found || (p.Severity == report.SeverityError && strings.Contains(p.Message, tc.want))
				}
				if !found || rep.Tool.Name != "mirrorchk" {
					t.Errorf("%s: problems %+v", what, all)
				}
			}
		})
	}
}

// tsk runs a Sleuth Kit tool and returns its output.
func tsk(t *testing.T, tool string, args ...string) string {
	t.Helper()
	out, err := exec.Command(fixture.Tool(t, tool, "sleuthkit"), args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return strings.TrimSpace(string(out))
}

// firstDataCluster is the first cluster of an NTFS file's $DATA, by istat.
func firstDataCluster(t *testing.T, img string, inode int) int64 {
	t.Helper()
	out := tsk(t, "istat", img, fmt.Sprint(inode))
	_, after, ok := strings.Cut(out, "Type: $DATA")
	if !ok {
		t.Fatalf("istat %d: no $DATA", inode)
	}
	lines := strings.Split(after, "\n")
	var c int64
	if _, err := fmt.Sscan(lines[1], &c); err != nil {
		t.Fatalf("istat %d: %q", inode, lines[1])
	}
	return c
}

// ownerByTSK gives the MFT record owning an NTFS byte offset, and its
// path: the record itself for bytes of the $MFT, else the file whose data
// holds the cluster.
func ownerByTSK(t *testing.T, img string, off, mftStart int64) (int64, string) {
	t.Helper()
	inode := strings.SplitN(tsk(t, "ifind", "-d", fmt.Sprint(off/4096), img), "-", 2)[0]
	if inode == "0" { // the $MFT itself: the record's file
		inode = fmt.Sprint((off - mftStart) / 1024)
	}
	var n int64
	fmt.Sscan(inode, &n)
	return n, tsk(t, "ffind", img, inode)
}

// NTFS pairs without metadata, imaged with ddrescue. In the stale-member
// case the authority's holes are lost (the other copy is older), named
// file by file as the Sleuth Kit names them, and the stale member's holes
// are recovered; in the damaged-member case the authority's holes are
// recovered from the damaged member, which is not older, except where its
// own copy fails its checks.
func TestFailingDiskNTFS(t *testing.T) {
	const mftStart = 16384 // $MFT at cluster 4 (istat 0) in every case
	cases := []struct {
		name     string
		holes    [2][]hole
		wantRec  func(c0 int64) []salvage
		wantLost func(c0 int64) []salvage
		lostFile []string // the paths of files_with_lost_data
		peerFile []string // what the Sleuth Kit names on the truth
	}{
		{name: "ntfs-missed-writes",
			holes: [2][]hole{
				{{0, 0, 0}, {137216, 1024, '-'}, {19296256, 4096, '/'}}, // big-report's first cluster (set below), its $MFT record, its rewritten cluster
				{{19628032, 4096, '-'}},                                 // free in m1, new-large.txt in m0
			},
			wantRec: func(c0 int64) []salvage {
				return []salvage{{19628032, 4096, "m0.img", report.SalvageAuthority}}
			},
			wantLost: func(c0 int64) []salvage {
				return []salvage{{137216, 1024, "", report.SalvageLost}, {c0, 4096, "", report.SalvageLost}, {19296256, 4096, "", report.SalvageLost}}
			},
			lostFile: []string{"/docs/big-report.txt"},
			peerFile: []string{"/docs/big-report.txt"},
		},
		{name: "ntfs-torn-mft",
			holes: [2][]hole{
				{{0, 0, 0}, {108544, 1024, '-'}, {mftStart + 50*1024, 1024, '*'}}, // first cluster of record 118's data, torn record 90 (torn on m1), intact record 50
				nil,
			},
			wantRec: func(c0 int64) []salvage {
				return []salvage{{mftStart + 50*1024, 1024, "m1.img", report.SalvageInSync}, {c0, 4096, "m1.img", report.SalvageInSync}}
			},
			wantLost: func(c0 int64) []salvage {
				return []salvage{{108544, 1024, "", report.SalvageLost}}
			},
			// Both copies of record 90 are gone (m0's unreadable, m1's
			// torn): the record is named, its file cannot be.
			lostFile: []string{""},
			peerFile: []string{"/docs/reports/2024/report3.txt"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, src, _ := fsfixture.Case(t, tc.name)
			c0 := firstDataCluster(t, src[0], 118) * 4096 // /docs/big-report.txt
			holes := tc.holes
			holes[0][0] = hole{c0, 4096, '-'}
			slices.SortFunc(holes[0], func(a, b hole) int { return int(a.off - b.off) })
			dir := t.TempDir()
			m := []string{filepath.Join(dir, "m0.img"), filepath.Join(dir, "m1.img")}
			for i := range m {
				ddrescueImage(t, src[i], m[i], holes[i])
			}
			code, rep := scanJSON(t, m[0], m[1])
			s := rep.Sets[0]
			if code != exitProblems || s.Authority.Member == nil || *s.Authority.Member != m[0] {
				t.Fatalf("exit %d authority %v", code, s.Authority.Member)
			}
			wantRec, wantLost := tc.wantRec(c0), tc.wantLost(c0)
			slices.SortFunc(wantRec, func(a, b salvage) int { return int(a.off - b.off) })
			if got := salvagesOf(s.Recovered); !slices.Equal(got, wantRec) {
				t.Errorf("recovered\n%v\nwant\n%v", got, wantRec)
			}
			if got := salvagesOf(s.Lost); !slices.Equal(got, wantLost) {
				t.Errorf("lost\n%v\nwant\n%v", got, wantLost)
			}
			// The owners of the lost ranges, against the Sleuth Kit on the
			// truth: the same MFT records, and the same paths where one
			// readable copy still names the file.
			var files, peer []string
			var records, peerRecords []int64
			for _, f := range s.FilesWithLostData {
				files = append(files, f.Path)
			}
			for _, l := range s.Lost {
				for _, o := range l.Owners {
					if o.Record != nil && !slices.Contains(records, *o.Record) {
						records = append(records, *o.Record)
					}
				}
				for off := l.VolumeOffset; off < l.VolumeOffset+l.Length; off += 512 {
					rec, p := ownerByTSK(t, src[0], off, mftStart)
					if !slices.Contains(peerRecords, rec) {
						peerRecords = append(peerRecords, rec)
					}
					if !slices.Contains(peer, p) {
						peer = append(peer, p)
					}
				}
			}
			slices.Sort(records)
			slices.Sort(peerRecords)
			if !slices.Equal(records, peerRecords) {
				t.Errorf("lost ranges owned by records %v, the Sleuth Kit says %v", records, peerRecords)
			}
			if !slices.Equal(files, tc.lostFile) || !slices.Equal(peer, tc.peerFile) {
				t.Errorf("files with lost data %v (want %v), the Sleuth Kit names %v (want %v)", files, tc.lostFile, peer, tc.peerFile)
			}
			// The repair: every recoverable byte is the truth.
			out := filepath.Join(t.TempDir(), "fixed")
			if code, _, stderr := mirrorchk(t, "repair", "--out", out, m[0], m[1]); code != exitProblems {
				t.Fatalf("repair exit %d: %s", code, stderr)
			}
			truth := mustRead(t, src[0])
			for i := range m {
				got, own := mustRead(t, filepath.Join(out, filepath.Base(m[i]))), mustRead(t, m[i])
				for off := int64(0); off < int64(len(got)); off += 512 {
					want := truth[off : off+512]
					if slices.ContainsFunc(wantLost, func(l salvage) bool { return off >= l.off && off < l.off+l.n }) {
						want = own[off : off+512]
					}
					if !bytes.Equal(got[off:off+512], want) {
						t.Fatalf("output %s differs from the truth at %#x", filepath.Base(m[i]), off)
					}
				}
			}
		})
	}
}

// A FAT16 pair without metadata whose m1 has torn sectors in its second
// FAT copy (damaged, not older), imaged with ddrescue: the authority m0's
// holes in FAT 1 and in file data are recovered from m1; its hole in FAT 2,
// where m1's copy is the torn one, is lost, and named as FAT 2.
func TestFailingDiskFAT(t *testing.T) {
	_, src, _ := fsfixture.Case(t, "fat-torn-fat2-fat16")
	// FAT 1 is sectors 1-127, FAT 2 128-254, clusters of one sector from
	// 255 (fsstat); the file of inode 551 starts at sector 385 (istat).
	if fsstat := tsk(t, "fsstat", src[0]); !strings.Contains(fsstat, "FAT 1: 128 - 254") {
		t.Fatalf("fixture layout changed:\n%s", fsstat)
	}
	if !strings.Contains(tsk(t, "istat", src[0], "551"), "385 386 387") {
		t.Fatal("fixture layout changed: inode 551")
	}
	dir := t.TempDir()
	m := []string{filepath.Join(dir, "m0.img"), filepath.Join(dir, "m1.img")}
	ddrescueImage(t, src[0], m[0], []hole{{5 * 512, 512, '-'}, {129 * 512, 512, '/'}, {385 * 512, 1024, '*'}})
	ddrescueImage(t, src[1], m[1], nil)
	code, rep := scanJSON(t, m[0], m[1])
	s := rep.Sets[0]
	if code != exitProblems || s.Authority.Member == nil || *s.Authority.Member != m[0] {
		t.Fatalf("exit %d authority %v", code, s.Authority.Member)
	}
	wantRec := []salvage{{5 * 512, 512, "m1.img", report.SalvageInSync}, {385 * 512, 1024, "m1.img", report.SalvageInSync}}
	wantLost := []salvage{{129 * 512, 512, "", report.SalvageLost}}
	if got := salvagesOf(s.Recovered); !slices.Equal(got, wantRec) {
		t.Errorf("recovered\n%v\nwant\n%v", got, wantRec)
	}
	if got := salvagesOf(s.Lost); !slices.Equal(got, wantLost) {
		t.Errorf("lost\n%v\nwant\n%v", got, wantLost)
	}
	if f := s.FilesWithLostData; len(f) != 1 || f[0].Path != "" || !slices.Equal(f[0].Structures, []string{"FAT 2"}) {
		t.Errorf("files with lost data %+v", f)
	}
	if o := s.Recovered[1].Owners; len(o) != 1 || o[0].Path != "/Documents/Reports/2024/Quarterly Report Q1.csv" {
		t.Errorf("owner of the recovered file data %+v (the Sleuth Kit: inode 551, %s)", o, tsk(t, "ffind", src[0], "551"))
	}
	out := filepath.Join(t.TempDir(), "fixed")
	if code, _, stderr := mirrorchk(t, "repair", "--out", out, m[0], m[1]); code != exitProblems {
		t.Fatalf("repair exit %d: %s", code, stderr)
	}
	truth, got := mustRead(t, src[0]), mustRead(t, filepath.Join(out, "m0.img"))
	for off := int64(0); off < int64(len(got)); off += 512 {
		if off != 129*512 && !bytes.Equal(got[off:off+512], truth[off:off+512]) {
			t.Fatalf("m0 output differs from the truth at sector %d", off/512)
		}
	}
}

// A disk that gets worse between the read pass and the write pass: a
// range the scan read fails when the repair reads it again. The repair
// stops with an operational error naming it (it never writes zeros in its
// place), and no output appears under its final name.
func TestRepairDiskGetsWorse(t *testing.T) {
	const dataOff, chunk = 1 << 20, 64 << 10
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	disk := eiofs.Serve(t, src[0], "m0.img", []eiofs.Range{{Off: dataOff + 50*chunk, Len: 4096, After: 1}})
	out := filepath.Join(t.TempDir(), "fixed")
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, disk.Path, src[1])
	if code != exitOperation || !strings.Contains(stderr, "getting worse") {
		t.Fatalf("exit %d, want 8 and the disk getting worse: %s", code, stderr)
	}
	if rep, err := report.ReadJSON(strings.NewReader(stdout)); err != nil || !hasCode(rep.Problems, "operational-error") {
		t.Errorf("report: %v", err)
	}
	for _, n := range dirState(out) {
		if n == "m0.img" || n == "m1.img" {
			// m0 is written first and fails; m1 is never reached.
			t.Errorf("%s appeared under its final name", n)
		}
		if strings.Contains(n, "partial") {
			t.Errorf("partial file %s left after an error", n)
		}
	}
	// The marker stays only if an output was published: none was.
	if got := dirState(out); len(got) != 0 {
		t.Errorf("--out holds %v", got)
	}
}

// A failing disk whose md superblock cannot be read: the scan goes on. The
// image is not grouped by metadata it could not read (metadata-unreadable;
// it is a set of its own), the other member's set is checked, and the exit
// is 4, not 8.
func TestFailingDiskMetadataUnreadable(t *testing.T) {
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	disk := eiofs.Serve(t, src[0], "m0.img", []eiofs.Range{{Off: 4096, Len: 512}}) // the 1.2 superblock
	code, stdout, stderr := mirrorchk(t, "scan", "--json", disk.Path, src[1])
	if code != exitProblems {
		t.Fatalf("exit %d, want 4: %s", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	all := rep.Problems
	for _, st := range rep.Sets {
		all = append(all, st.Problems...)
	}
	for _, p := range all {
		if p.Member == disk.Path {
			codes = append(codes, p.Code)
		}
	}
	if !slices.Contains(codes, "metadata-unreadable") {
		t.Errorf("problems of the failing disk: %v", codes)
	}
	// The md set holds the readable member only; the failing disk, not
	// grouped by metadata it could not read, is a set of its own
	// (unpaired: compared with nothing, never a repair source or target).
	var md, alone *report.Set
	for i := range rep.Sets {
		switch {
		case rep.Sets[i].Metadata == "md-1.2":
			md = &rep.Sets[i]
		case len(rep.Sets[i].Members) == 1 && rep.Sets[i].Members[0].Path == disk.Path:
			alone = &rep.Sets[i]
		}
	}
	if md == nil || len(md.Members) != 1 || md.Members[0].Path != src[1] || alone == nil || alone.Verdict != report.VerdictUnpaired {
		t.Errorf("sets %+v", rep.Sets)
	}
}

// TestMetadataInBadBlock: set metadata that lies in a block the
// acquisition could not read (ddrescue '-') is not evidence, whatever the
// image file holds there: the current member's md superblock marked bad in
// its mapfile leaves that member ungrouped (metadata-unreadable), and no
// verdict names it current by the set metadata.
func TestMetadataInBadBlock(t *testing.T) {
	src := members(t, "md/md-1.2/b-stale-member") // m0 current (events 20), m1 stale
	// md 1.2: the superblock is the 4 KiB at byte 0x1000.
	if err := os.WriteFile(src[0]+".map", []byte("0x0 + 1\n0x0 0x1000 +\n0x1000 0x1000 -\n0x2000 0x7FE000 +\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := fileSHA256(t, src[0])
	_, rep := scanJSON(t, src...)
	found := false
	for _, p := range rep.Problems {
		if p.Code == "metadata-unreadable" && p.Member == src[0] && strings.Contains(p.Message, "md metadata could not be read") {
			found = true
		}
	}
	if !found {
		t.Errorf("no metadata-unreadable problem for %s: %+v", src[0], rep.Problems)
	}
	for _, s := range rep.Sets {
		if a := s.Authority.Member; a != nil && *a == src[0] && s.Authority.Basis == report.BasisSetMetadata {
			t.Errorf("set %s: %s is current by the set metadata read from a bad block", s.ID, src[0])
		}
		for _, m := range s.Members {
			if m.Path == src[0] && s.Metadata != "none" && s.Metadata != "" {
				t.Errorf("set %s (%s) holds %s, whose superblock is in a bad block", s.ID, s.Metadata, src[0])
			}
		}
	}
	// plan groups as scan does (the mapfile beside m0 is found by both),
	// so the plan hash it prints is the one the scan carries.
	code, out, stderr := mirrorchk(t, "plan", "--json", src[0], src[1])
	var pj struct {
		Plan string `json:"plan"`
		Sets []struct {
			Metadata string `json:"metadata"`
		} `json:"sets"`
	}
	if err := json.Unmarshal([]byte(out), &pj); err != nil || code != 0 {
		t.Fatalf("plan: exit %d %v %s", code, err, stderr)
	}
	if pj.Plan != rep.Plan || len(pj.Sets) != len(rep.Sets) {
		t.Errorf("plan %s with %d sets, scan %s with %d: plan and scan group differently", pj.Plan, len(pj.Sets), rep.Plan, len(rep.Sets))
	}
	if fileSHA256(t, src[0]) != before {
		t.Error("the input changed")
	}
}

// TestIdentityInBadBlock: an image without set metadata whose boot sector
// lies in a block its mapfile marks bad has no identity to pair it by
// (identity-unreadable, a warning), but is still read: not an unreadable
// input (exit 8), and never paired on bytes the acquisition did not read.
func TestIdentityInBadBlock(t *testing.T) {
	p := members(t, "fsmirror/bare-pair")
	fi, err := os.Stat(p[1])
	if err != nil {
		t.Fatal(err)
	}
	m := fmt.Sprintf("0x0 + 1\n0x0 0x200 -\n0x200 %#x +\n", fi.Size()-0x200)
	if err := os.WriteFile(p[1]+".map", []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	code, rep := scanJSON(t, p...) // fails on exit 8
	found := false
	for _, pr := range rep.Problems {
		found = found || (pr.Code == "identity-unreadable" && pr.Member == p[1])
	}
	if !found {
		t.Errorf("exit %d: no identity-unreadable problem for %s: %+v", code, p[1], rep.Problems)
	}
	for _, s := range rep.Sets {
		if s.Verdict == report.VerdictUnreadable || (s.Verdict == report.VerdictConsistent && len(s.Members) > 1) {
			t.Errorf("set %s: verdict %s", s.ID, s.Verdict)
		}
	}
}
