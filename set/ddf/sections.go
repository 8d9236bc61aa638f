package ddf

import (
	"fmt"
	"strings"
)

// Controller is the decoded ddf_controller_data section.
type Controller struct {
	GUID                                         GUID
	VendorID, DeviceID, SubVendorID, SubDeviceID uint16
	ProductID                                    string // 16 bytes, NUL-trimmed
	CRC, ComputedCRC                             uint32
	Raw                                          []byte // the 512 bytes decoded
}

const controllerBytes = 512

func decodeController(raw []byte, off int64) (*Controller, error) {
	if len(raw) < controllerBytes {
		return nil, &FormatError{Off: off, Field: "controller", Msg: fmt.Sprintf("needs %d bytes, %d given", controllerBytes, len(raw))}
	}
	raw = raw[:controllerBytes]
	if m := be.Uint32(raw); m != ControllerMagic {
		return nil, &FormatError{Off: off, Field: "controller.magic", Value: fmt.Sprintf("%#08x", m), Msg: fmt.Sprintf("is not %#x", ControllerMagic)}
	}
	c := &Controller{
		VendorID:    be.Uint16(raw[32:]),
		DeviceID:    be.Uint16(raw[34:]),
		SubVendorID: be.Uint16(raw[36:]),
		SubDeviceID: be.Uint16(raw[38:]),
		ProductID:   cstring(raw[40:56]),
		CRC:         be.Uint32(raw[crcOff:]),
		ComputedCRC: CRC(raw, crcOff),
		Raw:         append([]byte(nil), raw...),
	}
	copy(c.GUID[:], raw[8:])
	return c, nil
}

// PhysDisk is one used entry of the physical disk records.
type PhysDisk struct {
	Index      int // entry number ("Number" in mdadm --examine)
	GUID       GUID
	RefNo      uint32
	Type       uint16 // PD* type bits
	State      uint16 // PD* state bits
	ConfigSize uint64 // sectors usable for data: the DDF area starts here
	Path       string // 18 bytes, "for information only", NUL-trimmed
}

// Online reports the Online bit with Failed clear (Failed overrides it).
func (p PhysDisk) Online() bool { return p.State&PDOnline != 0 && p.State&PDFailed == 0 }

// Failed reports the Failed bit.
func (p PhysDisk) Failed() bool { return p.State&PDFailed != 0 }

// Rebuilding reports the Rebuilding bit with Failed clear.
func (p PhysDisk) Rebuilding() bool { return p.State&PDRebuilding != 0 && p.State&PDFailed == 0 }

// Transition reports the Transition bit with Failed clear.
func (p PhysDisk) Transition() bool { return p.State&PDTransition != 0 && p.State&PDFailed == 0 }

// Missing reports the Missing bit.
func (p PhysDisk) Missing() bool { return p.State&PDMissing != 0 }

// Working reports whether the disk counts as an in-sync member: Online,
// and neither Failed, Rebuilding nor Missing (mdadm's get_bvd_state and
// ddf_open_new tests together).
func (p PhysDisk) Working() bool {
	return p.State&(PDOnline|PDFailed|PDRebuilding|PDMissing) == PDOnline
}

// TypeString renders the type bits as mdadm --examine does ("active").
func (p PhysDisk) TypeString() string {
	var b strings.Builder
	for _, f := range []struct {
		bit  uint16
		name string
	}{{PDActiveInVD, "active"}, {PDGlobalSpare, "Global-Spare"}, {PDSpare, "spare"}, {PDForeign, ", foreign"}, {PDLegacy, "pass-through"}} {
		if p.Type&f.bit != 0 {
			b.WriteString(f.name)
		}
	}
	return b.String()
}

// StateString renders the state bits as mdadm --examine does
// ("Offline, Failed, Missing").
func (p PhysDisk) StateString() string {
	s := p.State
	if s&PDFailed != 0 {
		s &^= PDOnline | PDRebuilding | PDTransition
	}
	var b strings.Builder
	if s&PDOnline != 0 {
		b.WriteString("Online")
	} else {
		b.WriteString("Offline")
	}
	for _, f := range []struct {
		bit  uint16
		name string
	}{{PDFailed, "Failed"}, {PDRebuilding, "Rebuilding"}, {PDTransition, "in-transition"}, {PDSMART, "SMART-errors"}, {PDReadErrors, "Unrecovered-Read-Errors"}, {PDMissing, "Missing"}} {
		if s&f.bit != 0 {
			b.WriteString(", " + f.name)
		}
	}
	return b.String()
}

const (
	listHeader = 64 // phys_disk and virtual_disk: magic, crc, counts, pad
	entryBytes = 64 // phys_disk_entry and virtual_entry
)

