// Package md reads, and for repair rewrites, Linux md (software RAID)
// superblocks of versions 0.90, 1.0, 1.1 and 1.2 and their internal
// write-intent bitmaps.
//
// It works on an io.ReaderAt plus the image size, as debug/elf and
// archive/zip do: every size or count read from the image is checked
// against the image before it is used, and no input makes it panic.
// Field names in errors follow the kernel's md_p.h.
package md

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Version is the superblock format: where it sits and how it is laid out.
type Version uint8

// The superblock versions; 1.0, 1.1 and 1.2 share a layout and differ in
// location only.
const (
	V090 Version = iota + 1
	V10
	V11
	V12
)

// String returns the version as mdadm writes it after --metadata.
func (v Version) String() string {
	switch v {
	case V090:
		return "0.90"
	case V10:
		return "1.0"
	case V11:
		return "1.1"
	case V12:
		return "1.2"
	}
	return fmt.Sprintf("Version(%d)", uint8(v))
}

// Special 1.x dev_roles values; every value below 0xff00 is a data slot.
const (
	RoleSpare   uint16 = 0xffff
	RoleFaulty  uint16 = 0xfffe
	RoleJournal uint16 = 0xfffd
)

// roleMax is the first role value that is not a data slot.
const roleMax = 0xff00

// Magic is md_magic, the first word of every md superblock.
const Magic = 0xa92b4efc

// Disk is a 0.90 disk descriptor (mdp_disk_t).
type Disk struct {
	Number, Major, Minor, RaidDisk, State uint32
}

// 0.90 disk state bits (Disk.State).
const (
	DiskFaulty      = 1 << 0
	DiskActive      = 1 << 1
	DiskSync        = 1 << 2
	DiskRemoved     = 1 << 3
	DiskWriteMostly = 1 << 9
	DiskFailFast    = 1 << 10
)

// 1.x feature_map bits this package interprets.
const (
	FeatureBitmap         = 1 << 0
	FeatureRecoveryOffset = 1 << 1
	FeatureReplacement    = 1 << 4
)

// 0.90 superblock state bits.
const (
	StateClean         = 1 << 0
	StateErrors        = 1 << 1
	StateBitmapPresent = 1 << 8
)

// Superblock is one member's decoded md superblock.
type Superblock struct {
	Version          Version
	Offset           int64            // byte offset of the superblock in the image
	ByteOrder        binary.ByteOrder // 0.90: as written (host order of the writer); 1.x: little endian
	SetUUID          [16]byte         // array uuid as stored (0.90: words uuid0..3 in the writer's order)
	Name             string           // 1.x set_name (NUL-trimmed); "" for 0.90
	CTime, UTime     time.Time        // UTC
	Level            int32            // 1 for RAID-1
	Size             int64            // bytes used per device (0.90: size KiB*1024; 1.x: size sectors*512)
	RaidDisks        int              // raid_disks: slots in the array
	Events           uint64           // update count; the highest among active members is freshest
	FeatureMap       uint32           // 1.x feature_map; 0 for 0.90
	DataOffset       int64            // bytes from image start to the data area (0.90: 0)
	DataSize         int64            // bytes usable for data (1.x data_size*512; 0.90: Size)
	Recovering       bool             // 1.x feature bit 2: the member is partly rebuilt
	RecoveryOffset   int64            // bytes of the data area already rebuilt, when Recovering (capped at DataSize); else 0
	ResyncOffset     uint64           // 1.x resync_offset in sectors (all ones = clean); 0.90: recovery_cp
	Clean            bool             // 0.90 state bit 0; 1.x resync_offset == all ones
	State            uint32           // 0.90 state word; 0 for 1.x
	DevNumber        int              // 1.x dev_number; 0.90 this_disk.number
	DeviceUUID       [16]byte         // 1.x device_uuid; zero for 0.90
	DevRoles         []uint16         // role per device number; 0.90: synthesized from Disks
	Role             uint16           // this device's role, as DevRoles[DevNumber]
	Disks            []Disk           // 0.90 disks[0..26] as stored; nil for 1.x
	ThisDisk         Disk             // 0.90 this_disk; zero for 1.x
	BitmapOffset     int32            // 1.x bitmap_offset (sectors from the superblock, signed); 0.90: 8 when a bitmap is present
	HasBitmap        bool             // 1.x feature bit 0 / 0.90 state bit 8
	Checksum         uint32           // sb_csum as stored
	ComputedChecksum uint32           // sb_csum computed over Raw

	// 0.90 summary words, as stored (mdadm --examine prints them).
	MDMinor                                                     int // md_minor: preferred minor
	NrDisks, ActiveDisks, WorkingDisks, FailedDisks, SpareDisks int

	// Missing is the number of bytes of the declared data area that lie
	// past the end of the image (1.1/1.2 only: a truncated image).
	Missing int64
	Raw     []byte // the exact bytes decoded (4096 for 0.90, 256+2*max_dev for 1.x)
}

