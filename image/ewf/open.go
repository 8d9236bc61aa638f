package ewf

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"sort"
	"strings"
)

const (
	fileHeaderSize = 13
	descSize       = 76 // section descriptor
	volumeE01Size  = 1052
	volumeSMART    = 94
	tableHdrSize   = 24
	error2HdrSize  = 520
	hashSize       = 36
	digestSize     = 80

	// maxChunkSize bounds the chunk size a volume section may declare:
	// ewfacquire allows at most 32768 sectors of 512 bytes (16 MiB).
	maxChunkSize = 16 << 20
	// maxMeta bounds the inflated size of a header or header2 section.
	maxMeta = 1 << 20
	// maxError2 bounds the entries of an error2 section (8 MiB of them).
	maxError2 = 1 << 20
)

// segment is one file of the set.
type segment struct {
	name string
	r    io.ReaderAt
	size int64
	num  int
}

// volume is the media geometry of a volume, disk or data section.
type volume struct {
	off       int64 // file offset of the section descriptor
	file      string
	chunks    uint32
	spc       uint32 // sectors per chunk
	bps       uint32 // bytes per sector
	sectors   uint64
	compLevel byte
	mediaType byte
	flags     byte
	guid      [16]byte
	smart     bool // the 94-byte layout of EWF/SMART
}

// walker holds the state of Open while it walks the sections.
type walker struct {
	d          *Disk
	vol        *volume
	nextChunk  int64
	headerErr  []string
	header2    *Header
	headerSec  *Header
	hashMD5    []byte // from the hash section
	hashSeen   bool
	digestSeen bool
	hashSeg    int    // segment number of the last hash or digest section
	digestMD5  []byte // from the digest section
	digestSHA1 []byte
	sectors    *sectorsSec // latest sectors section of the current segment
	lastTable  *table      // for table2
	done       bool
	errors2    int
}

type sectorsSec struct {
	start, end int64 // file offsets: descriptor start, section end
}

