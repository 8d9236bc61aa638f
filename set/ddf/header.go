package ddf

import (
	"encoding/binary"
	"fmt"
	"time"
)

var be = binary.BigEndian

// SectorSize is the unit of every LBA, offset and length in DDF metadata.
const SectorSize = 512

// Byte offsets of ddf_header fields.
const (
	hMagic         = 0
	hCRC           = 4
	hGUID          = 8
	hRevision      = 32
	hSeq           = 40
	hTimeStamp     = 44
	hOpenFlag      = 48
	hForeignFlag   = 49
	hEnforceGroups = 50
	hPrimaryLBA    = 96
	hSecondaryLBA  = 104
	hType          = 112
	hPad2          = 113 // from here to the end, primary and secondary equal the anchor
	hWorkspaceLen  = 116
	hWorkspaceLBA  = 120
	hMaxPD         = 128
	hMaxVD         = 130
	hMaxPartitions = 132
	hConfigRecLen  = 134
	hMaxPrimElem   = 136
	hSections      = 192
	headerBytes    = 512
)

// SectionKind names one of the eight sections a header locates.
type SectionKind int

// The sections in the order of their offset/length pairs in the header.
const (
	SecController SectionKind = iota
	SecPhys
	SecVirt
	SecConfig
	SecDiskData
	SecBBM
	SecDiag
	SecVendor
	numSections
)

var sectionNames = [numSections]string{"controller_section", "phys_section", "virt_section", "config_section", "data_section", "bbm_section", "diag_space", "vendor"}

// String is the section's name as in super-ddf.c ("phys_section").
func (k SectionKind) String() string {
	if k >= 0 && k < numSections {
		return sectionNames[k]
	}
	return fmt.Sprintf("SectionKind(%d)", int(k))
}

// Section is a section's place relative to its header: sectors after the
// header's own LBA, and length in sectors. An absent section has offset
// 0xffffffff (mdadm) and length 0.
type Section struct {
	Offset, Length uint32
}

// Header is one decoded ddf_header (anchor, primary or secondary).
type Header struct {
	Offset       int64  // byte offset of the header in the image
	Magic        uint32 // HeaderMagic
	CRC          uint32 // as stored
	ComputedCRC  uint32 // computed over Raw
	GUID         GUID   // the container GUID
	Revision     string // "01.02.00"
	Seq          uint32 // update counter; 0xffffffff in mdadm's anchor
	TimeStamp    uint32 // seconds since 1980 (see Time)
	OpenFlag     uint8  // nonzero while an update is being written (0xff in the anchor)
	ForeignFlag  uint8
	DiskGrouping uint8 // enforcegroups
	PrimaryLBA   uint64
	SecondaryLBA uint64 // ^0: no secondary copy
	Type         uint8  // TypeAnchor, TypePrimary, TypeSecondary
	WorkspaceLen uint32 // sectors
	WorkspaceLBA uint64

	MaxPDEntries             uint16
	MaxVDEntries             uint16
	MaxPartitions            uint16 // configuration records per disk
	ConfigRecordLen          uint16 // sectors per configuration record
	MaxPrimaryElementEntries uint16 // mppe: slots in each configuration record

	Sections [numSections]Section // indexed by SectionKind

	Raw []byte // the 512 bytes decoded
}

// CRCOK reports whether the stored CRC equals the computed one.
func (h *Header) CRCOK() bool { return h.CRC == h.ComputedCRC }

// Time is the header's time stamp in UTC.
func (h *Header) Time() time.Time { return Time(h.TimeStamp) }

// TypeString is "anchor", "primary" or "secondary".
func (h *Header) TypeString() string { return headerTypeName(h.Type) }

func headerTypeName(t uint8) string {
	switch t {
	case TypeAnchor:
		return "anchor"
	case TypePrimary:
		return "primary"
	case TypeSecondary:
		return "secondary"
	}
	return fmt.Sprintf("type %d", t)
}

