package set

import (
	"errors"
	"fmt"
	"strconv"

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
const ddfRule = "DDF rule (SNIA DDF, mdadm super-ddf.c): among the disks of one container the header with the highest seq (less one while its open flag is set) is current; a disk whose metadata lags, or which the current metadata records as Failed or Missing, is stale"

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
	cur := fs[0]
	for _, f := range fs[1:] {
		if ddf.Fresher(f.d, cur.d) > 0 {
			cur = f
		}
	}
	var sets []*Set
	for _, vol := range cur.d.Volumes() {
		s := &Set{ID: vol.VD.GUID.String(), Name: vol.VD.Name, Format: "ddf", ResyncFrom: -1}
		s.Reasons = append(s.Reasons, ddfRule, fmt.Sprintf("current metadata: %s's (%s), seq %d; virtual disk %q state %s",
			cur.img.Path(), cur.d.ActiveReason, cur.d.Seq(), vol.VD.Name, vol.VD.StateString()))
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
			case f == cur:
				m.State = StateActive
			case ddf.Fresher(cur.d, f.d) > 0:
				m.State = StateStale
				m.addEvidence("seq %d < %d of the current metadata (%s): it missed %d updates", f.d.Seq(), cur.d.Seq(), cur.img.Path(), cur.d.Seq()-f.d.Seq())
				s.problem("stale-member", Error, m, ptr(f.d.Active.Offset), "%s is stale: DDF seq %d, the current metadata on %s has %d",
					m.Path(), f.d.Seq(), cur.img.Path(), cur.d.Seq())
			default:
				m.State = StateActive
			}
			if vm != nil && vm.Disk != nil && f != cur {
				pd := vm.Disk
				m.addEvidence("the current metadata records refno %08x as %s", pd.RefNo, pd.StateString())
				switch {
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
