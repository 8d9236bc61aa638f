package ftdisk

import (
	"encoding/binary"
	"fmt"
)

// The structures below are those of the DDK headers ntddft.h (DISK_CONFIG_HEADER,
// FT_REGISTRY, FT_DESCRIPTION, FT_MEMBER_DESCRIPTION) and ntdskreg.h
// (DISK_REGISTRY, DISK_DESCRIPTION, DISK_PARTITION), packed to 4 bytes
// (pshpack4.h); copies: microsoft/win32metadata
// generation/WinSDK/RecompiledIdlHeaders/shared/ntdskreg.h and the NT DDK
// ntddft.h. Offsets are as tabulated in windows-metadata.md 1.2-1.6. Every
// array is "compressed": the next element starts where the previous one's
// variable-length array ends.
const (
	headerSize      = 44 // sizeof(DISK_CONFIG_HEADER)
	diskRegHdr      = 4  // DISK_REGISTRY up to Disks[]
	diskDescHdr     = 8  // DISK_DESCRIPTION up to Partitions[]
	partitionSize   = 52 // sizeof(DISK_PARTITION)
	ftRegHdr        = 4  // FT_REGISTRY up to FtDescription[]
	ftDescHdr       = 12 // FT_DESCRIPTION up to FtMemberDescription[]
	ftMemberSize    = 16 // sizeof(FT_MEMBER_DESCRIPTION)
	InformationVers = 3  // DISK_INFORMATION_VERSION
)

// FtType is FT_TYPE (ntdskreg.h).
type FtType uint32

const (
	Mirror           FtType = 0
	Stripe           FtType = 1
	StripeWithParity FtType = 2
	VolumeSet        FtType = 3
	NotAnFtMember    FtType = 4
	WholeDisk        FtType = 5
)

func (t FtType) String() string {
	switch t {
	case Mirror:
		return "Mirror"
	case Stripe:
		return "Stripe"
	case StripeWithParity:
		return "StripeWithParity"
	case VolumeSet:
		return "VolumeSet"
	case NotAnFtMember:
		return "NotAnFtMember"
	case WholeDisk:
		return "WholeDisk"
	}
	return fmt.Sprintf("FtType(%d)", uint32(t))
}

// FtPartitionState is FT_PARTITION_STATE (ntdskreg.h), DISK_PARTITION.FtState:
// the per-member state.
type FtPartitionState uint32

const (
	Healthy           FtPartitionState = 0
	Orphaned          FtPartitionState = 1
	Regenerating      FtPartitionState = 2
	Initializing      FtPartitionState = 3
	SyncRedundantCopy FtPartitionState = 4
)

func (s FtPartitionState) String() string {
	switch s {
	case Healthy:
		return "Healthy"
	case Orphaned:
		return "Orphaned"
	case Regenerating:
		return "Regenerating"
	case Initializing:
		return "Initializing"
	case SyncRedundantCopy:
		return "SyncRedundantCopy"
	}
	return fmt.Sprintf("FtPartitionState(%d)", uint32(s))
}

// FtState is FT_STATE (ntddft.h), FT_DESCRIPTION.FtVolumeState: the set state.
type FtState uint32

const (
	FtStateOk      FtState = 0
	FtHasOrphan    FtState = 1
	FtDisabled     FtState = 2
	FtRegenerating FtState = 3
	FtInitializing FtState = 4
	FtCheckParity  FtState = 5
	FtNoCheckData  FtState = 6
)

func (s FtState) String() string {
	switch s {
	case FtStateOk:
		return "FtStateOk"
	case FtHasOrphan:
		return "FtHasOrphan"
	case FtDisabled:
		return "FtDisabled"
	case FtRegenerating:
		return "FtRegenerating"
	case FtInitializing:
		return "FtInitializing"
	case FtCheckParity:
		return "FtCheckParity"
	case FtNoCheckData:
		return "FtNoCheckData"
	}
	return fmt.Sprintf("FtState(%d)", uint32(s))
}