// physRecords is the decoded phys_disk section.
type physRecords struct {
	used, max        uint16
	crc, computedCRC uint32
	disks            []PhysDisk
}

// decodePhys decodes a phys_disk section (raw is the whole section) found
// at byte off.
func decodePhys(raw []byte, off int64) (*physRecords, error) {
	if len(raw) < listHeader {
		return nil, &FormatError{Off: off, Field: "phys_disk", Msg: fmt.Sprintf("needs %d bytes, %d given", listHeader, len(raw))}
	}
	if m := be.Uint32(raw); m != PhysMagic {
		return nil, &FormatError{Off: off, Field: "phys.magic", Value: fmt.Sprintf("%#08x", m), Msg: fmt.Sprintf("is not %#x", PhysMagic)}
	}
	p := &physRecords{used: be.Uint16(raw[8:]), max: be.Uint16(raw[10:]), crc: be.Uint32(raw[crcOff:]), computedCRC: CRC(raw, crcOff)}
	if n := listHeader + entryBytes*int(p.max); n > len(raw) {
		return nil, &FormatError{Off: off + 10, Field: "phys.max_pdes", Value: p.max, Msg: fmt.Sprintf("entries need %d bytes, the section has %d", n, len(raw))}
	}
	for i := range int(p.max) {
		e := raw[listHeader+entryBytes*i:][:entryBytes]
		ref := be.Uint32(e[24:])
		if ref == Unused { // as mdadm --examine: not in use
			continue
		}
		d := PhysDisk{
			Index:      i,
			RefNo:      ref,
			Type:       be.Uint16(e[28:]),
			State:      be.Uint16(e[30:]),
			ConfigSize: be.Uint64(e[32:]),
			Path:       cstring(e[40:58]),
		}
		copy(d.GUID[:], e)
		p.disks = append(p.disks, d)
	}
	return p, nil
}

// VirtualDisk is one used entry of the virtual disk records.
type VirtualDisk struct {
	Index     int // entry number ("[n]" in mdadm --examine)
	GUID      GUID
	Number    uint16 // unit: the md minor mdadm made it as
	GUIDCRC   uint16
	Type      uint16 // 1 shared, 2 enforce groups, 4 unicode name, 8 owner valid
	State     uint8  // VD* condition and flags
	InitState uint8  // Init* and Access* bits
	Name      string // 16 bytes, NUL-trimmed as mdadm prints it
}

// Condition is the low three state bits (VDOptimal ... VDPartOptimal).
func (v VirtualDisk) Condition() uint8 { return v.State & VDConditionMask }

// Morphing reports the morphing flag.
func (v VirtualDisk) Morphing() bool { return v.State&VDMorphing != 0 }

// Inconsistent reports the "not consistent" flag: the members may differ.
func (v VirtualDisk) Inconsistent() bool { return v.State&VDInconsistent != 0 }

// Init is the initialisation state (InitNot, InitQuick, InitFull).
func (v VirtualDisk) Init() uint8 { return v.InitState & InitMask }

// Access is the access bits (AccessRW, AccessRO, AccessBlock).
func (v VirtualDisk) Access() uint8 { return v.InitState & AccessMask }

var (
	conditionNames = [8]string{"Optimal", "Degraded", "Deleted", "Missing", "Failed", "Partially Optimal", "-reserved-", "-reserved-"}
	initNames      = [4]string{"Not Initialised", "QuickInit in Progress", "Fully Initialised", "*UNKNOWN*"}
	accessNames    = [4]string{"Read/Write", "Reserved", "Read Only", "Blocked (no access)"}
)

// StateString renders the state as mdadm --examine does
// ("Degraded, Not Consistent").
func (v VirtualDisk) StateString() string {
	s := conditionNames[v.Condition()] + ", "
	if v.Morphing() {
		s += "Morphing, "
	}
	if v.Inconsistent() {
		return s + "Not Consistent"
	}
	return s + "Consistent"
}

// InitString renders the init state as mdadm --examine does.
func (v VirtualDisk) InitString() string { return initNames[v.Init()] }

// AccessString renders the access bits as mdadm --examine does.
func (v VirtualDisk) AccessString() string { return accessNames[v.Access()>>6] }

// virtRecords is the decoded virtual_disk section.
type virtRecords struct {
	populated, max   uint16
	crc, computedCRC uint32
	disks            []VirtualDisk
}

