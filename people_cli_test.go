package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/example"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

func exampleMembers(t *testing.T) []string {
	t.Helper()
	p, err := example.Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mdadmExamine runs mdadm --examine on img in UTC and returns its fields.
func mdadmExamine(t *testing.T, img string) map[string]string {
	t.Helper()
	cmd := exec.Command(fixture.Tool(t, "mdadm", "mdadm"), "--examine", img)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mdadm --examine %s: %v\n%s", img, err, out)
	}
	f := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, " : "); ok {
			f[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return f
}

// TestMDEvidenceAsMdadm: each member's evidence shows Update Time and
// Device UUID exactly as mdadm --examine prints them (in UTC).
func TestMDEvidenceAsMdadm(t *testing.T) {
	p := exampleMembers(t)
	_, rep := scanJSON(t, p...)
	for i, m := range rep.Sets[0].Members {
		f := mdadmExamine(t, p[i])
		ev := strings.Join(m.Evidence, "\n")
		for _, want := range []string{"Update Time : " + f["Update Time"] + " UTC", "Device UUID : " + f["Device UUID"]} {
			if !strings.Contains(ev, want) {
				t.Errorf("%s: evidence lacks %q:\n%s", m.Path, want, ev)
			}
		}
	}
}

// TestPreferAgainstMetadata: --prefer naming the stale member records the
// user's choice, keeps the states the metadata gives, warns once, and
// repair takes the preferred member's data without rolling the array's
// events back.
func TestPreferAgainstMetadata(t *testing.T) {
	p := exampleMembers(t)
	before := []string{fileSHA256(t, p[0]), fileSHA256(t, p[1])}
	code, rep := scanJSON(t, "--prefer", p[1], p[0], p[1])
	s := rep.Sets[0]
	if code != exitProblems || s.Authority.Basis != report.BasisUser || s.Authority.Member == nil || *s.Authority.Member != p[1] {
		t.Fatalf("exit %d authority %v (%s)", code, s.Authority.Member, s.Authority.Basis)
	}
	if s.Members[0].State != report.StateActive || s.Members[1].State != report.StateStale {
		t.Errorf("states %s, %s: want the metadata's active, stale", s.Members[0].State, s.Members[1].State)
	}
	n := 0
	for _, pr := range s.Problems {
		if pr.Code == report.CodePreferOverridesMetadata {
			n++
			if pr.Severity != report.SeverityWarning {
				t.Errorf("prefer-overrides-metadata is %s", pr.Severity)
			}
		}
		if pr.Code == "stale-member" && pr.Member == p[0] {
			t.Errorf("the metadata's current member is called stale: %s", pr.Message)
		}
	}
	if n != 1 {
		t.Errorf("%d prefer-overrides-metadata problems, want 1", n)
	}
	out := t.TempDir()
	code, stdout, stderr := mirrorchk(t, "repair", "--prefer", p[1], "--out", out, p[0], p[1])
	if code != exitRepaired {
		t.Fatalf("repair: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "Verdict: m1.img is taken as current because you chose it with --prefer, against the set metadata") {
		t.Errorf("the verdict does not say the choice goes against the metadata:\n%s", stdout)
	}
	for _, o := range []string{"m0.img", "m1.img"} {
		f := mdadmExamine(t, filepath.Join(out, o))
		if f["Events"] != "20" || !strings.HasPrefix(f["Array State"], "AA ") {
			t.Errorf("%s: mdadm says events %q array state %q, want 20 and AA", o, f["Events"], f["Array State"])
		}
		got, _ := os.ReadFile(filepath.Join(out, o))
		want, _ := os.ReadFile(p[1])
		if !bytes.Equal(got[1<<20:], want[1<<20:]) {
			t.Errorf("%s: data area is not m1.img's", o)
		}
	}
	if a, b := fileSHA256(t, p[0]), fileSHA256(t, p[1]); a != before[0] || b != before[1] {
		t.Errorf("an input changed")
	}
}

// TestCancelledExits32: a run whose context is cancelled (SIGINT or
// SIGTERM in main) exits 32, says so, and leaves no partial output.
func TestCancelledExits32(t *testing.T) {
	p := exampleMembers(t)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"repair", "--out", out, p[0], p[1]}, &stdout, &stderr)
	if code != exitCancelled || !strings.Contains(stderr.String(), "cancelled") {
		t.Errorf("exit %d, stderr %q: want 32 and \"cancelled\"", code, stderr.String())
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("output directory holds %d entries after a cancelled repair", len(ents))
	}
}

// TestReadmeBuild runs the README's build and install commands.
func TestReadmeBuild(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"build", "-buildvcs=true", "-o", filepath.Join(dir, "mirrorchk"), "."}, {"install", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "GOBIN="+filepath.Join(dir, "bin"), "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	for _, bin := range []string{filepath.Join(dir, "mirrorchk"), filepath.Join(dir, "bin", "mirrorchk")} {
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "mirrorchk ") {
			t.Errorf("%s version: %v %q", bin, err, out)
		}
	}
}

