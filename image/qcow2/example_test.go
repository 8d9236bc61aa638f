package qcow2_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/mirrorchk/mirrorchk/image/qcow2"
)

// Open an overlay whose backing file lies beside it, list its allocated
// runs and read its first sector.
func Example() {
	dir := "testdata"
	open := func(name string) (io.ReaderAt, int64, error) {
		f, err := os.Open(filepath.Join(dir, name)) // read-only
		if err != nil {
			return nil, 0, err
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, 0, err
		}
		return f, fi.Size(), nil
	}
	r, size, err := open("overlay-c512.qcow2")
	if err != nil {
		log.Fatal(err)
	}
	d, err := qcow2.Open(r, size, "overlay-c512.qcow2", open)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Format(), d.Size(), "bytes, backing file", d.BackingFile())
	for off := int64(0); off < d.Size(); {
		a, n, err := d.Extent(off)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%6d +%6d allocated=%v\n", off, n, a)
		off += n
	}
	b := make([]byte, 512)
	if _, err := d.ReadAt(b, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("boot sector ends % x, OEM name %q\n", b[510:], b[3:11])
	// Output:
	// qcow2 v3 65536 bytes, backing file c512.qcow2
	//      0 +  5120 allocated=true
	//   5120 + 12288 allocated=false
	//  17408 +  3072 allocated=true
	//  20480 + 12288 allocated=false
	//  32768 + 32768 allocated=false
	// boot sector ends 55 aa, OEM name "mkfs.fat"
}
