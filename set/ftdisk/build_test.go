package ftdisk

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// emptyHive returns the smallest hive hivex will open and extend: an 8 KiB
// file holding a base block, one 4 KiB hbin, a root key "$$$PROTO.HIV"
// (the root name of NT 4.0 hives) and the one security cell hivex needs to
// give new subkeys (it copies the parent's sk). Layout, all little-endian,
// cell offsets relative to 0x1000:
//
//	0x0000 base block: "regf", seq 1/1, timestamp 0, version 1.3, type 0,
//	       format 1, root cell 0x20, hbins size 0x1000, cluster 1,
//	       file name "SYSTEM" (UTF-16LE at 0x30), checksum at 0x1FC
//	       (XOR of the 127 dwords before it)
//	0x1000 "hbin", offset 0, size 0x1000 (32-byte header)
//	0x1020 cell -96: nk, flags 0x2C (root|no-delete|ASCII name), parent 0,
//	       no subkeys (list 0xFFFFFFFF), no values, sk 0x80, no class,
//	       name "$$$PROTO.HIV"
//	0x1080 cell -48: sk, flink = blink = 0x80, refcount 1, 20-byte
//	       self-relative security descriptor (revision 1, control 0x8000,
//	       no owner/group/SACL/DACL)
//	0x10B0 free cell +0xF50 up to the end of the bin
func emptyHive() []byte {
	b := make([]byte, 0x2000)
	le := binary.LittleEndian
	copy(b, "regf")
	le.PutUint32(b[0x04:], 1)
	le.PutUint32(b[0x08:], 1)
	le.PutUint32(b[0x14:], 1)
	le.PutUint32(b[0x18:], 3)
	le.PutUint32(b[0x1C:], 0)
	le.PutUint32(b[0x20:], 1)
	le.PutUint32(b[0x24:], 0x20)
	le.PutUint32(b[0x28:], 0x1000)
	le.PutUint32(b[0x2C:], 1)
	for i, u := range utf16.Encode([]rune("SYSTEM")) {
		le.PutUint16(b[0x30+2*i:], u)
	}
	le.PutUint32(b[0x1FC:], baseChecksum(b))

	h := b[0x1000:]
	copy(h, "hbin")
	le.PutUint32(h[4:], 0)
	le.PutUint32(h[8:], 0x1000)

	nk := h[0x20:]
	le.PutUint32(nk, uint32(0xFFFFFFFF-96+1)) // -96
	p := nk[4:]
	copy(p, "nk")
	le.PutUint16(p[0x02:], 0x2C)
	le.PutUint32(p[0x10:], 0)
	le.PutUint32(p[0x1C:], 0xFFFFFFFF)
	le.PutUint32(p[0x20:], 0xFFFFFFFF)
	le.PutUint32(p[0x28:], 0xFFFFFFFF)
	le.PutUint32(p[0x2C:], 0x80)
	le.PutUint32(p[0x30:], 0xFFFFFFFF)
	name := "$$$PROTO.HIV"
	le.PutUint16(p[0x48:], uint16(len(name)))
	copy(p[0x4C:], name)

	sk := h[0x80:]
	le.PutUint32(sk, uint32(0xFFFFFFFF-48+1)) // -48
	p = sk[4:]
	copy(p, "sk")
	le.PutUint32(p[0x04:], 0x80)
	le.PutUint32(p[0x08:], 0x80)
	le.PutUint32(p[0x0C:], 1)
	le.PutUint32(p[0x10:], 20)
	p[0x14] = 1                         // SD revision
	le.PutUint16(p[0x16:], 0x8000)      // SE_SELF_RELATIVE
	le.PutUint32(h[0xB0:], 0x1000-0xB0) // free cell
	return b
}

// Fixture descriptions. The encoder below lays the value out exactly as the
// DDK structures (ntddft.h DISK_CONFIG_HEADER, FT_REGISTRY, FT_DESCRIPTION,
// FT_MEMBER_DESCRIPTION; ntdskreg.h DISK_REGISTRY, DISK_DESCRIPTION,
// DISK_PARTITION; 4-byte packing; offsets in windows-metadata.md 1.2-1.5).
type fxPart struct {
	typ           FtType
	state         FtPartitionState
	start, length int64
	ftLength      int64
	letter        byte
	assign        bool
	logical       uint16
	group, member uint16
}

