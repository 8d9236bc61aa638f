// Package imsm reads Intel Matrix Storage Manager (Intel RST, "IMSM")
// firmware-RAID metadata: the MPB (Metadata Parameter Block) that mdadm and
// the Intel option ROM keep near the end of every member disk.
//
// It works on an io.ReaderAt plus the image size, as debug/elf does: every
// size, count and offset read from the image is checked before it is used,
// and no input makes it panic. Field names in errors follow mdadm's
// super-intel.c (struct imsm_super, imsm_disk, imsm_dev, imsm_vol, imsm_map).
//
// Layout (512-byte sectors, all fields little endian): the first 512 bytes
// of the MPB (the anchor) are in the second-to-last sector of the disk; if
// mpb_size is larger, the remaining ceil(mpb_size/512)-1 sectors are stored
// immediately before the anchor. The last sector holds the migration record.
// The MPB is a 216-byte header, num_disks 48-byte disk entries, num_raid_devs
// volumes (imsm_dev, each with one map, or two while migrating) and, at its
// end, an optional bad-block log.
//
// Disks with 4096-byte logical sectors keep the anchor 8 KiB before the end
// and store sizes in 4 KiB units; this package recognises such an anchor and
// reports it as unsupported rather than misreading it.
//
// # Which disk-table entry is this image?
//
// mdadm answers it with the drive's serial number: it reads the serial from
// the device (SCSI/NVMe inquiry, or the device name under
// IMSM_DEVNAME_AS_SERIAL) and looks it up in the disk table
// (load_imsm_disk, __serial_to_disk). An image file has no serial, and
// nothing in the MPB says "this copy belongs to entry k": every member holds
// the same MPB, byte for byte, because write_super_imsm writes one buffer
// to every member it does not count as failed. What the images do tell:
//
//   - An image whose MPB is the authoritative one (highest generation) took
//     part in that write, so it is one of the entries the MPB does not mark
//     failed.
//   - An image whose MPB lags missed that write: mdadm skipped it because
//     it was failed or gone, so it is an entry the authoritative MPB marks
//     failed. The failed entry's serial is the old one renamed by
//     mark_failure (":0" appended, cut to 15 characters), and the lagging
//     MPB still holds the old serial, which ties the two together.
//   - total_blocks is the member's size in sectors when it was added, so an
//     image of another size is not that entry (a weak test: members are
//     usually the same size).
//   - With the two images' entries otherwise undecided, the one left over
//     after the others are bound is the remaining one.
//
// Not decidable: which of two members with identical MPBs (a clean set) is
// which entry. It does not matter for checking a mirror (every member holds
// the volume at the same pba_of_lba0, and after a clean write the MPBs are
// identical), but a report must say it is assumed. Bind then assigns
// entries in input order and sets Member.Assumed; a serial given by the user
// (a flag) overrides everything.
//
// # Repair
//
// Synced gives the MPB a repaired mirror's members should hold; its
// documentation says which mdadm code each change follows and what it
// refuses.
package imsm

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Signature is the first 24 bytes of every MPB (MPB_SIGNATURE); the version
// string ("1.1.00") follows it.
const Signature = "Intel Raid ISM Cfg Sig. "

// SectorSize is the logical sector size this package reads.
const SectorSize = 512

// MaxMPBSectors caps mpb_size. It is this package's bound, not a check
// mdadm makes: mdadm reserves MPB_SECTOR_CNT (2210) sectors at the end of
// each member for the MPB and the migration record in the last sector, so
// a larger MPB would overlap volume data. The largest MPB mdadm itself
// sizes (disks_to_mpb_size for 255 disks) is under 19 KiB.
const MaxMPBSectors = 2209

// MaxMPBSize is MaxMPBSectors in bytes.
const MaxMPBSize = MaxMPBSectors * SectorSize

// ReservedSectors is what mdadm reserves at the end of each member for
// metadata (MPB_SECTOR_CNT + IMSM_RESERVED_SECTORS): the usable size it
// prints is total_blocks less this (or less what the volumes leave, if that
// is smaller).
const ReservedSectors = 2210 + 8192

