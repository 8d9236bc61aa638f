package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// TestLoneMember: one member of a real-kernel md mirror (0.90 and 1.2,
// b-stale-member) given alone, the current one (m0) or the stale one (m1):
// nothing can tell whether the member not given is newer, so the scan names
// no authority and says why (1 of 2 members given, the given member's
// events), says nothing was compared, and repair refuses (exit 4, the
// reason in the report, a Next line that asks for the other member) and
// writes nothing, with --prefer too, on the command line and in a walked
// directory. The inputs are unchanged. Before, the lone member was "current
// (set-metadata)", even the stale one, and the repair of a lone 0.90 member
// wrote a superblock whose failed_disks disagreed with its disk table.
func TestLoneMember(t *testing.T) {
	mdadm := fixture.Tool(t, "mdadm", "mdadm")
	for _, dir := range []string{"md/md-0.90/b-stale-member", "md/md-1.2/b-stale-member"} {
		tr := fixture.LoadTruth(t, dir)
		for i, tm := range tr.Members {
			t.Run(dir+"/"+tm.File, func(t *testing.T) {
				src := fixture.UnzstdTo(t, dir+"/"+tm.File+".zst", t.TempDir())
				before := fileSHA256(t, src)
				wantStale := tm.File == tr.StaleMember
				if wantStale != (i == 1) {
					t.Fatalf("truth.json: stale member %q", tr.StaleMember)
				}

				// Scan, JSON.
				code, rep := scanJSON(t, src)
				s := rep.Sets[0]
				reasons := strings.Join(s.Authority.Reasons, "\n")
				if len(rep.Sets) != 1 || len(s.Members) != 1 {
					t.Fatalf("scan: %d sets, %d members", len(rep.Sets), len(s.Members))
				}
				if code != exitProblems || s.Verdict != report.VerdictDegraded || s.Authority.Member != nil ||
					s.Authority.Basis != report.BasisNone || s.Members[0].Authoritative || !hasCode(s.Problems, "member-missing") {
					t.Errorf("scan: exit %d verdict %s authority %+v problems %+v", code, s.Verdict, s.Authority, s.Problems)
				}
				other := 1 - i
				for _, w := range []string{
					"no authority: 1 of 2 members given (slot " + strconv.Itoa(other) + " not given)",
					"events " + tm.Events + " is the highest among the members given",
					"so no member is called current",
				} {
					if !strings.Contains(reasons, w) {
						t.Errorf("reasons lack %q:\n%s", w, reasons)
					}
				}
				if g := s.Members[0].Generation; g == nil || strconv.FormatUint(*g, 10) != tm.Events {
					t.Errorf("generation %v, want events %s", g, tm.Events)
				}

				// Scan, text: the bottom line and the divergence.
				_, text, _ := mirrorchk(t, "scan", "--width", "1000", src)
				for _, w := range []string{
					"Verdict: degraded: 1 of 2 members given; no authority",
					"Divergence: not compared: only one member was given",
					"Next: give every member of the set",
				} {
					if !strings.Contains(text, w) {
						t.Errorf("scan text lacks %q:\n%s", w, text)
					}
				}
				for _, bad := range []string{tm.File + " is current", "no differences", "holds the highest generation", "authoritative"} {
					if strings.Contains(text, bad) {
						t.Errorf("scan text says %q:\n%s", bad, text)
					}
				}
				if regexp.MustCompile(`Data size: +[0-9]+ bytes \([^)]*\) compared`).MatchString(text) {
					t.Errorf("scan text says the data was compared:\n%s", text)
				}

				// Repair, command line, with and without --prefer.
				for _, pre := range [][]string{nil, {"--prefer", src}} {
					out := filepath.Join(t.TempDir(), "out")
					args := append(append([]string{"repair", "--json", "--out", out}, pre...), src)
					code, stdout, stderr := mirrorchk(t, args...)
					rr, err := report.ReadJSON(strings.NewReader(stdout))
					if err != nil {
						t.Fatalf("repair %v: %v\n%s", pre, err, stderr)
					}
					rp := rr.Sets[0].Repair
					if code != exitProblems || rp == nil || rp.Status != "refused" || len(rp.Outputs) != 0 ||
						!strings.Contains(rp.Reason, "members of the set are missing: 1 of 2 members given (slot "+strconv.Itoa(other)+" not given)") {
						t.Errorf("repair %v: exit %d repair %+v stderr %s", pre, code, rp, stderr)
					}
					if b := report.SetBottom(rr, &rr.Sets[0]); !strings.Contains(b.Next, "give every member") || strings.Contains(b.Next, "mirrorchk repair") {
						t.Errorf("repair %v: Next %q", pre, b.Next)
					}
					noOutputs(t, mdadm, out)
				}

				// The same member alone in a walked directory.
				walk := t.TempDir()
				lone := filepath.Join(walk, "case", tm.File)
				os.MkdirAll(filepath.Dir(lone), 0o755)
				writeFile(t, lone, mustRead(t, src))
				code, rep = scanJSON(t, walk)
				if s := rep.Sets[0]; code != exitProblems || len(rep.Sets) != 1 || s.Verdict != report.VerdictDegraded || s.Authority.Member != nil {
					t.Errorf("walked scan: exit %d sets %d verdict %s authority %+v", code, len(rep.Sets), s.Verdict, s.Authority)
				}
				out := filepath.Join(t.TempDir(), "out")
				code, stdout, _ := mirrorchk(t, "repair", "--json", "--out", out, walk)
				rr, err := report.ReadJSON(strings.NewReader(stdout))
				if err != nil || code != exitProblems || rr.Sets[0].Repair == nil || rr.Sets[0].Repair.Status != "refused" {
					t.Errorf("walked repair: exit %d %v %+v", code, err, rr)
				}
				noOutputs(t, mdadm, out)

				if fileSHA256(t, src) != before || fileSHA256(t, lone) != before {
					t.Errorf("an input changed")
				}
			})
		}
	}
}

