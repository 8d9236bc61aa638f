package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// ldmImages extracts the real Windows Server 2008 R2 dynamic disks into a
// temporary directory and returns it.
func ldmImages(t *testing.T) string {
	t.Helper()
	fixture.Tool(t, "xz", "xz-utils")
	dir := t.TempDir()
	if b, err := exec.Command("tar", "-xJf", fixture.Path("ldm", "ldm-2008r2.tar.xz"), "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, b)
	}
	return dir
}

// TestScanLDM: the mirrored volume of the real dynamic disks is found and
// compared at each plex's own offset (an MBR and a GPT disk); the other
// volumes are listed as not mirrors.
func TestScanLDM(t *testing.T) {
	dir := ldmImages(t)
	m1, m2 := filepath.Join(dir, "ldm-2008r2-mirrored-1.img"), filepath.Join(dir, "ldm-2008r2-mirrored-2.img")
	code, rep := scanJSON(t, m1, m2)
	if code != exitOK || len(rep.Sets) != 1 {
		t.Fatalf("exit %d sets %d", code, len(rep.Sets))
	}
	s := rep.Sets[0]
	if s.Metadata != "ldm" || s.Name != "Volume3" || s.Verdict != report.VerdictConsistent || s.DataSize != 16<<20 {
		t.Errorf("set %q %q verdict %q size %d", s.Metadata, s.Name, s.Verdict, s.DataSize)
	}
	// ldmtool: Disk5 data start 63 + partition start 65; Disk6 65570 + 94 (sectors).
	if s.Members[0].DataOffset != (63+65)*512 || s.Members[1].DataOffset != (65570+94)*512 {
		t.Errorf("data offsets %#x %#x, want %#x %#x", s.Members[0].DataOffset, s.Members[1].DataOffset, (63+65)*512, (65570+94)*512)
	}
	if !hasCode(rep.Problems, "not-a-mirror") {
		t.Errorf("Volume5 (spanned, with a partition on Disk5) not listed: %+v", rep.Problems)
	}

	// All nine disks: still one mirror; four volumes are not mirrors.
	all, _ := filepath.Glob(filepath.Join(dir, "*.img"))
	_, rep = scanJSON(t, all...)
	n := 0
	for _, p := range rep.Problems {
		if p.Code == "not-a-mirror" {
			n++
		}
	}
	if len(rep.Sets) != 1 || n != 4 {
		t.Errorf("all disks: %d sets, %d not-a-mirror problems; want 1 and 4 (spanned, striped, RAID-5, spanned)", len(rep.Sets), n)
	}
}

