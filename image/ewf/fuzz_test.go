package ewf

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzEWF opens a first segment (and, when the set goes on, a second one
// from the second input) and reads what it can. Seeds: the small real
// segment files in testdata (testdata/mkseeds.sh). Every failure must be a
// *FormatError or *UnsupportedError; nothing may panic or hang.
func FuzzEWF(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.[Ees]01")
	if len(files) == 0 {
		f.Fatal("no seed files in testdata")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(nil))
	}
	// A first segment whose done section became a next section, with a
	// second segment: the fuzzer reaches the segment-set code.
	if b, err := os.ReadFile("testdata/smart.s01"); err == nil {
		f.Add(b, b)
	}
	f.Fuzz(func(t *testing.T, seg1, seg2 []byte) {
		open := func(name string) (io.ReaderAt, int64, error) {
			if seg2 == nil || name != "f.E02" {
				return nil, 0, fs.ErrNotExist
			}
			return bytes.NewReader(seg2), int64(len(seg2)), nil
		}
		d, err := Open(bytes.NewReader(seg1), int64(len(seg1)), "f.E01", open)
		if err != nil {
			checkErr(t, err)
			return
		}
		d.Header()
		d.StoredHashes()
		d.Unreadable()
		d.Warnings()
		if d.Size() < 0 {
			t.Fatalf("Size %d", d.Size())
		}
		if d.Size() == 0 {
			return
		}
		if _, _, err := d.Extent(0); err != nil {
			t.Fatal(err)
		}
		// Read the start, the end, and a range across a chunk boundary.
		buf := make([]byte, 64<<10)
		for _, off := range []int64{0, d.Size() - 1, d.Size() / 2} {
			n, err := d.ReadAt(buf, off)
			if err != nil && err != io.EOF {
				checkErr(t, err)
			}
			if n > len(buf) {
				t.Fatalf("ReadAt returned %d", n)
			}
		}
	})
}

func checkErr(t *testing.T, err error) {
	var fe *FormatError
	var ue *UnsupportedError
	if !errors.As(err, &fe) && !errors.As(err, &ue) {
		t.Fatalf("error %v is %T, not *FormatError or *UnsupportedError", err, err)
	}
}
