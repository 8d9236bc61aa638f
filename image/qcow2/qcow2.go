// Package qcow2 reads QEMU copy-on-write (qcow2) disk images, versions 2
// and 3, as the virtual disk they hold: L1/L2 tables, zero clusters,
// deflate and zstd compressed clusters, extended L2 entries (subclusters),
// and backing files opened through an OpenFunc. It never writes.
//
// The layout follows QEMU's docs/interop/qcow2.txt. Encrypted images,
// external data files and unknown incompatible features are refused with
// an *UnsupportedError. Damaged images give a *FormatError naming the file,
// the byte offset and the field; nothing is allocated from a size read from
// the file before it is checked against the file's size.
//
// Memory is bounded per Disk: L2 tables are read lazily into a cache of at
// most l2CacheBytes, decompressed clusters into one of at most
// clusterCacheBytes.
package qcow2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/mirrorchk/mirrorchk/image/internal/readahead"
)

// OpenFunc opens another file a container refers to (here a backing file).
// name is as the referring file spells it; the caller resolves a relative
// name against the referring file's directory and opens it read-only. A
// missing file is an error wrapping fs.ErrNotExist.
type OpenFunc func(name string) (r io.ReaderAt, size int64, err error)

// FormatError reports a damaged or impossible structure.
type FormatError struct {
	File  string // the file's name as given to Open or OpenFunc
	Off   int64  // byte offset in that file
	Field string // the structure and field, e.g. "L1 table entry 3"
	Msg   string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: qcow2 %s at byte %#x: %s", e.File, e.Field, e.Off, e.Msg)
}

// ErrUnsupported is matched (errors.Is) by every *UnsupportedError.
var ErrUnsupported = errors.New("qcow2: unsupported image")

// UnsupportedError reports a recognised qcow2 image that this package does
// not read (an encrypted image, an external data file, a missing backing
// file), and what to do about it.
type UnsupportedError struct {
	File   string
	What   string // what is not supported
	Advice string // what to do
	Err    error  // underlying cause, e.g. a missing backing file, or nil
}

func (e *UnsupportedError) Error() string {
	s := fmt.Sprintf("%s: qcow2 %s is not supported", e.File, e.What)
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	if e.Advice != "" {
		s += "; " + e.Advice
	}
	return s
}

func (e *UnsupportedError) Unwrap() error        { return e.Err }
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

const adviceConvert = "convert it with qemu-img convert -O raw and check the raw image"

const (
	magic           = "QFI\xfb"
	maxClusterBits  = 21       // 2 MiB, QEMU's limit
	maxL1Bytes      = 32 << 20 // QEMU's limit on the L1 table
	maxBackingDepth = 16
	maxBackingName  = 1023

	l2CacheBytes      = 4 << 20
	clusterCacheBytes = 2 << 20

	// incompatible feature bits
	incDirty        = 1 << 0
	incCorrupt      = 1 << 1
	incExternalData = 1 << 2
	incCompression  = 1 << 3
	incExtendedL2   = 1 << 4
	incKnown        = incDirty | incCorrupt | incExternalData | incCompression | incExtendedL2

	extEnd           = 0x00000000
	extBackingFormat = 0xE2792ACA

	offsetMask = 0x00fffffffffffe00 // bits 9-55 of L1 and standard L2 entries
	flagComp   = 1 << 62
)

// Detect reports whether head looks like a qcow2 image (any version).
func Detect(head, tail []byte) bool {
	return len(head) >= 4 && string(head[:4]) == magic
}

// layer is a backing file: another qcow2 Disk or a raw file.
type layer interface {
	Size() int64
	extent(off, limit int64) (bool, int64, error) // Extent cut at limit bytes; off < Size
	readZ(p []byte, off int64) error              // reads p at off; bytes at or past Size read as zeros
}

