package ldm

import (
	"fmt"
	"io"
	"strings"
)

// Record is the VBLK header shared by every database object. A record
// longer than one slot spans several slots ("fragments") with the same
// RecordID; Offset is the slot holding its first part.
type Record struct {
	Offset   int64  // byte offset of the record's first slot in the image
	Seq      uint32 // that slot's sequence number (its slot index from the VMDB)
	RecordID uint32 // VBLK record ("group") id
	Entries  uint16 // slots the record spans
	Status   uint16 // record status (0 in every image seen)
	Flags    uint8  // record flags: which optional fields are present
	Type     uint8  // kind in the low nibble, revision in the high nibble (0x51: volume rev 5)
	Size     uint32 // bytes of record data after the 24-byte head

	fields map[string]int64 // image offsets of the decoded fields, for errors
}

// Revision is the record's revision (high nibble of Type).
func (r *Record) Revision() uint8 { return r.Type >> 4 }

// at returns the byte offset of a decoded field, or the record's offset.
func (r *Record) at(field string) int64 {
	if o, ok := r.fields[field]; ok {
		return o
	}
	return r.Offset
}

// DiskGroup is the disk group record (type 0x35 or 0x45).
type DiskGroup struct {
	Record
	ID   uint64
	Name string
	GUID string // text form; revision 4 stores it in binary
}

// Disk is a disk record (type 0x34 or 0x44): one member disk of the group.
type Disk struct {
	Record
	ID      uint64
	Name    string // "Disk5"
	GUID    string // equals the PRIVHEAD disk GUID of that disk
	AltName string // revision 3 only
}

// Component types (Component.Type).
const (
	CompStriped uint8 = 1 // striped (RAID-0) plex
	CompSpanned uint8 = 2 // concatenated plex; a volume with several is a mirror
	CompRAID    uint8 = 3 // RAID-5 plex
)

// Volume is a volume record (type 0x51).
type Volume struct {
	Record
	ID            uint64
	Name          string // "Volume3"
	TypeName      string // "gen" or "raid5"
	Unknown1      string // empty, or "8000000000000000"
	State         string // fixed 14-byte field, "ACTIVE" in healthy volumes
	InternalType  uint8  // 3 = gen, 4 = raid5
	Number        uint8  // volume number
	VolumeFlags   uint8  // the flag byte after the volume number (0x11 in every image seen)
	Children      uint64 // number of components (plexes)
	CommitID      uint64 // transaction that last changed the record
	Unknown2      uint64 // fixed 8 bytes after the commit id
	Size          uint64 // sectors
	PartitionType uint8  // MBR-style type of the filesystem (0x07 NTFS)
	GUID          string // binary volume GUID, text form
	ID1, ID2      string // record flags 0x08, 0x20
	Size2         uint64 // record flag 0x80
	DriveHint     string // record flag 0x02: "G:"

	Kind   Kind   // derived from the components
	Plexes []Plex // the components in record order, each with its partitions
}

// Component is a component record (type 0x32): one plex of a volume.
type Component struct {
	Record
	ID          uint64
	Name        string // "Volume3-01"
	State       string // "ACTIVE" in healthy plexes
	Type        uint8  // CompStriped, CompSpanned, CompRAID
	Children    uint64 // number of partitions
	LogCommitID uint64
	ParentID    uint64 // volume id
	StripeSize  uint64 // sectors; record flag 0x10
	Columns     uint64 // record flag 0x10
}

// Partition is a partition record (type 0x33): a run of sectors on one disk.
type Partition struct {
	Record
	ID           uint64
	Name         string // "Disk5-01"
	CommitID     uint64
	Start        uint64 // sectors from the disk's logical disk start
	VolumeOffset uint64 // sectors from the volume start
	Size         uint64 // sectors
	ParentID     uint64 // component id
	DiskID       uint64 // disk id
	Index        uint64 // column number; record flag 0x08
}

// Kind is what a volume is made of.
type Kind uint8

// Volume kinds, named as ldmtool names them.
const (
	KindSimple  Kind = iota + 1 // one component, one partition
	KindSpanned                 // one concatenated component of several partitions
	KindStriped                 // one striped component
	KindMirror                  // several concatenated components holding the same data
	KindRAID5                   // one RAID-5 component
)