// TestTextWidthFlag: --width sets the wrap column; without it and without
// a terminal the text is wrapped at 100.
func TestTextWidthFlag(t *testing.T) {
	p := exampleMembers(t)
	for _, c := range []struct {
		args  []string
		width int
	}{{nil, 100}, {[]string{"--width", "80"}, 80}, {[]string{"--width", "60"}, 60}} {
		_, out, _ := mirrorchk(t, append(append([]string{"scan"}, c.args...), p...)...)
		widest := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(strings.TrimSpace(l), " ") {
				widest = max(widest, len(l))
			}
		}
		if widest > c.width || widest < c.width-15 {
			t.Errorf("%v: widest line %d, want at most %d and close to it", c.args, widest, c.width)
		}
	}
	if code, _, _ := mirrorchk(t, "scan", "--width", "5", p[0], p[1]); code != exitUsage {
		t.Errorf("--width 5: exit %d, want 16", code)
	}
}

// TestCancelledScanReport: a cancelled scan asked for a report writes one
// that says the run was cancelled, and exits 32.
func TestCancelledScanReport(t *testing.T) {
	p := exampleMembers(t)
	js := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"scan", "--report", js, p[0], p[1]}, &stdout, &stderr); code != exitCancelled {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	f, err := os.Open(js)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Code != report.CodeCancelled {
		t.Errorf("problems %+v, want one %q", rep.Problems, report.CodeCancelled)
	}
	// A cancelled batch job's report still names what was planned and who
	// ran it.
	if rep.Provenance == nil || rep.Plan == "" || rep.Inputs == nil || rep.Inputs.Images != 2 {
		t.Errorf("the cancelled run's report lacks its provenance, plan or inputs: %+v %q %+v", rep.Provenance, rep.Plan, rep.Inputs)
	}
	if !strings.Contains(stdout.String(), "Verdict: cancelled before the check finished") {
		t.Errorf("the text report does not say the run was cancelled:\n%s", stdout.String())
	}
}

// TestScanFTSurvivorMark: the registry shows both members Healthy, but
// only one member's MBR type carries ftdisk's 0xC0 mark (0x87 -> 0xC7):
// that member went on alone and is current (basis set-metadata, the MBR
// entry cited); the warning ft-mbr-broken-but-healthy stays. When the
// filesystem evidence names the other member instead, it is a split brain.
func TestScanFTSurvivorMark(t *testing.T) {
	d0, d1 := ftMirror(t, "87")
	ftRun(t, "sfdisk", "-q", "--part-type", d1, "1", "c7")
	ftWrite(t, d1, ftStart, "later.txt", "written while disk0 was gone")
	code, rep := scanJSON(t, "--hive", ftHive("healthy"), d0, d1)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member == nil || *s.Authority.Member != d1 || s.Authority.Basis != report.BasisSetMetadata {
		t.Fatalf("exit %d verdict %s authority %v (%s)\n%s", code, s.Verdict, s.Authority.Member, s.Authority.Basis, ftReasons(s))
	}
	if !strings.Contains(ftReasons(s), "0xC7 at byte 450") || !strings.Contains(ftReasons(s), "survivor mark") {
		t.Errorf("the reasons do not cite the MBR entry:\n%s", ftReasons(s))
	}
	if s.Members[0].State != report.StateStale || s.Members[1].State != report.StateActive {
		t.Errorf("states %s %s", s.Members[0].State, s.Members[1].State)
	}
	if p := ftProblem(s.Problems, "ft-mbr-broken-but-healthy"); p == nil || p.Severity != report.SeverityWarning {
		t.Errorf("ft-mbr-broken-but-healthy: %+v", p)
	}
	if b := report.SetBottom(rep, &s); !strings.HasPrefix(b.Verdict, "disk1.img is current (by the set metadata); disk0.img is stale") {
		t.Errorf("verdict %q", b.Verdict)
	}

	// The filesystems say the unmarked member was written last.
	e0, e1 := ftMirror(t, "87")
	ftRun(t, "sfdisk", "-q", "--part-type", e1, "1", "c7")
	ftWrite(t, e0, ftStart, "later.txt", "written on the unmarked member")
	_, rep = scanJSON(t, "--hive", ftHive("healthy"), e0, e1)
	s = rep.Sets[0]
	if s.Verdict != report.VerdictSplitBrain || s.Authority.Member != nil || ftProblem(s.Problems, "ft-orphan-newer") == nil {
		t.Errorf("filesystems against the mark: verdict %s authority %v problems %+v", s.Verdict, s.Authority.Member, s.Problems)
	}
}

