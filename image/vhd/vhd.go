// Package vhd reads Microsoft Virtual Hard Disk (VHD, Virtual PC / Hyper-V
// generation 1) images: fixed, dynamic and differencing disks.
//
// The on-disk facts follow the Microsoft "Virtual Hard Disk Image Format
// Specification" v1.0; every integer is big-endian. The reader never writes.
//
// A fixed disk is the raw data followed by a 512-byte footer. A dynamic or
// differencing disk is a footer copy at byte 0, a 1024-byte dynamic header,
// a block allocation table (BAT) and blocks, each a sector bitmap followed by
// the block's data, and the footer at the end. The virtual size is the
// footer's current size.
package vhd

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
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

// FormatError reports damage in a VHD file: which file, where, which field.
type FormatError struct {
	File  string // the file's name as given to Open / OpenFunc
	Off   int64  // byte offset in that file
	Field string // the structure and field, e.g. "BAT entry 3"
	Msg   string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: VHD %s at byte %#x: %s", e.File, e.Field, e.Off, e.Msg)
}

// UnsupportedError reports a VHD that is recognised but cannot be read as
// given, such as a differencing disk whose parent is missing. It says what
// to do. Err, when set, is the cause (a missing parent wraps fs.ErrNotExist).
type UnsupportedError struct {
	File string
	Msg  string
	Err  error
}