// Disk is the virtual disk of a qcow2 image. Its methods are safe for
// concurrent use.
type Disk struct {
	r        io.ReaderAt
	fileSize int64
	name     string

	version     int
	clusterBits uint
	cluster     int64 // bytes
	size        int64 // virtual size
	l1Off       int64
	l1Entries   int64 // entries used (the ones the virtual size needs)
	l2Entries   int64 // entries per L2 table
	extL2       bool
	zstd        bool
	backing     layer
	backingName string
	warnings    []string

	ahead    readahead.Tracker[int64] // clusters being decompressed ahead of a sequential reader
	mu       sync.Mutex
	l2cache  *lru[*l2table]
	clusters *lru[[]byte] // decompressed clusters, keyed by host offset
}

type l2table struct {
	off int64    // file offset of the table, 0 for an unallocated one
	e   []uint64 // entries; two words per entry with extended L2
}

// Open reads the qcow2 image held by r (size bytes, named name in
// messages). open opens a backing file; it may be nil when the image has
// none.
func Open(r io.ReaderAt, size int64, name string, open OpenFunc) (*Disk, error) {
	return openChain(r, size, name, open, []string{name})
}

func openChain(r io.ReaderAt, fileSize int64, name string, open OpenFunc, chain []string) (*Disk, error) {
	d := &Disk{r: r, fileSize: fileSize, name: name}
	if err := d.readHeader(open, chain); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Disk) errAt(off int64, field, format string, a ...any) error {
	return &FormatError{File: d.name, Off: off, Field: field, Msg: fmt.Sprintf(format, a...)}
}