// ChecksumOK reports whether the stored checksum equals the computed one.
// Like mdadm, and unlike the kernel for 0.90 (which compares checksums
// folded to 16 bits), it requires an exact match.
func (sb *Superblock) ChecksumOK() bool { return sb.Checksum == sb.ComputedChecksum }

// UUIDString formats the array uuid as mdadm prints it: 0.90 as the four
// uuid words in the writer's byte order, 1.x as the 16 bytes in order.
func (sb *Superblock) UUIDString() string {
	if sb.Version == V090 && sb.ByteOrder != nil {
		u := sb.SetUUID[:]
		o := sb.ByteOrder
		return fmt.Sprintf("%08x:%08x:%08x:%08x", o.Uint32(u[0:]), o.Uint32(u[4:]), o.Uint32(u[8:]), o.Uint32(u[12:]))
	}
	return uuidBytes(sb.SetUUID)
}

// uuidBytes formats 16 bytes in mdadm's 1.x style.
func uuidBytes(u [16]byte) string {
	return fmt.Sprintf("%x:%x:%x:%x", u[0:4], u[4:8], u[8:12], u[12:16])
}

// IsSlot reports whether the device holds a data slot (Role < 0xff00).
func (sb *Superblock) IsSlot() bool { return sb.Role < roleMax }

// FormatError reports a field that cannot be valid.
type FormatError struct {
	Off   int64  // byte offset of the field in the image
	Field string // field name as in md_p.h / bitmap.h ("max_dev", "chunksize"), or "superblock"
	Value any    // the value found, or nil
	Msg   string // what is wrong with it
}

// Error formats the error as "md: FIELD at byte 0xOFF: VALUE MSG".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "md: %s at byte %#x", e.Field, e.Off)
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

// ErrNoSuperblock means no location held an md superblock magic.
var ErrNoSuperblock = errors.New("md: no superblock")

// ErrNoBitmap means the superblock records no internal bitmap.
var ErrNoBitmap = errors.New("md: no internal bitmap")

// Sizes from md_p.h and mdadm.
const (
	sb090Bytes    = 4096      // MD_SB_BYTES
	sb090Reserved = 64 * 1024 // MD_RESERVED_BYTES: the 0.90 area at the end of the device
	sb090Disks    = 27        // MD_SB_DISKS
	sb1Header     = 256       // fixed part of mdp_superblock_1
	sb1Block      = 4096      // the kernel reads one 4 KiB block
	maxDev1       = (sb1Block - sb1Header) / 2
)

// Location returns the byte offset at which a superblock of version v sits in
// an image of size bytes; ok is false if the image is too small to have one.
func Location(v Version, size int64) (off int64, ok bool) {
	s := size / 512
	switch v {
	case V12:
		off = 8 * 512
	case V11:
		off = 0
	case V10:
		if s < 16 {
			return 0, false
		}
		off = ((s - 16) &^ 7) * 512
	case V090:
		if s < 128 {
			return 0, false
		}
		off = ((s &^ 127) - 128) * 512
	default:
		return 0, false
	}
	return off, off < size
}

