package xfs

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/internal/xfsfixture"
)

// fx is the fixture set TestMain builds with the real tools; fxErr says
// why it could not be built (then every test fails, naming it).
var (
	fx         *xfsfixture.Set
	fxErr      error
	fuzzWorker bool
)

func TestMain(m *testing.M) {
	for _, a := range os.Args[1:] {
		// Fuzz workers get their inputs from the coordinator, which built
		// the seeds: they need no fixture of their own.
		if strings.HasPrefix(a, "-test.fuzzworker") {
			fuzzWorker = true
			os.Exit(m.Run())
		}
	}
	dir, err := os.MkdirTemp("", "xfs-fixture-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fx, fxErr = xfsfixture.Build(dir)
	if fx != nil && !fx.Mounted {
		fmt.Fprintln(os.Stderr, "xfs fixture:", fx.MountWhy)
	}
	code := m.Run()
	if os.Getenv("XFS_FIXTURE_KEEP") != "" {
		fmt.Fprintln(os.Stderr, "xfs fixture kept in", dir)
	} else {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func fixture(tb testing.TB) *xfsfixture.Set {
	tb.Helper()
	if fxErr != nil {
		tb.Fatalf("building the XFS fixtures: %v", fxErr)
	}
	return fx
}

// openImg opens an image file read-only.
func openImg(tb testing.TB, path string) *Volume {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	v, err := Open(f, st.Size())
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return v
}

func checkCover(tb testing.TB, ex []fs.Extent, off, n int64) {
	tb.Helper()
	pos := off
	for _, e := range ex {
		if e.Off != pos || e.Len <= 0 {
			tb.Fatalf("extent %+v at %d: gap, overlap or empty", e, pos)
		}
		pos += e.Len
	}
	if pos != off+n {
		tb.Fatalf("extents end at %d, want %d", pos, off+n)
	}
}

func errorsOf(ps []fs.Problem) []fs.Problem {
	var out []fs.Problem
	for _, p := range ps {
		if p.Severity == fs.Error {
			out = append(out, p)
		}
	}
	return out
}

func hasCode(ps []fs.Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

func runTool(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
