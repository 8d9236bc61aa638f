package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs/ntfs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/internal/fsfixture"
	"github.com/mirrorchk/mirrorchk/internal/mdedit"
	"github.com/mirrorchk/mirrorchk/report"
)

// fsCase is what a scan of a testdata/fsmirror case must conclude.
type fsCase struct {
	authority string // member file name ("m0") or "" for none
	basis     string
	stale     []string // members shown stale
	// structure lists the structures whose ranges must be taken from the
	// intact member by their own checks.
	structure []string
	prefer    string // for repair when there is no authority
}

var fsCases = map[string]fsCase{
	"ntfs-missed-writes":  {authority: "m0", basis: report.BasisFilesystem, stale: []string{"m1"}},
	"ntfs-corrupt-data":   {prefer: "m0"}, // nothing in file data says which copy is right
	"ntfs-torn-mft":       {authority: "m0", basis: report.BasisFilesystem, structure: []string{"$MFT record 67", "$MFT record 90", "$MFT record 104"}},
	"fat-torn-fat2-fat16": {authority: "m0", basis: report.BasisFilesystem, structure: []string{"FAT 2"}},
	"fat-torn-fat2-fat32": {authority: "m0", basis: report.BasisFilesystem, structure: []string{"FAT 2"}},
	// m0 and m1 both hold the latest writes and differ in one bit flip
	// that no majority decides: the stale m2 is named, the set has no
	// authority, and repair needs --prefer.
	"three-way":     {stale: []string{"m2"}, prefer: "m0"},
	"bare-pair":     {authority: "m1", basis: report.BasisFilesystem, stale: []string{"m0"}},
	"mbr-pair":      {authority: "m0", basis: report.BasisFilesystem, stale: []string{"m1"}},
	"mbr-pair-ntfs": {authority: "m0", basis: report.BasisFilesystem, stale: []string{"m1"}},
}

