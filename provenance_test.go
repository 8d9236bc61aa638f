package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/report"
)

// TestProvenanceUnstamped: a build without a VCS stamp (this test binary;
// the machine's go env sets -buildvcs=false) says "unknown revision"
// plainly, and every report records the command line, the working
// directory, the host, the user and the start and end times in UTC.
func TestProvenanceUnstamped(t *testing.T) {
	p := members(t, "md/md-1.2/a-clean")
	_, rep := scanJSON(t, p[0], p[1])
	pv := rep.Provenance
	if pv == nil {
		t.Fatal("no provenance")
	}
	wd, _ := os.Getwd()
	host, _ := os.Hostname()
	if pv.Revision != "unknown revision" || pv.Cwd != wd || pv.Host != host || pv.User == "" ||
		!strings.HasSuffix(pv.Start, "Z") || !strings.HasSuffix(pv.End, "Z") || strings.Join(pv.Command, " ") != "mirrorchk scan --json "+p[0]+" "+p[1] {
		t.Errorf("provenance %+v", pv)
	}
	_, out, _ := mirrorchk(t, "version")
	if !strings.Contains(out, "revision unknown revision") {
		t.Errorf("version: %q", out)
	}
}

// TestProvenanceStamped builds the tool with go build -buildvcs=true in a
// git checkout of this tree and checks that version and the report carry
// the checkout's revision. (Go does not stamp builds in a linked git
// worktree, whose .git is a file, so the test makes a plain checkout: a
// copy of the tracked and untracked files, committed.)
func TestProvenanceStamped(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is needed (apt-get install git)")
	}
	files, err := exec.Command(git, "ls-files", "-co", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v (the test runs in a git checkout)", err)
	}
	src := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		if strings.HasPrefix(f, "testdata/") || strings.Contains(f, "/testdata/") {
			continue // not needed to build
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue // deleted in the work tree
		}
		os.MkdirAll(filepath.Join(src, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitIn := func(args ...string) string {
		cmd := exec.Command(git, append([]string{"-c", "user.name=mirrorchk test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = src
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitIn("init", "-q")
	gitIn("add", "-A")
	gitIn("commit", "-q", "-m", "provenance test")
	rev := gitIn("rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "mirrorchk")
	cmd := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "revision "+rev+"\n") || !regexp.MustCompile(`mirrorchk v0\.0\.0-\d{14}-`+rev[:12]).Match(out) {
		t.Errorf("version of a stamped build:\n%s\nwant revision %s", out, rev)
	}
	p := members(t, "md/md-1.2/a-clean")
	js, _ := exec.Command(bin, "scan", "--json", p[0], p[1]).Output()
	rep, err := report.ReadJSON(strings.NewReader(string(js)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Provenance == nil || rep.Provenance.Revision != rev || rep.Provenance.Modified {
		t.Errorf("report provenance %+v, want revision %s, not modified", rep.Provenance, rev)
	}
}
