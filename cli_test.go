package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/mdedit"
	"github.com/mirrorchk/mirrorchk/report"
)

// patchFile overwrites bytes of a test copy (never a fixture itself).
func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBadInput: each bad input gives a clear one-line error or a problem
// with the right exit code, never a panic.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, filepath.Join(dir, "empty.img"), nil)
	good := members(t, "md/md-1.2/a-clean")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"missing file", []string{"scan", filepath.Join(dir, "nope.img")}, exitOperation, "nope.img"},
		// A directory is walked: its one file is empty, an unreadable input.
		{"directory", []string{"scan", dir}, exitOperation, "empty"},
		{"empty file", []string{"scan", empty}, exitOperation, "empty"},
		{"same image twice", []string{"scan", good[0], good[0]}, exitUsage, "same image given twice"},
		{"same image by another path", []string{"scan", good[0], filepath.Join(filepath.Dir(good[0]), ".", "m0.img")}, exitUsage, "same image"},
		{"no images", []string{"scan"}, exitUsage, "no inputs given: usage: mirrorchk scan [IMAGE|DIR]... [--manifest FILE] [flags]; for example: mirrorchk scan m0.img m1.img; see 'mirrorchk scan --help'"},
		{"no images to repair", []string{"repair", "--out", "x"}, exitUsage, "for example: mirrorchk repair --dry-run m0.img m1.img; see 'mirrorchk repair --help'"},
		{"unknown flag", []string{"scan", "--bogus", good[0]}, exitUsage, "bogus"},
		// Report files that cannot be written are said before reading.
		{"report in a missing directory", []string{"scan", "--report", filepath.Join(dir, "no", "r.json"), good[0], good[1]}, exitUsage,
			"--report " + filepath.Join(dir, "no", "r.json") + ": its directory " + filepath.Join(dir, "no") + " does not exist (nothing was read)"},
		{"html under a file", []string{"scan", "--html", filepath.Join(good[0], "r.html"), good[0], good[1]}, exitUsage, "not a directory (nothing was read)"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"bad hash", []string{"scan", "--hash", "crc7", good[0], good[1]}, exitUsage, "crc7"},
		{"bad sector size", []string{"scan", "--sector-size", "1000", good[0], good[1]}, exitUsage, "sector-size"},
		{"prefer not an input", []string{"scan", "--prefer", empty, good[0], good[1]}, exitUsage, "not one of the images"},
		{"repair without out", []string{"repair", good[0], good[1]}, exitUsage, "--out"},
		{"repair out holds an input", []string{"repair", "--out", filepath.Dir(good[0]), good[0], good[1]}, exitUsage, "contains the input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := mirrorchk(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.wantCode, stderr)
			}
			if tc.wantErr != "" && !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.wantErr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

// TestRepairRefusesOutInInputDir: --out must not hold an input.
func TestRepairRefusesOutInInputDir(t *testing.T) {
	p := members(t, "md/md-1.2/b-stale-member")
	code, _, stderr := mirrorchk(t, "repair", "--out", filepath.Dir(p[0]), p[0], p[1])
	if code != exitUsage || !strings.Contains(stderr, "contains the input") {
		t.Fatalf("exit %d stderr %q, want 16 and a refusal", code, stderr)
	}
	ents, _ := os.ReadDir(filepath.Dir(p[0]))
	if len(ents) != 2 {
		t.Errorf("refused repair left %d files in the input directory", len(ents))
	}
}

// TestBadChecksum: a member whose superblock checksum is wrong is reported
// and not trusted; the other member is authoritative.
func TestBadChecksum(t *testing.T) {
	p := members(t, "md/md-1.2/a-clean")
	// sb_csum of the 1.2 superblock at byte 4096 + 216.
	patchFile(t, p[1], 4096+216, []byte{0xde, 0xad, 0xbe, 0xef})
	code, rep := scanJSON(t, p...)
	s := rep.Sets[0]
	if code != exitProblems || !hasCode(s.Problems, "bad-checksum") {
		t.Fatalf("exit %d problems %+v, want 4 and bad-checksum", code, s.Problems)
	}
	if s.Members[1].State != report.StateUnknown || s.Members[1].Authoritative {
		t.Errorf("member with bad checksum: state %q authoritative %v", s.Members[1].State, s.Members[1].Authoritative)
	}
	if s.Authority.Member == nil || *s.Authority.Member != p[0] {
		t.Errorf("authority %v, want %s", s.Authority.Member, p[0])
	}
}

