package vmdk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zlib"
)

// header is the 512-byte sparse extent header (or footer).
type header struct {
	version      uint32
	flags        uint32
	capacity     int64 // sectors
	grainSectors int64
	descOff      int64 // sectors
	descSectors  int64
	gtes         int64 // grain table entries per grain table
	rgdOff       int64 // sectors
	gdOff        int64 // sectors
	overhead     int64 // sectors
	unclean      bool
	compression  uint16
}

func parseHeader(b []byte) header {
	return header{
		version:      le.Uint32(b[4:]),
		flags:        le.Uint32(b[8:]),
		capacity:     int64(le.Uint64(b[12:]) & (1<<62 - 1)),
		grainSectors: int64(le.Uint64(b[20:]) & (1<<62 - 1)),
		descOff:      int64(le.Uint64(b[28:]) & (1<<62 - 1)),
		descSectors:  int64(le.Uint64(b[36:]) & (1<<62 - 1)),
		gtes:         int64(le.Uint32(b[44:])),
		rgdOff:       int64(le.Uint64(b[48:]) & (1<<62 - 1)),
		gdOff:        int64(le.Uint64(b[56:]) & (1<<62 - 1)),
		overhead:     int64(le.Uint64(b[64:]) & (1<<62 - 1)),
		unclean:      b[72] != 0,
		compression:  le.Uint16(b[77:]),
	}
}

// sparse is an open sparse extent (hosted sparse or streamOptimized).
type sparse struct {
	r     io.ReaderAt
	size  int64 // file size
	file  string
	h     header
	grain int64 // bytes
	gtes  int64
	gdOff int64 // bytes
	gdN   int64 // grain directory entries

	c *cache // shared by the extents of a Disk
}

type gtable struct {
	off int64    // file offset, 0 when the GD entry is 0
	e   []uint32 // nil when unallocated
}

func (s *sparse) errAt(off int64, field, format string, a ...any) error {
	return &FormatError{File: s.file, Off: off, Field: field, Msg: fmt.Sprintf(format, a...)}
}

func openSparse(r io.ReaderAt, size int64, file string, c *cache) (*sparse, error) {
	s := &sparse{r: r, size: size, file: file, c: c}
	if size < 512 {
		return nil, s.errAt(0, "header", "file is %d bytes, shorter than a sparse extent header (512)", size)
	}
	b := make([]byte, 512)
	if err := readFile(r, file, size, b, 0); err != nil {
		return nil, err
	}
	s.h = parseHeader(b)
	newline := string(b[73:77])
	if le.Uint64(b[56:]) == gdAtEnd {
		// streamOptimized written as a stream: the footer, a copy of the
		// header with the real GD offset, is the second-last sector,
		// after a footer marker and before the end-of-stream marker.
		fo := size - 1024
		if fo < 1024 {
			return nil, s.errAt(56, "gdOffset", "GD_AT_END, but the file (%d bytes) is too short for a footer", size)
		}
		if err := readFile(r, file, size, b, fo); err != nil {
			return nil, err
		}
		if string(b[:4]) != sparseMagic || le.Uint64(b[56:]) == gdAtEnd {
			return nil, s.errAt(fo, "footer", "GD_AT_END in the header, but no footer with a grain directory offset here")
		}
		f := parseHeader(b)
		s.h.gdOff = f.gdOff
	}
	h := &s.h
	if h.version < 1 || h.version > 3 {
		return nil, s.errAt(4, "version", "%d is not 1, 2 or 3", h.version)
	}
	if h.flags&flagNewlineTest != 0 && newline != "\n \r\n" {
		return nil, s.errAt(73, "newline test", "the bytes are not \\n \\r\\n: a text-mode transfer corrupted the file")
	}
	g := h.grainSectors
	if g < 1 || g > maxGrainSectors || g&(g-1) != 0 {
		return nil, s.errAt(20, "grainSize", "%d sectors is not a power of two from 1 to %d", g, maxGrainSectors)
	}
	if h.gtes < 1 || h.gtes > maxGTEs {
		return nil, s.errAt(44, "numGTEsPerGT", "%d is not between 1 and %d", h.gtes, maxGTEs)
	}
	for _, f := range []struct {
		off  int64
		name string
		v    int64
	}{{12, "capacity", h.capacity}, {28, "descriptorOffset", h.descOff}, {36, "descriptorSize", h.descSectors}, {56, "gdOffset", h.gdOff}} {
		if f.v > 1<<52/512 {
			return nil, s.errAt(f.off, f.name, "%d sectors is absurd", f.v)
		}
	}
	if h.flags&flagCompressed != 0 && h.compression != compressDeflate {
		return nil, &UnsupportedError{File: file, What: fmt.Sprintf("grain compression algorithm %d", h.compression), Advice: adviceConvert}
	}
	s.grain = g * 512
	s.gtes = h.gtes
	span := s.gtes * g // sectors one grain table maps
	s.gdN = (h.capacity + span - 1) / span
	s.gdOff = h.gdOff * 512
	if s.gdN > 0 {
		if h.gdOff == 0 || s.gdOff > size || 4*s.gdN > size-s.gdOff {
			return nil, s.errAt(56, "gdOffset", "the grain directory (%d entries at sector %d) is not inside the file (%d bytes)", s.gdN, h.gdOff, size)
		}
	}
	return s, nil
}