func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Open reads the EWF segment set whose first segment is r (size bytes,
// named name, e.g. "disk.E01") and returns its media as a Disk. The
// following segments are opened through open by their computed names
// (disk.E02, …); open may be nil for a set of one segment.
//
// Every section descriptor of every segment is checked (its Adler-32, and
// that its next offset and size agree and stay inside the file); the
// chunk tables are read later, on first use. Damage is a *FormatError
// naming the file and byte offset; a recognised variant this package does
// not read is an *UnsupportedError.
//
// The Disk reads the segment files through r and the ReaderAts open
// returned for as long as it is used; it has no Close: the caller closes
// the files.
func Open(r io.ReaderAt, size int64, name string, open OpenFunc) (*Disk, error) {
	d := &Disk{name: name}
	w := &walker{d: d}
	seg := &segment{name: name, r: r, size: size, num: 1}
	if err := w.fileHeader(seg); err != nil {
		return nil, err
	}
	for {
		nextOff, err := w.walkSegment(seg)
		if err != nil {
			return nil, err
		}
		d.segs = append(d.segs, seg)
		if w.done {
			break
		}
		num := seg.num + 1
		nname, err := segmentName(name, num)
		if err != nil {
			return nil, &FormatError{File: seg.name, Off: nextOff, Field: "next section", Msg: err.Error()}
		}
		if open == nil {
			return nil, &FormatError{File: seg.name, Off: nextOff, Field: "next section",
				Msg: fmt.Sprintf("the set continues in segment %d (%s) but no way to open other files was given", num, nname)}
		}
		nr, nsize, err := open(nname)
		if err != nil {
			return nil, &FormatError{File: seg.name, Off: nextOff, Field: "next section",
				Msg: fmt.Sprintf("the set continues in segment %d (%s), which cannot be opened (missing segment?)", num, nname), err: err}
		}
		seg = &segment{name: nname, r: nr, size: nsize, num: num}
		if err := w.fileHeader(seg); err != nil {
			return nil, err
		}
	}
	if err := w.finish(); err != nil {
		return nil, err
	}
	d.initCache()
	return d, nil
}

// fileHeader checks the 13-byte file header of seg.
func (w *walker) fileHeader(seg *segment) error {
	var h [fileHeaderSize]byte
	n, err := seg.r.ReadAt(h[:], 0)
	if n < len(h) && err != nil && err != io.EOF {
		return &FormatError{File: seg.name, Off: 0, Field: "file header", Msg: "cannot read", err: err}
	}
	head := h[:n]
	switch {
	case bytes.HasPrefix(head, sigEVF2):
		return &UnsupportedError{File: seg.name, Msg: "EWF2 (Ex01) is not supported yet: convert it with ewfexport (ewfexport -f raw) or EnCase to raw or E01"}
	case bytes.HasPrefix(head, sigLEF2):
		return &UnsupportedError{File: seg.name, Msg: "EWF2 logical evidence (Lx01) holds files, not a disk image: it is not supported"}
	case bytes.HasPrefix(head, sigLVF):
		return &UnsupportedError{File: seg.name, Msg: "EWF logical evidence (L01, LVF) holds files, not a disk image: it is not supported"}
	case bytes.HasPrefix(head, sigAD):
		return &UnsupportedError{File: seg.name, Msg: "FTK Imager AD-encrypted image: decrypt it with FTK Imager first"}
	}
	if n < len(h) {
		return &FormatError{File: seg.name, Off: 0, Field: "file header", Msg: fmt.Sprintf("file is %d bytes, shorter than the 13-byte file header", seg.size)}
	}
	if !bytes.Equal(h[:8], sigEVF) {
		return &FormatError{File: seg.name, Off: 0, Field: "file header signature", Msg: fmt.Sprintf("%q is not an EWF signature", h[:8])}
	}
	if h[8] != 1 {
		return &FormatError{File: seg.name, Off: 8, Field: "file header start of fields", Msg: fmt.Sprintf("%#x, want 0x01", h[8])}
	}
	num := int(binary.LittleEndian.Uint16(h[9:]))
	if num != seg.num {
		if seg.num == 1 {
			return &FormatError{File: seg.name, Off: 9, Field: "file header segment number",
				Msg: fmt.Sprintf("this is segment %d of its set: open the first segment (.E01)", num)}
		}
		return &FormatError{File: seg.name, Off: 9, Field: "file header segment number",
			Msg: fmt.Sprintf("%d, want %d: the file at this name is not the next segment of the set", num, seg.num)}
	}
	return nil
}

// walkSegment reads the sections of seg from the file header to its next
// or done section. It returns the offset of the next section.
func (w *walker) walkSegment(seg *segment) (int64, error) {
	w.sectors = nil
	off := int64(fileHeaderSize)
	var desc [descSize]byte
	for {
		if off+descSize > seg.size {
			return 0, &FormatError{File: seg.name, Off: off, Field: "section descriptor",
				Msg: fmt.Sprintf("file ends (size %d) before the next or done section: truncated segment", seg.size)}
		}
		if err := readFull(seg.r, desc[:], off); err != nil {
			return 0, &FormatError{File: seg.name, Off: off, Field: "section descriptor", Msg: "cannot read", err: err}
		}
		typ := string(bytes.TrimRight(desc[:16], "\x00"))
		next := int64(binary.LittleEndian.Uint64(desc[16:]))
		ssize := int64(binary.LittleEndian.Uint64(desc[24:]))
		if sum, want := adler32.Checksum(desc[:72]), binary.LittleEndian.Uint32(desc[72:]); sum != want {
			return 0, &FormatError{File: seg.name, Off: off + 72, Field: "section descriptor checksum",
				Msg: fmt.Sprintf("Adler-32 %#08x, computed %#08x (section type %q)", want, sum, printable(typ))}
		}
		if typ == "next" || typ == "done" {
			// EnCase points them at themselves; EWF/SMART writers
			// (ewfacquire -f smart) at the end of the 76-byte section.
			if next != off && next != off+descSize {
				return 0, &FormatError{File: seg.name, Off: off + 16, Field: typ + " section next offset",
					Msg: fmt.Sprintf("%#x, want its own offset %#x", next, off)}
			}
			if ssize != 0 && ssize != descSize {
				return 0, &FormatError{File: seg.name, Off: off + 24, Field: typ + " section size",
					Msg: fmt.Sprintf("%d, want 0 or 76", ssize)}
			}
			if end := off + descSize; end < seg.size {
				w.d.warn(fmt.Sprintf("%s: %d bytes after the %s section at %#x are not part of the image and were ignored", seg.name, seg.size-end, typ, off))
			}
			if typ == "done" {
				w.done = true
			}
			return off, nil
		}
		if next <= off || next > seg.size || next-off < descSize {
			if next > seg.size && next > off {
				return 0, &FormatError{File: seg.name, Off: off + 16, Field: "section descriptor next",
					Msg: fmt.Sprintf("%q section ends at %#x, past the end of the file (size %#x): truncated segment", printable(typ), next, seg.size)}
			}
			return 0, &FormatError{File: seg.name, Off: off + 16, Field: "section descriptor next",
				Msg: fmt.Sprintf("%#x does not lie after this %q section at %#x", next, printable(typ), off)}
		}
		if ssize != 0 && ssize != next-off {
			return 0, &FormatError{File: seg.name, Off: off + 24, Field: "section descriptor size",
				Msg: fmt.Sprintf("%d disagrees with the next offset %#x (%d bytes): the file can be read two ways, refusing", ssize, next, next-off)}
		}
		if err := w.section(seg, typ, off, next); err != nil {
			return 0, err
		}
		off = next
	}
}

func printable(s string) string {
	for _, c := range s {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%x", s)
		}
	}
	return s
}