// Disk status bits (imsm_disk.status).
const (
	DiskSpare      = 0x01
	DiskConfigured = 0x02
	DiskFailed     = 0x04
	DiskJournal    = 0x2000000
)

// Map states (imsm_map.map_state).
const (
	MapNormal        = 0
	MapUninitialized = 1
	MapDegraded      = 2
	MapFailed        = 3
)

// Migration types (imsm_vol.migr_type), meaningful while MigrState != 0.
const (
	MigrInit        = 0
	MigrRebuild     = 1
	MigrVerify      = 2
	MigrGeneral     = 3
	MigrStateChange = 4
	MigrRepair      = 5
)

// Volume dirty bits (imsm_vol.dirty).
const (
	VolDirty         = 1
	VolDSRecordValid = 2
)

const (
	failedDiskNone   = 0xff
	devVerifyAndFix  = 0x80 // imsm_dev.status DEV_VERIFY_AND_FIX
	attrib2TBDisk    = 0x04000000
	ordRebuild       = 1 << 24 // IMSM_ORD_REBUILD
	ordIndexMask     = 1<<24 - 1
	bbmLogSignature  = 0xabadb10c
	bbmLogMaxEntries = 254
	bbmLogEntrySize  = 8 // marked_count, disk_ordinal, 48-bit defective_block_start
	bbmLogHeaderSize = 8
	serialLen        = 16
	maxMapStates     = 4
	attribSupported  = 0x80000000 | 0x20000000 | 0x04000000 | 0x01 | 0x02 | 0x04 | 0x10 | 0x40 | 0x08000000
	attribIgnored    = 0x40000000
)

// IMSMOrdRebuild is IMSM_ORD_REBUILD, the disk_ord_tbl bit that marks a
// member as out of sync (to be rebuilt).
const IMSMOrdRebuild = ordRebuild

// Byte offsets of the fields this package reads, relative to the start of
// their structure (super-intel.c).
const (
	offCheckSum      = 0x20
	offMPBSize       = 0x24
	offFamily        = 0x28
	offGeneration    = 0x2c
	offAttributes    = 0x34
	offNumDisks      = 0x38
	offNumRaidDevs   = 0x39
	offOrigFamily    = 0x40
	offBBMLogSize    = 0x48
	offCreationTime  = 0x50
	headerSize       = 0xd8 // sizeof(imsm_super) - sizeof(imsm_disk)
	diskSize         = 48
	diskTotalLo      = 0x10
	diskSCSIID       = 0x14
	diskStatus       = 0x18
	diskTotalHi      = 0x20
	devSizeLow       = 0x10
	devSizeHigh      = 0x14
	devStatus        = 0x18
	devReserved      = 0x1c
	devVolumeID      = 0x28
	devRWHPolicy     = 0x32
	devVol           = 0x50 // struct imsm_vol
	volMigrUnitLo    = 0x00
	volMigrState     = 0x08
	volMigrType      = 0x09
	volDirty         = 0x0a
	volMigrUnitHi    = 0x10
	volMap           = 0x20 // struct imsm_map
	mapPBALo         = 0x00
	mapBPMLo         = 0x04
	mapNDSLo         = 0x08
	mapBlocksStrip   = 0x0c
	mapState         = 0x0e
	mapRaidLevel     = 0x0f
	mapNumMembers    = 0x10
	mapNumDomains    = 0x11
	mapFailedDiskNum = 0x12
	mapPBAHi         = 0x14
	mapBPMHi         = 0x18
	mapNDSHi         = 0x1c
	mapOrd           = 0x30 // disk_ord_tbl[num_members]
)

