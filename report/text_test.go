package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// manyRanges is staleBitmap with n differing 4 KiB ranges, every other
// 4 KiB block, half in a file and half in $MFT records, the odd ones
// decided by their own structure from m1.
func manyRanges(n int) *Report {
	r := sourced(staleBitmap)()
	s := &r.Sets[0]
	s.Divergence.Ranges = nil
	for i := 0; i < n; i++ {
		rg := Range{VolumeOffset: int64(i) * 8192, Length: 4096,
			Agree:  [][]string{{s.Members[0].Path}, {s.Members[1].Path}},
			Source: str(s.Members[0].Path), SourceBasis: "set-authority", SourceReason: "m0.img is the set's authoritative member"}
		if i%2 == 0 {
			rg.Owner = &Owner{FS: "ntfs", Structure: "data", Path: "/big.bin"}
		} else {
			rg.Owner = &Owner{FS: "ntfs", Structure: fmt.Sprintf("$MFT record %d", i), Record: i64(int64(i))}
			rg.Source, rg.SourceBasis, rg.SourceReason = str(s.Members[1].Path), "structure", "only m1's copy passes its fixups"
		}
		s.Divergence.Ranges = append(s.Divergence.Ranges, rg)
	}
	s.Divergence.RangesTotal = int64(n)
	s.Divergence.Bytes = int64(n) * 4096
	return r
}

func TestTextBottomLineFirstAndLast(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, sourced(staleBitmap)()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := "Verdict: m0.img is current (by the set metadata); m1.img is stale (missed 5 updates)"
	if got := lines[len(lines)-2]; got != want {
		t.Errorf("second-to-last line %q, want %q", got, want)
	}
	if got := lines[len(lines)-1]; got != "Next: mirrorchk repair --out DIR /evidence/case-17/m0.img /evidence/case-17/m1.img" {
		t.Errorf("last line %q", got)
	}
	if lines[1] != want || lines[2] != lines[len(lines)-1] {
		t.Errorf("the report does not open with the verdict and the next step:\n%s", strings.Join(lines[:4], "\n"))
	}
	if !strings.Contains(buf.String(), "\n  "+want+"\n") {
		t.Errorf("the set does not state its verdict")
	}
}

