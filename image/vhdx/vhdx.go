// Package vhdx reads Microsoft VHDX (Hyper-V virtual hard disk v2) images:
// fixed, dynamic and differencing.
//
// The on-disk facts follow Microsoft's Open Specification MS-VHDX; every
// integer is little-endian and every checksum CRC-32C. The reader never
// writes. It does not replay the metadata log: a file whose current header
// names a log (log GUID not zero) is read as its BAT says, and the log is
// reported by Warnings with the entries found in it.
package vhdx

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
)

// OpenFunc opens another file a container refers to: here the parent of a
// differencing disk. name is as the referring file spells it, with each
// backslash turned into a slash; the caller resolves a relative name
// against the referring file's directory and opens it read-only. A missing
// file is an error wrapping fs.ErrNotExist.
type OpenFunc func(name string) (r io.ReaderAt, size int64, err error)

// FormatError reports damage in a VHDX file: which file, where, which field.
type FormatError struct {
	File  string // the file's name as given to Open / OpenFunc
	Off   int64  // byte offset in that file
	Field string // the structure and field, e.g. "BAT entry 3"
	Msg   string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: VHDX %s at byte %#x: %s", e.File, e.Field, e.Off, e.Msg)
}

// UnsupportedError reports a VHDX that is recognised but cannot be read as
// given, such as a differencing disk whose parent is missing or a required
// region this reader does not know. It says what to do. Err, when set, is
// the cause (a missing parent wraps fs.ErrNotExist).
type UnsupportedError struct {
	File string
	Msg  string
	Err  error
}

func (e *UnsupportedError) Error() string {
	s := e.File + ": VHDX not supported: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *UnsupportedError) Unwrap() error { return e.Err }

const (
	kib = 1 << 10
	mib = 1 << 20

	headerOff1  = 64 * kib
	headerOff2  = 128 * kib
	headerSize  = 4 * kib
	regionOff1  = 192 * kib
	regionOff2  = 256 * kib
	regionSize  = 64 * kib
	maxEntries  = 2047
	maxItemSize = 1 * mib
	maxDiskSize = 64 << 40
	maxChain    = 16
	// maxBitmapBytes bounds the cached sector bitmaps of a differencing disk.
	maxBitmapBytes = 4 * mib
	// batPage entries make one BAT page of the lazy BAT cache, which holds
	// at most maxBATPages pages (8 MiB); a BAT up to batEagerMax is read whole.
	batPage     = 8192
	maxBATPages = 128
	// maxLogScan bounds the bytes of log read to report a dirty log.
	maxLogScan = 64 * mib
)

// Payload and sector bitmap BAT entry states (MS-VHDX 2.5.1).
const (
	stateNotPresent = 0
	stateUndefined  = 1
	stateZero       = 2
	stateUnmapped   = 3
	stateFull       = 6
	statePartial    = 7
	sbPresent       = 6
)

// GUID is a GUID as stored: the first three fields little-endian.
type GUID [16]byte

func (g GUID) String() string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(g[0:]), le.Uint16(g[4:]), le.Uint16(g[6:]), g[8:10], g[10:16])
}

// parseGUID parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (braces allowed).
func parseGUID(s string) (GUID, bool) {
	var g GUID
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	p := strings.Split(s, "-")
	if len(p) != 5 || len(p[0]) != 8 || len(p[1]) != 4 || len(p[2]) != 4 || len(p[3]) != 4 || len(p[4]) != 12 {
		return g, false
	}
	b, err := hex.DecodeString(strings.Join(p, ""))
	if err != nil {
		return g, false
	}
	copy(g[:], b)
	// The first three fields are stored little-endian.
	slices.Reverse(g[0:4])
	slices.Reverse(g[4:6])
	slices.Reverse(g[6:8])
	return g, true
}

func mustGUID(s string) GUID {
	g, ok := parseGUID(s)
	if !ok {
		panic("bad GUID " + s)
	}
	return g
}

var (
	guidBAT        = mustGUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
	guidMetadata   = mustGUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
	guidFileParams = mustGUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	guidDiskSize   = mustGUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	guidLogical    = mustGUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	guidPhysical   = mustGUID("CDA348C7-445D-4471-9CC9-E9885251C556")
	guidDiskID     = mustGUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
	guidParentLoc  = mustGUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
	guidVHDXParent = mustGUID("B04AEFB7-D19E-4A81-B789-25B8E9445913")
)