// MPB is one disk's copy of the IMSM metadata.
type MPB struct {
	Offset           int64     // byte offset of the anchor sector in the image
	Version          string    // after the signature, e.g. "1.1.00"
	Checksum         uint32    // check_sum as stored
	ComputedChecksum uint32    // mdadm's __gen_imsm_checksum over Raw
	Size             uint32    // mpb_size in bytes
	Family           uint32    // family_num
	OrigFamily       uint32    // orig_family_num (0 in MPBs of old mdadm versions)
	Generation       uint32    // generation_num: +1 on every write; mdadm's "events"
	Attributes       uint32    // attributes (MPB_ATTRIB_*)
	BBMLogSize       uint32    // bbm_log_size: bytes of bad-block log at the end of the MPB
	Created          time.Time // creation_time (UTC); zero when not recorded
	Disks            []Disk    // disk table, num_disks entries
	Volumes          []Volume  // num_raid_devs volumes
	Raw              []byte    // the mpb_size bytes: the anchor sector's part first, then the extended sectors'
}

// ChecksumOK reports whether the stored check_sum equals the computed one.
func (m *MPB) ChecksumOK() bool { return m.Checksum == m.ComputedChecksum }

// Sectors is the number of sectors the MPB occupies (mdadm's "MPB Sectors").
func (m *MPB) Sectors() int { return int((int64(m.Size) + SectorSize - 1) / SectorSize) }

// FamilyID is the number mdadm compares to decide whether two MPBs belong
// to one container: orig_family_num, or family_num when that is 0
// (compare_super_imsm).
func (m *MPB) FamilyID() uint32 {
	if m.OrigFamily != 0 {
		return m.OrigFamily
	}
	return m.Family
}

// AttributesSupported reports whether mdadm supports every attribute bit
// (examine prints "All supported").
func (m *MPB) AttributesSupported() bool {
	return m.Attributes&^uint32(attribSupported|attribIgnored) == 0
}

// UUID returns the container uuid as mdadm prints it: mdadm synthesises it
// as SHA-1 over the signature and the family number (uuid_from_super_imsm).
func (m *MPB) UUID() string { return m.uuid(-1) }

// VolumeUUID returns volume v's uuid as mdadm prints it (the signature, the
// family number, the volume index and its 16-byte name, hashed).
func (m *MPB) VolumeUUID(v int) string {
	if v < 0 || v >= len(m.Volumes) {
		return ""
	}
	return m.uuid(v)
}

func (m *MPB) uuid(v int) string {
	h := sha1.New()
	h.Write([]byte(Signature)) // Raw begins with it

	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], m.FamilyID())
	h.Write(b[:])
	if v >= 0 {
		binary.LittleEndian.PutUint32(b[:], uint32(v))
		h.Write(b[:])
		var name [serialLen]byte // volume[16] as stored, NUL padding included
		copy(name[:], m.Volumes[v].Name)
		if o := m.Volumes[v].Off; o >= 0 && o+serialLen <= len(m.Raw) {
			copy(name[:], m.Raw[o:])
		}
		h.Write(name[:])
	}
	d := h.Sum(nil)
	// mdadm prints each of the four 32-bit words in host (little-endian) order.
	var s []string
	for i := 0; i < 16; i += 4 {
		s = append(s, fmt.Sprintf("%02x%02x%02x%02x", d[i+3], d[i+2], d[i+1], d[i]))
	}
	return strings.Join(s, ":")
}

// Disk is one entry of the MPB's disk table (imsm_disk).
type Disk struct {
	Serial      string // up to 16 bytes, NUL-terminated as mdadm reads it
	TotalBlocks uint64 // sectors (the high word only when the 2TB-disk attribute is set, as mdadm)
	SCSIID      uint32
	Status      uint32 // DiskSpare, DiskConfigured, DiskFailed, DiskJournal
	Off         int    // byte offset of the entry in Raw
}

// Spare reports the SPARE_DISK bit.
func (d Disk) Spare() bool { return d.Status&DiskSpare != 0 }

// Configured reports the CONFIGURED_DISK bit: the disk is a member of a volume.
func (d Disk) Configured() bool { return d.Status&DiskConfigured != 0 }