// TestRepairLDM: one plex written to alone (equal committed sequences, both
// ACTIVE) is a split brain; with --prefer the repair copies the data and
// leaves the LDM database as it is, saying so.
func TestRepairLDM(t *testing.T) {
	dir := ldmImages(t)
	m1, m2 := filepath.Join(dir, "ldm-2008r2-mirrored-1.img"), filepath.Join(dir, "ldm-2008r2-mirrored-2.img")
	patchFile(t, m2, (65570+94)*512+100*512, []byte("written to one plex only"))
	code, rep := scanJSON(t, m1, m2)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictSplitBrain || s.Authority.Member != nil {
		t.Fatalf("exit %d verdict %q authority %v", code, s.Verdict, s.Authority.Member)
	}
	if r := s.Divergence.Ranges; len(r) != 1 || r[0].VolumeOffset != 100*512 {
		t.Errorf("ranges %+v, want one at volume offset 51200", r)
	}
	out := t.TempDir()
	if code, _, _ := mirrorchk(t, "repair", "--out", out, m1, m2); code != exitProblems {
		t.Errorf("repair without --prefer: exit %d, want 4", code)
	}
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--prefer", m1, "--out", out, m1, m2)
	if code != exitRepaired {
		t.Fatalf("repair --prefer: exit %d: %s", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rep.Sets[0].Repair.Outputs {
		if !o.Verified || !strings.Contains(strings.Join(o.MetadataChanges, ";"), "LDM database is left as is") {
			t.Errorf("%s: verified %v changes %q", o.Path, o.Verified, o.MetadataChanges)
		}
	}
	outs := rep.Sets[0].Repair.Outputs
	code, rep2 := scanJSON(t, outs[0].Path, outs[1].Path)
	if code != exitOK || rep2.Sets[0].Verdict != report.VerdictConsistent {
		t.Errorf("scan of repaired outputs: exit %d verdict %q", code, rep2.Sets[0].Verdict)
	}
}

// TestStaleLDM: one disk's database lags (its VMDB committed and pending
// sequence numbers lowered from 39 to 38, big-endian u64s at VMDB+0x75 and
// VMDB+0x7d; the VMDB of the GPT disk is at byte (34+17)*512, database
// sector 17) while its plex was not written: the disk with the current
// database is authoritative. A mechanical edit: Windows would also leave the
// missed transaction's records changed (see the note on issue 4).
func TestStaleLDM(t *testing.T) {
	dir := ldmImages(t)
	m1, m2 := filepath.Join(dir, "ldm-2008r2-mirrored-1.img"), filepath.Join(dir, "ldm-2008r2-mirrored-2.img")
	const vmdb = (34 + 17) * 512
	seq := []byte{0, 0, 0, 0, 0, 0, 0, 38}
	patchFile(t, m2, vmdb+0x75, seq)
	patchFile(t, m2, vmdb+0x7d, seq)
	patchFile(t, m1, (63+65)*512+200*512, []byte("written while Disk6 was away"))
	code, rep := scanJSON(t, m1, m2)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member == nil || *s.Authority.Member != m1 {
		t.Fatalf("exit %d verdict %q authority %v", code, s.Verdict, s.Authority.Member)
	}
	if s.Members[1].State != report.StateStale || !hasCode(s.Problems, "stale-member") || *s.Members[1].Generation != 38 {
		t.Errorf("m2 state %q generation %d problems %+v", s.Members[1].State, *s.Members[1].Generation, s.Problems)
	}
	if r := s.Divergence.Ranges; len(r) != 1 || r[0].VolumeOffset != 200*512 || *r[0].Source != m1 {
		t.Errorf("ranges %+v", r)
	}
}

// Byte offsets of the component state text ("ACTIVE", 6 bytes) of the
// mirror's two plexes in each disk's copy of the LDM database: VBLK slot n
// lies at VMDB + 512 + 128n; Volume3-01 is slot 16, Volume3-02 slot 18
// (ldmtool and set/ldm's tests agree); the state text follows the record
// head (0x18 bytes), the id (2), the 10-byte name with its length byte and
// the state's length byte.
const (
	ldmVMDBMBR = (100352 + 17) * 512 // mirrored-1 (Disk5)
	ldmVMDBGPT = (34 + 17) * 512     // mirrored-2 (Disk6)
)

func ldmStateOff(vmdb int64, plex int) int64 {
	return vmdb + 512 + int64(16+2*(plex-1))*128 + 0x18 + 2 + 11 + 1
}

// markPlex overwrites the state of plex Volume3-0<plex> in the database
// copy at vmdb of the image at path, after checking that it reads ACTIVE.
func markPlex(t *testing.T, path string, vmdb int64, plex int, state string) {
	t.Helper()
	off := ldmStateOff(vmdb, plex)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b[off : off+6]); got != "ACTIVE" {
		t.Fatalf("%s: state of Volume3-0%d at byte %d is %q, not ACTIVE: wrong offset", path, plex, off, got)
	}
	patchFile(t, path, off, []byte(state))
}

// setOrderFree is what a report says about one set with the input order
// taken out: members by path, problems and reasons sorted.
func setOrderFree(s report.Set) string {
	var b strings.Builder
	auth := "<none>"
	if s.Authority.Member != nil {
		auth = *s.Authority.Member
	}
	fmt.Fprintf(&b, "verdict %s authority %s basis %s divergence %d\n", s.Verdict, auth, s.Authority.Basis, s.Divergence.Bytes)
	var lines []string
	for _, m := range s.Members {
		gen := "null"
		if m.Generation != nil {
			gen = fmt.Sprint(*m.Generation)
		}
		lines = append(lines, fmt.Sprintf("member %s role %s state %s generation %s authoritative %v evidence %q", m.Path, m.Role, m.State, gen, m.Authoritative, m.Evidence))
	}
	for _, p := range s.Problems {
		lines = append(lines, fmt.Sprintf("problem %s %s %s: %s", p.Severity, p.Code, p.Member, p.Message))
	}
	for _, r := range s.Authority.Reasons {
		lines = append(lines, "reason "+r)
	}
	sort.Strings(lines)
	b.WriteString(strings.Join(lines, "\n"))
	return b.String()
}

// TestLDMDatabaseConflict: when the two disks' databases carry the same
// committed sequence number but say different things about the mirror's
// plexes, neither is the current database. The verdict, the authority and
// every member's state must not depend on the order of the inputs (the old
// code took the first argument's copy as current, so the two orders named
// opposite members authoritative and repair copied in opposite
// directions); the conflict is an error naming both disks, the sequence and
// the first differing field, and repair refuses. Copies that agree, edited
// or not, decide as before.
func TestLDMDatabaseConflict(t *testing.T) {
	src := ldmImages(t)
	const tampered = 5692704 // "Filesystem test" inside Volume3's NTFS on mirrored-1 (data area 0x10000..0x1010000)
	tests := []struct {
		name          string
		edit          func(t *testing.T, m1, m2 string)
		conflict      string // a substring of the ldm-database-conflict problem; "" when there is none
		verdict       string
		authority     string // base name of the authority; "" for none
		repairRefused bool
	}{
		{name: "each marks the other's plex", edit: func(t *testing.T, m1, m2 string) {
			markPlex(t, m1, ldmVMDBMBR, 2, "STALE!")
			markPlex(t, m2, ldmVMDBGPT, 1, "STALE!")
			patchFile(t, m1, tampered, []byte("Tampered!! test"))
		}, conflict: `component Volume3-01 (id 17): component.state "ACTIVE" / "STALE!"`, verdict: report.VerdictSplitBrain, repairRefused: true},
		{name: "one copy marks its own plex", edit: func(t *testing.T, m1, m2 string) {
			markPlex(t, m2, ldmVMDBGPT, 2, "STALE!")
			patchFile(t, m1, tampered, []byte("Tampered!! test"))
		}, conflict: `component Volume3-02 (id 19): component.state "ACTIVE" / "STALE!"`, verdict: report.VerdictSplitBrain, repairRefused: true},
		{name: "one copy marks the other plex, data identical", edit: func(t *testing.T, m1, m2 string) {
			markPlex(t, m1, ldmVMDBMBR, 2, "STALE!")
		}, conflict: `component Volume3-02 (id 19): component.state "STALE!" / "ACTIVE"`, verdict: report.VerdictSplitBrain, repairRefused: true},
		{name: "both copies mark plex 2", edit: func(t *testing.T, m1, m2 string) {
			markPlex(t, m1, ldmVMDBMBR, 2, "STALE!")
			markPlex(t, m2, ldmVMDBGPT, 2, "STALE!")
			patchFile(t, m1, tampered, []byte("Tampered!! test"))
		}, verdict: report.VerdictDiverged, authority: "ldm-2008r2-mirrored-1.img"},
		{name: "unedited", verdict: report.VerdictConsistent, authority: "ldm-2008r2-mirrored-1.img"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			m1, m2 := filepath.Join(dir, "ldm-2008r2-mirrored-1.img"), filepath.Join(dir, "ldm-2008r2-mirrored-2.img")
			for _, p := range []string{m1, m2} {
				if b, err := exec.Command("cp", "--sparse=always", filepath.Join(src, filepath.Base(p)), p).CombinedOutput(); err != nil {
					t.Fatalf("cp: %v: %s", err, b)
				}
			}
			if tt.edit != nil {
				tt.edit(t, m1, m2)
			}
			h1, h2 := fileSHA256(t, m1), fileSHA256(t, m2)
			var views []string
			for _, args := range [][]string{{m1, m2}, {m2, m1}} {
				code, rep := scanJSON(t, args...)
				if len(rep.Sets) != 1 {
					t.Fatalf("%v: %d sets", args, len(rep.Sets))
				}
				s := rep.Sets[0]
				views = append(views, setOrderFree(s))
				auth := ""
				if s.Authority.Member != nil {
					auth = filepath.Base(*s.Authority.Member)
				}
				if s.Verdict != tt.verdict || auth != tt.authority {
					t.Errorf("%v: verdict %q authority %q, want %q %q", args, s.Verdict, auth, tt.verdict, tt.authority)
				}
				var conflict []string
				for _, p := range s.Problems {
					if p.Code == "ldm-database-conflict" {
						conflict = append(conflict, p.Message)
						if p.Severity != "error" {
							t.Errorf("%v: conflict severity %q", args, p.Severity)
						}
					}
				}
				switch {
				case tt.conflict == "" && len(conflict) > 0:
					t.Errorf("%v: unexpected conflict %q", args, conflict)
				case tt.conflict != "" && (len(conflict) != 1 || !strings.Contains(conflict[0], tt.conflict) ||
					!strings.Contains(conflict[0], "Disk5 ("+m1+") and Disk6 ("+m2+")") || !strings.Contains(conflict[0], "committed sequence 39")):
					t.Errorf("%v: conflict problems %q, want one naming Disk5 (%s) and Disk6 (%s), committed sequence 39 and %s", args, conflict, m1, m2, tt.conflict)
				}
				if tt.conflict != "" && code != exitProblems {
					t.Errorf("%v: scan exit %d, want 4", args, code)
				}
				if b := report.RunBottom(rep); strings.HasSuffix(tt.name, "data identical") &&
					(!strings.HasPrefix(b.Verdict, "split brain in the metadata: the members hold the same data") || strings.Contains(b.Next, "compare the differing")) {
					t.Errorf("%v: a conflict of metadata alone: %+v", args, b)
				}
				out := t.TempDir()
				rcode, _, stderr := mirrorchk(t, append([]string{"repair", "--out", out}, args...)...)
				if tt.repairRefused {
					if rcode != exitProblems {
						t.Errorf("%v: repair exit %d, want 4 (refused): %s", args, rcode, stderr)
					}
					if ents, _ := os.ReadDir(out); len(ents) != 0 {
						t.Errorf("%v: refused repair wrote %d files", args, len(ents))
					}
				}
			}
			// A directory walk takes the files in name order: renaming
			// them must not change the verdict or the authority either.
			for i, names := range [][2]string{{"a.img", "b.img"}, {"b.img", "a.img"}} {
				d := filepath.Join(dir, fmt.Sprintf("walk%d", i))
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
				for j, p := range []string{m1, m2} {
					if err := os.Link(p, filepath.Join(d, names[j])); err != nil {
						t.Fatal(err)
					}
				}
				_, rep := scanJSON(t, d)
				if len(rep.Sets) != 1 {
					t.Fatalf("walk %v: %d sets", names, len(rep.Sets))
				}
				s := rep.Sets[0]
				auth := ""
				if s.Authority.Member != nil {
					auth = filepath.Base(*s.Authority.Member)
					if auth == names[1] {
						auth = filepath.Base(m2)
					} else {
						auth = filepath.Base(m1)
					}
				}
				if s.Verdict != tt.verdict || auth != tt.authority {
					t.Errorf("walk with mirrored-1 as %s: verdict %q authority %q, want %q %q", names[0], s.Verdict, auth, tt.verdict, tt.authority)
				}
			}
			if views[0] != views[1] {
				t.Errorf("the report depends on the input order:\n--- %s, %s:\n%s\n--- %s, %s:\n%s", m1, m2, views[0], m2, m1, views[1])
			}
			if fileSHA256(t, m1) != h1 || fileSHA256(t, m2) != h2 {
				t.Error("an input image changed")
			}
		})
	}
}