// Header is DISK_CONFIG_HEADER (44 bytes at the start of the value).
type Header struct {
	Version               uint32 // 0x00, DISK_INFORMATION_VERSION = 3
	CheckSum              uint32 // 0x04, written 0
	DirtyShutdown         bool   // 0x08
	DiskInformationOffset uint32 // 0x0C
	DiskInformationSize   uint32 // 0x10
	FtInformationOffset   uint32 // 0x14
	FtInformationSize     uint32 // 0x18, an upper bound (see Decode)
	FtStripeWidth         uint32 // 0x1C
	FtPoolSize            uint32 // 0x20
	NameOffset            uint32 // 0x24
	NameSize              uint32 // 0x28
}

// Disk is one DISK_DESCRIPTION.
type Disk struct {
	Off        int64  // offset of the DISK_DESCRIPTION in the value
	Signature  uint32 // MBR disk signature (MBR bytes 0x1B8..0x1BB)
	Partitions []*Partition
}

// Partition is one DISK_PARTITION (52 bytes).
type Partition struct {
	Off               int64            // offset of the DISK_PARTITION in the value
	Disk              int              // index into DiskInformation.Disks
	Signature         uint32           // that disk's signature
	FtType            FtType           // 0x00
	FtState           FtPartitionState // 0x04
	StartingOffset    int64            // 0x08, bytes from the start of the disk
	Length            int64            // 0x10, bytes
	FtLength          int64            // 0x18, original member length
	DriveLetter       byte             // 0x28, ASCII, 0 or ' ' when none
	AssignDriveLetter bool             // 0x29
	LogicalNumber     uint16           // 0x2A, partition number on the disk
	FtGroup           uint16           // 0x2C, set number (per FtType)
	FtMember          uint16           // 0x2E, 0 primary, 1 shadow
	Modified          bool             // 0x30
}

// FtSet is one FT_DESCRIPTION.
type FtSet struct {
	Off         int64   // offset of the FT_DESCRIPTION in the value
	Type        FtType  // 0x02 (USHORT)
	VolumeState FtState // 0x08
	Members     []*Member
}

// Member is one FT_MEMBER_DESCRIPTION with the partition it points at.
type Member struct {
	Off                   int64      // offset of the FT_MEMBER_DESCRIPTION in the value
	State                 uint16     // 0x00, written 0 (flags 1 initializing, 2 regenerating)
	Signature             uint32     // 0x04, the member disk's signature
	OffsetToPartitionInfo uint32     // 0x08, from the start of the value
	LogicalNumber         uint32     // 0x0C
	Partition             *Partition // resolved, nil if OffsetToPartitionInfo hits no partition
}

// DiskInformation is the decoded \DISK\Information value.
type DiskInformation struct {
	Header
	Disks  []*Disk
	FtSets []*FtSet
	// Findings are inconsistencies that do not stop decoding: a version
	// other than 3, members pointing nowhere or at a partition of another
	// set or disk, FT partitions no set lists.
	Findings []Finding
}