func decodeVirt(raw []byte, off int64) (*virtRecords, error) {
	if len(raw) < listHeader {
		return nil, &FormatError{Off: off, Field: "virtual_disk", Msg: fmt.Sprintf("needs %d bytes, %d given", listHeader, len(raw))}
	}
	if m := be.Uint32(raw); m != VirtMagic {
		return nil, &FormatError{Off: off, Field: "virt.magic", Value: fmt.Sprintf("%#08x", m), Msg: fmt.Sprintf("is not %#x", uint32(VirtMagic))}
	}
	v := &virtRecords{populated: be.Uint16(raw[8:]), max: be.Uint16(raw[10:]), crc: be.Uint32(raw[crcOff:]), computedCRC: CRC(raw, crcOff)}
	if n := listHeader + entryBytes*int(v.max); n > len(raw) {
		return nil, &FormatError{Off: off + 10, Field: "virt.max_vdes", Value: v.max, Msg: fmt.Sprintf("entries need %d bytes, the section has %d", n, len(raw))}
	}
	for i := range int(v.max) {
		e := raw[listHeader+entryBytes*i:][:entryBytes]
		var g GUID
		copy(g[:], e)
		if g.IsUnused() {
			continue
		}
		v.disks = append(v.disks, VirtualDisk{
			Index:     i,
			GUID:      g,
			Number:    be.Uint16(e[24:]),
			GUIDCRC:   be.Uint16(e[28:]),
			Type:      be.Uint16(e[30:]),
			State:     e[32],
			InitState: e[33],
			Name:      cstring(e[48:64]),
		})
	}
	return v, nil
}

// Config is one virtual disk configuration record (vd_config): how one
// virtual disk (or one basic VD of a two-level one) lies on its member
// disks. Configuration records are local: a disk holds records only for
// the virtual disks it is part of.
type Config struct {
	Index       int   // record number in the config section
	Offset      int64 // byte offset of the record in the image
	CRC         uint32
	ComputedCRC uint32
	GUID        GUID // the virtual disk's GUID
	TimeStamp   uint32
	Seqnum      uint32 // incremented on every change of this record

	PrimaryElementCount   uint16 // members of this basic VD
	StripeSize            uint8  // chunk_shift: chunks of 512<<n bytes; 255 none
	PrimaryLevel          uint8  // Level* (prl)
	RLQ                   uint8  // RAID level qualifier
	SecondaryElementCount uint8  // basic VDs in the VD (1: none)
	SecondaryElementSeq   uint8  // which basic VD this record is
	SecondaryLevel        uint8  // srl
	Blocks                uint64 // sectors of the VD on each member
	ArraySize             uint64 // array_blocks: sectors of the whole VD

	// PhysRefs and LBAOffsets are the members in raid-disk order, as mdadm's
	// find_index_in_bvd counts them: the first PrimaryElementCount slots of
	// the phys_refnum table whose refnum is not 0xffffffff. LBAOffsets[i] is
	// the sector on member i where the VD's data starts; Slots[i] is the
	// table index the member was found at.
	PhysRefs   []uint32
	LBAOffsets []uint64
	Slots      []int

	Raw []byte // the whole record (config_record_len sectors)
}

// Level names the primary RAID level as mdadm --examine does ("RAID1").
func (c *Config) Level() string { return levelName(c.PrimaryLevel) }

func levelName(l uint8) string {
	switch l {
	case LevelRAID0:
		return "RAID0"
	case LevelRAID1:
		return "RAID1"
	case LevelRAID3:
		return "RAID3"
	case LevelRAID4:
		return "RAID4"
	case LevelRAID5:
		return "RAID5"
	case LevelRAID1E:
		return "RAID1E"
	case LevelJBOD:
		return "JBOD"
	case LevelCONCAT:
		return "CONCAT"
	case LevelRAID5E:
		return "RAID5E"
	case LevelRAID5EE:
		return "RAID5EE"
	case LevelRAID6:
		return "RAID6"
	}
	return "-unknown-"
}

// IsMirror reports whether the record describes a plain mirror: RAID-1 with
// a single basic VD (a RAID-1 with a secondary level is RAID-10, and
// RAID1E is a striped mirror).
func (c *Config) IsMirror() bool {
	return c.PrimaryLevel == LevelRAID1 && c.SecondaryElementCount <= 1 && c.PrimaryElementCount >= 2
}

// CRCOK reports whether the stored CRC equals the computed one.
func (c *Config) CRCOK() bool { return c.CRC == c.ComputedCRC }

// Byte offsets of vd_config fields.
const (
	cTimeStamp = 32
	cSeqnum    = 36
	cPrimCount = 64
	cChunk     = 66
	cPRL       = 67
	cRLQ       = 68
	cSecCount  = 69
	cSecSeq    = 70
	cSRL       = 71
	cBlocks    = 72
	cArray     = 80
	cRefs      = 512
)

// maxSectors bounds sector counts and offsets read from the metadata
// (512 PiB) so that sums of them cannot overflow.
const maxSectors = 1 << 50