// batEagerMax is the largest BAT read whole at Open (a variable for tests).
var batEagerMax int64 = 16 * mib

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcOK reports whether the CRC-32C of b, with the 4 bytes at 4 taken as
// zero, equals the value stored there.
func crcOK(b []byte) (stored, computed uint32) {
	stored = binary.LittleEndian.Uint32(b[4:])
	c := crc32.Update(0, castagnoli, b[:4])
	c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
	c = crc32.Update(c, castagnoli, b[8:])
	return stored, c
}

// Header is the decoded current VHDX header.
type Header struct {
	Offset         int64 // 64 KiB or 128 KiB
	Sequence       uint64
	FileWriteGUID  GUID
	DataWriteGUID  GUID
	LogGUID        GUID // zero: no log to replay
	LogVersion     uint16
	Version        uint16
	LogLength      uint32
	LogOffset      uint64
	OtherHeaderBad bool
}

// Detect reports whether head (the first bytes of a file) looks like a VHDX:
// the file type identifier "vhdxfile" at byte 0.
func Detect(head, tail []byte) bool {
	return len(head) >= 8 && string(head[:8]) == "vhdxfile"
}

// Disk is the virtual disk of a VHDX file. Its methods may be called from
// several goroutines at once.
type Disk struct {
	r        io.ReaderAt
	fileSize int64
	name     string

	header     Header
	creator    string
	blockSize  int64
	lss        int64 // logical sector size
	pss        int64
	size       int64
	sizeOff    int64 // file offsets of the virtual disk size and logical
	lssOff     int64 // sector size items, for messages
	fixed      bool  // LeaveBlockAllocated
	hasParent  bool
	diskID     GUID
	chunkRatio int64
	batOff     int64
	batN       int64              // BAT entries used
	bat        []uint64           // the whole BAT when small, else nil
	batPages   map[int64][]uint64 // else a bounded cache of BAT pages
	parent     *Disk
	parentName string

	mu      sync.Mutex
	bitmaps map[int64][]byte // differencing: sector bitmap bytes by payload block

	warnings []string
}

// Open reads the VHDX held by r (size bytes, named name in messages) and
// returns its virtual disk. open opens the parent of a differencing disk;
// it may be nil otherwise.
func Open(r io.ReaderAt, size int64, name string, open OpenFunc) (*Disk, error) {
	return openChain(r, size, name, open, nil)
}

