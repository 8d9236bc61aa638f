package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/set/ftdisk"
)

// NT 4.0 FT mirror sets: member disks built by real tools (sfdisk,
// mkfs.fat, mtools) to the geometry of the hives in testdata/ftdisk (see
// its README): disk 0 signature 0x1C7A3B52, disk 1 0x5D0E9F11, the mirror
// partition at sector 63, 16002 sectors (two-sets: two of 8001 sectors at
// sectors 63 and 8064).

const (
	ftSig0  = 0x1C7A3B52
	ftSig1  = 0x5D0E9F11
	ftStart = 32256 // byte offset of the mirror partition
	ftLen   = 8193024
)

func ftHive(name string) string { return fixture.Path("ftdisk", name+".hive") }

func ftRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(fixture.Tool(t, name, map[string]string{"sfdisk": "fdisk", "mkfs.fat": "dosfstools", "mcopy": "mtools",
		"hivexsh": "libhivex-bin", "hivexget": "libhivex-bin"}[name]), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// ftDisks builds disk 0 (9 MiB, MBR signature 0x1C7A3B52, partitions of
// the given types and sector ranges, each with a FAT16 file system), then
// disk 1 as a copy with signature 0x5D0E9F11: identical member data.
func ftDisks(t *testing.T, typ string, parts ...[2]int) (string, string) {
	t.Helper()
	dir := t.TempDir()
	d0, d1 := filepath.Join(dir, "disk0.img"), filepath.Join(dir, "disk1.img")
	if err := os.Truncate(writeFile(t, d0, nil), 9<<20); err != nil {
		t.Fatal(err)
	}
	script := "label: dos\nlabel-id: 0x1C7A3B52\nunit: sectors\n"
	for _, p := range parts {
		script += fmt.Sprintf("start=%d, size=%d, type=%s\n", p[0], p[1], typ)
	}
	cmd := exec.Command(fixture.Tool(t, "sfdisk", "fdisk"), "-q", d0)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	for i, p := range parts {
		// -s 1: 8001 KiB of FAT16 needs one-sector clusters; -h: hidden sectors.
		ftRun(t, "mkfs.fat", "-F", "16", "-s", "1", "-n", fmt.Sprintf("FT%d", i), "-i", "12345678", "--offset", fmt.Sprint(p[0]), "-h", fmt.Sprint(p[0]), d0, fmt.Sprint(p[1]/2))
	}
	b, err := os.ReadFile(d0)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, d1, b)
	ftRun(t, "sfdisk", "-q", "--disk-id", d1, "0x5D0E9F11")
	// The independent check of what the bindings will rest on.
	for _, c := range []struct {
		path string
		id   string
	}{{d0, "0x1c7a3b52"}, {d1, "0x5d0e9f11"}} {
		var dump struct {
			PT struct {
				ID    string `json:"id"`
				Parts []struct {
					Start, Size int64
					Type        string
				} `json:"partitions"`
			} `json:"partitiontable"`
		}
		if err := json.Unmarshal([]byte(ftRun(t, "sfdisk", "-J", c.path)), &dump); err != nil {
			t.Fatal(err)
		}
		if dump.PT.ID != c.id || len(dump.PT.Parts) != len(parts) || dump.PT.Parts[0].Start != int64(parts[0][0]) || dump.PT.Parts[0].Size != int64(parts[0][1]) {
			t.Fatalf("sfdisk -J %s: %+v", c.path, dump.PT)
		}
	}
	return d0, d1
}

func ftMirror(t *testing.T, typ string) (string, string) {
	return ftDisks(t, typ, [2]int{63, 16002})
}

// ftWrite writes a file into the FAT file system at byte off of img.
func ftWrite(t *testing.T, img string, off int64, name, content string) {
	t.Helper()
	f := writeFile(t, filepath.Join(t.TempDir(), name), []byte(content))
	ftRun(t, "mcopy", "-i", fmt.Sprintf("%s@@%d", img, off), f, "::/")
}

