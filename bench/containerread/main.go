// Command containerread is our side of bench/qcow2.sh and bench/vmdk.sh:
// it opens a qcow2 or VMDK file with image/qcow2 or image/vmdk and reads
// the whole virtual disk from one goroutine, 1 MiB at a time, as
// mirrorchk's diff reads a member.
//
//	containerread FILE            read every byte (unallocated runs too)
//	containerread -skip FILE      skip the runs Extent calls unallocated
//	containerread -cmp RAW FILE   compare with RAW, like qemu-img compare: runs
//	                              Extent calls unallocated are checked
//	                              against RAW without reading FILE, and
//	                              skipped where RAW has a hole (SEEK_DATA)
//	containerread -sha256 FILE    print the sha256 of the virtual disk
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mirrorchk/mirrorchk/image/qcow2"
	"github.com/mirrorchk/mirrorchk/image/vmdk"
)

type disk interface {
	io.ReaderAt
	Size() int64
	Extent(off int64) (bool, int64, error)
}

func openFile(name string) (io.ReaderAt, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func open(path string) (disk, error) {
	dir := filepath.Dir(path)
	rel := func(name string) (io.ReaderAt, int64, error) { return openFile(filepath.Join(dir, name)) }
	r, size, err := openFile(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, min(size, 4096))
	if _, err := r.ReadAt(head, 0); err != nil {
		return nil, err
	}
	switch {
	case qcow2.Detect(head, nil):
		return qcow2.Open(r, size, filepath.Base(path), rel)
	case vmdk.Detect(head, nil):
		return vmdk.Open(r, size, filepath.Base(path), rel)
	}
	return nil, fmt.Errorf("%s: neither qcow2 nor VMDK", path)
}

func main() {
	skip := flag.Bool("skip", false, "skip unallocated runs (Extent)")
	cmp := flag.String("cmp", "", "compare with this raw file")
	sum := flag.Bool("sha256", false, "print the sha256 of the virtual disk")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: containerread [-skip] [-cmp RAW] [-sha256] FILE")
		os.Exit(2)
	}
	if *skip && (*sum || *cmp != "") {
		fmt.Fprintln(os.Stderr, "containerread: -skip reads only allocated runs; it cannot hash or compare")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *skip, *cmp, *sum); err != nil {
		fmt.Fprintln(os.Stderr, "containerread:", err)
		os.Exit(1)
	}
}

func run(path string, skip bool, cmp string, sum bool) error {
	d, err := open(path)
	if err != nil {
		return err
	}
	var raw *os.File
	if cmp != "" {
		if raw, err = os.Open(cmp); err != nil {
			return err
		}
	}
	h := sha256.New()
	buf := make([]byte, 1<<20)
	rbuf := make([]byte, 1<<20)
	for off := int64(0); off < d.Size(); {
		n := min(int64(len(buf)), d.Size()-off)
		if raw != nil {
			a, m, err := d.Extent(off)
			if err != nil {
				return err
			}
			n = min(n, m)
			if !a {
				if hole(raw, off, n) {
					off += n
					continue
				}
				r := rbuf[:n]
				if _, err := io.ReadFull(io.NewSectionReader(raw, off, n), r); err != nil {
					return err
				}
				for _, c := range r {
					if c != 0 {
						return fmt.Errorf("content mismatch in the MiB at %d", off)
					}
				}
				off += n
				continue
			}
		}
		if skip {
			a, m, err := d.Extent(off)
			if err != nil {
				return err
			}
			if !a {
				off += m
				continue
			}
			n = min(n, m)
		}
		b := buf[:n]
		if _, err := d.ReadAt(b, off); err != nil && err != io.EOF {
			return err
		}
		if raw != nil {
			if _, err := io.ReadFull(io.NewSectionReader(raw, off, n), rbuf[:n]); err != nil {
				return err
			}
			if !bytes.Equal(b, rbuf[:n]) {
				return fmt.Errorf("content mismatch in the MiB at %d", off)
			}
		}
		if sum {
			h.Write(b)
		}
		off += n
	}
	if sum {
		fmt.Printf("%s  %s\n", hex.EncodeToString(h.Sum(nil)), path)
	}
	return nil
}

// hole reports whether [off, off+n) of f is a hole (no data: SEEK_DATA
// finds the next data at or after off+n, or none).
func hole(f *os.File, off, n int64) bool {
	const seekData = 3
	next, err := f.Seek(off, seekData)
	if err != nil {
		return errors.Is(err, syscall.ENXIO) // no data after off
	}
	return next >= off+n
}
