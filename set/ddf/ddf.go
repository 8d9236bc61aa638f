// Package ddf reads, and for repair rewrites, SNIA DDF (Common RAID Disk Data
// Format) metadata as written by mdadm and by firmware RAID controllers.
//
// DDF keeps an anchor header in the last sector of each disk, and a primary
// and a secondary copy of the metadata (header, controller data, physical
// disk records, virtual disk records, configuration records and this disk's
// own record) near the end of the disk. Read works on an io.ReaderAt plus the
// image size, as debug/elf and archive/zip do: every size and count read from
// the image is checked against the image and against a named cap before it
// is used, and no input makes it panic. All fields are big endian. Field
// names in errors follow mdadm's super-ddf.c.
//
// Read agrees with mdadm 4.2's --examine on images mdadm accepts (the tests
// compare the two on every fixture), with these deliberate differences:
//
//   - it checks the CRC of every section it uses, not only of the headers
//     (mdadm checks configuration record CRCs only when printing them), and
//     falls back to the other copy when one is bad;
//   - when the last sector holds no usable anchor it searches the last
//     32 MiB for the headers and reports that (Anchor nil, AnchorErr);
//     mdadm rejects such an image;
//   - it reads images of any size; mdadm refuses images of 32 MiB or less
//     and sizes that are not a multiple of 512.
package ddf

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"time"
)

// Magic numbers of the DDF structures (the first word of each).
const (
	HeaderMagic       = 0xDE11DE11
	ControllerMagic   = 0xAD111111
	PhysMagic         = 0x22222222
	DiskDataMagic     = 0x33333333
	VirtMagic         = 0xDDDDDDDD
	ConfigMagic       = 0xEEEEEEEE
	SpareMagic        = 0x55555555
	VendorConfigMagic = 0x88888888
)

// Header types (Header.Type).
const (
	TypeAnchor    = 0
	TypePrimary   = 1
	TypeSecondary = 2
)

// Revisions mdadm accepts in the anchor.
const (
	Revision0 = "01.00.00"
	Revision2 = "01.02.00"
)

// Physical disk type bits (PhysDisk.Type).
const (
	PDForcedGUID  = 1
	PDActiveInVD  = 2
	PDGlobalSpare = 4
	PDSpare       = 8 // overrides PDGlobalSpare
	PDForeign     = 16
	PDLegacy      = 32 // pass-through: no DDF on the disk
)

// Physical disk state bits (PhysDisk.State). PDFailed overrides PDOnline,
// PDRebuilding and PDTransition.
const (
	PDOnline     = 1
	PDFailed     = 2
	PDRebuilding = 4
	PDTransition = 8
	PDSMART      = 16
	PDReadErrors = 32
	PDMissing    = 64
)

// Virtual disk state (VirtualDisk.State): the low three bits are a
// condition, the others flags.
const (
	VDOptimal       = 0
	VDDegraded      = 1
	VDDeleted       = 2
	VDMissing       = 3
	VDFailed        = 4
	VDPartOptimal   = 5
	VDConditionMask = 0x07
	VDMorphing      = 0x08
	VDInconsistent  = 0x10
)

// Virtual disk init state (VirtualDisk.InitState): bits 0-1 initialisation,
// bits 6-7 access.
const (
	InitNot     = 0
	InitQuick   = 1 // initialisation in progress
	InitFull    = 2
	InitMask    = 0x03
	AccessMask  = 0xc0
	AccessRW    = 0x00
	AccessRO    = 0x80
	AccessBlock = 0xc0
)

// Primary RAID levels (Config.PrimaryLevel).
const (
	LevelRAID0   = 0x00
	LevelRAID1   = 0x01
	LevelRAID3   = 0x03
	LevelRAID4   = 0x04
	LevelRAID5   = 0x05
	LevelRAID6   = 0x06
	LevelJBOD    = 0x0f
	LevelRAID1E  = 0x11
	LevelRAID5E  = 0x15
	LevelCONCAT  = 0x1f
	LevelRAID5EE = 0x25
)

// Unused is the reference number (and GUID byte) of an unused entry.
const Unused = 0xffffffff

// ddfEpoch is 1980-01-01 UTC: DDF time stamps count seconds from there.
var ddfEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Time converts a DDF time stamp to UTC.
func Time(ts uint32) time.Time { return ddfEpoch.Add(time.Duration(ts) * time.Second) }

// GUID is a 24-byte DDF identifier: usually an ASCII vendor part followed
// by binary bytes, with a creation time stamp in bytes 16..19 for mdadm's
// container and virtual disk GUIDs.
type GUID [24]byte

// String formats the GUID as mdadm prints it: six colon-separated groups
// of four bytes in upper-case hex.
func (g GUID) String() string {
	var b strings.Builder
	for i, c := range g {
		if i > 0 && i%4 == 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// Text is the printable prefix of the GUID with trailing spaces dropped,
// as mdadm prints it in parentheses ("Linux-MD").
func (g GUID) Text() string {
	l := len(g)
	for l > 0 && g[l-1] == ' ' {
		l--
	}
	i := 0
	for i < l && g[i] >= 0x20 && g[i] < 0x7f {
		i++
	}
	return string(g[:i])
}

// Stamp is the time stamp mdadm stores in bytes 16..19 of container and
// virtual disk GUIDs (meaningless for other vendors' GUIDs).
func (g GUID) Stamp() time.Time { return Time(be.Uint32(g[16:])) }

// IsUnused reports whether every byte is 0xff (an unused record).
func (g GUID) IsUnused() bool {
	for _, c := range g {
		if c != 0xff {
			return false
		}
	}
	return true
}

// FormatError reports a field that cannot be valid.
type FormatError struct {
	Off   int64  // byte offset of the field in the image
	Field string // field name as in super-ddf.c ("max_pdes", "phys.crc"), or a structure name
	Value any    // the value found, or nil
	Msg   string // what is wrong with it
}

// Error formats the error as "ddf: FIELD at byte 0xOFF: VALUE MSG".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ddf: %s at byte %#x", e.Field, e.Off)
	sep := ": "
	if e.Value != nil {
		fmt.Fprintf(&b, ": %v", e.Value)
		sep = " "
	}
	if e.Msg != "" {
		b.WriteString(sep)
		b.WriteString(e.Msg)
	}
	return b.String()
}

// ErrNoDDF means neither the last sector nor the searched end of the image
// holds a DDF header.
var ErrNoDDF = errors.New("ddf: no DDF anchor or header")

// CRC computes a DDF CRC the way mdadm's calc_crc does: over b, with the four
// bytes at crcFieldOff (the structure's crc field, at 4 in every DDF
// structure) taken as 0xffffffff. mdadm's crc32() is zlib's table-driven
// CRC-32 with the initial and final inversions removed, so it is neither
// the standard CRC-32 nor its complement; every CRC in the kernel-written
// fixtures agrees with this one and with no standard variant. A
// crcFieldOff outside b leaves b as it is.
func CRC(b []byte, crcFieldOff int) uint32 {
	c := uint32(0xffffffff) // ^c is the register value 0
	if crcFieldOff < 0 || crcFieldOff > len(b)-4 {
		return ^crc32.Update(c, crc32.IEEETable, b)
	}
	c = crc32.Update(c, crc32.IEEETable, b[:crcFieldOff])
	c = crc32.Update(c, crc32.IEEETable, []byte{0xff, 0xff, 0xff, 0xff})
	c = crc32.Update(c, crc32.IEEETable, b[crcFieldOff+4:])
	return ^c
}

// crcOff is the offset of the crc field in every DDF structure.
const crcOff = 4

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
