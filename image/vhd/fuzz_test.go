package vhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seeds in testdata/ from qemu-img output")

// The committed seeds (testdata/, a few KiB each; TestSeeds rebuilds them
// with -update-seeds):
//
//	empty.vhd   qemu-img convert -O vpc of a 1 MiB raw of zeros: BAT all absent
//	parent.vhd  qemu-img create -f vpc -o subformat=fixed 16K (34816 bytes, CHS)
//	small.vhd   qemu-img create -f vpc 16K, then derived: block size 4 KiB,
//	            blocks 0 and 5 allocated with data (qemu-img makes 2 MiB blocks only)
//	diff.vhd    small.vhd derived into a differencing child of parent.vhd with
//	            partial sector bitmaps
func TestSeeds(t *testing.T) {
	if *updateSeeds {
		makeSeeds(t)
	}
	parent := seedParent(t)
	for _, name := range []string{"empty.vhd", "parent.vhd", "small.vhd", "diff.vhd"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 64<<10 {
			t.Errorf("%s: %d bytes is too big for a fuzz seed", name, len(b))
		}
		d, err := Open(bytes.NewReader(b), int64(len(b)), name, parent)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		buf := make([]byte, d.Size())
		if _, err := d.ReadAt(buf, 0); err != nil && err != io.EOF {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func seedParent(tb testing.TB) OpenFunc {
	p, err := os.ReadFile(filepath.Join("testdata", "parent.vhd"))
	if err != nil {
		tb.Fatal(err)
	}
	return func(string) (io.ReaderAt, int64, error) { return bytes.NewReader(p), int64(len(p)), nil }
}

func makeSeeds(t *testing.T) {
	dir := t.TempDir()
	be := binary.BigEndian
	zero := filepath.Join(dir, "zero.raw")
	os.WriteFile(zero, make([]byte, 1<<20), 0o644)
	diskfixture.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vpc", zero, "testdata/empty.vhd")
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed", "testdata/parent.vhd", "16K")
	// Give the parent some content.
	diskfixture.Run(t, "", "qemu-io", "-f", "vpc", "-c", "write -P 0x5a 0 34816", "testdata/parent.vhd")
	small := filepath.Join(dir, "small.vhd")
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vpc", small, "16K")
	b, err := os.ReadFile(small)
	if err != nil {
		t.Fatal(err)
	}
	foot := append([]byte(nil), b[len(b)-512:]...)
	f, _ := parseFooter(foot)
	hoff := f.DataOffset
	bat := be.Uint64(b[hoff+16:])
	size := int64(f.CurrentSize)
	const bs = 4096
	n := (size + bs - 1) / bs
	be.PutUint32(b[hoff+28:], uint32(n))
	be.PutUint32(b[hoff+32:], bs)
	body := b[:len(b)-512]
	for i := range n {
		be.PutUint32(body[bat+uint64(i)*4:], 0xFFFFFFFF)
	}
	for _, i := range []int64{0, 5} {
		be.PutUint32(body[bat+uint64(i)*4:], uint32(len(body)/512))
		blk := make([]byte, 512+bs)
		blk[0] = 0xFF
		for k := 512; k < len(blk); k++ {
			blk[k] = byte(k*7 + int(i))
		}
		body = append(body, blk...)
	}
	out := append(body, foot...)
	fixSums(out)
	if err := os.WriteFile("testdata/small.vhd", out, 0o644); err != nil {
		t.Fatal(err)
	}
	pf, _ := parseFooter(mustRead(t, "testdata/parent.vhd"))
	diff := makeDifferencing(out, pf.UniqueID, pf.Timestamp, `.\parent.vhd`, `C:\vm\parent.vhd`, [][2]int64{{1024, 2048}, {5*bs + 512, 512}})
	if err := os.WriteFile("testdata/diff.vhd", diff, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b[len(b)-512:]
}

// FuzzVHD opens arbitrary bytes as a VHD (any parent name opens the seed
// parent): no panic, no unbounded allocation, and a disk that opens reads
// consistently: Extent runs are in range, unallocated runs read as zeros,
// and unreadable bytes are errors, never a short read without one.
func FuzzVHD(f *testing.F) {
	for _, name := range []string{"empty.vhd", "parent.vhd", "small.vhd", "diff.vhd"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	parent := seedParent(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(bytes.NewReader(b), int64(len(b)), "fuzz.vhd", parent)
		if err != nil {
			var fe *FormatError
			var ue *UnsupportedError
			if !errors.As(err, &fe) && !errors.As(err, &ue) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		diskfixture.WalkExtents(t, d, nil)
	})
}
