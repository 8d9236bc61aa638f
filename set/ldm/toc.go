package ldm

import (
	"encoding/binary"
	"fmt"
	"time"
)

// TOCBlock is a decoded TOCBLOCK: the database's table of contents, with
// its two areas ("bitmaps"): "config" (the VMDB and its VBLKs) and "log".
type TOCBlock struct {
	Offset  int64     // byte offset in the image
	Seq1    uint32    // 0x08
	Seq2    uint32    // 0x10
	Bitmaps [2]Bitmap // 0x24 "config", 0x46 "log"
	Raw     []byte    // the 512 bytes decoded
}

// Bitmap is one TOCBLOCK area. Start and Size are in sectors from the
// database start.
type Bitmap struct {
	Name   string // "config" or "log"
	Flags1 uint16
	Start  uint64
	Size   uint64
	Flags2 uint64
}

// Config returns the "config" area: where the VMDB and the VBLKs lie.
func (t *TOCBlock) Config() Bitmap { return t.Bitmaps[0] }

// Log returns the "log" area (KLOG sectors, not decoded).
func (t *TOCBlock) Log() Bitmap { return t.Bitmaps[1] }

// SameAreas reports whether two TOCBLOCKs describe the same areas (the
// kernel's comparison of the copies; the sequence numbers may differ).
func (t *TOCBlock) SameAreas(o *TOCBlock) bool { return t.Bitmaps == o.Bitmaps }

// DecodeTOCBlock decodes the TOCBLOCK sector raw found at byte off and
// checks that both areas lie inside a database of dbSectors sectors.
func DecodeTOCBlock(raw []byte, off int64, dbSectors uint64) (*TOCBlock, error) {
	if off < 0 || off > maxOffset {
		return nil, &FormatError{Off: off, Field: "TOCBLOCK", Msg: "offset is outside any image"}
	}
	if len(raw) < SectorSize {
		return nil, &FormatError{Off: off, Field: "TOCBLOCK", Value: len(raw), Msg: "bytes: shorter than a sector"}
	}
	b := raw[:SectorSize]
	if string(b[:8]) != "TOCBLOCK" {
		return nil, &FormatError{Off: off, Field: "TOCBLOCK.magic", Value: fmt.Sprintf("%q", b[:8]), Msg: `is not "TOCBLOCK"`}
	}
	be := binary.BigEndian
	t := &TOCBlock{Offset: off, Seq1: be.Uint32(b[0x08:]), Seq2: be.Uint32(b[0x10:]), Raw: b}
	for i, want := range []string{"config", "log"} {
		at := 0x24 + 0x22*i
		m := b[at:]
		t.Bitmaps[i] = Bitmap{Name: cString(m[:8]), Flags1: be.Uint16(m[8:]), Start: be.Uint64(m[10:]), Size: be.Uint64(m[18:]), Flags2: be.Uint64(m[26:])}
		bm := t.Bitmaps[i]
		field := fmt.Sprintf("TOCBLOCK.bitmap[%d]", i)
		switch {
		case bm.Name != want:
			return nil, &FormatError{Off: off + int64(at), Field: field + ".name", Value: fmt.Sprintf("%q", bm.Name), Msg: fmt.Sprintf("is not %q", want)}
		case bm.Start == 0 || bm.Start >= dbSectors:
			return nil, &FormatError{Off: off + int64(at) + 10, Field: field + ".start", Value: bm.Start, Msg: fmt.Sprintf("is not inside the %d-sector database", dbSectors)}
		case bm.Size == 0 || bm.Size > dbSectors-bm.Start:
			return nil, &FormatError{Off: off + int64(at) + 18, Field: field + ".size", Value: bm.Size,
				Msg: fmt.Sprintf("sectors from sector %d do not fit in the %d-sector database", bm.Start, dbSectors)}
		}
	}
	return t, nil
}

// Counts are VMDB record counts, in the VMDB's order.
type Counts struct {
	Volumes, Components, Partitions, Disks uint32
}

// VMDB is the decoded database header: the first sector of the "config"
// area, followed by the VBLK slots.
type VMDB struct {
	Offset       int64     // byte offset in the image
	LastSeq      uint32    // 0x04 vblk_last: slots up to here (counting from the VMDB sector) are VBLKs
	VBLKSize     uint32    // 0x08 vblk_size: bytes per slot (128)
	FirstOffset  uint32    // 0x0c vblk_first_offset: bytes from the VMDB to the first slot (512)
	UpdateStatus uint16    // 0x10: 1 = consistent; other values = a transaction in progress
	VersionMajor uint16    // 0x12: 4
	VersionMinor uint16    // 0x14: 10
	DiskGroup    string    // 0x16 disk group name
	DiskGroupID  string    // 0x35 disk group GUID, text form
	CommittedSeq uint64    // 0x75: id of the last committed configuration change
	PendingSeq   uint64    // 0x7d: equals CommittedSeq when no change is in progress
	Committed    Counts    // 0x85
	Pending      Counts    // 0xa1
	LastAccessed time.Time // 0xbd: FILETIME, UTC
	Raw          []byte    // the 512 bytes decoded
}

// vmdbFields is the length of the VMDB header fields (0xbd + 8).
const vmdbFields = 0xc5

// Consistent reports whether the VMDB records no transaction in progress:
// UpdateStatus 1 and nothing pending beyond the committed sequence.
func (v *VMDB) Consistent() bool { return v.UpdateStatus == 1 && v.PendingSeq == v.CommittedSeq }