// Scan probes every superblock location (1.2 at 4096, 1.1 at 0, 1.0 8..12 KiB
// before the end, 0.90 64..128 KiB before the end, in that order) and returns
// every superblock whose magic matches and whose location is right. A
// superblock with a bad checksum is returned too (ChecksumOK false). If a
// magic matched but the superblock cannot be valid, and nothing else was
// found, Scan returns that *FormatError; if no magic matched it returns
// ErrNoSuperblock. The error is non-nil only when the list is empty.
func Scan(r io.ReaderAt, size int64) ([]*Superblock, error) {
	var (
		found    []*Superblock
		firstErr error
		probed   []int64
	)
outer:
	for _, v := range []Version{V12, V11, V10, V090} {
		off, ok := Location(v, size)
		if !ok || off > size-4 {
			continue
		}
		// Tiny images can put two 1.x versions' locations on the same
		// byte; the earlier (more specific) version wins. 0.90, another
		// layout, is always probed.
		if v != V090 {
			for _, p := range probed {
				if p == off {
					continue outer
				}
			}
			probed = append(probed, off)
		}
		var m [4]byte
		if err := readFull(r, m[:], off); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		lm, bm := binary.LittleEndian.Uint32(m[:]), binary.BigEndian.Uint32(m[:])
		if lm != Magic && (v != V090 || bm != Magic) {
			continue
		}
		sb, err := ReadAt(r, size, v, off)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		found = append(found, sb)
	}
	if len(found) > 0 {
		return found, nil
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, ErrNoSuperblock
}

// ReadAt decodes a superblock of version v at byte off without probing.
func ReadAt(r io.ReaderAt, size int64, v Version, off int64) (*Superblock, error) {
	if off < 0 || off >= size {
		return nil, &FormatError{Off: off, Field: "superblock", Msg: fmt.Sprintf("offset outside the %#x-byte image", size)}
	}
	var n int64
	switch v {
	case V090:
		n = sb090Bytes
	case V10, V11, V12:
		if size-off < sb1Header {
			return nil, truncated(off, sb1Header, size)
		}
		// One 4 KiB block holds the largest valid superblock; Decode
		// checks max_dev against what could be read.
		n = min(sb1Block, size-off)
	default:
		return nil, fmt.Errorf("md: unknown superblock version %d", uint8(v))
	}
	if size-off < n {
		return nil, truncated(off, n, size)
	}
	buf := make([]byte, n)
	if err := readFull(r, buf, off); err != nil {
		return nil, err
	}
	return Decode(buf, v, off, size)
}

// Decode decodes raw superblock bytes of version v found at byte off in an
// image of size bytes. raw may extend past the superblock; Raw in the result
// holds only the superblock's own bytes.
func Decode(raw []byte, v Version, off, size int64) (*Superblock, error) {
	if off < 0 || off >= size {
		return nil, &FormatError{Off: off, Field: "superblock", Msg: fmt.Sprintf("offset outside the %#x-byte image", size)}
	}
	switch v {
	case V090:
		return decode090(raw, off, size)
	case V10, V11, V12:
		return decode1(raw, v, off, size)
	}
	return nil, fmt.Errorf("md: unknown superblock version %d", uint8(v))
}

// truncated reports a structure of n bytes at off that the image cuts short.
func truncated(off, n, size int64) *FormatError {
	return &FormatError{Off: off, Field: "superblock", Msg: fmt.Sprintf("%d bytes do not fit in the %#x-byte image", n, size)}
}

// readFull reads len(p) bytes at off; a short read is an error, never zeros.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("md: read %d bytes at byte %#x: %w", len(p), off, err)
}

// readChunk is the most readChunked allocates ahead of the bytes it has read.
const readChunk = 1 << 20

// readChunked reads n bytes at off in chunks, so that a size the image
// cannot back (a reader shorter than the size it was given) ends in a read
// error before it becomes a large allocation.
func readChunked(r io.ReaderAt, off, n int64) ([]byte, error) {
	if n <= readChunk {
		buf := make([]byte, n)
		if err := readFull(r, buf, off); err != nil {
			return nil, err
		}
		return buf, nil
	}
	var buf []byte
	for int64(len(buf)) < n {
		k := int(min(readChunk, n-int64(len(buf))))
		buf = slices.Grow(buf, k)[:len(buf)+k]
		if err := readFull(r, buf[len(buf)-k:], off+int64(len(buf)-k)); err != nil {
			return nil, err
		}
	}
	return buf, nil
}