func (d *Disk) readHeader(open OpenFunc, chain []string) error {
	if d.fileSize < 72 {
		return d.errAt(0, "header", "file is %d bytes, shorter than a qcow2 header (72)", d.fileSize)
	}
	h := make([]byte, 112)
	n, err := d.r.ReadAt(h[:min(int64(len(h)), d.fileSize)], 0)
	if n < 72 {
		return d.ioErr(0, 72, err)
	}
	h = h[:n]
	be := binary.BigEndian
	if string(h[:4]) != magic {
		return d.errAt(0, "magic", "%q is not QFI\\xfb", h[:4])
	}
	switch v := be.Uint32(h[4:]); v {
	case 1:
		return &UnsupportedError{File: d.name, What: "version 1 (the old qcow format)", Advice: adviceConvert}
	case 2, 3:
		d.version = int(v)
	default:
		return d.errAt(4, "version", "%d is not 2 or 3", v)
	}
	backingOff := be.Uint64(h[8:])
	backingLen := be.Uint32(h[16:])
	cb := be.Uint32(h[20:])
	if cb < 9 || cb > maxClusterBits {
		return d.errAt(20, "cluster_bits", "%d is outside 9..%d", cb, maxClusterBits)
	}
	d.clusterBits = uint(cb)
	d.cluster = 1 << cb
	vsize := be.Uint64(h[24:])
	if vsize > 1<<61 {
		return d.errAt(24, "size", "virtual size %d is absurd", vsize)
	}
	d.size = int64(vsize)
	if m := be.Uint32(h[32:]); m != 0 {
		what := fmt.Sprintf("encryption (crypt_method %d)", m)
		switch m {
		case 1:
			what = "AES encryption (crypt_method 1)"
		case 2:
			what = "LUKS encryption (crypt_method 2)"
		}
		return &UnsupportedError{File: d.name, What: what,
			Advice: "decrypt it with qemu-img convert (with the key, --object secret) to raw and check that"}
	}
	l1Size := int64(be.Uint32(h[36:]))
	d.l1Off = int64(be.Uint64(h[40:]))
	nsnap := be.Uint32(h[60:])

	hdrLen := int64(72)
	var incompat uint64
	compType := byte(0)
	if d.version == 3 {
		if len(h) < 104 {
			return d.errAt(0, "header", "file is %d bytes, shorter than a version 3 header (104)", d.fileSize)
		}
		incompat = be.Uint64(h[72:])
		hdrLen = int64(be.Uint32(h[100:]))
		if hdrLen < 104 || hdrLen > d.cluster || hdrLen%8 != 0 {
			return d.errAt(100, "header_length", "%d is not a multiple of 8 between 104 and the cluster size %d", hdrLen, d.cluster)
		}
		if hdrLen > 104 && len(h) > 104 {
			compType = h[104]
		}
	}
	if unknown := incompat &^ incKnown; unknown != 0 {
		return &UnsupportedError{File: d.name, What: fmt.Sprintf("incompatible feature bits %#x", unknown), Advice: adviceConvert}
	}
	if incompat&incExternalData != 0 {
		return &UnsupportedError{File: d.name, What: "an external data file (incompatible feature bit 2)",
			Advice: "convert the image and its data file with qemu-img convert -O raw and check the raw image"}
	}
	d.extL2 = incompat&incExtendedL2 != 0
	if d.extL2 && cb < 14 {
		return d.errAt(20, "cluster_bits", "%d is below 14, the minimum with extended L2 entries", cb)
	}
	switch {
	case incompat&incCompression == 0 && compType != 0:
		return d.errAt(104, "compression_type", "%d without the compression type feature bit", compType)
	case compType == 0:
	case compType == 1:
		d.zstd = true
	default:
		return &UnsupportedError{File: d.name, What: fmt.Sprintf("compression type %d", compType), Advice: adviceConvert}
	}
	if incompat&incDirty != 0 {
		d.warnings = append(d.warnings, "qcow2 dirty bit is set (QEMU did not close the image); refcounts may be stale, the cluster mappings are read as they are")
	}
	if incompat&incCorrupt != 0 {
		d.warnings = append(d.warnings, "qcow2 corrupt bit is set: QEMU found an inconsistency in the metadata of this image")
	}
	if nsnap > 0 {
		d.warnings = append(d.warnings, fmt.Sprintf("qcow2 has %d internal snapshot(s); the active layer is read%s", nsnap, d.snapshots(int64(be.Uint64(h[64:])), nsnap)))
	}

	entrySize := int64(8)
	if d.extL2 {
		entrySize = 16
	}
	d.l2Entries = d.cluster / entrySize
	clusters := (d.size + d.cluster - 1) >> d.clusterBits
	d.l1Entries = (clusters + d.l2Entries - 1) / d.l2Entries
	if l1Size < d.l1Entries {
		return d.errAt(36, "l1_size", "%d entries cannot map a virtual size of %d bytes (%d needed)", l1Size, d.size, d.l1Entries)
	}
	if d.l1Entries*8 > maxL1Bytes {
		return d.errAt(36, "l1_size", "a virtual size of %d bytes needs an L1 table of %d bytes, more than QEMU's limit of %d", d.size, d.l1Entries*8, maxL1Bytes)
	}
	if d.l1Entries > 0 {
		if d.l1Off%d.cluster != 0 || d.l1Off < d.cluster {
			return d.errAt(40, "l1_table_offset", "%#x is not a cluster-aligned offset after the header", d.l1Off)
		}
		if d.l1Off > d.fileSize || d.l1Entries*8 > d.fileSize-d.l1Off {
			return d.errAt(40, "l1_table_offset", "the L1 table (%d entries at %#x) extends past the end of the file (%d bytes)", d.l1Entries, d.l1Off, d.fileSize)
		}
	}

	// Header extensions, within the first cluster.
	var backingFmt string
	hasBackingFmt := false
	ext := make([]byte, min(d.cluster, d.fileSize))
	if n, err := d.r.ReadAt(ext, 0); n < len(ext) {
		return d.ioErr(0, int64(len(ext)), err)
	}
	for pos := hdrLen; pos+8 <= int64(len(ext)); {
		typ := be.Uint32(ext[pos:])
		l := int64(be.Uint32(ext[pos+4:]))
		if typ == extEnd {
			break
		}
		if l > int64(len(ext))-pos-8 {
			return d.errAt(pos+4, "header extension length", "%d bytes run past the first cluster", l)
		}
		if typ == extBackingFormat {
			backingFmt = string(ext[pos+8 : pos+8+l])
			hasBackingFmt = true
		}
		pos += 8 + (l+7)&^7
	}

	cap2 := int64(l2CacheBytes) / d.cluster
	d.l2cache = newLRU[*l2table](int(max(cap2, 4)))
	d.clusters = newLRU[[]byte](int(max(int64(clusterCacheBytes)/d.cluster, 2)))

	if backingOff != 0 || backingLen != 0 {
		if backingLen == 0 || backingLen > maxBackingName {
			return d.errAt(16, "backing_file_size", "%d is not between 1 and %d", backingLen, maxBackingName)
		}
		if backingOff >= uint64(len(ext)) || uint64(backingLen) > uint64(len(ext))-backingOff {
			return d.errAt(8, "backing_file_offset", "the name (%d bytes at %#x) is not inside the first cluster", backingLen, backingOff)
		}
		d.backingName = string(ext[backingOff : backingOff+uint64(backingLen)])
		if err := d.openBacking(open, chain, backingFmt, hasBackingFmt); err != nil {
			return err
		}
	}
	return nil
}

