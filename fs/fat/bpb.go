// Package fat reads FAT12, FAT16 and FAT32 volumes and checks their
// consistency, for mirrorchk's explanation of differing byte ranges.
//
// Open works on an io.ReaderAt plus the image size, as debug/elf and
// archive/zip do. It returns an error only when the bytes are not a FAT
// volume at all; everything else wrong with the volume (dirty bit, FAT
// copies that differ, broken cluster chains, lost clusters, bad directory
// entries…) is an fs.Problem with a stable "fat-" code. Every count read
// from the image is checked against the image size before it is used to
// allocate, every chain walk detects loops, and directory recursion is
// bounded, so no input makes it panic or hang.
//
// A *Volume implements fs.Volume: Owners maps any byte range to the boot
// sector, FSInfo, backup boot sector, reserved sectors, "FAT 1", "FAT 2"…,
// the root directory, a directory or file (by path and cluster), free
// space, lost or bad clusters, unused sectors or bytes beyond the volume,
// through a cluster→file index built once by walking the tree. Judge says
// whether this volume's copy of a range verifies on its own (BPB,
// FSInfo signatures, each FAT copy against its twins, directory entries).
// Beyond fs.Volume it exposes the decoded BPB, the FSInfo sectors, FAT
// entries per copy (Entry), the files found (Files) and OwnerOfCluster.
//
// Layout and rules follow Microsoft's "FAT: General Overview of On-Disk
// Format" (fatgen103) and the behaviour of dosfstools' fsck.fat; the problem
// codes are listed on Volume.Problems.
package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// FormatError reports a boot sector field that cannot be valid.
type FormatError struct {
	Off   int64  // byte offset of the field in the volume
	Field string // BPB field name as in fatgen103 ("BPB_BytsPerSec", …) or "boot sector"
	Value any    // the value found, or nil
	Msg   string // what is wrong with it
}

// Error formats the error as "fat: FIELD at byte 0xOFF: VALUE MSG".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fat: %s at byte %#x", e.Field, e.Off)
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

// ErrNotFAT means sector 0 holds no boot sector at all (no jump
// instruction and no 0x55AA signature) and no FAT32 backup was found.
var ErrNotFAT = errors.New("fat: not a FAT volume")

// FAT types, as Type returns them.
const (
	FAT12 = "fat12"
	FAT16 = "fat16"
	FAT32 = "fat32"
)

// BPB is a decoded boot sector. Field names follow fatgen103 without the
// BPB_/BS_ prefixes; the fields after Signature are derived.
type BPB struct {
	Jump           [3]byte
	OEMName        string
	BytsPerSec     uint16
	SecPerClus     uint8
	RsvdSecCnt     uint16
	NumFATs        uint8
	RootEntCnt     uint16
	TotSec16       uint16
	Media          uint8
	FATSz16        uint16
	SecPerTrk      uint16
	NumHeads       uint16
	HiddSec        uint32
	TotSec32       uint32
	FATSz32        uint32 // FAT32 only
	ExtFlags       uint16 // FAT32 only: bit 7 mirroring disabled, bits 0-3 active FAT
	FSVer          uint16 // FAT32 only
	RootClus       uint32 // FAT32 only
	FSInfo         uint16 // FAT32 only: sector of the FSInfo structure
	BkBootSec      uint16 // FAT32 only: sector of the backup boot sector
	DrvNum         uint8
	Reserved1      uint8 // state byte (0x25 / 0x41): bit 0 dirty, bit 1 surface scan
	BootSig        uint8 // 0x29 when VolID, VolLab and FilSysType are present
	VolID          uint32
	VolLab         string
	FilSysType     string
	Signature      uint16 // 0xAA55 at 0x1FE
	Type           string // FAT12, FAT16 or FAT32, by cluster count
	TotSec         uint32 // TotSec16 or TotSec32
	FATSz          uint32 // FATSz16 or FATSz32
	RootDirSectors uint32
	FirstDataSec   uint32
	Clusters       uint32 // CountOfClusters; valid clusters are 2..Clusters+1
}

// ClusterBytes is the size of one cluster in bytes.
func (b *BPB) ClusterBytes() int64 { return int64(b.BytsPerSec) * int64(b.SecPerClus) }

// FATStart is the first sector of FAT copy k (0-based).
func (b *BPB) FATStart(k int) int64 { return int64(b.RsvdSecCnt) + int64(k)*int64(b.FATSz) }

// RootDirStart is the first sector of the fixed FAT12/16 root directory
// (on FAT32 it is where the data area starts).
func (b *BPB) RootDirStart() int64 { return int64(b.RsvdSecCnt) + int64(b.NumFATs)*int64(b.FATSz) }

// entryBits is the width of one FAT entry.
func (b *BPB) entryBits() int64 {
	switch b.Type {
	case FAT12:
		return 12
	case FAT16:
		return 16
	}
	return 32
}

