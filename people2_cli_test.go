package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/internal/eiofs"
	"github.com/mirrorchk/mirrorchk/report"
)

// TestBatchSetNamesWithCase: in a batch report of a manifest with a case
// column, each set is named by its evidence files and its case, in the
// text report's per-set verdict list and set headings and in the HTML
// page's table of contents and set headings; sets given on the command
// line (no case) are named by their files alone.
func TestBatchSetNamesWithCase(t *testing.T) {
	dir := t.TempDir()
	ev := filepath.Join(dir, "evidence")
	os.MkdirAll(filepath.Join(ev, "bare"), 0o755)
	md := members(t, "md/md-1.2/b-stale-member")
	bare := members(t, "fsmirror/bare-pair")
	for i, p := range md {
		os.Rename(p, filepath.Join(ev, []string{"md0.img", "md1.img"}[i]))
	}
	for i, p := range bare {
		os.Rename(p, filepath.Join(ev, "bare", []string{"a.img", "b.img"}[i]))
	}
	man := writeFile(t, filepath.Join(dir, "case.csv"), []byte("image,case\nevidence/md0.img,c1\nevidence/md1.img,c1\nevidence/bare/a.img,c2\nevidence/bare/b.img,c2\n"))
	html := filepath.Join(dir, "r.html")
	code, out, stderr := mirrorchk(t, "scan", "--html", html, "--manifest", man)
	if code >= 8 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, rep := scanJSON(t, "--manifest", man)
	if len(rep.Sets) != 2 || rep.Sets[0].Case != "c1" || rep.Sets[1].Case != "c2" {
		t.Fatalf("sets: %+v", rep.Sets)
	}
	id := rep.Sets[0].ID
	text := []string{
		"  Set 1 (case c1: md0.img, md1.img; " + id + "): ",
		"  Set 2 (case c2: a.img, b.img): ",
		"\nSET 1 OF 2: case c1: md0.img, md1.img\n",
		"\nSET 2 OF 2: case c2: a.img, b.img\n",
	}
	for _, want := range text {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	page := string(mustRead(t, html))
	for _, want := range []string{
		`<li><a href="#set-1">Set 1</a> (case c1: md0.img, md1.img; ` + id + `): `,
		`<li><a href="#set-2">Set 2</a> (case c2: a.img, b.img): `,
		`<h2>Set 1 of 2: case c1: md0.img, md1.img; ` + id + ` <span class="badge`,
		`<h2>Set 2 of 2: case c2: a.img, b.img <span class="badge`,
		`<a href="#set-2">case c2: a.img, b.img</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML page lacks %q", want)
		}
	}

	// The same images on the command line: no case, named by their files.
	_, out, _ = mirrorchk(t, "scan", filepath.Join(ev, "md0.img"), filepath.Join(ev, "md1.img"), filepath.Join(ev, "bare", "a.img"), filepath.Join(ev, "bare", "b.img"))
	if strings.Contains(out, "case ") {
		t.Errorf("a run without a manifest names a case:\n%s", out)
	}
	for _, want := range []string{"\nSET 1 OF 2: md0.img, md1.img\n", "\nSET 2 OF 2: a.img, b.img\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

// TestInterruptedBySignal sends SIGINT or SIGTERM to the built mirrorchk
// (its real main, which turns the signals into a cancelled context) while
// it reads a slow member or writes a repaired image: it exits 32, the
// --report file is there, complete and valid, and carries the cancelled
// problem with exit code 32, no report is left under a temporary name,
// and the --out directory holds no output under its final name and no
// partial file (the README: partial outputs removed).
func TestInterruptedBySignal(t *testing.T) {
	bin := builtMirrorchk(t)
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	// 8 MiB read in FUSE reads of at most 128 KiB, 20 ms each: a pass
	// lasts about a second.
	disk := eiofs.ServeSlow(t, src[0], "m0.img", nil, 20*time.Millisecond)
	before := []string{fileSHA256(t, src[0]), fileSHA256(t, src[1])}
	reading := func(dir string) bool { return disk.Read.Load() > 2<<20 }
	writing := func(dir string) bool {
		return slices.ContainsFunc(dirState(dir), func(s string) bool { return strings.Contains(s, ".mirrorchk-partial-") })
	}
	for _, c := range []struct {
		name   string
		sig    syscall.Signal
		repair bool
		when   func(out string) bool
	}{
		{"scan SIGINT while reading", syscall.SIGINT, false, reading},
		{"scan SIGTERM while reading", syscall.SIGTERM, false, reading},
		{"repair SIGINT while reading", syscall.SIGINT, true, reading},
		{"repair SIGTERM while writing", syscall.SIGTERM, true, writing},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "fixed")
			args := []string{"scan", "--report", "r.json", disk.Path, src[1]}
			if c.repair {
				args = []string{"repair", "--report", "r.json", "--out", out, disk.Path, src[1]}
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			disk.Read.Store(0)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
		wait:
			for {
				select {
				case err = <-exited:
					t.Fatalf("mirrorchk ended (%v) before the signal; %d bytes read, --out held %v\n%s", err, disk.Read.Load(), dirState(out), stderr.String())
				default:
				}
				if c.when(out) {
					cmd.Process.Signal(c.sig)
					break wait
				}
				time.Sleep(time.Millisecond)
			}
			select {
			case err = <-exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("mirrorchk did not stop within 30 s of %v", c.sig)
			}
			code := -1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != exitCancelled {
				t.Errorf("exit %d (%v), want %d\n%s", code, err, exitCancelled, stderr.String())
			}
			if !strings.Contains(stderr.String(), "cancelled") {
				t.Errorf("stderr does not say cancelled:\n%s", stderr.String())
			}
			f, err := os.Open(filepath.Join(dir, "r.json"))
			if err != nil {
				t.Fatalf("--report: %v (directory holds %v)", err, dirState(dir))
			}
			defer f.Close()
			rep, err := report.ReadJSON(f)
			if err != nil {
				t.Fatalf("r.json is not a valid report: %v", err)
			}
			if !hasCode(rep.Problems, report.CodeCancelled) || rep.ExitCode == nil || *rep.ExitCode != exitCancelled {
				t.Errorf("r.json: problems %+v, exit code %v", rep.Problems, rep.ExitCode)
			}
			if got := dirState(dir); !slices.Equal(got, []string{"fixed", "r.json"}) && !slices.Equal(got, []string{"r.json"}) {
				t.Errorf("the report's directory holds %v", got)
			}
			if c.repair && rep.Sets != nil && len(rep.Sets) > 0 && rep.Sets[0].Repair != nil && rep.Sets[0].Repair.Status == "repaired" {
				t.Errorf("r.json says the cancelled repair was done: %+v", rep.Sets[0].Repair)
			}
			if c.repair {
				if got := dirState(out); len(got) != 0 {
					t.Errorf("--out holds %v after the cancelled repair", got)
				}
			}
		})
	}
	if after := []string{fileSHA256(t, src[0]), fileSHA256(t, src[1])}; !slices.Equal(after, before) {
		t.Errorf("inputs changed")
	}
}
