package set

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set/imsm"
)

// imsmFound is one image with an IMSM MPB, before grouping.
type imsmFound struct {
	input int
	img   *image.Image
	mpb   *imsm.MPB
}

// imsmRule is cited in the reasons of every IMSM decision.
const imsmRule = "IMSM rule (mdadm super-intel.c): the MPB with the highest generation_num among members of one container (family) with a valid checksum is current; a member whose MPB lags, or which the current MPB records as failed or out of sync (IMSM_ORD_REBUILD), is stale"

// readIMSM probes one image for an IMSM MPB.
func readIMSM(im *image.Image) (*imsm.MPB, []Problem, error) {
	mpb, err := imsm.Read(im, im.Size())
	var fe *imsm.FormatError
	switch {
	case errors.Is(err, imsm.ErrNoMPB):
		return nil, nil, nil
	case errors.As(err, &fe):
		return nil, unusable(im, fe.Off, err), nil
	case err != nil:
		return nil, nil, err
	}
	return mpb, nil, nil
}

// groupIMSM groups IMSM members by container (family) and makes one set per
// volume of the container.
func groupIMSM(found []*imsmFound, serials map[int]string) []*Set {
	var keys []uint32
	groups := map[uint32][]*imsmFound{}
	for _, f := range found {
		k := f.mpb.FamilyID()
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	var sets []*Set
	for _, k := range keys {
		sets = append(sets, assessIMSM(groups[k], serials)...)
	}
	return sets
}

// assessIMSM turns the MPBs of one container into one set per volume.
func assessIMSM(fs []*imsmFound, serials map[int]string) []*Set {
	mpbs := make([]*imsm.MPB, len(fs))
	sizes := make([]int64, len(fs))
	for i, f := range fs {
		mpbs[i], sizes[i] = f.mpb, f.img.Size()
	}
	ser := make([]string, len(fs))
	for i, f := range fs {
		ser[i] = serials[f.input]
	}
	auth, bind, err := imsm.Bind(mpbs, sizes, ser)
	if err != nil {
		// No single current MPB: report one set for the container so the
		// members are still compared, with the reason.
		s := &Set{ID: fmt.Sprintf("imsm-%08x", fs[0].mpb.FamilyID()), Format: "imsm", ResyncFrom: -1}
		for _, f := range fs {
			m := imsmMember(s, f, nil, -1)
			m.State = StateUnknown
			s.Members = append(s.Members, m)
		}
		s.Reasons = append(s.Reasons, imsmRule, fmt.Sprintf("no current MPB: %v", err))
		if strings.Contains(err.Error(), "generation") {
			s.Conflict = err.Error()
			s.problem("split-brain", Error, nil, nil, "%v", err)
		} else {
			s.problem("bad-metadata", Error, nil, nil, "%v", err)
		}
		// Compare the data anyway when every MPB places one mirror volume
		// at the same range: the split brain is then shown in the data too.
		s.DataSize = 0
		if off, n, ok := imsmCommonMirror(fs); ok {
			s.Level = "raid1"
			for _, m := range s.Members {
				m.DataOffset, m.DataSize = off, n
			}
			s.DataSize = n
			s.DataSize = shortest(s)
		}
		return []*Set{s}
	}
	cur := mpbs[auth]
	// holders are the images that hold the current MPB byte for byte.
	holders, assumedHolder := 0, false
	var held []string
	for i, f := range fs {
		if f.mpb.ChecksumOK() && bytes.Equal(f.mpb.Raw, cur.Raw) {
			holders++
			assumedHolder = assumedHolder || bind[i].Assumed
			held = append(held, f.img.Path())
		}
	}
	// The images holding the current MPB, in name order: which of them
	// imsm.Bind took it from depends on the input order.
	sort.Strings(held)
	curOn := strings.Join(held, ", ")
	var sets []*Set
	for v := range cur.Volumes {
		vol := &cur.Volumes[v]
		s := &Set{ID: cur.VolumeUUID(v), Name: vol.Name, Format: "imsm", ResyncFrom: -1}
		mp := vol.Maps[0]
		targets, live := outOfSyncSlots(cur, vol)
		// During a rebuild mdadm writes the same MPB to the drive being
		// rebuilt as to the others (write_super_imsm skips failed disks
		// only), so when several images hold the current MPB and their
		// entries were assumed, nothing in the images says which of them
		// is the rebuild target: only the drives' serial numbers do. None
		// of them may then be taken as current (taking the first by input
		// order could make the half-rebuilt copy authoritative).
		ambiguous := live && holders > 1 && assumedHolder
		s.Level = "raid" + strconv.Itoa(mp.Level())
		s.RaidDisks = int(mp.NumMembers)
		s.Reasons = append(s.Reasons, imsmRule,
			fmt.Sprintf("current MPB: generation_num %d, on %s; volume %q map state %s", cur.Generation, curOn, vol.Name, mp.StateString()))
		for i, f := range fs {
			m := imsmMember(s, f, vol, bind[i].Disk)
			b := bind[i]
			how := b.Basis
			switch {
			case b.Assumed && ambiguous:
				how += " (assumed: the metadata cannot tell which disk this image is)"
			case b.Assumed:
				how += " (assumed: the metadata cannot tell which disk this image is; it makes no difference to the comparison)"
			}
			m.addEvidence("bound to disk-table entry %d (%q): %s", b.Disk, diskSerial(cur, b.Disk), how)
			switch {
			case !m.Trusted:
			case i == auth:
				m.State = StateActive
			case f.mpb.Generation < cur.Generation:
				m.State = StateStale
				m.addEvidence("generation_num %d < %d of the current MPB (%s): it missed %d metadata writes", f.mpb.Generation, cur.Generation, curOn, cur.Generation-f.mpb.Generation)
				s.problem("stale-member", Error, m, ptr(f.mpb.Offset), "%s is stale: generation_num %d, the current MPB on %s has %d",
					m.Path(), f.mpb.Generation, curOn, cur.Generation)
			default:
				m.State = StateActive
			}
			// The current MPB's view of this member's disk and slot. It
			// holds for the image the current MPB was read from too when
			// that image's entry is known (by serial, or by elimination):
			// which of the images holding the MPB comes first is no
			// evidence, and mdadm writes it to the drive being rebuilt as
			// well. Only an entry assumed by input order is not held
			// against the image the MPB was read from.
			held := i != auth || !b.Assumed
			if d := b.Disk; d >= 0 && d < len(cur.Disks) && m.Trusted {
				slot := vol.Slot(d)
				switch {
				case cur.Disks[d].Failed():
					m.addEvidence("the current MPB records disk %d (%q) as %s", d, cur.Disks[d].Serial, cur.Disks[d].StateString())
					if m.State == StateActive && held {
						m.State = StateStale
						s.problem("stale-member", Error, m, nil, "%s is recorded as failed by the current MPB", m.Path())
					}
				case ambiguous && b.Assumed && bytes.Equal(f.mpb.Raw, cur.Raw):
					m.State = StateUnknown
					m.addEvidence("holds the current MPB, which the drive being rebuilt (%s) holds too: whether this image is that drive cannot be told without its serial number", strings.Join(targets, ", "))
				case outOfSync(vol, slot):
					// mdadm reads the flag through MAP_X: the previous map
					// while migrating (apply_update_activate_spare sets it
					// only there), map[0] otherwise.
					if b.Assumed {
						m.addEvidence("the current MPB marks slot %d out of sync (IMSM_ORD_REBUILD); this image's entry is assumed, so the mark may belong to another drive", slot)
					} else {
						m.addEvidence("the current MPB marks slot %d out of sync (IMSM_ORD_REBUILD)", slot)
					}
					if m.State == StateActive && held {
						m.State = StateRebuilding
						s.problem("rebuilding-member", Warning, m, nil, "%s is marked out of sync (being rebuilt) by the current MPB", m.Path())
					}
				}
			}
			s.Members = append(s.Members, m)
		}
		for i, b := range bind {
			if b.Disk < 0 {
				s.problem("duplicate-member", Error, s.Members[i], nil,
					"%s cannot be bound to a disk-table entry: %d images were given for %d entries, so some are copies of one disk (MPBs do not say which)",
					fs[i].img.Path(), len(fs), len(cur.Disks))
			}
		}
		pruneMembers(s, fmt.Sprintf("volume %q", vol.Name))
		for _, m := range s.Members {
			if m.State == StateActive && m.IMSM.Generation == cur.Generation {
				s.Fresh = append(s.Fresh, m)
				m.addEvidence("generation_num %d is the highest of the container's disks given", cur.Generation)
			}
		}
		// An image holding the current MPB cannot be a disk that MPB
		// records as failed: mdadm writes no metadata to a failed disk.
		// When its entry was bound by a given serial, the binding (or the
		// metadata) is wrong, and no member is current by the metadata.
		// Every holder is checked, not only the one imsm.Bind read the MPB
		// from (the first given of equals), so the input order cannot
		// decide it.
		for i, f := range fs {
			b := bind[i]
			if !f.mpb.ChecksumOK() || !bytes.Equal(f.mpb.Raw, cur.Raw) || b.Assumed || b.Disk < 0 || b.Disk >= len(cur.Disks) || !cur.Disks[b.Disk].Failed() {
				continue
			}
			s.problem("binding-contradiction", Error, memberOf(s, f.input), nil,
				"%s holds the current MPB (generation_num %d), which records its own disk-table entry %d (%q, %s) as %s: a failed disk receives no metadata writes, so that binding is wrong (check --serial) or the metadata contradicts itself; no member is taken as current by the metadata",
				f.img.Path(), cur.Generation, b.Disk, diskSerial(cur, b.Disk), b.Basis, cur.Disks[b.Disk].StateString())
			s.Fresh = nil
			break
		}
		sortFresh(s)
		if !vol.Mirror() {
			s.problem("not-a-mirror", Warning, nil, nil, "volume %q is %s, not a mirror: not checked", vol.Name, s.Level)
		}
		if vol.Migrating() {
			msg := fmt.Sprintf("volume %q is in a migration (%s, checkpoint curr_migr_unit %d): the members are mid-rebuild or reshape", vol.Name, migrationName(vol.MigrationType()), vol.CurrMigrUnit)
			if len(targets) > 0 {
				msg += fmt.Sprintf("; out of sync (being rebuilt): %s, whose data beyond the checkpoint is not current", strings.Join(targets, ", "))
			}
			if ambiguous {
				msg += fmt.Sprintf("; %d images hold the current MPB and the MPB cannot say which of them is the drive being rebuilt (mdadm tells by the drives' serial numbers), so none is taken as current", holders)
			}
			s.problem("rebuilding-member", Warning, nil, nil, "%s", msg)
		} else if len(targets) > 0 && ambiguous {
			s.problem("rebuilding-member", Warning, nil, nil, "volume %q: %s out of sync; %d images hold the current MPB and the MPB cannot say which of them is that drive, so none is taken as current", vol.Name, strings.Join(targets, ", "), holders)
		}
		if vol.Dirty&imsm.VolDirty != 0 {
			s.ResyncFrom = 0
			s.problem("unclean-shutdown", Info, s.Members[auth], nil,
				"volume %q is marked dirty in the current MPB: it was not shut down cleanly, members may legitimately differ", vol.Name)
		}
		_, n := vol.DataRange()
		s.DataSize = n
		imsmMissing(s)
		s.DataSize = shortest(s)
		sets = append(sets, s)
	}
	return sets
}

// imsmMember makes the member of an IMSM set for one image.
func imsmMember(s *Set, f *imsmFound, vol *imsm.Volume, disk int) *Member {
	gen := uint64(f.mpb.Generation)
	m := &Member{Input: f.input, Image: f.img, IMSM: f.mpb, Generation: &gen, Trusted: f.mpb.ChecksumOK(), State: StateUnknown}
	m.addEvidence("IMSM MPB at byte %#x: family %#08x, generation_num %d, %d disks, %d volumes", f.mpb.Offset, f.mpb.FamilyID(), f.mpb.Generation, len(f.mpb.Disks), len(f.mpb.Volumes))
	if vol != nil {
		off, n := vol.DataRange()
		m.DataOffset, m.DataSize = off, n
		if slot := vol.Slot(disk); slot >= 0 {
			m.Role = strconv.Itoa(slot)
		}
		m.addEvidence("volume %q: data from pba_of_lba0 %d (byte %d), %d bytes", vol.Name, off/512, off, n)
	}
	if !m.Trusted {
		m.addEvidence("check_sum %#08x but computed %#08x: this MPB is not trusted", f.mpb.Checksum, f.mpb.ComputedChecksum)
		s.problem("bad-checksum", Error, m, ptr(f.mpb.Offset), "%s: IMSM MPB at byte %#x: check_sum %#08x, computed %#08x; the member is not trusted as evidence",
			m.Path(), f.mpb.Offset, f.mpb.Checksum, f.mpb.ComputedChecksum)
	}
	return m
}

// imsmMissing reports slots of the volume that no given member fills.
func imsmMissing(s *Set) {
	have := map[string]bool{}
	for _, m := range s.Members {
		have[m.Role] = true
	}
	var missing []string
	for slot := 0; slot < s.RaidDisks; slot++ {
		if !have[strconv.Itoa(slot)] {
			missing = append(missing, strconv.Itoa(slot))
			s.Missing = append(s.Missing, "slot "+strconv.Itoa(slot))
		}
	}
	if len(missing) > 0 {
		s.problem("member-missing", Warning, nil, nil, "the volume has %d slots; no member was given for slot %s", s.RaidDisks, strings.Join(missing, ", "))
	}
}

// outOfSync reports whether slot of the volume carries IMSM_ORD_REBUILD
// as mdadm reads it (get_imsm_ord_tbl_ent with MAP_X): in the previous map
// (map[1]) while the volume migrates, in map[0] otherwise. During a rebuild
// map[0] is the target state and holds no IMSM_ORD_REBUILD at all, so
// reading map[0] alone would miss the member being rebuilt.
func outOfSync(vol *imsm.Volume, slot int) bool {
	mp := vol.Maps[len(vol.Maps)-1]
	return slot >= 0 && slot < len(mp.DiskOrd) && mp.Rebuilding(slot)
}

// outOfSyncSlots describes the slots outOfSync reports, with their disks.
// live is set when one of those disks is not marked failed: a drive being
// rebuilt, which takes the MPB writes as the in-sync members do (a failed
// one does not, and Bind never gives its entry to an image holding the
// current MPB).
func outOfSyncSlots(m *imsm.MPB, vol *imsm.Volume) (desc []string, live bool) {
	mp := vol.Maps[len(vol.Maps)-1]
	for slot := range mp.DiskOrd {
		if !outOfSync(vol, slot) {
			continue
		}
		d := mp.DiskIndex(slot)
		desc = append(desc, fmt.Sprintf("slot %d (disk %d, %q)", slot, d, diskSerial(m, d)))
		if d < len(m.Disks) && !m.Disks[d].Failed() {
			live = true
		}
	}
	return desc, live
}

// migrationName names a migration type as mdadm --examine does.
func migrationName(t uint8) string {
	switch t {
	case imsm.MigrInit:
		return "initialize"
	case imsm.MigrRebuild:
		return "rebuild"
	case imsm.MigrVerify:
		return "check"
	case imsm.MigrGeneral:
		return "general migration"
	case imsm.MigrStateChange:
		return "state change"
	case imsm.MigrRepair:
		return "repair"
	}
	return fmt.Sprintf("type %d", t)
}

func diskSerial(m *imsm.MPB, d int) string {
	if d < 0 || d >= len(m.Disks) {
		return ""
	}
	return m.Disks[d].Serial
}

// imsmCommonMirror reports the data range of the single mirror volume that
// every image's MPB describes alike, if there is one.
func imsmCommonMirror(fs []*imsmFound) (off, n int64, ok bool) {
	for i, f := range fs {
		if len(f.mpb.Volumes) != 1 || !f.mpb.Volumes[0].Mirror() {
			return 0, 0, false
		}
		o, l := f.mpb.Volumes[0].DataRange()
		if i > 0 && (o != off || l != n) {
			return 0, 0, false
		}
		off, n = o, l
	}
	return off, n, len(fs) > 0
}