func openChain(r io.ReaderAt, size int64, name string, open OpenFunc, seen []GUID) (*Disk, error) {
	d := &Disk{r: r, fileSize: size, name: name}
	id := make([]byte, 8+512)
	if err := d.readAt(id, 0, "file type identifier"); err != nil {
		return nil, err
	}
	if string(id[:8]) != "vhdxfile" {
		return nil, d.errf(0, "file type identifier", "%q is not \"vhdxfile\": not a VHDX", id[:8])
	}
	d.creator = utf16String(id[8:])
	if err := d.readHeaders(); err != nil {
		return nil, err
	}
	if slices.Contains(seen, d.header.DataWriteGUID) {
		return nil, d.errf(d.header.Offset+32, "header data write GUID", "parent chain loop: %s was already opened as a child in this chain", d.header.DataWriteGUID)
	}
	if len(seen) >= maxChain {
		return nil, d.errf(d.header.Offset, "header", "parent chain longer than %d disks", maxChain)
	}
	if err := d.checkLog(); err != nil {
		return nil, err
	}
	batRegion, metaRegion, err := d.readRegions()
	if err != nil {
		return nil, err
	}
	locator, locOff, err := d.readMetadata(metaRegion)
	if err != nil {
		return nil, err
	}
	if err := d.readBAT(batRegion, metaRegion); err != nil {
		return nil, err
	}
	if d.hasParent {
		d.bitmaps = make(map[int64][]byte)
		if err := d.openParent(locator, locOff, open, append(seen, d.header.DataWriteGUID)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Disk) errf(off int64, field, format string, a ...any) *FormatError {
	return &FormatError{File: d.name, Off: off, Field: field, Msg: fmt.Sprintf(format, a...)}
}

func (d *Disk) warn(s string) { d.warnings = append(d.warnings, s) }

// readAt reads len(p) bytes at off of the VHDX file; a short read is a
// FormatError naming field.
func (d *Disk) readAt(p []byte, off int64, field string) error {
	if off < 0 || off > d.fileSize || int64(len(p)) > d.fileSize-off {
		return d.errf(off, field, "%d bytes past the end of the %d-byte file (truncated?)", len(p), d.fileSize)
	}
	n, err := d.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s: VHDX %s: reading %d bytes at byte %#x: %w", d.name, field, len(p), off, err)
}

// readHeaders picks the valid header with the higher sequence number.
func (d *Disk) readHeaders() error {
	var hs []Header
	var bad []string
	for _, off := range []int64{headerOff1, headerOff2} {
		b := make([]byte, headerSize)
		if err := d.readAt(b, off, "header"); err != nil {
			return err
		}
		if string(b[:4]) != "head" {
			bad = append(bad, fmt.Sprintf("header at %#x: signature %q is not \"head\"", off, b[:4]))
			continue
		}
		if stored, sum := crcOK(b); stored != sum {
			bad = append(bad, fmt.Sprintf("header at %#x: checksum stored %#08x, computed %#08x", off, stored, sum))
			continue
		}
		le := binary.LittleEndian
		h := Header{Offset: off, Sequence: le.Uint64(b[8:])}
		copy(h.FileWriteGUID[:], b[16:32])
		copy(h.DataWriteGUID[:], b[32:48])
		copy(h.LogGUID[:], b[48:64])
		h.LogVersion = le.Uint16(b[64:])
		h.Version = le.Uint16(b[66:])
		h.LogLength = le.Uint32(b[68:])
		h.LogOffset = le.Uint64(b[72:])
		hs = append(hs, h)
	}
	switch len(hs) {
	case 0:
		return d.errf(headerOff1, "header", "neither header is valid: %s", strings.Join(bad, "; "))
	case 1:
		d.warn(fmt.Sprintf("only one VHDX header is valid (%s); the header at %#x is used", bad[0], hs[0].Offset))
		hs[0].OtherHeaderBad = true
	}
	h := hs[0]
	if len(hs) == 2 && hs[1].Sequence > h.Sequence {
		h = hs[1]
	}
	if h.Version != 1 {
		return d.errf(h.Offset+66, "header version", "%d is not 1", h.Version)
	}
	d.header = h
	return nil
}

// checkLog reports a log the current header says may need replay. The log
// is scanned (bounded) for valid entries so the warning says what is there.
func (d *Disk) checkLog() error {
	h := d.header
	if h.LogGUID == (GUID{}) {
		return nil
	}
	if h.LogOffset%mib != 0 || h.LogOffset < mib || h.LogLength%mib != 0 || h.LogLength == 0 ||
		h.LogOffset > uint64(d.fileSize) || int64(h.LogLength) > d.fileSize-int64(h.LogOffset) {
		return d.errf(h.Offset+68, "header log length/offset", "log of %d bytes at %#x is not a 1 MiB-aligned area inside the %d-byte file", h.LogLength, h.LogOffset, d.fileSize)
	}
	n, maxSeq, firstOff := 0, uint64(0), int64(-1)
	buf := make([]byte, headerSize)
	scan := min(int64(h.LogLength), maxLogScan)
	budget, stopped := 2*scan, false
	for off := int64(0); off < scan; {
		at := int64(h.LogOffset) + off
		if err := d.readAt(buf, at, "log entry"); err != nil {
			return err
		}
		le := binary.LittleEndian
		length := int64(le.Uint32(buf[8:]))
		var guid GUID
		copy(guid[:], buf[32:48])
		if string(buf[:4]) != "loge" || guid != h.LogGUID || length < headerSize || length%headerSize != 0 || length > scan-off {
			off += headerSize
			continue
		}
		// Bound the work: a hostile log can make every sector claim a long
		// entry with a bad checksum.
		if budget -= length; budget < 0 {
			stopped = true
			break
		}
		entry := make([]byte, length)
		if err := d.readAt(entry, at, "log entry"); err != nil {
			return err
		}
		if stored, sum := crcOK(entry); stored != sum {
			off += headerSize
			continue
		}
		n++
		if firstOff < 0 {
			firstOff = at
		}
		maxSeq = max(maxSeq, le.Uint64(buf[16:]))
		off += length
	}
	if stopped || scan < int64(h.LogLength) {
		d.warn(fmt.Sprintf("VHDX log scan stopped early (log of %d bytes at %#x): the count of log entries below may be short", h.LogLength, h.LogOffset))
	}
	if n == 0 {
		d.warn(fmt.Sprintf("VHDX log is not empty: the current header (at %#x) names log %s, but no valid log entry with that GUID was found in the %d-byte log at %#x; the data are read as the BAT says", h.Offset, h.LogGUID, h.LogLength, h.LogOffset))
		return nil
	}
	d.warn(fmt.Sprintf("VHDX log is not empty: the current header (at %#x) names log %s, with %d valid log entries (first at %#x, highest sequence number %d) that were NOT replayed; the data are read as the BAT says, which may be older than what the writer last wrote (Hyper-V or qemu-img check -r all on a copy replays the log)", h.Offset, h.LogGUID, n, firstOff, maxSeq))
	return nil
}

type region struct {
	off, length int64
	tableOff    int64 // file offset of the region table entry
}

// readRegions reads the region table (the first valid copy).
func (d *Disk) readRegions() (bat, meta region, err error) {
	var bad []string
	for _, off := range []int64{regionOff1, regionOff2} {
		b := make([]byte, regionSize)
		if err := d.readAt(b, off, "region table"); err != nil {
			return bat, meta, err
		}
		if string(b[:4]) != "regi" {
			bad = append(bad, fmt.Sprintf("region table at %#x: signature %q is not \"regi\"", off, b[:4]))
			continue
		}
		if stored, sum := crcOK(b); stored != sum {
			bad = append(bad, fmt.Sprintf("region table at %#x: checksum stored %#08x, computed %#08x", off, stored, sum))
			continue
		}
		if len(bad) > 0 {
			d.warn(bad[0] + "; the copy at " + fmt.Sprintf("%#x", off) + " is used")
		}
		le := binary.LittleEndian
		n := le.Uint32(b[8:])
		if n > maxEntries {
			return bat, meta, d.errf(off+8, "region table entry count", "%d is more than %d", n, maxEntries)
		}
		for i := range int64(n) {
			e := b[16+32*i:]
			var g GUID
			copy(g[:], e[:16])
			r := region{off: int64(le.Uint64(e[16:])), length: int64(le.Uint32(e[24:])), tableOff: off + 16 + 32*i}
			field := fmt.Sprintf("region table entry %d", i)
			switch g {
			case guidBAT, guidMetadata:
				if r.off < mib || r.off%mib != 0 || r.length == 0 || r.length%mib != 0 || r.off > d.fileSize || r.length > d.fileSize-r.off {
					return bat, meta, d.errf(r.tableOff+16, field, "region of %d bytes at %#x is not a 1 MiB-aligned area inside the %d-byte file", r.length, r.off, d.fileSize)
				}
				if g == guidBAT {
					bat = r
				} else {
					meta = r
				}
			default:
				if le.Uint32(e[28:])&1 != 0 {
					return bat, meta, &UnsupportedError{File: d.name, Msg: fmt.Sprintf("region %s (%s) is marked required and is not known to this reader; convert the image with qemu-img convert -O raw or Hyper-V", g, field)}
				}
			}
		}
		if bat.length == 0 || meta.length == 0 {
			return bat, meta, d.errf(off, "region table", "no BAT or no metadata region")
		}
		if overlaps(bat.off, bat.length, meta.off, meta.length) {
			return bat, meta, d.errf(bat.tableOff+16, "region table BAT", "the BAT region overlaps the metadata region")
		}
		return bat, meta, nil
	}
	return bat, meta, d.errf(regionOff1, "region table", "neither copy is valid: %s", strings.Join(bad, "; "))
}

func overlaps(a, an, b, bn int64) bool { return a < b+bn && b < a+an }

// readMetadata reads the metadata table and its known items; it returns the
// parent locator item of a differencing disk and its file offset.
func (d *Disk) readMetadata(meta region) (loc []byte, locOff int64, err error) {
	tbl := make([]byte, 64*kib)
	if err := d.readAt(tbl, meta.off, "metadata table"); err != nil {
		return nil, 0, err
	}
	if string(tbl[:8]) != "metadata" {
		return nil, 0, d.errf(meta.off, "metadata table signature", "%q is not \"metadata\"", tbl[:8])
	}
	le := binary.LittleEndian
	n := int64(le.Uint16(tbl[10:]))
	if n > maxEntries {
		return nil, 0, d.errf(meta.off+10, "metadata table entry count", "%d is more than %d", n, maxEntries)
	}
	items := map[GUID][]byte{}
	itemOff := map[GUID]int64{}
	for i := range n {
		e := tbl[32+32*i:]
		eoff := meta.off + 32 + 32*i
		var g GUID
		copy(g[:], e[:16])
		off, length, flags := int64(le.Uint32(e[16:])), int64(le.Uint32(e[20:])), le.Uint32(e[24:])
		field := fmt.Sprintf("metadata table entry %d", i)
		switch g {
		case guidFileParams, guidDiskSize, guidLogical, guidPhysical, guidDiskID, guidParentLoc:
		default:
			if flags&4 != 0 {
				return nil, 0, &UnsupportedError{File: d.name, Msg: fmt.Sprintf("metadata item %s (%s) is marked required and is not known to this reader; convert the image with qemu-img convert -O raw or Hyper-V", g, field)}
			}
			continue
		}
		if _, dup := items[g]; dup {
			return nil, 0, d.errf(eoff, field, "metadata item %s appears twice", g)
		}
		if length == 0 || length > maxItemSize || off < 64*kib || off > meta.length || length > meta.length-off {
			return nil, 0, d.errf(eoff+16, field, "item of %d bytes at %#x is not inside the %d-byte metadata region", length, off, meta.length)
		}
		b := make([]byte, length)
		if err := d.readAt(b, meta.off+off, field); err != nil {
			return nil, 0, err
		}
		items[g], itemOff[g] = b, meta.off+off
	}
	need := func(g GUID, name string, size int) ([]byte, error) {
		b, ok := items[g]
		if !ok {
			return nil, d.errf(meta.off, "metadata table", "no %s item", name)
		}
		if len(b) < size {
			return nil, d.errf(itemOff[g], "metadata "+name, "%d bytes, want %d", len(b), size)
		}
		return b, nil
	}
	fp, err := need(guidFileParams, "file parameters", 8)
	if err != nil {
		return nil, 0, err
	}
	bs := int64(le.Uint32(fp))
	if bs < mib || bs > 256*mib || bs&(bs-1) != 0 {
		return nil, 0, d.errf(itemOff[guidFileParams], "metadata file parameters block size", "%d is not a power of two from 1 MiB to 256 MiB", bs)
	}
	d.blockSize = bs
	flags := le.Uint32(fp[4:])
	d.fixed = flags&1 != 0
	d.hasParent = flags&2 != 0
	ls, err := need(guidLogical, "logical sector size", 4)
	if err != nil {
		return nil, 0, err
	}
	d.lss = int64(le.Uint32(ls))
	if d.lss != 512 && d.lss != 4096 {
		return nil, 0, d.errf(itemOff[guidLogical], "metadata logical sector size", "%d is not 512 or 4096", d.lss)
	}
	if ps, ok := items[guidPhysical]; ok && len(ps) >= 4 {
		d.pss = int64(le.Uint32(ps))
	}
	if id, ok := items[guidDiskID]; ok && len(id) >= 16 {
		copy(d.diskID[:], id)
	}
	sz, err := need(guidDiskSize, "virtual disk size", 8)
	if err != nil {
		return nil, 0, err
	}
	size := le.Uint64(sz)
	if size == 0 || size > maxDiskSize || size%uint64(d.lss) != 0 {
		return nil, 0, d.errf(itemOff[guidDiskSize], "metadata virtual disk size", "%d bytes is not a multiple of the %d-byte sector from 1 sector to 64 TiB", size, d.lss)
	}
	d.size, d.sizeOff, d.lssOff = int64(size), itemOff[guidDiskSize], itemOff[guidLogical]
	d.chunkRatio = (1 << 23) * d.lss / d.blockSize
	if d.hasParent {
		loc, err := need(guidParentLoc, "parent locator", 20)
		return loc, itemOff[guidParentLoc], err
	}
	return nil, 0, nil
}

// readBAT reads and checks the BAT: its size follows from the disk size
// and is bounded by the BAT region, which lies inside the file.
func (d *Disk) readBAT(bat, meta region) error {
	blocks := (d.size + d.blockSize - 1) / d.blockSize
	var n int64
	if d.hasParent {
		n = (blocks + d.chunkRatio - 1) / d.chunkRatio * (d.chunkRatio + 1)
	} else {
		n = blocks + (blocks-1)/d.chunkRatio
	}
	if n*8 > bat.length {
		return d.errf(bat.tableOff+24, "region table BAT length", "%d bytes, but %d blocks of %d bytes need %d BAT entries (%d bytes)", bat.length, blocks, d.blockSize, n, n*8)
	}
	d.batOff, d.batN = bat.off, n
	if n*8 <= batEagerMax {
		raw := make([]byte, n*8)
		if err := d.readAt(raw, bat.off, "BAT"); err != nil {
			return err
		}
		d.bat = make([]uint64, n)
		for i := range d.bat {
			d.bat[i] = binary.LittleEndian.Uint64(raw[8*i:])
		}
	} else {
		d.batPages = make(map[int64][]uint64)
	}
	// Every present block must lie inside the file, outside the metadata,
	// and belong to one entry only. Blocks that fit in the file without
	// overlapping number at most fileSize / 1 MiB (+1 for a short last one).
	type use struct{ off, length, i int64 }
	var used []use
	logOff, logLen := int64(d.header.LogOffset), int64(d.header.LogLength)
	for i := range n {
		e, err := d.entry(i)
		if err != nil {
			return err
		}
		state := e & 7
		off := int64(e>>20) * mib
		field := fmt.Sprintf("BAT entry %d", i)
		eoff := d.batOff + int64(i)*8
		sb := int64(i)%(d.chunkRatio+1) == d.chunkRatio
		var length int64
		if sb {
			switch {
			case state == stateNotPresent:
				continue
			case state == sbPresent && d.hasParent:
				length = mib
			case state == sbPresent:
				continue // not valid outside differencing disks; never read
			default:
				return d.errf(eoff, field, "sector bitmap state %d is not 0 or 6", state)
			}
		} else {
			switch state {
			case stateNotPresent, stateUndefined, stateZero, stateUnmapped:
				continue
			case stateFull:
			case statePartial:
				if !d.hasParent {
					return d.errf(eoff, field, "state 7 (partially present) in a disk without parent")
				}
				sbe, err := d.entry(d.sbIndex(d.payloadOf(i)))
				if err != nil {
					return err
				}
				if sbe&7 != sbPresent {
					return d.errf(eoff, field, "partially present block, but its sector bitmap block is not present")
				}
			default:
				return d.errf(eoff, field, "payload state %d is not 0, 1, 2, 3, 6 or 7", state)
			}
			p := d.payloadOf(int64(i))
			length = min(d.blockSize, d.size-p*d.blockSize)
		}
		if off < mib || off > d.fileSize || length > d.fileSize-off {
			return d.errf(eoff, field, "block of %d bytes at %#x is not inside the %d-byte file (truncated or damaged)", length, off, d.fileSize)
		}
		if overlaps(off, length, bat.off, bat.length) || overlaps(off, length, meta.off, meta.length) || (logLen > 0 && overlaps(off, length, logOff, logLen)) {
			return d.errf(eoff, field, "block at %#x overlaps the BAT, metadata or log", off)
		}
		if int64(len(used)) > d.fileSize/mib+1 {
			return d.errf(eoff, field, "more allocated blocks than the %d-byte file can hold", d.fileSize)
		}
		used = append(used, use{off, length, i})
	}
	slices.SortFunc(used, func(a, b use) int { return cmp.Or(cmp.Compare(a.off, b.off), cmp.Compare(a.i, b.i)) })
	for k := 1; k < len(used); k++ {
		a, b := used[k-1], used[k]
		if a.off+a.length > b.off {
			return d.errf(d.batOff+b.i*8, fmt.Sprintf("BAT entry %d", b.i), "block at %#x overlaps the block of BAT entry %d at %#x", b.off, a.i, a.off)
		}
	}
	return nil
}

// entry returns BAT entry i (i < batN): from the whole BAT when it is small,
// else from a bounded cache of 64 KiB pages.
func (d *Disk) entry(i int64) (uint64, error) {
	if d.bat != nil {
		return d.bat[i], nil
	}
	pg := i / batPage
	d.mu.Lock()
	p, ok := d.batPages[pg]
	d.mu.Unlock()
	if !ok {
		n := min(batPage, d.batN-pg*batPage)
		raw := make([]byte, n*8)
		if err := d.readAt(raw, d.batOff+pg*batPage*8, "BAT"); err != nil {
			return 0, err
		}
		p = make([]uint64, n)
		for k := range p {
			p[k] = binary.LittleEndian.Uint64(raw[8*k:])
		}
		d.mu.Lock()
		if len(d.batPages) >= maxBATPages {
			clear(d.batPages)
		}
		d.batPages[pg] = p
		d.mu.Unlock()
	}
	return p[i%batPage], nil
}

// payloadOf returns the payload block number of BAT index i (not a sector
// bitmap entry); batIndex is its inverse.
func (d *Disk) payloadOf(i int64) int64 { return i - i/(d.chunkRatio+1) }
func (d *Disk) batIndex(p int64) int64  { return p + p/d.chunkRatio }
func (d *Disk) sbIndex(p int64) int64   { return p/d.chunkRatio*(d.chunkRatio+1) + d.chunkRatio }

// openParent opens the parent named by the parent locator item.
func (d *Disk) openParent(loc []byte, locOff int64, open OpenFunc, seen []GUID) error {
	le := binary.LittleEndian
	var typ GUID
	copy(typ[:], loc[:16])
	if typ != guidVHDXParent {
		return &UnsupportedError{File: d.name, Msg: fmt.Sprintf("parent locator type %s is not the VHDX parent locator; convert the chain with Hyper-V", typ)}
	}
	n := int(le.Uint16(loc[18:]))
	if 20+12*n > len(loc) {
		return d.errf(locOff, "metadata parent locator", "%d key/value entries do not fit in %d bytes", n, len(loc))
	}
	kv := map[string]string{}
	for i := range n {
		e := loc[20+12*i:]
		ko, vo := int(le.Uint32(e[0:])), int(le.Uint32(e[4:]))
		kl, vl := int(le.Uint16(e[8:])), int(le.Uint16(e[10:]))
		if ko > len(loc) || kl > len(loc)-ko || vo > len(loc) || vl > len(loc)-vo {
			return d.errf(locOff+20+12*int64(i), fmt.Sprintf("metadata parent locator entry %d", i), "key or value outside the %d-byte item", len(loc))
		}
		kv[utf16String(loc[ko:ko+kl])] = utf16String(loc[vo : vo+vl])
	}
	link, ok := parseGUID(kv["parent_linkage"])
	if !ok {
		return d.errf(locOff, "metadata parent locator parent_linkage", "%q is not a GUID", kv["parent_linkage"])
	}
	link2, _ := parseGUID(kv["parent_linkage2"])
	var names []string
	for _, k := range []string{"relative_path", "absolute_win32_path"} {
		if v := strings.ReplaceAll(kv[k], `\`, "/"); v != "" {
			names = append(names, v)
		}
	}
	for _, n := range slices.Clone(names) {
		if b := path.Base(n); !slices.Contains(names, b) && !slices.Contains(names, "./"+b) {
			names = append(names, b)
		}
	}
	if len(names) == 0 {
		return d.errf(locOff, "metadata parent locator", "a differencing disk names no parent path (linkage %s)", link)
	}
	if open == nil {
		return &UnsupportedError{File: d.name, Msg: fmt.Sprintf("differencing disk whose parent %q cannot be opened here (no way to open other files); convert the chain with qemu-img convert -O raw or merge it in Hyper-V", names[0])}
	}
	var tried []string
	for _, n := range names {
		pr, psize, err := open(n)
		if errors.Is(err, fs.ErrNotExist) {
			tried = append(tried, n)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: VHDX parent %q: %w", d.name, n, err)
		}
		p, err := openChain(pr, psize, n, open, seen)
		if err != nil {
			return err
		}
		if p.header.DataWriteGUID != link && (link2 == (GUID{}) || p.header.DataWriteGUID != link2) {
			return d.errf(locOff, "metadata parent locator parent_linkage", "the parent %s has data write GUID %s, the child expects %s: wrong or modified parent", n, p.header.DataWriteGUID, link)
		}
		if p.size != d.size {
			return d.errf(d.sizeOff, "metadata virtual disk size", "%d bytes, but the parent %s has %d bytes", d.size, n, p.size)
		}
		if p.lss != d.lss {
			return d.errf(d.lssOff, "metadata logical sector size", "%d bytes, but the parent %s has %d", d.lss, n, p.lss)
		}
		d.parent, d.parentName = p, n
		for _, w := range p.warnings {
			d.warn("parent " + n + ": " + w)
		}
		return nil
	}
	return &UnsupportedError{File: d.name, Msg: fmt.Sprintf("differencing disk whose parent (data write GUID %s) is missing: tried %s; place the parent beside the child, or convert the chain with qemu-img convert -O raw where it is complete", link, strings.Join(tried, ", ")), Err: fs.ErrNotExist}
}

func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// Size returns the virtual disk size in bytes.
func (d *Disk) Size() int64 { return d.size }

// Header returns the current header.
func (d *Disk) Header() Header { return d.header }

// BlockSize returns the payload block size; SectorSize the logical sector size.
func (d *Disk) BlockSize() int64  { return d.blockSize }
func (d *Disk) SectorSize() int64 { return d.lss }

// Parent returns the parent disk of a differencing disk and the name it was
// opened by, or nil.
func (d *Disk) Parent() (*Disk, string) { return d.parent, d.parentName }

// Warnings returns findings that do not stop reading, such as a log that
// was not replayed or a damaged header copy.
func (d *Disk) Warnings() []string { return slices.Clone(d.warnings) }

// Format names the variant: "VHDX fixed", "VHDX dynamic" or "VHDX differencing".
func (d *Disk) Format() string {
	switch {
	case d.hasParent:
		return "VHDX differencing"
	case d.fixed:
		return "VHDX fixed"
	}
	return "VHDX dynamic"
}

// ReadAt reads len(p) bytes of the virtual disk at off.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: VHDX read at negative offset %d", d.name, off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p = p[:d.size-off]
		eof = io.EOF
	}
	n := 0
	for n < len(p) {
		m, err := d.readPiece(p[n:], off+int64(n))
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, eof
}

// where describes the run of bytes at off: in this file at fileOff, in the
// parent, or zeros, for n bytes (n bounded by the block and by limit).
type where int

const (
	inFile where = iota
	inParent
	zeros
)

func (d *Disk) locate(off, limit int64) (w where, fileOff, n int64, err error) {
	p := off / d.blockSize
	in := off % d.blockSize
	n = min(d.blockSize-in, limit)
	e, err := d.entry(d.batIndex(p))
	if err != nil {
		return 0, 0, 0, err
	}
	switch e & 7 {
	case stateFull:
		return inFile, int64(e>>20)*mib + in, n, nil
	case statePartial:
		bm, err := d.bitmap(p)
		if err != nil {
			return 0, 0, 0, err
		}
		s := in / d.lss
		mine := bitSet(bm, s)
		end := (s + 1) * d.lss
		for end < in+n && bitSet(bm, end/d.lss) == mine {
			end += d.lss
		}
		n = min(n, end-in)
		if mine {
			return inFile, int64(e>>20)*mib + in, n, nil
		}
		return inParent, 0, n, nil
	case stateNotPresent:
		if d.parent != nil {
			return inParent, 0, n, nil
		}
	}
	return zeros, 0, n, nil
}

func bitSet(bm []byte, sector int64) bool { return bm[sector/8]&(1<<(sector%8)) != 0 }

func (d *Disk) readPiece(p []byte, off int64) (int, error) {
	w, foff, n, err := d.locate(off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	p = p[:n]
	switch w {
	case inFile:
		return len(p), d.readAt(p, foff, fmt.Sprintf("payload block %d", off/d.blockSize))
	case inParent:
		m, err := d.parent.ReadAt(p, off)
		if err == io.EOF && m == len(p) {
			err = nil
		}
		return m, err
	}
	clear(p)
	return len(p), nil
}

// bitmap returns the sector bitmap bytes of payload block p (partially
// present) from a bounded cache.
func (d *Disk) bitmap(p int64) ([]byte, error) {
	d.mu.Lock()
	bm, ok := d.bitmaps[p]
	d.mu.Unlock()
	if ok {
		return bm, nil
	}
	size := d.blockSize / d.lss / 8
	sbe, err := d.entry(d.sbIndex(p))
	if err != nil {
		return nil, err
	}
	off := int64(sbe>>20)*mib + p%d.chunkRatio*size
	bm = make([]byte, size)
	if err := d.readAt(bm, off, fmt.Sprintf("sector bitmap of payload block %d", p)); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if int64(len(d.bitmaps)+1)*size > maxBitmapBytes {
		clear(d.bitmaps)
	}
	d.bitmaps[p] = bm
	d.mu.Unlock()
	return bm, nil
}

// Extent reports whether the bytes from off on are allocated (may hold
// data) or unallocated (read as zeros without reading any file), and for
// how many bytes that holds. Blocks not present, zero, undefined or
// unmapped are unallocated; in a differencing disk a block or sector that
// comes from the parent is unallocated only where the parent's is.
func (d *Disk) Extent(off int64) (allocated bool, n int64, err error) {
	if off < 0 || off >= d.size {
		return false, 0, fmt.Errorf("%s: VHDX extent at %d outside the %d-byte disk", d.name, off, d.size)
	}
	w, _, n, err := d.locate(off, d.size-off)
	if err != nil {
		return false, 0, err
	}
	switch w {
	case inFile:
		return true, n, nil
	case inParent:
		a, m, err := d.parent.Extent(off)
		return a, min(m, n), err
	}
	// Join the following blocks that read as zeros too (a bounded number).
	for k := 0; k < 4096 && off+n < d.size; k++ {
		w2, _, m, err := d.locate(off+n, d.size-off-n)
		if err != nil || w2 != zeros {
			break
		}
		n += m
	}
	return false, n, nil
}

// Files returns the names of the files this disk reads: its own name as
// given to Open, then each parent's as given to the OpenFunc, child first.
func (d *Disk) Files() []string {
	var names []string
	for names = []string{d.name}; d.parent != nil; d = d.parent {
		names = append(names, d.parentName)
	}
	return names
}
