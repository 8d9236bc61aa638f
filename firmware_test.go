package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/set/imsm"
)

// TestScanFirmwareFixtures holds the IMSM and DDF scans against the
// fixtures' truth (what the kernel and mdadm were made to do).
func TestScanFirmwareFixtures(t *testing.T) {
	for _, dir := range []string{"md/md-imsm/a-clean", "md/md-imsm/b-stale-member", "md/md-ddf/a-clean", "md/md-ddf/b-stale-member"} {
		t.Run(dir, func(t *testing.T) {
			tr := fixture.LoadTruth(t, dir)
			paths := members(t, dir)
			code, rep := scanJSON(t, paths...)
			if len(rep.Sets) != 1 {
				t.Fatalf("%d sets", len(rep.Sets))
			}
			s := rep.Sets[0]
			if s.Metadata != tr.Metadata || s.Level != "raid1" || s.DataSize != tr.ArrayBytes || s.Name != "vol" {
				t.Errorf("metadata %q level %q data %d name %q", s.Metadata, s.Level, s.DataSize, s.Name)
			}
			// A clean pair's authority is the lowest slot, whichever image
			// that is; a stale pair's is the fresh member m0.
			if s.Authority.Member == nil || tr.StaleMember != "" && *s.Authority.Member != paths[0] {
				t.Errorf("authority %v, want %s", s.Authority.Member, paths[0])
			}
			for i, m := range s.Members {
				if got := rangeSHA256(t, paths[i], m.DataOffset, s.DataSize); got != tr.Members[i].DataSHA256 {
					t.Errorf("%s data area sha256 %s, truth %s", m.Path, got, tr.Members[i].DataSHA256)
				}
				want := report.StateActive
				if tr.Members[i].Stale {
					want = report.StateStale
				}
				if m.State != want {
					t.Errorf("%s state %q, want %q", m.Path, m.State, want)
				}
			}
			var want []report.Range
			if tr.StaleMember != "" {
				for _, w := range tr.WrittenAfterSplit {
					src := paths[0]
					want = append(want, report.Range{VolumeOffset: w.Offset, Length: w.Length, Agree: [][]string{{paths[0]}, {paths[1]}}, Source: &src,
						SourceBasis: "set-authority", SourceReason: src + " is the set's authoritative member", Owners: []report.MemberOwner{}})
				}
			}
			got, _ := json.Marshal(s.Divergence.Ranges)
			wantJ, _ := json.Marshal(append([]report.Range{}, want...))
			if string(got) != string(wantJ) {
				t.Errorf("ranges\n got %s\nwant %s", got, wantJ)
			}
			wantCode, wantVerdict := exitOK, report.VerdictConsistent
			if tr.StaleMember != "" {
				wantCode, wantVerdict = exitProblems, report.VerdictDiverged
			}
			if code != wantCode || s.Verdict != wantVerdict {
				t.Errorf("exit %d verdict %q, want %d %q", code, s.Verdict, wantCode, wantVerdict)
			}
		})
	}
}

