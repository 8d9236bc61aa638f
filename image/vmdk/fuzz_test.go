package vmdk

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// FuzzVMDK opens and reads arbitrary bytes as a VMDK. Seeds are the small
// real files of testdata/ (made by testdata/mkseeds.sh with qemu-img). The
// OpenFunc serves base.vmdk for parents and sparse extents and a 64 KiB
// pattern for flat extents. Properties: no panic, every error is a
// FormatError or an UnsupportedError, and what Extent calls unallocated
// reads as zeros.
func FuzzVMDK(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.vmdk")
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
	base, err := os.ReadFile("testdata/base.vmdk")
	if err != nil {
		f.Fatal(err)
	}
	flat := bytes.Repeat([]byte("flat extent data"), 4096)
	open := func(name string) (io.ReaderAt, int64, error) {
		switch {
		case name == "base.vmdk" || strings.HasSuffix(name, "-s001.vmdk"):
			return bytes.NewReader(base), int64(len(base)), nil
		case strings.HasSuffix(name, "-flat.vmdk"):
			return bytes.NewReader(flat), int64(len(flat)), nil
		}
		return nil, 0, fs.ErrNotExist
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(bytes.NewReader(b), int64(len(b)), "fuzz.vmdk", open)
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

// TestSeeds: every fuzz seed is a valid disk, read without error.
func TestSeeds(t *testing.T) {
	seeds, _ := filepath.Glob("testdata/*.vmdk")
	base, _ := os.ReadFile("testdata/base.vmdk")
	flat := bytes.Repeat([]byte("flat extent data"), 4096)
	open := func(name string) (io.ReaderAt, int64, error) {
		switch {
		case name == "base.vmdk" || strings.HasSuffix(name, "-s001.vmdk"):
			return bytes.NewReader(base), int64(len(base)), nil
		case strings.HasSuffix(name, "-flat.vmdk"):
			return bytes.NewReader(flat), int64(len(flat)), nil
		}
		return nil, 0, fs.ErrNotExist
	}
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		if err := readAll(bytes.NewReader(b), int64(len(b)), filepath.Base(s), open); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}