// section handles one section whose descriptor is at off and whose data
// runs from off+76 to end.
func (w *walker) section(seg *segment, typ string, off, end int64) error {
	d := w.d
	dataOff := off + descSize
	dataLen := end - dataOff
	switch typ {
	case "header2", "header":
		w.headerSection(seg, typ, dataOff, dataLen)
	case "volume", "disk", "data":
		v, err := readVolume(seg, typ, off, dataLen)
		if err != nil {
			return err
		}
		if w.vol == nil {
			w.vol = v
			return nil
		}
		return sameVolume(w.vol, v)
	case "sectors":
		if w.vol == nil {
			return &FormatError{File: seg.name, Off: off, Field: "sectors section", Msg: "comes before any volume section"}
		}
		w.sectors = &sectorsSec{start: off, end: end}
	case "table":
		return w.tableSection(seg, off, end)
	case "table2":
		return w.table2Section(seg, off, end)
	case "error2":
		return w.error2Section(seg, dataOff, dataLen)
	case "hash":
		if dataLen < hashSize {
			return &FormatError{File: seg.name, Off: off, Field: "hash section", Msg: fmt.Sprintf("%d data bytes, want %d", dataLen, hashSize)}
		}
		var b [hashSize]byte
		if err := readFull(seg.r, b[:], dataOff); err != nil {
			return &FormatError{File: seg.name, Off: dataOff, Field: "hash section", Msg: "cannot read", err: err}
		}
		if sum, want := adler32.Checksum(b[:32]), binary.LittleEndian.Uint32(b[32:]); sum != want {
			d.warn(fmt.Sprintf("%s: hash section at %#x fails its Adler-32 (%#08x, computed %#08x): its MD5 is not used", seg.name, off, want, sum))
			return nil
		}
		md5 := nonZero(b[:16])
		if w.hashSeen && !bytes.Equal(md5, w.hashMD5) {
			d.warn(fmt.Sprintf("%s: hash section at %#x holds MD5 %x, an earlier one %x; the last one is used", seg.name, off, md5, w.hashMD5))
		}
		w.hashMD5, w.hashSeen, w.hashSeg = md5, true, seg.num
	case "digest":
		if dataLen < digestSize {
			return &FormatError{File: seg.name, Off: off, Field: "digest section", Msg: fmt.Sprintf("%d data bytes, want %d", dataLen, digestSize)}
		}
		var b [digestSize]byte
		if err := readFull(seg.r, b[:], dataOff); err != nil {
			return &FormatError{File: seg.name, Off: dataOff, Field: "digest section", Msg: "cannot read", err: err}
		}
		if sum, want := adler32.Checksum(b[:76]), binary.LittleEndian.Uint32(b[76:]); sum != want {
			d.warn(fmt.Sprintf("%s: digest section at %#x fails its Adler-32 (%#08x, computed %#08x): its MD5 and SHA-1 are not used", seg.name, off, want, sum))
			return nil
		}
		md5, sha1 := nonZero(b[:16]), nonZero(b[16:36])
		if w.digestSeen && (!bytes.Equal(md5, w.digestMD5) || !bytes.Equal(sha1, w.digestSHA1)) {
			d.warn(fmt.Sprintf("%s: digest section at %#x differs from an earlier one; the last one is used", seg.name, off))
		}
		w.digestMD5, w.digestSHA1, w.digestSeen, w.hashSeg = md5, sha1, true, seg.num
	case "incomplete":
		return &FormatError{File: seg.name, Off: off, Field: "incomplete section", Msg: "the acquiring program marked this segment set incomplete"}
	case "ltree", "ltypes", "map":
		return &UnsupportedError{File: seg.name, Msg: fmt.Sprintf("%q section at %#x: this is logical evidence (files, not a disk image), not supported", typ, off)}
	case "session":
		d.warn(fmt.Sprintf("%s: optical media session section at %#x ignored (sessions and tracks are not reported)", seg.name, off))
	case "xheader", "xhash":
		// EWF-X (libewf experimental): XML copies of header and hash
		// values, which the header2/header and hash sections also hold.
	default:
		d.warn(fmt.Sprintf("%s: unknown section %q at %#x ignored", seg.name, printable(typ), off))
	}
	return nil
}

