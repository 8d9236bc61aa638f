// Package vmdk reads VMware virtual disks (VMDK) as the virtual disk they
// hold: monolithicSparse, streamOptimized (compressed grains, markers, the
// footer of GD_AT_END files), twoGbMaxExtentSparse, monolithicFlat,
// twoGbMaxExtentFlat and vmfs through the text descriptor, and delta links
// (parentFileNameHint) through an OpenFunc. It never writes.
//
// The layout follows VMware's "Virtual Disk Format 1.1" as described by
// libvmdk. vmfsSparse (COWD) extents, raw device mappings and extents
// naming paths outside the descriptor's directory are refused with an
// *UnsupportedError. Damaged files give a *FormatError naming the file,
// the byte offset and the field. Grain tables are read lazily into a
// bounded cache; nothing is allocated from a size read from a file before
// it is checked against the file's size.
package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/image/internal/readahead"
)

// OpenFunc opens another file a container refers to (here an extent file
// or a parent disk). name is as the referring file spells it; the caller
// resolves a relative name against the referring file's directory and
// opens it read-only. A missing file is an error wrapping fs.ErrNotExist.
type OpenFunc func(name string) (r io.ReaderAt, size int64, err error)

// FormatError reports a damaged or impossible structure.
type FormatError struct {
	File  string // the file's name as given to Open or OpenFunc
	Off   int64  // byte offset in that file
	Field string // the structure and field, e.g. "grain table entry 7"
	Msg   string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: VMDK %s at byte %#x: %s", e.File, e.Field, e.Off, e.Msg)
}

// ErrUnsupported is matched (errors.Is) by every *UnsupportedError.
var ErrUnsupported = errors.New("vmdk: unsupported disk")

// UnsupportedError reports a recognised VMDK that this package does not
// read, and what to do about it.
type UnsupportedError struct {
	File   string
	What   string // what is not supported
	Advice string // what to do
	Err    error  // underlying cause (a missing file), or nil
}

func (e *UnsupportedError) Error() string {
	s := fmt.Sprintf("%s: VMDK %s is not supported", e.File, e.What)
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
	sparseMagic     = "KDMV"
	cowdMagic       = "COWD"
	descMagic       = "# Disk DescriptorFile"
	maxDescriptor   = 64 << 10 // bytes of descriptor text read at most
	maxGrainSectors = 4096     // 2 MiB grains
	maxGTEs         = 4096
	maxParentDepth  = 16
	gdAtEnd         = 0xffffffffffffffff

	gtCacheBytes     = 4 << 20 // grain tables per Disk (2 KiB each at 512 entries)
	grainCacheBytes  = 4 << 20 // decompressed grains per Disk, kept for partial reads
	flagNewlineTest  = 0x1
	flagZeroGrain    = 0x4
	flagCompressed   = 0x10000
	flagMarkers      = 0x20000
	compressDeflate  = 1
	grainMarkerBytes = 12 // LBA uint64 + size uint32
)

// Detect reports whether head looks like a VMDK: a sparse extent (KDMV), a
// vmfsSparse extent (COWD, which Open refuses) or a text descriptor.
func Detect(head, tail []byte) bool {
	if len(head) >= 4 && (string(head[:4]) == sparseMagic || string(head[:4]) == cowdMagic) {
		return true
	}
	return looksLikeDescriptor(head)
}

func looksLikeDescriptor(head []byte) bool {
	h := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	h = bytes.TrimLeft(h, " \t\r\n")
	if len(h) >= len(descMagic) && strings.EqualFold(string(h[:len(descMagic)]), descMagic) {
		return true
	}
	if i := bytes.IndexByte(h, 0); i >= 0 {
		h = h[:i]
	}
	l := bytes.ToLower(h)
	return bytes.Contains(l, []byte("createtype")) && bytes.Contains(l, []byte("version")) &&
		(bytes.Contains(l, []byte("\nrw ")) || bytes.Contains(l, []byte("\nrdonly ")))
}

