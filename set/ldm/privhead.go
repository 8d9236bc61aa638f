package ldm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Scheme is the partitioning scheme that leads to the PRIVHEAD.
type Scheme uint8

// The two ways a dynamic disk is marked.
const (
	SchemeMBR Scheme = iota + 1 // MBR partition of type 0x42; PRIVHEAD at sector 6
	SchemeGPT                   // GPT LDM metadata partition; PRIVHEAD in its last sector
)

// String returns "mbr" or "gpt".
func (s Scheme) String() string {
	switch s {
	case SchemeMBR:
		return "mbr"
	case SchemeGPT:
		return "gpt"
	}
	return fmt.Sprintf("Scheme(%d)", uint8(s))
}

// Sector numbers of the PRIVHEAD copies: the primary on an MBR disk is at
// sector 6 of the disk; the backups are at sectors 1856 and 2047 of the
// database. On a GPT disk the copy at database sector 2047 (the last sector
// of the LDM metadata partition) is the primary and 1856 the backup.
const (
	privHeadMBRSector = 6
	privHeadBackup1   = 1856
	privHeadBackup2   = 2047
)

// PrivHead is a decoded PRIVHEAD: the per-disk header that names the disk,
// its disk group, and where the data area and the database lie. Offsets and
// sizes are in sectors.
type PrivHead struct {
	Offset       int64 // byte offset of this copy in the image
	Scheme       Scheme
	Sequence     uint32    // 0x008: per-disk sequence number (differs between the disks of a group)
	VersionMajor uint16    // 0x00c: 2
	VersionMinor uint16    // 0x00e: 11 (Windows 2000/XP/2003) or 12 (Vista and later)
	Timestamp    time.Time // 0x010: FILETIME, UTC
	Unknown18    uint64    // 0x018: 1 in every image seen
	// BackupSectors (0x020, 0x028): 2047 and 1856 in every image seen,
	// which are the database sectors of the backup PRIVHEADs; libldm calls
	// them unknown_size1/2.
	BackupSectors    [2]uint64
	DiskGUID         string // 0x030: this disk, text form
	HostGUID         string // 0x070: the machine that last wrote it
	DiskGroupGUID    string // 0x0b0
	DiskGroupName    string // 0x0f0
	LogicalDiskStart uint64 // 0x11b: first sector of the data area ("public region")
	LogicalDiskSize  uint64 // 0x123
	ConfigStart      uint64 // 0x12b: first sector of the database
	ConfigSize       uint64 // 0x133: database sectors (2048)
	// TOCSectors (0x13b, 0x143): the database sectors of the two
	// TOCBLOCKs (2 and 2045 on 2008 R2). libldm names these n_tocs and
	// toc_size; FreeBSD reads them as TOCBLOCK offsets, which is what the
	// images show.
	TOCSectors     [2]uint64
	NumConfigs     uint32   // 0x14b
	NumLogs        uint32   // 0x14f
	ConfigAreaSize uint64   // 0x153: sectors of the VMDB+VBLK area (1481)
	LogAreaSize    uint64   // 0x15b: sectors of the KLOG area (224)
	DiskSignature  uint32   // 0x163: the MBR disk signature
	DiskSetGUID    [16]byte // 0x167 (zero in the 2008 R2 images)
	DiskSetGUID2   [16]byte // 0x177

	// Missing is the number of bytes of the logical disk that lie past the
	// end of the image (a truncated image); 0 when the image holds it all.
	Missing int64
	// GPTBackup is true when the primary GPT header was invalid and the
	// LDM metadata partition was found through the backup GPT header.
	GPTBackup bool
	// Backups are the other PRIVHEAD copies this disk keeps, in the order
	// database sector 1856, then (MBR disks) 2047. Set by ReadPrivHead.
	Backups []Copy
	Raw     []byte // the 512 bytes decoded
}

// Copy is one backup PRIVHEAD: decoded, or the reason it could not be.
type Copy struct {
	Offset int64
	Head   *PrivHead // nil when Err is set
	Err    error
}

// Differences lists the fields that two PRIVHEADs of one disk must share
// and do not (version, disk and disk group GUIDs, data area, database
// area), as the kernel compares the primary with its backups. Sequence and
// Timestamp may differ and are not compared.
func (ph *PrivHead) Differences(o *PrivHead) []string {
	var d []string
	add := func(field string, a, b any) {
		if a != b {
			d = append(d, fmt.Sprintf("%s %v / %v", field, a, b))
		}
	}
	add("version", fmt.Sprintf("%d.%d", ph.VersionMajor, ph.VersionMinor), fmt.Sprintf("%d.%d", o.VersionMajor, o.VersionMinor))
	add("disk_guid", ph.DiskGUID, o.DiskGUID)
	add("disk_group_guid", ph.DiskGroupGUID, o.DiskGroupGUID)
	add("logical_disk_start", ph.LogicalDiskStart, o.LogicalDiskStart)
	add("logical_disk_size", ph.LogicalDiskSize, o.LogicalDiskSize)
	add("config_start", ph.ConfigStart, o.ConfigStart)
	add("config_size", ph.ConfigSize, o.ConfigSize)
	return d
}