func ftProblem(ps []report.Problem, code string) *report.Problem {
	for i := range ps {
		if ps[i].Code == code {
			return &ps[i]
		}
	}
	return nil
}

func ftReasons(s report.Set) string { return strings.Join(s.Authority.Reasons, "\n") }

// TestScanFTHealthy: both members Healthy and identical: consistent; the
// registry records no authority and the reasons say so.
func TestScanFTHealthy(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	code, rep := scanJSON(t, "--hive", ftHive("healthy"), d0, d1)
	if code != exitOK || len(rep.Sets) != 1 {
		t.Fatalf("exit %d sets %d problems %+v", code, len(rep.Sets), rep.Problems)
	}
	s := rep.Sets[0]
	if s.Metadata != "ftdisk" || s.Name != "D:" || s.ID != "ft-mirror-0" || s.Verdict != report.VerdictConsistent || s.DataSize != ftLen {
		t.Errorf("set %q %q %q verdict %q size %d", s.Metadata, s.ID, s.Name, s.Verdict, s.DataSize)
	}
	for i, m := range s.Members {
		if m.DataOffset != ftStart || m.Role != fmt.Sprint(i) || m.State != report.StateActive {
			t.Errorf("member %d: offset %d role %q state %q", i, m.DataOffset, m.Role, m.State)
		}
		if ev := strings.Join(m.Evidence, "\n"); !strings.Contains(ev, "bound by MBR") || !strings.Contains(ev, "MBR partition type 0x87 (byte 450)") {
			t.Errorf("member %d evidence: %s", i, ev)
		}
	}
	if !strings.Contains(ftReasons(s), "the registry shows every member Healthy: it records no authority; the data decides") {
		t.Errorf("reasons: %s", ftReasons(s))
	}
}

// TestScanFTOrphaned: the orphaned member is the one that missed the
// writes: it is named stale, and why, with the registry field and value.
func TestScanFTOrphaned(t *testing.T) {
	for _, c := range []struct {
		hive     string
		written  int // the Healthy member, which kept receiving writes
		stale    int
		staleSig uint32
	}{
		{"orphaned-shadow", 0, 1, ftSig1},
		{"orphaned-primary", 1, 0, ftSig0},
	} {
		t.Run(c.hive, func(t *testing.T) {
			d0, d1 := ftMirror(t, "86")
			imgs := []string{d0, d1}
			ftWrite(t, imgs[c.written], ftStart, "after.txt", "written after the other member was orphaned")
			code, stdout, _ := mirrorchk(t, "scan", "--hive", ftHive(c.hive), d0, d1)
			if code != exitProblems {
				t.Fatalf("exit %d", code)
			}
			for _, want := range []string{"SET 1 OF 1: " + filepath.Base(d0) + ", " + filepath.Base(d1), "ID:            ft-mirror-0", "Name:          D:", imgs[c.stale], "stale",
				fmt.Sprintf("FT member %d (disk 0x%08X, partition at 32256) FtState=Orphaned", c.stale, c.staleSig)} {
				if !strings.Contains(stdout, want) {
					t.Errorf("text report lacks %q:\n%s", want, stdout)
				}
			}
			_, rep := scanJSON(t, "--hive", ftHive(c.hive), d0, d1)
			s := rep.Sets[0]
			if s.Verdict != report.VerdictDiverged || s.Authority.Member == nil || *s.Authority.Member != imgs[c.written] {
				t.Fatalf("verdict %q authority %v", s.Verdict, s.Authority.Member)
			}
			if s.Members[c.stale].State != report.StateStale || s.Members[c.written].State != report.StateActive {
				t.Errorf("states %q %q", s.Members[0].State, s.Members[1].State)
			}
			p := ftProblem(s.Problems, "stale-member")
			if p == nil || p.Member != imgs[c.stale] || !strings.Contains(p.Message, "FtState=Orphaned") {
				t.Errorf("stale-member problem %+v", p)
			}
			if !strings.Contains(ftReasons(s), "is the only Healthy member") || !strings.Contains(ftReasons(s), "FtVolumeState=FtHasOrphan") {
				t.Errorf("reasons: %s", ftReasons(s))
			}
		})
	}
}

