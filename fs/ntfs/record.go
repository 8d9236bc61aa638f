package ntfs

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf16"
)

// Attribute type codes.
const (
	AttrStandardInformation = 0x10
	AttrAttributeList       = 0x20
	AttrFileName            = 0x30
	AttrVolumeName          = 0x60
	AttrVolumeInformation   = 0x70
	AttrData                = 0x80
	AttrIndexRoot           = 0x90
	AttrIndexAllocation     = 0xA0
	AttrBitmap              = 0xB0
	attrEnd                 = 0xFFFFFFFF
)

// Record flags (FILE record header at 0x16).
const (
	RecordInUse     = 0x0001
	RecordDirectory = 0x0002
)

// FixupStride is the distance between protected words: always 512 bytes,
// whatever the sector size.
const FixupStride = 512

// Fixup verifies and undoes the update sequence array of a multi-sector
// structure (FILE record, INDX block, $LogFile page) in place. usaOfs and
// usaCount are read from the header at 0x04 and 0x06. It returns the index
// of the first 512-byte block whose last word does not hold the update
// sequence number (-1 when every block verifies), or an error when the
// array itself is malformed. Blocks that do verify are restored even when
// a later one fails.
func Fixup(b []byte) (torn int, err error) {
	if len(b) < 8 {
		return -1, fmt.Errorf("%d bytes hold no update sequence header", len(b))
	}
	usaOfs := int(binary.LittleEndian.Uint16(b[4:]))
	usaCount := int(binary.LittleEndian.Uint16(b[6:]))
	if usaCount < 2 || usaOfs < 8 || usaOfs%2 != 0 || usaOfs+2*usaCount > len(b) {
		return -1, fmt.Errorf("update sequence array (offset %#x, %d words) does not fit %d bytes", usaOfs, usaCount, len(b))
	}
	if (usaCount-1)*FixupStride > len(b) {
		return -1, fmt.Errorf("update sequence array has %d words for %d bytes", usaCount, len(b))
	}
	usn := binary.LittleEndian.Uint16(b[usaOfs:])
	torn = -1
	for i := 1; i < usaCount; i++ {
		end := i*FixupStride - 2
		if binary.LittleEndian.Uint16(b[end:]) != usn {
			if torn < 0 {
				torn = i - 1
			}
			continue
		}
		copy(b[end:end+2], b[usaOfs+2*i:usaOfs+2*i+2])
	}
	return torn, nil
}

// Run is one run of a non-resident attribute: Len clusters of the stream
// starting at VCN, stored at LCN, or not stored at all when Sparse.
type Run struct {
	VCN, LCN, Len int64
	Sparse        bool
}

// DecodeRuns decodes mapping pairs (a runlist) starting at virtual cluster
// startVCN. It keeps sparse runs (offset size 0) as Sparse with LCN -1.
func DecodeRuns(b []byte, startVCN int64) ([]Run, error) {
	var runs []Run
	vcn, lcn := startVCN, int64(0)
	for i := 0; i < len(b); {
		h := b[i]
		if h == 0 {
			return runs, nil
		}
		ls, os := int(h&0x0F), int(h>>4)
		if ls == 0 || ls > 8 || os > 8 {
			return runs, fmt.Errorf("run header %#02x at byte %d", h, i)
		}
		if i+1+ls+os > len(b) {
			return runs, fmt.Errorf("run at byte %d runs past the %d-byte mapping pairs", i, len(b))
		}
		n := signed(b[i+1 : i+1+ls])
		if n <= 0 {
			return runs, fmt.Errorf("run at byte %d has length %d", i, n)
		}
		r := Run{VCN: vcn, Len: n, LCN: -1, Sparse: os == 0}
		if os > 0 {
			lcn += signed(b[i+1+ls : i+1+ls+os])
			if lcn < 0 {
				return runs, fmt.Errorf("run at byte %d starts at negative LCN %d", i, lcn)
			}
			r.LCN = lcn
		}
		if vcn+n < vcn {
			return runs, fmt.Errorf("run at byte %d overflows the VCN range", i)
		}
		vcn += n
		runs = append(runs, r)
		i += 1 + ls + os
	}
	return runs, fmt.Errorf("mapping pairs not terminated")
}

// signed decodes a little-endian two's-complement integer of 1..8 bytes.
func signed(b []byte) int64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if n := uint(len(b)) * 8; n < 64 && b[len(b)-1]&0x80 != 0 {
		v |= ^uint64(0) << n
	}
	return int64(v)
}

// Attr is one attribute as stored in a FILE record.
type Attr struct {
	Type     uint32
	Name     string
	ID       uint16
	Flags    uint16
	Resident bool
	Value    []byte // resident value
	// Non-resident attributes:
	StartVCN, LastVCN int64
	AllocSize         int64
	DataSize          int64
	Runs              []Run
	RunErr            error // mapping pairs that did not decode to the end
	Off               int   // offset of the attribute in its record
}

// Record is a decoded FILE record.
type Record struct {
	Number     int64 // record number (its position in $MFT)
	Magic      string
	LSN        uint64
	Seq        uint16
	Links      uint16
	Flags      uint16
	BytesInUse uint32
	BytesAlloc uint32
	Base       int64 // base record number, 0 when this is a base record
	Torn       int   // first 512-byte block with a mismatching update sequence, -1 if none
	Attrs      []Attr
	Err        error // structural damage found while decoding
}

// InUse reports the in-use flag.
func (r *Record) InUse() bool { return r.Flags&RecordInUse != 0 }

// IsDir reports the directory flag.
func (r *Record) IsDir() bool { return r.Flags&RecordDirectory != 0 }

// maxAttrs bounds the attributes decoded from one record.
const maxAttrs = 512

