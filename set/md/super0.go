package md

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Byte offsets of 0.90 superblock fields (mdp_superblock_s, 32-bit words).
const (
	o090Major      = 4
	o090Minor      = 8
	o090UUID0      = 20
	o090CTime      = 24
	o090Level      = 28
	o090Size       = 32
	o090NrDisks    = 36
	o090RaidDisks  = 40
	o090MDMinor    = 44
	o090UUID1      = 52
	o090UTime      = 128
	o090State      = 132
	o090Active     = 136
	o090Working    = 140
	o090Failed     = 144
	o090Spare      = 148
	o090Csum       = 152
	o090Events     = 156 // lo then hi on little-endian writers, hi then lo on big-endian ones
	o090CPEvents   = 164
	o090RecoveryCP = 172
	o090Disks      = 512
	o090DiskSize   = 128 // each descriptor is 32 words, 5 used
	o090ThisDisk   = 3968
)

// Checksum090 computes a 0.90 sb_csum over raw (4096 bytes) read as words in
// order, with the stored sb_csum taken as zero: the 64-bit sum folded once.
func Checksum090(raw []byte, order binary.ByteOrder) uint32 {
	var sum uint64
	for i := 0; i+4 <= len(raw); i += 4 {
		if i == o090Csum {
			continue
		}
		sum += uint64(order.Uint32(raw[i:]))
	}
	return uint32(sum) + uint32(sum>>32)
}

// events090 reads the 64-bit event count, whose halves follow the writer's
// word order.
func events090(raw []byte, off int, order binary.ByteOrder) uint64 {
	a, b := uint64(order.Uint32(raw[off:])), uint64(order.Uint32(raw[off+4:]))
	if order == binary.ByteOrder(binary.BigEndian) {
		return a<<32 | b
	}
	return b<<32 | a
}

// putEvents090 is the inverse of events090.
func putEvents090(raw []byte, off int, order binary.ByteOrder, ev uint64) {
	hi, lo := uint32(ev>>32), uint32(ev)
	if order == binary.ByteOrder(binary.BigEndian) {
		hi, lo = lo, hi
	}
	order.PutUint32(raw[off:], lo)
	order.PutUint32(raw[off+4:], hi)
}

func disk090(raw []byte, off int, order binary.ByteOrder) Disk {
	return Disk{
		Number:   order.Uint32(raw[off:]),
		Major:    order.Uint32(raw[off+4:]),
		Minor:    order.Uint32(raw[off+8:]),
		RaidDisk: order.Uint32(raw[off+12:]),
		State:    order.Uint32(raw[off+16:]),
	}
}

// role090 turns a disk descriptor into a 1.x-style role the way the kernel's
// super_90_validate does: faulty (or removed) disks are faulty, in-sync disks
// with a slot below raid_disks hold that slot, everything else is a spare.
func role090(d Disk, raidDisks uint32) uint16 {
	switch {
	case d.State&(DiskFaulty|DiskRemoved) != 0:
		return RoleFaulty
	case d.State&(DiskActive|DiskSync) == DiskActive|DiskSync && d.RaidDisk < raidDisks && d.RaidDisk < sb090Disks:
		return uint16(d.RaidDisk)
	}
	return RoleSpare
}

func decode090(raw []byte, off, size int64) (*Superblock, error) {
	if len(raw) < sb090Bytes || size-off < sb090Bytes {
		return nil, truncated(off, sb090Bytes, size)
	}
	raw = raw[:sb090Bytes]
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(raw) == Magic:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(raw) == Magic:
		order = binary.BigEndian
	default:
		return nil, &FormatError{Off: off, Field: "md_magic", Value: fmt.Sprintf("%#08x", binary.LittleEndian.Uint32(raw)), Msg: fmt.Sprintf("is not %#x", Magic)}
	}
	u32 := func(o int) uint32 { return order.Uint32(raw[o:]) }
	if v := u32(o090Major); v != 0 {
		return nil, &FormatError{Off: off + o090Major, Field: "major_version", Value: v, Msg: "is not 0"}
	}
	if v := u32(o090Minor); v != 90 {
		return nil, &FormatError{Off: off + o090Minor, Field: "minor_version", Value: v, Msg: "is not 90"}
	}
	// 0.90 records no location of its own; it is only valid where the
	// kernel looks for it.
	if want, ok := Location(V090, size); !ok || want != off {
		return nil, &FormatError{Off: off, Field: "superblock", Msg: fmt.Sprintf("a 0.90 superblock of a %#x-byte image sits at byte %#x", size, want)}
	}
	level := int32(u32(o090Level))
	sizeKiB := u32(o090Size)
	// The kernel checks this for level >= 1 only; no member of any level
	// can use more than the space below its superblock.
	if int64(sizeKiB)*1024 > off {
		return nil, &FormatError{Off: off + o090Size, Field: "size", Value: sizeKiB, Msg: fmt.Sprintf("KiB exceeds the %d KiB below the superblock", off/1024)}
	}
	raidDisks := u32(o090RaidDisks)
	if raidDisks > sb090Disks {
		return nil, &FormatError{Off: off + o090RaidDisks, Field: "raid_disks", Value: raidDisks, Msg: fmt.Sprintf("exceeds %d", sb090Disks)}
	}
	this := disk090(raw, o090ThisDisk, order)
	if this.Number >= sb090Disks {
		return nil, &FormatError{Off: off + o090ThisDisk, Field: "this_disk.number", Value: this.Number, Msg: fmt.Sprintf("is not below %d", sb090Disks)}
	}
	sb := &Superblock{
		Version:          V090,
		Offset:           off,
		ByteOrder:        order,
		CTime:            time.Unix(int64(u32(o090CTime)), 0).UTC(),
		UTime:            time.Unix(int64(u32(o090UTime)), 0).UTC(),
		Level:            level,
		Size:             int64(sizeKiB) * 1024,
		RaidDisks:        int(raidDisks),
		Events:           events090(raw, o090Events, order),
		ResyncOffset:     uint64(u32(o090RecoveryCP)),
		State:            u32(o090State),
		DevNumber:        int(this.Number),
		ThisDisk:         this,
		Checksum:         u32(o090Csum),
		ComputedChecksum: Checksum090(raw, order),
		MDMinor:          int(u32(o090MDMinor)),
		NrDisks:          int(u32(o090NrDisks)),
		ActiveDisks:      int(u32(o090Active)),
		WorkingDisks:     int(u32(o090Working)),
		FailedDisks:      int(u32(o090Failed)),
		SpareDisks:       int(u32(o090Spare)),
		Raw:              append([]byte(nil), raw...),
	}
	copy(sb.SetUUID[0:4], raw[o090UUID0:])
	copy(sb.SetUUID[4:16], raw[o090UUID1:])
	sb.DataSize = sb.Size
	sb.Clean = sb.State&StateClean != 0
	if sb.State&StateBitmapPresent != 0 {
		sb.HasBitmap = true
		sb.BitmapOffset = sb090Bytes / 512
	}
	sb.Disks = make([]Disk, sb090Disks)
	sb.DevRoles = make([]uint16, sb090Disks)
	for i := range sb.Disks {
		d := disk090(raw, o090Disks+i*o090DiskSize, order)
		sb.Disks[i] = d
		sb.DevRoles[i] = role090(d, raidDisks)
	}
	sb.Role = role090(this, raidDisks)
	return sb, nil
}