// TestScanFTDirtyShutdown: DirtyShutdown is noted; with both members
// Healthy and different data the registry cannot decide (the check layer
// then looks at the data and the filesystems), and nothing panics on the
// registry's lack of generations.
func TestScanFTDirtyShutdown(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	code, rep := scanJSON(t, "--hive", ftHive("dirty-shutdown"), d0, d1)
	s := rep.Sets[0]
	if code != exitOK || s.Verdict != report.VerdictConsistent || ftProblem(s.Problems, "ft-dirty-shutdown") == nil {
		t.Errorf("identical: exit %d verdict %q problems %+v", code, s.Verdict, s.Problems)
	}
	if !strings.Contains(strings.Join(s.Members[0].Evidence, "\n"), "DirtyShutdown=1") || !strings.Contains(ftReasons(s), "DirtyShutdown=1") {
		t.Errorf("evidence %q reasons %s", s.Members[0].Evidence, ftReasons(s))
	}
	ftWrite(t, d1, ftStart, "late.txt", "only on the shadow")
	code, rep = scanJSON(t, "--hive", ftHive("dirty-shutdown"), d0, d1)
	s = rep.Sets[0]
	if code != exitProblems || s.Verdict == report.VerdictConsistent || s.Authority.Basis == report.BasisSetMetadata {
		t.Errorf("differing: exit %d verdict %q authority %v basis %q", code, s.Verdict, s.Authority.Member, s.Authority.Basis)
	}
	if !strings.Contains(ftReasons(s), "the registry shows every member Healthy: it records no authority; the data decides") {
		t.Errorf("reasons: %s", ftReasons(s))
	}
}

// ftTwoSets builds the two-sets geometry.
func ftTwoSets(t *testing.T) (string, string) {
	return ftDisks(t, "87", [2]int{63, 8001}, [2]int{8064, 8001})
}

// TestScanFTTwoSets: two mirrors on the same two disks: D: healthy, E:
// with its shadow orphaned.
func TestScanFTTwoSets(t *testing.T) {
	d0, d1 := ftTwoSets(t)
	ftWrite(t, d0, 8064*512, "e.txt", "E: kept being written on disk 0")
	code, rep := scanJSON(t, "--hive", ftHive("two-sets"), d0, d1)
	if code != exitProblems || len(rep.Sets) != 2 {
		t.Fatalf("exit %d sets %d", code, len(rep.Sets))
	}
	d, e := rep.Sets[0], rep.Sets[1]
	if d.Name != "D:" || d.Verdict != report.VerdictConsistent || d.Members[0].DataOffset != 32256 || d.DataSize != 4096512 {
		t.Errorf("D: %q verdict %q offset %d size %d", d.Name, d.Verdict, d.Members[0].DataOffset, d.DataSize)
	}
	if e.Name != "E:" || e.Verdict != report.VerdictDiverged || e.Members[1].State != report.StateStale || e.Members[0].DataOffset != 4128768 ||
		e.Authority.Member == nil || *e.Authority.Member != d0 {
		t.Errorf("E: %q verdict %q states %q offset %d", e.Name, e.Verdict, e.Members[1].State, e.Members[0].DataOffset)
	}
	if ftProblem(e.Problems, "ft-states-swapped") != nil || ftProblem(d.Problems, "ft-states-swapped") != nil {
		t.Errorf("one orphan is not a swap: %+v %+v", d.Problems, e.Problems)
	}
}