// ParseRecord applies the fixups of a raw FILE record (in place) and decodes
// its header and attributes. It returns an error only when b is not a FILE
// record at all (wrong magic, malformed update sequence array); damage
// after that is in Record.Err and a torn block in Record.Torn.
func ParseRecord(b []byte, number int64) (*Record, error) {
	if len(b) < 0x30 {
		return nil, fmt.Errorf("record of %d bytes", len(b))
	}
	r := &Record{Number: number, Magic: string(b[:4]), Torn: -1}
	if r.Magic != "FILE" {
		return r, fmt.Errorf("magic %q", r.Magic)
	}
	torn, err := Fixup(b)
	if err != nil {
		return r, err
	}
	r.Torn = torn
	le := binary.LittleEndian
	r.LSN = le.Uint64(b[0x08:])
	r.Seq = le.Uint16(b[0x10:])
	r.Links = le.Uint16(b[0x12:])
	attrOff := int(le.Uint16(b[0x14:]))
	r.Flags = le.Uint16(b[0x16:])
	r.BytesInUse = le.Uint32(b[0x18:])
	r.BytesAlloc = le.Uint32(b[0x1C:])
	r.Base = int64(le.Uint64(b[0x20:]) & 0xFFFFFFFFFFFF)
	end := len(b)
	if int64(r.BytesInUse) < int64(end) {
		end = int(r.BytesInUse)
	}
	if attrOff < 0x18 || attrOff >= end {
		r.Err = fmt.Errorf("first attribute offset %#x outside the %d used bytes", attrOff, end)
		return r, nil
	}
	for off := attrOff; len(r.Attrs) < maxAttrs; {
		if off+4 > end {
			r.Err = fmt.Errorf("attribute list not terminated within %d used bytes", end)
			break
		}
		typ := le.Uint32(b[off:])
		if typ == attrEnd {
			break
		}
		if off+16 > end {
			r.Err = fmt.Errorf("attribute at %#x truncated", off)
			break
		}
		alen := int(le.Uint32(b[off+4:]))
		if alen < 16 || alen%8 != 0 || alen > end-off {
			r.Err = fmt.Errorf("attribute %#x at %#x has length %d", typ, off, alen)
			break
		}
		a, err := parseAttr(b[off:off+alen], typ)
		a.Off = off
		if err != nil {
			r.Err = fmt.Errorf("attribute %#x at %#x: %v", typ, off, err)
			break
		}
		r.Attrs = append(r.Attrs, a)
		off += alen
	}
	return r, nil
}

func parseAttr(b []byte, typ uint32) (Attr, error) {
	le := binary.LittleEndian
	a := Attr{Type: typ, Resident: b[8] == 0, Flags: le.Uint16(b[0x0C:]), ID: le.Uint16(b[0x0E:])}
	if nl := int(b[9]); nl > 0 {
		no := int(le.Uint16(b[0x0A:]))
		if no+2*nl > len(b) {
			return a, fmt.Errorf("name past the attribute")
		}
		a.Name = utf16String(b[no : no+2*nl])
	}
	if a.Resident {
		if len(b) < 0x18 {
			return a, fmt.Errorf("resident header truncated")
		}
		vl := int64(le.Uint32(b[0x10:]))
		vo := int64(le.Uint16(b[0x14:]))
		if vo+vl > int64(len(b)) {
			return a, fmt.Errorf("value (%d bytes at %#x) past the attribute", vl, vo)
		}
		a.Value = b[vo : vo+vl]
		return a, nil
	}
	if len(b) < 0x40 {
		return a, fmt.Errorf("non-resident header truncated")
	}
	a.StartVCN = int64(le.Uint64(b[0x10:]))
	a.LastVCN = int64(le.Uint64(b[0x18:]))
	ro := int(le.Uint16(b[0x20:]))
	a.AllocSize = int64(le.Uint64(b[0x28:]))
	a.DataSize = int64(le.Uint64(b[0x30:]))
	if ro < 0x40 || ro > len(b) {
		return a, fmt.Errorf("mapping pairs offset %#x", ro)
	}
	if a.StartVCN < 0 {
		return a, fmt.Errorf("start VCN %d", a.StartVCN)
	}
	a.Runs, a.RunErr = DecodeRuns(b[ro:], a.StartVCN)
	return a, nil
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// find returns the first attribute of type t named name.
func (r *Record) find(t uint32, name string) *Attr {
	for i := range r.Attrs {
		if r.Attrs[i].Type == t && r.Attrs[i].Name == name {
			return &r.Attrs[i]
		}
	}
	return nil
}

// fileName is a decoded $FILE_NAME value.
type fileName struct {
	parent    int64
	name      string
	namespace byte
}

func parseFileName(v []byte) (fileName, bool) {
	if len(v) < 0x42 {
		return fileName{}, false
	}
	n := int(v[0x40])
	if 0x42+2*n > len(v) {
		return fileName{}, false
	}
	return fileName{
		parent:    int64(binary.LittleEndian.Uint64(v) & 0xFFFFFFFFFFFF),
		namespace: v[0x41],
		name:      utf16String(v[0x42 : 0x42+2*n]),
	}, true
}

// filetime converts an NTFS FILETIME (100 ns since 1601) to time.Time; ok
// is false for 0 and values outside 1970..2200.
func filetime(ft uint64) (time.Time, bool) {
	const epochDiff = 116444736000000000 // 1601 → 1970 in 100 ns
	const max2200 = epochDiff + 7258118400*10000000
	if ft <= epochDiff || ft > max2200 {
		return time.Time{}, false
	}
	d := ft - epochDiff
	return time.Unix(int64(d/10000000), int64(d%10000000)*100).UTC(), true
}