func (e *UnsupportedError) Error() string {
	s := e.File + ": VHD not supported: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *UnsupportedError) Unwrap() error { return e.Err }

// Disk types in the footer.
const (
	typeFixed   = 2
	typeDynamic = 3
	typeDiff    = 4
)

const (
	footerSize = 512
	headerSize = 1024
	sectorSize = 512
	// maxChain bounds a chain of differencing disks (child, parent, ...).
	maxChain = 16
	// maxBlockSize bounds the block size; the specification's default is
	// 2 MiB and no known writer uses more than a few MiB.
	maxBlockSize = 256 << 20
	// maxLocator bounds a parent locator's path (bytes of UTF-16).
	maxLocator = 64 << 10
	// maxBAT bounds the BAT held in memory: 4 Mi entries, a 2 TiB disk in
	// 512 KiB blocks (the specification's limit is 2040 GiB).
	maxBAT = 16 << 20
	// maxUnusedWarnings bounds the warnings of checkUnused.
	maxUnusedWarnings = 8
	// maxBitmaps bounds the cached sector bitmaps of a differencing disk.
	maxBitmapBytes = 4 << 20
)

var (
	cookieFooter = []byte("conectix")
	cookieHeader = []byte("cxsparse")
)

// Footer is the decoded 512-byte VHD footer (hard disk footer).
type Footer struct {
	Features    uint32
	Version     uint32
	DataOffset  uint64 // dynamic header offset; all ones for a fixed disk
	Timestamp   uint32 // seconds since 2000-01-01 00:00:00 UTC
	CreatorApp  string // e.g. "vpc ", "win ", "qemu"
	CreatorVer  uint32
	CreatorOS   string
	OrigSize    uint64
	CurrentSize uint64 // the virtual disk size
	Cylinders   uint16
	Heads       uint8
	SectorsPT   uint8
	DiskType    uint32 // 2 fixed, 3 dynamic, 4 differencing
	Checksum    uint32
	UniqueID    [16]byte
	SavedState  uint8
}

// checksum is the one's complement of the byte sum of b, with the 4 bytes
// at off (the checksum field) taken as zero.
func checksum(b []byte, off int) uint32 {
	var s uint32
	for i, c := range b {
		if i >= off && i < off+4 {
			continue
		}
		s += uint32(c)
	}
	return ^s
}

func parseFooter(b []byte) (Footer, bool) {
	var f Footer
	if len(b) < footerSize || !bytes.Equal(b[:8], cookieFooter) {
		return f, false
	}
	be := binary.BigEndian
	f.Features = be.Uint32(b[8:])
	f.Version = be.Uint32(b[12:])
	f.DataOffset = be.Uint64(b[16:])
	f.Timestamp = be.Uint32(b[24:])
	f.CreatorApp = string(b[28:32])
	f.CreatorVer = be.Uint32(b[32:])
	f.CreatorOS = string(b[36:40])
	f.OrigSize = be.Uint64(b[40:])
	f.CurrentSize = be.Uint64(b[48:])
	f.Cylinders = be.Uint16(b[56:])
	f.Heads = b[58]
	f.SectorsPT = b[59]
	f.DiskType = be.Uint32(b[60:])
	f.Checksum = be.Uint32(b[64:])
	copy(f.UniqueID[:], b[68:84])
	f.SavedState = b[84]
	return f, true
}

// footerOK reports whether b (512 bytes) is a footer with a valid checksum.
func footerOK(b []byte) bool {
	f, ok := parseFooter(b)
	return ok && checksum(b[:footerSize], 64) == f.Checksum
}

// Detect reports whether head (the first bytes of a file) and tail (its
// last 512 bytes or fewer) look like a VHD: a footer with a valid checksum
// at the end (512 or, for Virtual PC before 2004, 511 bytes), or a footer
// copy at byte 0 (a dynamic disk, possibly truncated).
func Detect(head, tail []byte) bool {
	if len(tail) >= footerSize && footerOK(tail[len(tail)-footerSize:]) {
		return true
	}
	if len(tail) >= footerSize-1 {
		b := make([]byte, footerSize)
		copy(b, tail[len(tail)-(footerSize-1):])
		if footerOK(b) {
			return true
		}
	}
	if len(head) >= footerSize && footerOK(head[:footerSize]) {
		f, _ := parseFooter(head)
		return f.DiskType == typeDynamic || f.DiskType == typeDiff
	}
	return false
}

// Disk is the virtual disk of a VHD file. Its methods may be called from
// several goroutines at once.
type Disk struct {
	r        io.ReaderAt
	fileSize int64
	name     string
	footer   Footer
	rawFoot  []byte // the footer as read (511 or 512 bytes)
	footOff  int64  // its offset: dataEnd, or 0 when the copy is used
	size     int64  // virtual size
	dataEnd  int64  // fixed: end of the data area in the file

	// dynamic and differencing
	blockSize  int64
	bitmapSize int64 // bytes of sector bitmap before each block, a multiple of 512
	batOff     int64
	bat        []uint32
	parent     *Disk
	parentName string // as opened

	mu      sync.Mutex
	bitmaps map[uint32][]byte // sector bitmaps by block index

	unusedWarned map[uint32]bool // blocks warned about by checkUnused

	warnings []string
}

// Open reads the VHD held by r (size bytes, named name in messages) and
// returns its virtual disk. open opens the parent of a differencing disk;
// it may be nil for fixed and dynamic disks.
func Open(r io.ReaderAt, size int64, name string, open OpenFunc) (*Disk, error) {
	return openChain(r, size, name, open, nil)
}

// openChain opens one disk of a chain; seen holds the unique ids of the
// children already opened, to refuse a loop.
func openChain(r io.ReaderAt, size int64, name string, open OpenFunc, seen [][16]byte) (*Disk, error) {
	d := &Disk{r: r, fileSize: size, name: name}
	if err := d.readFooter(); err != nil {
		return nil, err
	}
	for _, id := range seen {
		if id == d.footer.UniqueID {
			return nil, d.errf(size-footerSize, "footer unique id", "parent chain loop: %s was already opened as a child in this chain", uuidString(id))
		}
	}
	if len(seen) >= maxChain {
		return nil, d.errf(size-footerSize, "footer", "parent chain longer than %d disks", maxChain)
	}
	switch d.footer.DiskType {
	case typeFixed:
		if d.footer.CurrentSize > uint64(d.dataEnd) {
			return nil, d.errf(d.footOff+48, "footer current size", "%d bytes but the file holds only %d bytes of data (truncated?)", d.footer.CurrentSize, d.dataEnd)
		}
		d.size = int64(d.footer.CurrentSize)
		if d.size < d.dataEnd {
			d.warn(fmt.Sprintf("fixed VHD holds %d bytes beyond its current size %d; they are not part of the disk", d.dataEnd-d.size, d.size))
		}
	case typeDynamic, typeDiff:
		if err := d.readHeader(open, append(seen, d.footer.UniqueID)); err != nil {
			return nil, err
		}
	default:
		return nil, d.errf(d.footOff+60, "footer disk type", "%d is not 2 (fixed), 3 (dynamic) or 4 (differencing)", d.footer.DiskType)
	}
	if d.footer.SavedState != 0 {
		d.warn("footer saved state is set: the virtual machine was saved (suspended) while using this disk, so its file systems may not have been cleanly written")
	}
	// Virtual PC and qemu ("vpc ", "qemu") size a disk by its geometry;
	// where that differs from the current size, which is used here, say so.
	if c := d.footer.CreatorApp; c == "vpc " || c == "qemu" {
		chs := int64(d.footer.Cylinders) * int64(d.footer.Heads) * int64(d.footer.SectorsPT) * sectorSize
		if chs != d.size && !(d.footer.Cylinders == 65535 && d.footer.Heads == 16 && d.footer.SectorsPT == 255) {
			d.warn(fmt.Sprintf("footer geometry %d/%d/%d gives %d bytes, the current size is %d bytes: the current size is used (Virtual PC and qemu-img use the geometry for creator %q)",
				d.footer.Cylinders, d.footer.Heads, d.footer.SectorsPT, chs, d.size, c))
		}
	}
	return d, nil
}

func (d *Disk) errf(off int64, field, format string, a ...any) *FormatError {
	return &FormatError{File: d.name, Off: off, Field: field, Msg: fmt.Sprintf(format, a...)}
}

func (d *Disk) warn(s string) { d.warnings = append(d.warnings, s) }

// readAt reads len(p) bytes at off of the VHD file; a short read is a
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
	return fmt.Errorf("%s: VHD %s: reading %d bytes at byte %#x: %w", d.name, field, len(p), off, err)
}

