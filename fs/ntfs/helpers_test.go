package ntfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// The committed fixtures (testdata/ntfs, recipe in build.sh).
const (
	fxSmall = "ntfs/small.img.zst"            // mkntfs -c 1024 + ntfs-3g, 64 MiB
	fxBig   = "ntfs/big10k.img.zst"           // mkntfs -c 4096 + ntfs-3g, 512 MiB, 10k files
	fxWin   = "ntfs/win2008r2-mirror.img.zst" // Windows Server 2008 R2, 16 MiB
)

var allFixtures = []string{fxSmall, fxWin, fxBig}

// image returns the decompressed fixture (shared: callers clone before
// modifying).
func image(tb testing.TB, rel string) []byte {
	tb.Helper()
	dir, member := filepath.Split(strings.TrimSuffix(rel, ".img.zst"))
	return fixture.Image(tb, strings.TrimSuffix(dir, "/"), member)
}

func open(tb testing.TB, img []byte) *Volume {
	tb.Helper()
	v, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// writeImage writes img to a temporary file for the peer tools.
func writeImage(tb testing.TB, img []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "vol.img")
	if err := os.WriteFile(p, img, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// run runs a peer tool and returns its combined output and exit status.
func run(tb testing.TB, tool, pkg string, args ...string) (string, int) {
	tb.Helper()
	cmd := exec.Command(fixture.Tool(tb, tool, pkg), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		tb.Fatalf("%s: %v", tool, err)
	}
	return string(out), 0
}

func problemsWith(v *Volume, code string) []fs.Problem {
	var out []fs.Problem
	for _, p := range v.Problems() {
		if p.Code == code {
			out = append(out, p)
		}
	}
	return out
}

// field extracts the first submatch of re in s as an int64.
func field(tb testing.TB, s, re string) int64 {
	tb.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		tb.Fatalf("no %q in:\n%s", re, s)
	}
	n, err := strconv.ParseInt(m[1], 0, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// recordOff is the volume offset of FILE record n.
func recordOff(tb testing.TB, v *Volume, n int64) int64 {
	tb.Helper()
	off := v.volOff(v.mftRuns, n*v.boot.RecordSize)
	if off < 0 {
		tb.Fatalf("record %d not mapped", n)
	}
	return off
}

// inode asks TSK for the record of path.
func inode(tb testing.TB, img, path string) int64 {
	tb.Helper()
	out, rc := run(tb, "ifind", "sleuthkit", "-f", "ntfs", "-n", path, img)
	if rc != 0 {
		tb.Fatalf("ifind -n %s: %s", path, out)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		tb.Fatalf("ifind -n %s: %q", path, out)
	}
	return n
}

// putWord stores a little-endian uint16 at b[off].
func putWord(b []byte, off int64, x uint16) { b[off], b[off+1] = byte(x), byte(x>>8) }