type gdField int64
type gtField int64

func (i gdField) String() string { return fmt.Sprintf("grain directory entry %d", int64(i)) }
func (i gtField) String() string { return fmt.Sprintf("grain table entry %d", int64(i)) }

// table returns grain table i (e nil when its GD entry is 0).
func (s *sparse) table(i int64) (*gtable, error) {
	s.c.mu.Lock()
	t, ok := s.c.gts.get(cacheKey{s, i})
	s.c.mu.Unlock()
	if ok {
		return t, nil
	}
	var b [4]byte
	eoff := s.gdOff + 4*i
	if err := readFile(s.r, s.file, s.size, b[:], eoff); err != nil {
		return nil, err
	}
	sec := int64(le.Uint32(b[:]))
	t = &gtable{off: sec * 512}
	if sec != 0 {
		if t.off > s.size || 4*s.gtes > s.size-t.off {
			return nil, s.errAt(eoff, gdField(i).String(), "the grain table at sector %d is past the end of the file (%d bytes)", sec, s.size)
		}
		buf := make([]byte, 4*s.gtes)
		if err := readFile(s.r, s.file, s.size, buf, t.off); err != nil {
			return nil, err
		}
		t.e = make([]uint32, s.gtes)
		for j := range t.e {
			t.e[j] = le.Uint32(buf[4*j:])
		}
	}
	s.c.mu.Lock()
	s.c.gts.put(cacheKey{s, i}, t, 64+4*int64(len(t.e)))
	s.c.mu.Unlock()
	return t, nil
}

// lookup maps rel (0 <= rel < n, the extent's length) to the piece
// holding it.
func (s *sparse) lookup(rel, n int64) (piece, error) {
	g := rel / s.grain
	in := rel % s.grain
	gdi, gti := g/s.gtes, g%s.gtes
	t, err := s.table(gdi)
	if err != nil {
		return piece{}, err
	}
	if t.e == nil {
		end := (gdi + 1) * s.gtes * s.grain
		return piece{kind: kUnalloc, n: min(end, n) - rel}, nil
	}
	p := piece{n: min(s.grain-in, n-rel)}
	e := int64(t.e[gti])
	eoff := t.off + 4*gti
	switch e {
	case 0:
		p.kind = kUnalloc
		return p, nil
	case 1:
		p.kind = kZero
		return p, nil
	}
	host := e * 512
	if s.h.flags&flagCompressed != 0 {
		if host >= s.size {
			return p, s.errAt(eoff, gtField(gti).String(), "the grain at sector %d is past the end of the file (%d bytes)", e, s.size)
		}
		p.kind, p.host, p.goff, p.gidx, p.eoff = kCompressed, host, in, g, eoff
		return p, nil
	}
	if host+in > s.size-p.n {
		return p, s.errAt(eoff, gtField(gti).String(), "the grain at sector %d is past the end of the file (%d bytes)", e, s.size)
	}
	p.kind, p.host = kData, host+in
	return p, nil
}

var (
	zlibPool sync.Pool // io.ReadCloser implementing zlib.Resetter
	bufPool  sync.Pool // *[]byte compressed input
)

