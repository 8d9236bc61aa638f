package set

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set/ddf"
)

// ddfFound is one image with DDF metadata, before grouping.
type ddfFound struct {
	input int
	img   *image.Image
	d     *ddf.DDF
}

// ddfRule is cited in the reasons of every DDF decision.
const ddfRule = "DDF rule (SNIA DDF, mdadm super-ddf.c): among the disks of one container the header with the highest seq (less one while its open flag is set) is current (disks at that seq must carry the same records; if they differ, none is); a disk whose metadata lags, or which the current metadata records as Failed or Missing, is stale"

// readDDF probes one image for SNIA DDF metadata.
func readDDF(im *image.Image) (*ddf.DDF, []Problem, error) {
	d, err := ddf.Read(im, im.Size())
	var fe *ddf.FormatError
	switch {
	case errors.Is(err, ddf.ErrNoDDF):
		return nil, nil, nil
	case errors.As(err, &fe):
		return nil, unusable(im, fe.Off, err), nil
	case err != nil:
		return nil, nil, err
	}
	return d, nil, nil
}

// groupDDF groups DDF members by container and makes one set per virtual
// disk of the container.
func groupDDF(found []*ddfFound) []*Set {
	var order []*ddfFound
	groups := map[ddf.GUID][]*ddfFound{}
	for _, f := range found {
		k := f.d.Active.GUID
		if _, ok := groups[k]; !ok {
			order = append(order, f)
		}
		groups[k] = append(groups[k], f)
	}
	var sets []*Set
	for _, f := range order {
		sets = append(sets, assessDDF(groups[f.d.Active.GUID])...)
	}
	return sets
}

// assessDDF turns the metadata of one container's disks into one set per
// virtual disk.
func assessDDF(fs []*ddfFound) []*Set {
	cur, tied, conflict := ddfCurrent(fs)
	var sets []*Set
	for _, vol := range cur.d.Volumes() {
		s := &Set{ID: vol.VD.GUID.String(), Name: vol.VD.Name, Format: "ddf", ResyncFrom: -1}
		var holders []string
		for _, f := range tied {
			holders = append(holders, f.img.Path())
		}
		if conflict != "" {
			s.Conflict = conflict
			s.Reasons = append(s.Reasons, ddfRule, fmt.Sprintf("no current metadata: the copies at seq %d, on %s, disagree (ddf-metadata-conflict); virtual disk %q is placed as %s's copy places it",
				cur.d.Seq(), strings.Join(holders, ", "), vol.VD.Name, cur.img.Path()))
			s.problem("ddf-metadata-conflict", Error, nil, nil, "%s", conflict)
		} else {
			s.Reasons = append(s.Reasons, ddfRule, fmt.Sprintf("current metadata: seq %d, the same on %s (%s's: %s); virtual disk %q state %s",
				cur.d.Seq(), strings.Join(holders, ", "), cur.img.Path(), cur.d.ActiveReason, vol.VD.Name, vol.VD.StateString()))
		}
		if vol.Config == nil {
			// The current disk holds no configuration for this VD: nothing
			// places it on the members.
			s.problem("not-a-mirror", Warning, nil, nil, "virtual disk %q has no configuration record on %s: not checked", vol.VD.Name, cur.img.Path())
			s.Level = "unknown"
			for _, f := range fs {
				s.Members = append(s.Members, ddfMember(s, f, nil))
			}
			sets = append(sets, s)
			continue
		}
		s.Level = ddfLevel(vol)
		s.RaidDisks = int(vol.Config.PrimaryElementCount)
		byRef := map[uint32]*ddf.Member{}
		for i := range vol.Members {
			byRef[vol.Members[i].RefNo] = &vol.Members[i]
		}
		for _, f := range fs {
			vm := byRef[f.d.ThisDisk.RefNo]
			m := ddfMember(s, f, vm)
			switch {
			case vm == nil:
				m.State = StateUnknown
				m.addEvidence("refno %08x is not a member of virtual disk %q in the current metadata", f.d.ThisDisk.RefNo, vol.VD.Name)
			case ddf.Fresher(cur.d, f.d) > 0:
				m.State = StateStale
				m.addEvidence("seq %d < %d of the current metadata (%s): it missed %d updates", f.d.Seq(), cur.d.Seq(), cur.img.Path(), cur.d.Seq()-f.d.Seq())
				s.problem("stale-member", Error, m, ptr(f.d.Active.Offset), "%s is stale: DDF seq %d, the current metadata on %s has %d",
					m.Path(), f.d.Seq(), cur.img.Path(), cur.d.Seq())
			default:
				m.State = StateActive
			}
			if vm != nil && vm.Disk != nil && (f != cur || len(tied) > 1) {
				// Every disk, the one the current metadata was read from
				// too when other disks carry the same seq: which of them
				// was read is no evidence. (The only disk at the highest
				// seq is not held to its own record of itself.)
				pd := vm.Disk
				m.addEvidence("the current metadata records refno %08x as %s", pd.RefNo, pd.StateString())
				switch {
				case conflict != "" && !ddfSameDiskState(tied, pd.RefNo):
					m.State = StateUnknown
					m.addEvidence("the disks' metadata at seq %d disagree about refno %08x: %s", cur.d.Seq(), pd.RefNo, ddfDiskStates(tied, pd.RefNo))
				case (pd.Failed() || pd.Missing()) && m.State == StateActive:
					m.State = StateStale
					s.problem("stale-member", Error, m, nil, "%s is recorded as %s by the current metadata", m.Path(), pd.StateString())
				case pd.Rebuilding() && m.State == StateActive:
					m.State = StateRebuilding
					s.problem("rebuilding-member", Warning, m, nil, "%s is being rebuilt according to the current metadata", m.Path())
				}
			}
			s.Members = append(s.Members, m)
		}
		pruneMembers(s, fmt.Sprintf("virtual disk %q", vol.VD.Name))
		for _, m := range s.Members {
			if m.State == StateActive && ddf.Fresher(cur.d, m.DDF) == 0 {
				s.Fresh = append(s.Fresh, m)
				m.addEvidence("seq %d is the highest of the container's disks given", m.DDF.Seq())
			}
		}
		sortFresh(s)
		if !vol.Mirror {
			s.problem("not-a-mirror", Warning, nil, nil, "virtual disk %q is %s, not a mirror: not checked", vol.VD.Name, s.Level)
		}
		if vol.VD.Inconsistent() {
			s.ResyncFrom = 0
			s.problem("unclean-shutdown", Info, nil, nil, "virtual disk %q is marked Not Consistent: its members may legitimately differ", vol.VD.Name)
		}
		s.DataSize = memberDataSize(s)
		ddfMissing(s)
		s.DataSize = shortest(s)
		sets = append(sets, s)
	}
	return sets
}

