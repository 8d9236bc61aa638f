// Package part finds the partitions of a disk image: MBR and GPT tables,
// read with go-diskfs, plus what go-diskfs does not say: that a bare
// filesystem image is not a partitioned disk (a FAT or NTFS boot sector also
// ends in 0x55AA, and go-diskfs reads it as an MBR with four empty
// entries), the MBR disk signature, and the Windows NT fault-tolerance (FT)
// and dynamic-disk (LDM) partition types.
package part

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"slices"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

// Table kinds.
const (
	None = "none" // no partition table: the image starts with a filesystem, or nothing known
	MBR  = "mbr"
	GPT  = "gpt"
)

// Table is a disk's partition table.
type Table struct {
	Kind          string
	DiskSignature uint32 // MBR bytes 440-443 (NT binds FT members by it); 0 when none
	// RecoveredFromBackup is set when the primary GPT was invalid and the
	// backup at the end of the disk was used.
	RecoveredFromBackup bool
	Partitions          []Partition // non-empty entries, in table order
	// Bare says why Kind is None: e.g. "sector 0 holds an NTFS boot sector".
	Bare string
	// Notes says what of the table could not be read (a broken chain of
	// extended boot records).
	Notes []string
}

// Partition is one non-empty table entry.
type Partition struct {
	Index    int    // 1-based slot in the table
	Start    int64  // bytes from the start of the disk
	Size     int64  // bytes
	Type     string // MBR: "0x07"; GPT: the type GUID in upper case
	TypeName string // e.g. "NTFS/HPFS (FT member)", "LDM data", "FAT32 LBA"
	MBRType  byte   // 0 for GPT
	// FT is set for an NT fault-tolerance member (MBR type with bit 0x80:
	// 0x86, 0x87, 0x8B, 0x8C, 0x8E); FTBroken when both high bits are set
	// (0xC6, 0xC7, …), which ftdisk writes on the remaining member of a
	// broken mirror (VALID_NTFT in ntdddisk.h).
	FT, FTBroken bool
	LDM          bool   // MBR 0x42 or the GPT LDM metadata/data types
	Name         string // GPT partition name
	// EntryOff is the byte offset in the image of an MBR entry's type byte
	// (in the MBR or in an extended boot record), 0 for GPT.
	EntryOff int64
}

// End is the first byte after the partition.
func (p Partition) End() int64 { return p.Start + p.Size }

// Extended reports whether p is an MBR extended partition, which holds a
// chain of extended boot records rather than a filesystem.
func (p Partition) Extended() bool {
	return p.MBRType == 0x05 || p.MBRType == 0x0F || p.MBRType == 0x85
}

// maxLogical bounds the chain of extended boot records.
const maxLogical = 128

// readEBRs walks the chain of extended boot records in ext: each EBR's
// first entry is a logical partition (relative to that EBR), its second
// the next EBR (relative to the start of ext). Loops, entries outside ext
// and chains longer than maxLogical end the walk with an error.
func readEBRs(r io.ReaderAt, size int64, ext Partition, sectorSize int, index int) ([]Partition, error) {
	ss := int64(sectorSize)
	var out []Partition
	seen := map[int64]bool{}
	for at := ext.Start; ; {
		if seen[at] || len(out) >= maxLogical {
			return out, fmt.Errorf("part: the chain of extended boot records loops or runs past %d entries at byte %d", maxLogical, at)
		}
		seen[at] = true
		if at < ext.Start || at+512 > min(ext.End(), size) {
			return out, fmt.Errorf("part: extended boot record at byte %d lies outside the extended partition", at)
		}
		b := make([]byte, 512)
		if _, err := r.ReadAt(b, at); err != nil {
			return out, fmt.Errorf("part: reading the extended boot record at byte %d: %w", at, err)
		}
		if b[510] != 0x55 || b[511] != 0xAA {
			return out, fmt.Errorf("part: no 0x55AA signature in the extended boot record at byte %d", at)
		}
		e1, e2 := b[446:462], b[462:478]
		if typ := e1[4]; typ != 0 {
			start := at + int64(binary.LittleEndian.Uint32(e1[8:]))*ss
			n := int64(binary.LittleEndian.Uint32(e1[12:])) * ss
			q := Partition{Index: index, Start: start, Size: n, Type: fmt.Sprintf("0x%02X", typ), MBRType: typ, TypeName: mbrTypeName(typ) + " (logical)",
				EntryOff: at + 446 + 4}
			q.FT, q.FTBroken = ftType(typ)
			q.LDM = typ == 0x42
			out = append(out, q)
			index++
		}
		if e2[4] == 0 || binary.LittleEndian.Uint32(e2[8:]) == 0 {
			return out, nil
		}
		at = ext.Start + int64(binary.LittleEndian.Uint32(e2[8:]))*ss
	}
}