// grainAt fills p with the bytes of compressed grain pc from pc.goff,
// taking it from ahead when it was decompressed ahead.
func (s *sparse) grainAt(p []byte, pc piece, ahead batch) error {
	if ok, err := ahead.Take(grainKey{s, pc.host}, p, pc.goff); ok {
		return err
	}
	if pc.goff == 0 && int64(len(p)) == s.grain {
		return s.decode(p, pc)
	}
	s.c.mu.Lock()
	g, ok := s.c.grains.get(cacheKey{s, pc.host})
	s.c.mu.Unlock()
	if ok {
		copy(p, g[pc.goff:])
		return nil
	}
	out := make([]byte, s.grain)
	if err := s.decode(out, pc); err != nil {
		return err
	}
	copy(p, out[pc.goff:])
	s.c.mu.Lock()
	s.c.grains.put(cacheKey{s, pc.host}, out, s.grain)
	s.c.mu.Unlock()
	return nil
}

// decode decompresses the grain pc into out (grain bytes; past the
// capacity, out is left as it is).
func (s *sparse) decode(out []byte, pc piece) error {
	in, release, err := s.compressedData(pc)
	if err != nil {
		return err
	}
	defer release()
	need := min(s.grain, s.h.capacity*512-pc.gidx*s.grain)
	if err := inflate(out[:need], in, need == s.grain); err != nil {
		return s.errAt(pc.host, "compressed grain", "zlib data (grain table entry at %#x) is not a valid %d-byte grain: %v", pc.eoff, need, err)
	}
	return nil
}

// compressedData reads the compressed bytes of the grain at pc.host:
// after a 12-byte grain marker (LBA, size) when the extent has markers,
// else up to two grains of bytes.
func (s *sparse) compressedData(pc piece) ([]byte, func(), error) {
	off, n := pc.host, min(2*s.grain+512, s.size-pc.host)
	if s.h.flags&flagMarkers != 0 {
		var m [grainMarkerBytes]byte
		if err := readFile(s.r, s.file, s.size, m[:], pc.host); err != nil {
			return nil, nil, err
		}
		lba, size := int64(le.Uint64(m[:])), int64(le.Uint32(m[8:]))
		if want := pc.gidx * s.h.grainSectors; lba != want {
			return nil, nil, s.errAt(pc.host, "grain marker", "LBA %d, but the grain table entry at %#x is for the grain at LBA %d", lba, pc.eoff, want)
		}
		if size == 0 || size > 2*s.grain+512 {
			return nil, nil, s.errAt(pc.host+8, "grain marker", "compressed size %d is not between 1 and %d", size, 2*s.grain+512)
		}
		off, n = pc.host+grainMarkerBytes, size
		if off > s.size-n {
			return nil, nil, s.errAt(pc.host+8, "grain marker", "%d compressed bytes run past the end of the file (%d bytes)", size, s.size)
		}
	}
	bp, _ := bufPool.Get().(*[]byte)
	if bp == nil || int64(cap(*bp)) < n {
		b := make([]byte, max(n, 128<<10))
		bp = &b
	}
	b := (*bp)[:n]
	if err := readFile(s.r, s.file, s.size, b, off); err != nil {
		bufPool.Put(bp)
		return nil, nil, err
	}
	return b, func() { bufPool.Put(bp) }, nil
}

// inflate decompresses the zlib stream in into exactly len(out) bytes.
// When end is set, the stream must end there, and its Adler-32 checksum
// is verified.
func inflate(out, in []byte, end bool) error {
	br := bytes.NewReader(in)
	zr, _ := zlibPool.Get().(io.ReadCloser)
	if zr == nil {
		var err error
		if zr, err = zlib.NewReader(br); err != nil {
			return err
		}
	} else if err := zr.(zlib.Resetter).Reset(br, nil); err != nil {
		return err
	}
	defer zlibPool.Put(zr)
	_, err := io.ReadFull(zr, out)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil || !end {
		return err
	}
	var one [1]byte
	for range 4 {
		switch n, err := zr.Read(one[:]); {
		case n > 0:
			return errors.New("more data than a grain")
		case err == io.EOF:
			return nil
		case err != nil:
			return err // a checksum error
		}
	}
	return errors.New("the stream does not end after a grain")
}