// DataOffset is the byte offset of the logical disk (data area) in the image.
func (ph *PrivHead) DataOffset() int64 { return int64(ph.LogicalDiskStart) * SectorSize }

// ReadPrivHead finds the primary PRIVHEAD (MBR: sector 6; GPT: last sector
// of the LDM metadata partition), decodes and checks it against the image,
// and decodes the backup copies into Backups.
func ReadPrivHead(r io.ReaderAt, size int64) (*PrivHead, error) {
	scheme, off, gpt, err := locate(r, size)
	if err != nil {
		return nil, err
	}
	raw, err := readSector(r, size, off, "PRIVHEAD")
	if err != nil {
		return nil, err
	}
	ph, err := DecodePrivHead(raw, off, size)
	if err != nil {
		return nil, err
	}
	ph.Scheme = scheme
	base := int64(ph.ConfigStart) * SectorSize
	if gpt != nil {
		ph.GPTBackup = gpt.backup
		// The metadata partition is the database.
		if gpt.first != ph.ConfigStart {
			return nil, &FormatError{Off: off + 0x12b, Field: "PRIVHEAD.config_start", Value: ph.ConfigStart,
				Msg: fmt.Sprintf("is not the first sector %d of the LDM metadata partition", gpt.first)}
		}
		if gpt.last-gpt.first+1 != ph.ConfigSize {
			return nil, &FormatError{Off: off + 0x133, Field: "PRIVHEAD.config_size", Value: ph.ConfigSize,
				Msg: fmt.Sprintf("differs from the %d-sector LDM metadata partition", gpt.last-gpt.first+1)}
		}
	}
	backups := []int64{privHeadBackup1, privHeadBackup2}
	if scheme == SchemeGPT {
		backups = backups[:1]
	}
	for _, s := range backups {
		if uint64(s) >= ph.ConfigSize {
			continue
		}
		c := Copy{Offset: base + s*SectorSize}
		raw, err := readSector(r, size, c.Offset, "PRIVHEAD")
		if err == nil {
			c.Head, err = DecodePrivHead(raw, c.Offset, size)
		}
		var fe *FormatError
		if err != nil && !errors.As(err, &fe) {
			return nil, err // I/O
		}
		if c.Head != nil {
			c.Head.Scheme = scheme
		}
		c.Err = err
		ph.Backups = append(ph.Backups, c)
	}
	return ph, nil
}

