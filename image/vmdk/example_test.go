package vmdk_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/mirrorchk/mirrorchk/image/vmdk"
)

// Open a streamOptimized disk, list its allocated runs and read its first
// sector.
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
	r, size, err := open("stream.vmdk")
	if err != nil {
		log.Fatal(err)
	}
	d, err := vmdk.Open(r, size, "stream.vmdk", open)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Format(), d.Size(), "bytes")
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
	// VMDK streamOptimized 65536 bytes
	//      0 + 65536 allocated=true
	// boot sector ends 55 aa, OEM name "mkfs.fat"
}
