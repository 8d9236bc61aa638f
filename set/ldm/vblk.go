package ldm

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// VBLK slot layout.
const (
	slotHead   = 16 // "VBLK", seq, record id, entry, entries_total
	recordHead = 8  // status, flags, type, size: at the start of a record's data
)

// Record kinds (low nibble of the type byte).
const (
	kindVolume    = 1
	kindComponent = 2
	kindPartition = 3
	kindDisk      = 4
	kindDiskGroup = 5
)

// rawRecord is one reassembled record: the payloads of its slots in entry
// order, and where each slot lies in the image.
type rawRecord struct {
	seq   uint32
	id    uint32
	total uint16
	have  []bool  // entries seen, by entry number
	offs  []int64 // image offset of each entry's slot
	body  []byte  // payloads (slot minus its 16-byte head), concatenated in entry order
	first int64   // offset of the first slot seen, for errors
	multi bool    // entries_total > 1
}

// loc maps an index into the record's body to an image offset.
func (r *rawRecord) loc(payload, i int) int64 {
	k := i / payload
	if k >= len(r.offs) {
		k = len(r.offs) - 1
	}
	return r.offs[k] + slotHead + int64(i-k*payload)
}

// DecodeVBLKs decodes the VBLK slots of the config area that starts with
// the VMDB vm: area holds the VMDB sector and its slots (at least
// vm.AreaBytes() bytes; slot n lies at area[n*VBLKSize:]). It reassembles
// records spanning several slots, decodes every record, and links
// partitions to components and disks and components to volumes. When the
// VMDB is consistent, the records found must match its committed counts.
func DecodeVBLKs(vm *VMDB, area []byte) (*Database, error) {
	if err := vm.check(int64(len(area))); err != nil {
		return nil, err
	}
	size := int(vm.VBLKSize)
	payload := size - slotHead
	be := binary.BigEndian
	db := &Database{
		VMDB:         vm,
		CommittedSeq: vm.CommittedSeq,
		PendingSeq:   vm.PendingSeq,
		UpdateStatus: vm.UpdateStatus,
	}

	// Pass 1: gather the slots of each record. byID is the visited set: a
	// record id may be seen once for a one-slot record, and once per entry
	// for a multi-slot one.
	var recs []*rawRecord
	byID := map[uint32]*rawRecord{}
	for n := int(vm.FirstOffset) / size; n < int(vm.LastSeq); n++ {
		s := area[n*size : (n+1)*size]
		off := vm.Offset + int64(n*size)
		if string(s[:4]) != "VBLK" {
			return nil, &FormatError{Off: off, Field: "VBLK.magic", Value: fmt.Sprintf("%q", s[:4]), Msg: fmt.Sprintf(`of slot %d is not "VBLK"`, n)}
		}
		seq, id := be.Uint32(s[4:]), be.Uint32(s[8:])
		entry, total := be.Uint16(s[12:]), be.Uint16(s[14:])
		if total == 0 {
			db.EmptySlots++
			continue
		}
		if total > maxFragments {
			return nil, &FormatError{Off: off + 14, Field: "VBLK.entries_total", Value: total, Msg: fmt.Sprintf("is more than %d slots", maxFragments)}
		}
		if entry >= total {
			return nil, &FormatError{Off: off + 12, Field: "VBLK.entry", Value: entry, Msg: fmt.Sprintf("is not below entries_total %d", total)}
		}
		r := byID[id]
		if r == nil {
			r = &rawRecord{id: id, total: total, multi: total > 1, first: off,
				have: make([]bool, total), offs: make([]int64, total), body: make([]byte, int(total)*payload)}
			byID[id] = r
			recs = append(recs, r)
		} else if !r.multi || total == 1 {
			return nil, &FormatError{Off: off + 8, Field: "VBLK.record_id", Value: id, Msg: fmt.Sprintf("is already used by the record at byte %#x", r.first)}
		} else if total != r.total {
			return nil, &FormatError{Off: off + 14, Field: "VBLK.entries_total", Value: total,
				Msg: fmt.Sprintf("differs from the %d of record %d's slot at byte %#x", r.total, id, r.first)}
		} else if r.have[entry] {
			return nil, &FormatError{Off: off + 12, Field: "VBLK.entry", Value: entry,
				Msg: fmt.Sprintf("of record %d is already at byte %#x", id, r.offs[entry])}
		}
		r.have[entry] = true
		r.offs[entry] = off
		if entry == 0 {
			r.seq = seq
		}
		copy(r.body[int(entry)*payload:], s[slotHead:])
	}
	for _, r := range recs {
		if i := slices.Index(r.have, false); i >= 0 {
			n := 0
			for _, h := range r.have {
				if h {
					n++
				}
			}
			return nil, &FormatError{Off: r.first + 14, Field: "VBLK.entries_total", Value: r.total,
				Msg: fmt.Sprintf("but record %d has %d of its slots (entry %d is missing)", r.id, n, i)}
		}
	}

	// Pass 2: decode each record.
	for _, r := range recs {
		if err := decodeRecord(db, r, payload); err != nil {
			return nil, err
		}
	}
	if err := link(db); err != nil {
		return nil, err
	}
	return db, nil
}

