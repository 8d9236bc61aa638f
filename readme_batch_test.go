package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/report"
)

var (
	binOnce sync.Once
	binPath string
	binErr  string
)

// builtMirrorchk builds the tool once for the tests that run it as a
// program (through sh or a job scheduler).
func builtMirrorchk(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mirrorchk-bin-")
		if err != nil {
			binErr = err.Error()
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "mirrorchk"), ".").CombinedOutput()
		if err != nil {
			binErr = string(out)
			return
		}
		binPath = filepath.Join(dir, "mirrorchk")
	})
	if binPath == "" {
		t.Fatalf("go build: %s", binErr)
	}
	return binPath
}

// TestReadmeBatchCommands runs every command of the README's batch block,
// then the Example lines of plan --help and merge --help, in a directory
// holding evidence/ (an md pair, a bare pair, an unpaired image), case.csv
// and out/, and checks what each produced.
func TestReadmeBatchCommands(t *testing.T) {
	bin := builtMirrorchk(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- batch-commands[^>]*-->\n```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README: no batch-commands block")
	}
	var cmds []string
	for _, l := range strings.Split(string(m[1]), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if i := strings.Index(l, "  #"); i > 0 {
				l = strings.TrimSpace(l[:i])
			}
			cmds = append(cmds, l)
		}
	}
	for _, help := range []string{"plan", "merge"} {
		var out strings.Builder
		e := &env{stdout: &out, stderr: &out}
		root := newRootCommand(e)
		root.SetArgs([]string{help, "--help"})
		root.SetOut(&out)
		root.Execute()
		_, ex, ok := strings.Cut(out.String(), "Examples:\n")
		if !ok {
			t.Fatalf("%s --help has no Example", help)
		}
		for _, l := range strings.Split(ex, "\n") {
			l = strings.TrimSpace(l)
			if !strings.HasPrefix(l, "mirrorchk ") {
				break
			}
			cmds = append(cmds, l)
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("only %d commands: %q", len(cmds), cmds)
	}

	dir := t.TempDir()
	ev := filepath.Join(dir, "evidence")
	os.MkdirAll(filepath.Join(ev, "bare"), 0o755)
	os.MkdirAll(filepath.Join(dir, "out"), 0o755)
	md := members(t, "md/md-1.2/b-stale-member")
	bare := members(t, "fsmirror/bare-pair")
	for i, p := range md {
		os.Rename(p, filepath.Join(ev, []string{"md0.img", "md1.img"}[i]))
	}
	for i, p := range bare {
		os.Rename(p, filepath.Join(ev, "bare", []string{"a.img", "b.img"}[i]))
	}
	mkfat(t, filepath.Join(ev, "lone.img"), 4096, "-i", "01020304", "-n", "LONE")
	writeFile(t, filepath.Join(dir, "case.csv"), []byte("image,case,set\nevidence/md0.img,c1,\nevidence/md1.img,c1,\nevidence/bare/a.img,c2,\nevidence/bare/b.img,c2,\n"))
	hashes := map[string]string{}
	for _, p := range []string{"md0.img", "md1.img", "bare/a.img", "bare/b.img", "lone.img"} {
		hashes[p] = fileSHA256(t, filepath.Join(ev, p))
	}
	for _, c := range cmds {
		sh := exec.Command("/bin/sh", "-c", c)
		sh.Dir = dir
		sh.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := sh.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if code >= 16 || code&8 != 0 {
			t.Errorf("%s: exit %d\n%s", c, code, out)
		}
		switch {
		case strings.HasPrefix(c, "mirrorchk plan --json"):
			var p planJSON
			if err := json.Unmarshal(out, &p); err != nil || len(p.Sets) != 2 || p.Sets[0].Case != "c1" {
				t.Errorf("%s: %v %s", c, err, out)
			}
		case strings.HasPrefix(c, "mirrorchk plan"):
			if !strings.Contains(string(out), "3 sets from 5 images") {
				t.Errorf("%s:\n%s", c, out)
			}
		case strings.Contains(c, "--manifest case.csv") && strings.HasPrefix(c, "mirrorchk scan"):
			if !strings.Contains(string(out), "c2/none:id-") {
				t.Errorf("%s: no case-prefixed set key\n%s", c, out)
			}
		}
	}
	// What the commands wrote.
	if b, err := os.ReadFile(filepath.Join(dir, "sets.jsonl")); err != nil || strings.Count(string(b), "\n") != 4 {
		t.Errorf("sets.jsonl: %v\n%s", err, b)
	}
	if b, err := exec.Command("xmllint", "--noout", filepath.Join(dir, "evidence.xml")).CombinedOutput(); err != nil {
		t.Errorf("xmllint evidence.xml: %v %s", err, b)
	}
	f, err := os.Open(filepath.Join(dir, "all.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil || len(rep.Sets) != 3 {
		t.Fatalf("all.json: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "all.jsonl")); err != nil || strings.Count(string(b), "\n") != 4 {
		t.Errorf("all.jsonl (merge example): %v", err)
	}
	for p, h := range hashes {
		if fileSHA256(t, filepath.Join(ev, p)) != h {
			t.Errorf("%s changed", p)
		}
	}
}