// DecodePrivHead decodes the PRIVHEAD sector raw found at byte off of an
// image of size bytes and checks its ranges against the image. raw may be
// longer than a sector; Raw holds the first 512 bytes.
func DecodePrivHead(raw []byte, off, size int64) (*PrivHead, error) {
	if off < 0 || off > size-SectorSize {
		return nil, &FormatError{Off: off, Field: "PRIVHEAD", Msg: fmt.Sprintf("sector lies outside the %#x-byte image", size)}
	}
	if len(raw) < SectorSize {
		return nil, &FormatError{Off: off, Field: "PRIVHEAD", Value: len(raw), Msg: "bytes: shorter than a sector"}
	}
	b := raw[:SectorSize]
	if string(b[:8]) != "PRIVHEAD" {
		return nil, &FormatError{Off: off, Field: "PRIVHEAD.magic", Value: fmt.Sprintf("%q", b[:8]), Msg: `is not "PRIVHEAD"`}
	}
	be := binary.BigEndian
	ph := &PrivHead{
		Offset:           off,
		Sequence:         be.Uint32(b[0x08:]),
		VersionMajor:     be.Uint16(b[0x0c:]),
		VersionMinor:     be.Uint16(b[0x0e:]),
		Timestamp:        fileTime(be.Uint64(b[0x10:])),
		Unknown18:        be.Uint64(b[0x18:]),
		BackupSectors:    [2]uint64{be.Uint64(b[0x20:]), be.Uint64(b[0x28:])},
		DiskGUID:         strings.ToLower(cString(b[0x30:0x70])),
		HostGUID:         strings.ToLower(cString(b[0x70:0xb0])),
		DiskGroupGUID:    strings.ToLower(cString(b[0xb0:0xf0])),
		DiskGroupName:    cString(b[0xf0:0x110]),
		LogicalDiskStart: be.Uint64(b[0x11b:]),
		LogicalDiskSize:  be.Uint64(b[0x123:]),
		ConfigStart:      be.Uint64(b[0x12b:]),
		ConfigSize:       be.Uint64(b[0x133:]),
		TOCSectors:       [2]uint64{be.Uint64(b[0x13b:]), be.Uint64(b[0x143:])},
		NumConfigs:       be.Uint32(b[0x14b:]),
		NumLogs:          be.Uint32(b[0x14f:]),
		ConfigAreaSize:   be.Uint64(b[0x153:]),
		LogAreaSize:      be.Uint64(b[0x15b:]),
		DiskSignature:    be.Uint32(b[0x163:]),
		Raw:              b,
	}
	copy(ph.DiskSetGUID[:], b[0x167:0x177])
	copy(ph.DiskSetGUID2[:], b[0x177:0x187])
	if ph.VersionMajor != 2 || ph.VersionMinor != 11 && ph.VersionMinor != 12 {
		return nil, &FormatError{Off: off + 0x0c, Field: "PRIVHEAD.version", Value: fmt.Sprintf("%d.%d", ph.VersionMajor, ph.VersionMinor),
			Msg: "is not 2.11 or 2.12"}
	}
	for _, g := range []struct {
		at   int64
		name string
		v    string
	}{{0x30, "disk_guid", ph.DiskGUID}, {0xb0, "disk_group_guid", ph.DiskGroupGUID}} {
		if !validGUID(g.v) {
			return nil, &FormatError{Off: off + g.at, Field: "PRIVHEAD." + g.name, Value: fmt.Sprintf("%q", g.v), Msg: "is not a GUID"}
		}
	}
	sectors := uint64(size / SectorSize)
	bad := func(at int64, field string, v uint64, msg string) error {
		return &FormatError{Off: off + at, Field: "PRIVHEAD." + field, Value: v, Msg: msg}
	}
	switch {
	case ph.ConfigSize == 0 || ph.ConfigSize > maxDatabaseSectors:
		return nil, bad(0x133, "config_size", ph.ConfigSize, fmt.Sprintf("sectors is not in 1..%d", maxDatabaseSectors))
	case ph.ConfigStart > sectors || ph.ConfigSize > sectors-ph.ConfigStart:
		return nil, bad(0x12b, "config_start", ph.ConfigStart, fmt.Sprintf("+ %d sectors of database do not fit in the %d-sector image", ph.ConfigSize, sectors))
	case ph.LogicalDiskSize == 0 || ph.LogicalDiskSize > maxDiskSectors:
		return nil, bad(0x123, "logical_disk_size", ph.LogicalDiskSize, fmt.Sprintf("sectors is not in 1..%d", uint64(maxDiskSectors)))
	case ph.LogicalDiskStart > maxDiskSectors:
		return nil, bad(0x11b, "logical_disk_start", ph.LogicalDiskStart, fmt.Sprintf("is past sector %d", uint64(maxDiskSectors)))
	case ph.LogicalDiskStart < ph.ConfigStart+ph.ConfigSize && ph.ConfigStart < ph.LogicalDiskStart+ph.LogicalDiskSize:
		return nil, bad(0x11b, "logical_disk_start", ph.LogicalDiskStart,
			fmt.Sprintf("+ %d sectors overlaps the database at sectors %d+%d", ph.LogicalDiskSize, ph.ConfigStart, ph.ConfigSize))
	case ph.TOCSectors[0] >= ph.ConfigSize:
		return nil, bad(0x13b, "toc_sector[0]", ph.TOCSectors[0], fmt.Sprintf("lies outside the %d-sector database", ph.ConfigSize))
	case ph.TOCSectors[1] >= ph.ConfigSize:
		return nil, bad(0x143, "toc_sector[1]", ph.TOCSectors[1], fmt.Sprintf("lies outside the %d-sector database", ph.ConfigSize))
	}
	if end := (ph.LogicalDiskStart + ph.LogicalDiskSize) * SectorSize; end > uint64(size) {
		ph.Missing = int64(end - uint64(size))
	}
	return ph, nil
}

// locate finds the primary PRIVHEAD: its scheme, byte offset and, on GPT,
// the metadata partition it was found in.
func locate(r io.ReaderAt, size int64) (Scheme, int64, *gptPart, error) {
	if size < 2*SectorSize {
		return 0, 0, nil, ErrNoLDM
	}
	mbr := make([]byte, SectorSize)
	if err := readFull(r, mbr, 0); err != nil {
		return 0, 0, nil, err
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return 0, 0, nil, ErrNoLDM
	}
	ldm, gpt := false, false
	for i := range 4 {
		switch mbr[446+16*i+4] {
		case 0x42:
			ldm = true
		case 0xee:
			gpt = true
		}
	}
	switch {
	case ldm:
		return SchemeMBR, privHeadMBRSector * SectorSize, nil, nil
	case gpt:
		p, err := findMetadataPartition(r, size)
		if err != nil {
			return 0, 0, nil, err
		}
		return SchemeGPT, int64(p.last) * SectorSize, p, nil
	}
	return 0, 0, nil, ErrNoLDM
}