// snapshots lists the first internal snapshots (id, name, date) for the
// warning, or says why the table cannot be read. It never fails: the
// active layer does not depend on the snapshot table.
func (d *Disk) snapshots(off int64, n uint32) string {
	const maxListed = 16
	var b strings.Builder
	for i := uint32(0); i < n && i < maxListed; i++ {
		var h [40]byte
		if off < 0 || off > d.fileSize-40 || d.readFile(h[:], off) != nil {
			return fmt.Sprintf(" (the snapshot table entry at %#x is past the end of the file)", off)
		}
		be := binary.BigEndian
		idLen, nameLen := int64(be.Uint16(h[12:])), int64(be.Uint16(h[14:]))
		extra := int64(be.Uint32(h[36:]))
		date := time.Unix(int64(be.Uint32(h[16:])), 0).UTC().Format(time.RFC3339)
		if extra > 1<<16 || off+40+extra+idLen+nameLen > d.fileSize {
			return fmt.Sprintf(" (the snapshot table entry at %#x is damaged)", off)
		}
		s := make([]byte, idLen+nameLen)
		if d.readFile(s, off+40+extra) != nil {
			return fmt.Sprintf(" (the snapshot table entry at %#x is unreadable)", off)
		}
		if i == 0 {
			b.WriteString(" (snapshots:")
		} else {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " id %q name %q of %s", s[:idLen], s[idLen:], date)
		off += (40 + extra + idLen + nameLen + 7) &^ 7
	}
	if n > maxListed {
		fmt.Fprintf(&b, ", and %d more", n-maxListed)
	}
	b.WriteString(")")
	return b.String()
}