func nonZero(b []byte) []byte {
	for _, c := range b {
		if c != 0 {
			return append([]byte(nil), b...)
		}
	}
	return nil
}

func readVolume(seg *segment, typ string, off, dataLen int64) (*volume, error) {
	dataOff := off + descSize
	v := &volume{off: off, file: seg.name}
	var b []byte
	switch {
	case dataLen >= volumeE01Size:
		b = make([]byte, volumeE01Size)
	case dataLen >= volumeSMART:
		b = make([]byte, volumeSMART)
		v.smart = true
	default:
		return nil, &FormatError{File: seg.name, Off: off, Field: typ + " section",
			Msg: fmt.Sprintf("%d data bytes, want %d (E01) or %d (SMART)", dataLen, volumeE01Size, volumeSMART)}
	}
	if err := readFull(seg.r, b, dataOff); err != nil {
		return nil, &FormatError{File: seg.name, Off: dataOff, Field: typ + " section", Msg: "cannot read", err: err}
	}
	le := binary.LittleEndian
	v.chunks = le.Uint32(b[4:])
	v.spc = le.Uint32(b[8:])
	v.bps = le.Uint32(b[12:])
	if v.smart {
		v.sectors = uint64(le.Uint32(b[16:]))
		if sum, want := adler32.Checksum(b[:90]), le.Uint32(b[90:]); sum != want {
			return nil, &FormatError{File: seg.name, Off: dataOff + 90, Field: typ + " section checksum", Msg: fmt.Sprintf("Adler-32 %#08x, computed %#08x", want, sum)}
		}
	} else {
		v.mediaType = b[0]
		v.sectors = le.Uint64(b[16:])
		v.flags = b[36]
		v.compLevel = b[52]
		copy(v.guid[:], b[64:80])
		// Logicube Talon/Dossier write 0 here.
		if sum, want := adler32.Checksum(b[:1048]), le.Uint32(b[1048:]); want != 0 && sum != want {
			return nil, &FormatError{File: seg.name, Off: dataOff + 1048, Field: typ + " section checksum", Msg: fmt.Sprintf("Adler-32 %#08x, computed %#08x", want, sum)}
		}
	}
	fe := func(o int64, field, msg string) error {
		return &FormatError{File: seg.name, Off: dataOff + o, Field: typ + " section " + field, Msg: msg}
	}
	if v.bps == 0 || v.bps > 1<<16 {
		return nil, fe(12, "bytes per sector", fmt.Sprintf("%d is not a plausible sector size", v.bps))
	}
	if v.spc == 0 || uint64(v.spc)*uint64(v.bps) > maxChunkSize {
		return nil, fe(8, "sectors per chunk", fmt.Sprintf("%d sectors of %d bytes: chunk size must be 1 byte to 16 MiB", v.spc, v.bps))
	}
	if v.sectors > (1<<62)/uint64(v.bps) {
		return nil, fe(16, "number of sectors", fmt.Sprintf("%d sectors of %d bytes is not a plausible media size", v.sectors, v.bps))
	}
	if want := (v.sectors + uint64(v.spc) - 1) / uint64(v.spc); uint64(v.chunks) != want {
		return nil, fe(4, "number of chunks", fmt.Sprintf("%d, but %d sectors in chunks of %d sectors make %d chunks", v.chunks, v.sectors, v.spc, want))
	}
	return v, nil
}