// noOutputs fails when out holds any file. Anything written there would be
// a repaired member of a set with members missing; for each, it also says
// whether mdadm --examine finds its superblock consistent.
func noOutputs(t *testing.T, mdadm, out string) {
	t.Helper()
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		t.Errorf("repair of part of a set wrote %s", p)
		if ex, err := exec.Command(mdadm, "--examine", p).CombinedOutput(); err == nil {
			if why := examineInconsistent(string(ex)); why != "" {
				t.Errorf("%s: mdadm --examine: %s\n%s", p, why, ex)
			}
		}
		return nil
	})
}

// examineInconsistent holds the device counts of mdadm --examine's 0.90
// header against the rows of its disk table ("faulty", "active sync"), and
// returns what disagrees, or "".
func examineInconsistent(ex string) string {
	f := examineFields(ex)
	if f["Failed Devices"] == "" {
		return "" // 1.x: no counts
	}
	faulty, active := 0, 0
	row := regexp.MustCompile(`^\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+(.*)$`)
	for _, line := range strings.Split(ex, "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch {
		case strings.Contains(m[1], "faulty"):
			faulty++
		case strings.HasPrefix(m[1], "active sync"):
			active++
		}
	}
	var why []string
	if strconv.Itoa(faulty) != f["Failed Devices"] {
		why = append(why, "Failed Devices "+f["Failed Devices"]+" but "+strconv.Itoa(faulty)+" faulty rows")
	}
	if strconv.Itoa(active) != f["Active Devices"] {
		why = append(why, "Active Devices "+f["Active Devices"]+" but "+strconv.Itoa(active)+" active sync rows")
	}
	return strings.Join(why, "; ")
}

// TestExamineInconsistent: the check noOutputs relies on finds the
// inconsistency of the old lone 0.90 repair (failed_disks 0 beside a
// faulty removed slot) in mdadm's own output, and passes the fixtures'.
func TestExamineInconsistent(t *testing.T) {
	for _, m := range []string{"m0", "m1"} {
		b, err := os.ReadFile(fixture.Path("md/md-0.90/b-stale-member/examine-" + m + ".txt"))
		if err != nil {
			t.Fatal(err)
		}
		if why := examineInconsistent(string(b)); why != "" {
			t.Errorf("%s: %s", m, why)
		}
		if m == "m0" {
			bad := strings.Replace(string(b), " Failed Devices : 1", " Failed Devices : 0", 1)
			if why := examineInconsistent(bad); !strings.Contains(why, "Failed Devices 0 but 1 faulty rows") {
				t.Errorf("failed_disks 0 beside a faulty row: %q", why)
			}
		}
	}
}

// TestLoneFirmwareMember: the same for the real IMSM and DDF mirrors
// (mdadm's containers on the kernel): either member alone has no
// authority, and repair refuses, writes nothing and rewrites no MPB or DDF
// header (before, a lone member was current by the set metadata).
func TestLoneFirmwareMember(t *testing.T) {
	mdadm := fixture.Tool(t, "mdadm", "mdadm")
	for _, dir := range []string{"md/md-imsm/b-stale-member", "md/md-ddf/b-stale-member"} {
		for _, m := range []string{"m0.img", "m1.img"} {
			t.Run(dir+"/"+m, func(t *testing.T) {
				src := fixture.UnzstdTo(t, dir+"/"+m+".zst", t.TempDir())
				before := fileSHA256(t, src)
				code, rep := scanJSON(t, src)
				s := rep.Sets[0]
				if code != exitProblems || s.Verdict != report.VerdictDegraded || s.Authority.Member != nil || !hasCode(s.Problems, "member-missing") ||
					!strings.Contains(strings.Join(s.Authority.Reasons, "\n"), "no authority: 1 of 2 members given") {
					t.Errorf("scan: exit %d verdict %s authority %+v problems %+v", code, s.Verdict, s.Authority, s.Problems)
				}
				out := filepath.Join(t.TempDir(), "out")
				code, stdout, _ := mirrorchk(t, "repair", "--json", "--out", out, src)
				rr, err := report.ReadJSON(strings.NewReader(stdout))
				if err != nil || code != exitProblems || rr.Sets[0].Repair == nil || rr.Sets[0].Repair.Status != "refused" {
					t.Errorf("repair: exit %d %v %+v", code, err, rr)
				}
				noOutputs(t, mdadm, out)
				if fileSHA256(t, src) != before {
					t.Errorf("input changed")
				}
			})
		}
	}
}