// readFooter finds and checks the footer at the end of the file (or the
// 511-byte footer of old Virtual PC), falling back to the copy at byte 0 of a
// dynamic disk only to name the damage.
func (d *Disk) readFooter() error {
	if d.fileSize < footerSize-1 {
		return d.errf(0, "footer", "file of %d bytes is too short for a VHD footer", d.fileSize)
	}
	b := make([]byte, footerSize)
	var end []byte
	if d.fileSize >= footerSize {
		if err := d.readAt(b, d.fileSize-footerSize, "footer"); err != nil {
			return err
		}
		if bytes.Equal(b[:8], cookieFooter) {
			end = b
			d.dataEnd = d.fileSize - footerSize
		}
	}
	if end == nil {
		b2 := make([]byte, footerSize)
		if err := d.readAt(b2[:footerSize-1], d.fileSize-(footerSize-1), "footer"); err != nil {
			return err
		}
		if bytes.Equal(b2[:8], cookieFooter) {
			end = b2
			d.dataEnd = d.fileSize - (footerSize - 1)
		}
	}
	var damage string
	if end == nil {
		damage = fmt.Sprintf("%q is not \"conectix\"", b[:8])
	} else if f, _ := parseFooter(end); checksum(end, 64) != f.Checksum {
		damage = fmt.Sprintf("checksum stored %#08x, computed %#08x", f.Checksum, checksum(end, 64))
	}
	if damage != "" {
		// A dynamic or differencing disk has a copy at byte 0: use it, and
		// let the BAT checks find any block the file no longer holds.
		head := make([]byte, footerSize)
		if d.fileSize >= footerSize && d.readAt(head, 0, "footer copy") == nil && footerOK(head) {
			if f, _ := parseFooter(head); f.DiskType == typeDynamic || f.DiskType == typeDiff {
				d.warn(fmt.Sprintf("no valid footer at the end of the file (%s): the file is truncated or its end damaged; the footer copy at byte 0 is used", damage))
				d.footer, d.rawFoot, d.dataEnd, d.footOff = f, head, d.fileSize, 0
				return nil
			}
		}
		if end == nil {
			return d.errf(d.fileSize-footerSize, "footer cookie", "%s: not a VHD", damage)
		}
		return d.errf(d.dataEnd+64, "footer checksum", "%s", strings.TrimPrefix(damage, "checksum "))
	}
	f, _ := parseFooter(end)
	d.footer, d.footOff = f, d.dataEnd
	d.rawFoot = end[:d.fileSize-d.dataEnd]
	return nil
}