// DecodeBPB decodes and validates a boot sector (at least 512 bytes). off
// is where sec was read from, for errors. It returns ErrNotFAT when sec has
// neither a jump instruction nor a boot signature.
func DecodeBPB(sec []byte, off int64) (*BPB, error) {
	if len(sec) < 512 {
		return nil, &FormatError{Off: off, Field: "boot sector", Value: len(sec), Msg: "bytes, shorter than a sector"}
	}
	le := binary.LittleEndian
	b := &BPB{
		OEMName:    strings.TrimRight(string(sec[3:11]), " \x00"),
		BytsPerSec: le.Uint16(sec[0x0b:]),
		SecPerClus: sec[0x0d],
		RsvdSecCnt: le.Uint16(sec[0x0e:]),
		NumFATs:    sec[0x10],
		RootEntCnt: le.Uint16(sec[0x11:]),
		TotSec16:   le.Uint16(sec[0x13:]),
		Media:      sec[0x15],
		FATSz16:    le.Uint16(sec[0x16:]),
		SecPerTrk:  le.Uint16(sec[0x18:]),
		NumHeads:   le.Uint16(sec[0x1a:]),
		HiddSec:    le.Uint32(sec[0x1c:]),
		TotSec32:   le.Uint32(sec[0x20:]),
		Signature:  le.Uint16(sec[0x1fe:]),
	}
	copy(b.Jump[:], sec)
	ext := sec[0x24:]
	if b.FATSz16 == 0 {
		b.FATSz32 = le.Uint32(sec[0x24:])
		b.ExtFlags = le.Uint16(sec[0x28:])
		b.FSVer = le.Uint16(sec[0x2a:])
		b.RootClus = le.Uint32(sec[0x2c:])
		b.FSInfo = le.Uint16(sec[0x30:])
		b.BkBootSec = le.Uint16(sec[0x32:])
		ext = sec[0x40:]
	}
	b.DrvNum, b.Reserved1, b.BootSig = ext[0], ext[1], ext[2]
	if b.BootSig == 0x29 {
		b.VolID = le.Uint32(ext[3:])
		b.VolLab = strings.TrimRight(string(ext[7:18]), " \x00")
		b.FilSysType = strings.TrimRight(string(ext[18:26]), " \x00")
	}

	if (b.Jump[0] != 0xeb && b.Jump[0] != 0xe9) && b.Signature != 0xaa55 {
		return nil, ErrNotFAT
	}
	bad := func(at int64, field string, val any, msg string) error {
		return &FormatError{Off: off + at, Field: field, Value: val, Msg: msg}
	}
	if b.Jump[0] != 0xeb && b.Jump[0] != 0xe9 {
		return nil, bad(0, "BS_jmpBoot", b.Jump[0], "is not a jump instruction")
	}
	switch b.BytsPerSec {
	case 512, 1024, 2048, 4096:
	default:
		return nil, bad(0x0b, "BPB_BytsPerSec", b.BytsPerSec, "is not 512, 1024, 2048 or 4096")
	}
	if b.SecPerClus == 0 || b.SecPerClus&(b.SecPerClus-1) != 0 {
		return nil, bad(0x0d, "BPB_SecPerClus", b.SecPerClus, "is not a power of two")
	}
	if b.RsvdSecCnt == 0 {
		return nil, bad(0x0e, "BPB_RsvdSecCnt", 0, "is zero")
	}
	if b.NumFATs == 0 {
		return nil, bad(0x10, "BPB_NumFATs", 0, "is zero")
	}
	b.TotSec = uint32(b.TotSec16)
	if b.TotSec == 0 {
		b.TotSec = b.TotSec32
	}
	if b.TotSec == 0 {
		return nil, bad(0x13, "BPB_TotSec16", 0, "and BPB_TotSec32 are both zero")
	}
	b.FATSz = uint32(b.FATSz16)
	if b.FATSz == 0 {
		b.FATSz = b.FATSz32
	}
	if b.FATSz == 0 {
		return nil, bad(0x16, "BPB_FATSz16", 0, "and BPB_FATSz32 are both zero")
	}
	bps := int64(b.BytsPerSec)
	b.RootDirSectors = uint32((int64(b.RootEntCnt)*32 + bps - 1) / bps)
	meta := b.RootDirStart() + int64(b.RootDirSectors)
	if meta >= int64(b.TotSec) {
		return nil, bad(0x13, "BPB_TotSec", b.TotSec, fmt.Sprintf("sectors leave no data area after %d sectors of metadata", meta))
	}
	b.FirstDataSec = uint32(meta)
	b.Clusters = uint32((int64(b.TotSec) - meta) / int64(b.SecPerClus))
	switch {
	case b.Clusters == 0:
		return nil, bad(0x0d, "BPB_SecPerClus", b.SecPerClus, "leaves no whole cluster")
	case b.FATSz16 == 0 && b.RootEntCnt == 0:
		// fatgen103 types by cluster count, but a volume with the FAT32
		// BPB (no 16-bit FAT size, no fixed root) and fewer clusters is
		// FAT32 to fsck.fat and Linux, and is made by mkfs.fat -F 32.
		b.Type = FAT32
	case b.Clusters < 4085:
		b.Type = FAT12
	case b.Clusters < 65525:
		b.Type = FAT16
	default:
		b.Type = FAT32
	}
	if b.Type == FAT32 {
		if b.FATSz16 != 0 {
			return nil, bad(0x16, "BPB_FATSz16", b.FATSz16, "is not zero on FAT32")
		}
		if b.RootClus < 2 || b.RootClus > b.Clusters+1 {
			return nil, bad(0x2c, "BPB_RootClus", b.RootClus, fmt.Sprintf("is outside clusters 2..%d", b.Clusters+1))
		}
		// Clusters above 0x0FFFFFF5 cannot be addressed.
		if b.Clusters > 0x0ffffff5-1 {
			return nil, bad(0x20, "BPB_TotSec32", b.TotSec, "sectors hold more clusters than FAT32 can address")
		}
	} else if b.RootEntCnt == 0 {
		return nil, bad(0x11, "BPB_RootEntCnt", 0, "is zero on "+strings.ToUpper(b.Type))
	}
	return b, nil
}