// DecodeDiskInformation decodes the DISK\Information value. It walks every
// array by its count and treats DiskInformationSize and FtInformationSize as
// upper bounds (writers overstate FtInformationSize by the sizeof of the
// embedded first array elements); a count whose elements run past its
// section is a *FormatError naming that count. Offsets in errors and in the
// result are relative to the start of the value.
func DecodeDiskInformation(b []byte) (*DiskInformation, error) {
	le := binary.LittleEndian
	if len(b) < headerSize {
		return nil, &FormatError{Off: 0, Field: "DISK_CONFIG_HEADER", Value: len(b), Msg: "value shorter than the 44-byte header"}
	}
	d := &DiskInformation{Header: Header{
		Version:               le.Uint32(b[0x00:]),
		CheckSum:              le.Uint32(b[0x04:]),
		DirtyShutdown:         b[0x08] != 0,
		DiskInformationOffset: le.Uint32(b[0x0C:]),
		DiskInformationSize:   le.Uint32(b[0x10:]),
		FtInformationOffset:   le.Uint32(b[0x14:]),
		FtInformationSize:     le.Uint32(b[0x18:]),
		FtStripeWidth:         le.Uint32(b[0x1C:]),
		FtPoolSize:            le.Uint32(b[0x20:]),
		NameOffset:            le.Uint32(b[0x24:]),
		NameSize:              le.Uint32(b[0x28:]),
	}}
	if d.Version != InformationVers {
		d.Findings = append(d.Findings, Finding{Off: 0, Field: "Version", Msg: fmt.Sprintf("%d, want %d (DISK_INFORMATION_VERSION)", d.Version, InformationVers)})
	}
	start, end, err := section(b, 0x0C, "DiskInformation", d.DiskInformationOffset, d.DiskInformationSize)
	if err != nil {
		return nil, err
	}
	byOff := map[int64]*Partition{}
	if end > start {
		if end-start < diskRegHdr {
			return nil, &FormatError{Off: 0x10, Field: "DiskInformationSize", Value: d.DiskInformationSize, Msg: "smaller than the 4-byte DISK_REGISTRY header"}
		}
		nd := int(le.Uint16(b[start:]))
		p := start + diskRegHdr
		for i := range nd {
			if p+diskDescHdr > end {
				return nil, &FormatError{Off: start, Field: "NumberOfDisks", Value: nd, Msg: fmt.Sprintf("disk %d starts past the end of DiskInformation (%#x)", i, end)}
			}
			dk := &Disk{Off: p, Signature: le.Uint32(b[p+4:])}
			np := int(le.Uint16(b[p:]))
			if p+diskDescHdr+int64(np)*partitionSize > end {
				return nil, &FormatError{Off: p, Field: "NumberOfPartitions", Value: np, Msg: fmt.Sprintf("partitions run past the end of DiskInformation (%#x)", end)}
			}
			q := p + diskDescHdr
			for range np {
				pt := decodePartition(b[q:q+partitionSize], q)
				pt.Disk, pt.Signature = i, dk.Signature
				dk.Partitions = append(dk.Partitions, pt)
				byOff[q] = pt
				q += partitionSize
			}
			d.Disks = append(d.Disks, dk)
			p = q
		}
	}
	if d.FtInformationSize == 0 {
		d.checkUnlisted(nil)
		return d, nil
	}
	start, end, err = section(b, 0x14, "FtInformation", d.FtInformationOffset, d.FtInformationSize)
	if err != nil {
		return nil, err
	}
	if end-start < ftRegHdr {
		return nil, &FormatError{Off: 0x18, Field: "FtInformationSize", Value: d.FtInformationSize, Msg: "smaller than the 4-byte FT_REGISTRY header"}
	}
	listed := map[*Partition]bool{}
	nc := int(le.Uint16(b[start:]))
	p := start + ftRegHdr
	for i := range nc {
		if p+ftDescHdr > end {
			return nil, &FormatError{Off: start, Field: "NumberOfComponents", Value: nc, Msg: fmt.Sprintf("component %d starts past the end of FtInformation (%#x)", i, end)}
		}
		nm := int(le.Uint16(b[p:]))
		if p+ftDescHdr+int64(nm)*ftMemberSize > end {
			return nil, &FormatError{Off: p, Field: "NumberOfMembers", Value: nm, Msg: fmt.Sprintf("members run past the end of FtInformation (%#x)", end)}
		}
		s := &FtSet{Off: p, Type: FtType(le.Uint16(b[p+2:])), VolumeState: FtState(le.Uint32(b[p+8:]))}
		q := p + ftDescHdr
		for j := range nm {
			m := &Member{Off: q,
				State:                 le.Uint16(b[q:]),
				Signature:             le.Uint32(b[q+4:]),
				OffsetToPartitionInfo: le.Uint32(b[q+8:]),
				LogicalNumber:         le.Uint32(b[q+12:]),
			}
			m.Partition = byOff[int64(m.OffsetToPartitionInfo)]
			d.checkMember(s, m, j)
			if m.Partition != nil {
				listed[m.Partition] = true
			}
			s.Members = append(s.Members, m)
			q += ftMemberSize
		}
		d.FtSets = append(d.FtSets, s)
		p = q
	}
	d.checkUnlisted(listed)
	return d, nil
}