// Failed reports the FAILED_DISK bit.
func (d Disk) Failed() bool { return d.Status&DiskFailed != 0 }

// StateString is the disk state as mdadm --examine prints it ("active",
// "active failed", "spare").
func (d Disk) StateString() string {
	var s []string
	if d.Spare() {
		s = append(s, "spare")
	}
	if d.Configured() {
		s = append(s, "active")
	}
	if d.Failed() {
		s = append(s, "failed")
	}
	if d.Status&DiskJournal != 0 {
		s = append(s, "journal")
	}
	return strings.Join(s, " ")
}

// Volume is one RAID volume (imsm_dev with its imsm_vol).
type Volume struct {
	Name         string // volume[16], NUL-terminated
	Size         uint64 // bytes of the volume (size_low|size_high sectors * 512)
	Status       uint32 // imsm_dev.status (DEV_* bits)
	Reserved     uint32 // reserved_blocks
	VolumeID     uint16 // my_vol_raid_dev_num
	RWHPolicy    uint8  // rwh_policy
	MigrState    uint8  // migr_state: nonzero while migrating (then Maps has 2 entries)
	MigrType     uint8  // migr_type as stored (see MigrationType)
	Dirty        uint8  // dirty: VolDirty, VolDSRecordValid
	CurrMigrUnit uint64 // curr_migr_unit: the migration checkpoint
	Maps         []Map  // [0] current (the target while migrating), [1] previous while migrating
	Off          int    // byte offset of the imsm_dev in Raw
}

// MigrationType returns migr_type as mdadm reads it: MIGR_VERIFY with the
// DEV_VERIFY_AND_FIX status bit is MigrRepair.
func (v *Volume) MigrationType() uint8 {
	if v.MigrType == MigrVerify && v.Status&devVerifyAndFix != 0 {
		return MigrRepair
	}
	return v.MigrType
}

// Migrating reports whether the volume is in the middle of a migration
// (initialisation, rebuild, verify, reshape).
func (v *Volume) Migrating() bool { return v.MigrState != 0 }

// Mirror reports whether the volume is RAID-1: level 1 with two members in
// its current map and, while migrating, in its previous map too.
func (v *Volume) Mirror() bool {
	for _, mp := range v.Maps {
		if mp.Level() != 1 {
			return false
		}
	}
	return len(v.Maps) > 0
}

// DataRange returns where the volume's data lies on each member of a
// mirror: from pba_of_lba0 for Size bytes. It is meaningful for Mirror
// volumes only (other levels stripe the volume across the members).
func (v *Volume) DataRange() (off, n int64) {
	return int64(v.Maps[0].PBAOfLBA0) * SectorSize, int64(v.Size)
}

// Slot returns the slot of disk-table entry disk in the volume's current
// map, or -1 (mdadm's get_imsm_disk_slot).
func (v *Volume) Slot(disk int) int {
	mp := v.Maps[0]
	for i := range mp.DiskOrd {
		if mp.DiskIndex(i) == disk {
			return i
		}
	}
	return -1
}

// Map is one RAID map (imsm_map). Sizes are in sectors, as stored.
type Map struct {
	PBAOfLBA0       uint64   // first sector of the volume's data on each member
	BlocksPerMember uint64   // sectors per member (data plus mdadm's 2048-sector dirty-stripe region)
	NumDataStripes  uint64   // num_data_stripes (for RAID-1 divided by num_domains)
	BlocksPerStrip  uint16   // chunk in sectors
	MapState        uint8    // MapNormal, MapUninitialized, MapDegraded, MapFailed
	RaidLevel       uint8    // raid_level as stored: 0, 1 (RAID-1 or, with 4 members, RAID-10), 5
	NumMembers      uint8    // num_members
	NumDomains      uint8    // num_domains
	FailedDiskNum   uint8    // failed_disk_num: a slot, or 0xff for none
	DiskOrd         []uint32 // disk_ord_tbl: disk-table index per slot, bit 24 IMSM_ORD_REBUILD
	Off             int      // byte offset of the map in Raw
}

