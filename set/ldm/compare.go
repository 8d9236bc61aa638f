package ldm

import (
	"fmt"
	"slices"
)

// Difference is the first field in which two copies of a disk group's
// database differ (see Compare).
type Difference struct {
	Kind  string // "diskgroup", "disk", "volume", "component", "partition"
	Name  string // the record's name in the first copy that has it ("Volume3-02")
	ID    uint64 // the record's object id
	Field string // "component.state", …; "" when the record is in one copy only
	A, B  string // the values in the two copies (Go syntax); "absent" when the record is missing
}

// String describes the difference in words, the first copy's value first:
// `component Volume3-02 (id 30): component.state "ACTIVE" / "STALE!"`.
func (d *Difference) String() string {
	if d.Field == "" {
		return fmt.Sprintf("%s %s (id %d): %s / %s", d.Kind, d.Name, d.ID, d.A, d.B)
	}
	return fmt.Sprintf("%s %s (id %d): %s %s / %s", d.Kind, d.Name, d.ID, d.Field, d.A, d.B)
}

// field is one decoded value of a record, named as in FormatError.Field.
type field struct {
	name string
	v    any
}

// recordFields are the header fields every record shares. The slot
// position (Offset, Seq) and the slot count are left out: they say where
// the record was written, not what it says.
func recordFields(r *Record) []field {
	return []field{{"VBLK.status", r.Status}, {"VBLK.flags", r.Flags}, {"VBLK.type", r.Type}}
}

// keyed is one record reduced to its identity and its fields in decode order.
type keyed struct {
	id     uint64
	name   string
	fields []field
}

func diskGroupKeyed(g *DiskGroup) []keyed {
	return []keyed{{g.ID, g.Name, append(recordFields(&g.Record),
		field{"diskgroup.name", g.Name}, field{"diskgroup.guid", g.GUID})}}
}

func disksKeyed(ds []Disk) []keyed {
	out := make([]keyed, len(ds))
	for i := range ds {
		d := &ds[i]
		out[i] = keyed{d.ID, d.Name, append(recordFields(&d.Record),
			field{"disk.name", d.Name}, field{"disk.guid", d.GUID}, field{"disk.alt_name", d.AltName})}
	}
	return out
}

func volumesKeyed(vs []Volume) []keyed {
	out := make([]keyed, len(vs))
	for i := range vs {
		v := &vs[i]
		out[i] = keyed{v.ID, v.Name, append(recordFields(&v.Record),
			field{"volume.name", v.Name}, field{"volume.type", v.TypeName}, field{"volume.unknown1", v.Unknown1},
			field{"volume.state", v.State}, field{"volume.internal_type", v.InternalType}, field{"volume.number", v.Number},
			field{"volume.volume_flags", v.VolumeFlags}, field{"volume.n_children", v.Children}, field{"volume.commit_id", v.CommitID},
			field{"volume.unknown2", v.Unknown2}, field{"volume.size", v.Size}, field{"volume.partition_type", v.PartitionType},
			field{"volume.guid", v.GUID}, field{"volume.id1", v.ID1}, field{"volume.id2", v.ID2}, field{"volume.size2", v.Size2},
			field{"volume.drive_hint", v.DriveHint})}
	}
	return out
}

func componentsKeyed(cs []Component) []keyed {
	out := make([]keyed, len(cs))
	for i := range cs {
		c := &cs[i]
		out[i] = keyed{c.ID, c.Name, append(recordFields(&c.Record),
			field{"component.name", c.Name}, field{"component.state", c.State}, field{"component.type", c.Type},
			field{"component.n_children", c.Children}, field{"component.log_commit_id", c.LogCommitID},
			field{"component.parent_id", c.ParentID}, field{"component.stripe_size", c.StripeSize}, field{"component.n_columns", c.Columns})}
	}
	return out
}

func partitionsKeyed(ps []Partition) []keyed {
	out := make([]keyed, len(ps))
	for i := range ps {
		p := &ps[i]
		out[i] = keyed{p.ID, p.Name, append(recordFields(&p.Record),
			field{"partition.name", p.Name}, field{"partition.commit_id", p.CommitID}, field{"partition.start", p.Start},
			field{"partition.volume_offset", p.VolumeOffset}, field{"partition.size", p.Size}, field{"partition.parent_id", p.ParentID},
			field{"partition.disk_id", p.DiskID}, field{"partition.index", p.Index})}
	}
	return out
}

// Compare compares two copies of a disk group's database record by record:
// the disk group record, then the disks, volumes, components and
// partitions, each kind matched by object id in ascending id order, each
// record field by field in decode order (the header's status, flags and
// type, then the fields the decoder reads). It returns the first
// difference, or nil when every record says the same in both. Where a
// record lies in the config area (its slot) is not compared, nor are the
// VMDB's sequence numbers: the caller compares those.
func Compare(a, b *Database) *Difference {
	kinds := []struct {
		kind string
		a, b []keyed
	}{
		{"diskgroup", diskGroupKeyed(&a.DiskGroup), diskGroupKeyed(&b.DiskGroup)},
		{"disk", disksKeyed(a.Disks), disksKeyed(b.Disks)},
		{"volume", volumesKeyed(a.Volumes), volumesKeyed(b.Volumes)},
		{"component", componentsKeyed(a.Components), componentsKeyed(b.Components)},
		{"partition", partitionsKeyed(a.Partitions), partitionsKeyed(b.Partitions)},
	}
	for _, k := range kinds {
		if d := compareKeyed(k.kind, k.a, k.b); d != nil {
			return d
		}
	}
	return nil
}

func compareKeyed(kind string, a, b []keyed) *Difference {
	byID := func(x, y keyed) int { return cmpU64(x.id, y.id) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortStableFunc(a, byID)
	slices.SortStableFunc(b, byID)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].id < b[j].id:
			return &Difference{Kind: kind, Name: a[i].name, ID: a[i].id, A: "present", B: "absent"}
		case i == len(a) || b[j].id < a[i].id:
			return &Difference{Kind: kind, Name: b[j].name, ID: b[j].id, A: "absent", B: "present"}
		}
		x, y := a[i], b[j]
		for f := range x.fields {
			if x.fields[f].v != y.fields[f].v {
				return &Difference{Kind: kind, Name: x.name, ID: x.id, Field: x.fields[f].name,
					A: fmt.Sprintf("%#v", x.fields[f].v), B: fmt.Sprintf("%#v", y.fields[f].v)}
			}
		}
		i, j = i+1, j+1
	}
	return nil
}