// readHeader reads the footer copy, the dynamic header and the BAT of a
// dynamic or differencing disk, and opens the parent of a differencing one.
func (d *Disk) readHeader(open OpenFunc, seen [][16]byte) error {
	f := d.footer
	copy0 := make([]byte, footerSize)
	if err := d.readAt(copy0, 0, "footer copy"); err != nil {
		return err
	}
	if !bytes.Equal(copy0[:len(d.rawFoot)], d.rawFoot) {
		if footerOK(copy0) {
			d.warn("the footer copy at byte 0 differs from the footer at the end; the footer at the end is used")
		} else {
			d.warn("the footer copy at byte 0 is damaged; the footer at the end is used")
		}
	}
	if f.DataOffset > uint64(d.fileSize) || int64(f.DataOffset)+headerSize > d.dataEnd || f.DataOffset < footerSize {
		return d.errf(d.footOff+16, "footer data offset", "dynamic header offset %#x is not inside the %d-byte file", f.DataOffset, d.fileSize)
	}
	hoff := int64(f.DataOffset)
	h := make([]byte, headerSize)
	if err := d.readAt(h, hoff, "dynamic header"); err != nil {
		return err
	}
	if !bytes.Equal(h[:8], cookieHeader) {
		return d.errf(hoff, "dynamic header cookie", "%q is not \"cxsparse\"", h[:8])
	}
	be := binary.BigEndian
	if sum, stored := checksum(h, 36), be.Uint32(h[36:]); sum != stored {
		return d.errf(hoff+36, "dynamic header checksum", "stored %#08x, computed %#08x", stored, sum)
	}
	if v := be.Uint32(h[24:]); v != 0x00010000 {
		return d.errf(hoff+24, "dynamic header version", "%#08x is not 0x00010000", v)
	}
	batOff := be.Uint64(h[16:])
	entries := be.Uint32(h[28:])
	bs := be.Uint32(h[32:])
	if bs < sectorSize || bs > maxBlockSize || bs&(bs-1) != 0 {
		return d.errf(hoff+32, "dynamic header block size", "%d is not a power of two between 512 and %d", bs, maxBlockSize)
	}
	d.blockSize = int64(bs)
	d.bitmapSize = (d.blockSize/sectorSize/8 + sectorSize - 1) / sectorSize * sectorSize
	if f.CurrentSize > uint64(entries)*uint64(bs) {
		return d.errf(d.footOff+48, "footer current size", "%d bytes is more than the %d BAT entries of %d bytes cover", f.CurrentSize, entries, bs)
	}
	d.size = int64(f.CurrentSize)
	// Only the entries that cover the disk matter; bound them by the file.
	need := (d.size + d.blockSize - 1) / d.blockSize
	if need*4 > maxBAT {
		return d.errf(d.footOff+48, "footer current size", "%d bytes in blocks of %d bytes need a BAT of %d entries, more than this reader's bound of %d (a VHD holds at most 2040 GiB)", d.size, d.blockSize, need, maxBAT/4)
	}
	if batOff > uint64(d.fileSize) || need*4 > d.dataEnd-int64(batOff) {
		return d.errf(hoff+16, "dynamic header BAT offset", "a BAT of %d entries at %#x does not fit in the %d-byte file", need, batOff, d.fileSize)
	}
	d.batOff = int64(batOff)
	raw := make([]byte, need*4)
	if err := d.readAt(raw, d.batOff, "BAT"); err != nil {
		return err
	}
	d.bat = make([]uint32, need)
	for i := range d.bat {
		d.bat[i] = be.Uint32(raw[i*4:])
	}
	if err := d.checkBAT(hoff); err != nil {
		return err
	}
	d.bitmaps = make(map[uint32][]byte)
	if f.DiskType == typeDiff {
		return d.openParent(h, hoff, open, seen)
	}
	return nil
}