// TestRepairIMSM repairs the stale IMSM pair: both outputs hold the fresh
// data and the same healthy MPB (map normal, both disks active, one
// generation past the fresh one), read back by our reader and by host
// mdadm through a read-only loop device.
func TestRepairIMSM(t *testing.T) {
	dir := "md/md-imsm/b-stale-member"
	outs := repairFixture(t, dir)
	var gens []uint32
	for _, o := range outs {
		f, err := os.Open(o.Path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		mpb, err := imsm.Read(f, fi.Size())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		v := mpb.Volumes[0]
		if !mpb.ChecksumOK() || v.Maps[0].MapState != imsm.MapNormal || v.Maps[0].Failed() != -1 || v.Dirty != 0 {
			t.Errorf("%s: checksum %v map %s failed %d dirty %d", o.Path, mpb.ChecksumOK(), v.Maps[0].StateString(), v.Maps[0].Failed(), v.Dirty)
		}
		for i, d := range mpb.Disks {
			if d.Failed() || v.Maps[0].Rebuilding(i) {
				t.Errorf("%s: disk %d %q %s", o.Path, i, d.Serial, d.StateString())
			}
		}
		gens = append(gens, mpb.Generation)
		if ex, ok := loopExamine(t, o.Path); ok {
			for _, want := range []string{"Map State : normal", "Failed disk : none", "Dirty State : clean", "Checksum : "} {
				if !strings.Contains(squeeze(ex), want) {
					t.Errorf("%s: host mdadm --examine lacks %q:\n%s", o.Path, want, ex)
				}
			}
			if strings.Contains(ex, "failed") || !strings.Contains(ex, "correct") {
				t.Errorf("%s: host mdadm --examine:\n%s", o.Path, ex)
			}
		}
	}
	if len(gens) != 2 || gens[0] != gens[1] || gens[0] != 0x13 {
		t.Errorf("output generations %v, want both 0x13 (fresh 0x12 + 1)", gens)
	}
}

// TestRepairDDF repairs the stale DDF pair; live mdadm --examine on each
// output (host mdadm reads DDF from image files) shows the virtual disk
// Optimal and Consistent and both disks Online.
func TestRepairDDF(t *testing.T) {
	mdadm := fixture.Tool(t, "mdadm", "mdadm")
	dir := "md/md-ddf/b-stale-member"
	outs := repairFixture(t, dir)
	var seqs []string
	for _, o := range outs {
		cmd := exec.Command(mdadm, "--examine", o.Path)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mdadm --examine %s: %v\n%s", o.Path, err, b)
		}
		ex := squeeze(string(b))
		if !strings.Contains(ex, "state[0] : Optimal, Consistent") || strings.Count(ex, "active/Online") != 2 || strings.Contains(ex, "Failed") {
			t.Errorf("%s: mdadm --examine:\n%s", o.Path, b)
		}
		seqs = append(seqs, examineFields(string(b))["Seq"])
	}
	if len(seqs) != 2 || seqs[0] != seqs[1] || seqs[0] != "0000000d" {
		t.Errorf("output seqs %v, want both 0000000d (fresh 0xc + 1)", seqs)
	}
}

// repairFixture repairs the stale pair of a fixture and checks what every
// format must give: exit 1, each output verified with its metadata changes
// listed, the fresh data (truth.json) in each data area, and a consistent
// set when the outputs are scanned again. It returns the outputs for the
// format's own checks.
func repairFixture(t *testing.T, dir string) []report.RepairOutput {
	t.Helper()
	tr := fixture.LoadTruth(t, dir)
	paths := members(t, dir)
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", t.TempDir(), paths[0], paths[1])
	if code != exitRepaired {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	outs := rep.Sets[0].Repair.Outputs
	for i, o := range outs {
		if !o.Verified || len(o.MetadataChanges) == 0 {
			t.Errorf("%s: verified %v changes %v", o.Path, o.Verified, o.MetadataChanges)
		}
		m := rep.Sets[0].Members[i]
		if got := rangeSHA256(t, o.Path, m.DataOffset, tr.ArrayBytes); got != tr.ExpectedSHA256.Fresh {
			t.Errorf("%s: data %s, want fresh %s", o.Path, got, tr.ExpectedSHA256.Fresh)
		}
	}
	code, rep2 := scanJSON(t, outs[0].Path, outs[1].Path)
	if code != exitOK || rep2.Sets[0].Verdict != report.VerdictConsistent {
		t.Errorf("scan of repaired outputs: exit %d verdict %q problems %+v", code, rep2.Sets[0].Verdict, rep2.Sets[0].Problems)
	}
	return outs
}

var loopMu sync.Mutex

// loopExamine runs host mdadm --examine on path through a read-only loop
// device (host mdadm reads IMSM only from block devices). ok is false, with
// the reason logged, where this machine gives no loop device (not root).
func loopExamine(t *testing.T, path string) (string, bool) {
	t.Helper()
	mdadm := fixture.Tool(t, "mdadm", "mdadm")
	losetup := fixture.Tool(t, "losetup", "mount")
	if os.Geteuid() != 0 {
		t.Logf("not root: host mdadm check of %s through a loop device not run", filepath.Base(path))
		return "", false
	}
	loopMu.Lock()
	defer loopMu.Unlock()
	b, err := exec.Command(losetup, "--find", "--show", "--read-only", path).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, b)
	}
	dev := strings.TrimSpace(string(b))
	defer exec.Command(losetup, "--detach", dev).Run()
	cmd := exec.Command(mdadm, "--examine", dev)
	cmd.Env = append(os.Environ(), "TZ=UTC", "IMSM_NO_PLATFORM=1", "IMSM_DEVNAME_AS_SERIAL=1")
	b, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mdadm --examine %s (%s): %v\n%s", dev, path, err, b)
	}
	return string(b), true
}