// TestRepairStaleLDMDatabase: repair says what it leaves undone when the
// LDM database of one disk lags (mirrorchk does not rewrite LDM databases).
// With the same data on both plexes nothing is "not needed": the repair is
// refused, exit 4, the run's code agreeing with its set's. With a data
// difference the data is repaired (exit 1) and the reason says that a scan
// of the outputs still shows the lagging database.
func TestRepairStaleLDMDatabase(t *testing.T) {
	for _, withData := range []bool{false, true} {
		dir := ldmImages(t)
		m1, m2 := filepath.Join(dir, "ldm-2008r2-mirrored-1.img"), filepath.Join(dir, "ldm-2008r2-mirrored-2.img")
		const vmdb = (34 + 17) * 512
		seq := []byte{0, 0, 0, 0, 0, 0, 0, 38}
		patchFile(t, m2, vmdb+0x75, seq)
		patchFile(t, m2, vmdb+0x7d, seq)
		if withData {
			patchFile(t, m1, (63+65)*512+200*512, []byte("written while Disk6 was away"))
		}
		if !withData {
			_, srep := scanJSON(t, m1, m2)
			if b := report.RunBottom(srep); !strings.Contains(b.Verdict, "degraded: the members hold the same data, but the set metadata records ldm-2008r2-mirrored-2.img is stale") ||
				!strings.Contains(b.Next, "let the volume manager bring its metadata in sync") {
				t.Errorf("scan, same data: %+v", b)
			}
		}
		out := filepath.Join(t.TempDir(), "fixed")
		code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, m1, m2)
		rep, err := report.ReadJSON(strings.NewReader(stdout))
		if err != nil {
			t.Fatalf("data differs %v: exit %d: %v: %s", withData, code, err, stderr)
		}
		rp := rep.Sets[0].Repair
		switch {
		case !withData && (code != exitProblems || rp == nil || rp.Status != "refused" || *rep.ExitCode != exitProblems ||
			!strings.Contains(rp.Reason, "only the set metadata is out of sync (ldm-2008r2-mirrored-2.img stale)")):
			t.Errorf("same data: exit %d (report %d), repair %+v", code, *rep.ExitCode, rp)
		case !withData && !strings.Contains(report.RunBottom(rep).Next, "let the volume manager bring its metadata in sync"):
			t.Errorf("same data: next %q", report.RunBottom(rep).Next)
		case withData && (code != exitRepaired || rp == nil || rp.Status != "repaired" ||
			!strings.Contains(rp.Reason, "a scan of the outputs still reports it")):
			t.Errorf("data differs: exit %d, repair %+v", code, rp)
		}
	}
}