// protocolName reports whether a backing name is a QEMU protocol or json:
// pseudo-file name ("nbd:...", "json:{...}", "https://...") rather than a
// file path.
func protocolName(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 2 { // "C:\..." is a drive letter, "" no prefix
		return strings.HasPrefix(s, "json:")
	}
	for _, c := range s[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return !strings.ContainsAny(s[:i], "/\\")
}

func (d *Disk) openBacking(open OpenFunc, chain []string, format string, hasFormat bool) error {
	bn := d.backingName
	if protocolName(bn) {
		return &UnsupportedError{File: d.name, What: fmt.Sprintf("backing file name %q (a QEMU protocol or json: name, not a file)", bn),
			Advice: "convert the chain with qemu-img convert -O raw and check the raw image"}
	}
	for _, c := range chain {
		if c == bn {
			return d.errAt(8, "backing_file_offset", "backing file %q is already in the chain %q: the chain loops", bn, chain)
		}
	}
	if len(chain) > maxBackingDepth {
		return d.errAt(8, "backing_file_offset", "backing chain is deeper than %d files", maxBackingDepth)
	}
	if open == nil {
		return &UnsupportedError{File: d.name, What: fmt.Sprintf("reading without its backing file %q", bn),
			Advice: "open it with its backing file beside it, or convert the chain with qemu-img convert -O raw"}
	}
	if hasFormat && format != "qcow2" && format != "raw" {
		return &UnsupportedError{File: d.name, What: fmt.Sprintf("backing file %q of format %q", bn, format),
			Advice: "convert the chain with qemu-img convert -O raw and check the raw image"}
	}
	r, size, err := open(bn)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &UnsupportedError{File: d.name, What: fmt.Sprintf("reading without its backing file %q, which is missing", bn), Err: err,
				Advice: "put the backing file beside the image, or check the image with qemu-img convert -O raw of the complete chain"}
		}
		return fmt.Errorf("%s: opening qcow2 backing file %q: %w", d.name, bn, err)
	}
	if !hasFormat {
		var m [4]byte
		n, _ := r.ReadAt(m[:], 0)
		if n == 4 && string(m[:]) == magic {
			format = "qcow2"
		} else {
			format = "raw"
		}
		d.warnings = append(d.warnings, fmt.Sprintf("qcow2 backing file %q has no recorded format; read as %s from its content", bn, format))
	}
	if format == "raw" {
		d.backing = &rawLayer{r: r, size: size, name: bn}
		return nil
	}
	b, err := openChain(r, size, bn, open, append(chain[:len(chain):len(chain)], bn))
	if err != nil {
		return err
	}
	for _, w := range b.warnings {
		d.warnings = append(d.warnings, "backing file "+bn+": "+w)
	}
	d.backing = b
	return nil
}

// Size returns the virtual size in bytes.
func (d *Disk) Size() int64 { return d.size }

// Format returns "qcow2 v2" or "qcow2 v3".
func (d *Disk) Format() string { return fmt.Sprintf("qcow2 v%d", d.version) }

// Warnings returns what does not stop reading but should be reported.
func (d *Disk) Warnings() []string { return append([]string(nil), d.warnings...) }

// BackingFile returns the backing file name as the image spells it, or "".
func (d *Disk) BackingFile() string { return d.backingName }

// ioErr describes a failed or short read of n bytes at off of the image file.
func (d *Disk) ioErr(off, n int64, err error) error {
	if err == nil || err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.errAt(off, "read", "%d bytes are past the end of the file (%d bytes): truncated", n, d.fileSize)
	}
	return fmt.Errorf("%s: reading %d bytes at byte %#x: %w", d.name, n, off, err)
}

func (d *Disk) readFile(p []byte, off int64) error {
	n, err := d.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	return d.ioErr(off, int64(len(p)), err)
}

// l2 returns the L2 table of L1 entry i (its e is nil when unallocated).
func (d *Disk) l2(i int64) (*l2table, error) {
	d.mu.Lock()
	t, ok := d.l2cache.get(i)
	d.mu.Unlock()
	if ok {
		return t, nil
	}
	var b [8]byte
	eoff := d.l1Off + 8*i
	if err := d.readFile(b[:], eoff); err != nil {
		return nil, err
	}
	e := binary.BigEndian.Uint64(b[:])
	field := l1Field(i)
	off := int64(e & offsetMask)
	t = &l2table{off: off}
	if off != 0 {
		if off%d.cluster != 0 {
			return nil, d.errAt(eoff, field.String(), "L2 table offset %#x is not cluster aligned", off)
		}
		if off < d.cluster {
			return nil, d.errAt(eoff, field.String(), "L2 table offset %#x points into the header", off)
		}
		if off > d.fileSize-d.cluster {
			return nil, d.errAt(eoff, field.String(), "L2 table at %#x extends past the end of the file (%d bytes)", off, d.fileSize)
		}
		buf := make([]byte, d.cluster)
		if err := d.readFile(buf, off); err != nil {
			return nil, err
		}
		t.e = make([]uint64, d.cluster/8)
		for j := range t.e {
			t.e[j] = binary.BigEndian.Uint64(buf[8*j:])
		}
	}
	d.mu.Lock()
	d.l2cache.put(i, t)
	d.mu.Unlock()
	return t, nil
}

