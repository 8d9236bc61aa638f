package ddf

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Patch is a metadata rewrite: Data replaces the image's bytes at Off.
type Patch struct {
	Off  int64
	Data []byte
	What string // "anchor", "primary header", "secondary phys_section", ...
}

// Synced returns the metadata rewrites that make own an in-sync member of
// the container whose authoritative metadata is fresh's, once the data of
// every mirror volume has been made identical on all members. The members
// being made in sync are own, fresh and others (call Synced once per
// member, each time with the same set, the fresh member included, so that
// every member gets the same global metadata).
//
// What is written follows super-ddf.c:
//
//   - the global sections (controller, physical and virtual disk records)
//     are fresh's, with each member's physical disk state set Online and
//     Failed, Rebuilding, Transition and Missing cleared (ddf_set_disk
//     with DS_INSYNC sets Online and clears Rebuilding; the other bits are
//     cleared so the entry reads as one that never failed, as in the
//     kernel-written clean fixture: type 0x0003, state 0x0001);
//   - each mirror volume's condition is recomputed as get_bvd_state does
//     (optimal when all prim_elmnt_count members are Online and neither
//     Failed nor Rebuilding); when optimal, the inconsistent flag is
//     cleared and the init state set to full, as ddf_set_array_state does
//     for a consistent array whose resync is complete;
//   - the configuration record of a mirror whose state changed gets its
//     seqnum incremented, as ddf_set_updates_pending does for the record
//     ddf_set_disk changed; records are otherwise the highest-seqnum copy
//     among the members, written into own's config section in place
//     (or into a free record when own lacks one it is a member of);
//   - the header seq is the highest among the members, plus one when the
//     global sections change (ddf_set_updates_pending) or fresh's is not
//     the highest; both copies get the same header with open flag 0 and
//     own's primary, secondary and workspace LBAs, and the anchor is that
//     header with type 0, open flag 0xff and seq 0xffffffff
//     (_write_super_to_disk, __write_ddf_structure);
//   - every CRC is recomputed; own's disk data record is kept.
//
// Time stamps are fresh's: mdadm would stamp the current time, but Synced
// takes no clock, so its output depends on its inputs only. Only the
// structures whose bytes change are returned: an image already in sync
// gets no patches.
//
// Synced fails when the members are not of one container, do not share
// its layout, are not all listed in fresh's physical disk records, or when
// a member that fresh does not count as working also holds part of a
// volume that is not a plain mirror (its data there would not be rebuilt,
// so it must not be marked Online).
func Synced(own, fresh *DDF, others ...*DDF) ([]Patch, error) {
	if own == nil || fresh == nil {
		return nil, errors.New("ddf: synced: nil metadata")
	}
	members := []*DDF{own}
	for _, m := range append([]*DDF{fresh}, others...) {
		if m == nil {
			return nil, errors.New("ddf: synced: nil member")
		}
		if !slices.Contains(members, m) {
			members = append(members, m)
		}
	}
	fc := activeCopy(fresh)
	if fc == nil {
		return nil, errors.New("ddf: synced: fresh metadata has no usable copy")
	}
	refs := map[uint32]*DDF{}
	for _, m := range members {
		if activeCopy(m) == nil {
			return nil, fmt.Errorf("ddf: synced: member %08x has no usable copy", m.ThisDisk.RefNo)
		}
		if err := sameLayout(m, fresh); err != nil {
			return nil, err
		}
		ref := m.ThisDisk.RefNo
		if o, dup := refs[ref]; dup && o != m {
			return nil, fmt.Errorf("ddf: synced: two members are disk %08x", ref)
		}
		refs[ref] = m
		p := fresh.PhysDiskByRef(ref)
		if p == nil {
			return nil, fmt.Errorf("ddf: synced: disk %08x is not in the fresh physical disk records", ref)
		}
		if p.GUID != m.ThisDisk.GUID {
			return nil, fmt.Errorf("ddf: synced: disk %08x has GUID %s, the fresh records say %s", ref, m.ThisDisk.GUID, p.GUID)
		}
	}

	// The configuration records, newest of each (VD, basic VD) among the
	// members; fresh's first so that it wins ties.
	type key struct {
		guid GUID
		sec  uint8
	}
	best := map[key]*Config{}
	var order []key
	for _, m := range append([]*DDF{fresh}, members...) {
		for i := range m.Configs {
			c := &m.Configs[i]
			k := key{c.GUID, c.SecondaryElementSeq}
			if b, ok := best[k]; !ok {
				order = append(order, k)
				best[k] = c
			} else if c.Seqnum > b.Seqnum {
				best[k] = c
			}
		}
	}

	// Members' physical disk states.
	phys := bytes.Clone(fc.physRaw)
	stateOff := func(p *PhysDisk) int { return listHeader + entryBytes*p.Index + 30 }
	newState := map[uint32]uint16{}
	for _, m := range members {
		ref := m.ThisDisk.RefNo
		p := fresh.PhysDiskByRef(ref)
		st := (p.State | PDOnline) &^ (PDFailed | PDRebuilding | PDTransition | PDMissing)
		mirror := false
		for _, k := range order {
			c := best[k]
			if !slices.Contains(c.PhysRefs, ref) {
				continue
			}
			if c.IsMirror() {
				mirror = true
			} else if st != p.State {
				return nil, fmt.Errorf("ddf: synced: disk %08x is %s in the fresh records and holds part of %s volume %s, whose data a mirror repair does not rebuild", ref, p.StateString(), c.Level(), c.GUID)
			}
		}
		if !mirror {
			return nil, fmt.Errorf("ddf: synced: disk %08x is not a member of any mirror volume", ref)
		}
		newState[ref] = st
		put16be(phys, stateOff(p), st)
	}
	working := func(ref uint32) bool {
		p := fresh.PhysDiskByRef(ref)
		if p == nil {
			return false
		}
		st := p.State
		if s, ok := newState[ref]; ok {
			st = s
		}
		return PhysDisk{State: st}.Working()
	}

	// Mirror volumes' states.
	virt := bytes.Clone(fc.virtRaw)
	bump := map[key]bool{}
	for _, v := range fresh.VirtualDisks {
		c := best[key{v.GUID, 0}]
		if c == nil || !c.IsMirror() {
			continue
		}
		ok, changed := 0, false
		for _, ref := range c.PhysRefs {
			if working(ref) {
				ok++
			}
			if s, in := newState[ref]; in && s != fresh.PhysDiskByRef(ref).State {
				changed = true
			}
		}
		cond := uint8(VDDegraded)
		switch {
		case ok == int(c.PrimaryElementCount):
			cond = VDOptimal
		case ok == 0:
			cond = VDFailed
		case ok >= 2:
			cond = VDPartOptimal
		}
		e := listHeader + entryBytes*v.Index
		state, init := v.State&^VDConditionMask|cond, v.InitState
		if cond == VDOptimal {
			state &^= VDInconsistent
			init = init&^InitMask | InitFull
		}
		virt[e+32], virt[e+33] = state, init
		if changed || state != v.State || init != v.InitState {
			bump[key{v.GUID, c.SecondaryElementSeq}] = true
		}
	}

	// The header sequence number.
	seq := fresh.Active.Seq
	for _, m := range members {
		seq = max(seq, m.Active.Seq)
	}
	if seq > fresh.Active.Seq || fresh.Active.OpenFlag != 0 || !bytes.Equal(phys, fc.physRaw) || !bytes.Equal(virt, fc.virtRaw) {
		seq++
	}
	if seq >= 0xffffffff {
		return nil, fmt.Errorf("ddf: synced: seq %#x cannot be incremented", seq)
	}
	setCRCs(phys)
	setCRCs(virt)

	// own's configuration records.
	oc := activeCopy(own)
	recLen := int(own.Active.ConfigRecordLen) * SectorSize
	conf := bytes.Clone(oc.confRaw)
	have := map[key]bool{}
	record := func(c *Config) []byte {
		r := bytes.Clone(c.Raw)
		if bump[key{c.GUID, c.SecondaryElementSeq}] {
			if c.Seqnum == 0xffffffff {
				return nil
			}
			put32be(r, cSeqnum, c.Seqnum+1)
		}
		setCRCs(r)
		return r
	}
	for i := 0; (i+1)*recLen <= len(conf); i++ {
		rec := conf[i*recLen:][:recLen]
		if be.Uint32(rec) != ConfigMagic {
			continue
		}
		var k key
		copy(k.guid[:], rec[8:])
		k.sec = rec[cSecSeq]
		if c := best[k]; c != nil {
			r := record(c)
			if r == nil {
				return nil, fmt.Errorf("ddf: synced: vd_config seqnum of %s cannot be incremented", c.GUID)
			}
			copy(rec, r)
			have[k] = true
		}
	}
	for _, k := range order {
		c := best[k]
		if have[k] || !slices.Contains(c.PhysRefs, own.ThisDisk.RefNo) {
			continue
		}
		free := -1
		for i := 0; (i+1)*recLen <= len(conf); i++ {
			if isAllFF(conf[i*recLen:][:recLen]) {
				free = i
				break
			}
		}
		if free < 0 {
			return nil, fmt.Errorf("ddf: synced: no free configuration record for volume %s on disk %08x", c.GUID, own.ThisDisk.RefNo)
		}
		r := record(c)
		if r == nil {
			return nil, fmt.Errorf("ddf: synced: vd_config seqnum of %s cannot be incremented", c.GUID)
		}
		copy(conf[free*recLen:], r)
		have[k] = true
	}

	// Headers: fresh's, with own's LBAs.
	hdr := bytes.Clone(fresh.Active.Raw)
	copy(hdr[hPrimaryLBA:hType], own.Active.Raw[hPrimaryLBA:hType])
	copy(hdr[hWorkspaceLBA:hMaxPD], own.Active.Raw[hWorkspaceLBA:hMaxPD])
	put32be(hdr, hSeq, seq)
	hdr[hOpenFlag] = 0
	header := func(typ uint8) []byte {
		h := bytes.Clone(hdr)
		h[hType] = typ
		if typ == TypeAnchor {
			h[hOpenFlag] = 0xff
			put32be(h, hSeq, 0xffffffff)
		}
		setCRCs(h)
		return h
	}
	ctrl := bytes.Clone(fc.ctrl.Raw)
	setCRCs(ctrl)
	disk := bytes.Clone(oc.disk.Raw)
	setCRCs(disk)

	var patches []Patch
	for i, typ := range []uint8{TypePrimary, TypeSecondary} {
		lba := be.Uint64(own.Active.Raw[hPrimaryLBA+8*i:])
		if lba == ^uint64(0) {
			continue
		}
		name := headerTypeName(typ)
		base := int64(lba) * SectorSize
		at := func(k SectionKind) int64 { return base + int64(own.Active.Sections[k].Offset)*SectorSize }
		patches = append(patches,
			Patch{base, header(typ), name + " header"},
			Patch{at(SecController), ctrl, name + " " + SecController.String()},
			Patch{at(SecPhys), phys, name + " " + SecPhys.String()},
			Patch{at(SecVirt), virt, name + " " + SecVirt.String()},
			Patch{at(SecConfig), conf, name + " " + SecConfig.String()},
			Patch{at(SecDiskData), disk, name + " " + SecDiskData.String()},
		)
	}
	patches = append(patches, Patch{(own.Size/SectorSize - 1) * SectorSize, header(TypeAnchor), "anchor"})

	// The patches must not overlap one another or leave the image.
	sorted := slices.Clone(patches)
	slices.SortFunc(sorted, func(a, b Patch) int { return cmp.Compare(a.Off, b.Off) })
	for i, p := range sorted {
		if p.Off < 0 || p.Off > own.Size-int64(len(p.Data)) {
			return nil, fmt.Errorf("ddf: synced: %s at byte %#x does not fit in the %#x-byte image", p.What, p.Off, own.Size)
		}
		if i > 0 && sorted[i-1].Off+int64(len(sorted[i-1].Data)) > p.Off {
			return nil, fmt.Errorf("ddf: synced: %s at byte %#x overlaps %s", p.What, p.Off, sorted[i-1].What)
		}
	}

	// Keep only what changes.
	out := patches[:0]
	for _, p := range patches {
		if cur := own.current(p.Off, len(p.Data)); cur == nil || !bytes.Equal(cur, p.Data) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// activeCopy returns the copy Active was read from.
func activeCopy(d *DDF) *copyData {
	for _, c := range d.copies {
		if c != nil && c.hdr == d.Active {
			return c
		}
	}
	return nil
}

// current returns the bytes own's image held at [off, off+n) as read, when
// off starts a structure Read kept, else nil.
func (d *DDF) current(off int64, n int) []byte {
	var cands [][]byte
	if d.Anchor != nil {
		if d.Anchor.Offset == off {
			cands = append(cands, d.Anchor.Raw)
		}
	}
	for _, c := range d.copies {
		if c == nil {
			continue
		}
		at := func(k SectionKind) int64 {
			return int64(c.lba+uint64(c.hdr.Sections[k].Offset)) * SectorSize
		}
		for _, s := range []struct {
			off int64
			raw []byte
		}{{c.hdr.Offset, c.hdr.Raw}, {at(SecController), c.ctrl.Raw}, {at(SecPhys), c.physRaw}, {at(SecVirt), c.virtRaw}, {at(SecConfig), c.confRaw}, {at(SecDiskData), c.disk.Raw}} {
			if s.off == off {
				cands = append(cands, s.raw)
			}
		}
	}
	for _, b := range cands {
		if len(b) == n {
			return b
		}
	}
	return nil
}

// sameLayout checks that m shares fresh's container and layout: the same
// container GUID and revision, and the same header from workspace_len on,
// less the per-disk workspace_lba.
func sameLayout(m, fresh *DDF) error {
	a, b := m.Active.Raw, fresh.Active.Raw
	for _, rg := range [][2]int{{hGUID, hSeq}, {hWorkspaceLen, hWorkspaceLBA}, {hMaxPD, headerBytes}} {
		if i := firstDiff(a[rg[0]:rg[1]], b[rg[0]:rg[1]]); i >= 0 {
			return fmt.Errorf("ddf: synced: disk %08x: %s differs from the fresh metadata's", m.ThisDisk.RefNo, headerField(rg[0]+i))
		}
	}
	return nil
}

// setCRCs stores the DDF CRC of a whole structure in its crc field.
func setCRCs(b []byte) { put32be(b, crcOff, CRC(b, crcOff)) }

func put16be(b []byte, off int, v uint16) { be.PutUint16(b[off:], v) }
func put32be(b []byte, off int, v uint32) { be.PutUint32(b[off:], v) }

func isAllFF(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return true
}
