package qcow2

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// FuzzQCOW2 opens and reads arbitrary bytes as a qcow2 image. Seeds are the
// small real images of testdata/ (made by testdata/mkseeds.sh with
// qemu-img). The backing file "c512.qcow2" is served to every image that
// names it. Properties: no panic, every error is a FormatError or an
// UnsupportedError, and what Extent calls unallocated reads as zeros.
func FuzzQCOW2(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.qcow2")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	base, err := os.ReadFile("testdata/c512.qcow2")
	if err != nil {
		f.Fatal(err)
	}
	open := func(name string) (io.ReaderAt, int64, error) {
		if name == "c512.qcow2" {
			return bytes.NewReader(base), int64(len(base)), nil
		}
		return nil, 0, fs.ErrNotExist
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(bytes.NewReader(b), int64(len(b)), "fuzz.qcow2", open)
		if err != nil {
			checkErr(t, err)
			return
		}
		diskfixture.WalkExtents(t, d, checkErr)
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var fe *FormatError
	var ue *UnsupportedError
	if !errors.As(err, &fe) && !errors.As(err, &ue) {
		t.Fatalf("error %v (%T) is neither a FormatError nor an UnsupportedError", err, err)
	}
}

// TestSeeds: every fuzz seed is a valid image, read without error.
func TestSeeds(t *testing.T) {
	seeds, _ := filepath.Glob("testdata/*.qcow2")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		if err := readAll(b, filepath.Base(s), diskfixture.OSOpen("testdata")); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}