// TestFilesystemCases scans every fsmirror case: every differing range has
// an owner that agrees with Sleuth Kit, the verdict and authority follow
// the filesystem evidence, damaged structures are taken from the intact
// copy, and repair yields members fsck.fat -n / ntfsfix -n pass whose data
// hashes are equal.
func TestFilesystemCases(t *testing.T) {
	for _, name := range fsfixture.Cases {
		want, ok := fsCases[name]
		if !ok {
			t.Errorf("case %s has no expectation", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			_, paths, tr := fsfixture.Case(t, name)
			byName := map[string]string{}
			for i, m := range tr.Members {
				byName[m.Name()] = paths[i]
			}
			code, rep := scanJSON(t, paths...)
			if len(rep.Sets) != 1 {
				t.Fatalf("%d sets", len(rep.Sets))
			}
			s := rep.Sets[0]

			// Where the filesystem is.
			for _, m := range s.Members {
				if len(m.Filesystems) != 1 {
					t.Fatalf("%s: filesystems %+v", m.Path, m.Filesystems)
				}
				f := m.Filesystems[0]
				if f.Type != tr.FS || f.Offset != tr.FSOffset {
					t.Errorf("%s: %s at %d, truth %s at %d", m.Path, f.Type, f.Offset, tr.FS, tr.FSOffset)
				}
				if (tr.Partition != nil) != (f.Partition != nil) || (tr.Partition != nil && f.Partition.Type != tr.Partition.Type) {
					t.Errorf("%s: partition %+v, truth %+v", m.Path, f.Partition, tr.Partition)
				}
			}

			// Verdict and authority.
			var auth string
			if s.Authority.Member != nil {
				auth = *s.Authority.Member
			}
			if auth != byName[want.authority] || (want.authority != "" && s.Authority.Basis != want.basis) {
				t.Errorf("authority %q (%s), want %q (%s); reasons %q", auth, s.Authority.Basis, byName[want.authority], want.basis, s.Authority.Reasons)
			}
			if s.Verdict != report.VerdictDiverged || code != exitProblems {
				t.Errorf("verdict %s exit %d, want diverged, 4", s.Verdict, code)
			}
			for _, m := range s.Members {
				stale := slices.ContainsFunc(want.stale, func(n string) bool { return byName[n] == m.Path })
				if stale != (m.State == report.StateStale) {
					t.Errorf("%s state %s, want stale %v", m.Path, m.State, stale)
				}
			}
			if s.Divergence.Truncated || len(s.Divergence.Ranges) == 0 {
				t.Fatalf("ranges: %d listed of %d", len(s.Divergence.Ranges), s.Divergence.RangesTotal)
			}

			// Every range has an owner; Sleuth Kit agrees with a sample.
			checks := 0
			for i, r := range s.Divergence.Ranges {
				if r.Owner == nil {
					t.Errorf("range at %d has no owner", r.VolumeOffset)
					continue
				}
				step := max(1, len(s.Divergence.Ranges)/40)
				if i%step != 0 && !slices.Contains(want.structure, r.Owner.Structure) {
					continue
				}
				owners := r.Owners
				if len(owners) == 0 {
					owners = []report.MemberOwner{{Member: *firstOr(r.Source, paths[0]), Owner: *r.Owner}}
				}
				for _, o := range owners {
					tskAgrees(t, o.Member, tr, r.VolumeOffset, o.Owner)
					checks++
				}
			}
			t.Logf("%d ranges, %d owners compared with Sleuth Kit", len(s.Divergence.Ranges), checks)

			// Damaged structures are taken from the intact copy.
			for _, st := range want.structure {
				found := false
				for _, r := range s.Divergence.Ranges {
					if r.Owner == nil || r.Owner.Structure != st {
						continue
					}
					found = true
					if r.SourceBasis != "structure" || r.Source == nil || *r.Source != byName["m0"] {
						t.Errorf("%s at %d: source %v (%s: %s), want m0 by structure", st, r.VolumeOffset, r.Source, r.SourceBasis, r.SourceReason)
					}
				}
				if !found {
					t.Errorf("no range owned by %s", st)
				}
			}

			// Every changed or damaged file is listed once.
			listed := map[string]int{}
			for _, f := range s.Files {
				listed[f.Path]++
			}
			for p, n := range listed {
				if n > 1 && p != "" { // structures owned by no file are listed each on its own
					t.Errorf("file %s listed %d times", p, n)
				}
			}
			for _, c := range tr.Corrupted {
				if c.Path != "" && listed[c.Path] == 0 {
					t.Errorf("damaged file %s not among the affected files", c.Path)
				}
			}
			if ch := tr.Changes; ch != nil {
				for _, m := range ch.Modified {
					if listed[m.Path] == 0 {
						t.Errorf("modified file %s not among the affected files", m.Path)
					}
				}
			}

			repairCase(t, name, paths, byName, tr, want)
		})
	}
}

func firstOr(p *string, def string) *string {
	if p != nil {
		return p
	}
	return &def
}