// TestScanBareSplitBrain: two bare copies of a FAT12 volume made by
// mkfs.fat, each given a file (by mtools) the other lacks: a split brain,
// not "diverged", and repair refuses without --prefer. One file more on
// one side only stays an authority from the filesystem evidence.
func TestScanBareSplitBrain(t *testing.T) {
	a := fixture.Unzstd(t, "fat/small-fat12.img.zst")
	b0, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	b := writeFile(t, filepath.Join(t.TempDir(), "b.img"), b0)
	ftWrite(t, a, 0, "only-a.txt", strings.Repeat("written on a while b was away\n", 100))
	ftWrite(t, b, 0, "only-b.txt", strings.Repeat("written on b while a was away\n", 100))
	code, rep := scanJSON(t, a, b)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictSplitBrain || s.Authority.Member != nil {
		t.Fatalf("exit %d verdict %s authority %v\n%s", code, s.Verdict, s.Authority.Member, ftReasons(s))
	}
	p := ftProblem(s.Problems, "split-brain")
	if p == nil || !strings.Contains(p.Message, "(e.g. /only-a.txt)") || !strings.Contains(p.Message, "(e.g. /only-b.txt)") {
		t.Errorf("split-brain problem %+v", p)
	}
	for _, m := range s.Members {
		if m.State == report.StateStale {
			t.Errorf("%s is called stale in a split brain", m.Path)
		}
	}
	if b := report.SetBottom(rep, &s); !strings.HasPrefix(b.Verdict, "split brain") {
		t.Errorf("verdict line %q", b.Verdict)
	}
	if code, _, stderr := mirrorchk(t, "repair", "--out", t.TempDir(), a, b); code != exitProblems || !strings.Contains(stderr, "split brain") {
		t.Errorf("repair: exit %d %s", code, stderr)
	}
}

// TestScanBareSplitBrainNewer: the same file rewritten on each side, each
// member dated later for one of two files (mcopy -m keeps the source's
// modification time). FAT dates are the writing program's (a file restored
// from a backup is dated older than the copy it replaces), so they show
// no write: no authority and the reasons cite both files' dates, but no
// split brain is claimed on dates alone (it once was). Rewritten on one
// side only, it is no split brain either.
func TestScanBareSplitBrainNewer(t *testing.T) {
	base := fixture.Unzstd(t, "fat/small-fat12.img.zst")
	// Two files on both members, old dates.
	old := time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)
	put := func(img, name, content string, when time.Time) {
		t.Helper()
		f := writeFile(t, filepath.Join(t.TempDir(), name), []byte(content))
		if err := os.Chtimes(f, when, when); err != nil {
			t.Fatal(err)
		}
		ftRun(t, "mcopy", "-o", "-m", "-i", img, f, "::/")
	}
	put(base, "one.txt", strings.Repeat("1", 3000), old)
	put(base, "two.txt", strings.Repeat("2", 3000), old)
	b0, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	a := writeFile(t, filepath.Join(t.TempDir(), "a.img"), b0)
	b := writeFile(t, filepath.Join(t.TempDir(), "b.img"), b0)
	put(a, "one.txt", strings.Repeat("A", 3000), old.Add(24*time.Hour))
	put(b, "two.txt", strings.Repeat("B", 3000), old.Add(48*time.Hour))
	code, rep := scanJSON(t, a, b)
	s := rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || s.Authority.Member != nil || ftProblem(s.Problems, "no-authority") == nil || ftProblem(s.Problems, "split-brain") != nil {
		t.Fatalf("exit %d verdict %s authority %v problems %+v\n%s", code, s.Verdict, s.Authority.Member, s.Problems, ftReasons(s))
	}
	if all := ftReasons(s); !strings.Contains(all, "files both hold are dated differently (/one.txt, dated 2020-01-02T12:00:00Z on "+a) ||
		!strings.Contains(all, "/two.txt, dated 2020-01-03T12:00:00Z on "+b) {
		t.Errorf("reasons do not cite both files' dates:\n%s", all)
	}
	for _, m := range s.Members {
		if m.State == report.StateStale {
			t.Errorf("%s is called stale by dates", m.Path)
		}
	}
	// Only b rewrote a file: not a split brain (the fixture's own later
	// timestamps leave the authority to the other evidence).
	c := writeFile(t, filepath.Join(t.TempDir(), "c.img"), b0)
	_, rep = scanJSON(t, c, b)
	s = rep.Sets[0]
	if s.Verdict != report.VerdictDiverged || ftProblem(s.Problems, "split-brain") != nil {
		t.Errorf("one side rewritten: verdict %s authority %v\n%s\n%+v", s.Verdict, s.Authority.Member, ftReasons(s), s.Problems)
	}
}