func TestTextSplitBrainBottomLine(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTextOptions(&buf, sourced(splitBrain)(), TextOptions{Width: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Verdict: split brain: the evidence does not point to one member (each has writes the other lacks, or its sources disagree); nothing will be repaired without --prefer (see the 2 differing ranges)",
		"Next: compare the differing ranges in each member, then choose: mirrorchk repair --prefer IMAGE --out DIR left/disk.img right/disk.img",
	} {
		if !strings.HasSuffix(strings.TrimSpace(buf.String()), want) && !strings.Contains(buf.String(), want) {
			t.Errorf("missing %q in\n%s", want, buf.String())
		}
	}
}

func TestTextPreferOverridesMetadata(t *testing.T) {
	r := sourced(staleBitmap)()
	s := &r.Sets[0]
	r.Command = []string{"mirrorchk", "scan", "--prefer", s.Members[1].Path, s.Members[0].Path, s.Members[1].Path}
	s.Authority = Authority{Member: str(s.Members[1].Path), Basis: BasisUser, Reasons: []string{"--prefer"}}
	s.Members[0].Authoritative, s.Members[1].Authoritative = false, true
	s.Problems = append(s.Problems, Problem{Code: CodePreferOverridesMetadata, Severity: SeverityWarning, Message: "x"})
	b := SetBottom(r, s)
	want := "m1.img is taken as current because you chose it with --prefer, against the set metadata; the metadata says m1.img is stale"
	if !strings.HasPrefix(b.Verdict, want) {
		t.Errorf("verdict %q, want prefix %q", b.Verdict, want)
	}
	if b.Next != "mirrorchk repair --out DIR --prefer /evidence/case-17/m1.img /evidence/case-17/m0.img /evidence/case-17/m1.img" {
		t.Errorf("next %q", b.Next)
	}
}

// TestNextFitsRefusal: the next step never repeats a repair that is sure
// to be refused (two inputs of one member, a short member) or was just
// refused, and never carries the scan's own output files (--dfxml, --jsonl)
// into the repair command.
func TestNextFitsRefusal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(r *Report, s *Set)
		next    string
		notNext string
	}{
		{"plain", func(r *Report, s *Set) {}, "mirrorchk repair --out DIR /evidence/case-17/m0.img /evidence/case-17/m1.img", ""},
		{"scan outputs dropped", func(r *Report, s *Set) {
			r.Command = []string{"mirrorchk", "scan", "--dfxml", "scan.xml", "--jsonl=scan.jsonl", s.Members[0].Path, s.Members[1].Path}
		}, "mirrorchk repair --out DIR /evidence/case-17/m0.img /evidence/case-17/m1.img", ""},
		{"duplicate member", func(r *Report, s *Set) {
			s.Problems = append(s.Problems, Problem{Code: "duplicate-member", Severity: SeverityError, Message: "x"})
		}, "give each member once (two inputs are the same member: see duplicate-member below), then repair", ""},
		{"short member", func(r *Report, s *Set) {
			s.Problems = append(s.Problems, Problem{Code: "size-mismatch", Severity: SeverityError, Message: "x"})
		}, "give the whole image of the short member (see size-mismatch below: mirrorchk does not extend a truncated image), then repair", ""},
		{"refused, nothing to choose", func(r *Report, s *Set) {
			r.Command = []string{"mirrorchk", "repair", "--out", "fixed", s.Members[0].Path, s.Members[1].Path}
			s.Repair = &Repair{Status: "refused", Reason: "metadata cannot be brought in sync: x"}
		}, "resolve what the repair was refused for (above), then run it again", "mirrorchk repair --out fixed"},
		{"refused, --prefer resolves", func(r *Report, s *Set) {
			r.Command = []string{"mirrorchk", "repair", "--out", "fixed", s.Members[0].Path, s.Members[1].Path}
			s.Repair = &Repair{Status: "refused", Reason: "some differing ranges have no trustworthy source: 512 bytes; name a member with --prefer"}
		}, "compare the differing ranges in each member, then choose: mirrorchk repair --prefer IMAGE --out fixed /evidence/case-17/m0.img /evidence/case-17/m1.img", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sourced(staleBitmap)()
			s := &r.Sets[0]
			tc.edit(r, s)
			b := SetBottom(r, s)
			if b.Next != tc.next {
				t.Errorf("next %q\nwant %q", b.Next, tc.next)
			}
			if tc.notNext != "" && strings.Contains(b.Next, tc.notNext) {
				t.Errorf("next %q repeats the refused command", b.Next)
			}
		})
	}
}

// TestTextWidth: at 80 columns no line is wider than 80 unless it is one
// word, and the default is 100.
func TestTextWidth(t *testing.T) {
	for _, width := range []int{0, 80, 60} {
		limit := width
		if width == 0 {
			limit = DefaultTextWidth
		}
		for _, c := range cases {
			var buf bytes.Buffer
			if err := WriteTextOptions(&buf, c.r(), TextOptions{Width: width}); err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(buf.String(), "\n") {
				if len(line) > limit && strings.Contains(strings.TrimSpace(line), " ") {
					t.Errorf("%s width %d line %d is %d columns: %q", c.name, width, i+1, len(line), line)
				}
			}
		}
	}
}

