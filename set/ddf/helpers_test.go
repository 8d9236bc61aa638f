package ddf

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

// The kernel-written fixture sets (mdadm 4.2, kernel 6.1, 48 MiB members).
const (
	aClean = "md/md-ddf/a-clean"
	bStale = "md/md-ddf/b-stale-member"
)

var fixtureDirs = []string{aClean, bStale}

// Where mdadm put the metadata in the 48 MiB fixtures (98304 sectors).
const (
	fxSectors   = 98304
	fxAnchor    = (fxSectors - 1) * 512
	fxPrimary   = 65536 * 512 // primary_lba: 16 MiB from the end
	fxSecondary = 32768 * 512 // secondary_lba: 32 MiB from the end
	// Section offsets (sectors after each header) in the fixtures.
	fxCtrl = 1
	fxPhys = 2
	fxVirt = 130
	fxConf = 162
	fxData = 617
)

// readImage runs Read on img and fails the test on an error.
func readImage(tb testing.TB, img []byte) *DDF {
	tb.Helper()
	d, err := Read(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return d
}

// writeTemp writes data to a fresh file named name and returns its path.
// The file is sparse: zero blocks are not written (the images are mostly
// zeros, and mdadm reads only their end).
func writeTemp(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	const block = 64 << 10
	for off := 0; off < len(data); off += block {
		b := data[off:min(off+block, len(data))]
		if bytes.Count(b, []byte{0}) == len(b) {
			continue
		}
		if _, err := f.WriteAt(b, int64(off)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// examine is the parsed output of mdadm --examine on a DDF member.
type examine struct {
	text     string
	kv       map[string]string // "Seq" -> "0000000c"; "VD GUID[0]" -> hex
	label    map[string]string // the "(...)" line after a GUID: "Container GUID" -> "Linux-MD 11/28/26 05:16:52"
	pds      []pdRow
	unlisted []string // refnos under "Physical disks not in metadata!"
}

type pdRow struct {
	number, refno, size, typeState string
}

func (e examine) get(tb testing.TB, key string) string {
	tb.Helper()
	v, ok := e.kv[key]
	if !ok {
		tb.Fatalf("mdadm output has no %q line:\n%s", key, e.text)
	}
	return v
}

// runExamine runs mdadm --examine on path in the UTC time zone (mdadm
// prints GUID time stamps in local time) and parses its output.
func runExamine(tb testing.TB, path string) examine {
	tb.Helper()
	cmd := exec.Command(fixture.Tool(tb, "mdadm", "mdadm"), "--examine", path)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("mdadm --examine %s: %v\n%s%s", path, err, out, stderr.Bytes())
	}
	return parseExamine(string(out))
}

// mdadmRejects runs mdadm --examine and requires it to fail.
func mdadmRejects(tb testing.TB, path string) {
	tb.Helper()
	out, err := exec.Command(fixture.Tool(tb, "mdadm", "mdadm"), "--examine", path).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		tb.Errorf("mdadm --examine %s succeeded (%v); want it to reject the image:\n%s", path, err, out)
	}
}

func parseExamine(text string) examine {
	e := examine{text: text, kv: map[string]string{}, label: map[string]string{}}
	section, last := "", ""
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			continue
		case strings.HasPrefix(t, "Number") && strings.Contains(t, "RefNo"):
			section = "pds"
			continue
		case strings.HasPrefix(t, "Physical disks not in metadata"):
			section = "unlisted"
			continue
		case strings.HasPrefix(t, "(") && last != "":
			e.label[last] = strings.TrimSuffix(strings.TrimPrefix(t, "("), ")")
			continue
		}
		if k, v, ok := strings.Cut(line, " : "); ok && section == "" {
			last = strings.TrimSpace(k)
			e.kv[last] = strings.TrimSpace(v)
			continue
		}
		f := strings.Fields(t)
		switch section {
		case "pds":
			if len(f) >= 4 {
				rest := f[3:]
				if strings.HasPrefix(rest[0], "/") { // a device name, when mdadm can map one
					rest = rest[1:]
				}
				e.pds = append(e.pds, pdRow{f[0], f[1], f[2], strings.Join(rest, " ")})
			}
		case "unlisted":
			e.unlisted = append(e.unlisted, f[0])
		}
	}
	return e
}

// wantFormatError requires err to hold a *FormatError for field at byte off.
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