// extent kinds and piece kinds
type kind uint8

const (
	kUnalloc    kind = iota // not in this disk: the parent's bytes, or zeros
	kZero                   // reads as zeros
	kData                   // bytes at host in r
	kCompressed             // compressed grain whose marker is at host
)

// extent is one extent line of the descriptor.
type extent struct {
	typ   string // "FLAT", "SPARSE", "ZERO"
	file  string
	start int64 // virtual byte offset of the first byte
	n     int64 // bytes
	r     io.ReaderAt
	size  int64 // file size
	off   int64 // FLAT: byte offset of the extent in its file
	sp    *sparse
}

// Disk is the virtual disk of a VMDK. Its methods are safe for concurrent
// use.
type Disk struct {
	name       string
	createType string
	size       int64
	extents    []*extent
	parent     *Disk
	parentName string
	cid        string
	warnings   []string

	ahead readahead.Tracker[grainKey] // grains being decompressed ahead of a sequential reader
}

// Open reads the VMDK held by r (size bytes, named name in messages): a
// sparse extent, possibly with an embedded descriptor, or a text
// descriptor whose extents and parent are opened through open (which may
// be nil when none is needed).
func Open(r io.ReaderAt, size int64, name string, open OpenFunc) (*Disk, error) {
	return openChain(r, size, name, open, []string{name})
}