// l1Field and l2Field name a table entry in a FormatError, formatted only
// when there is an error.
type (
	l1Field int64
	l2Field int64
)

func (i l1Field) String() string { return fmt.Sprintf("L1 table entry %d", int64(i)) }
func (i l2Field) String() string { return fmt.Sprintf("L2 table entry %d", int64(i)) }

type kind uint8

const (
	kUnalloc    kind = iota // not in this file: the backing file's bytes, or zeros
	kZero                   // reads as zeros
	kData                   // bytes at host
	kCompressed             // compressed cluster at host, clen bytes at most
)

// piece is the mapping of n bytes of the virtual disk from some offset.
type piece struct {
	kind kind
	host int64 // kData: file offset of the first byte; kCompressed: of the compressed data
	clen int64 // kCompressed: compressed bytes to read at most
	coff int64 // kCompressed: offset of the first byte inside the cluster
	n    int64
	eoff int64 // kCompressed: file offset of the L2 entry, for messages
}

// lookup maps off (0 <= off < Size) to the piece that holds it, up to the
// end of its cluster or subcluster (the whole L2 range when the L1 entry is
// unallocated), cut at Size.
func (d *Disk) lookup(off int64) (piece, error) {
	c := off >> d.clusterBits
	l1i, l2i := c/d.l2Entries, c%d.l2Entries
	in := off & (d.cluster - 1)
	rest := d.size - off
	t, err := d.l2(l1i)
	if err != nil {
		return piece{}, err
	}
	if t.e == nil {
		end := (l1i + 1) * d.l2Entries << d.clusterBits
		return piece{kind: kUnalloc, n: min(end-off, rest)}, nil
	}
	var e, bm uint64
	var eoff int64
	if d.extL2 {
		e, bm = t.e[2*l2i], t.e[2*l2i+1]
		eoff = t.off + 16*l2i
	} else {
		e = t.e[l2i]
		eoff = t.off + 8*l2i
	}
	field := l2Field(l2i)
	p := piece{n: min(d.cluster-in, rest)}
	if e&flagComp != 0 {
		x := 62 - (d.clusterBits - 8)
		host := int64(e & (1<<x - 1))
		nsec := int64(e>>x) & (1<<(d.clusterBits-8) - 1)
		if host < d.cluster {
			return p, d.errAt(eoff, field.String(), "compressed cluster offset %#x points into the header", host)
		}
		if host >= d.fileSize {
			return p, d.errAt(eoff, field.String(), "compressed cluster at %#x is past the end of the file (%d bytes)", host, d.fileSize)
		}
		p.kind, p.host, p.coff, p.eoff = kCompressed, host, in, eoff
		p.clen = min((nsec+1)*512-host%512, d.fileSize-host)
		return p, nil
	}
	host := int64(e & offsetMask)
	checkHost := func() error {
		if host%d.cluster != 0 {
			return d.errAt(eoff, field.String(), "cluster offset %#x is not cluster aligned", host)
		}
		if host < d.cluster {
			return d.errAt(eoff, field.String(), "cluster offset %#x points into the header", host)
		}
		if host+in > d.fileSize-p.n { // the bytes this piece reads
			return d.errAt(eoff, field.String(), "cluster at %#x is past the end of the file (%d bytes)", host, d.fileSize)
		}
		return nil
	}
	if !d.extL2 {
		switch {
		case d.version >= 3 && e&1 != 0:
			p.kind = kZero
		case host == 0:
			p.kind = kUnalloc
		default:
			if err := checkHost(); err != nil {
				return p, err
			}
			p.kind, p.host = kData, host+in
		}
		return p, nil
	}
	sub := d.cluster / 32
	si := in / sub
	alloc, zero := bm>>si&1 != 0, bm>>(32+si)&1 != 0
	// the run of subclusters in the same state
	sj := si + 1
	for sj < 32 && (bm>>sj&1 != 0) == alloc && (bm>>(32+sj)&1 != 0) == zero {
		sj++
	}
	p.n = min(sj*sub-in, rest)
	switch {
	case alloc && zero:
		return p, d.errAt(eoff+8, field.String(), "subcluster %d is marked both allocated and zero", si)
	case zero:
		p.kind = kZero
	case alloc:
		if host == 0 {
			return p, d.errAt(eoff, field.String(), "subcluster %d is allocated but the cluster has no offset", si)
		}
		if err := checkHost(); err != nil {
			return p, err
		}
		p.kind, p.host = kData, host+in
	default:
		p.kind = kUnalloc
	}
	return p, nil
}

