package ewf_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mirrorchk/mirrorchk/image/ewf"
)

// Open a segment set from files, read-only: the OpenFunc resolves the
// computed names of the later segments against the first one's directory.
func Example() {
	first := "testdata/best.E01"
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	open := func(name string) (io.ReaderAt, int64, error) {
		f, err := os.Open(filepath.Join(filepath.Dir(first), filepath.Base(name)))
		if err != nil {
			return nil, 0, err // wraps fs.ErrNotExist when missing
		}
		files = append(files, f)
		fi, err := f.Stat()
		if err != nil {
			return nil, 0, err
		}
		return f, fi.Size(), nil
	}
	r, size, err := open(first)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := ewf.Open(r, size, first, open)
	if err != nil {
		fmt.Println(err)
		return
	}
	h, _ := d.Header()
	md5, _ := d.StoredHashes()
	fmt.Println(d.Format(), d.Size(), len(d.Segments()))
	fmt.Println(h.CaseNumber, h.EvidenceNumber, h.Examiner, h.SoftwareVersion, h.OS)
	fmt.Printf("stored MD5 %x\n", md5)
	fmt.Println("unreadable:", d.Unreadable())
	// Output:
	// EWF-E01 65536 1
	// C-1 EV-1 Examiner 20140813 Linux
	// stored MD5 1bbe26a8d6c1154f76981f0ce9f1cae8
	// unreadable: []
}