// sameVolume checks that a later volume or data section describes the
// same media as the first one (and, for E01, the same segment set GUID).
func sameVolume(a, b *volume) error {
	diff := func(field string, x, y any) error {
		return &FormatError{File: b.file, Off: b.off, Field: "data section " + field,
			Msg: fmt.Sprintf("%v, but the volume section of %s at %#x says %v: the segment files do not belong to one set", y, a.file, a.off, x)}
	}
	switch {
	case a.chunks != b.chunks:
		return diff("number of chunks", a.chunks, b.chunks)
	case a.spc != b.spc:
		return diff("sectors per chunk", a.spc, b.spc)
	case a.bps != b.bps:
		return diff("bytes per sector", a.bps, b.bps)
	case a.sectors != b.sectors:
		return diff("number of sectors", a.sectors, b.sectors)
	case !a.smart && !b.smart && a.guid != b.guid:
		return diff("set GUID", hex.EncodeToString(a.guid[:]), hex.EncodeToString(b.guid[:]))
	}
	return nil
}

func (w *walker) tableSection(seg *segment, off, end int64) error {
	if w.vol == nil {
		return &FormatError{File: seg.name, Off: off, Field: "table section", Msg: "comes before any volume section"}
	}
	t, err := readTableHeader(seg, "table", off, end)
	if err != nil {
		return err
	}
	if t == nil { // no entries
		return nil
	}
	t.first = w.nextChunk
	if t.n > int64(w.vol.chunks)-w.nextChunk {
		return &FormatError{File: seg.name, Off: off + descSize, Field: "table number of entries",
			Msg: fmt.Sprintf("%d entries after %d chunks exceed the %d chunks of the volume section", t.n, w.nextChunk, w.vol.chunks)}
	}
	if s := w.sectors; s != nil {
		// EnCase 2 and later: the chunks are in the latest sectors
		// section; the last chunk runs at most to its end. EnCase 6.8+
		// may follow a sectors section of more than 2 GiB with several
		// tables, each with its own base offset (not seen here).
		t.lo, t.hi = s.start+descSize, s.end
		t.footer = true
	} else {
		// EWF, SMART and EnCase 1: the chunks follow the entries inside
		// the table section. Whether a 4-byte checksum of the entries
		// comes first is known from the first entry (checked on load).
		t.lo, t.hi = t.entOff+4*t.n, end
		t.footerMaybe = true
	}
	w.nextChunk += t.n
	w.d.tables = append(w.d.tables, t)
	w.lastTable = t
	return nil
}

func (w *walker) table2Section(seg *segment, off, end int64) error {
	t2, err := readTableHeader(seg, "table2", off, end)
	if err != nil {
		return err
	}
	t := w.lastTable
	if t2 == nil || t == nil || t.seg != seg || t.alt != 0 {
		w.d.warn(fmt.Sprintf("%s: table2 section at %#x follows no table section and was ignored", seg.name, off))
		return nil
	}
	if t2.n != t.n || t2.base != t.base {
		w.d.warn(fmt.Sprintf("%s: table2 section at %#x (%d entries, base %#x) does not mirror the table at %#x (%d entries, base %#x) and was ignored",
			seg.name, off, t2.n, t2.base, t.off, t.n, t.base))
		return nil
	}
	t.alt = t2.entOff
	t.altOff = off
	return nil
}