// ddfCurrent finds the current metadata of one container by content
// alone, never by input order or file name: the disks whose metadata is the
// freshest (ddf.Fresher), ordered by their refno, then path. cur is the
// first of them, whose records place the virtual disks. When two of them
// carry different global records (ddfCompare) at the same seq, conflict
// says how, and neither is the container's current metadata.
func ddfCurrent(fs []*ddfFound) (cur *ddfFound, tied []*ddfFound, conflict string) {
	sorted := slices.Clone(fs)
	slices.SortStableFunc(sorted, func(a, b *ddfFound) int {
		return cmp.Or(cmp.Compare(a.d.ThisDisk.RefNo, b.d.ThisDisk.RefNo), cmp.Compare(a.img.Path(), b.img.Path()), cmp.Compare(a.input, b.input))
	})
	for _, f := range sorted {
		switch {
		case len(tied) == 0 || ddf.Fresher(f.d, tied[0].d) > 0:
			tied = []*ddfFound{f}
		case ddf.Fresher(f.d, tied[0].d) == 0:
			tied = append(tied, f)
		}
	}
	cur = tied[0]
	for _, f := range tied[1:] {
		if d := ddfCompare(cur.d, f.d); d != "" {
			conflict = fmt.Sprintf("the DDF metadata of %s (refno %08x) and %s (refno %08x) are both at seq %d but differ: %s; neither is the container's current metadata",
				cur.img.Path(), cur.d.ThisDisk.RefNo, f.img.Path(), f.d.ThisDisk.RefNo, cur.d.Seq(), d)
			break
		}
	}
	return cur, tied, conflict
}