// TestTruncatedSuperblock: an image cut inside its superblock is a clear
// problem, not a panic.
func TestTruncatedSuperblock(t *testing.T) {
	p := members(t, "md/md-1.2/a-clean")
	if err := os.Truncate(p[1], 4096+100); err != nil {
		t.Fatal(err)
	}
	code, rep := scanJSON(t, p[0], p[1])
	if code != exitProblems || !hasCode(rep.Problems, "bad-metadata") || !hasCode(rep.Problems, "not-in-set") {
		t.Fatalf("exit %d problems %+v, want 4 with bad-metadata and not-in-set", code, rep.Problems)
	}
	if s := rep.Sets[0]; len(s.Members) != 1 || s.Verdict != report.VerdictDegraded || !hasCode(s.Problems, "member-missing") {
		t.Errorf("set: %d members verdict %q problems %+v", len(s.Members), s.Verdict, s.Problems)
	}
}

// TestTwoArrays: images of two different arrays become two sets.
func TestTwoArrays(t *testing.T) {
	a := members(t, "md/md-1.2/a-clean")
	b := members(t, "md/md-0.90/a-clean")
	_, rep := scanJSON(t, a[0], b[0], a[1], b[1])
	if len(rep.Sets) != 2 || !hasCode(rep.Problems, "mixed-sets") {
		t.Fatalf("sets %d problems %+v, want 2 sets and mixed-sets", len(rep.Sets), rep.Problems)
	}
	if rep.Sets[0].Metadata != "md-1.2" || rep.Sets[1].Metadata != "md-0.90" {
		t.Errorf("metadata %q %q", rep.Sets[0].Metadata, rep.Sets[1].Metadata)
	}
	for _, s := range rep.Sets {
		if len(s.Members) != 2 || s.Verdict != report.VerdictConsistent {
			t.Errorf("set %s: %d members verdict %q", s.ID, len(s.Members), s.Verdict)
		}
	}
}

// TestSplitBrain: equal events, different data: no authority; repair
// refuses without --prefer (exit 4) and works with it (exit 1).
func TestSplitBrain(t *testing.T) {
	p := members(t, "md/md-1.2/a-clean")
	patchFile(t, p[1], 2048*512+10*512, []byte("written on m1 only"))
	code, rep := scanJSON(t, p...)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictSplitBrain || s.Authority.Member != nil || !hasCode(s.Problems, "split-brain") {
		t.Fatalf("exit %d verdict %q authority %v problems %+v", code, s.Verdict, s.Authority.Member, s.Problems)
	}
	if r := s.Divergence.Ranges; len(r) != 1 || r[0].VolumeOffset != 5120 || r[0].Length != 512 || r[0].Source != nil {
		t.Errorf("ranges %+v, want one sector at 5120 with no source", r)
	}
	out := t.TempDir()
	code, _, stderr := mirrorchk(t, "repair", "--out", out, p[0], p[1])
	if code != exitProblems || !strings.Contains(stderr, "--prefer") {
		t.Errorf("repair without --prefer: exit %d stderr %q, want 4 naming --prefer", code, stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("refused repair wrote %d files", len(ents))
	}
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--prefer", p[1], "--out", out, p[0], p[1])
	if code != exitRepaired {
		t.Fatalf("repair --prefer: exit %d: %s", code, stderr)
	}
	rep2, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if b := rep2.Sets[0].Authority.Basis; b != report.BasisUser {
		t.Errorf("basis %q, want user", b)
	}
	if got, want := fileSHA256(t, filepath.Join(out, "m0.img")), fileSHA256(t, p[1]); got != want {
		// Same events and roles: m0's output takes m1's data and keeps its own superblock,
		// so only the data areas must match.
		if rangeSHA256(t, filepath.Join(out, "m0.img"), 2048*512, rep2.Sets[0].DataSize) != rangeSHA256(t, p[1], 2048*512, rep2.Sets[0].DataSize) {
			t.Errorf("repaired m0 does not hold m1's data")
		}
	}
}

// TestAdhocSets: images with no metadata form one set compared from 0.
func TestAdhocSets(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	a := writeFile(t, filepath.Join(dir, "a.img"), data)
	b := writeFile(t, filepath.Join(dir, "b.img"), data)
	odd := append([]byte{}, data...)
	copy(odd[3*512:], "bit rot")
	c := writeFile(t, filepath.Join(dir, "c.img"), odd)

	code, rep := scanJSON(t, a, b)
	if s := rep.Sets[0]; code != exitOK || s.Metadata != "none" || s.Verdict != report.VerdictConsistent || s.Authority.Basis != report.BasisNone {
		t.Errorf("identical bare images: exit %d %+v", code, s)
	}

	code, rep = scanJSON(t, a, c, b)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member != nil || !hasCode(s.Problems, "no-authority") {
		t.Errorf("3 bare images, one odd: exit %d verdict %q authority %v problems %+v", code, s.Verdict, s.Authority.Member, s.Problems)
	}
	if code, _, stderr := mirrorchk(t, "repair", "--out", t.TempDir(), a, c, b); code != exitProblems || !strings.Contains(stderr, "no authoritative member") {
		t.Errorf("repair without authority: exit %d %q, want 4", code, stderr)
	}
	// No authority for the set, but two of three members agree on the
	// range: that is evidence for the range, not for the set.
	want := `[{"volume_offset":1536,"length":512,"agree":[["` + a + `","` + b + `"],["` + c + `"]],"source":"` + a + `","source_basis":"majority","source_reason":"2 of 3 members hold this copy","owner":null,"owners":[]}]`
	if got, _ := json.Marshal(s.Divergence.Ranges); string(got) != want {
		t.Errorf("ranges\n got %s\nwant %s", got, want)
	}

	code, rep = scanJSON(t, "--prefer", a, a, c, b)
	s = rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Basis != report.BasisUser || s.Members[1].State != report.StateStale {
		t.Errorf("--prefer: exit %d verdict %q basis %q c state %q", code, s.Verdict, s.Authority.Basis, s.Members[1].State)
	}

	short := writeFile(t, filepath.Join(dir, "short.img"), data[:len(data)-4096])
	code, rep = scanJSON(t, a, short)
	s = rep.Sets[0]
	if code != exitProblems || !hasCode(s.Problems, "size-mismatch") || s.DataSize != int64(len(data)-4096) {
		t.Errorf("short member: exit %d data_size %d problems %+v", code, s.DataSize, s.Problems)
	}
}

// TestSplitRaw: a member split into segments reads as the whole image.
func TestSplitRaw(t *testing.T) {
	p := members(t, "md/md-1.2/b-stale-member")
	whole, err := os.ReadFile(p[1])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cuts := []int{0, 3 << 20, 5<<20 + 512, len(whole)}
	for i := 0; i+1 < len(cuts); i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("disk.%03d", i+1)), whole[cuts[i]:cuts[i+1]])
	}
	_, rep := scanJSON(t, p[0], filepath.Join(dir, "disk.001"))
	_, ref := scanJSON(t, p[0], p[1])
	s, r := rep.Sets[0], ref.Sets[0]
	m := s.Members[1]
	if len(m.Segments) != 3 || m.Size != int64(len(whole)) || m.Hashes["sha256"] != r.Members[1].Hashes["sha256"] {
		t.Errorf("split member: segments %v size %d hash %s", m.Segments, m.Size, m.Hashes["sha256"])
	}
	if s.Verdict != r.Verdict || s.Divergence.Bytes != r.Divergence.Bytes || s.Divergence.RangesTotal != r.Divergence.RangesTotal {
		t.Errorf("split: verdict %q bytes %d; whole: %q %d", s.Verdict, s.Divergence.Bytes, r.Verdict, r.Divergence.Bytes)
	}
}

