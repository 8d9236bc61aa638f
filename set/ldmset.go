package set

import (
	"errors"
	"fmt"
	"strconv"

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
const ldmRule = "LDM rule (Windows dynamic disks): every disk of a group carries the group's database; the copy with the highest committed sequence number is current, a disk whose copy lags missed later changes, and a plex whose component state is not ACTIVE is not current"

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

func assessLDM(fs []*ldmFound) ([]*Set, []Problem) {
	var cur *ldmFound
	for _, f := range fs {
		if f.db.Consistent() && (cur == nil || f.db.CommittedSeq > cur.db.CommittedSeq) {
			cur = f
		}
	}
	if cur == nil {
		cur = fs[0]
	}
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
		s.Reasons = append(s.Reasons, ldmRule, fmt.Sprintf("current database: %s's, committed sequence %d; volume %s state %q",
			cur.img.Path(), cur.db.CommittedSeq, vol.Name, vol.State))
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