// DiskIndex returns the disk-table index that slot i refers to
// (ord_to_idx: the low 24 bits).
func (mp Map) DiskIndex(i int) int { return int(mp.DiskOrd[i] & ordIndexMask) }

// Rebuilding reports whether slot i carries IMSM_ORD_REBUILD: its member is
// out of sync (failed, missing, or being rebuilt).
func (mp Map) Rebuilding(i int) bool { return mp.DiskOrd[i]&ordRebuild != 0 }

// Level returns the RAID level as mdadm reports it (get_imsm_raid_level):
// raid_level 1 with other than two members is RAID-10.
func (mp Map) Level() int {
	if mp.RaidLevel == 1 && mp.NumMembers != 2 {
		return 10
	}
	return int(mp.RaidLevel)
}

// Failed returns the failed slot, or -1 when failed_disk_num is 0xff.
func (mp Map) Failed() int {
	if mp.FailedDiskNum == failedDiskNone {
		return -1
	}
	return int(mp.FailedDiskNum)
}

// StateString names map_state as mdadm prints it.
func (mp Map) StateString() string {
	return [...]string{"normal", "uninitialized", "degraded", "failed"}[mp.MapState&3]
}

// FormatError reports a field that cannot be valid.
type FormatError struct {
	Off   int64  // byte offset of the field in the image
	Field string // field name as in super-intel.c ("mpb_size", "disk_ord_tbl"), or "anchor"
	Value any    // the value found, or nil
	Msg   string // what is wrong with it
}

// Error formats the error as "imsm: FIELD at byte 0xOFF: VALUE MSG".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "imsm: %s at byte %#x", e.Field, e.Off)
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

// ErrNoMPB means the anchor sector holds no IMSM signature (or the image is
// too small to have an anchor).
var ErrNoMPB = errors.New("imsm: no MPB")

// AnchorOffset returns the byte offset of the anchor sector in an image of
// size bytes (the second-to-last whole 512-byte sector); ok is false when
// the image is too small.
func AnchorOffset(size int64) (off int64, ok bool) {
	end := size &^ (SectorSize - 1)
	if end < 2*SectorSize {
		return 0, false
	}
	return end - 2*SectorSize, true
}

// Read finds and decodes the MPB of an image of size bytes. A bad checksum
// is not an error: the MPB is returned with ChecksumOK false, as evidence.
// Read returns ErrNoMPB when the anchor holds no signature, and a
// *FormatError when the MPB cannot be valid.
func Read(r io.ReaderAt, size int64) (*MPB, error) {
	off, ok := AnchorOffset(size)
	if !ok {
		return nil, ErrNoMPB
	}
	anchor := make([]byte, SectorSize)
	if err := readFull(r, anchor, off); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(anchor, []byte(Signature)) {
		end := off + 2*SectorSize
		if end >= 2*4096 {
			var sig [len(Signature)]byte
			if err := readFull(r, sig[:], end-2*4096); err == nil && string(sig[:]) == Signature {
				return nil, &FormatError{Off: end - 2*4096, Field: "sig",
					Msg: "anchor of a disk with 4096-byte sectors: not supported"}
			}
		}
		return nil, ErrNoMPB
	}
	n := binary.LittleEndian.Uint32(anchor[offMPBSize:])
	if err := checkSize(n, off); err != nil {
		return nil, err
	}
	raw := make([]byte, n)
	copy(raw, anchor)
	if ext := extSectors(n); ext > 0 {
		buf := make([]byte, int64(ext)*SectorSize)
		if err := readFull(r, buf, off-int64(ext)*SectorSize); err != nil {
			return nil, err
		}
		copy(raw[SectorSize:], buf)
	}
	return Decode(raw, off)
}

// extSectors is the number of extended sectors before the anchor.
func extSectors(n uint32) int {
	return int((int64(n)+SectorSize-1)/SectorSize) - 1
}