// section bounds an (offset, size) pair from the header at hoff.
func section(b []byte, hoff int64, name string, off, size uint32) (int64, int64, error) {
	if size == 0 {
		return 0, 0, nil
	}
	if off < headerSize || int64(off) > int64(len(b)) {
		return 0, 0, &FormatError{Off: hoff, Field: name + "Offset", Value: off, Msg: fmt.Sprintf("outside the %d-byte value after the header", len(b))}
	}
	end := int64(off) + int64(size)
	if end > int64(len(b)) {
		return 0, 0, &FormatError{Off: hoff + 4, Field: name + "Size", Value: size, Msg: fmt.Sprintf("section ends at %#x, past the %d-byte value", end, len(b))}
	}
	return int64(off), end, nil
}

func decodePartition(b []byte, off int64) *Partition {
	le := binary.LittleEndian
	return &Partition{Off: off,
		FtType:            FtType(le.Uint32(b[0x00:])),
		FtState:           FtPartitionState(le.Uint32(b[0x04:])),
		StartingOffset:    int64(le.Uint64(b[0x08:])),
		Length:            int64(le.Uint64(b[0x10:])),
		FtLength:          int64(le.Uint64(b[0x18:])),
		DriveLetter:       b[0x28],
		AssignDriveLetter: b[0x29] != 0,
		LogicalNumber:     le.Uint16(b[0x2A:]),
		FtGroup:           le.Uint16(b[0x2C:]),
		FtMember:          le.Uint16(b[0x2E:]),
		Modified:          b[0x30] != 0,
	}
}

// checkMember records where member j of s disagrees with its partition.
func (d *DiskInformation) checkMember(s *FtSet, m *Member, j int) {
	add := func(off int64, field, format string, a ...any) {
		d.Findings = append(d.Findings, Finding{Off: off, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	pt := m.Partition
	if pt == nil {
		add(m.Off+8, "OffsetToPartitionInfo", "%#x is not the start of any DISK_PARTITION", m.OffsetToPartitionInfo)
		return
	}
	if pt.Signature != m.Signature {
		add(m.Off+4, "Signature", "member signature 0x%08x, its partition is on disk 0x%08x", m.Signature, pt.Signature)
	}
	if pt.FtType != s.Type {
		add(pt.Off, "FtType", "partition says %v, its set says %v", pt.FtType, s.Type)
	}
	if int(pt.FtMember) != j {
		add(pt.Off+0x2E, "FtMember", "partition says member %d, listed as member %d", pt.FtMember, j)
	}
	if uint32(pt.LogicalNumber) != m.LogicalNumber {
		add(m.Off+12, "LogicalNumber", "member says %d, its partition says %d", m.LogicalNumber, pt.LogicalNumber)
	}
	if len(s.Members) > 0 && s.Members[0].Partition != nil && s.Members[0].Partition.FtGroup != pt.FtGroup {
		add(pt.Off+0x2C, "FtGroup", "partition says group %d, member 0 of its set says %d", pt.FtGroup, s.Members[0].Partition.FtGroup)
	}
}

// checkUnlisted records FT partitions that no FT_DESCRIPTION lists. Plain
// partitions carry FtType NotAnFtMember (with FtGroup 0xFFFF, FtState
// Healthy: NT 4.0 Disk Administrator, FdpConstructDiskDescription).
func (d *DiskInformation) checkUnlisted(listed map[*Partition]bool) {
	for _, dk := range d.Disks {
		for _, pt := range dk.Partitions {
			if pt.FtType < NotAnFtMember && !listed[pt] {
				d.Findings = append(d.Findings, Finding{Off: pt.Off, Field: "FtType",
					Msg: fmt.Sprintf("%v partition (group %d member %d) is listed in no FT_DESCRIPTION", pt.FtType, pt.FtGroup, pt.FtMember)})
			}
		}
	}
}

// Orphaned returns the members of s whose partition is Orphaned or
// Regenerating: the stale copies by the registry's account.
func (s *FtSet) Orphaned() []*Member {
	var out []*Member
	for _, m := range s.Members {
		if m.Partition != nil && (m.Partition.FtState == Orphaned || m.Partition.FtState == Regenerating) {
			out = append(out, m)
		}
	}
	return out
}
