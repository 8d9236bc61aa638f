package ext4

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
)

var le = binary.LittleEndian
var be = binary.BigEndian

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the kernel's crc32c(seed, p): the raw register, no final
// inversion.
func crc32c(seed uint32, p []byte) uint32 { return ^crc32.Update(^seed, castagnoli, p) }

// crc16 is the CRC-16 (polynomial 0x8005, reflected) of the gdt_csum
// group descriptor checksum.
func crc16(crc uint16, p []byte) uint16 {
	for _, b := range p {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// FormatError reports a field that cannot be valid.
type FormatError struct {
	Off   int64  // byte offset of the field in the volume
	Field string // field name
	Value any    // the value found, or nil
	Msg   string // what is wrong with it
}

// Error formats the error as "ext4: FIELD at byte 0xOFF: VALUE MSG".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ext4: %s at byte %#x", e.Field, e.Off)
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

// Feature bits.
const (
	compatHasJournal   = 0x4
	compatResizeInode  = 0x10
	compatDirIndex     = 0x20
	compatSparseSuper2 = 0x200

	incompatFiletype   = 0x2
	incompatRecover    = 0x4
	incompatJournalDev = 0x8
	incompatMetaBG     = 0x10
	incompatExtents    = 0x40
	incompat64bit      = 0x80
	incompatMMP        = 0x100
	incompatFlexBG     = 0x200
	incompatCsumSeed   = 0x2000
	incompatInlineData = 0x8000

	roSparseSuper = 0x1
	roHugeFile    = 0x8
	roGdtCsum     = 0x10
	roDirNlink    = 0x20
	roExtraIsize  = 0x40
	roBigalloc    = 0x200
	roMetaCsum    = 0x400
)

// Superblock is the decoded ext2/3/4 superblock.
type Superblock struct {
	InodesCount     uint32
	BlocksCount     uint64
	FreeBlocks      uint64
	FreeInodes      uint32
	FirstDataBlock  uint32
	LogBlockSize    uint32
	BlocksPerGroup  uint32
	InodesPerGroup  uint32
	Mtime, Wtime    int64
	MntCount        uint16
	State           uint16
	Errors          uint16
	RevLevel        uint32
	FirstIno        uint32
	InodeSize       uint16
	BlockGroupNr    uint16
	Compat          uint32
	Incompat        uint32
	RoCompat        uint32
	UUID            [16]byte
	ReservedGDT     uint16
	JournalInum     uint32
	LastOrphan      uint32
	DefHashVersion  uint8
	DescSize        uint16
	FirstMetaBG     uint32
	LogGroupsPerFlx uint8
	KBytesWritten   uint64
	BackupBGs       [2]uint32
	ChecksumSeed    uint32
	Lastcheck       int64
	Checksum        uint32
}

// BlockSize is the block size in bytes.
func (s *Superblock) BlockSize() int64 { return 1024 << s.LogBlockSize }

func (s *Superblock) has(compat, incompat, ro uint32) bool {
	return s.Compat&compat != 0 || s.Incompat&incompat != 0 || s.RoCompat&ro != 0
}

// Groups is the number of block groups.
func (s *Superblock) Groups() int64 {
	return int64((s.BlocksCount - uint64(s.FirstDataBlock) + uint64(s.BlocksPerGroup) - 1) / uint64(s.BlocksPerGroup))
}

// DescriptorSize is the size of one group descriptor.
func (s *Superblock) DescriptorSize() int64 {
	if s.Incompat&incompat64bit != 0 {
		return int64(s.DescSize)
	}
	return 32
}

func time32(lo uint32, hi uint8) int64 { return int64(lo) | int64(hi)<<32 }

// ParseSuperblock decodes and validates the 1024-byte superblock b read at
// byte off of the volume.
func ParseSuperblock(b []byte, off int64) (*Superblock, error) {
	if len(b) < 1024 {
		return nil, &FormatError{off, "superblock", len(b), "bytes, want 1024"}
	}
	if m := le.Uint16(b[0x38:]); m != 0xEF53 {
		return nil, &FormatError{off + 0x38, "s_magic", fmt.Sprintf("%#04x", m), "is not 0xef53"}
	}
	s := &Superblock{
		InodesCount:     le.Uint32(b[0:]),
		BlocksCount:     uint64(le.Uint32(b[4:])),
		FreeBlocks:      uint64(le.Uint32(b[0xC:])),
		FreeInodes:      le.Uint32(b[0x10:]),
		FirstDataBlock:  le.Uint32(b[0x14:]),
		LogBlockSize:    le.Uint32(b[0x18:]),
		BlocksPerGroup:  le.Uint32(b[0x20:]),
		InodesPerGroup:  le.Uint32(b[0x28:]),
		Mtime:           time32(le.Uint32(b[0x2C:]), b[0x275]),
		Wtime:           time32(le.Uint32(b[0x30:]), b[0x274]),
		MntCount:        le.Uint16(b[0x34:]),
		State:           le.Uint16(b[0x3A:]),
		Errors:          le.Uint16(b[0x3C:]),
		Lastcheck:       time32(le.Uint32(b[0x40:]), b[0x276]),
		RevLevel:        le.Uint32(b[0x4C:]),
		FirstIno:        11,
		InodeSize:       128,
		BlockGroupNr:    le.Uint16(b[0x5A:]),
		Compat:          le.Uint32(b[0x5C:]),
		Incompat:        le.Uint32(b[0x60:]),
		RoCompat:        le.Uint32(b[0x64:]),
		ReservedGDT:     le.Uint16(b[0xCE:]),
		JournalInum:     le.Uint32(b[0xE0:]),
		LastOrphan:      le.Uint32(b[0xE8:]),
		DefHashVersion:  b[0xFC],
		DescSize:        le.Uint16(b[0xFE:]),
		FirstMetaBG:     le.Uint32(b[0x104:]),
		LogGroupsPerFlx: b[0x174],
		KBytesWritten:   le.Uint64(b[0x178:]),
		BackupBGs:       [2]uint32{le.Uint32(b[0x24C:]), le.Uint32(b[0x250:])},
		ChecksumSeed:    le.Uint32(b[0x270:]),
		Checksum:        le.Uint32(b[0x3FC:]),
	}
	copy(s.UUID[:], b[0x68:0x78])
	if s.RevLevel > 0 {
		s.FirstIno = le.Uint32(b[0x54:])
		s.InodeSize = le.Uint16(b[0x58:])
	} else {
		s.Compat, s.Incompat, s.RoCompat = 0, 0, 0
	}
	if s.Incompat&incompat64bit != 0 {
		s.BlocksCount |= uint64(le.Uint32(b[0x150:])) << 32
		s.FreeBlocks |= uint64(le.Uint32(b[0x158:])) << 32
	}
	switch {
	case s.LogBlockSize > 6:
		return nil, &FormatError{off + 0x18, "s_log_block_size", s.LogBlockSize, "is beyond 64 KiB blocks"}
	case s.BlocksPerGroup == 0 || int64(s.BlocksPerGroup) > 8*s.BlockSize():
		return nil, &FormatError{off + 0x20, "s_blocks_per_group", s.BlocksPerGroup, "does not fit a one-block bitmap"}
	case s.InodesPerGroup == 0 || int64(s.InodesPerGroup) > 8*s.BlockSize():
		return nil, &FormatError{off + 0x28, "s_inodes_per_group", s.InodesPerGroup, "does not fit a one-block bitmap"}
	case s.InodeSize < 128 || s.InodeSize&(s.InodeSize-1) != 0 || int64(s.InodeSize) > s.BlockSize():
		return nil, &FormatError{off + 0x58, "s_inode_size", s.InodeSize, "is not a power of two from 128 to the block size"}
	case s.BlocksCount <= uint64(s.FirstDataBlock):
		return nil, &FormatError{off + 4, "s_blocks_count", s.BlocksCount, "holds no block after the first data block"}
	case s.FirstDataBlock > 1 || (s.LogBlockSize == 0) != (s.FirstDataBlock == 1):
		return nil, &FormatError{off + 0x14, "s_first_data_block", s.FirstDataBlock, "is not 1 for 1 KiB blocks and 0 otherwise"}
	case s.Incompat&incompat64bit != 0 && (s.DescSize < 32 || s.DescSize > 1024 || s.DescSize&(s.DescSize-1) != 0):
		return nil, &FormatError{off + 0xFE, "s_desc_size", s.DescSize, "is not a power of two from 32 to 1024"}
	case s.FirstIno < 3 || s.FirstIno > s.InodesCount:
		return nil, &FormatError{off + 0x54, "s_first_ino", s.FirstIno, "is outside the inodes"}
	case uint64(s.InodesCount) > uint64(s.InodesPerGroup)*uint64(s.Groups()):
		return nil, &FormatError{off, "s_inodes_count", s.InodesCount, "is more than the groups hold"}
	}
	if s.LogGroupsPerFlx > 31 {
		return nil, &FormatError{off + 0x174, "s_log_groups_per_flex", s.LogGroupsPerFlx, "is absurd"}
	}
	return s, nil
}

// csumSeed is the seed of every metadata_csum checksum except the
// superblock's own.
func (s *Superblock) csumSeed() uint32 {
	if s.Incompat&incompatCsumSeed != 0 {
		return s.ChecksumSeed
	}
	return crc32c(^uint32(0), s.UUID[:])
}

// superCsumOK reports whether a raw superblock's metadata_csum verifies.
func superCsumOK(b []byte) (ok bool, got, want uint32) {
	want = crc32c(^uint32(0), b[:0x3FC])
	got = le.Uint32(b[0x3FC:])
	return got == want, got, want
}

// hasSuper reports whether group g holds a backup of the superblock and
// group descriptors.
func (s *Superblock) hasSuper(g int64) bool {
	if g == 0 {
		return true
	}
	if s.Compat&compatSparseSuper2 != 0 {
		return g == int64(s.BackupBGs[0]) || g == int64(s.BackupBGs[1])
	}
	if s.RoCompat&roSparseSuper == 0 || g == 1 {
		return true
	}
	if g&1 == 0 {
		return false
	}
	for _, p := range []int64{3, 5, 7} {
		x := p
		for x < g {
			x *= p
		}
		if x == g {
			return true
		}
	}
	return false
}

// GroupDesc is one decoded group descriptor.
type GroupDesc struct {
	BlockBitmap, InodeBitmap, InodeTable uint64
	FreeBlocks, FreeInodes, UsedDirs     uint32
	Flags                                uint16
	BlockBitmapCsum, InodeBitmapCsum     uint32
	ItableUnused                         uint32
	Checksum                             uint16
}

// Group descriptor flags.
const (
	bgInodeUninit = 1
	bgBlockUninit = 2
)

func parseDesc(b []byte) GroupDesc {
	d := GroupDesc{
		BlockBitmap:     uint64(le.Uint32(b[0:])),
		InodeBitmap:     uint64(le.Uint32(b[4:])),
		InodeTable:      uint64(le.Uint32(b[8:])),
		FreeBlocks:      uint32(le.Uint16(b[0xC:])),
		FreeInodes:      uint32(le.Uint16(b[0xE:])),
		UsedDirs:        uint32(le.Uint16(b[0x10:])),
		Flags:           le.Uint16(b[0x12:]),
		BlockBitmapCsum: uint32(le.Uint16(b[0x18:])),
		InodeBitmapCsum: uint32(le.Uint16(b[0x1A:])),
		ItableUnused:    uint32(le.Uint16(b[0x1C:])),
		Checksum:        le.Uint16(b[0x1E:]),
	}
	if len(b) >= 64 {
		d.BlockBitmap |= uint64(le.Uint32(b[0x20:])) << 32
		d.InodeBitmap |= uint64(le.Uint32(b[0x24:])) << 32
		d.InodeTable |= uint64(le.Uint32(b[0x28:])) << 32
		d.FreeBlocks |= uint32(le.Uint16(b[0x2C:])) << 16
		d.FreeInodes |= uint32(le.Uint16(b[0x2E:])) << 16
		d.UsedDirs |= uint32(le.Uint16(b[0x30:])) << 16
		d.ItableUnused |= uint32(le.Uint16(b[0x32:])) << 16
		d.BlockBitmapCsum |= uint32(le.Uint16(b[0x38:])) << 16
		d.InodeBitmapCsum |= uint32(le.Uint16(b[0x3A:])) << 16
	}
	return d
}

// descCsum computes the checksum a group descriptor should carry, and
// whether the filesystem has one at all.
func (s *Superblock) descCsum(g int64, b []byte) (uint16, bool) {
	var n [4]byte
	le.PutUint32(n[:], uint32(g))
	switch {
	case s.RoCompat&roMetaCsum != 0:
		c := crc32c(s.csumSeed(), n[:])
		c = crc32c(c, b[:0x1E])
		c = crc32c(c, []byte{0, 0})
		c = crc32c(c, b[0x20:])
		return uint16(c), true
	case s.RoCompat&roGdtCsum != 0:
		c := crc16(0xFFFF, s.UUID[:])
		c = crc16(c, n[:])
		c = crc16(c, b[:0x1E])
		if len(b) > 0x20 {
			c = crc16(c, b[0x20:])
		}
		return c, true
	}
	return 0, false
}