// Extent reports whether the n bytes from off are allocated (may hold
// data) or unallocated (read as zeros: unallocated or zero clusters,
// where the backing file, if any, is unallocated too). A run stops at the
// end of the range one L2 table maps.
func (d *Disk) Extent(off int64) (allocated bool, n int64, err error) {
	if off < 0 || off >= d.size {
		return false, 0, fmt.Errorf("%s: qcow2 extent at %d is outside the virtual disk (%d bytes)", d.name, off, d.size)
	}
	return d.extent(off, d.size-off)
}

// extent is Extent with the run cut at limit bytes.
func (d *Disk) extent(off, limit int64) (allocated bool, n int64, err error) {
	span := d.l2Entries << d.clusterBits // bytes one L2 table maps
	limit = min(limit, (off/span+1)*span-off, d.size-off)
	for n < limit {
		a, m, err := d.class(off+n, limit-n)
		if err != nil {
			if n > 0 {
				return allocated, n, nil
			}
			return false, 0, err
		}
		if n > 0 && a != allocated {
			break
		}
		allocated = a
		n += m
	}
	return allocated, min(n, limit), nil
}

// class reports the allocation of the run at off, at most limit bytes.
func (d *Disk) class(off, limit int64) (bool, int64, error) {
	p, err := d.lookup(off)
	if err != nil {
		return false, 0, err
	}
	n := min(p.n, limit)
	switch p.kind {
	case kData, kCompressed:
		return true, n, nil
	case kZero:
		return false, n, nil
	}
	if d.backing == nil || off >= d.backing.Size() {
		return false, n, nil
	}
	a, m, err := d.backing.extent(off, min(n, d.backing.Size()-off))
	if err != nil {
		return false, 0, err
	}
	return a, min(m, n), nil
}

// ReadAt reads the virtual disk. Unreadable bytes are an error naming the
// file and offset, never zeros.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: qcow2 read at negative offset %d", d.name, off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > d.size-off {
		n = int(d.size - off)
	}
	if err := d.read(p[:n], off); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readZ is ReadAt for a layer above: bytes past Size read as zeros.
func (d *Disk) readZ(p []byte, off int64) error {
	if off >= d.size {
		clear(p)
		return nil
	}
	n := min(int64(len(p)), d.size-off)
	clear(p[n:])
	return d.read(p[:n], off)
}

type job struct {
	p   []byte
	pc  piece
	off int64
}

