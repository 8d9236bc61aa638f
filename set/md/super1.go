package md

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Byte offsets of 1.x superblock fields (mdp_superblock_1, little endian).
const (
	o1Major          = 4
	o1FeatureMap     = 8
	o1SetUUID        = 16
	o1SetName        = 32
	o1CTime          = 64
	o1Level          = 72
	o1Size           = 80
	o1RaidDisks      = 92
	o1BitmapOffset   = 96
	o1DataOffset     = 128
	o1DataSize       = 136
	o1SuperOffset    = 144
	o1RecoveryOffset = 152
	o1DevNumber      = 160
	o1DeviceUUID     = 168
	o1UTime          = 192
	o1Events         = 200
	o1ResyncOffset   = 208
	o1Csum           = 216
	o1MaxDev         = 220
	o1DevRoles       = 256
)

var le = binary.LittleEndian

// Checksum1 computes a 1.x sb_csum over raw (256+2*max_dev bytes) read as
// little-endian words, with the stored sb_csum taken as zero and a trailing
// half word added as a 16-bit value: the 64-bit sum folded once.
func Checksum1(raw []byte) uint32 {
	var sum uint64
	i := 0
	for ; i+4 <= len(raw); i += 4 {
		if i == o1Csum {
			continue
		}
		sum += uint64(le.Uint32(raw[i:]))
	}
	if len(raw)-i >= 2 {
		sum += uint64(le.Uint16(raw[i:]))
	}
	return uint32(sum) + uint32(sum>>32)
}

// time1 decodes a 1.x timestamp: low 40 bits seconds, high 24 microseconds.
func time1(v uint64) time.Time {
	return time.Unix(int64(v&(1<<40-1)), int64(v>>40)*1000).UTC()
}