// GPT partition types of Windows dynamic disks.
const (
	guidLDMMetadata = "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3"
	guidLDMData     = "AF9B60A0-1431-4F62-BC68-3311714A69AD"
)

// Read reads the partition table of a disk image of size bytes.
func Read(r io.ReaderAt, size int64, sectorSize int) (*Table, error) {
	if sectorSize == 0 {
		sectorSize = 512
	}
	if size < 512 {
		return &Table{Kind: None, Bare: "the image is shorter than one sector"}, nil
	}
	s0 := make([]byte, 512)
	if _, err := r.ReadAt(s0, 0); err != nil {
		return nil, fmt.Errorf("part: reading sector 0: %w", err)
	}
	if why := bootSector(s0); why != "" {
		return &Table{Kind: None, Bare: why}, nil
	}
	if s0[510] != 0x55 || s0[511] != 0xAA {
		return &Table{Kind: None, Bare: "sector 0 has no 0x55AA signature"}, nil
	}
	f := &file{SectionReader: io.NewSectionReader(r, 0, size), size: size}
	// go-diskfs allocates the partition array at the size a GPT header
	// claims; a hostile header must not get that far.
	if err := gptBounded(r, size, sectorSize); err != nil {
		return &Table{Kind: None, Bare: err.Error()}, nil
	}
	if g, err := gpt.Read(f, sectorSize, sectorSize); err == nil {
		t := &Table{Kind: GPT, RecoveredFromBackup: g.RecoveredFromBackup}
		for i, p := range g.Partitions {
			if p == nil || p.Type == gpt.Unused {
				continue
			}
			q := Partition{Index: i + 1, Start: int64(p.Start) * int64(sectorSize), Size: int64(p.End-p.Start+1) * int64(sectorSize),
				Type: strings.ToUpper(string(p.Type)), Name: p.Name}
			switch q.Type {
			case guidLDMMetadata:
				q.LDM, q.TypeName = true, "LDM metadata"
			case guidLDMData:
				q.LDM, q.TypeName = true, "LDM data"
			case strings.ToUpper(string(gpt.MicrosoftBasicData)):
				q.TypeName = "Microsoft basic data"
			case strings.ToUpper(string(gpt.MicrosoftReserved)):
				q.TypeName = "Microsoft reserved"
			case strings.ToUpper(string(gpt.LinuxFilesystem)):
				q.TypeName = "Linux filesystem"
			case strings.ToUpper(string(gpt.LinuxRAID)):
				q.TypeName = "Linux RAID"
			}
			t.Partitions = append(t.Partitions, q)
		}
		return t, nil
	}
	m, err := mbr.Read(f, sectorSize, sectorSize)
	if err != nil {
		return &Table{Kind: None, Bare: "no partition table: " + err.Error()}, nil
	}
	t := &Table{Kind: MBR, DiskSignature: binary.LittleEndian.Uint32(s0[440:])}
	for i, p := range m.Partitions {
		if p == nil || p.Type == mbr.Empty || p.Size == 0 {
			continue
		}
		b := byte(p.Type)
		q := Partition{Index: i + 1, Start: int64(p.Start) * int64(sectorSize), Size: int64(p.Size) * int64(sectorSize),
			Type: fmt.Sprintf("0x%02X", b), MBRType: b, TypeName: mbrTypeName(b), EntryOff: int64(446 + 16*i + 4)}
		q.FT, q.FTBroken = ftType(b)
		q.LDM = b == 0x42
		t.Partitions = append(t.Partitions, q)
	}
	// Logical partitions, numbered from 5 as Linux and sfdisk do, after
	// the primary entries.
	for _, q := range slices.Clone(t.Partitions) {
		if q.Extended() {
			logical, err := readEBRs(r, size, q, sectorSize, 5)
			if err != nil {
				t.Notes = append(t.Notes, err.Error())
			}
			t.Partitions = append(t.Partitions, logical...)
			break // one extended partition per MBR
		}
	}
	if len(t.Partitions) == 0 {
		return &Table{Kind: None, DiskSignature: t.DiskSignature, Bare: "the MBR has no partitions"}, nil
	}
	return t, nil
}

// maxGPTArray bounds the partition-entry array a GPT header may claim (the
// usual array is 128 entries of 128 bytes, 16 KiB).
const maxGPTArray = 1 << 20