type fxDisk struct {
	sig   uint32
	parts []fxPart
}

type fxSet struct {
	typ     FtType
	vstate  FtState
	members [][2]int // (disk, partition) indexes, in member order
}

type fxValue struct {
	dirty bool
	disks []fxDisk
	sets  []fxSet
	// sizeofSize writes FtInformationSize as sizeof(FT_REGISTRY) +
	// c*sizeof(FT_DESCRIPTION) + m*sizeof(FT_MEMBER_DESCRIPTION) =
	// 32 + 28c + 16m (each sizeof counts one embedded array element), as
	// some writers do; otherwise the exact packed length 4 + 12c + 16m.
	sizeofSize bool
}

// encode builds the DISK\Information bytes.
func (v fxValue) encode() []byte {
	le := binary.LittleEndian
	b := make([]byte, headerSize)
	// DISK_REGISTRY at 44.
	b = le.AppendUint16(b, uint16(len(v.disks))) // NumberOfDisks
	b = le.AppendUint16(b, 0)                    // ReservedShort
	partOff := make([][]uint32, len(v.disks))
	for i, d := range v.disks {
		b = le.AppendUint16(b, uint16(len(d.parts))) // NumberOfPartitions
		b = le.AppendUint16(b, 0)                    // ReservedShort
		b = le.AppendUint32(b, d.sig)                // Signature
		for _, p := range d.parts {
			partOff[i] = append(partOff[i], uint32(len(b)))
			b = le.AppendUint32(b, uint32(p.typ))      // 0x00 FtType
			b = le.AppendUint32(b, uint32(p.state))    // 0x04 FtState
			b = le.AppendUint64(b, uint64(p.start))    // 0x08 StartingOffset
			b = le.AppendUint64(b, uint64(p.length))   // 0x10 Length
			b = le.AppendUint64(b, uint64(p.ftLength)) // 0x18 FtLength
			b = append(b, make([]byte, 8)...)          // 0x20 ReservedTwoLongs
			b = append(b, p.letter, bool8(p.assign))   // 0x28 DriveLetter, 0x29 AssignDriveLetter
			b = le.AppendUint16(b, p.logical)          // 0x2A LogicalNumber
			b = le.AppendUint16(b, p.group)            // 0x2C FtGroup
			b = le.AppendUint16(b, p.member)           // 0x2E FtMember
			b = append(b, 0, 0, 0, 0)                  // 0x30 Modified, ReservedChars[3]
		}
	}
	diskSize := len(b) - headerSize
	ftOff := len(b)
	var ftSize, nm int
	if len(v.sets) > 0 {
		b = le.AppendUint16(b, uint16(len(v.sets))) // NumberOfComponents
		b = le.AppendUint16(b, 0)                   // ReservedShort
		for _, s := range v.sets {
			b = le.AppendUint16(b, uint16(len(s.members))) // NumberOfMembers
			b = le.AppendUint16(b, uint16(s.typ))          // Type
			b = le.AppendUint32(b, 0)                      // Reserved
			b = le.AppendUint32(b, uint32(s.vstate))       // FtVolumeState
			for _, m := range s.members {
				p := v.disks[m[0]].parts[m[1]]
				b = le.AppendUint16(b, 0)                   // State
				b = le.AppendUint16(b, 0)                   // ReservedShort
				b = le.AppendUint32(b, v.disks[m[0]].sig)   // Signature
				b = le.AppendUint32(b, partOff[m[0]][m[1]]) // OffsetToPartitionInfo
				b = le.AppendUint32(b, uint32(p.logical))   // LogicalNumber
				nm++
			}
		}
		ftSize = len(b) - ftOff
		if v.sizeofSize {
			// The value is then FtInformationOffset+FtInformationSize
			// long (windows-metadata.md 1.2), zero-padded.
			ftSize = 32 + 28*len(v.sets) + 16*nm
			b = append(b, make([]byte, ftOff+ftSize-len(b))...)
		}
	}
	le.PutUint32(b[0x00:], InformationVers)
	b[0x08] = bool8(v.dirty)
	le.PutUint32(b[0x0C:], headerSize)
	le.PutUint32(b[0x10:], uint32(diskSize))
	le.PutUint32(b[0x14:], uint32(ftOff))
	le.PutUint32(b[0x18:], uint32(ftSize))
	return b
}

