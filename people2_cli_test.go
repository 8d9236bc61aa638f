package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