// ddfCompare compares the records every disk of a container carries alike:
// the physical disk entries (by refno: GUID, type, state, size), the
// virtual disk entries (by GUID: number, type, state, init state, name)
// and, for each virtual disk both hold a configuration record of, that
// record's layout. It returns the first difference, "" when none; a's
// value first.
func ddfCompare(a, b *ddf.DDF) string {
	type entry struct {
		key  string
		vals []string // field name, value, field name, value, …
	}
	pds := func(d *ddf.DDF) []entry {
		var out []entry
		for _, p := range d.PhysDisks {
			out = append(out, entry{fmt.Sprintf("physical disk refno %08x", p.RefNo), []string{
				"guid", p.GUID.String(), "type", fmt.Sprintf("%#04x", p.Type), "state", p.StateString(), "config_size", strconv.FormatUint(p.ConfigSize, 10)}})
		}
		return out
	}
	vds := func(d *ddf.DDF) []entry {
		var out []entry
		for _, v := range d.VirtualDisks {
			out = append(out, entry{fmt.Sprintf("virtual disk %s", v.GUID), []string{
				"number", strconv.Itoa(int(v.Number)), "type", fmt.Sprintf("%#04x", v.Type), "state", v.StateString(),
				"init_state", fmt.Sprintf("%#02x", v.InitState), "name", strconv.Quote(v.Name)}})
		}
		return out
	}
	cfgs := func(d, o *ddf.DDF) []entry {
		var out []entry
		for _, v := range d.VirtualDisks {
			c, oc := d.ConfigFor(v.GUID), o.ConfigFor(v.GUID)
			if c == nil || oc == nil {
				continue
			}
			out = append(out, entry{fmt.Sprintf("configuration record of virtual disk %s", v.GUID), []string{
				"seqnum", fmt.Sprint(c.Seqnum), "primary_element_count", fmt.Sprint(c.PrimaryElementCount),
				"prl/rlq/srl/sec_elmnt_count", fmt.Sprintf("%d/%d/%d/%d", c.PrimaryLevel, c.RLQ, c.SecondaryLevel, c.SecondaryElementCount),
				"blocks", fmt.Sprint(c.Blocks), "array_blocks", fmt.Sprint(c.ArraySize),
				"phys_refnum", fmt.Sprintf("%08x", c.PhysRefs), "lba_offset", fmt.Sprint(c.LBAOffsets)}})
		}
		return out
	}
	diff := func(x, y []entry) string {
		byKey := map[string][]string{}
		for _, e := range y {
			byKey[e.key] = e.vals
		}
		for _, e := range x {
			o, ok := byKey[e.key]
			if !ok {
				return e.key + ": present / absent"
			}
			for i := 1; i < len(e.vals); i += 2 {
				if e.vals[i] != o[i] {
					return fmt.Sprintf("%s: %s %s / %s", e.key, e.vals[i-1], e.vals[i], o[i])
				}
			}
		}
		seen := map[string]bool{}
		for _, e := range x {
			seen[e.key] = true
		}
		for _, e := range y {
			if !seen[e.key] {
				return e.key + ": absent / present"
			}
		}
		return ""
	}
	for _, k := range [][2][]entry{{pds(a), pds(b)}, {vds(a), vds(b)}, {cfgs(a, b), cfgs(b, a)}} {
		if d := diff(k[0], k[1]); d != "" {
			return d
		}
	}
	return ""
}

// ddfDiskStates says what each tied disk's metadata records as the state
// of physical disk ref: "m0.img: Online, m1.img: Online, Failed".
func ddfDiskStates(tied []*ddfFound, ref uint32) string {
	var out []string
	for _, f := range tied {
		st := "absent"
		if p := f.d.PhysDiskByRef(ref); p != nil {
			st = p.StateString()
		}
		out = append(out, fmt.Sprintf("%s's %q", f.img.Path(), st))
	}
	return strings.Join(out, ", ")
}

// ddfSameDiskState reports whether every tied disk's metadata records the
// same state for physical disk ref.
func ddfSameDiskState(tied []*ddfFound, ref uint32) bool {
	state := func(f *ddfFound) int {
		if p := f.d.PhysDiskByRef(ref); p != nil {
			return int(p.State)
		}
		return -1
	}
	for _, f := range tied {
		if state(f) != state(tied[0]) {
			return false
		}
	}
	return true
}