func bool8(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// The member geometry: a 16 MiB disk, partition at sector 63 (32256 bytes)
// of 16002 sectors; in the two-set case two partitions of 8001 sectors.
const (
	sig0   = 0x1C7A3B52
	sig1   = 0x5D0E9F11
	pStart = 63 * 512
	pLen   = 16002 * 512
	hLen   = 8001 * 512
)

func mirrorPart(state FtPartitionState, letter byte, assign bool, start, length int64, logical, group, member uint16) fxPart {
	return fxPart{typ: Mirror, state: state, start: start, length: length, ftLength: length,
		letter: letter, assign: assign, logical: logical, group: group, member: member}
}

// oneMirror is a two-disk mirror D: with the given member states.
func oneMirror(s0, s1 FtPartitionState, vs FtState, primaryHasLetter, dirty bool) fxValue {
	l0, l1 := byte('D'), byte(0)
	if !primaryHasLetter {
		l0, l1 = 0, 'D'
	}
	return fxValue{dirty: dirty,
		disks: []fxDisk{
			{sig: sig0, parts: []fxPart{mirrorPart(s0, l0, l0 != 0, pStart, pLen, 1, 0, 0)}},
			{sig: sig1, parts: []fxPart{mirrorPart(s1, l1, l1 != 0, pStart, pLen, 1, 0, 1)}},
		},
		sets: []fxSet{{typ: Mirror, vstate: vs, members: [][2]int{{0, 0}, {1, 0}}}},
	}
}

// fixtures are the hive cases under testdata/ftdisk/NAME.hive.
var fixtures = []struct {
	name  string
	value fxValue
}{
	{"healthy", oneMirror(Healthy, Healthy, FtStateOk, true, false)},
	{"orphaned-shadow", oneMirror(Healthy, Orphaned, FtHasOrphan, true, false)},
	// The primary failed; Disk Administrator moved D: to the shadow.
	{"orphaned-primary", oneMirror(Orphaned, Healthy, FtHasOrphan, false, false)},
	{"dirty-shutdown", oneMirror(Healthy, Healthy, FtStateOk, true, true)},
	// Two mirrors on the same two disks (D: group 0, E: group 1); set 1's
	// shadow is orphaned (the KB Q197366 situation). FtInformationSize is
	// written the sizeof way (an upper bound, 32+28*2+16*4 = 152 > 92; the value is
	// zero-padded to that length).
	{"two-sets", fxValue{sizeofSize: true,
		disks: []fxDisk{
			{sig: sig0, parts: []fxPart{
				mirrorPart(Healthy, 'D', true, pStart, hLen, 1, 0, 0),
				mirrorPart(Healthy, 'E', true, pStart+hLen, hLen, 2, 1, 0),
			}},
			{sig: sig1, parts: []fxPart{
				mirrorPart(Healthy, 0, false, pStart, hLen, 1, 0, 1),
				mirrorPart(Orphaned, 0, false, pStart+hLen, hLen, 2, 1, 1),
			}},
		},
		sets: []fxSet{
			{typ: Mirror, vstate: FtStateOk, members: [][2]int{{0, 0}, {1, 0}}},
			{typ: Mirror, vstate: FtHasOrphan, members: [][2]int{{0, 1}, {1, 1}}},
		}}},
}

// hivexshScript is the hivexsh -w input that adds DISK\Information.
func hivexshScript(value []byte) string {
	var sb strings.Builder
	sb.WriteString("add DISK\ncd DISK\nsetval 1\nInformation\nhex:3:")
	for i, c := range value {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	sb.WriteString("\ncommit\n")
	return sb.String()
}