// checkBAT checks that every present block lies inside the file, after the
// metadata, and that no two entries share a block.
func (d *Disk) checkBAT(hoff int64) error {
	span := d.bitmapSize + d.blockSize
	type use struct {
		e uint32
		i int
	}
	var used []use
	for i, e := range d.bat {
		if e == 0xFFFFFFFF {
			continue
		}
		off := int64(e) * sectorSize
		eoff := d.batOff + int64(i)*4
		last := span
		if rest := d.size - int64(i)*d.blockSize; rest < d.blockSize {
			last = d.bitmapSize + rest // a last, partial block may stop at the disk's end
		}
		if off+last > d.dataEnd {
			return d.errf(eoff, fmt.Sprintf("BAT entry %d", i), "block at sector %d (byte %#x) ends past the data area, which ends at byte %#x (truncated or damaged)", e, off, d.dataEnd)
		}
		if off < footerSize || overlaps(off, span, hoff, headerSize) || overlaps(off, span, d.batOff, int64(len(d.bat))*4) {
			return d.errf(eoff, fmt.Sprintf("BAT entry %d", i), "block at sector %d (byte %#x) overlaps the footer copy, dynamic header or BAT", e, off)
		}
		used = append(used, use{e, i})
	}
	slices.SortFunc(used, func(a, b use) int { return cmp.Or(cmp.Compare(a.e, b.e), cmp.Compare(a.i, b.i)) })
	for k := 1; k < len(used); k++ {
		a, b := used[k-1], used[k]
		if int64(b.e-a.e)*sectorSize < span {
			return d.errf(d.batOff+int64(b.i)*4, fmt.Sprintf("BAT entry %d", b.i), "block at sector %d overlaps the block of BAT entry %d at sector %d", b.e, a.i, a.e)
		}
	}
	return nil
}

func overlaps(a, an, b, bn int64) bool { return a < b+bn && b < a+an }