func openChain(r io.ReaderAt, size int64, name string, open OpenFunc, chain []string) (*Disk, error) {
	d := &Disk{name: name}
	head := make([]byte, min(size, 4096))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		return nil, ioErr(name, 0, int64(len(head)), size, err)
	}
	var desc *descriptor
	switch {
	case len(head) >= 4 && string(head[:4]) == sparseMagic:
		sp, err := openSparse(r, size, name, newCache())
		if err != nil {
			return nil, err
		}
		if sp.h.descSectors > 0 {
			desc, err = readDescriptor(r, size, name, sp.h.descOff*512, sp.h.descSectors*512)
			if err != nil {
				return nil, err
			}
		}
		if desc != nil && len(desc.extents) > 0 {
			if len(desc.extents) != 1 || desc.extents[0].typ != "SPARSE" {
				return nil, &UnsupportedError{File: name, What: fmt.Sprintf("an embedded descriptor with %d extents (the first %s)", len(desc.extents), desc.extents[0].typ), Advice: adviceConvert}
			}
			if e := desc.extents[0]; e.sectors > sp.h.capacity {
				return nil, &FormatError{File: name, Off: e.lineOff, Field: "descriptor extent", Msg: fmt.Sprintf("%d sectors, more than the %d sectors of the extent header", e.sectors, sp.h.capacity)}
			}
		}
		n := sp.h.capacity * 512
		if desc != nil && len(desc.extents) == 1 {
			n = desc.extents[0].sectors * 512
		}
		d.extents = []*extent{{typ: "SPARSE", file: name, n: n, r: r, size: size, sp: sp}}
		d.size = n
		d.createType = "sparse extent"
		if sp.h.flags&flagMarkers != 0 {
			d.createType = "streamOptimized"
		}
		if sp.h.unclean {
			d.warnings = append(d.warnings, "VMDK unclean shutdown flag is set in "+name)
		}
	case len(head) >= 4 && string(head[:4]) == cowdMagic:
		return nil, &UnsupportedError{File: name, What: "vmfsSparse (COWD) extent", Advice: adviceConvert}
	case looksLikeDescriptor(head):
		var err error
		if size > maxDescriptor {
			return nil, &FormatError{File: name, Off: 0, Field: "descriptor", Msg: fmt.Sprintf("a descriptor file of %d bytes is longer than %d", size, maxDescriptor)}
		}
		desc, err = readDescriptor(r, size, name, 0, size)
		if err != nil {
			return nil, err
		}
		if err := d.openExtents(desc, open); err != nil {
			return nil, err
		}
	default:
		return nil, &FormatError{File: name, Off: 0, Field: "magic", Msg: "neither a sparse extent (KDMV) nor a text descriptor"}
	}
	if desc != nil {
		if desc.createType != "" {
			d.createType = desc.createType
		}
		d.cid = desc.cid
		if err := d.openParent(desc, open, chain); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// openExtents opens the extents of a text descriptor.
func (d *Disk) openExtents(desc *descriptor, open OpenFunc) error {
	if len(desc.extents) == 0 {
		return &FormatError{File: d.name, Off: 0, Field: "descriptor", Msg: "no extent lines"}
	}
	c := newCache()
	for _, e := range desc.extents {
		x := &extent{typ: e.typ, file: e.file, start: d.size, n: e.sectors * 512}
		if e.sectors > 1<<52/512-d.size/512 {
			return &FormatError{File: d.name, Off: e.lineOff, Field: "descriptor extent", Msg: fmt.Sprintf("%d sectors make an absurd disk size", e.sectors)}
		}
		if e.typ != "ZERO" {
			if err := plainName(d.name, e.file, "extent"); err != nil {
				return err
			}
			if open == nil {
				return &UnsupportedError{File: d.name, What: fmt.Sprintf("reading without its extent file %q", e.file),
					Advice: "open it with its extent files beside it"}
			}
			r, size, err := open(e.file)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return &UnsupportedError{File: d.name, What: fmt.Sprintf("reading without its extent file %q, which is missing", e.file), Err: err,
						Advice: "put every extent file beside the descriptor"}
				}
				return fmt.Errorf("%s: opening VMDK extent file %q: %w", d.name, e.file, err)
			}
			x.r, x.size = r, size
		}
		switch e.typ {
		case "FLAT", "VMFS":
			x.typ = "FLAT"
			x.off = e.offset * 512
			if e.offset > 1<<52/512 || x.off > x.size || x.n > x.size-x.off {
				return &FormatError{File: e.file, Off: x.size, Field: "flat extent", Msg: fmt.Sprintf("the file is %d bytes, shorter than the %d bytes from byte %#x the descriptor %s gives it: truncated", x.size, x.n, x.off, d.name)}
			}
		case "SPARSE":
			sp, err := openSparse(x.r, x.size, e.file, c)
			if err != nil {
				return err
			}
			if sp.h.capacity < e.sectors {
				return &FormatError{File: e.file, Off: 12, Field: "capacity", Msg: fmt.Sprintf("%d sectors, fewer than the %d the descriptor %s gives the extent", sp.h.capacity, e.sectors, d.name)}
			}
			x.sp = sp
		case "ZERO":
		default:
			return &UnsupportedError{File: d.name, What: fmt.Sprintf("extent type %s (descriptor line at byte %#x)", e.typ, e.lineOff), Advice: adviceConvert}
		}
		d.extents = append(d.extents, x)
		d.size += x.n
	}
	return nil
}

// plainName refuses an extent or parent name that is not a plain file
// name: a path, a device, or "..".
func plainName(file, name, what string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") || len(name) >= 2 && name[1] == ':' {
		return &UnsupportedError{File: file, What: fmt.Sprintf("%s file %q, which is not a plain file name in the descriptor's directory", what, name),
			Advice: "copy the files into one directory and edit the descriptor, or convert the disk with qemu-img convert -O raw"}
	}
	return nil
}

