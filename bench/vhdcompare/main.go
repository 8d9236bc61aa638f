// Command vhdcompare compares a raw image with the virtual disk of a VHD or
// VHDX the way `qemu-img compare -f raw -F vpc|vhdx RAW IMAGE` does, through
// mirrorchk's readers, for bench/vhd.sh. Both files are read 1 MiB at a
// time; runs the container reports unallocated are not read from it (the raw
// side must be zeros there).
//
// Usage: vhdcompare vhd|vhdx RAW IMAGE
// Exit status: 0 identical (a size mismatch is a warning when the longer
// one ends in zeros, as with qemu-img), 1 content mismatch, 2 error.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/mirrorchk/mirrorchk/image/vhd"
	"github.com/mirrorchk/mirrorchk/image/vhdx"
)

type disk interface {
	io.ReaderAt
	Size() int64
	Extent(off int64) (bool, int64, error)
}

func open(path string) (io.ReaderAt, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "vhdcompare:", err)
	os.Exit(2)
}

const chunk = 1 << 20 // bytes per ReadAt

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: vhdcompare vhd|vhdx RAW IMAGE")
		os.Exit(2)
	}
	raw, rawSize, err := open(os.Args[2])
	if err != nil {
		fail(err)
	}
	r, size, err := open(os.Args[3])
	if err != nil {
		fail(err)
	}
	var d disk
	switch os.Args[1] {
	case "vhd":
		d, err = vhd.Open(r, size, os.Args[3], open)
	case "vhdx":
		d, err = vhdx.Open(r, size, os.Args[3], open)
	default:
		err = fmt.Errorf("unknown format %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	n := min(rawSize, d.Size())
	// One goroutine reads both, 1 MiB at a time, into two buffers that stay
	// in the CPU cache until compared. (Handing 1 MiB chunks between
	// goroutines cost more in futex wake-ups than it saved; 8 MiB batches
	// fell out of the cache and tripled the CPU time.)
	rb, ib := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); off < n; off += chunk {
		m := min(chunk, n-off)
		r, b := rb[:m], ib[:m]
		if _, err := raw.ReadAt(r, off); err != nil && err != io.EOF {
			fail(err)
		}
		for at := int64(0); at < m; {
			a, run, err := d.Extent(off + at)
			if err != nil {
				fail(err)
			}
			run = min(run, m-at)
			if a {
				if _, err := d.ReadAt(b[at:at+run], off+at); err != nil && err != io.EOF {
					fail(err)
				}
			} else {
				clear(b[at : at+run])
			}
			at += run
		}
		if !bytes.Equal(r, b) {
			i := 0
			for r[i] == b[i] {
				i++
			}
			fmt.Printf("Content mismatch at offset %d!\n", off+int64(i))
			os.Exit(1)
		}
	}
	if rawSize != d.Size() {
		// As qemu-img compare: a warning, and the longer one's tail must read as zeros.
		fmt.Printf("Warning: Image size mismatch! (raw %d, image %d)\n", rawSize, d.Size())
		var longer io.ReaderAt = raw
		if d.Size() > rawSize {
			longer = d
		}
		b := make([]byte, chunk)
		for off := n; off < max(rawSize, d.Size()); off += chunk {
			m, err := longer.ReadAt(b, off)
			if err != nil && err != io.EOF {
				fail(err)
			}
			if !bytes.Equal(b[:m], make([]byte, m)) {
				fmt.Printf("Content mismatch at offset %d!\n", off)
				os.Exit(1)
			}
		}
	}
	fmt.Println("Images are identical.")
}