// readTableHeader reads the 24-byte header of a table or table2 section
// and bounds its entry count by the section size. It returns nil, nil for
// a table with no entries.
func readTableHeader(seg *segment, typ string, off, end int64) (*table, error) {
	dataOff := off + descSize
	var b [tableHdrSize]byte
	if end-dataOff < tableHdrSize {
		return nil, &FormatError{File: seg.name, Off: off, Field: typ + " section", Msg: fmt.Sprintf("%d data bytes, shorter than the 24-byte table header", end-dataOff)}
	}
	if err := readFull(seg.r, b[:], dataOff); err != nil {
		return nil, &FormatError{File: seg.name, Off: dataOff, Field: typ + " header", Msg: "cannot read", err: err}
	}
	le := binary.LittleEndian
	if sum, want := adler32.Checksum(b[:20]), le.Uint32(b[20:]); sum != want {
		return nil, &FormatError{File: seg.name, Off: dataOff + 20, Field: typ + " header checksum", Msg: fmt.Sprintf("Adler-32 %#08x, computed %#08x", want, sum)}
	}
	n := int64(le.Uint32(b[0:]))
	base := int64(le.Uint64(b[8:]))
	if n == 0 {
		return nil, nil
	}
	entOff := dataOff + tableHdrSize
	if n > (end-entOff)/4 {
		return nil, &FormatError{File: seg.name, Off: dataOff, Field: typ + " number of entries",
			Msg: fmt.Sprintf("%d entries of 4 bytes do not fit in the %d bytes of the section", n, end-entOff)}
	}
	if base < 0 || base > seg.size {
		return nil, &FormatError{File: seg.name, Off: dataOff + 8, Field: typ + " base offset", Msg: fmt.Sprintf("%#x lies outside the file (size %#x)", base, seg.size)}
	}
	return &table{seg: seg, n: n, base: base, off: off, entOff: entOff}, nil
}

func (w *walker) error2Section(seg *segment, dataOff, dataLen int64) error {
	d := w.d
	if w.vol == nil {
		return &FormatError{File: seg.name, Off: dataOff - descSize, Field: "error2 section", Msg: "comes before any volume section"}
	}
	if dataLen < error2HdrSize {
		return &FormatError{File: seg.name, Off: dataOff - descSize, Field: "error2 section", Msg: fmt.Sprintf("%d data bytes, shorter than the 520-byte header", dataLen)}
	}
	var h [error2HdrSize]byte
	if err := readFull(seg.r, h[:], dataOff); err != nil {
		return &FormatError{File: seg.name, Off: dataOff, Field: "error2 header", Msg: "cannot read", err: err}
	}
	le := binary.LittleEndian
	if sum, want := adler32.Checksum(h[:516]), le.Uint32(h[516:]); sum != want {
		return &FormatError{File: seg.name, Off: dataOff + 516, Field: "error2 header checksum", Msg: fmt.Sprintf("Adler-32 %#08x, computed %#08x", want, sum)}
	}
	n := int64(le.Uint32(h[:]))
	entOff := dataOff + error2HdrSize
	if n > (dataLen-error2HdrSize-4)/8 {
		return &FormatError{File: seg.name, Off: dataOff, Field: "error2 number of entries",
			Msg: fmt.Sprintf("%d entries of 8 bytes and a checksum do not fit in the %d bytes of the section", n, dataLen)}
	}
	if n > maxError2 {
		return &FormatError{File: seg.name, Off: dataOff, Field: "error2 number of entries",
			Msg: fmt.Sprintf("%d entries: more than this reader accepts (%d)", n, maxError2)}
	}
	w.errors2++
	if w.errors2 > 1 {
		d.warn(fmt.Sprintf("%s: more than one error2 section; the ranges of all are reported", seg.name))
	}
	b := make([]byte, 8*n+4)
	if err := readFull(seg.r, b, entOff); err != nil {
		return &FormatError{File: seg.name, Off: entOff, Field: "error2 entries", Msg: "cannot read", err: err}
	}
	if sum, want := adler32.Checksum(b[:8*n]), le.Uint32(b[8*n:]); sum != want {
		return &FormatError{File: seg.name, Off: entOff + 8*n, Field: "error2 entries checksum", Msg: fmt.Sprintf("Adler-32 %#08x, computed %#08x", want, sum)}
	}
	bps := int64(w.vol.bps)
	for i := int64(0); i < n; i++ {
		start := int64(le.Uint32(b[8*i:]))
		count := int64(le.Uint32(b[8*i+4:]))
		if count == 0 || uint64(start+count) > w.vol.sectors {
			return &FormatError{File: seg.name, Off: entOff + 8*i, Field: fmt.Sprintf("error2 entry %d", i),
				Msg: fmt.Sprintf("sectors %d+%d do not lie within the %d sectors of the media", start, count, w.vol.sectors)}
		}
		d.unreadable = append(d.unreadable, Range{Off: start * bps, Len: count * bps})
	}
	return nil
}