func (d *Disk) openParent(desc *descriptor, open OpenFunc, chain []string) error {
	if desc.parentCID == "" || strings.EqualFold(desc.parentCID, "ffffffff") {
		return nil
	}
	hint := desc.parentHint
	if hint == "" {
		return &UnsupportedError{File: d.name, What: fmt.Sprintf("a delta disk (parentCID=%s) without parentFileNameHint", desc.parentCID), Advice: "convert the chain with qemu-img convert -O raw"}
	}
	name := hint
	if i := strings.LastIndexAny(hint, "/\\"); i >= 0 {
		name = hint[i+1:]
		d.warnings = append(d.warnings, fmt.Sprintf("VMDK parentFileNameHint %q is a path; the parent is read from %q beside %s", hint, name, d.name))
	}
	if err := plainName(d.name, name, "parent"); err != nil {
		return err
	}
	for _, c := range chain {
		if c == name {
			return &FormatError{File: d.name, Off: desc.parentOff, Field: "parentFileNameHint", Msg: fmt.Sprintf("parent %q is already in the chain %q: the chain loops", name, chain)}
		}
	}
	if len(chain) > maxParentDepth {
		return &FormatError{File: d.name, Off: desc.parentOff, Field: "parentFileNameHint", Msg: fmt.Sprintf("the chain of parents is deeper than %d", maxParentDepth)}
	}
	if open == nil {
		return &UnsupportedError{File: d.name, What: fmt.Sprintf("reading without its parent %q", name), Advice: "open it with its parent disk beside it, or convert the chain with qemu-img convert -O raw"}
	}
	r, size, err := open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &UnsupportedError{File: d.name, What: fmt.Sprintf("reading without its parent %q, which is missing", name), Err: err,
				Advice: "put the parent disk beside the image, or check the image with qemu-img convert -O raw of the complete chain"}
		}
		return fmt.Errorf("%s: opening VMDK parent %q: %w", d.name, name, err)
	}
	p, err := openChain(r, size, name, open, append(chain[:len(chain):len(chain)], name))
	if err != nil {
		return err
	}
	if !sameCID(p.cid, desc.parentCID) {
		return &FormatError{File: d.name, Off: desc.parentCIDOff, Field: "parentCID", Msg: fmt.Sprintf("%s, but the parent %s has CID %s: the parent changed after this delta disk was made", desc.parentCID, name, p.cid)}
	}
	for _, w := range p.warnings {
		d.warnings = append(d.warnings, "parent "+name+": "+w)
	}
	d.parent, d.parentName = p, name
	return nil
}

// sameCID compares two content IDs as hexadecimal numbers (QEMU writes
// them without leading zeros, VMware with).
func sameCID(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 16, 32)
	y, err2 := strconv.ParseUint(b, 16, 32)
	if err1 != nil || err2 != nil {
		return strings.EqualFold(a, b)
	}
	return x == y
}

// Size returns the virtual size in bytes.
func (d *Disk) Size() int64 { return d.size }

// Format returns "VMDK " and the descriptor's createType, e.g. "VMDK
// streamOptimized"; "VMDK sparse extent" for a sparse extent without one.
func (d *Disk) Format() string { return "VMDK " + d.createType }

// Warnings returns what does not stop reading but should be reported.
func (d *Disk) Warnings() []string { return append([]string(nil), d.warnings...) }

// Parent returns the parent disk's name as opened, or "".
func (d *Disk) Parent() string { return d.parentName }

// Files returns the names of the extent files read, in order, for a
// disk described by a text descriptor (the disk's own name for a sparse
// extent); parents are not included.
func (d *Disk) Files() []string {
	var f []string
	for _, e := range d.extents {
		if e.typ != "ZERO" {
			f = append(f, e.file)
		}
	}
	return f
}

func ioErr(file string, off, n, size int64, err error) error {
	if err == nil || err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{File: file, Off: off, Field: "read", Msg: fmt.Sprintf("%d bytes are past the end of the file (%d bytes): truncated", n, size)}
	}
	return fmt.Errorf("%s: reading %d bytes at byte %#x: %w", file, n, off, err)
}

func readFile(r io.ReaderAt, file string, size int64, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	return ioErr(file, off, int64(len(p)), size, err)
}

