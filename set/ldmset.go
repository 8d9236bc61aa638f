package set

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set/ldm"
)

// ldmFound is one Windows dynamic disk, before grouping.
type ldmFound struct {
	input int
	img   *image.Image
	db    *ldm.Database
	ph    *ldm.PrivHead
}

// ldmRule is cited in the reasons of every LDM decision.
const ldmRule = "LDM rule (Windows dynamic disks): every disk of a group carries the group's database; the copy with the highest committed sequence number is current (copies at that sequence must say the same; if they differ, none is), a disk whose copy lags missed later changes, and a plex whose component state is not ACTIVE is not current"

// readLDM probes one image for a Windows dynamic-disk database.
func readLDM(im *image.Image) (*ldmFound, []Problem, error) {
	db, ph, err := ldm.Read(im, im.Size())
	var fe *ldm.FormatError
	switch {
	case errors.Is(err, ldm.ErrNoLDM):
		return nil, nil, nil
	case errors.As(err, &fe):
		return nil, unusable(im, fe.Off, err), nil
	case err != nil:
		return nil, nil, err
	}
	return &ldmFound{img: im, db: db, ph: ph}, nil, nil
}

// groupLDM groups dynamic disks by disk group and makes one set per
// mirrored volume with a plex on a given disk. Other volumes are listed as
// not mirrors, not checked. It also returns the problems not tied to one
// set.
func groupLDM(found []*ldmFound) ([]*Set, []Problem) {
	var order []string
	groups := map[string][]*ldmFound{}
	for _, f := range found {
		k := f.ph.DiskGroupGUID
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], f)
	}
	var sets []*Set
	var problems []Problem
	for _, k := range order {
		ss, ps := assessLDM(groups[k])
		sets, problems = append(sets, ss...), append(problems, ps...)
	}
	return sets, problems
}

// ldmCurrent finds the current database of one disk group, by content
// alone, never by input order or file name: the copies at the highest
// committed sequence among the consistent ones (tied, ordered by disk GUID,
// then path). cur is the first of them, whose records place the volumes;
// when none is consistent it is the copy with the highest sequence (lowest
// disk GUID of equals), trusted by nobody. When two tied copies say
// different things (ldm.Compare), conflict describes the first difference
// and neither is the group's current database.
func ldmCurrent(fs []*ldmFound) (cur *ldmFound, tied []*ldmFound, conflict string) {
	byGUID := slices.Clone(fs)
	slices.SortStableFunc(byGUID, func(a, b *ldmFound) int {
		return cmp.Or(cmp.Compare(a.ph.DiskGUID, b.ph.DiskGUID), cmp.Compare(a.img.Path(), b.img.Path()), cmp.Compare(a.input, b.input))
	})
	for _, f := range byGUID {
		switch {
		case !f.db.Consistent():
		case len(tied) == 0 || f.db.CommittedSeq > tied[0].db.CommittedSeq:
			tied = []*ldmFound{f}
		case f.db.CommittedSeq == tied[0].db.CommittedSeq:
			tied = append(tied, f)
		}
	}
	if len(tied) == 0 {
		cur = byGUID[0]
		for _, f := range byGUID {
			if f.db.CommittedSeq > cur.db.CommittedSeq {
				cur = f
			}
		}
		return cur, nil, ""
	}
	cur = tied[0]
	for _, f := range tied[1:] {
		if d := ldm.Compare(cur.db, f.db); d != nil {
			conflict = fmt.Sprintf("the LDM databases of %s and %s are both at committed sequence %d but differ: %v; neither is the disk group's current database",
				ldmDiskName(cur), ldmDiskName(f), cur.db.CommittedSeq, d)
			break
		}
	}
	return cur, tied, conflict
}

// ldmDiskName names a dynamic disk and its image: "Disk5 (m1.img)".
func ldmDiskName(f *ldmFound) string {
	name := f.ph.DiskGUID
	if f.db.ThisDisk != nil {
		name = f.db.ThisDisk.Name
	}
	return fmt.Sprintf("%s (%s)", name, f.img.Path())
}

