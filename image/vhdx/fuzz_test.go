package vhdx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seeds in testdata/ from qemu-img output")

// A VHDX is at least a few MiB (every region is 1 MiB-aligned) but mostly
// zeros, so the fuzz seeds are stored sparse: the fuzz input is
//
//	byte 0      flags: 1 = recompute the header CRCs, 2 = the region table CRCs
//	            (so mutated fields get past the checksums)
//	bytes 1-2   file size in 64 KiB units (at most 16 MiB)
//	then runs   uint32 offset in 512-byte sectors, uint16 length, bytes
//
// and the file is zero outside the runs (a later run wins).
type sparseFile struct {
	size int64
	runs []sparseRun
	head []byte // the first 320 KiB, CRCs fixed, when flags ask for it
}

type sparseRun struct {
	off  int64
	data []byte
}

const sparseHead = 320 << 10

func decodeSparse(b []byte) *sparseFile {
	if len(b) < 3 {
		return &sparseFile{}
	}
	le := binary.LittleEndian
	f := &sparseFile{size: int64(le.Uint16(b[1:])) << 16}
	flags := b[0]
	for p := b[3:]; len(p) >= 6; {
		off := int64(le.Uint32(p)) * 512
		n := int(le.Uint16(p[4:]))
		p = p[6:]
		n = min(n, len(p))
		f.runs = append(f.runs, sparseRun{off, p[:n]})
		p = p[n:]
	}
	if flags&3 != 0 && f.size >= sparseHead {
		h := make([]byte, sparseHead)
		f.ReadAt(h, 0)
		if flags&1 != 0 {
			fixCRC(h[headerOff1 : headerOff1+headerSize])
			fixCRC(h[headerOff2 : headerOff2+headerSize])
		}
		if flags&2 != 0 {
			fixCRC(h[regionOff1 : regionOff1+regionSize])
			fixCRC(h[regionOff2 : regionOff2+regionSize])
		}
		f.head = h
	}
	return f
}

func (f *sparseFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > f.size-off {
		p, eof = p[:f.size-off], io.EOF
	}
	clear(p)
	for _, r := range f.runs {
		if r.off < off+int64(len(p)) && off < r.off+int64(len(r.data)) {
			s := max(r.off, off)
			e := min(r.off+int64(len(r.data)), off+int64(len(p)))
			copy(p[s-off:e-off], r.data[s-r.off:e-r.off])
		}
	}
	if f.head != nil && off < sparseHead {
		copy(p, f.head[off:])
	}
	return len(p), eof
}

// encodeSparse stores b (a multiple of 64 KiB, at most 16 MiB) as runs of
// its non-zero sectors.
func encodeSparse(b []byte, flags byte) []byte {
	le := binary.LittleEndian
	out := []byte{flags}
	out = le.AppendUint16(out, uint16(len(b)>>16))
	zero := make([]byte, 512)
	for s := 0; s < len(b); s += 512 {
		if bytes.Equal(b[s:s+512], zero) {
			continue
		}
		e := s + 512
		for e < len(b) && e-s < 32<<10 && !bytes.Equal(b[e:e+512], zero) {
			e += 512
		}
		out = le.AppendUint32(out, uint32(s/512))
		out = le.AppendUint16(out, uint16(e-s))
		out = append(out, b[s:e]...)
		s = e - 512
	}
	return out
}

var seedNames = []string{"dynamic.sparse", "parent.sparse", "diff.sparse", "dirty.sparse"}

// The committed seeds (testdata/, sparse as above; TestSeeds rebuilds them
// with -update-seeds):
//
//	parent.sparse   qemu-img create -f vhdx -o block_size=1M 3M, then qemu-io
//	                writes (so the log holds real entries)
//	dynamic.sparse  qemu-img convert -O vhdx -o block_size=1M of a 3 MiB raw
//	diff.sparse     a qemu-img create'd child made a differencing disk of
//	                parent.sparse (derived as in TestDifferencing)
//	dirty.sparse    parent.sparse with its header's log GUID set to that of
//	                the entries in its log (as in TestDirtyLog)
func TestSeeds(t *testing.T) {
	if *updateSeeds {
		makeSeeds(t)
	}
	parent := seedParent(t)
	for _, name := range seedNames {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 64<<10 {
			t.Errorf("%s: %d bytes is too big for a fuzz seed", name, len(b))
		}
		f := decodeSparse(b)
		d, err := Open(f, f.size, name, parent)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		buf := make([]byte, d.Size())
		if _, err := d.ReadAt(buf, 0); err != nil && err != io.EOF {
			t.Fatalf("%s: %v", name, err)
		}
		if (name == "dirty.sparse") != (len(d.Warnings()) > 0) {
			t.Errorf("%s: warnings %q", name, d.Warnings())
		}
	}
}