// decodeHeader decodes a 512-byte ddf_header found at byte off. Only the
// magic is checked; geometry is checked against the image by Read.
func decodeHeader(raw []byte, off int64) (*Header, error) {
	if len(raw) < headerBytes {
		return nil, &FormatError{Off: off, Field: "ddf_header", Msg: fmt.Sprintf("needs %d bytes, %d given", headerBytes, len(raw))}
	}
	raw = raw[:headerBytes]
	if m := be.Uint32(raw[hMagic:]); m != HeaderMagic {
		return nil, &FormatError{Off: off + hMagic, Field: "magic", Value: fmt.Sprintf("%#08x", m), Msg: fmt.Sprintf("is not %#x", HeaderMagic)}
	}
	h := &Header{
		Offset:                   off,
		Magic:                    HeaderMagic,
		CRC:                      be.Uint32(raw[hCRC:]),
		ComputedCRC:              CRC(raw, crcOff),
		Revision:                 string(raw[hRevision : hRevision+8]),
		Seq:                      be.Uint32(raw[hSeq:]),
		TimeStamp:                be.Uint32(raw[hTimeStamp:]),
		OpenFlag:                 raw[hOpenFlag],
		ForeignFlag:              raw[hForeignFlag],
		DiskGrouping:             raw[hEnforceGroups],
		PrimaryLBA:               be.Uint64(raw[hPrimaryLBA:]),
		SecondaryLBA:             be.Uint64(raw[hSecondaryLBA:]),
		Type:                     raw[hType],
		WorkspaceLen:             be.Uint32(raw[hWorkspaceLen:]),
		WorkspaceLBA:             be.Uint64(raw[hWorkspaceLBA:]),
		MaxPDEntries:             be.Uint16(raw[hMaxPD:]),
		MaxVDEntries:             be.Uint16(raw[hMaxVD:]),
		MaxPartitions:            be.Uint16(raw[hMaxPartitions:]),
		ConfigRecordLen:          be.Uint16(raw[hConfigRecLen:]),
		MaxPrimaryElementEntries: be.Uint16(raw[hMaxPrimElem:]),
		Raw:                      append([]byte(nil), raw...),
	}
	copy(h.GUID[:], raw[hGUID:])
	for k := range h.Sections {
		h.Sections[k] = Section{Offset: be.Uint32(raw[hSections+8*k:]), Length: be.Uint32(raw[hSections+8*k+4:])}
	}
	return h, nil
}

// headerField names the ddf_header field holding byte i (for the first
// difference between a header and its anchor).
func headerField(i int) string {
	switch {
	case i < hCRC:
		return "magic"
	case i < hGUID:
		return "crc"
	case i < hRevision:
		return "guid"
	case i < hSeq:
		return "revision"
	case i < hTimeStamp:
		return "seq"
	case i < hOpenFlag:
		return "timestamp"
	case i == hOpenFlag:
		return "openflag"
	case i == hForeignFlag:
		return "foreignflag"
	case i == hEnforceGroups:
		return "enforcegroups"
	case i < hPrimaryLBA:
		return "pad1"
	case i < hSecondaryLBA:
		return "primary_lba"
	case i < hType:
		return "secondary_lba"
	case i == hType:
		return "type"
	case i < hWorkspaceLen:
		return "pad2"
	case i < hWorkspaceLBA:
		return "workspace_len"
	case i < hMaxPD:
		return "workspace_lba"
	case i < hMaxVD:
		return "max_pd_entries"
	case i < hMaxPartitions:
		return "max_vd_entries"
	case i < hConfigRecLen:
		return "max_partitions"
	case i < hMaxPrimElem:
		return "config_record_len"
	case i < hMaxPrimElem+2:
		return "max_primary_element_entries"
	case i < hSections:
		return "pad3"
	case i < hSections+8*int(numSections):
		k := SectionKind((i - hSections) / 8)
		if (i-hSections)%8 < 4 {
			return k.String() + "_offset"
		}
		return k.String() + "_length"
	}
	return "pad4"
}

// sectionField is the byte offset, within a header, of section k's offset
// (length: +4).
func sectionField(k SectionKind) int64 { return hSections + 8*int64(k) }