// cursor reads the variable-length fields of one record's data. The first
// error sticks; later reads return zero values.
type cursor struct {
	rec     *rawRecord
	payload int
	data    []byte // record data after the 8-byte head, cut to the declared size
	pos     int
	kind    string // "volume", … for field names
	fields  map[string]int64
	err     error
}

// take returns the next n bytes of the record, noting where field is.
func (c *cursor) take(field string, n int) []byte {
	return c.span(field, n, c.rec.loc(c.payload, recordHead+c.pos))
}

// span returns the next n bytes as (part of) field, which starts at byte
// at of the image: errors and the field's recorded offset point there.
func (c *cursor) span(field string, n int, at int64) []byte {
	if c.err != nil {
		return nil
	}
	name := c.kind + "." + field
	if n > len(c.data)-c.pos {
		c.err = &FormatError{Off: at, Field: name, Value: n, Msg: fmt.Sprintf("bytes run past the end of the %d-byte record", len(c.data))}
		return nil
	}
	c.fields[name] = at
	b := c.data[c.pos : c.pos+n]
	c.pos += n
	return b
}

func (c *cursor) u8(field string) uint8 {
	if b := c.take(field, 1); b != nil {
		return b[0]
	}
	return 0
}

func (c *cursor) u64(field string) uint64 {
	if b := c.take(field, 8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// num reads a variable-length number: a length byte (0..8), then that many
// big-endian bytes.
func (c *cursor) num(field string) uint64 {
	at := c.rec.loc(c.payload, recordHead+c.pos)
	l := c.span(field, 1, at)
	if l == nil {
		return 0
	}
	if l[0] > 8 {
		c.err = &FormatError{Off: at, Field: c.kind + "." + field, Value: l[0], Msg: "bytes is longer than 8"}
		return 0
	}
	var v uint64
	for _, x := range c.span(field, int(l[0]), at) {
		v = v<<8 | uint64(x)
	}
	return v
}

// str reads a variable-length string: a length byte, then the bytes.
func (c *cursor) str(field string) string {
	at := c.rec.loc(c.payload, recordHead+c.pos)
	l := c.span(field, 1, at)
	if l == nil {
		return ""
	}
	return string(c.span(field, int(l[0]), at))
}

// bad reports a field that decoded but cannot be valid.
func (c *cursor) bad(field string, v any, msg string) error {
	name := c.kind + "." + field
	return &FormatError{Off: c.fields[name], Field: name, Value: v, Msg: msg}
}

// decodeRecord decodes one reassembled record and appends it to db.
func decodeRecord(db *Database, r *rawRecord, payload int) error {
	be := binary.BigEndian
	h := r.body[:recordHead]
	rec := Record{
		Offset:   r.offs[0],
		Seq:      r.seq,
		RecordID: r.id,
		Entries:  r.total,
		Status:   be.Uint16(h[0:]),
		Flags:    h[2],
		Type:     h[3],
		Size:     be.Uint32(h[4:]),
	}
	if rec.Type == 0 {
		db.EmptySlots += int(r.total) // a blank record
		return nil
	}
	if avail := len(r.body) - recordHead; uint64(rec.Size) > uint64(avail) {
		return &FormatError{Off: r.loc(payload, 4), Field: "VBLK.size", Value: rec.Size,
			Msg: fmt.Sprintf("bytes do not fit in the %d bytes of the record's %d slot(s)", avail, r.total)}
	}
	kind, rev := rec.Type&0x0f, rec.Type>>4
	names := map[uint8]string{kindVolume: "volume", kindComponent: "component", kindPartition: "partition", kindDisk: "disk", kindDiskGroup: "diskgroup"}
	c := &cursor{rec: r, payload: payload, data: r.body[recordHead : recordHead+int(rec.Size)], kind: names[kind], fields: map[string]int64{}}
	rec.fields = c.fields
	badType := &FormatError{Off: r.loc(payload, 3), Field: "VBLK.type", Value: fmt.Sprintf("%#02x", rec.Type), Msg: "is not a known record kind and revision"}
	switch {
	case kind == kindVolume && rev == 5:
		v := Volume{ID: c.num("id"), Name: c.str("name"), TypeName: c.str("type"), Unknown1: c.str("unknown1")}
		v.State = cString(c.take("state", 14))
		v.InternalType = c.u8("internal_type")
		c.u8("unknown")
		v.Number = c.u8("number")
		c.take("zeros", 3)
		v.VolumeFlags = c.u8("volume_flags")
		v.Children = c.num("n_children")
		v.CommitID = c.u64("commit_id")
		v.Unknown2 = c.u64("unknown2")
		v.Size = c.num("size")
		c.take("zeros2", 4)
		v.PartitionType = c.u8("partition_type")
		if g := c.take("guid", 16); g != nil {
			v.GUID = guidText(g)
		}
		if rec.Flags&0x08 != 0 {
			v.ID1 = c.str("id1")
		}
		if rec.Flags&0x20 != 0 {
			v.ID2 = c.str("id2")
		}
		if rec.Flags&0x80 != 0 {
			v.Size2 = c.num("size2")
		}
		if rec.Flags&0x02 != 0 {
			v.DriveHint = c.str("drive_hint")
		}
		if c.err == nil && v.InternalType != 3 && v.InternalType != 4 {
			c.err = c.bad("internal_type", v.InternalType, "is not 3 (gen) or 4 (raid5)")
		}
		v.Record = rec
		db.Volumes = append(db.Volumes, v)
	case kind == kindComponent && rev == 3:
		m := Component{ID: c.num("id"), Name: c.str("name"), State: c.str("state")}
		m.Type = c.u8("type")
		c.take("zeros", 4)
		m.Children = c.num("n_children")
		m.LogCommitID = c.u64("log_commit_id")
		c.take("zeros2", 8)
		m.ParentID = c.num("parent_id")
		c.u8("zero")
		if rec.Flags&0x10 != 0 {
			m.StripeSize = c.num("stripe_size")
			m.Columns = c.num("n_columns")
		}
		if c.err == nil && (m.Type < CompStriped || m.Type > CompRAID) {
			c.err = c.bad("type", m.Type, "is not 1 (striped), 2 (spanned) or 3 (RAID)")
		}
		m.Record = rec
		db.Components = append(db.Components, m)
	case kind == kindPartition && rev == 3:
		p := Partition{ID: c.num("id"), Name: c.str("name")}
		c.take("zeros", 4)
		p.CommitID = c.u64("commit_id")
		p.Start = c.u64("start")
		p.VolumeOffset = c.u64("volume_offset")
		p.Size = c.num("size")
		p.ParentID = c.num("parent_id")
		p.DiskID = c.num("disk_id")
		if rec.Flags&0x08 != 0 {
			p.Index = c.num("index")
		}
		if c.err == nil && (p.Start > maxDiskSectors || p.Size > maxDiskSectors || p.VolumeOffset > maxDiskSectors) {
			c.err = c.bad("start", p.Start, fmt.Sprintf("(+%d, at volume sector %d) is past sector %d", p.Size, p.VolumeOffset, uint64(maxDiskSectors)))
		}
		p.Record = rec
		db.Partitions = append(db.Partitions, p)
	case kind == kindDisk && (rev == 3 || rev == 4):
		d := Disk{ID: c.num("id"), Name: c.str("name")}
		if rev == 3 {
			d.GUID = c.str("guid")
			d.AltName = c.str("alt_name")
			if c.err == nil && !validGUID(d.GUID) {
				c.err = c.bad("guid", fmt.Sprintf("%q", d.GUID), "is not a GUID")
			}
		} else if g := c.take("guid", 16); g != nil {
			d.GUID = guidText(g)
		}
		d.GUID = lower(d.GUID)
		d.Record = rec
		db.Disks = append(db.Disks, d)
	case kind == kindDiskGroup && (rev == 3 || rev == 4):
		g := DiskGroup{ID: c.num("id"), Name: c.str("name")}
		if rev == 3 {
			g.GUID = lower(c.str("guid"))
		} else if b := c.take("guid", 16); b != nil {
			g.GUID = guidText(b)
		}
		if c.err == nil && db.DiskGroup.Type != 0 {
			return &FormatError{Off: rec.Offset, Field: "VBLK.type", Value: fmt.Sprintf("%#02x", rec.Type),
				Msg: fmt.Sprintf("is a second disk group record (the first is at byte %#x)", db.DiskGroup.Offset)}
		}
		g.Record = rec
		db.DiskGroup = g
	default:
		return badType
	}
	return c.err
}

// lower returns s with ASCII upper case letters lowered.
func lower(s string) string {
	b := []byte(s)
	for i, x := range b {
		if 'A' <= x && x <= 'Z' {
			b[i] = x + 'a' - 'A'
		}
	}
	return string(b)
}

// link checks the references between records and builds each volume's
// plexes and kind.
func link(db *Database) error {
	vm := db.VMDB
	if db.DiskGroup.Type == 0 {
		return &FormatError{Off: vm.Offset, Field: "VMDB", Msg: fmt.Sprintf("its %d slots hold no disk group record", vm.Slots())}
	}
	// Object ids are unique across all records.
	seen := map[uint64]*Record{db.DiskGroup.ID: &db.DiskGroup.Record}
	check := func(id uint64, r *Record, kind string) error {
		if o := seen[id]; o != nil {
			return &FormatError{Off: r.at(kind + ".id"), Field: kind + ".id", Value: id, Msg: fmt.Sprintf("is already the id of the record at byte %#x", o.Offset)}
		}
		seen[id] = r
		return nil
	}
	disks := map[uint64]int{}
	for i := range db.Disks {
		if err := check(db.Disks[i].ID, &db.Disks[i].Record, "disk"); err != nil {
			return err
		}
		disks[db.Disks[i].ID] = i
	}
	vols := map[uint64]int{}
	for i := range db.Volumes {
		if err := check(db.Volumes[i].ID, &db.Volumes[i].Record, "volume"); err != nil {
			return err
		}
		vols[db.Volumes[i].ID] = i
	}
	comps := map[uint64]int{}
	for i := range db.Components {
		if err := check(db.Components[i].ID, &db.Components[i].Record, "component"); err != nil {
			return err
		}
		comps[db.Components[i].ID] = i
	}
	for i := range db.Partitions {
		if err := check(db.Partitions[i].ID, &db.Partitions[i].Record, "partition"); err != nil {
			return err
		}
	}

	// Partitions to components and disks.
	extents := make([][]Extent, len(db.Components))
	for _, p := range db.Partitions {
		d, ok := disks[p.DiskID]
		if !ok {
			return &FormatError{Off: p.at("partition.disk_id"), Field: "partition.disk_id", Value: p.DiskID, Msg: fmt.Sprintf("of %s is not a disk record", p.Name)}
		}
		ci, ok := comps[p.ParentID]
		if !ok {
			return &FormatError{Off: p.at("partition.parent_id"), Field: "partition.parent_id", Value: p.ParentID, Msg: fmt.Sprintf("of %s is not a component record", p.Name)}
		}
		extents[ci] = append(extents[ci], Extent{Partition: p, Disk: db.Disks[d]})
	}

	// Components to volumes.
	plexes := make([][]Plex, len(db.Volumes))
	for i, m := range db.Components {
		vi, ok := vols[m.ParentID]
		if !ok {
			return &FormatError{Off: m.at("component.parent_id"), Field: "component.parent_id", Value: m.ParentID, Msg: fmt.Sprintf("of %s is not a volume record", m.Name)}
		}
		ex := extents[i]
		if uint64(len(ex)) != m.Children {
			return &FormatError{Off: m.at("component.n_children"), Field: "component.n_children", Value: m.Children,
				Msg: fmt.Sprintf("but %d partitions name %s as their parent", len(ex), m.Name)}
		}
		if m.Record.Flags&0x10 != 0 && m.Columns != uint64(len(ex)) {
			return &FormatError{Off: m.at("component.n_columns"), Field: "component.n_columns", Value: m.Columns,
				Msg: fmt.Sprintf("but %s has %d partitions", m.Name, len(ex))}
		}
		slices.SortStableFunc(ex, func(a, b Extent) int {
			if a.Partition.Index != b.Partition.Index {
				return cmpU64(a.Partition.Index, b.Partition.Index)
			}
			return cmpU64(a.Partition.VolumeOffset, b.Partition.VolumeOffset)
		})
		plexes[vi] = append(plexes[vi], Plex{Component: m, Extents: ex})
	}

	// Volumes: children and kind.
	for i := range db.Volumes {
		v := &db.Volumes[i]
		v.Plexes = plexes[i]
		if uint64(len(v.Plexes)) != v.Children {
			return &FormatError{Off: v.at("volume.n_children"), Field: "volume.n_children", Value: v.Children,
				Msg: fmt.Sprintf("but %d components name %s as their parent", len(v.Plexes), v.Name)}
		}
		if err := kindOf(v); err != nil {
			return err
		}
	}

	// Counts, when no change is in progress: the VMDB's committed counts
	// describe exactly the records present.
	if vm.Consistent() {
		for i, k := range []struct {
			name      string
			want, got int
		}{
			{"vol", int(vm.Committed.Volumes), len(db.Volumes)},
			{"comp", int(vm.Committed.Components), len(db.Components)},
			{"part", int(vm.Committed.Partitions), len(db.Partitions)},
			{"disk", int(vm.Committed.Disks), len(db.Disks)},
		} {
			if k.want != k.got {
				return &FormatError{Off: vm.Offset + 0x85 + 4*int64(i), Field: "VMDB.n_committed_vblks_" + k.name, Value: k.want,
					Msg: fmt.Sprintf("but the database holds %d such records", k.got)}
			}
		}
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// kindOf derives a volume's kind from its components, as libldm does: a
// raid5 volume has one RAID component; a gen volume has one striped
// component, or concatenated components (several: a mirror; one: spanned
// or simple by its partition count). In a concatenated plex every
// partition must lie inside the volume.
func kindOf(v *Volume) error {
	if len(v.Plexes) == 0 {
		return &FormatError{Off: v.at("volume.n_children"), Field: "volume.n_children", Value: v.Children, Msg: fmt.Sprintf("%s has no components", v.Name)}
	}
	for _, p := range v.Plexes {
		m := &p.Component
		bad := func(msg string) error {
			return &FormatError{Off: m.at("component.type"), Field: "component.type", Value: m.Type, Msg: fmt.Sprintf("of %s %s", m.Name, msg)}
		}
		switch {
		case m.Type == CompRAID && v.InternalType != 4:
			return bad(fmt.Sprintf("(RAID) is under volume %s of internal type %d, not 4 (raid5)", v.Name, v.InternalType))
		case m.Type != CompRAID && v.InternalType == 4:
			return bad(fmt.Sprintf("is not 3 (RAID) but its volume %s is raid5", v.Name))
		case m.Type != CompSpanned && len(v.Plexes) > 1:
			return bad(fmt.Sprintf("is not 2 (spanned), yet volume %s has %d components", v.Name, len(v.Plexes)))
		case m.Type == CompSpanned:
			for _, e := range p.Extents {
				q := &e.Partition
				if q.VolumeOffset > v.Size || q.Size > v.Size-q.VolumeOffset {
					return &FormatError{Off: q.at("partition.volume_offset"), Field: "partition.volume_offset", Value: q.VolumeOffset,
						Msg: fmt.Sprintf("+ %d sectors of %s end past the %d-sector volume %s", q.Size, q.Name, v.Size, v.Name)}
				}
			}
		}
	}
	switch m := v.Plexes[0].Component; {
	case m.Type == CompRAID:
		v.Kind = KindRAID5
	case m.Type == CompStriped:
		v.Kind = KindStriped
	case len(v.Plexes) > 1:
		v.Kind = KindMirror
	case len(v.Plexes[0].Extents) > 1:
		v.Kind = KindSpanned
	default:
		v.Kind = KindSimple
	}
	return nil
}