// checkSize checks mpb_size n for an anchor at byte off.
func checkSize(n uint32, off int64) error {
	fe := func(msg string) error {
		return &FormatError{Off: off + offMPBSize, Field: "mpb_size", Value: n, Msg: msg}
	}
	switch {
	case n < headerSize:
		return fe(fmt.Sprintf("is smaller than the %d-byte header", headerSize))
	case n > MaxMPBSize:
		return fe(fmt.Sprintf("is larger than %d sectors", MaxMPBSectors))
	case int64(extSectors(n))*SectorSize > off:
		return fe(fmt.Sprintf("puts the extended sectors before the start of the %#x-byte image", off+2*SectorSize))
	}
	return nil
}

// Decode decodes the MPB bytes raw (the anchor sector's part first, then the
// extended sectors', as Read assembles them) whose anchor is at byte off of
// the image; the image is taken to end one sector after the anchor. raw may
// extend past mpb_size; Raw in the result holds the mpb_size bytes only.
func Decode(raw []byte, off int64) (*MPB, error) {
	if off < 0 || off%SectorSize != 0 {
		return nil, &FormatError{Off: off, Field: "anchor", Value: off, Msg: "is not a sector boundary in the image"}
	}
	if len(raw) < len(Signature) || !bytes.HasPrefix(raw, []byte(Signature)) {
		return nil, ErrNoMPB
	}
	d := decoder{off: off}
	if len(raw) < offMPBSize+4 {
		return nil, &FormatError{Off: off, Field: "mpb_size", Msg: fmt.Sprintf("lies past the %d bytes given", len(raw))}
	}
	n := binary.LittleEndian.Uint32(raw[offMPBSize:])
	if err := checkSize(n, off); err != nil {
		return nil, err
	}
	d.size = int(n)
	if len(raw) < d.size {
		return nil, d.fe(offMPBSize, "mpb_size", n, fmt.Sprintf("is larger than the %d bytes given", len(raw)))
	}
	d.raw = bytes.Clone(raw[:d.size])
	return d.decode()
}

// decoder holds one MPB being decoded.
type decoder struct {
	raw  []byte
	off  int64 // anchor offset in the image
	size int   // mpb_size
}

// abs maps a byte offset in the MPB to its offset in the image: the first
// sector is the anchor, the rest lie in the sectors before it.
func (d *decoder) abs(p int) int64 {
	if p < SectorSize {
		return d.off + int64(p)
	}
	return d.off - int64(extSectors(uint32(d.size)))*SectorSize + int64(p-SectorSize)
}

func (d *decoder) fe(p int, field string, v any, msg string) *FormatError {
	return &FormatError{Off: d.abs(p), Field: field, Value: v, Msg: msg}
}

func (d *decoder) u16(p int) uint16 { return binary.LittleEndian.Uint16(d.raw[p:]) }
func (d *decoder) u32(p int) uint32 { return binary.LittleEndian.Uint32(d.raw[p:]) }
func (d *decoder) u64(p int) uint64 { return binary.LittleEndian.Uint64(d.raw[p:]) }