// piece is the mapping of n bytes of the virtual disk from some offset.
type piece struct {
	kind kind
	x    *extent
	host int64 // kData: file offset of the first byte; kCompressed: of the grain marker
	goff int64 // kCompressed: offset of the first byte in the grain
	gidx int64 // kCompressed: grain number in the extent
	eoff int64 // kCompressed: file offset of the grain table entry
	n    int64
}

// find returns the extent holding virtual offset off < Size.
func (d *Disk) find(off int64) *extent {
	i := sort.Search(len(d.extents), func(i int) bool { return d.extents[i].start+d.extents[i].n > off })
	return d.extents[i]
}

func (d *Disk) lookup(off int64) (piece, error) {
	x := d.find(off)
	rel := off - x.start
	switch x.typ {
	case "FLAT":
		return piece{kind: kData, x: x, host: x.off + rel, n: x.n - rel}, nil
	case "ZERO":
		return piece{kind: kZero, x: x, n: x.n - rel}, nil
	}
	p, err := x.sp.lookup(rel, x.n)
	p.x = x
	return p, err
}

// Extent reports whether the n bytes from off are allocated (may hold
// data) or unallocated (read as zeros without reading a file: unallocated
// or zero grains, ZERO extents, where the parent, if any, is unallocated
// too). A run stops at the end of an extent or of one grain table's range.
func (d *Disk) Extent(off int64) (allocated bool, n int64, err error) {
	if off < 0 || off >= d.size {
		return false, 0, fmt.Errorf("%s: VMDK extent at %d is outside the virtual disk (%d bytes)", d.name, off, d.size)
	}
	return d.extent(off, d.size-off)
}

func (d *Disk) extent(off, limit int64) (allocated bool, n int64, err error) {
	x := d.find(off)
	limit = min(limit, x.start+x.n-off)
	if x.sp != nil {
		span := x.sp.gtes * x.sp.grain
		rel := off - x.start
		limit = min(limit, (rel/span+1)*span-rel)
	}
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
	if d.parent == nil || off >= d.parent.size {
		return false, n, nil
	}
	a, m, err := d.parent.extent(off, min(n, d.parent.size-off))
	if err != nil {
		return false, 0, err
	}
	return a, min(m, n), nil
}

// ReadAt reads the virtual disk. Unreadable bytes are an error naming the
// file and offset, never zeros.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: VMDK read at negative offset %d", d.name, off)
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

// readZ reads p at off; bytes past Size read as zeros (a parent shorter
// than its child).
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
	p  []byte
	pc piece
}

func (d *Disk) read(p []byte, off int64) error {
	var jobs []job
	var run []byte
	var runX *extent
	var runHost int64
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		err := readFile(runX.r, runX.file, runX.size, run, runHost)
		run = nil
		return err
	}
	for pos := int64(0); pos < int64(len(p)); {
		pc, err := d.lookup(off + pos)
		if err != nil {
			return err
		}
		m := min(pc.n, int64(len(p))-pos)
		b := p[pos : pos+m]
		if pc.kind == kData && len(run) > 0 && runX == pc.x && runHost+int64(len(run)) == pc.host {
			run = p[pos-int64(len(run)) : pos+m]
			pos += m
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		switch pc.kind {
		case kData:
			run, runX, runHost = b, pc.x, pc.host
		case kZero:
			clear(b)
		case kUnalloc:
			if d.parent != nil {
				if err := d.parent.readZ(b, off+pos); err != nil {
					return err
				}
			} else {
				clear(b)
			}
		case kCompressed:
			jobs = append(jobs, job{p: b, pc: pc})
		}
		pos += m
	}
	if err := flush(); err != nil {
		return err
	}
	if len(jobs) == 0 {
		return nil
	}
	// Decompress the grains of this read in parallel.
	ahead := d.readAhead(off, int64(len(p)))
	return readahead.Each(len(jobs), func(i int) error { return jobs[i].pc.x.sp.grainAt(jobs[i].p, jobs[i].pc, ahead) })
}

var le = binary.LittleEndian