// decodeConfig decodes one vd_config record of a container whose records
// hold mppe slots. raw is exactly one record.
func decodeConfig(raw []byte, off int64, index int, mppe int) (*Config, error) {
	if need := cRefs + 12*mppe; len(raw) < need {
		return nil, &FormatError{Off: off, Field: "vd_config", Msg: fmt.Sprintf("%d slots need %d bytes, the record has %d", mppe, need, len(raw))}
	}
	if m := be.Uint32(raw); m != ConfigMagic {
		return nil, &FormatError{Off: off, Field: "vd_config.magic", Value: fmt.Sprintf("%#08x", m), Msg: fmt.Sprintf("is not %#x", uint32(ConfigMagic))}
	}
	c := &Config{
		Index:                 index,
		Offset:                off,
		CRC:                   be.Uint32(raw[crcOff:]),
		ComputedCRC:           CRC(raw, crcOff),
		TimeStamp:             be.Uint32(raw[cTimeStamp:]),
		Seqnum:                be.Uint32(raw[cSeqnum:]),
		PrimaryElementCount:   be.Uint16(raw[cPrimCount:]),
		StripeSize:            raw[cChunk],
		PrimaryLevel:          raw[cPRL],
		RLQ:                   raw[cRLQ],
		SecondaryElementCount: raw[cSecCount],
		SecondaryElementSeq:   raw[cSecSeq],
		SecondaryLevel:        raw[cSRL],
		Blocks:                be.Uint64(raw[cBlocks:]),
		ArraySize:             be.Uint64(raw[cArray:]),
		Raw:                   append([]byte(nil), raw...),
	}
	copy(c.GUID[:], raw[8:])
	if int(c.PrimaryElementCount) > mppe {
		return nil, &FormatError{Off: off + cPrimCount, Field: "vd_config.prim_elmnt_count", Value: c.PrimaryElementCount, Msg: fmt.Sprintf("exceeds max_primary_element_entries %d", mppe)}
	}
	if c.Blocks > maxSectors {
		return nil, &FormatError{Off: off + cBlocks, Field: "vd_config.blocks", Value: c.Blocks, Msg: "sectors is beyond any disk"}
	}
	if c.ArraySize > maxSectors {
		return nil, &FormatError{Off: off + cArray, Field: "vd_config.array_blocks", Value: c.ArraySize, Msg: "sectors is beyond any array"}
	}
	lbaBase := cRefs + 4*mppe
	for i := 0; i < mppe && len(c.PhysRefs) < int(c.PrimaryElementCount); i++ {
		ref := be.Uint32(raw[cRefs+4*i:])
		if ref == Unused {
			continue
		}
		lba := be.Uint64(raw[lbaBase+8*i:])
		if lba > maxSectors {
			return nil, &FormatError{Off: off + int64(lbaBase+8*i), Field: "vd_config.lba_offset", Value: lba, Msg: "sectors is beyond any disk"}
		}
		c.PhysRefs = append(c.PhysRefs, ref)
		c.LBAOffsets = append(c.LBAOffsets, lba)
		c.Slots = append(c.Slots, i)
	}
	return c, nil
}

// DiskData is the disk_data section: which physical disk this image is.
type DiskData struct {
	GUID        GUID
	RefNo       uint32 // matches PhysDisk.RefNo of this disk's entry
	ForcedRef   uint8  // set when RefNo was not derived from the drive
	ForcedGUID  uint8  // set when GUID was not derived from the drive
	Vendor      string // 32 bytes as stored
	CRC         uint32
	ComputedCRC uint32
	Raw         []byte // the 512 bytes decoded
}

const diskDataBytes = 512

func decodeDiskData(raw []byte, off int64) (*DiskData, error) {
	if len(raw) < diskDataBytes {
		return nil, &FormatError{Off: off, Field: "disk_data", Msg: fmt.Sprintf("needs %d bytes, %d given", diskDataBytes, len(raw))}
	}
	raw = raw[:diskDataBytes]
	if m := be.Uint32(raw); m != DiskDataMagic {
		return nil, &FormatError{Off: off, Field: "disk_data.magic", Value: fmt.Sprintf("%#08x", m), Msg: fmt.Sprintf("is not %#x", DiskDataMagic)}
	}
	d := &DiskData{
		RefNo:       be.Uint32(raw[32:]),
		ForcedRef:   raw[36],
		ForcedGUID:  raw[37],
		Vendor:      string(raw[38:70]),
		CRC:         be.Uint32(raw[crcOff:]),
		ComputedCRC: CRC(raw, crcOff),
		Raw:         append([]byte(nil), raw...),
	}
	copy(d.GUID[:], raw[8:])
	return d, nil
}