// openParent finds the parent of a differencing disk through its parent
// locators and opens it.
func (d *Disk) openParent(h []byte, hoff int64, open OpenFunc, seen [][16]byte) error {
	be := binary.BigEndian
	var puid [16]byte
	copy(puid[:], h[40:56])
	pname := utf16String(h[64:576], true)
	var names []string
	for i := range 8 {
		e := h[576+24*i : 576+24*i+24]
		code := string(e[:4])
		if code != "W2ru" && code != "W2ku" {
			continue
		}
		length := be.Uint32(e[8:])
		off := be.Uint64(e[16:])
		field := fmt.Sprintf("parent locator %d (%s)", i, code)
		if length == 0 {
			continue
		}
		if length > maxLocator || length%2 != 0 || off > uint64(d.dataEnd) || int64(off)+int64(length) > d.dataEnd {
			return d.errf(hoff+576+24*int64(i), field, "%d bytes at %#x: not a path inside the file", length, off)
		}
		b := make([]byte, length)
		if err := d.readAt(b, int64(off), field); err != nil {
			return err
		}
		if n := strings.ReplaceAll(utf16String(b, false), `\`, "/"); n != "" {
			if code == "W2ru" {
				names = append([]string{n}, names...) // relative first
			} else {
				names = append(names, n)
			}
		}
	}
	// Last, the base names beside the child (the parent was copied along).
	for _, n := range append(slices.Clone(names), strings.ReplaceAll(pname, `\`, "/")) {
		if b := path.Base(n); n != "" && !slices.Contains(names, b) && !slices.Contains(names, "./"+b) {
			names = append(names, b)
		}
	}
	if len(names) == 0 {
		return d.errf(hoff+576, "parent locators", "a differencing disk names no parent path (parent %q, id %s)", pname, uuidString(puid))
	}
	if open == nil {
		return &UnsupportedError{File: d.name, Msg: fmt.Sprintf("differencing disk whose parent %q cannot be opened here (no way to open other files); convert the chain with qemu-img convert -O raw or merge it", names[0])}
	}
	var tried []string
	for _, n := range names {
		pr, psize, err := open(n)
		if errors.Is(err, fs.ErrNotExist) {
			tried = append(tried, n)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: VHD parent %q: %w", d.name, n, err)
		}
		p, err := openChain(pr, psize, n, open, seen)
		if err != nil {
			return err
		}
		if p.footer.UniqueID != puid {
			return d.errf(hoff+40, "dynamic header parent unique id", "the parent %s has unique id %s, the child expects %s: wrong or modified parent", n, uuidString(p.footer.UniqueID), uuidString(puid))
		}
		if p.size != d.size {
			return d.errf(d.footOff+48, "footer current size", "%d bytes, but the parent %s has %d bytes", d.size, n, p.size)
		}
		if ts := be.Uint32(h[56:]); ts != p.footer.Timestamp {
			d.warn(fmt.Sprintf("parent %s footer time stamp %d differs from the child's parent time stamp %d (the ids match; the parent was read as it is)", n, p.footer.Timestamp, ts))
		}
		d.parent = p
		d.parentName = n
		return nil
	}
	return &UnsupportedError{File: d.name, Msg: fmt.Sprintf("differencing disk whose parent %q (id %s) is missing: tried %s; place the parent beside the child, or convert the chain with qemu-img convert -O raw where it is complete", pname, uuidString(puid), strings.Join(tried, ", ")), Err: fs.ErrNotExist}
}

func utf16String(b []byte, bigEndian bool) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		var c uint16
		if bigEndian {
			c = binary.BigEndian.Uint16(b[i:])
		} else {
			c = binary.LittleEndian.Uint16(b[i:])
		}
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

func uuidString(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Size returns the virtual disk size in bytes (the footer's current size).
func (d *Disk) Size() int64 { return d.size }

// Footer returns the decoded footer.
func (d *Disk) Footer() Footer { return d.footer }

// Parent returns the parent disk of a differencing disk and the name it was
// opened by, or nil.
func (d *Disk) Parent() (*Disk, string) { return d.parent, d.parentName }

// Warnings returns findings that do not stop reading, such as a footer copy
// that differs from the footer. Reading may add some (data in sectors a
// dynamic disk's bitmap marks unused), so call it after reading.
func (d *Disk) Warnings() []string {
	d.mu.Lock()
	w := slices.Clone(d.warnings)
	d.mu.Unlock()
	if d.parent != nil {
		for _, pw := range d.parent.Warnings() {
			w = append(w, "parent "+d.parentName+": "+pw)
		}
	}
	return w
}

// Format names the variant: "VHD fixed", "VHD dynamic" or "VHD differencing".
func (d *Disk) Format() string {
	switch d.footer.DiskType {
	case typeFixed:
		return "VHD fixed"
	case typeDynamic:
		return "VHD dynamic"
	}
	return "VHD differencing"
}

// ReadAt reads len(p) bytes of the virtual disk at off.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: VHD read at negative offset %d", d.name, off)
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

// readPiece reads a prefix of p at off (inside the disk), at most to the
// end of a block, and returns how many bytes it read.
func (d *Disk) readPiece(p []byte, off int64) (int, error) {
	if d.footer.DiskType == typeFixed {
		return len(p), d.readAt(p, off, "data")
	}
	bi := off / d.blockSize
	in := off % d.blockSize
	if rest := d.blockSize - in; int64(len(p)) > rest {
		p = p[:rest]
	}
	e := d.bat[bi]
	if e == 0xFFFFFFFF {
		if d.parent != nil {
			return d.parent.readAll(p, off)
		}
		clear(p)
		return len(p), nil
	}
	data := int64(e)*sectorSize + d.bitmapSize
	if d.parent == nil {
		if err := d.readAt(p, data+in, fmt.Sprintf("block %d", bi)); err != nil {
			return 0, err
		}
		return len(p), d.checkUnused(p, uint32(bi), in)
	}
	bm, err := d.bitmap(uint32(bi))
	if err != nil {
		return 0, err
	}
	// One run of sectors that are all in this file or all in the parent.
	s := in / sectorSize
	mine := bitSet(bm, s)
	end := (in/sectorSize + 1) * sectorSize
	for end < in+int64(len(p)) && bitSet(bm, end/sectorSize) == mine {
		end += sectorSize
	}
	if end-in < int64(len(p)) {
		p = p[:end-in]
	}
	if mine {
		return len(p), d.readAt(p, data+in, fmt.Sprintf("block %d", bi))
	}
	return d.parent.readAll(p, off)
}

// readAll reads all of p at off, which lies inside the disk: an io.EOF at
// the disk's end is not an error here.
func (d *Disk) readAll(p []byte, off int64) (int, error) {
	n, err := d.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}

// checkUnused looks, in a dynamic disk, for bytes read from sectors that
// the block's sector bitmap marks as never written. They are returned as
// stored, as qemu-img reads them (the bitmap of a dynamic disk is
// informational there); libvhdi, following the specification, reads such
// sectors as zeros. Where the two differ, a warning says so, once per block
// and for at most maxUnusedWarnings blocks.
func (d *Disk) checkUnused(p []byte, bi uint32, in int64) error {
	bm, err := d.bitmap(bi)
	if err != nil {
		return err
	}
	first, last := in/sectorSize, (in+int64(len(p))-1)/sectorSize
	for s := first; s <= last; s++ {
		if s%8 == 0 && s+8 <= last+1 && bm[s/8] == 0xFF {
			s += 7
			continue
		}
		if bitSet(bm, s) {
			continue
		}
		lo, hi := max(s*sectorSize, in)-in, min((s+1)*sectorSize, in+int64(len(p)))-in
		if !allZero(p[lo:hi]) {
			d.mu.Lock()
			if d.unusedWarned == nil {
				d.unusedWarned = make(map[uint32]bool)
			}
			if !d.unusedWarned[bi] && len(d.unusedWarned) < maxUnusedWarnings {
				d.unusedWarned[bi] = true
				d.warnings = append(d.warnings, fmt.Sprintf("block %d (disk bytes %#x-%#x): sector %d holds data but its sector bitmap bit is 0 (never written); read as stored, as qemu-img does; libvhdi and the VHD specification read such sectors as zeros", bi, int64(bi)*d.blockSize, int64(bi+1)*d.blockSize-1, int64(bi)*d.blockSize/sectorSize+s))
			}
			d.mu.Unlock()
			return nil
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func bitSet(bm []byte, sector int64) bool { return bm[sector/8]&(0x80>>(sector%8)) != 0 }

// bitmap returns the sector bitmap of block bi (present in the BAT) of a
// differencing disk, from a bounded cache.
func (d *Disk) bitmap(bi uint32) ([]byte, error) {
	d.mu.Lock()
	bm, ok := d.bitmaps[bi]
	d.mu.Unlock()
	if ok {
		return bm, nil
	}
	bm = make([]byte, d.bitmapSize)
	if err := d.readAt(bm, int64(d.bat[bi])*sectorSize, fmt.Sprintf("block %d sector bitmap", bi)); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if int64(len(d.bitmaps)+1)*d.bitmapSize > maxBitmapBytes {
		clear(d.bitmaps)
	}
	d.bitmaps[bi] = bm
	d.mu.Unlock()
	return bm, nil
}

// Extent reports whether the bytes from off on are allocated (may hold
// data) or unallocated (read as zeros without reading any file), and for
// how many bytes that holds. An unallocated block of a differencing disk is
// unallocated only where the parent is too.
func (d *Disk) Extent(off int64) (allocated bool, n int64, err error) {
	if off < 0 || off >= d.size {
		return false, 0, fmt.Errorf("%s: VHD extent at %d outside the %d-byte disk", d.name, off, d.size)
	}
	if d.footer.DiskType == typeFixed {
		return true, d.size - off, nil
	}
	bi := off / d.blockSize
	in := off % d.blockSize
	n = min(d.blockSize-in, d.size-off)
	e := d.bat[bi]
	if e == 0xFFFFFFFF {
		if d.parent == nil {
			// Join the following absent blocks.
			for j := bi + 1; j < int64(len(d.bat)) && d.bat[j] == 0xFFFFFFFF; j++ {
				n = min(n+d.blockSize, d.size-off)
			}
			return false, n, nil
		}
		a, m, err := d.parent.Extent(off)
		return a, min(m, n), err
	}
	if d.parent == nil {
		return true, n, nil
	}
	bm, err := d.bitmap(uint32(bi))
	if err != nil {
		return false, 0, err
	}
	mine := bitSet(bm, in/sectorSize)
	end := (in/sectorSize + 1) * sectorSize
	for end < in+n && bitSet(bm, end/sectorSize) == mine {
		end += sectorSize
	}
	n = min(end-in, n)
	if mine {
		return true, n, nil
	}
	a, m, err := d.parent.Extent(off)
	return a, min(m, n), err
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