// TestTextRangesOnce: 16,000 differing ranges print the first 50 once,
// then the summaries, in a few hundred lines.
func TestTextRangesOnce(t *testing.T) {
	r := manyRanges(16000)
	var buf bytes.Buffer
	if err := WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, "\n"); n > 400 {
		t.Errorf("%d lines for 16000 ranges", n)
	}
	for _, off := range []string{"0x0 ", "0x62000 "} { // ranges 0 and 49
		if c := strings.Count(out, "    "+off); c != 1 {
			t.Errorf("range at %s listed %d times", off, c)
		}
	}
	if strings.Contains(out, "0x64000 ") { // range 50
		t.Errorf("range 51 is listed")
	}
	for _, want := range []string{
		"... and 15950 more ranges not listed here: --max-ranges N lists more, --json gives every range",
		"32768000 bytes  8000 ranges  /big.bin",
		"32768000 bytes  8000 ranges  ntfs $MFT record",
		"32768000 bytes  8000 ranges  source: m0.img (set-authority)",
		"32768000 bytes  8000 ranges  source: m1.img (structure)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	// --max-ranges -1: every range, once, and no summary.
	buf.Reset()
	WriteTextOptions(&buf, r, TextOptions{MaxRanges: -1, Width: 200})
	if c := strings.Count(buf.String(), "  {m0.img} vs {m1.img}  "); c != 16000 {
		t.Errorf("all ranges: %d listed", c)
	}
	if strings.Contains(buf.String(), "by owner") {
		t.Errorf("summary printed although every range is listed")
	}
}

func TestStructureGroup(t *testing.T) {
	for in, want := range map[string]string{"$MFT record 42": "$MFT record", "FAT 2": "FAT", "boot sector": "boot sector", "": "-"} {
		if got := StructureGroup(in); got != want {
			t.Errorf("StructureGroup(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRunBottomSets: with several sets the run's verdict counts them by
// verdict, names the sets, and gives the one set's next step when only
// one needs something.
func TestRunBottomSets(t *testing.T) {
	r := sourced(staleBitmap)()
	c := sourced(clean)()
	r.Sets = append(c.Sets, r.Sets[0])
	b := RunBottom(r)
	if b.Verdict != "2 sets checked, 1 consistent, 1 diverged (set 2)" {
		t.Errorf("verdict %q", b.Verdict)
	}
	if b.Next != "set 2: mirrorchk repair --out DIR /evidence/case-17/m0.img /evidence/case-17/m1.img" {
		t.Errorf("next %q", b.Next)
	}
	r.Sets = append(r.Sets, sourced(splitBrain)().Sets[0])
	b = RunBottom(r)
	if b.Verdict != "3 sets checked, 1 consistent, 1 diverged (set 2), 1 split-brain (set 3)" || b.Next != "see the verdict and next step of sets 2, 3" {
		t.Errorf("three sets: %+v", b)
	}
	var buf bytes.Buffer
	WriteTextOptions(&buf, r, TextOptions{Width: 200})
	lines := strings.Split(buf.String(), "\n")
	if !strings.HasPrefix(lines[3], "  Set 1 (m0.img, m1.img; ") || !strings.HasPrefix(lines[5], "  Set 3 (left/disk.img, right/disk.img; ") {
		t.Errorf("the per-set verdicts are not at the top:\n%s", strings.Join(lines[:7], "\n"))
	}
}

// TestSameData: the bottom line says "the members hold the same data" only
// when every member was compared and nothing of a data area went unread.
func TestSameData(t *testing.T) {
	s := &Set{Verdict: VerdictDegraded, Members: []Member{{Path: "a"}, {Path: "b"}}}
	if !sameData(s) {
		t.Error("two members, nothing differs: same data")
	}
	s.Members[1].Unreadable.DataBytes = 512
	if sameData(s) {
		t.Error("512 bytes of b's data area unread: not known to be the same")
	}
	s.Members[1].Unreadable.DataBytes = 0
	s.Divergence.Bytes = 512
	if sameData(s) {
		t.Error("512 differing bytes: not the same")
	}
	if sameData(&Set{Members: []Member{{Path: "a"}}}) {
		t.Error("one member: nothing compared")
	}
}