// ftHiveWith writes a hive with hivexsh (from the hand-made empty hive, as
// the fixtures were made) holding the value v, and reads it back with
// hivexget as the independent check.
func ftHiveWith(t *testing.T, v []byte) string {
	t.Helper()
	empty, err := os.ReadFile(fixture.Path("ftdisk", "empty.hive"))
	if err != nil {
		t.Fatal(err)
	}
	h := writeFile(t, filepath.Join(t.TempDir(), "SYSTEM"), empty)
	hx := make([]string, len(v))
	for i, c := range v {
		hx[i] = fmt.Sprintf("%02x", c)
	}
	cmd := exec.Command(fixture.Tool(t, "hivexsh", "libhivex-bin"), "-w", h)
	cmd.Stdin = strings.NewReader("add DISK\ncd DISK\nsetval 1\nInformation\nhex:3:" + strings.Join(hx, ",") + "\ncommit\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hivexsh: %v\n%s", err, out)
	}
	got, err := exec.Command(fixture.Tool(t, "hivexget", "libhivex-bin"), h, `\DISK`, "Information").Output()
	if err != nil {
		t.Fatalf("hivexget: %v", err)
	}
	// hivexget prints a REG_BINARY value as its raw bytes.
	if !bytes.Equal(got, v) {
		t.Fatalf("hivexget read back %d bytes, not the %d written", len(got), len(v))
	}
	return h
}

// ftValue returns the fixture hive's DISK\Information and its decoding.
func ftValue(t *testing.T, name string) ([]byte, *ftdisk.DiskInformation) {
	t.Helper()
	b, err := os.ReadFile(ftHive(name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ftdisk.OpenHive(b)
	if err != nil {
		t.Fatal(err)
	}
	v, err := h.DiskInformation()
	if err != nil {
		t.Fatal(err)
	}
	di, err := ftdisk.DecodeDiskInformation(v)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), v...), di
}

// TestScanFTSwapped: D: orphans its member on disk 1 while E: orphans its
// member on disk 0 (the two-sets value with DISK_PARTITION.FtState, at
// partition+4, and FtVolumeState, at FT_DESCRIPTION+8, changed): the
// states look swapped between the sets.
func TestScanFTSwapped(t *testing.T) {
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
	_, rep := scanJSON(t, "--hive", hive, d0, d1)
	if len(rep.Sets) != 2 {
		t.Fatalf("sets %d", len(rep.Sets))
	}
	for _, s := range rep.Sets {
		p := ftProblem(s.Problems, "ft-states-swapped")
		if p == nil || !strings.Contains(p.Message, "swapped between the sets") || !strings.Contains(p.Message, "0x1C7A3B52") || !strings.Contains(p.Message, "0x5D0E9F11") {
			t.Errorf("%s: %+v", s.Name, s.Problems)
		}
	}
	if rep.Sets[0].Members[1].State != report.StateStale || rep.Sets[1].Members[0].State != report.StateStale {
		t.Errorf("states D: %q E: %q", rep.Sets[0].Members[1].State, rep.Sets[1].Members[0].State)
	}
}

// TestScanFTMBRType: the MBR against the registry: 0xC7 (set marked
// broken) on a member of a set the registry calls healthy, and a plain
// 0x07 (no FT bit) on a listed member.
func TestScanFTMBRType(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	ftRun(t, "sfdisk", "-q", "--part-type", d1, "1", "c7")
	code, rep := scanJSON(t, "--hive", ftHive("healthy"), d0, d1)
	s := rep.Sets[0]
	p := ftProblem(s.Problems, "ft-mbr-broken-but-healthy")
	if code != exitProblems || p == nil || p.Member != d1 || !strings.Contains(p.Message, "0xC7") || !strings.Contains(p.Message, "Q197366") {
		t.Errorf("exit %d problems %+v", code, s.Problems)
	}
	// Under the orphaned-shadow hive the marking agrees with the registry.
	_, rep = scanJSON(t, "--hive", ftHive("orphaned-shadow"), d0, d1)
	if p := ftProblem(rep.Sets[0].Problems, "ft-mbr-broken-but-healthy"); p != nil {
		t.Errorf("0xC7 with an orphan in the set: %+v", p)
	}
	ftRun(t, "sfdisk", "-q", "--part-type", d0, "1", "7")
	_, rep = scanJSON(t, "--hive", ftHive("healthy"), d0, d1)
	if p := ftProblem(rep.Sets[0].Problems, "ft-mbr-not-ft"); p == nil || p.Member != d0 || !strings.Contains(p.Message, "0x07") || p.Offset == nil || *p.Offset != 446+4 {
		t.Errorf("problems %+v", rep.Sets[0].Problems)
	}
}