// join64 joins a lo and a hi word; mdadm ignores the hi words of disks and
// maps unless the 2TB-disk attribute is set (clear_hi).
func join64(lo, hi uint32, useHi bool) uint64 {
	if !useHi {
		hi = 0
	}
	return uint64(lo) | uint64(hi)<<32
}

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (d *decoder) decode() (*MPB, error) {
	raw := d.raw
	m := &MPB{
		Offset:     d.off,
		Version:    cstring(raw[len(Signature):offCheckSum]),
		Checksum:   d.u32(offCheckSum),
		Size:       uint32(d.size),
		Family:     d.u32(offFamily),
		Generation: d.u32(offGeneration),
		Attributes: d.u32(offAttributes),
		OrigFamily: d.u32(offOrigFamily),
		BBMLogSize: d.u32(offBBMLogSize),
		Raw:        raw,
	}
	m.ComputedChecksum = Checksum(raw)
	if t := d.u64(offCreationTime); t != 0 && t < 1<<62 {
		m.Created = time.Unix(int64(t), 0).UTC()
	}
	hi := m.Attributes&attrib2TBDisk != 0
	anchorSector := uint64(d.off / SectorSize)

	numDisks := int(raw[offNumDisks])
	p := headerSize
	if p+numDisks*diskSize > d.size {
		return nil, d.fe(offNumDisks, "num_disks", numDisks, fmt.Sprintf("entries do not fit in mpb_size %d", d.size))
	}
	m.Disks = make([]Disk, numDisks)
	for i := range m.Disks {
		m.Disks[i] = Disk{
			Serial:      cstring(raw[p : p+serialLen]),
			TotalBlocks: join64(d.u32(p+diskTotalLo), d.u32(p+diskTotalHi), hi),
			SCSIID:      d.u32(p + diskSCSIID),
			Status:      d.u32(p + diskStatus),
			Off:         p,
		}
		p += diskSize
	}

	numDevs := int(raw[offNumRaidDevs])
	m.Volumes = make([]Volume, 0, numDevs)
	for i := 0; i < numDevs; i++ {
		if p+devVol+volMap+mapOrd > d.size {
			return nil, d.fe(offNumRaidDevs, "num_raid_devs", numDevs,
				fmt.Sprintf("volume %d at MPB byte %#x runs past mpb_size %d", i, p, d.size))
		}
		v := Volume{
			Name:         cstring(raw[p : p+serialLen]),
			Status:       d.u32(p + devStatus),
			Reserved:     d.u32(p + devReserved),
			VolumeID:     d.u16(p + devVolumeID),
			RWHPolicy:    raw[p+devRWHPolicy],
			MigrState:    raw[p+devVol+volMigrState],
			MigrType:     raw[p+devVol+volMigrType],
			Dirty:        raw[p+devVol+volDirty],
			CurrMigrUnit: join64(d.u32(p+devVol+volMigrUnitLo), d.u32(p+devVol+volMigrUnitHi), true),
			Off:          p,
		}
		sizeSectors := join64(d.u32(p+devSizeLow), d.u32(p+devSizeHigh), true)
		q := p + devVol + volMap
		nmaps := 1
		if v.MigrState != 0 {
			nmaps = 2
		}
		for k := 0; k < nmaps; k++ {
			if q+mapOrd > d.size {
				return nil, d.fe(p+devVol+volMigrState, "migr_state", v.MigrState,
					fmt.Sprintf("calls for a second map at MPB byte %#x past mpb_size %d", q, d.size))
			}
			mp, err := d.decodeMap(q, numDisks, anchorSector, hi)
			if err != nil {
				return nil, err
			}
			v.Maps = append(v.Maps, mp)
			q += mapOrd + 4*len(mp.DiskOrd)
		}
		// Bound the size before turning it into bytes: no level stores
		// more than all its members hold.
		mp := v.Maps[0]
		limit := anchorSector * uint64(mp.NumMembers)
		if mp.Level() == 1 {
			limit = mp.BlocksPerMember
		}
		if sizeSectors > limit || sizeSectors > math.MaxInt64/SectorSize {
			return nil, d.fe(p+devSizeLow, "size_low", sizeSectors,
				fmt.Sprintf("sectors do not fit in %d members of %d sectors", mp.NumMembers, mp.BlocksPerMember))
		}
		v.Size = sizeSectors * SectorSize
		m.Volumes = append(m.Volumes, v)
		p = q
	}

	if m.BBMLogSize > uint32(d.size-p) {
		return nil, d.fe(offBBMLogSize, "bbm_log_size", m.BBMLogSize,
			fmt.Sprintf("does not fit in the %d bytes after the volumes", d.size-p))
	}
	if m.BBMLogSize != 0 {
		if err := d.checkBBMLog(m.BBMLogSize); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// decodeMap decodes the map at MPB byte q, whose fixed part is known to fit.
func (d *decoder) decodeMap(q, numDisks int, anchorSector uint64, hi bool) (Map, error) {
	raw := d.raw
	mp := Map{
		PBAOfLBA0:       join64(d.u32(q+mapPBALo), d.u32(q+mapPBAHi), hi),
		BlocksPerMember: join64(d.u32(q+mapBPMLo), d.u32(q+mapBPMHi), hi),
		NumDataStripes:  join64(d.u32(q+mapNDSLo), d.u32(q+mapNDSHi), hi),
		BlocksPerStrip:  d.u16(q + mapBlocksStrip),
		MapState:        raw[q+mapState],
		RaidLevel:       raw[q+mapRaidLevel],
		NumMembers:      raw[q+mapNumMembers],
		NumDomains:      raw[q+mapNumDomains],
		FailedDiskNum:   raw[q+mapFailedDiskNum],
		Off:             q,
	}
	n := int(mp.NumMembers)
	switch {
	case n == 0:
		return mp, d.fe(q+mapNumMembers, "num_members", n, "is zero")
	case q+mapOrd+4*n > d.size:
		return mp, d.fe(q+mapNumMembers, "num_members", n,
			fmt.Sprintf("disk_ord_tbl runs past mpb_size %d", d.size))
	case mp.MapState >= maxMapStates:
		return mp, d.fe(q+mapState, "map_state", mp.MapState, "is not 0..3")
	case mp.PBAOfLBA0 >= anchorSector:
		return mp, d.fe(q+mapPBALo, "pba_of_lba0", mp.PBAOfLBA0,
			fmt.Sprintf("is not before the anchor (sector %d)", anchorSector))
	case mp.BlocksPerMember > anchorSector-mp.PBAOfLBA0:
		return mp, d.fe(q+mapBPMLo, "blocks_per_member", mp.BlocksPerMember,
			fmt.Sprintf("from sector %d run past the anchor (sector %d)", mp.PBAOfLBA0, anchorSector))
	}
	mp.DiskOrd = make([]uint32, n)
	for i := range mp.DiskOrd {
		p := q + mapOrd + 4*i
		mp.DiskOrd[i] = d.u32(p)
		if idx := mp.DiskIndex(i); idx >= numDisks {
			return mp, d.fe(p, "disk_ord_tbl", idx, fmt.Sprintf("names disk %d of %d", idx, numDisks))
		}
	}
	return mp, nil
}

// checkBBMLog applies mdadm's load_bbm_log checks to the log at the end of
// the MPB.
func (d *decoder) checkBBMLog(size uint32) error {
	p := d.size - int(size)
	if size < bbmLogHeaderSize {
		return d.fe(offBBMLogSize, "bbm_log_size", size, "is smaller than the log header")
	}
	if sig := d.u32(p); sig != bbmLogSignature {
		return d.fe(p, "bbm_log.signature", fmt.Sprintf("%#x", sig), fmt.Sprintf("is not %#x", bbmLogSignature))
	}
	count := d.u32(p + 4)
	if count > bbmLogMaxEntries {
		return d.fe(p+4, "bbm_log.entry_count", count, fmt.Sprintf("is more than %d", bbmLogMaxEntries))
	}
	if size != bbmLogHeaderSize+bbmLogEntrySize*count {
		return d.fe(offBBMLogSize, "bbm_log_size", size, fmt.Sprintf("does not match %d entries", count))
	}
	return nil
}

// Checksum computes mdadm's MPB checksum (__gen_imsm_checksum) of mpb, the
// mpb_size bytes: the 32-bit little-endian sum of its whole words, less the
// stored check_sum.
func Checksum(mpb []byte) uint32 {
	var sum uint32
	for i := 0; i+4 <= len(mpb); i += 4 {
		sum += binary.LittleEndian.Uint32(mpb[i:])
	}
	if len(mpb) >= offCheckSum+4 {
		sum -= binary.LittleEndian.Uint32(mpb[offCheckSum:])
	}
	return sum
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
	return fmt.Errorf("imsm: read %d bytes at byte %#x: %w", len(p), off, err)
}
