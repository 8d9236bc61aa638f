package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mirrorchk/mirrorchk/example"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// TestMain lets the script tests run mirrorchk as a command in a child
// process of the test binary.
func TestMain(m *testing.M) {
	// The failing-disk tests run the test binary as mirrorchk itself, to
	// kill it mid-repair.
	if os.Getenv("MIRRORCHK_TEST_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	testscript.Main(batchCleanup{m}, map[string]func(){"mirrorchk": main})
}

// TestScripts runs testdata/script/*.txtar. Each script starts in a work
// directory holding the example md pair (m0.img, m1.img: m1 stale), an NT
// FT pair of whole disks (disk0.img, disk1.img) and the SYSTEM hive that
// describes them (SYSTEM, every member Healthy), and two bare FAT12 images
// (a.img, b.img: b.img has one more file).
//
// Besides testscript's own commands, "exits N CMD ARGS..." runs CMD and
// fails unless it exits with status N.
func TestScripts(t *testing.T) {
	src := t.TempDir()
	ex, err := example.Extract(src)
	if err != nil {
		t.Fatal(err)
	}
	d0, d1 := ftMirror(t, "87")
	// Bare images: a FAT12 volume made by mkfs.fat, and a copy to which
	// mcopy added a file.
	a := fixture.UnzstdTo(t, "fat/small-fat12.img.zst", t.TempDir())
	b, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	bPath := writeFile(t, filepath.Join(t.TempDir(), "b.img"), b)
	ftWrite(t, bPath, 0, "new.txt", "written to b.img only")
	files := map[string]string{"m0.img": ex[0], "m1.img": ex[1], "disk0.img": d0, "disk1.img": d1, "SYSTEM": ftHive("healthy"),
		"a.img": a, "b.img": bPath}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			for name, from := range files {
				b, err := os.ReadFile(from)
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(env.WorkDir, name), b, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits CODE COMMAND ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exits: %v", err)
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				switch {
				case errors.As(err, &ee):
					got = ee.ExitCode()
				case err != nil:
					ts.Fatalf("exits: %v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
				}
			},
		},
	})
}

// shownCommands returns the mirrorchk command lines in text: each from
// "mirrorchk " followed by a subcommand or flag, up to a comment,
// redirection, pipe, "&&" or closing parenthesis, with spaces collapsed.
// Lines of shown output (starting "Next:" or "Verdict:") are skipped.
func shownCommands(text string) []string {
	var out []string
	re := regexp.MustCompile(`(^|[\s(])(mirrorchk [a-z-][^#>|)&]*)`)
	for _, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "Next:") || strings.HasPrefix(l, "Verdict:") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(l, -1) {
			out = append(out, strings.Join(strings.Fields(m[2]), " "))
		}
	}
	return out
}

// readmeCommands returns the mirrorchk commands of the README: in its code
// blocks, and in inline code spans that start with "mirrorchk ". The
// Performance section's commands are fragments run by bench/ on large
// generated images, and are not included.
func readmeCommands(readme string) []string {
	readme, _, _ = strings.Cut(readme, "\n## Performance")
	// The batch block is run line by line by TestReadmeBatchCommands.
	readme = regexp.MustCompile("(?s)<!-- batch-commands[^>]*-->\n```sh\n.*?```").ReplaceAllString(readme, "")
	var blocks, prose strings.Builder
	in := false
	for _, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "```") {
			in = !in
			continue
		}
		if in {
			blocks.WriteString(l + "\n")
		} else {
			prose.WriteString(l + "\n")
		}
	}
	out := shownCommands(blocks.String())
	for _, m := range regexp.MustCompile("`(mirrorchk\\s+[a-z-][^`]*)`").FindAllStringSubmatch(prose.String(), -1) {
		out = append(out, strings.Join(strings.Fields(m[1]), " "))
	}
	return out
}

// TestShownCommandsAreRun: every mirrorchk command in the README's code
// blocks and in every command's --help example is run, exactly as shown,
// by one of the scripts.
func TestShownCommandsAreRun(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	var run []string
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.Join(strings.Fields(line), " ")
			if i := strings.Index(line, "exec mirrorchk "); i >= 0 {
				run = append(run, line[i+len("exec "):])
			} else if i := strings.Index(line, "exits "); i == 0 {
				if j := strings.Index(line, " mirrorchk "); j >= 0 {
					run = append(run, line[j+1:])
				}
			}
		}
	}
	ran := func(c string) bool {
		for _, r := range run {
			if r == c {
				return true
			}
		}
		return false
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string][]string{"README.md": readmeCommands(string(readme))}
	root := newRootCommand(&env{})
	for _, c := range append(root.Commands(), root) {
		if c.Example == "" {
			if !c.Hidden && c.Name() != "help" {
				t.Errorf("command %q has no Example", c.Name())
			}
			continue
		}
		shown["mirrorchk "+c.Name()+" --help"] = shownCommands(c.Example)
	}
	if len(shown["README.md"]) < 8 {
		t.Errorf("found only %d commands in the README: %q", len(shown["README.md"]), shown["README.md"])
	}
	// plan and merge --help examples are run by TestReadmeBatchCommands.
	delete(shown, "mirrorchk plan --help")
	delete(shown, "mirrorchk merge --help")
	for where, cmds := range shown {
		for _, c := range cmds {
			if !ran(c) {
				t.Errorf("%s shows %q, which no script in testdata/script runs", where, c)
			}
		}
	}
}
