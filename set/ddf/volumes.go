package ddf

// Volume is one virtual disk as this image's metadata describes it: the
// global virtual disk record plus, when this disk is one of its members,
// the local configuration record that places it on the member disks.
type Volume struct {
	VD      VirtualDisk
	Config  *Config  // the record with the highest seqnum for the VD; nil if this disk holds none
	Members []Member // from Config, in raid-disk order; nil without Config
	Mirror  bool     // a plain RAID-1 (see Config.IsMirror): checkable as a mirror
}

// Member is one member disk of a volume.
type Member struct {
	Slot   int    // raid disk number within the volume
	RefNo  uint32 // the member's physical disk reference number
	Start  uint64 // sector on the member disk where the volume's data starts (lba_offset)
	Blocks uint64 // sectors of the volume's data on the member (Config.Blocks)

	// Disk is the member's physical disk entry, or nil when no entry has
	// RefNo (mdadm prints "--" for it): a missing member.
	Disk *PhysDisk
	This bool // the member is the disk this image is (ThisDisk.RefNo)
}

// InSync reports whether this copy of the metadata counts the member as a
// working, in-sync member (PhysDisk.Working).
func (m Member) InSync() bool { return m.Disk != nil && m.Disk.Working() }

// Volumes lists every virtual disk in record order.
func (d *DDF) Volumes() []Volume {
	vs := make([]Volume, 0, len(d.VirtualDisks))
	for _, vd := range d.VirtualDisks {
		v := Volume{VD: vd, Config: d.ConfigFor(vd.GUID)}
		if c := v.Config; c != nil {
			v.Mirror = c.IsMirror()
			for i, ref := range c.PhysRefs {
				v.Members = append(v.Members, Member{
					Slot:   i,
					RefNo:  ref,
					Start:  c.LBAOffsets[i],
					Blocks: c.Blocks,
					Disk:   d.PhysDiskByRef(ref),
					This:   ref == d.ThisDisk.RefNo,
				})
			}
		}
		vs = append(vs, v)
	}
	return vs
}

// Mirrors lists the volumes that are plain RAID-1 mirrors (Volume.Mirror).
func (d *DDF) Mirrors() []Volume {
	var ms []Volume
	for _, v := range d.Volumes() {
		if v.Mirror {
			ms = append(ms, v)
		}
	}
	return ms
}

// ConfigFor returns this disk's configuration record for the virtual disk
// guid with the highest seqnum (the first of equals), as mdadm keeps it, or
// nil.
func (d *DDF) ConfigFor(guid GUID) *Config {
	var best *Config
	for i := range d.Configs {
		c := &d.Configs[i]
		if c.GUID == guid && (best == nil || c.Seqnum > best.Seqnum) {
			best = c
		}
	}
	return best
}

// PhysDiskByRef returns the physical disk entry with reference number ref
// (the first, as mdadm's find_phys), or nil.
func (d *DDF) PhysDiskByRef(ref uint32) *PhysDisk {
	for i := range d.PhysDisks {
		if d.PhysDisks[i].RefNo == ref {
			return &d.PhysDisks[i]
		}
	}
	return nil
}

// This returns the physical disk entry of the disk this image is (the entry
// whose refnum is ThisDisk.RefNo), or nil when the records do not list it
// (mdadm --examine prints it under "Physical disks not in metadata").
func (d *DDF) This() *PhysDisk { return d.PhysDiskByRef(d.ThisDisk.RefNo) }

// Seq is the active header's update counter: of two disks of one container,
// the one with the higher Seq holds the later global metadata.
func (d *DDF) Seq() uint32 { return d.Active.Seq }

// Fresher compares the metadata of two disks of one container as mdadm's
// load_super_ddf_all does when it picks the disk to read the container
// from: by the active header's seq, less one when its open flag is set (an
// update was being written). It returns +1 if a is fresher, -1 if b is,
// 0 if neither.
func Fresher(a, b *DDF) int {
	sa, sb := int64(a.Active.Seq), int64(b.Active.Seq)
	if a.Active.OpenFlag != 0 {
		sa--
	}
	if b.Active.OpenFlag != 0 {
		sb--
	}
	switch {
	case sa > sb:
		return 1
	case sa < sb:
		return -1
	}
	return 0
}

// SameContainer reports whether two images carry the same container GUID.
func SameContainer(a, b *DDF) bool { return a.Active.GUID == b.Active.GUID }