// Slots is the number of VBLK slots after the VMDB header (0 when the
// layout fields cannot describe any).
func (v *VMDB) Slots() int {
	end := uint64(v.LastSeq) * uint64(v.VBLKSize)
	if v.VBLKSize == 0 || end < uint64(v.FirstOffset) {
		return 0
	}
	return int((end - uint64(v.FirstOffset)) / uint64(v.VBLKSize))
}

// AreaBytes is the byte length of the VMDB sector plus its slots, from
// the VMDB's own offset.
func (v *VMDB) AreaBytes() int64 { return int64(v.LastSeq) * int64(v.VBLKSize) }

// DecodeVMDB decodes the VMDB sector raw found at byte off and checks its
// slot layout against a config area of areaBytes bytes (the TOCBLOCK's
// "config" size).
func DecodeVMDB(raw []byte, off, areaBytes int64) (*VMDB, error) {
	if off < 0 || off > maxOffset {
		return nil, &FormatError{Off: off, Field: "VMDB", Msg: "offset is outside any image"}
	}
	if len(raw) < SectorSize {
		return nil, &FormatError{Off: off, Field: "VMDB", Value: len(raw), Msg: "bytes: shorter than a sector"}
	}
	b := raw[:SectorSize]
	if string(b[:4]) != "VMDB" {
		return nil, &FormatError{Off: off, Field: "VMDB.magic", Value: fmt.Sprintf("%q", b[:4]), Msg: `is not "VMDB"`}
	}
	be := binary.BigEndian
	v := &VMDB{
		Offset:       off,
		LastSeq:      be.Uint32(b[0x04:]),
		VBLKSize:     be.Uint32(b[0x08:]),
		FirstOffset:  be.Uint32(b[0x0c:]),
		UpdateStatus: be.Uint16(b[0x10:]),
		VersionMajor: be.Uint16(b[0x12:]),
		VersionMinor: be.Uint16(b[0x14:]),
		DiskGroup:    cString(b[0x16:0x35]),
		DiskGroupID:  cString(b[0x35:0x75]),
		CommittedSeq: be.Uint64(b[0x75:]),
		PendingSeq:   be.Uint64(b[0x7d:]),
		Committed:    Counts{be.Uint32(b[0x85:]), be.Uint32(b[0x89:]), be.Uint32(b[0x8d:]), be.Uint32(b[0x91:])},
		Pending:      Counts{be.Uint32(b[0xa1:]), be.Uint32(b[0xa5:]), be.Uint32(b[0xa9:]), be.Uint32(b[0xad:])},
		LastAccessed: fileTime(be.Uint64(b[0xbd:])),
		Raw:          b,
	}
	if err := v.check(areaBytes); err != nil {
		return nil, err
	}
	return v, nil
}

// check validates the slot layout against a config area of areaBytes
// bytes (counted from the VMDB sector) and the record counts against the
// slots.
func (v *VMDB) check(areaBytes int64) error {
	bad := func(at int64, field string, val any, msg string) error {
		return &FormatError{Off: v.Offset + at, Field: "VMDB." + field, Value: val, Msg: msg}
	}
	switch {
	case v.Offset < 0 || v.Offset > maxOffset:
		return &FormatError{Off: v.Offset, Field: "VMDB", Msg: "offset is outside any image"}
	case v.VersionMajor != 4 || v.VersionMinor != 10:
		return bad(0x12, "version", fmt.Sprintf("%d.%d", v.VersionMajor, v.VersionMinor), "is not 4.10")
	case v.VBLKSize < 32 || SectorSize%v.VBLKSize != 0:
		return bad(0x08, "vblk_size", v.VBLKSize, "is not 32, 64, 128, 256 or 512")
	case v.FirstOffset < vmdbFields || v.FirstOffset%v.VBLKSize != 0:
		return bad(0x0c, "vblk_first_offset", v.FirstOffset, fmt.Sprintf("is not a multiple of %d past the VMDB header", v.VBLKSize))
	case uint64(v.LastSeq)*uint64(v.VBLKSize) < uint64(v.FirstOffset):
		return bad(0x04, "vblk_last", v.LastSeq, fmt.Sprintf("slots of %d bytes end before the first slot at %d", v.VBLKSize, v.FirstOffset))
	case int64(v.LastSeq)*int64(v.VBLKSize) > areaBytes:
		return bad(0x04, "vblk_last", v.LastSeq, fmt.Sprintf("slots of %d bytes exceed the %d-byte config area", v.VBLKSize, areaBytes))
	}
	// Each record takes at least one slot: counts beyond the slots are lies.
	slots := uint64(v.Slots())
	for _, c := range []struct {
		at     int64
		prefix string
		n      Counts
	}{{0x85, "n_committed_vblks_", v.Committed}, {0xa1, "n_pending_vblks_", v.Pending}} {
		var sum uint64
		for i, k := range []struct {
			name string
			n    uint32
		}{{"vol", c.n.Volumes}, {"comp", c.n.Components}, {"part", c.n.Partitions}, {"disk", c.n.Disks}} {
			sum += uint64(k.n)
			if sum > slots {
				return bad(c.at+4*int64(i), c.prefix+k.name, k.n, fmt.Sprintf("records do not fit, with the others, in %d slots", slots))
			}
		}
	}
	return nil
}