// ftPartImage copies the mirror partition of disk into a partition image.
func ftPartImage(t *testing.T, disk string) string {
	t.Helper()
	b, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, filepath.Join(t.TempDir(), "part1.img"), b[ftStart:ftStart+ftLen])
}

// TestScanFTPartitionImage: a partition image bound by --member, and the
// same image bound by size and boot sector ("assumed").
func TestScanFTPartitionImage(t *testing.T) {
	d0, d1 := ftMirror(t, "86")
	ftWrite(t, d0, ftStart, "after.txt", "primary only")
	p1 := ftPartImage(t, d1)
	_, rep := scanJSON(t, "--hive", ftHive("orphaned-shadow"), "--member", p1+"=5D0E9F11:32256", d0, p1)
	s := rep.Sets[0]
	if len(rep.Sets) != 1 || s.Members[1].Path != p1 || s.Members[1].DataOffset != 0 || s.Members[1].State != report.StateStale ||
		!strings.Contains(strings.Join(s.Members[1].Evidence, "\n"), "bound by --member") || s.Verdict != report.VerdictDiverged {
		t.Fatalf("--member: %+v", s)
	}
	_, rep = scanJSON(t, "--hive", ftHive("orphaned-shadow"), d0, p1)
	s = rep.Sets[0]
	if s.Members[1].Path != p1 || !strings.Contains(strings.Join(s.Members[1].Evidence, "\n"), "assumed binding") || !strings.Contains(strings.Join(s.Members[1].Evidence, "\n"), "hidden sectors (BPB 0x1C) = 63, the member's start sector") || s.Verdict != report.VerdictDiverged {
		t.Errorf("assumed: %+v", s.Members)
	}
	// --member on a whole disk: its MBR says so, and the member is read at
	// the partition's offset.
	_, rep = scanJSON(t, "--hive", ftHive("orphaned-shadow"), "--member", d1+"=0x5D0E9F11:32256", d0, d1)
	if m := rep.Sets[0].Members[1]; m.DataOffset != ftStart || !strings.Contains(strings.Join(m.Evidence, "\n"), "the image is a whole disk") {
		t.Errorf("--member on a whole disk: offset %d evidence %q", m.DataOffset, m.Evidence)
	}
	if code, _, stderr := mirrorchk(t, "scan", "--hive", ftHive("healthy"), "--member", p1+"=zz:1", d0, p1); code != exitUsage || !strings.Contains(stderr, "SIGNATURE:OFFSET") && !strings.Contains(stderr, "signature") {
		t.Errorf("bad --member: exit %d %s", code, stderr)
	}
}

// TestScanFTWrongSignature: a disk whose signature the registry does not
// know binds to nothing: the member is missing, nothing panics.
func TestScanFTWrongSignature(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	ftRun(t, "sfdisk", "-q", "--disk-id", d1, "0xDEADBEEF")
	code, rep := scanJSON(t, "--hive", ftHive("orphaned-shadow"), d0, d1)
	// The re-signed disk binds to nothing: its own unpaired set (issue 15).
	if code != exitProblems || len(rep.Sets) != 2 || rep.Sets[1].Verdict != report.VerdictUnpaired || rep.Sets[1].Members[0].Path != d1 {
		t.Fatalf("exit %d sets %d", code, len(rep.Sets))
	}
	s := rep.Sets[0]
	if len(s.Members) != 1 || s.Members[0].Path != d0 || ftProblem(s.Problems, "member-missing") == nil {
		t.Errorf("members %d problems %+v", len(s.Members), s.Problems)
	}
	if p := ftProblem(s.Problems, "member-missing"); p != nil && !strings.Contains(p.Message, "0x5D0E9F11") {
		t.Errorf("member-missing: %s", p.Message)
	}
	if !hasCode(rep.Problems, "not-in-set") {
		t.Errorf("the unbound disk is not reported: %+v", rep.Problems)
	}
}

