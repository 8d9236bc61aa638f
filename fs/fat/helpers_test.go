package fat

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// kind is one test image recipe: mkfs.fat options and size in KiB.
type kind struct {
	name string
	mkfs []string
	kib  int
}

var kinds = []kind{
	{"fat12", []string{"-F", "12"}, 1440},
	{"fat16", []string{"-F", "16"}, 20000},
	{"fat32", []string{"-F", "32", "-s", "1"}, 40960},
}

// wantPaths are the files and directories every built image holds.
var wantPaths = []string{
	"/dir", "/dir/sub", "/dir/Long File Name.txt", "/dir/sub/c.bin", "/b.bin",
	"/Another Directory With A Long Name", "/Another Directory With A Long Name/frag.bin",
	"/Another Directory With A Long Name/second.bin", "/empty.txt", "/dir/sub/deeper",
	"/dir/sub/deeper/x.txt",
}

var (
	imgMu    sync.Mutex
	imgCache = map[string][]byte{}
)

func run(tb testing.TB, dir string, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tools returns the paths of the peer tools, failing when one is missing.
type peer struct{ mkfs, fsck, mmd, mcopy, mdel, fsstat, ifind, ffind, istat string }

func tools(tb testing.TB) peer {
	return peer{
		mkfs:   fixture.Tool(tb, "mkfs.fat", "dosfstools"),
		fsck:   fixture.Tool(tb, "fsck.fat", "dosfstools"),
		mmd:    fixture.Tool(tb, "mmd", "mtools"),
		mcopy:  fixture.Tool(tb, "mcopy", "mtools"),
		mdel:   fixture.Tool(tb, "mdel", "mtools"),
		fsstat: fixture.Tool(tb, "fsstat", "sleuthkit"),
		ifind:  fixture.Tool(tb, "ifind", "sleuthkit"),
		ffind:  fixture.Tool(tb, "ffind", "sleuthkit"),
		istat:  fixture.Tool(tb, "istat", "sleuthkit"),
	}
}

// build makes (once per test process) the image of kind k with mkfs.fat
// and mtools: nested directories, long names, an empty file and a
// fragmented file (made by deleting a file between two others and
// copying in a bigger one). Callers must not modify the result.
func build(tb testing.TB, k kind) []byte {
	tb.Helper()
	imgMu.Lock()
	defer imgMu.Unlock()
	if b, ok := imgCache[k.name]; ok {
		return b
	}
	p := tools(tb)
	dir := tb.TempDir()
	img := filepath.Join(dir, "v.img")
	args := append([]string{"--invariant", "-i", "12345678"}, k.mkfs...)
	args = append(args, "-C", img, fmt.Sprint(k.kib))
	run(tb, dir, p.mkfs, args...)
	cb := clusterBytesOf(tb, img)
	write := func(name string, n int, seed byte) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7) ^ seed
		}
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		mt := time.Date(2024, 3, int(seed%27)+1, 10, 20, 30, 0, time.UTC)
		os.Chtimes(f, mt, mt)
		return f
	}
	a := write("a.txt", 6, 1)
	bb := write("b.bin", 30000, 2)
	c := write("c.bin", 3*cb+100, 3)
	h1 := write("h1.bin", 3*cb, 4)
	h2 := write("h2.bin", 2*cb, 5)
	fr := write("frag.bin", 9*cb+1, 6)
	x := write("x.txt", 100, 7)
	e := write("empty.txt", 0, 8)
	an := "::/Another Directory With A Long Name"
	run(tb, dir, p.mmd, "-i", img, "::/dir", "::/dir/sub", an, "::/dir/sub/deeper")
	run(tb, dir, p.mcopy, "-m", "-i", img, a, "::/dir/Long File Name.txt")
	run(tb, dir, p.mcopy, "-m", "-i", img, h1, an+"/hole.bin")
	run(tb, dir, p.mcopy, "-m", "-i", img, h2, an+"/second.bin")
	run(tb, dir, p.mdel, "-i", img, an+"/hole.bin")
	run(tb, dir, p.mcopy, "-m", "-i", img, fr, an+"/frag.bin")
	run(tb, dir, p.mcopy, "-m", "-i", img, bb, "::/b.bin")
	run(tb, dir, p.mcopy, "-m", "-i", img, c, "::/dir/sub/c.bin")
	run(tb, dir, p.mcopy, "-m", "-i", img, x, "::/dir/sub/deeper/x.txt")
	run(tb, dir, p.mcopy, "-m", "-i", img, e, "::/empty.txt")
	b, err := os.ReadFile(img)
	if err != nil {
		tb.Fatal(err)
	}
	imgCache[k.name] = b
	return b
}

func clusterBytesOf(tb testing.TB, img string) int {
	tb.Helper()
	f, err := os.Open(img)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sec := make([]byte, 512)
	if _, err := f.ReadAt(sec, 0); err != nil {
		tb.Fatal(err)
	}
	return (int(sec[0x0b]) | int(sec[0x0c])<<8) * int(sec[0x0d])
}

// open opens img, failing the test on error.
func open(tb testing.TB, img []byte) *Volume {
	tb.Helper()
	v, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return v
}

// writeImg writes img into a fresh file for the peer tools.
func writeImg(tb testing.TB, img []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "v.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// fsck runs fsck.fat -n on img and returns its exit status and output.
func fsck(tb testing.TB, img []byte) (int, string) {
	tb.Helper()
	cmd := exec.Command(tools(tb).fsck, "-n", writeImg(tb, img))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		tb.Fatal(err)
	}
	return 0, string(out)
}

func codes(ps []fs.Problem) map[string]fs.Problem {
	m := map[string]fs.Problem{}
	for _, p := range ps {
		if _, ok := m[p.Code]; !ok {
			m[p.Code] = p
		}
	}
	return m
}

// checkCover asserts that Owners(off, n) covers the range in order
// without gaps, and that neighbouring extents have different owners.
func checkCover(tb testing.TB, ex []fs.Extent, off, n int64) {
	tb.Helper()
	at := off
	for i, e := range ex {
		if e.Off != at || e.Len <= 0 {
			tb.Fatalf("extent %d = %+v, want it to start at %d with positive length", i, e, at)
		}
		if i > 0 && sameOwner(ex[i-1].Owner, e.Owner) {
			tb.Fatalf("extents %d and %d have the same owner %+v", i-1, i, e.Owner)
		}
		at += e.Len
	}
	if at != off+n {
		tb.Fatalf("extents end at %d, want %d", at, off+n)
	}
}
