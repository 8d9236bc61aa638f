package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

func init() {
	now = func() time.Time { return time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC) }
}

// members decompresses a fixture's m0 and m1 into one temp directory.
func members(t *testing.T, dir string) []string {
	t.Helper()
	tmp := t.TempDir()
	return []string{
		fixture.UnzstdTo(t, dir+"/m0.img.zst", tmp),
		fixture.UnzstdTo(t, dir+"/m1.img.zst", tmp),
	}
}

// mirrorchk runs the CLI in-process and returns its exit code and output.
func mirrorchk(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// scanJSON runs scan --json and decodes the report.
func scanJSON(t *testing.T, args ...string) (int, *report.Report) {
	t.Helper()
	code, out, stderr := mirrorchk(t, append([]string{"scan", "--json"}, args...)...)
	if code >= 8 {
		t.Fatalf("scan %v: exit %d: %s", args, code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("scan %v: %v\n%s", args, err, out)
	}
	return code, rep
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return rangeSHA256(t, path, 0, fi.Size())
}

func rangeSHA256(t *testing.T, path string, off, n int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

var mdFixtures = []string{
	"md/md-0.90/a-clean", "md/md-0.90/b-stale-member", "md/md-0.90/c-stale-member-bitmap",
	"md/md-1.2/a-clean", "md/md-1.2/b-stale-member", "md/md-1.2/c-stale-member-bitmap",
}

// TestScanMDFixtures scans every real-kernel md fixture and holds the report
// against the fixture's truth.json (what was actually done to the array).
func TestScanMDFixtures(t *testing.T) {
	for _, dir := range mdFixtures {
		t.Run(dir, func(t *testing.T) {
			tr := fixture.LoadTruth(t, dir)
			paths := members(t, dir)
			code, rep := scanJSON(t, paths...)
			if len(rep.Sets) != 1 {
				t.Fatalf("sets = %d, want 1", len(rep.Sets))
			}
			s := rep.Sets[0]
			if want := "md-" + tr.Metadata; s.Metadata != want {
				t.Errorf("metadata = %q, want %q", s.Metadata, want)
			}
			if s.DataSize != tr.ArrayBytes {
				t.Errorf("data_size = %d, want %d", s.DataSize, tr.ArrayBytes)
			}
			if s.Authority.Member == nil || *s.Authority.Member != paths[0] || s.Authority.Basis != report.BasisSetMetadata {
				t.Errorf("authority = %v %q, want %s set-metadata", s.Authority.Member, s.Authority.Basis, paths[0])
			}
			for i, m := range s.Members {
				tm := tr.Members[i]
				if got := *m.Generation; got != mustUint(t, tm.Events) {
					t.Errorf("%s generation = %d, want %s", m.Path, got, tm.Events)
				}
				if m.DataOffset != tm.DataOffsetSectors*512 {
					t.Errorf("%s data_offset = %d, want %d", m.Path, m.DataOffset, tm.DataOffsetSectors*512)
				}
				wantState := report.StateActive
				if tm.Stale {
					wantState = report.StateStale
				}
				if m.State != wantState {
					t.Errorf("%s state = %q, want %q", m.Path, m.State, wantState)
				}
				if m.Authoritative != (i == 0) {
					t.Errorf("%s authoritative = %v", m.Path, m.Authoritative)
				}
				if m.Hashes["sha256"] != fileSHA256(t, paths[i]) {
					t.Errorf("%s sha256 = %s, want the file's", m.Path, m.Hashes["sha256"])
				}
				if got := rangeSHA256(t, paths[i], m.DataOffset, s.DataSize); got != tm.DataSHA256 {
					t.Errorf("%s data area sha256 %s, truth %s (data offset/size misread)", m.Path, got, tm.DataSHA256)
				}
			}
			var want []report.Range
			for _, w := range tr.WrittenAfterSplit {
				src := paths[0]
				want = append(want, report.Range{VolumeOffset: w.Offset, Length: w.Length,
					Agree: [][]string{{paths[0]}, {paths[1]}}, Source: &src,
					SourceBasis: "set-authority", SourceReason: src + " is the set's authoritative member", Owners: []report.MemberOwner{}})
			}
			if tr.StaleMember == "" {
				want = nil
			}
			gotJSON, _ := json.Marshal(s.Divergence.Ranges)
			wantJSON, _ := json.Marshal(append([]report.Range{}, want...))
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("ranges\n got %s\nwant %s", gotJSON, wantJSON)
			}
			var wantBytes int64
			for _, r := range want {
				wantBytes += r.Length
			}
			if s.Divergence.Bytes != wantBytes || s.Divergence.RangesTotal != int64(len(want)) || s.Divergence.Truncated {
				t.Errorf("divergence bytes=%d total=%d truncated=%v, want %d %d false", s.Divergence.Bytes, s.Divergence.RangesTotal, s.Divergence.Truncated, wantBytes, len(want))
			}
			wantVerdict, wantCode := report.VerdictConsistent, exitOK
			if tr.StaleMember != "" {
				wantVerdict, wantCode = report.VerdictDiverged, exitProblems
				if !hasCode(s.Problems, "stale-member") {
					t.Errorf("no stale-member problem: %+v", s.Problems)
				}
			}
			if s.Verdict != wantVerdict || code != wantCode {
				t.Errorf("verdict %q exit %d, want %q %d", s.Verdict, code, wantVerdict, wantCode)
			}
			if strings.Contains(dir, "bitmap") {
				if s.Bitmap == nil || s.Bitmap.CoversAll == nil || !*s.Bitmap.CoversAll || s.Bitmap.Member != paths[0] {
					t.Errorf("bitmap = %+v, want m0's bitmap covering every range", s.Bitmap)
				} else if s.Bitmap.DirtyChunks != 6 || s.Bitmap.ChunkSize != 65536 {
					t.Errorf("bitmap dirty %d chunk %d, want 6 of 64 KiB", s.Bitmap.DirtyChunks, s.Bitmap.ChunkSize)
				}
			}
		})
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad number %q", s)
		}
		v = v*10 + uint64(c-'0')
	}
	return v
}

func hasCode(ps []report.Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

// TestRepairMDFixtures repairs the stale fixtures and holds the output
// against mdadm --examine and the fixture's truth.
func TestRepairMDFixtures(t *testing.T) {
	mdadm := fixture.Tool(t, "mdadm", "mdadm")
	for _, dir := range mdFixtures {
		t.Run(dir, func(t *testing.T) {
			tr := fixture.LoadTruth(t, dir)
			paths := members(t, dir)
			out := t.TempDir()
			code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, paths[0], paths[1])
			if tr.StaleMember == "" {
				if code != exitOK {
					t.Fatalf("repair of a clean set: exit %d, want 0: %s", code, stderr)
				}
				if ents, _ := os.ReadDir(out); len(ents) != 0 {
					t.Errorf("repair of a clean set wrote %d files", len(ents))
				}
				return
			}
			if code != exitRepaired {
				t.Fatalf("repair exit %d, want 1: %s", code, stderr)
			}
			rep, err := report.ReadJSON(strings.NewReader(stdout))
			if err != nil {
				t.Fatal(err)
			}
			rp := rep.Sets[0].Repair
			if rp == nil || rp.Status != "repaired" || len(rp.Outputs) != 2 {
				t.Fatalf("repair = %+v", rp)
			}
			var events []string
			for i, o := range rp.Outputs {
				if !o.Verified || o.Path != filepath.Join(out, filepath.Base(paths[i])) {
					t.Errorf("output %d = %+v", i, o)
				}
				if o.Hashes["sha256"] != fileSHA256(t, o.Path) {
					t.Errorf("%s: reported sha256 is not the file's", o.Path)
				}
				m := rep.Sets[0].Members[i]
				if got := rangeSHA256(t, o.Path, m.DataOffset, rep.Sets[0].DataSize); got != tr.ExpectedSHA256.Fresh {
					t.Errorf("%s data sha256 %s, want the fresh data %s", o.Path, got, tr.ExpectedSHA256.Fresh)
				}
				ex, err := exec.Command(mdadm, "--examine", o.Path).CombinedOutput()
				if err != nil {
					t.Fatalf("mdadm --examine %s: %v\n%s", o.Path, err, ex)
				}
				f := examineFields(string(ex))
				events = append(events, f["Events"])
				if f["State"] != "clean" || !strings.HasSuffix(f["Checksum"], "correct") {
					t.Errorf("%s: mdadm says State %q Checksum %q", o.Path, f["State"], f["Checksum"])
				}
				if tr.Metadata == "1.2" && !strings.HasPrefix(f["Array State"], "AA ") {
					t.Errorf("%s: mdadm Array State %q, want AA", o.Path, f["Array State"])
				}
				if tr.Metadata == "0.90" && (f["Active Devices"] != "2" || f["Failed Devices"] != "0") {
					t.Errorf("%s: mdadm Active %q Failed %q, want 2 0", o.Path, f["Active Devices"], f["Failed Devices"])
				}
			}
			if events[0] != events[1] || events[0] != tr.Members[0].Events {
				t.Errorf("mdadm events of outputs %v, want both %s", events, tr.Members[0].Events)
			}
			// The repaired pair is a consistent set.
			code, rep2 := scanJSON(t, rp.Outputs[0].Path, rp.Outputs[1].Path)
			if code != exitOK || rep2.Sets[0].Verdict != report.VerdictConsistent {
				t.Errorf("scan of repaired outputs: exit %d verdict %q problems %+v", code, rep2.Sets[0].Verdict, rep2.Sets[0].Problems)
			}
		})
	}
}

// examineFields parses mdadm --examine's "Key : Value" lines.
func examineFields(s string) map[string]string {
	f := map[string]string{}
	re := regexp.MustCompile(`^\s*([A-Za-z][A-Za-z ]*?)\s*:\s(.*)$`)
	for _, line := range strings.Split(s, "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			f[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return f
}

// TestEvidenceUnchanged proves that no command modifies an input: every
// input file's hash, size, mode and mtime are the same after scan, repair
// --dry-run and repair.
func TestEvidenceUnchanged(t *testing.T) {
	paths := members(t, "md/md-1.2/c-stale-member-bitmap")
	type stamp struct {
		sum  string
		size int64
		mode os.FileMode
		mod  time.Time
	}
	take := func() []stamp {
		var s []stamp
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			s = append(s, stamp{fileSHA256(t, p), fi.Size(), fi.Mode(), fi.ModTime()})
		}
		return s
	}
	before := take()
	out := t.TempDir()
	for _, args := range [][]string{
		{"scan", paths[0], paths[1]},
		{"scan", "--json", "--hash", "sha256,sha1,md5", paths[0], paths[1]},
		{"repair", "--dry-run", paths[0], paths[1]},
		{"repair", "--out", out, paths[0], paths[1]},
		{"repair", "--out", filepath.Dir(paths[0]), paths[0], paths[1]}, // refused: out holds an input
		{"scan", "--report", paths[1], paths[0], paths[1]},              // refused: the report would replace an input
		{"repair", "--dry-run", "--report", paths[0], paths[0], paths[1]},
		{"scan", "--html", paths[0], paths[0], paths[1]}, // refused: the HTML report would replace an input
		{"scan", "--html", filepath.Join(out, "r.html"), "--report", filepath.Join(out, "r.json"), paths[0], paths[1]},
	} {
		code, _, stderr := mirrorchk(t, args...)
		refused := strings.Contains(strings.Join(args, " "), filepath.Dir(paths[0])+" ") || (args[1] == "--report" || args[2] == "--report" || args[1] == "--html") && args[2] != filepath.Join(out, "r.html")
		switch {
		case refused && code != exitUsage:
			t.Errorf("%v: exit %d, want 16 (refused): %s", args, code, stderr)
		case !refused && code >= 8:
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		after := take()
		for i := range before {
			if before[i] != after[i] {
				t.Fatalf("after %v: input %s changed: %+v -> %+v", args, paths[i], before[i], after[i])
			}
		}
	}
}