func (d *Disk) read(p []byte, off int64) error {
	var jobs []job
	// pending run of data pieces contiguous in the file
	var runBuf []byte
	var runHost int64
	flush := func() error {
		if len(runBuf) == 0 {
			return nil
		}
		err := d.readFile(runBuf, runHost)
		runBuf = nil
		return err
	}
	for pos := int64(0); pos < int64(len(p)); {
		pc, err := d.lookup(off + pos)
		if err != nil {
			return err
		}
		m := min(pc.n, int64(len(p))-pos)
		b := p[pos : pos+m]
		if pc.kind == kData && len(runBuf) > 0 && runHost+int64(len(runBuf)) == pc.host {
			runBuf = p[pos-int64(len(runBuf)) : pos+m]
			pos += m
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		switch pc.kind {
		case kData:
			runBuf, runHost = b, pc.host
		case kZero:
			clear(b)
		case kUnalloc:
			if d.backing != nil {
				if err := d.backing.readZ(b, off+pos); err != nil {
					return err
				}
			} else {
				clear(b)
			}
		case kCompressed:
			jobs = append(jobs, job{p: b, pc: pc, off: off + pos})
		}
		pos += m
	}
	if err := flush(); err != nil {
		return err
	}
	if len(jobs) == 0 {
		return nil
	}
	// Decompress the compressed clusters of this read in parallel.
	ahead := d.readAhead(off, int64(len(p)))
	return readahead.Each(len(jobs), func(i int) error { return d.compressed(jobs[i].p, jobs[i].pc, ahead) })
}

var cbufPool sync.Pool // *[]byte compressed input buffers

// compressed fills p with the bytes of the compressed cluster pc from
// pc.coff, taking it from ahead when it was decompressed ahead.
func (d *Disk) compressed(p []byte, pc piece, ahead batch) error {
	if ok, err := ahead.Take(pc.host, p, pc.coff); ok {
		return err
	}
	if pc.coff == 0 && int64(len(p)) == d.cluster {
		return d.decode(p, pc)
	}
	d.mu.Lock()
	c, ok := d.clusters.get(pc.host)
	d.mu.Unlock()
	if ok {
		copy(p, c[pc.coff:])
		return nil
	}
	out := make([]byte, d.cluster)
	if err := d.decode(out, pc); err != nil {
		return err
	}
	copy(p, out[pc.coff:])
	d.mu.Lock()
	d.clusters.put(pc.host, out)
	d.mu.Unlock()
	return nil
}

// decode decompresses the whole cluster pc into out (cluster bytes).
func (d *Disk) decode(out []byte, pc piece) error {
	bp, _ := cbufPool.Get().(*[]byte)
	if bp == nil || int64(cap(*bp)) < pc.clen {
		b := make([]byte, max(pc.clen, 128<<10))
		bp = &b
	}
	defer cbufPool.Put(bp)
	in := (*bp)[:pc.clen]
	if err := d.readFile(in, pc.host); err != nil {
		return err
	}
	if err := d.decompress(out, in); err != nil {
		alg := "deflate"
		if d.zstd {
			alg = "zstd"
		}
		return d.errAt(pc.host, "compressed cluster", "%s data (L2 entry at %#x) does not decompress to a %d-byte cluster: %v", alg, pc.eoff, d.cluster, err)
	}
	return nil
}

func (d *Disk) decompress(out, in []byte) error {
	if d.zstd {
		return unzstd(out, in)
	}
	return inflate(out, in)
}

// rawLayer is a raw backing file.
type rawLayer struct {
	r    io.ReaderAt
	size int64
	name string
}

func (l *rawLayer) Size() int64 { return l.size }

func (l *rawLayer) extent(off, limit int64) (bool, int64, error) {
	return true, min(limit, l.size-off), nil
}

func (l *rawLayer) readZ(p []byte, off int64) error {
	if off >= l.size {
		clear(p)
		return nil
	}
	n := min(int64(len(p)), l.size-off)
	clear(p[n:])
	k, err := l.r.ReadAt(p[:n], off)
	if int64(k) == n {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s: reading raw backing file, %d bytes at byte %#x: %w", l.name, n, off, err)
}