// squeeze folds runs of spaces so "Map State : normal" matches mdadm's
// aligned columns.
func squeeze(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(out, "\n")
}

// TestMixedFamilies: members of different containers and formats given
// together become separate sets, each judged on its own.
func TestMixedFamilies(t *testing.T) {
	a := members(t, "md/md-imsm/a-clean")
	b := members(t, "md/md-imsm/b-stale-member")
	d := members(t, "md/md-ddf/a-clean")
	m := members(t, "md/md-1.2/a-clean")
	_, rep := scanJSON(t, a[0], b[0], d[0], m[0], a[1], b[1], d[1], m[1])
	if len(rep.Sets) != 4 || !hasCode(rep.Problems, "mixed-sets") {
		t.Fatalf("%d sets, problems %+v; want 4 and mixed-sets", len(rep.Sets), rep.Problems)
	}
	want := map[string]string{}
	for _, s := range rep.Sets {
		want[s.Metadata+" "+filepath.Base(filepath.Dir(s.Members[0].Path))] = s.Verdict
		if len(s.Members) != 2 {
			t.Errorf("set %s (%s): %d members", s.ID, s.Metadata, len(s.Members))
		}
	}
	if len(want) != 4 {
		t.Errorf("sets %v", want)
	}
	for _, s := range rep.Sets {
		stale := strings.Contains(s.Members[0].Path, "b-stale") || s.Members[1].State == report.StateStale
		if stale && s.Verdict != report.VerdictDiverged || !stale && s.Verdict != report.VerdictConsistent {
			t.Errorf("set %s (%s): verdict %q", s.ID, s.Metadata, s.Verdict)
		}
	}
}

// TestDuplicateFirmwareMembers: a second copy of one disk is reported as
// such for every format, never counted as another member, and repair
// refuses it.
func TestDuplicateFirmwareMembers(t *testing.T) {
	for _, dir := range []string{"md/md-imsm/a-clean", "md/md-ddf/a-clean"} {
		t.Run(dir, func(t *testing.T) {
			p := members(t, dir)
			dup := writeFile(t, filepath.Join(filepath.Dir(p[0]), "m0-copy.img"), mustRead(t, p[0]))
			code, rep := scanJSON(t, p[0], dup, p[1])
			s := rep.Sets[0]
			if code != exitProblems || !hasCode(s.Problems, "duplicate-member") {
				t.Errorf("exit %d verdict %q problems %+v", code, s.Verdict, s.Problems)
			}
			if code, _, stderr := mirrorchk(t, "repair", "--out", t.TempDir(), p[0], dup, p[1]); code != exitOK && code != exitProblems {
				t.Errorf("repair: exit %d %s", code, stderr)
			}
		})
	}
	t.Run("ldm", func(t *testing.T) {
		dir := ldmImages(t)
		m1, m2 := filepath.Join(dir, "ldm-2008r2-mirrored-1.img"), filepath.Join(dir, "ldm-2008r2-mirrored-2.img")
		dup := writeFile(t, filepath.Join(dir, "copy-of-mirrored-1.img"), mustRead(t, m1))
		code, rep := scanJSON(t, m1, m2, dup)
		if code != exitProblems || !hasCode(rep.Problems, "duplicate-member") {
			t.Errorf("exit %d problems %+v", code, rep.Problems)
		}
	})
}

// TestIMSMGenerationTie: two different MPBs at the same top generation
// (each member written on its own) are a split brain, and the data is
// still compared so the report shows where the copies differ.
func TestIMSMGenerationTie(t *testing.T) {
	p := members(t, "md/md-imsm/b-stale-member")
	b := mustRead(t, p[1])
	anchor := len(b) - 1024
	mpbSize := int(binary.LittleEndian.Uint32(b[anchor+0x24:]))
	if mpbSize > 512 {
		t.Fatalf("fixture MPB is %d bytes; the test edits a one-sector MPB", mpbSize)
	}
	binary.LittleEndian.PutUint32(b[anchor+0x2c:], 0x12) // generation_num: m0's
	binary.LittleEndian.PutUint32(b[anchor+0x20:], imsm.Checksum(b[anchor:anchor+mpbSize]))
	writeFile(t, p[1], b)
	code, rep := scanJSON(t, p...)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictSplitBrain || s.Authority.Member != nil {
		t.Fatalf("exit %d verdict %q authority %v problems %+v", code, s.Verdict, s.Authority.Member, s.Problems)
	}
	if s.Divergence.RangesTotal != 3 || s.DataSize != 4<<20 {
		t.Errorf("ranges %d data size %d, want the 3 written ranges over 4 MiB", s.Divergence.RangesTotal, s.DataSize)
	}
}

