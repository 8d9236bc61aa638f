package md

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// fixtureDirs are the kernel-written fixture sets under testdata/md.
var fixtureDirs = []struct {
	dir string
	v   Version
}{
	{"md/md-0.90/a-clean", V090},
	{"md/md-0.90/b-stale-member", V090},
	{"md/md-0.90/c-stale-member-bitmap", V090},
	{"md/md-1.2/a-clean", V12},
	{"md/md-1.2/b-stale-member", V12},
	{"md/md-1.2/c-stale-member-bitmap", V12},
}

// scanOne scans img and requires exactly one superblock of version v.
func scanOne(tb testing.TB, img []byte, v Version) *Superblock {
	tb.Helper()
	sbs, err := Scan(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatalf("Scan: %v", err)
	}
	if len(sbs) != 1 || sbs[0].Version != v {
		tb.Fatalf("Scan found %d superblocks; want one %v", len(sbs), v)
	}
	return sbs[0]
}

// writeTemp writes data to a fresh file named name and returns its path.
func writeTemp(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// report is the parsed "Key : Value" output of mdadm --examine or
// --examine-bitmap, plus the 0.90 disk table rows.
type report struct {
	text string
	kv   map[string]string
	rows [][]string // 0.90 disk table, "this" row first as printed
}

func (r report) get(tb testing.TB, key string) string {
	tb.Helper()
	v, ok := r.kv[key]
	if !ok {
		tb.Fatalf("mdadm output has no %q line:\n%s", key, r.text)
	}
	return v
}

// runMdadm runs mdadm with args in the UTC time zone (it prints times with
// ctime) and parses its output.
func runMdadm(tb testing.TB, args ...string) report {
	tb.Helper()
	cmd := exec.Command(fixture.Tool(tb, "mdadm", "mdadm"), args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("mdadm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return parseReport(string(out))
}

func parseReport(text string) report {
	r := report{text: text, kv: map[string]string{}}
	inTable := false
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "Number   Major   Minor   RaidDevice State") {
			inTable = true
			continue
		}
		if inTable {
			if f := strings.Fields(line); len(f) >= 5 {
				r.rows = append(r.rows, f)
			}
			continue
		}
		if k, v, ok := strings.Cut(line, " : "); ok {
			r.kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return r
}

// wantFormatError requires err to be a *FormatError for field at byte off.
func wantFormatError(tb testing.TB, err error, field string, off int64) {
	tb.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		tb.Fatalf("error = %v (%T); want *FormatError for %s", err, err, field)
	}
	if fe.Field != field || fe.Off != off {
		tb.Fatalf("FormatError = {Field %q, Off %#x} (%v); want {Field %q, Off %#x}", fe.Field, fe.Off, fe, field, off)
	}
}

// readFixtureFile reads a plain file of a fixture set.
func readFixtureFile(tb testing.TB, dir, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(fixture.Path(dir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