func decode1(raw []byte, v Version, off, size int64) (*Superblock, error) {
	if len(raw) < sb1Header || size-off < sb1Header {
		return nil, truncated(off, sb1Header, size)
	}
	if m := le.Uint32(raw); m != Magic {
		return nil, &FormatError{Off: off, Field: "magic", Value: fmt.Sprintf("%#08x", m), Msg: fmt.Sprintf("is not %#x", Magic)}
	}
	if m := le.Uint32(raw[o1Major:]); m != 1 {
		return nil, &FormatError{Off: off + o1Major, Field: "major_version", Value: m, Msg: "is not 1"}
	}
	maxDev := le.Uint32(raw[o1MaxDev:])
	if maxDev > maxDev1 {
		return nil, &FormatError{Off: off + o1MaxDev, Field: "max_dev", Value: maxDev, Msg: fmt.Sprintf("exceeds %d", maxDev1)}
	}
	n := sb1Header + 2*int(maxDev)
	if int64(n) > size-off {
		return nil, &FormatError{Off: off + o1MaxDev, Field: "max_dev", Value: maxDev, Msg: fmt.Sprintf("needs dev_roles up to byte %#x, past the end of the %#x-byte image", off+int64(n), size)}
	}
	if n > len(raw) {
		return nil, &FormatError{Off: off + o1MaxDev, Field: "max_dev", Value: maxDev, Msg: fmt.Sprintf("needs %d superblock bytes, %d given", n, len(raw))}
	}
	raw = raw[:n]

	// 1.x superblocks say where they are; accept one only at its own
	// version's location and at the place it claims.
	superOffset := le.Uint64(raw[o1SuperOffset:])
	want, ok := Location(v, size)
	if !ok || want != off {
		return nil, &FormatError{Off: off + o1SuperOffset, Field: "super_offset", Value: superOffset, Msg: fmt.Sprintf("found at byte %#x, but a %s superblock of a %#x-byte image sits at byte %#x", off, v, size, want)}
	}
	if off%512 != 0 || superOffset != uint64(off/512) {
		return nil, &FormatError{Off: off + o1SuperOffset, Field: "super_offset", Value: superOffset, Msg: fmt.Sprintf("but the superblock is at sector %d", off/512)}
	}

	sectors := uint64(size) / 512
	dataOffset := le.Uint64(raw[o1DataOffset:])
	dataSize := le.Uint64(raw[o1DataSize:])
	if dataOffset > sectors {
		return nil, &FormatError{Off: off + o1DataOffset, Field: "data_offset", Value: dataOffset, Msg: fmt.Sprintf("sectors is past the end of the image (%d sectors)", sectors)}
	}
	// A 1.1/1.2 superblock sits at the start, so an image cut short (an
	// interrupted acquisition) keeps a valid superblock whose data area
	// runs past the end: accept it and say how much is missing, so the
	// member is compared as far as it goes. A 1.0 superblock sits at the
	// end and moves with the size, so there the mismatch is an error.
	var missing uint64
	if dataSize > sectors-dataOffset {
		if v == V10 || dataSize > maxSectors {
			return nil, &FormatError{Off: off + o1DataSize, Field: "data_size", Value: dataSize, Msg: fmt.Sprintf("sectors from sector %d run past the end of the image (%d sectors)", dataOffset, sectors)}
		}
		missing = dataOffset + dataSize - sectors
	}
	sbSectors := (uint64(off) + uint64(n) + 511) / 512
	switch v {
	case V11, V12:
		// As the kernel: data must start after the superblock.
		if dataOffset < sbSectors {
			return nil, &FormatError{Off: off + o1DataOffset, Field: "data_offset", Value: dataOffset, Msg: fmt.Sprintf("sectors overlaps the superblock, which ends at sector %d", sbSectors)}
		}
	case V10:
		// As the kernel: the data area must end below the superblock.
		if dataSize > superOffset {
			return nil, &FormatError{Off: off + o1DataSize, Field: "data_size", Value: dataSize, Msg: fmt.Sprintf("sectors runs into the superblock at sector %d", superOffset)}
		}
	}

	// Every slot needs a dev_roles entry, so raid_disks cannot exceed
	// max_dev; an absurd count would otherwise size slot tables later.
	if rd := le.Uint32(raw[o1RaidDisks:]); rd > maxDev {
		return nil, &FormatError{Off: off + o1RaidDisks, Field: "raid_disks", Value: rd, Msg: fmt.Sprintf("exceeds max_dev %d", maxDev)}
	}

	devNumber := le.Uint32(raw[o1DevNumber:])
	if devNumber >= maxDev {
		return nil, &FormatError{Off: off + o1DevNumber, Field: "dev_number", Value: devNumber, Msg: fmt.Sprintf("is not below max_dev %d", maxDev)}
	}
	roles := make([]uint16, maxDev)
	for i := range roles {
		roles[i] = le.Uint16(raw[o1DevRoles+2*i:])
	}
	role := roles[devNumber]

	level := int32(le.Uint32(raw[o1Level:]))
	used := le.Uint64(raw[o1Size:])
	// A truncated image (missing > 0) may use sectors past its end, but no
	// more than the part of the data area that is missing.
	if used > sectors+missing {
		return nil, &FormatError{Off: off + o1Size, Field: "size", Value: used, Msg: fmt.Sprintf("sectors exceeds the image (%d sectors, %d missing)", sectors, missing)}
	}
	if level > 0 && role != RoleJournal && used > dataSize {
		return nil, &FormatError{Off: off + o1Size, Field: "size", Value: used, Msg: fmt.Sprintf("sectors exceeds data_size %d", dataSize)}
	}

	features := le.Uint32(raw[o1FeatureMap:])
	resync := le.Uint64(raw[o1ResyncOffset:])
	sb := &Superblock{
		Version:          v,
		Offset:           off,
		ByteOrder:        binary.LittleEndian,
		Name:             string(cstring(raw[o1SetName : o1SetName+32])),
		CTime:            time1(le.Uint64(raw[o1CTime:])),
		UTime:            time1(le.Uint64(raw[o1UTime:])),
		Level:            level,
		Size:             int64(used) * 512,
		RaidDisks:        int(le.Uint32(raw[o1RaidDisks:])),
		Events:           le.Uint64(raw[o1Events:]),
		FeatureMap:       features,
		DataOffset:       int64(dataOffset) * 512,
		DataSize:         int64(dataSize) * 512,
		Recovering:       features&FeatureRecoveryOffset != 0,
		ResyncOffset:     resync,
		Clean:            resync == ^uint64(0),
		DevNumber:        int(devNumber),
		DevRoles:         roles,
		Role:             role,
		BitmapOffset:     int32(le.Uint32(raw[o1BitmapOffset:])),
		HasBitmap:        features&FeatureBitmap != 0,
		Checksum:         le.Uint32(raw[o1Csum:]),
		ComputedChecksum: Checksum1(raw),
		Raw:              append([]byte(nil), raw...),
		Missing:          int64(missing) * 512,
	}
	if sb.Recovering {
		// A recovery offset past the data area means recovery reached its
		// end (the kernel uses all ones for "done").
		sb.RecoveryOffset = int64(min(le.Uint64(raw[o1RecoveryOffset:]), dataSize)) * 512
	}
	copy(sb.SetUUID[:], raw[o1SetUUID:])
	copy(sb.DeviceUUID[:], raw[o1DeviceUUID:])
	return sb, nil
}

// maxSectors bounds sizes read from a superblock (512 PiB) so that sums of
// them cannot overflow.
const maxSectors = 1 << 50

// cstring returns b up to its first NUL.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