// finish checks the set as a whole once every segment has been walked.
func (w *walker) finish() error {
	d := w.d
	v := w.vol
	last := d.segs[len(d.segs)-1]
	if v == nil {
		return &FormatError{File: d.name, Off: fileHeaderSize, Field: "volume section", Msg: "the segment set has no volume, disk or data section"}
	}
	if w.nextChunk != int64(v.chunks) {
		return &FormatError{File: v.file, Off: v.off + descSize + 4, Field: "volume section number of chunks",
			Msg: fmt.Sprintf("%d chunks, but the tables of the %d segment files hold %d", v.chunks, len(d.segs), w.nextChunk)}
	}
	d.bps = int64(v.bps)
	d.chunkSize = int64(v.spc) * int64(v.bps)
	d.chunks = int64(v.chunks)
	d.size = int64(v.sectors) * int64(v.bps)
	d.vol = *v

	// Hashes: the digest section (MD5 and SHA-1) and the hash section
	// (MD5) should agree when both are present.
	d.md5 = w.digestMD5
	if d.md5 == nil {
		d.md5 = w.hashMD5
	} else if w.hashMD5 != nil && !bytes.Equal(w.hashMD5, w.digestMD5) {
		d.warn(fmt.Sprintf("%s: the hash section's MD5 %x differs from the digest section's %x; the digest's is used", last.name, w.hashMD5, w.digestMD5))
	}
	d.sha1 = w.digestSHA1
	if (w.hashSeen || w.digestSeen) && w.hashSeg != last.num {
		d.warn(fmt.Sprintf("the stored media hashes come from segment %d, not from the last segment (%s) where writers put them", w.hashSeg, last.name))
	}

	switch {
	case w.header2 != nil:
		d.header = *w.header2
		d.hasHeader = true
		if w.headerSec != nil {
			for _, k := range []string{"c", "n", "a", "e", "t", "av", "ov"} {
				x, y := w.header2.Values[k], w.headerSec.Values[k]
				if x != y && isASCII(x) {
					d.warn(fmt.Sprintf("header2 and header sections disagree on %q: %q and %q; header2's is used", k, x, y))
				}
			}
		}
	case w.headerSec != nil:
		d.header = *w.headerSec
		d.hasHeader = true
	}
	for _, m := range w.headerErr {
		d.warn(m)
	}

	sort.Slice(d.unreadable, func(i, j int) bool { return d.unreadable[i].Off < d.unreadable[j].Off })
	if n := len(d.unreadable); n > 0 {
		var sum int64
		for _, r := range d.unreadable {
			sum += r.Len
		}
		d.warn(fmt.Sprintf("the acquiring program could not read %d sector ranges (%d bytes, error2 section); it stored them as zeros", n, sum))
	}

	d.format = "EWF-E01"
	switch {
	case v.smart:
		d.format = "EWF-S01 (SMART layout)"
	case len(d.tables) > 0 && d.tables[0].footerMaybe:
		d.format = "EWF-E01 (EnCase 1 layout)"
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// segmentName returns the name of segment num (2 or more) of the set whose
// first segment is named first: x.E01 → x.E02 … x.E99, x.EAA … x.EZZ,
// x.FAA … x.ZZZ; the same for .s01 (SMART) with lower-case letters.
func segmentName(first string, num int) (string, error) {
	i := strings.LastIndexByte(first, '.')
	if i < 0 || len(first)-i != 4 || first[i+2:] != "01" {
		return "", fmt.Errorf("cannot name segment %d: the first segment's name %q does not end in .E01 (or .s01)", num, first)
	}
	c := first[i+1]
	var a byte // 'A' or 'a'
	switch {
	case c >= 'A' && c <= 'Z':
		a = 'A'
	case c >= 'a' && c <= 'z':
		a = 'a'
	default:
		return "", fmt.Errorf("cannot name segment %d: the first segment's name %q does not end in .E01 (or .s01)", num, first)
	}
	if num < 100 {
		return fmt.Sprintf("%s%c%02d", first[:i+1], c, num), nil
	}
	k := num - 100
	lead := int(c-a) + k/(26*26)
	if lead >= 26 {
		return "", errors.New("cannot name segment " + fmt.Sprint(num) + ": past the last extension (.ZZZ)")
	}
	return fmt.Sprintf("%s%c%c%c", first[:i+1], a+byte(lead), a+byte(k/26%26), a+byte(k%26)), nil
}