// ldmPlexStates is what each tied database records as the state of the
// component with the given id ("" when it has no such component).
func ldmPlexStates(tied []*ldmFound, id uint64) []string {
	out := make([]string, len(tied))
	for i, f := range tied {
		for _, c := range f.db.Components {
			if c.ID == id {
				out[i] = c.State
			}
		}
	}
	return out
}

// ldmSameState reports whether every tied database records the same state.
func ldmSameState(states []string) bool {
	for _, st := range states {
		if st != states[0] {
			return false
		}
	}
	return true
}

func assessLDM(fs []*ldmFound) ([]*Set, []Problem) {
	cur, tied, conflict := ldmCurrent(fs)
	byDisk := map[string]*ldmFound{}
	var problems []Problem
	for _, f := range fs {
		if o, ok := byDisk[f.ph.DiskGUID]; ok {
			problems = append(problems, Problem{Code: "duplicate-member", Severity: Error, Member: f.img.Path(),
				Message: fmt.Sprintf("%s and %s are the same dynamic disk (%s): two copies of one disk; only %s is compared", o.img.Path(), f.img.Path(), f.ph.DiskGUID, o.img.Path())})
			continue
		}
		byDisk[f.ph.DiskGUID] = f
	}
	var sets []*Set
	used := map[*ldmFound]bool{}
	for vi := range cur.db.Volumes {
		vol := &cur.db.Volumes[vi]
		onInput := false
		for _, p := range vol.Plexes {
			for _, e := range p.Extents {
				if byDisk[e.Disk.GUID] != nil {
					onInput = true
				}
			}
		}
		if !onInput {
			continue
		}
		if vol.Kind != ldm.KindMirror {
			problems = append(problems, Problem{Code: "not-a-mirror", Severity: Info,
				Message: fmt.Sprintf("dynamic volume %s (%s, %d bytes) is %s: not a mirror, not checked", vol.Name, vol.GUID, vol.Size*512, vol.Kind)})
			continue
		}
		s := &Set{ID: vol.GUID, Name: vol.Name, Format: "ldm", Level: "raid1", RaidDisks: len(vol.Plexes), ResyncFrom: -1,
			DataSize: int64(vol.Size) * 512}
		var holders []string
		for _, f := range tied {
			holders = append(holders, ldmDiskName(f))
		}
		switch {
		case conflict != "":
			s.Conflict = conflict
			s.Reasons = append(s.Reasons, ldmRule, fmt.Sprintf("no current database: the copies at committed sequence %d, on %s, disagree (ldm-database-conflict); the plexes are placed where %s's copy places them",
				cur.db.CommittedSeq, strings.Join(holders, ", "), ldmDiskName(cur)))
			s.problem("ldm-database-conflict", Error, nil, nil, "%s", conflict)
		case len(tied) == 0:
			s.Reasons = append(s.Reasons, ldmRule, fmt.Sprintf("no current database: no copy is consistent; the volumes are placed as %s's copy (committed sequence %d) places them",
				ldmDiskName(cur), cur.db.CommittedSeq))
		default:
			s.Reasons = append(s.Reasons, ldmRule, fmt.Sprintf("current database: committed sequence %d, the same on %s; volume %s state %q",
				cur.db.CommittedSeq, strings.Join(holders, ", "), vol.Name, vol.State))
		}
		for pi, p := range vol.Plexes {
			if len(p.Extents) != 1 {
				s.problem("not-a-mirror", Warning, nil, nil, "plex %s of %s has %d partitions: spanned plexes are not compared", p.Component.Name, vol.Name, len(p.Extents))
				continue
			}
			e := p.Extents[0]
			f := byDisk[e.Disk.GUID]
			if f == nil {
				s.problem("member-missing", Warning, nil, nil, "plex %s of %s lies on disk %s (%s), which was not given", p.Component.Name, vol.Name, e.Disk.Name, e.Disk.GUID)
				s.Missing = append(s.Missing, fmt.Sprintf("plex %s on disk %s", p.Component.Name, e.Disk.Name))
				continue
			}
			off, err := e.ByteOffset(f.ph)
			if err != nil {
				s.problem("bad-metadata", Error, nil, nil, "plex %s of %s: %v", p.Component.Name, vol.Name, err)
				continue
			}
			used[f] = true
			if dup := memberOf(s, f.input); dup != nil {
				s.problem("duplicate-member", Error, dup, nil, "two plexes of %s lie on the same disk %s: they cannot be compared as copies of separate disks", vol.Name, e.Disk.Name)
				continue
			}
			seq := f.db.CommittedSeq
			m := &Member{Input: f.input, Image: f.img, LDM: f.db, Generation: &seq, Trusted: f.db.Consistent(),
				Role: strconv.Itoa(pi), DataOffset: off, DataSize: e.Length(), State: StateActive}
			m.addEvidence("LDM database of disk %s (%s): group %s, committed sequence %d", e.Disk.Name, f.ph.DiskGUID, f.ph.DiskGroupName, f.db.CommittedSeq)
			m.addEvidence("plex %s: partition %s at byte %d (logical disk start %d + partition start %d sectors), %d bytes; component state %q",
				p.Component.Name, e.Partition.Name, off, f.ph.LogicalDiskStart, e.Partition.Start, e.Length(), p.Component.State)
			switch {
			case !m.Trusted:
				m.State = StateUnknown
				m.addEvidence("its database is not consistent (VMDB update status %d): not trusted", f.db.UpdateStatus)
				s.problem("bad-metadata", Error, m, nil, "%s: LDM database not consistent (update in progress); not trusted as evidence", m.Path())
			case f.db.Lags(cur.db):
				m.State = StateStale
				m.addEvidence("committed sequence %d < %d of the current database (%s)", f.db.CommittedSeq, cur.db.CommittedSeq, cur.img.Path())
				s.problem("stale-member", Error, m, nil, "%s is stale: its LDM database is at committed sequence %d, %s's at %d",
					m.Path(), f.db.CommittedSeq, cur.img.Path(), cur.db.CommittedSeq)
			case conflict != "" && !ldmSameState(ldmPlexStates(tied, p.Component.ID)):
				m.State = StateUnknown
				var says []string
				for i, st := range ldmPlexStates(tied, p.Component.ID) {
					says = append(says, fmt.Sprintf("%s's %q", ldmDiskName(tied[i]), st))
				}
				m.addEvidence("the databases at committed sequence %d disagree about plex %s: %s", cur.db.CommittedSeq, p.Component.Name, strings.Join(says, ", "))
			case p.Component.State != "ACTIVE" && conflict != "":
				m.State = StateStale
				s.problem("stale-member", Error, m, nil, "%s: every database copy at committed sequence %d records plex %s as %q, not ACTIVE", m.Path(), cur.db.CommittedSeq, p.Component.Name, p.Component.State)
			case p.Component.State != "ACTIVE":
				m.State = StateStale
				s.problem("stale-member", Error, m, nil, "%s: the current database records plex %s as %q, not ACTIVE", m.Path(), p.Component.Name, p.Component.State)
			}
			s.Members = append(s.Members, m)
		}
		for _, m := range s.Members {
			if m.State == StateActive && m.LDM.CommittedSeq == cur.db.CommittedSeq {
				s.Fresh = append(s.Fresh, m)
			}
		}
		sortFresh(s)
		s.DataSize = memberDataSize(s)
		if len(s.Fresh) > 1 {
			s.Reasons = append(s.Reasons, "every plex is ACTIVE in the same current database: the metadata does not say which copy is newer")
		}
		s.DataSize = shortest(s)
		sets = append(sets, s)
	}
	for _, f := range fs {
		if !used[f] {
			problems = append(problems, Problem{Code: "not-in-set", Severity: Info, Member: f.img.Path(),
				Message: fmt.Sprintf("%s (dynamic disk of group %s) holds no plex of a mirrored volume", f.img.Path(), f.ph.DiskGroupName)})
		}
	}
	return sets, problems
}