// TestLDMLonePlex: one disk of the real mirrored volume given alone: its
// database (committed sequence 39) cannot be compared with the missing
// disk's, so no authority, and repair refuses and writes nothing. Before,
// the lone plex was current by the set metadata and repair said not-needed.
func TestLDMLonePlex(t *testing.T) {
	dir := ldmImages(t)
	m1 := filepath.Join(dir, "ldm-2008r2-mirrored-1.img")
	before := fileSHA256(t, m1)
	code, rep := scanJSON(t, m1)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDegraded || s.Authority.Member != nil || !hasCode(s.Problems, "member-missing") ||
		!strings.Contains(strings.Join(s.Authority.Reasons, "\n"), "no authority: 1 of 2 members given (plex Volume3-02 on disk Disk6 not given)") {
		t.Errorf("exit %d verdict %s authority %+v problems %+v", code, s.Verdict, s.Authority, s.Problems)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, _ := mirrorchk(t, "repair", "--json", "--out", out, m1)
	rr, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil || code != exitProblems || rr.Sets[0].Repair == nil || rr.Sets[0].Repair.Status != "refused" {
		t.Errorf("repair: exit %d %v %+v", code, err, rr)
	}
	noOutputs(t, fixture.Tool(t, "mdadm", "mdadm"), out)
	if fileSHA256(t, m1) != before {
		t.Errorf("input changed")
	}
}
