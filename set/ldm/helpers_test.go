package ldm

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// tarball holds the nine Windows Server 2008 R2 dynamic disks (see
// testdata/ldm/README.md). It is xz-compressed; the tests decompress it
// with the xz command, since the module has no xz decoder.
const tarball = "ldm/ldm-2008r2.tar.xz"

// The images in the tarball; one disk group of nine disks.
const (
	mirroredMBR = "ldm-2008r2-mirrored-1.img" // MBR disk, Disk5
	mirroredGPT = "ldm-2008r2-mirrored-2.img" // GPT disk, Disk6
)

var imageNames = []string{
	"ldm-2008r2-mirrored-1.img", "ldm-2008r2-mirrored-2.img",
	"ldm-2008r2-raid5-1.img", "ldm-2008r2-raid5-2.img", "ldm-2008r2-raid5-3.img",
	"ldm-2008r2-spanned-1.img", "ldm-2008r2-spanned-2.img",
	"ldm-2008r2-striped-1.img", "ldm-2008r2-striped-2.img",
}

// untar decompresses the fixture tarball with xz and calls fn for each
// regular file in it.
func untar(tb testing.TB, fn func(name string, r io.Reader) error) {
	tb.Helper()
	cmd := exec.Command(fixture.Tool(tb, "xz", "xz-utils"), "-dc", fixture.Path(tarball))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			tb.Fatalf("%s: %v (%s)", tarball, err, stderr.Bytes())
		}
		if h.Typeflag != tar.TypeReg || strings.Contains(h.Name, "/") {
			continue
		}
		if err := fn(h.Name, tr); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			tb.Fatalf("%s: %s: %v", tarball, h.Name, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("xz -dc %s: %v (%s)", tarball, err, stderr.Bytes())
	}
}

// extract writes every image of the tarball into dir, skipping runs of
// zeros (the images are mostly empty), and returns their paths by name.
func extract(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	paths := map[string]string{}
	untar(tb, func(name string, r io.Reader) error {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		buf := make([]byte, 64<<10)
		var n int64
		for {
			k, err := io.ReadFull(r, buf)
			if k > 0 {
				if slices.ContainsFunc(buf[:k], func(b byte) bool { return b != 0 }) {
					if _, werr := f.WriteAt(buf[:k], n); werr != nil {
						f.Close()
						return werr
					}
				}
				n += int64(k)
			}
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Truncate(n); err != nil {
			f.Close()
			return err
		}
		paths[name] = p
		return f.Close()
	})
	for _, n := range imageNames {
		if paths[n] == "" {
			tb.Fatalf("%s has no %s", tarball, n)
		}
	}
	return paths
}

var (
	imageMu    sync.Mutex
	imageCache map[string][]byte
)

// loadImage returns the bytes of one fixture image, decompressing the
// tarball once per test process; callers must not modify them (use
// bytes.Clone).
func loadImage(tb testing.TB, name string) []byte {
	tb.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageCache == nil {
		m := map[string][]byte{}
		untar(tb, func(name string, r io.Reader) error {
			b, err := io.ReadAll(r)
			m[name] = b
			return err
		})
		imageCache = m
	}
	b, ok := imageCache[name]
	if !ok {
		tb.Fatalf("%s has no %s", tarball, name)
	}
	return b
}

// readImage reads one in-memory image and requires it to decode.
func readImage(tb testing.TB, img []byte) (*Database, *PrivHead) {
	tb.Helper()
	db, ph, err := Read(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return db, ph
}

// ldmtool runs ldmtool with a -d option per device and decodes its JSON
// output into v.
func ldmtool(tb testing.TB, devices []string, v any, args ...string) {
	tb.Helper()
	out, _, err := runLdmtool(tb, devices, args...)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		tb.Fatalf("ldmtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// runLdmtool runs ldmtool and returns its standard output and standard
// error; a failure's error carries the standard error too.
func runLdmtool(tb testing.TB, devices []string, args ...string) ([]byte, string, error) {
	tb.Helper()
	var argv []string
	for _, d := range devices {
		argv = append(argv, "-d", d)
	}
	argv = append(argv, args...)
	cmd := exec.Command(fixture.Tool(tb, "ldmtool", "ldmtool"), argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, stderr.String(), &ldmtoolError{args: argv, err: err, stderr: stderr.String()}
	}
	return out, stderr.String(), nil
}

type ldmtoolError struct {
	args   []string
	err    error
	stderr string
}

func (e *ldmtoolError) Error() string {
	return "ldmtool " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.stderr
}

// wantFormatError requires err to be a *FormatError for field at byte off.
func wantFormatError(tb testing.TB, err error, field string, off int64) *FormatError {
	tb.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		tb.Fatalf("error = %v (%T); want *FormatError for %s", err, err, field)
	}
	if fe.Field != field || fe.Off != off {
		tb.Fatalf("FormatError = {Field %q, Off %#x} (%v); want {Field %q, Off %#x}", fe.Field, fe.Off, fe, field, off)
	}
	return fe
}