// gptBounded checks the primary and backup GPT headers, where they carry
// the "EFI PART" signature, for a partition-entry array of sane size.
func gptBounded(r io.ReaderAt, size int64, sectorSize int) error {
	ss := int64(sectorSize)
	for _, at := range []int64{ss, (size/ss - 1) * ss} {
		if at < ss || at+92 > size {
			continue
		}
		h := make([]byte, 92)
		if _, err := r.ReadAt(h, at); err != nil {
			continue
		}
		if string(h[:8]) != "EFI PART" {
			continue
		}
		n, es := int64(binary.LittleEndian.Uint32(h[80:])), int64(binary.LittleEndian.Uint32(h[84:]))
		if n*es > maxGPTArray || es < 128 || es%8 != 0 {
			return fmt.Errorf("the GPT header at byte %d claims %d partition entries of %d bytes: not read", at, n, es)
		}
	}
	return nil
}

// ErrOutside is returned by Contain for a partition past the end of the disk.
var ErrOutside = errors.New("partition extends past the end of the image")

// Contain checks that p lies inside a disk of size bytes.
func (p Partition) Contain(size int64) error {
	if p.Start < 0 || p.Size < 0 || p.End() > size {
		return fmt.Errorf("partition %d (bytes %d-%d): %w of %d bytes", p.Index, p.Start, p.End(), ErrOutside, size)
	}
	return nil
}

// ftType reads the NT FT bits of an MBR partition type: 0x80 marks an FT
// set member; ftdisk sets 0x40 too (0xC0) when it marks a member of a
// broken set. Only the system IDs NT mirrors are counted, so that 0x82
// (Linux swap) and 0x83 (Linux) are not mistaken for FT members.
func ftType(b byte) (ft, broken bool) {
	switch b &^ 0xC0 {
	case 0x01, 0x04, 0x06, 0x07, 0x0B, 0x0C, 0x0E:
	default:
		return false, false
	}
	return b&0x80 != 0, b&0xC0 == 0xC0
}

func mbrTypeName(b byte) string {
	names := map[byte]string{
		0x01: "FAT12", 0x04: "FAT16 <32M", 0x05: "Extended", 0x06: "FAT16", 0x07: "NTFS/HPFS",
		0x0B: "FAT32", 0x0C: "FAT32 LBA", 0x0E: "FAT16 LBA", 0x0F: "Extended LBA",
		0x42: "LDM (Windows dynamic disk)", 0x82: "Linux swap", 0x83: "Linux", 0x8E: "Linux LVM, or FAT16 LBA (FT member)",
		0xEE: "GPT protective", 0xFD: "Linux RAID autodetect",
	}
	if n, ok := names[b]; ok {
		return n
	}
	if ft, broken := ftType(b); ft {
		n := names[b&^0xC0] + " (FT member)"
		if broken {
			n = names[b&^0xC0] + " (FT member, set broken)"
		}
		return n
	}
	return "unknown"
}

// bootSector says why sector 0 is a filesystem's boot sector rather than
// an MBR, or "" when it is not one.
func bootSector(s []byte) string {
	if bytes.Equal(s[3:11], []byte("NTFS    ")) {
		return "sector 0 holds an NTFS boot sector"
	}
	if s[0] != 0xEB && s[0] != 0xE9 {
		return ""
	}
	bps := binary.LittleEndian.Uint16(s[11:])
	spc := s[13]
	rsvd := binary.LittleEndian.Uint16(s[14:])
	nfats := s[16]
	media := s[21]
	switch {
	case bps != 512 && bps != 1024 && bps != 2048 && bps != 4096:
		return ""
	case spc == 0 || spc&(spc-1) != 0:
		return ""
	case rsvd == 0 || nfats == 0 || nfats > 4:
		return ""
	case media != 0xF0 && media < 0xF8:
		return ""
	}
	// A jump and BPB-like bytes alone also occur in MBR boot code (GRUB's
	// starts EB 63 90): ask for the FAT type string, or a partition table
	// that cannot be one (status bytes other than 0x00 and 0x80).
	if bytes.HasPrefix(s[0x36:], []byte("FAT")) || bytes.HasPrefix(s[0x52:], []byte("FAT32")) {
		return "sector 0 holds a FAT boot sector (valid BPB)"
	}
	for i := range 4 {
		if st := s[446+16*i]; st != 0 && st != 0x80 {
			return "sector 0 holds a FAT boot sector (valid BPB, no valid partition table)"
		}
	}
	return ""
}

// file adapts an io.ReaderAt to the backend.File go-diskfs reads from;
// there is no way to write through it.
type file struct {
	*io.SectionReader
	size int64
}

func (f *file) Stat() (iofs.FileInfo, error) { return info{f.size}, nil }
func (f *file) Close() error                 { return nil }

type info struct{ size int64 }

func (i info) Name() string        { return "image" }
func (i info) Size() int64         { return i.size }
func (i info) Mode() iofs.FileMode { return 0o444 }
func (i info) ModTime() time.Time  { return time.Time{} }
func (i info) IsDir() bool         { return false }
func (i info) Sys() any            { return nil }