// TestReproducibleJSON: the same inputs give byte-identical JSON.
func TestReproducibleJSON(t *testing.T) {
	p := members(t, "md/md-0.90/c-stale-member-bitmap")
	_, a, _ := mirrorchk(t, "scan", "--json", p[0], p[1])
	_, b, _ := mirrorchk(t, "scan", "--json", p[0], p[1])
	if a != b || a == "" {
		t.Errorf("two runs differ")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "r.json")
	if code, _, stderr := mirrorchk(t, "scan", "--quiet", "--report", file, p[0], p[1]); code != exitProblems {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	c, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ra, rc report.Report
	if err := json.Unmarshal([]byte(a), &ra); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(c, &rc); err != nil {
		t.Fatal(err)
	}
	ra.Command, rc.Command = nil, nil
	ra.Provenance.Command, rc.Provenance.Command = nil, nil
	ja, _ := json.Marshal(ra)
	jc, _ := json.Marshal(rc)
	if string(ja) != string(jc) {
		t.Errorf("--report file differs from --json output (apart from command)")
	}
}

// TestMaxRanges: the listing is capped, the count is not.
func TestMaxRanges(t *testing.T) {
	p := members(t, "md/md-1.2/b-stale-member")
	_, rep := scanJSON(t, "--max-ranges", "1", p[0], p[1])
	d := rep.Sets[0].Divergence
	if len(d.Ranges) != 1 || d.RangesTotal != 3 || !d.Truncated {
		t.Errorf("ranges %d total %d truncated %v, want 1 3 true", len(d.Ranges), d.RangesTotal, d.Truncated)
	}
}

// TestExample: the embedded example scans as the README says.
func TestExample(t *testing.T) {
	code, out, stderr := mirrorchk(t, "scan", "--example")
	if code != exitProblems {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"example/m0.img", "example/m1.img", "DIVERGED", "stale"} {
		if !strings.Contains(out, want) {
			t.Errorf("example report lacks %q", want)
		}
	}
}

// TestUncleanShutdown: both members at equal events, the array not clean
// (resync_offset 4096 sectors), and a difference above the resync offset:
// md accepts either copy there, so there is an authority and no split brain.
func TestUncleanShutdown(t *testing.T) {
	p := members(t, "md/md-1.2/a-clean")
	for _, m := range p {
		mdedit.Edit12(t, m, func(sb []byte) { binary.LittleEndian.PutUint64(sb[208:], 4096) })
	}
	patchFile(t, p[1], 2048*512+3<<20, []byte("in flight at the crash"))
	code, rep := scanJSON(t, p...)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member == nil || *s.Authority.Member != p[0] {
		t.Fatalf("exit %d verdict %q authority %v", code, s.Verdict, s.Authority.Member)
	}
	if !hasCode(s.Problems, "unclean-shutdown") || hasCode(s.Problems, "split-brain") {
		t.Errorf("problems %+v", s.Problems)
	}
	for _, pr := range s.Problems {
		if pr.Code == "data-differs" && pr.Severity != report.SeverityInfo {
			t.Errorf("data-differs above the resync offset is %s, want info", pr.Severity)
		}
	}
	// Below the resync offset the same difference is not excused.
	patchFile(t, p[1], 2048*512+512, []byte("below the resync offset"))
	_, rep = scanJSON(t, p...)
	if s := rep.Sets[0]; s.Verdict != report.VerdictSplitBrain {
		t.Errorf("difference below resync offset: verdict %q, want split-brain", s.Verdict)
	}
}

// TestRepairRefusals: repair writes nothing when the metadata cannot be
// made to match (a member whose superblock is not trusted) or when two
// inputs are copies of one member; and a set that needs nothing exits 0.
func TestRepairRefusals(t *testing.T) {
	p := members(t, "md/md-1.2/b-stale-member")
	dup := writeFile(t, filepath.Join(filepath.Dir(p[0]), "m0-copy.img"), mustRead(t, p[0]))
	out := t.TempDir()
	code, _, stderr := mirrorchk(t, "repair", "--out", out, p[0], dup, p[1])
	if code != exitProblems || !strings.Contains(stderr, "same member") {
		t.Errorf("duplicate member: exit %d %q, want 4", code, stderr)
	}
	patchFile(t, p[1], 4096+216, []byte{1, 2, 3, 4}) // m1's checksum: untrusted
	code, _, stderr = mirrorchk(t, "repair", "--out", out, p[0], p[1])
	if code != exitProblems || !strings.Contains(stderr, "cannot be brought in sync") {
		t.Errorf("untrusted member: exit %d %q, want 4", code, stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("refused repairs wrote %d files", len(ents))
	}
	// One clean member alone: degraded (slot 1 missing); the other member
	// may be newer, so the repair is refused and nothing is written.
	c := members(t, "md/md-1.2/a-clean")
	code, _, stderr = mirrorchk(t, "repair", "--out", out, c[0])
	if code != exitProblems || !strings.Contains(stderr, "members of the set are missing") {
		t.Errorf("single clean member: exit %d %q, want 4 and members missing", code, stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("refused repair of a lone member wrote %d files", len(ents))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTruncatedMember: an md member image cut short inside its data area
// stays in the set; its missing tail is a problem and the rest is compared.
func TestTruncatedMember(t *testing.T) {
	p := members(t, "md/md-1.2/b-stale-member")
	const keep = 6 << 20
	if err := os.Truncate(p[1], keep); err != nil {
		t.Fatal(err)
	}
	code, rep := scanJSON(t, p...)
	s := rep.Sets[0]
	if code != exitProblems || len(s.Members) != 2 || !hasCode(s.Problems, "size-mismatch") {
		t.Fatalf("exit %d members %d problems %+v", code, len(s.Members), s.Problems)
	}
	if want := int64(keep - 2048*512); s.DataSize != want {
		t.Errorf("data_size %d, want %d (compared as far as the short member goes)", s.DataSize, want)
	}
	if s.Verdict != report.VerdictDiverged || s.Divergence.RangesTotal != 3 {
		t.Errorf("verdict %q ranges %d, want diverged 3", s.Verdict, s.Divergence.RangesTotal)
	}
}

// TestHTMLReport: --html writes the same report as HTML beside the text one.
func TestHTMLReport(t *testing.T) {
	paths := members(t, "md/md-1.2/b-stale-member")
	dir := t.TempDir()
	html := filepath.Join(dir, "report.html")
	code, _, stderr := mirrorchk(t, "scan", "--html", html, paths[0], paths[1])
	if code != exitProblems {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b := mustRead(t, html)
	for _, want := range []string{"<!DOCTYPE html>", "diverged", paths[1], "stale-member"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if code, _, _ := mirrorchk(t, "scan", "--html", html, "--report", html, paths[0], paths[1]); code != exitUsage {
		t.Errorf("--html and --report on one file: exit %d, want 16", code)
	}
}