func seedParent(tb testing.TB) OpenFunc {
	b, err := os.ReadFile(filepath.Join("testdata", "parent.sparse"))
	if err != nil {
		tb.Fatal(err)
	}
	return func(string) (io.ReaderAt, int64, error) {
		f := decodeSparse(b)
		return f, f.size, nil
	}
}

func makeSeeds(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, flags byte) {
		if len(b)%(64<<10) != 0 || len(b) > 16<<20 {
			t.Fatalf("%s: %d bytes", name, len(b))
		}
		if err := os.WriteFile(filepath.Join("testdata", name), encodeSparse(b, flags), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	parent := filepath.Join(dir, "p.vhdx")
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vhdx", "-o", "block_size=1M", parent, "3M")
	diskfixture.Run(t, "", "qemu-io", "-f", "vhdx", "-c", "write -P 0x5a 0 4096", "-c", "write -P 0x33 2M 512", parent)
	pb, _ := os.ReadFile(parent)
	write("parent.sparse", pb, 0)

	raw := filepath.Join(dir, "r.raw")
	diskfixture.WriteRandom(t, raw, 3<<20, 7)
	f, _ := os.OpenFile(raw, os.O_RDWR, 0)
	f.WriteAt(make([]byte, 1<<20), 1<<20) // a block of zeros: not present
	f.Close()
	dyn := filepath.Join(dir, "d.vhdx")
	diskfixture.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", "block_size=1M", raw, dyn)
	db, _ := os.ReadFile(dyn)
	// Random data does not compress in the sparse form: keep one sector
	// of each block.
	d, err := Open(bytes.NewReader(db), int64(len(db)), "d", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.batN {
		if e, _ := d.entry(i); e&7 == stateFull {
			off := int64(e>>20) << 20
			clear(db[off+512 : off+1<<20])
		}
	}
	write("dynamic.sparse", db, 0)

	child := filepath.Join(dir, "c.vhdx")
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vhdx", "-o", "block_size=1M", child, "3M")
	w := [][2]int64{{1024, 2048}, {2<<20 + 4096, 512}}
	for _, x := range w {
		diskfixture.Run(t, "", "qemu-io", "-f", "vhdx", "-c", fmt.Sprintf("write -P 0x77 %d %d", x[0], x[1]), child)
	}
	cb, _ := os.ReadFile(child)
	var link GUID
	ho := currentHeader(pb)
	copy(link[:], pb[ho+32:ho+48])
	write("diff.sparse", makeDifferencing(t, cb, link, `.\parent.vhdx`, `C:\vm\parent.vhdx`, w), 0)

	dirty := append([]byte(nil), pb...)
	logOff := int(binary.LittleEndian.Uint64(dirty[ho+72:]))
	copy(dirty[ho+48:ho+64], dirty[logOff+32:logOff+48])
	fixCRC(dirty[ho : ho+headerSize])
	write("dirty.sparse", dirty, 0)
}

// FuzzVHDX opens arbitrary sparse files (see sparseFile) as VHDX, any parent
// name opening the parent seed: no panic, no unbounded allocation, and a
// disk that opens reads consistently.
func FuzzVHDX(f *testing.F) {
	for _, name := range seedNames {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		c := append([]byte(nil), b...)
		c[0] = 3 // the same with CRCs recomputed
		f.Add(c)
	}
	parent := seedParent(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		sf := decodeSparse(b)
		d, err := Open(sf, sf.size, "fuzz.vhdx", parent)
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