// ddfMember makes the member of a DDF set for one image; vm is its place in
// the virtual disk, or nil.
func ddfMember(s *Set, f *ddfFound, vm *ddf.Member) *Member {
	seq := uint64(f.d.Seq())
	m := &Member{Input: f.input, Image: f.img, DDF: f.d, Generation: &seq, Trusted: true, State: StateUnknown}
	m.addEvidence("DDF header at byte %#x (%s): container %s, seq %d, this disk refno %08x",
		f.d.Active.Offset, f.d.ActiveReason, f.d.Active.GUID, f.d.Seq(), f.d.ThisDisk.RefNo)
	ddfCopyProblems(s, m, f.d)
	if vm != nil {
		m.Role = strconv.Itoa(vm.Slot)
		m.DataOffset, m.DataSize = int64(vm.Start)*512, int64(vm.Blocks)*512
		m.addEvidence("slot %d: data from lba_offset %d (byte %d), %d bytes", vm.Slot, vm.Start, m.DataOffset, m.DataSize)
	}
	return m
}

// ddfCopyProblems reports the parts of an image's DDF metadata that the
// reader could not use although another copy served: an anchor that is not
// usable (the headers were found by searching; mdadm 4.2 would not read the
// image) and a primary or secondary copy with a bad CRC or a header that
// disagrees with the anchor. Without this a damaged copy went unreported:
// the member was read from the other copy silently. The member is still
// used, so, as for an unreadable md bitmap, the problem is bad-metadata
// with severity warning.
func ddfCopyProblems(s *Set, m *Member, d *ddf.DDF) {
	report := func(what string, err error) {
		var off *int64
		var fe *ddf.FormatError
		if errors.As(err, &fe) {
			off = ptr(fe.Off)
		}
		s.problem("bad-metadata", Warning, m, off, "%s: DDF %s not usable: %v; the %s copy is used", m.Path(), what, err, d.Active.TypeString())
	}
	if d.AnchorErr != nil {
		report("anchor", d.AnchorErr)
	}
	if d.PrimaryErr != nil {
		report("primary copy", d.PrimaryErr)
	}
	// A secondary LBA of all ones means there is no secondary copy.
	if d.SecondaryErr != nil && d.Active.SecondaryLBA != ^uint64(0) {
		report("secondary copy", d.SecondaryErr)
	}
}

func ddfLevel(v ddf.Volume) string {
	if v.Mirror {
		return "raid1"
	}
	return "raid-level-" + strconv.Itoa(int(v.Config.PrimaryLevel))
}

// ddfMissing reports slots of the virtual disk that no given member fills.
func ddfMissing(s *Set) { imsmMissing(s) }

// ddfPatches rewrites every member's DDF metadata as ddf.Synced gives it.
func (s *Set) ddfPatches(auth *Member) (map[int][]Patch, error) {
	// The header seq and the physical disk states are shared by every
	// virtual disk of the container: rewrite them only when this set is
	// the container's one virtual disk.
	if n := len(auth.DDF.VirtualDisks); n != 1 {
		return nil, fmt.Errorf("%w: the container holds %d virtual disks sharing one header and disk table; mirrorchk rewrites them only for a single-VD container, so only the data is repaired", ErrNoMetadataRepair, n)
	}
	var others []*ddf.DDF
	for _, m := range s.Members {
		if m != auth {
			others = append(others, m.DDF)
		}
	}
	out := map[int][]Patch{}
	for _, m := range s.Members {
		var rest []*ddf.DDF
		for _, o := range s.Members {
			if o != m && o != auth {
				rest = append(rest, o.DDF)
			}
		}
		ps, err := ddf.Synced(m.DDF, auth.DDF, rest...)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v; the DDF metadata is left as it is and only the data is repaired", ErrNoMetadataRepair, m.Path(), err)
		}
		for _, p := range ps {
			out[m.Input] = append(out[m.Input], Patch{Off: p.Off, Data: p.Data, Changes: []string{p.What + " rewritten"}})
		}
		if len(ps) > 0 {
			out[m.Input][0].Changes = append(out[m.Input][0].Changes, fmt.Sprintf("seq %d -> the current %d + 1, every disk Online, virtual disks Optimal", m.DDF.Seq(), auth.DDF.Seq()))
		}
	}
	_ = others
	return out, nil
}