// repairCase repairs the case and checks the outputs with the peers.
func repairCase(t *testing.T, name string, paths []string, byName map[string]string, tr fsfixture.Truth, want fsCase) {
	out := t.TempDir()
	args := []string{"repair", "--json", "--out", out}
	if want.authority == "" {
		if code, _, stderr := mirrorchk(t, append(args, paths...)...); code != exitProblems {
			t.Errorf("repair without authority: exit %d, want 4: %s", code, stderr)
		}
		args = append(args, "--prefer", byName[want.prefer])
	}
	code, stdout, stderr := mirrorchk(t, append(args, paths...)...)
	if code != exitRepaired {
		t.Fatalf("repair: exit %d: %s", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	rp := rep.Sets[0].Repair
	if rp == nil || rp.Status != "repaired" {
		t.Fatalf("repair: %+v", rp)
	}
	sums := map[string]bool{}
	for _, o := range rp.Outputs {
		if !o.Verified {
			t.Errorf("%s not verified", o.Path)
		}
		sums[o.DataSHA256] = true
		fsckPasses(t, o.Path, tr)
		if len(o.FilesystemFindings) > 0 {
			t.Errorf("%s: filesystem findings on the repaired image: %q", o.Path, o.FilesystemFindings)
		}
	}
	if len(sums) != 1 {
		t.Errorf("repaired data hashes differ: %v", sums)
	}
	if code, rep := scanJSON(t, outputsOf(rp)...); code != exitOK || rep.Sets[0].Verdict != report.VerdictConsistent {
		t.Errorf("rescan of the repaired members: exit %d verdict %s", code, rep.Sets[0].Verdict)
	}
	// A torn MFT record reads again on the repaired member.
	for _, r := range tr.TornMFTRecords {
		for _, o := range rp.Outputs {
			if out, err := exec.Command(fixture.Tool(t, "istat", "sleuthkit"), "-f", "ntfs", o.Path, strconv.FormatInt(r.Record, 10)).CombinedOutput(); err != nil {
				t.Errorf("istat %s %d after repair: %v %s", o.Path, r.Record, err, out)
			}
		}
	}
}

func outputsOf(rp *report.Repair) []string {
	var p []string
	for _, o := range rp.Outputs {
		p = append(p, o.Path)
	}
	return p
}

// fsckPasses runs fsck.fat -n or ntfsfix -n on the filesystem of img.
func fsckPasses(t *testing.T, img string, tr fsfixture.Truth) {
	t.Helper()
	vol := img
	if tr.FSOffset > 0 {
		vol = filepath.Join(t.TempDir(), "volume.img")
		extract(t, img, vol, tr.FSOffset)
	}
	var cmd *exec.Cmd
	if tr.FS == "ntfs" {
		cmd = exec.Command(fixture.Tool(t, "ntfsfix", "ntfs-3g"), "-n", vol)
	} else {
		cmd = exec.Command(fixture.Tool(t, "fsck.fat", "dosfstools"), "-n", vol)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s on %s: %v\n%s", cmd.Args[0], img, err, out)
	}
}

func extract(t *testing.T, img, dst string, off int64) {
	t.Helper()
	in, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := in.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

var tskEntry = regexp.MustCompile(`^(\d+)(-\d+-\d+)?$`)

// tskAgrees asks Sleuth Kit who owns the byte at data offset off of img and
// compares the answer with mirrorchk's owner.
func tskAgrees(t *testing.T, img string, tr fsfixture.Truth, off int64, o report.Owner) {
	t.Helper()
	tskAgreesAt(t, img, tr, tr.FSOffset, off-tr.FSOffset, o)
}

// tskAgreesAt is tskAgrees for the filesystem at byte fsImageOff of the
// image (tr gives its type and cluster size); rel is the byte in the
// filesystem.
func tskAgreesAt(t *testing.T, img string, tr fsfixture.Truth, fsImageOff, rel int64, o report.Owner) {
	t.Helper()
	ifind := fixture.Tool(t, "ifind", "sleuthkit")
	off := fsImageOff + rel
	secOff := strconv.FormatInt(fsImageOff/512, 10)
	var addr int64
	fsType := "fat"
	if tr.FS == "ntfs" {
		fsType = "ntfs"
		addr = rel / tr.ClusterSize
	} else {
		addr = rel / 512
	}
	if o.FS == "" || o.Structure == "backup boot sector" || o.Structure == "unused sectors" {
		return // outside what Sleuth Kit addresses
	}
	out, _ := exec.Command(ifind, "-f", fsType, "-o", secOff, "-d", strconv.FormatInt(addr, 10), img).CombinedOutput()
	got := strings.TrimSpace(string(out))
	what := fmt.Sprintf("%s at data offset %d (%s %d): mirrorchk says %s %q record %v; ifind says %q", filepath.Base(img), off, map[string]string{"fat": "sector", "ntfs": "cluster"}[fsType], addr,
		o.Structure, o.Path, deref(o.Record), got)
	switch {
	case o.Structure == "free space" || o.Structure == "lost clusters":
		if got == "Inode not found" {
			return
		}
		// Sleuth Kit also finds deleted entries that still point here.
		if m := tskEntry.FindStringSubmatch(got); m != nil && !allocated(t, img, fsType, secOff, m[1]) {
			return
		}
		t.Errorf("%s: not free", what)
	case strings.HasPrefix(o.Structure, "$MFT record "):
		if !strings.HasPrefix(got, "0-") {
			t.Errorf("%s", what)
		}
	case fsType == "ntfs":
		m := tskEntry.FindStringSubmatch(got)
		if m == nil || o.Record == nil || m[1] != strconv.FormatInt(*o.Record, 10) {
			t.Errorf("%s", what)
		}
	case o.Structure == "file data" || o.Structure == "directory" || o.Structure == "root directory":
		m := tskEntry.FindStringSubmatch(got)
		if m == nil {
			t.Errorf("%s", what)
			return
		}
		ffind, _ := exec.Command(fixture.Tool(t, "ffind", "sleuthkit"), "-f", fsType, "-o", secOff, img, m[1]).CombinedOutput()
		path := strings.TrimSpace(string(ffind))
		if o.Structure == "root directory" && m[1] == "2" {
			return
		}
		if path != o.Path {
			t.Errorf("%s; ffind %s says %q", what, m[1], path)
		}
	default: // boot sector, FAT n, FSInfo, reserved sectors: Sleuth Kit's virtual files
		m := tskEntry.FindStringSubmatch(got)
		if m == nil {
			t.Errorf("%s", what)
			return
		}
		ffind, _ := exec.Command(fixture.Tool(t, "ffind", "sleuthkit"), "-f", fsType, "-o", secOff, img, m[1]).CombinedOutput()
		path := strings.TrimSpace(string(ffind))
		want := []string{"/$MBR", "/$FAT1"} // TSK puts the reserved area in $MBR and $FAT1
		if strings.HasPrefix(o.Structure, "FAT ") {
			want = []string{"/$FAT" + strings.TrimPrefix(o.Structure, "FAT ")}
		}
		if !slices.Contains(want, path) {
			t.Errorf("%s; ffind %s says %q, want one of %q", what, m[1], path, want)
		}
	}
}

func allocated(t *testing.T, img, fsType, secOff, inode string) bool {
	out, _ := exec.Command(fixture.Tool(t, "istat", "sleuthkit"), "-f", fsType, "-o", secOff, img, inode).CombinedOutput()
	return !strings.Contains(string(out), "Not Allocated")
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestRepairTakesIntactRecords: with --prefer naming the member whose MFT
// records are torn, repair still takes those records from the intact
// member, says so per range, and the repaired members read with istat.
func TestRepairTakesIntactRecords(t *testing.T) {
	_, paths, tr := fsfixture.Case(t, "ntfs-torn-mft")
	out := t.TempDir()
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, "--prefer", paths[1], paths[0], paths[1])
	if code != exitRepaired {
		t.Fatalf("repair: exit %d: %s", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Sets[0]
	n := 0
	for _, r := range s.Divergence.Ranges {
		if r.Owner != nil && strings.HasPrefix(r.Owner.Structure, "$MFT record ") {
			n++
			if r.Source == nil || *r.Source != paths[0] || r.SourceBasis != "structure" {
				t.Errorf("%s: source %v (%s)", r.Owner.Structure, r.Source, r.SourceBasis)
			}
		}
	}
	if n == 0 {
		t.Fatal("no MFT record ranges")
	}
	rp := s.Repair
	if rp == nil || rp.Status != "repaired" || len(rp.Outputs) != 2 {
		t.Fatalf("repair %+v", rp)
	}
	for _, o := range rp.Outputs {
		if !o.Verified || o.DataSHA256 != rp.Outputs[0].DataSHA256 {
			t.Errorf("%s: verified %v sha %s", o.Path, o.Verified, o.DataSHA256)
		}
		for _, r := range tr.TornMFTRecords {
			if out, err := exec.Command(fixture.Tool(t, "istat", "sleuthkit"), "-f", "ntfs", o.Path, strconv.FormatInt(r.Record, 10)).CombinedOutput(); err != nil {
				t.Errorf("istat %s %d: %v %s", o.Path, r.Record, err, out)
			}
		}
	}
}

// TestWindowsLSNEvidence: two copies of the NTFS volume Windows Server
// 2008 R2 wrote, one made older the way a member that missed writes is:
// two FILE records carry older LSNs and an older time, and both $LogFile
// restart areas an older current LSN. The LSNs decide: the set's
// authority by the $LogFile, each record by its own LSN.
func TestWindowsLSNEvidence(t *testing.T) {
	dir := t.TempDir()
	m0 := fixture.UnzstdTo(t, "ntfs/win2008r2-mirror.img.zst", dir)
	b := mustRead(t, m0)
	v, err := ntfs.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	old := bytes.Clone(b)
	var edited []string
	var logOff int64 = -1
	for _, e := range v.Owners(0, v.Size()) {
		switch {
		case e.Owner.Structure == "$LogFile" && logOff < 0:
			logOff = e.Off
		case strings.HasPrefix(e.Owner.Structure, "$MFT record ") && e.Owner.Record >= 16 && e.Owner.Path != "" && len(edited) < 2:
			j := v.Judge(e.Off, e.Len)
			first := int64(binary.LittleEndian.Uint16(b[e.Off+0x14:]))
			if j.Intact != 1 || j.LSN < 1000 || binary.LittleEndian.Uint32(b[e.Off+first:]) != 0x10 {
				continue
			}
			binary.LittleEndian.PutUint64(old[e.Off+8:], j.LSN-500)                      // record LSN
			old[e.Off+first+int64(binary.LittleEndian.Uint16(b[e.Off+first+0x14:]))+9]-- // $STANDARD_INFORMATION modified time
			edited = append(edited, e.Owner.Structure)
		}
	}
	if len(edited) != 2 || logOff < 0 {
		t.Fatalf("records edited %v, $LogFile at %d", edited, logOff)
	}
	for _, page := range []int64{logOff, logOff + 4096} {
		if string(b[page:page+4]) != "RSTR" {
			t.Fatalf("no restart page at %d", page)
		}
		ra := page + int64(binary.LittleEndian.Uint16(b[page+0x18:]))
		lsn := binary.LittleEndian.Uint64(b[ra:])
		binary.LittleEndian.PutUint64(old[ra:], lsn-400)
	}
	m1 := writeFile(t, filepath.Join(dir, "m1.img"), old)

	code, rep := scanJSON(t, m0, m1)
	s := rep.Sets[0]
	if code != exitProblems || s.Authority.Member == nil || *s.Authority.Member != m0 || s.Authority.Basis != report.BasisFilesystem ||
		!strings.Contains(strings.Join(s.Authority.Reasons, " "), "$LogFile current LSN") {
		t.Fatalf("exit %d authority %v (%s) reasons %q", code, s.Authority.Member, s.Authority.Basis, s.Authority.Reasons)
	}
	if s.Members[1].State != report.StateStale {
		t.Errorf("older copy state %s", s.Members[1].State)
	}
	seen := 0
	for _, r := range s.Divergence.Ranges {
		if r.Owner != nil && slices.Contains(edited, r.Owner.Structure) {
			seen++
			if r.SourceBasis != "lsn" || r.Source == nil || *r.Source != m0 || !strings.Contains(r.SourceReason, "LSN") {
				t.Errorf("%s: source %v basis %s reason %q", r.Owner.Structure, r.Source, r.SourceBasis, r.SourceReason)
			}
		}
	}
	t.Logf("authority reasons: %q", s.Authority.Reasons)
	if seen != len(edited) {
		t.Errorf("%d of the edited records listed as ranges", seen)
	}
}

// TestMDDataAreaFilesystem: a FAT16 filesystem inside the data area of a
// real md 1.2 pair; m1 misses a write. The filesystem is found at offset 0
// of the data area, every range is owned, the metadata keeps the authority,
// and the repaired members pass fsck.fat -n.
func TestMDDataAreaFilesystem(t *testing.T) {
	paths := members(t, "md/md-1.2/a-clean")
	const dataOff = 1 << 20
	for _, p := range paths {
		ftRun(t, "mkfs.fat", "-F", "16", "-s", "1", "-i", "1234abcd", "--invariant", "--offset", "2048", p, "7168")
	}
	src := writeFile(t, filepath.Join(t.TempDir(), "after the split.txt"), bytes.Repeat([]byte("written while m1 was out\n"), 200))
	ftRun(t, "mcopy", "-i", fmt.Sprintf("%s@@%d", paths[0], dataOff), src, "::/")
	mdedit.Edit12(t, paths[0], func(sb []byte) { binary.LittleEndian.PutUint64(sb[200:], 20) }) // events 15 -> 20

	code, rep := scanJSON(t, paths...)
	s := rep.Sets[0]
	if code != exitProblems || s.Metadata != "md-1.2" || s.Authority.Member == nil || *s.Authority.Member != paths[0] || s.Members[1].State != report.StateStale {
		t.Fatalf("exit %d metadata %s authority %v states %s %s", code, s.Metadata, s.Authority.Member, s.Members[0].State, s.Members[1].State)
	}
	for _, m := range s.Members {
		if len(m.Filesystems) != 1 || m.Filesystems[0].Type != "fat16" || m.Filesystems[0].Offset != 0 || m.PartitionTable != "none" {
			t.Errorf("%s: table %q filesystems %+v", m.Path, m.PartitionTable, m.Filesystems)
		}
	}
	tr := fsfixture.Truth{FS: "fat16", FSOffset: 0}
	file := false
	for _, r := range s.Divergence.Ranges {
		if r.Owner == nil {
			t.Errorf("range at %d has no owner", r.VolumeOffset)
			continue
		}
		if r.SourceBasis != "set-authority" || *r.Source != paths[0] {
			t.Errorf("range at %d: source %v (%s)", r.VolumeOffset, r.Source, r.SourceBasis)
		}
		file = file || r.Owner.Path == "/after the split.txt"
		// Sleuth Kit reads the data area as the filesystem, at the
		// member's data offset.
		owners := r.Owners
		if len(owners) == 0 {
			owners = []report.MemberOwner{{Member: paths[0], Owner: *r.Owner}}
		}
		for _, o := range owners {
			tskAgreesAt(t, o.Member, tr, dataOff, r.VolumeOffset, o.Owner)
		}
	}
	if !file {
		t.Errorf("no range owned by the file written after the split: %+v", s.Files)
	}

	out := t.TempDir()
	if code, _, stderr := mirrorchk(t, "repair", "--out", out, paths[0], paths[1]); code != exitRepaired {
		t.Fatalf("repair: exit %d %s", code, stderr)
	}
	for _, p := range paths {
		vol := filepath.Join(t.TempDir(), "vol.img")
		extract(t, filepath.Join(out, filepath.Base(p)), vol, dataOff)
		if out, err := exec.Command(fixture.Tool(t, "fsck.fat", "dosfstools"), "-n", vol).CombinedOutput(); err != nil {
			t.Errorf("fsck.fat -n on repaired %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
}

// TestShortMemberFilesystem: a member cut short does not make the other
// member's filesystem look truncated.
func TestShortMemberFilesystem(t *testing.T) {
	_, paths, _ := fsfixture.Case(t, "bare-pair")
	if err := os.Truncate(paths[1], 5<<20); err != nil {
		t.Fatal(err)
	}
	_, rep := scanJSON(t, paths...)
	s := rep.Sets[0]
	if !hasCode(s.Problems, "size-mismatch") {
		t.Errorf("no size-mismatch: %+v", s.Problems)
	}
	for _, p := range s.Problems {
		if p.Code == "fat-truncated" && p.Member != paths[1] {
			t.Errorf("%s reported truncated: %s", p.Member, p.Message)
		}
	}
}

// TestRepairRefusesUndecided: three members; the preferred member's copy
// of an MFT record is torn and the other two hold different intact copies
// with no LSN between them. Nothing decides that record, so repair refuses
// (exit 4) instead of picking one.
func TestRepairRefusesUndecided(t *testing.T) {
	dir, paths, tr := fsfixture.Case(t, "ntfs-torn-mft")
	b := mustRead(t, paths[0])
	off := tr.TornMFTRecords[0].Offset - 100 // inside the same 512-byte block, clear of its fixup slot
	b[off] ^= 0xFF
	m2 := writeFile(t, filepath.Join(dir, "m2.img"), b)
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", t.TempDir(), "--prefer", paths[1], paths[0], paths[1], m2)
	if code != exitProblems || !strings.Contains(stderr, "no trustworthy source") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if rp := rep.Sets[0].Repair; rp == nil || rp.Status != "refused" {
		t.Errorf("repair %+v", rp)
	}
	undecided := false
	for _, r := range rep.Sets[0].Divergence.Ranges {
		undecided = undecided || (r.Source == nil && r.SourceBasis == "none")
	}
	if !undecided {
		t.Error("no range listed without a source")
	}
}