// TestScanFTHives: a dirty hive (secondary sequence number changed) is a
// problem; SYSTEM and SYSTEM.ALT that disagree are reported and the clean
// one is used.
func TestScanFTHives(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	b, err := os.ReadFile(ftHive("orphaned-shadow"))
	if err != nil {
		t.Fatal(err)
	}
	b[8]++ // secondary sequence number
	dirty := writeFile(t, filepath.Join(t.TempDir(), "SYSTEM"), b)
	code, rep := scanJSON(t, "--hive", dirty, d0, d1)
	if code != exitProblems || !hasCode(rep.Problems, "hive-dirty") {
		t.Errorf("exit %d problems %+v", code, rep.Problems)
	}
	_, rep = scanJSON(t, "--hive", dirty, "--hive", ftHive("healthy"), d0, d1)
	p := ftProblem(rep.Problems, "hive-disagree")
	if p == nil || !strings.Contains(p.Message, "sequence numbers match") {
		t.Fatalf("problems %+v", rep.Problems)
	}
	if s := rep.Sets[0]; s.Members[1].State != report.StateActive || !strings.Contains(ftReasons(s), "healthy.hive") {
		t.Errorf("the clean hive (healthy) is not the one used: %q %s", s.Members[1].State, ftReasons(s))
	}
	if code, _, _ := mirrorchk(t, "scan", "--hive", filepath.Join(t.TempDir(), "absent"), d0, d1); code != exitUsage {
		t.Errorf("missing hive: exit %d", code)
	}
	// Not a hive: a usage error (exit 16), as for an unreadable one; the
	// scan does not go on without the configuration the user asked for.
	junk := writeFile(t, filepath.Join(t.TempDir(), "SYSTEM.ALT"), []byte("not a registry hive"))
	if code, stdout, stderr := mirrorchk(t, "scan", "--hive", junk, d0, d1); code != exitUsage || stdout != "" || !strings.Contains(stderr, "SYSTEM.ALT") || !strings.Contains(stderr, "not a registry hive") {
		t.Errorf("junk hive: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
}

// TestRepairFT: the orphaned shadow is repaired from the primary; the
// registry and the MBRs are left alone, and the inputs are unchanged.
func TestRepairFT(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	ftWrite(t, d0, ftStart, "after.txt", "written after the shadow was orphaned")
	hive := ftHive("orphaned-shadow")
	before := map[string]string{}
	for _, p := range []string{d0, d1, hive} {
		before[p] = fileSHA256(t, p)
	}
	out := t.TempDir()
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--hive", hive, "--out", out, d0, d1)
	if code != exitRepaired {
		t.Fatalf("repair: exit %d: %s", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	outs := rep.Sets[0].Repair.Outputs
	if len(outs) != 2 {
		t.Fatalf("outputs %+v", outs)
	}
	for _, o := range outs {
		if !o.Verified || !strings.Contains(strings.Join(o.MetadataChanges, ";"), "SYSTEM hive") {
			t.Errorf("%s: verified %v changes %q", o.Path, o.Verified, o.MetadataChanges)
		}
	}
	if a, b := rangeSHA256(t, d0, ftStart, ftLen), rangeSHA256(t, outs[1].Path, ftStart, ftLen); a != b {
		t.Errorf("repaired shadow's data area %s != primary's %s", b, a)
	}
	// The MBR of the repaired shadow is its own (signature 0x5D0E9F11).
	rb, err := os.ReadFile(outs[1].Path)
	if err != nil {
		t.Fatal(err)
	}
	ib, _ := os.ReadFile(d1)
	if !bytes.Equal(rb[:512], ib[:512]) {
		t.Errorf("the repaired shadow's MBR changed")
	}
	for p, h := range before {
		if fileSHA256(t, p) != h {
			t.Errorf("%s changed", p)
		}
	}
}

// ftWriteLater writes a file whose directory entry carries a time after
// everything else on the member (mcopy -m keeps the source file's time),
// as a later write on a running system would.
func ftWriteLater(t *testing.T, img string, off int64, name string) {
	t.Helper()
	f := writeFile(t, filepath.Join(t.TempDir(), name), []byte("written after the failure"))
	later := time.Now().Add(2 * time.Hour) // later than the rest, not after the scan (that is damage)
	if err := os.Chtimes(f, later, later); err != nil {
		t.Fatal(err)
	}
	ftRun(t, "mcopy", "-m", "-i", fmt.Sprintf("%s@@%d", img, off), f, "::/")
}

// TestScanFTQ197366: the registry's story against the filesystems'.
func TestScanFTQ197366(t *testing.T) {
	// Both Healthy in the registry, but the shadow was written later:
	// the registry records no authority, the filesystem evidence decides,
	// and the disagreement is named.
	d0, d1 := ftMirror(t, "87")
	ftWriteLater(t, d1, ftStart, "late.txt")
	code, rep := scanJSON(t, "--hive", ftHive("healthy"), d0, d1)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member == nil || *s.Authority.Member != d1 ||
		s.Authority.Basis != report.BasisFilesystem || ftProblem(s.Problems, "ft-healthy-but-differs") == nil {
		t.Errorf("healthy but differing: exit %d verdict %q authority %v (%s) problems %+v", code, s.Verdict, s.Authority.Member, s.Authority.Basis, s.Problems)
	}
	if len(rep.Hives) != 1 || rep.Hives[0].Path != ftHive("healthy") || rep.Hives[0].Hashes["sha256"] != fileSHA256(t, ftHive("healthy")) {
		t.Errorf("hives in the report: %+v", rep.Hives)
	}
	if !strings.Contains(ftReasons(s), "latest timestamp") {
		t.Errorf("reasons do not cite the filesystem evidence: %s", ftReasons(s))
	}

	// The registry orphans the shadow, but the shadow holds the newer
	// writes: no member is taken blindly, the conflict is named.
	d0, d1 = ftMirror(t, "87")
	ftWriteLater(t, d1, ftStart, "late.txt")
	code, rep = scanJSON(t, "--hive", ftHive("orphaned-shadow"), d0, d1)
	s = rep.Sets[0]
	if code != exitProblems || s.Authority.Member != nil || s.Verdict != report.VerdictSplitBrain || ftProblem(s.Problems, "ft-orphan-newer") == nil {
		t.Errorf("orphan newer: exit %d verdict %q authority %v problems %+v", code, s.Verdict, s.Authority.Member, s.Problems)
	}
	if code, _, stderr := mirrorchk(t, "repair", "--hive", ftHive("orphaned-shadow"), "--out", t.TempDir(), d0, d1); code != exitProblems {
		t.Errorf("repair of a registry/filesystem conflict: exit %d, want refused: %s", code, stderr)
	}
	// The user decides.
	code, rep = scanJSON(t, "--hive", ftHive("orphaned-shadow"), "--prefer", d1, d0, d1)
	if s := rep.Sets[0]; s.Authority.Member == nil || *s.Authority.Member != d1 || s.Authority.Basis != report.BasisUser {
		t.Errorf("--prefer: authority %v (%s)", s.Authority.Member, s.Authority.Basis)
	}

	// The registry orphans the shadow and the primary holds the newer
	// writes: registry and data agree.
	d0, d1 = ftMirror(t, "87")
	ftWriteLater(t, d0, ftStart, "late.txt")
	code, rep = scanJSON(t, "--hive", ftHive("orphaned-shadow"), d0, d1)
	s = rep.Sets[0]
	if s.Authority.Member == nil || *s.Authority.Member != d0 || s.Authority.Basis != report.BasisSetMetadata || ftProblem(s.Problems, "ft-orphan-newer") != nil {
		t.Errorf("agreeing: exit %d authority %v (%s) problems %+v", code, s.Authority.Member, s.Authority.Basis, s.Problems)
	}
}