// String returns ldmtool's name for the kind.
func (k Kind) String() string {
	switch k {
	case KindSimple:
		return "simple"
	case KindSpanned:
		return "spanned"
	case KindStriped:
		return "striped"
	case KindMirror:
		return "mirrored"
	case KindRAID5:
		return "RAID5"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Plex is one component of a volume with its partitions, in column order
// for striped and RAID-5 plexes and volume order otherwise. Each plex of a
// mirror holds a whole copy of the volume.
type Plex struct {
	Component Component
	Extents   []Extent
}

// Extent is one partition of a plex and the disk it lies on.
type Extent struct {
	Partition Partition
	Disk      Disk
}

// Length is the extent's length in bytes.
func (e Extent) Length() int64 { return int64(e.Partition.Size) * SectorSize }

// ByteOffset returns the byte offset of the extent's data in the image
// whose PRIVHEAD is ph: the logical disk start plus the partition start.
// ph must be the PRIVHEAD of the extent's disk, and the extent must fit in
// that disk's logical disk.
func (e Extent) ByteOffset(ph *PrivHead) (int64, error) {
	p := &e.Partition
	if ph.DiskGUID != e.Disk.GUID {
		return 0, fmt.Errorf("ldm: partition %s is on disk %s (%s), not on disk %s", p.Name, e.Disk.Name, e.Disk.GUID, ph.DiskGUID)
	}
	if p.Start > ph.LogicalDiskSize || p.Size > ph.LogicalDiskSize-p.Start {
		return 0, fmt.Errorf("ldm: partition %s (sectors %d+%d) does not fit in the %d-sector logical disk of disk %s",
			p.Name, p.Start, p.Size, ph.LogicalDiskSize, e.Disk.Name)
	}
	return int64(ph.LogicalDiskStart+p.Start) * SectorSize, nil
}

// Database is one disk's copy of its disk group's LDM database.
type Database struct {
	DiskGroup
	Disks      []Disk      // in record order
	Volumes    []Volume    // in record order
	Components []Component // in record order
	Partitions []Partition // in record order

	// CommittedSeq and PendingSeq are the VMDB's transaction numbers.
	// Every disk of a group carries the same database; a disk whose
	// CommittedSeq is lower than another's missed the later changes.
	CommittedSeq, PendingSeq uint64
	UpdateStatus             uint16 // VMDB update status: 1 = consistent
	EmptySlots               int    // VBLK slots not in use

	VMDB      *VMDB
	TOCBlocks []*TOCBlock // the valid TOCBLOCK copies; the first is the one used
	TOCErrors []error     // why the other copies are not valid
	ThisDisk  *Disk       // the disk record of the image read; nil from DecodeVBLKs
}

// Consistent reports whether no configuration change was in progress when
// the database was last written (VMDB.Consistent).
func (db *Database) Consistent() bool {
	return db.UpdateStatus == 1 && db.PendingSeq == db.CommittedSeq
}

// Lags reports whether db is an older copy of the same disk group's
// database than o: same disk group GUID, lower committed sequence.
func (db *Database) Lags(o *Database) bool {
	return db.DiskGroup.GUID == o.DiskGroup.GUID && db.CommittedSeq < o.CommittedSeq
}

// DiskByGUID returns the disk record with the given GUID, or nil.
func (db *Database) DiskByGUID(guid string) *Disk {
	for i := range db.Disks {
		if db.Disks[i].GUID == guid {
			return &db.Disks[i]
		}
	}
	return nil
}

// VolumeByName returns the volume record with the given name, or nil.
func (db *Database) VolumeByName(name string) *Volume {
	for i := range db.Volumes {
		if db.Volumes[i].Name == name {
			return &db.Volumes[i]
		}
	}
	return nil
}

// ReadDatabase reads the database that ph points to: the TOCBLOCKs at the
// sectors ph names, the VMDB, and every VBLK slot of the config area. The
// database must belong to ph's disk group and list ph's disk.
func ReadDatabase(r io.ReaderAt, size int64, ph *PrivHead) (*Database, error) {
	base := int64(ph.ConfigStart) * SectorSize
	var (
		tocs    []*TOCBlock
		tocErrs []error
	)
	for i, s := range ph.TOCSectors {
		if i == 1 && s == ph.TOCSectors[0] {
			break
		}
		off := base + int64(s)*SectorSize
		raw, err := readSector(r, size, off, "TOCBLOCK")
		if err != nil {
			return nil, err // the database lies inside the image: this is I/O
		}
		t, err := DecodeTOCBlock(raw, off, ph.ConfigSize)
		if err != nil {
			tocErrs = append(tocErrs, err)
			continue
		}
		tocs = append(tocs, t)
	}
	if len(tocs) == 0 {
		return nil, tocErrs[0]
	}
	toc := tocs[0]
	for _, o := range tocs[1:] {
		for i := range toc.Bitmaps {
			if o.Bitmaps[i] != toc.Bitmaps[i] {
				return nil, &FormatError{Off: o.Offset + 0x24 + 0x22*int64(i), Field: fmt.Sprintf("TOCBLOCK.bitmap[%d]", i),
					Value: fmt.Sprintf("%+v", o.Bitmaps[i]), Msg: fmt.Sprintf("differs from the TOCBLOCK at byte %#x", toc.Offset)}
			}
		}
	}
	cfg := toc.Config()
	vmOff := base + int64(cfg.Start)*SectorSize
	raw, err := readSector(r, size, vmOff, "VMDB")
	if err != nil {
		return nil, err
	}
	vm, err := DecodeVMDB(raw, vmOff, int64(cfg.Size)*SectorSize)
	if err != nil {
		return nil, err
	}
	if g := vm.DiskGroupID; !strings.EqualFold(g, ph.DiskGroupGUID) {
		return nil, &FormatError{Off: vmOff + 0x35, Field: "VMDB.disk_group_guid", Value: fmt.Sprintf("%q", g),
			Msg: fmt.Sprintf("is not the PRIVHEAD's disk group %s", ph.DiskGroupGUID)}
	}
	area, err := readChunked(r, vmOff, vm.AreaBytes())
	if err != nil {
		return nil, err
	}
	db, err := DecodeVBLKs(vm, area)
	if err != nil {
		return nil, err
	}
	db.TOCBlocks, db.TOCErrors = tocs, tocErrs
	db.ThisDisk = db.DiskByGUID(ph.DiskGUID)
	if db.ThisDisk == nil {
		return nil, &FormatError{Off: ph.Offset + 0x30, Field: "PRIVHEAD.disk_guid", Value: ph.DiskGUID,
			Msg: fmt.Sprintf("is not among the database's %d disk records", len(db.Disks))}
	}
	for i := range db.Partitions {
		p := &db.Partitions[i]
		if p.DiskID == db.ThisDisk.ID && (p.Start > ph.LogicalDiskSize || p.Size > ph.LogicalDiskSize-p.Start) {
			return nil, &FormatError{Off: p.at("partition.start"), Field: "partition.start", Value: p.Start,
				Msg: fmt.Sprintf("+ %d sectors of %s end past the %d-sector logical disk", p.Size, p.Name, ph.LogicalDiskSize)}
		}
	}
	return db, nil
}