// TestIMSMSerials: --serial binds IMSM images to their disk entries by the
// drive serial (the fixtures' serials are the VM's device names), instead
// of assuming by input order; a malformed --serial is a usage error.
func TestIMSMSerials(t *testing.T) {
	p := members(t, "md/md-imsm/a-clean")
	// In the VM m0 was /dev/vda and m1 /dev/vdb (truth.json, examine-in-guest.txt).
	_, rep := scanJSON(t, "--serial", p[0]+"=/dev/vda", "--serial", p[1]+"=/dev/vdb", p[0], p[1])
	for i, want := range []string{"/dev/vda", "/dev/vdb"} {
		ev := strings.Join(rep.Sets[0].Members[i].Evidence, "\n")
		if !strings.Contains(ev, `("`+want+`"): serial given`) || strings.Contains(ev, "assumed") {
			t.Errorf("%s evidence:\n%s", p[i], ev)
		}
	}
	// Serials swapped on the stale-member pair: the image holding the
	// current MPB would be the disk that MPB records as failed, which
	// mdadm never writes: the binding is wrong, and nothing is current.
	q := members(t, "md/md-imsm/b-stale-member")
	code, rep := scanJSON(t, "--serial", q[0]+"=/dev/vdb", "--serial", q[1]+"=/dev/vda", q[0], q[1])
	if s := rep.Sets[0]; code != exitProblems || s.Authority.Member != nil || !hasCode(s.Problems, "binding-contradiction") {
		t.Errorf("swapped serials: exit %d, authority %v, problems %+v", code, s.Authority.Member, s.Problems)
	}
	if code, _, _ := mirrorchk(t, "repair", "--out", filepath.Join(t.TempDir(), "fixed"), "--serial", q[0]+"=/dev/vdb", "--serial", q[1]+"=/dev/vda", q[0], q[1]); code != exitProblems {
		t.Errorf("swapped serials: repair exit %d, want 4 (refused)", code)
	}
	_, rep = scanJSON(t, "--serial", q[0]+"=/dev/vda", "--serial", q[1]+"=/dev/vdb", q[0], q[1])
	if s := rep.Sets[0]; s.Authority.Member == nil || *s.Authority.Member != q[0] || hasCode(s.Problems, "binding-contradiction") {
		t.Errorf("right serials: authority %v, problems %+v", s.Authority.Member, s.Problems)
	}
	for _, bad := range []string{"nodelimiter", p[0] + "=", "/nonexistent=/dev/vda"} {
		if code, _, stderr := mirrorchk(t, "scan", "--serial", bad, p[0], p[1]); code != exitUsage {
			t.Errorf("--serial %q: exit %d %q, want 16", bad, code, stderr)
		}
	}
}

// TestLeftoverDamagedMetadata: an image whose damaged md superblock sits
// beside valid IMSM metadata is used through the IMSM metadata, and the
// damage is still reported, as a warning.
func TestLeftoverDamagedMetadata(t *testing.T) {
	p := members(t, "md/md-imsm/a-clean")
	// md magic at the 1.2 position with major_version 1 but a super_offset
	// that does not match (all zero): a FormatError, not "no superblock".
	patchFile(t, p[0], 4096, []byte{0xfc, 0x4e, 0x2b, 0xa9, 1, 0, 0, 0})
	code, rep := scanJSON(t, p...)
	var found *report.Problem
	for i := range rep.Problems {
		if rep.Problems[i].Code == "bad-metadata" {
			found = &rep.Problems[i]
		}
	}
	if found == nil || found.Severity != report.SeverityWarning || !strings.Contains(found.Message, "md: ") {
		t.Fatalf("problems %+v, want a bad-metadata warning about the md superblock", rep.Problems)
	}
	if len(rep.Sets) != 1 || rep.Sets[0].Metadata != "imsm" || len(rep.Sets[0].Members) != 2 || code != exitProblems {
		t.Errorf("exit %d sets %+v", code, rep.Sets)
	}
}
