package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

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
		// m0.img is written and verified, m1.img is being written: the set
		// is not repaired, so neither stays.
		{"repair SIGINT while writing m1", syscall.SIGINT, true, func(dir string) bool {
			n := dirState(dir)
			return slices.Contains(n, "m0.img") && slices.ContainsFunc(n, func(s string) bool { return strings.HasPrefix(s, ".m1.img.mirrorchk-partial-") })
		}},
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
			if c.repair && len(rep.Sets) > 0 && rep.Sets[0].Repair != nil && rep.Sets[0].Repair.Status == "repaired" {
				t.Errorf("r.json says the cancelled repair was done: %+v", rep.Sets[0].Repair)
			}
			if c.repair {
				if got := dirState(out); len(got) != 0 {
					t.Errorf("--out holds %v after the cancelled repair", got)
				}
			}
			if c.repair && len(rep.Sets) > 0 && rep.Sets[0].Repair != nil {
				for _, o := range rep.Sets[0].Repair.Outputs {
					if o.Verified || o.Mapfile != "" {
						t.Errorf("r.json keeps a removed output: %+v", o)
					}
				}
			}
			if strings.HasSuffix(c.name, "writing m1") {
				// Ctrl-C, then the same command again: it repairs.
				os.Remove(filepath.Join(dir, "r.json"))
				rerun := exec.Command(bin, args...)
				rerun.Dir = dir
				b, err := rerun.CombinedOutput()
				if code := rerun.ProcessState.ExitCode(); code != exitRepaired {
					t.Errorf("rerun after the cancelled repair: exit %d (%v)\n%s", code, err, b)
				}
				if got := dirState(out); !slices.Equal(got, []string{"m0.img", "m1.img"}) {
					t.Errorf("after the rerun --out holds %v", got)
				}
			}
		})
	}
	if after := []string{fileSHA256(t, src[0]), fileSHA256(t, src[1])}; !slices.Equal(after, before) {
		t.Errorf("inputs changed")
	}
}

// openPTY opens a pseudo-terminal of cols columns: the master, which reads
// what is written to the terminal, and the slave, the terminal a child
// process writes to.
func openPTY(t *testing.T, cols int) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("pseudo-terminal slave: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: uint16(cols)}); err != nil {
		t.Fatalf("pseudo-terminal size: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// termRun runs the built mirrorchk with stdout and stderr each on a
// pseudo-terminal of cols columns when its flag says so, else on a pipe,
// and returns the exit code and what each stream received (a terminal's
// "\r\n" read as "\n").
func termRun(t *testing.T, bin string, outTTY, errTTY bool, cols int, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var bufs [2]bytes.Buffer
	var done []chan struct{}
	var slaves []*os.File
	for i, tty := range []bool{outTTY, errTTY} {
		w := io.Writer(&bufs[i])
		if tty {
			m, s := openPTY(t, cols)
			ch := make(chan struct{})
			go func(b *bytes.Buffer) { io.Copy(b, m); close(ch) }(&bufs[i]) // ends with EIO when the last slave closes
			done = append(done, ch)
			slaves = append(slaves, s)
			w = s
		}
		if i == 0 {
			cmd.Stdout = w
		} else {
			cmd.Stderr = w
		}
	}
	err := cmd.Start()
	for _, s := range slaves {
		s.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	for _, ch := range done {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("the terminal was not closed")
		}
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	fix := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
	return code, fix(bufs[0].String()), fix(bufs[1].String())
}

// widest is the longest line of s, in bytes (the text report is ASCII).
func widest(s string) (int, string) {
	n, line := 0, ""
	for _, l := range strings.Split(s, "\n") {
		if len(l) > n {
			n, line = len(l), l
		}
	}
	return n, line
}

// TestTerminalWidth runs the built mirrorchk on a pseudo-terminal of 80
// columns: no line of the text report is wider than the terminal, while
// on a pipe lines run to the default 100 columns (and some are wider than
// 80, so the terminal's width is what held them); the progress bar is
// drawn on stderr when stderr is a terminal, and never when it is not,
// whatever stdout is.
func TestTerminalWidth(t *testing.T) {
	bin := builtMirrorchk(t)
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	// Slow enough for the bar to be drawn while the members are read.
	disk := eiofs.ServeSlow(t, src[0], "m0.img", nil, 10*time.Millisecond)
	args := []string{"scan", "--hash", "sha256", disk.Path, src[1]}
	for _, c := range []struct {
		name           string
		outTTY, errTTY bool
	}{
		{"both on a terminal", true, true},
		{"stdout on a terminal, stderr a pipe", true, false},
		{"stdout a pipe, stderr on a terminal", false, true},
		{"both pipes", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := termRun(t, bin, c.outTTY, c.errTTY, 80, args...)
			if code != exitProblems || !strings.Contains(stdout, "\nVerdict: m0.img is current") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%q", code, stdout, stderr)
			}
			n, line := widest(stdout)
			switch {
			case c.outTTY && n > 80:
				t.Errorf("on a terminal of 80 columns a line is %d wide:\n%s", n, line)
			case !c.outTTY && n > report.DefaultTextWidth:
				t.Errorf("on a pipe a line is %d wide:\n%s", n, line)
			case !c.outTTY && n <= 80:
				t.Errorf("on a pipe no line is wider than 80 (widest %d): the terminal test shows nothing", n)
			}
			// The bar redraws one line naming the set and that its figures
			// are per member: "\rscan: m0.img, m1.img, per member of 2  37% |████   | (34 MB/s) [0s:0s]".
			if drawn := strings.Contains(stderr, "\rscan: m0.img, m1.img, per member of 2 ") && strings.Contains(stderr, "% |"); drawn != c.errTTY {
				t.Errorf("progress bar drawn %v with stderr a terminal %v:\n%q", drawn, c.errTTY, stderr)
			}
			// The slow member is read at 12.8 MB/s at most; a rate beyond
			// that is not one disk's.
			if strings.Contains(stderr, "GB/s") {
				t.Errorf("the progress bar shows a rate no disk here reaches:\n%q", stderr)
			}
			for _, frame := range strings.Split(stderr, "\r") {
				if w := utf8.RuneCountInString(frame); c.errTTY && w > 80 {
					t.Errorf("a frame of the progress bar is %d columns on a terminal of 80: %q", w, frame)
				}
			}
			if !c.errTTY && stderr != "" {
				t.Errorf("stderr (a pipe) holds %q", stderr)
			}
		})
	}
}
